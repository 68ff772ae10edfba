"""Identity checks: duplicate ids, exact copies, shared phones and GPS points, unknown ids.

This module owns the duplicate and sample-membership checks. Phone numbers are compared through
a keyed hash (HMAC-SHA256 with the config's ``hash_key``), so no phone number appears in any
output; GPS points are compared as written and never shown. It must not import ``estimate``,
``report`` or ``run``.

Examples
--------
>>> keyed_hash(pd.Series(["13812345678"]), "secret").str.len().tolist()
[12]
"""

from __future__ import annotations

import hashlib
import hmac

import pandas as pd

from doorstep.checks.config import CheckConfig
from doorstep.checks.flags import concat_flags, make_flags
from doorstep.checks.prepare import READER_COLUMNS, Prepared, fold_text
from doorstep.errors import ConfigError


def keyed_hash(values: pd.Series, key: str) -> pd.Series:
    """First 12 hex digits of HMAC-SHA256(key, value) of each folded, non-missing value.

    Examples
    --------
    >>> import pandas as pd
    >>> keyed_hash(pd.Series(["138 1234 5678", None]), "k").isna().tolist()
    [False, True]
    """
    digits = fold_text(values).str.replace(r"[\s\-]", "", regex=True)
    return digits.map(lambda v: hmac.new(key.encode(), str(v).encode(), hashlib.sha256)
                      .hexdigest()[:12], na_action="ignore")


def _scope(prepared: Prepared, config: CheckConfig) -> pd.Series:
    frame = prepared.frame
    return (frame["_export"].astype(str) if config.duplicate_scope == "file"
            else pd.Series("all", index=frame.index))


def check_identity(prepared: Prepared, config: CheckConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Flag duplicate ids, exact copies, shared phones/GPS points and ids not in the sample.

    Returns
    -------
    (flags, duplicates)
        The flag table and one row per duplicated id (export, id, rows, exact copies).

    Raises
    ------
    ConfigError
        When a phone column is present but no ``hash_key`` is configured.

    Examples
    --------
    >>> # see tests/test_checks.py::test_planted_duplicates_are_flagged
    """
    frame = prepared.frame
    scope = _scope(prepared, config)
    units = frame[config.id_column].astype("string").str.strip()
    flag_options = {"enumerator_column": prepared.enumerator_column,
                    "personal": prepared.personal}
    tables = []

    same_id = units.notna() & pd.DataFrame({"s": scope, "u": units}).duplicated(keep=False)
    groups = pd.DataFrame({"scope": scope, "unit": units, "row": frame["_source_row"]})[same_id]
    rows_of = groups.groupby(["scope", "unit"])["row"].agg(
        lambda r: ", ".join(str(v) for v in r))
    listed = pd.Series([rows_of[(s, u)] for s, u in zip(groups["scope"], groups["unit"],
                                                          strict=True)], index=groups.index)
    tables.append(make_flags(
        frame, groups.index, check="duplicate_id", variable=config.id_column,
        value=units, reason_en="id appears more than once in this export (rows " + listed + ")",
        reason_zh="同一编号在本文件中出现多次（行 " + listed + "）", severity="error",
        **flag_options))

    answer_columns = [c for c in frame.columns
                      if c not in READER_COLUMNS and c not in ("_export", "_interview")]
    signature = pd.util.hash_pandas_object(frame[answer_columns].astype("string"), index=False)
    copies = pd.DataFrame({"s": scope, "h": signature}).duplicated(keep="first")
    first_row = pd.DataFrame({"s": scope, "h": signature, "r": frame["_source_row"]}).groupby(
        ["s", "h"])["r"].transform("first")
    tables.append(make_flags(
        frame, frame.index[copies], check="duplicate_exact", variable="(all answers)",
        value="", reason_en="exact copy of row " + first_row.astype(str) + " in the same export",
        reason_zh="与同一文件第 " + first_row.astype(str) + " 行完全相同", severity="error",
        **flag_options))

    shared_keys = []
    for column in config.phone_columns:
        if column not in frame:
            continue
        if not config.hash_key:
            raise ConfigError(f"checks config: column {column!r} holds phone numbers; expected "
                              "a 'hash_key' (a secret string) to compare them, found none")
        shared_keys.append((column, keyed_hash(frame[column], config.hash_key), "phone", "电话"))
    if config.gps_column and config.gps_column in frame:
        points = fold_text(frame[config.gps_column]).str.split().str[:2].str.join(" ")
        shared_keys.append((config.gps_column, points, "GPS point", "GPS定位"))
    for column, keys, word_en, word_zh in shared_keys:
        table = pd.DataFrame({"s": scope, "k": keys, "u": units}).dropna()
        n_units = table.groupby(["s", "k"])["u"].transform("nunique")
        shared = table[n_units > 1]
        if shared.empty:
            continue
        others = shared.groupby(["s", "k"])["u"].transform(
            lambda u: ", ".join(sorted(set(u)))).astype(str)
        label = (" (hash " + keys.loc[shared.index] + ")" if word_en == "phone" else
                 pd.Series("", index=shared.index))
        tables.append(make_flags(
            frame, shared.index, check=f"duplicate_{'phone' if word_en == 'phone' else 'gps'}",
            variable=column, value="",
            reason_en=f"same {word_en} as interviews of ids " + others + label,
            reason_zh=f"{word_zh}与以下编号的访问相同：" + others + label, **flag_options))

    if config.sample is not None and config.id_column in config.sample:
        known = set(config.sample[config.id_column].astype(str).str.strip())
        unknown = units.notna() & ~units.isin(known).fillna(False).astype(bool)
        tables.append(make_flags(
            frame, frame.index[unknown], check="id_not_in_sample", variable=config.id_column,
            value=units, reason_en="id is not in the sample list",
            reason_zh="编号不在样本名单中", severity="error", **flag_options))

    counts = pd.DataFrame({"export": scope, "unit": units, "copy": copies})[same_id]
    duplicates = counts.groupby(["export", "unit"]).agg(
        n_rows=("unit", "size"), exact_copies=("copy", "sum")).reset_index()
    return concat_flags(tables), duplicates
