"""Flags: one row per issue, their masking, spreadsheet safety and the resolutions read back.

This module owns the flag table every check returns (:data:`FLAG_COLUMNS`), the masking of
personal values, the neutralising of cells that a spreadsheet would run as a formula, the
translated headers of the flag lists and :func:`read_resolutions`, which a later cleaning step
uses to read a supervisor's filled-in list. It must not import ``estimate``, ``report`` or ``run``.

Formula neutralising
--------------------
A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed
with a single quote, so that Excel, WPS or LibreOffice show it as text instead of running it.
Plain numbers are left alone: a cell is a number when the whole cell matches
``^[+-]?(\\d+(\\.\\d*)?|\\.\\d+)([eE][+-]?\\d+)?$`` (so ``-99``, ``-88.5`` and ``+3`` stay as they
are, while ``-2+3``, ``=1+1``, ``-cmd|' /C calc'!A0`` and ``@SUM(A1)`` get the quote).

Examples
--------
>>> neutralise("=HYPERLINK(\\"http://x\\")"), neutralise("-99")
('\\'=HYPERLINK("http://x")', '-99')
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from doorstep.errors import DataError
from doorstep.spreadsheet import FORMULA_STARTS, neutralise

__all__ = ["FLAG_COLUMNS", "LIST_COLUMNS", "MASK", "RESOLUTIONS", "flag_key", "flag_list",
           "neutralise", "read_resolutions"]

FLAG_COLUMNS = ("interview", "record_id", "source_file", "source_row", "enumerator", "check",
                "variable", "value", "reason_en", "reason_zh", "severity", "flag_key", "is_new")
LIST_COLUMNS = ("interview", "record_id", "source_file", "source_row", "enumerator", "check",
                "variable", "value", "reason", "resolution", "resolved_by", "notes")
HEADERS_ZH = {
    "interview": "访问编号", "record_id": "记录号", "source_file": "来源文件",
    "source_row": "文件行号", "enumerator": "访问员", "check": "检查项", "variable": "变量",
    "value": "取值", "reason": "标记原因", "resolution": "处理结果", "resolved_by": "处理人",
    "notes": "备注",
}
RESOLUTIONS = {
    "": "",
    "confirmed": "confirmed", "correct": "confirmed", "确认无误": "confirmed",
    "确认": "confirmed",
    "corrected": "corrected", "已更正": "corrected", "更正": "corrected",
    "false_alarm": "false_alarm", "误报": "false_alarm",
    "resurvey": "resurvey", "重访": "resurvey", "回访": "resurvey",
    "drop": "drop", "删除": "drop",
}
MASK = "***"
_FORMULA_STARTS = FORMULA_STARTS


def flag_key(interview: str, check: str, variable: str) -> str:
    """A stable key of one issue: the first 16 hex digits of sha256(interview|check|variable).

    Examples
    --------
    >>> len(flag_key("r1.csv#7", "duration", "_duration_seconds"))
    16
    """
    text = f"{interview}|{check}|{variable}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def empty_flags() -> pd.DataFrame:
    """A flag table with no rows.

    Examples
    --------
    >>> list(empty_flags().columns) == list(FLAG_COLUMNS)
    True
    """
    return pd.DataFrame({column: pd.Series(dtype=object) for column in FLAG_COLUMNS})


def make_flags(frame: pd.DataFrame, rows: pd.Index | list, *, check: str, variable: object,
               value: object, reason_en: object, reason_zh: object, severity: str = "warning",
               enumerator_column: str = "enumerator",
               personal: frozenset[str] = frozenset()) -> pd.DataFrame:
    """Build flag rows for the given rows of the prepared frame (values of personal columns masked).

    ``variable``, ``value`` and the reasons may be scalars or Series aligned with ``rows``.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"_interview": ["f#1"], "_record_id": ["1"], "_source_file": ["f"],
    ...                       "_source_row": [1], "enumerator": ["E01"], "phone": ["138"]})
    >>> make_flags(frame, [0], check="identity", variable="phone", value="138",
    ...            reason_en="x", reason_zh="x", personal=frozenset({"phone"}))["value"].tolist()
    ['***']
    """
    rows = pd.Index(rows)
    if len(rows) == 0:
        return empty_flags()
    part = frame.loc[rows]

    def aligned(item: object) -> pd.Series:
        if isinstance(item, pd.Series):
            return item.reindex(rows).astype(object)
        return pd.Series([item] * len(rows), index=rows, dtype=object)

    variables = aligned(variable).astype(str)
    values = aligned(value).map(lambda v: "" if v is None or v is pd.NA or
                                (isinstance(v, float) and pd.isna(v)) else str(v))
    values = values.where(~variables.isin(list(personal)), MASK)
    table = pd.DataFrame({
        "interview": part["_interview"].astype(str),
        "record_id": part["_record_id"].astype(str),
        "source_file": part["_source_file"].astype(str),
        "source_row": part["_source_row"].astype("Int64"),
        "enumerator": part[enumerator_column].astype(str),
        "check": check,
        "variable": variables,
        "value": values,
        "reason_en": aligned(reason_en).astype(str),
        "reason_zh": aligned(reason_zh).astype(str),
        "severity": severity,
    }, index=rows)
    table["flag_key"] = [flag_key(i, check, v) for i, v in
                         zip(table["interview"].tolist(), table["variable"].tolist(),
                             strict=True)]
    table["is_new"] = True
    return table.reset_index(drop=True)


def concat_flags(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack flag tables, dropping repeated issues (same key), sorted by file, row and check.

    Examples
    --------
    >>> concat_flags([empty_flags()]).empty
    True
    """
    tables = [table for table in tables if not table.empty]
    if not tables:
        return empty_flags()
    flags = pd.concat(tables, ignore_index=True)
    flags = flags.drop_duplicates("flag_key")
    return flags.sort_values(["source_file", "source_row", "check", "variable"],
                             kind="stable").reset_index(drop=True)


def flag_list(flags: pd.DataFrame, language: str) -> pd.DataFrame:
    """The flag list a supervisor fills in: translated headers, neutralised cells, blank
    ``resolution``, ``resolved_by`` and ``notes``.

    Examples
    --------
    >>> list(flag_list(empty_flags(), "zh").columns)[:2]
    ['访问编号', '记录号']
    """
    table = flags.copy()
    table["reason"] = table["reason_zh"] if language == "zh" else table["reason_en"]
    for column in ("resolution", "resolved_by", "notes"):
        table[column] = ""
    table = table[list(LIST_COLUMNS)].astype(object)
    table = table.map(neutralise)
    if language == "zh":
        table = table.rename(columns=HEADERS_ZH)
    return table


def read_resolutions(path: str | Path) -> pd.DataFrame:
    """Read a filled-in flag list (CSV or XLSX, English or Chinese headers) back.

    Parameters
    ----------
    path
        A list written by :func:`doorstep.checks.write_flag_lists`.

    Returns
    -------
    pandas.DataFrame
        English column names (see ``LIST_COLUMNS``); ``resolution`` in canonical words
        (``confirmed``, ``corrected``, ``false_alarm``, ``resurvey``, ``drop`` or empty); the
        single quote added by :func:`neutralise` removed again.

    Raises
    ------
    DataError
        For a missing file, missing columns, or a resolution word not in :data:`RESOLUTIONS`
        (the message names the file, the row and the word).

    Examples
    --------
    >>> resolutions = read_resolutions("flags_S1.csv")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: flag list not found")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        table = pd.read_excel(path, dtype=str, engine="openpyxl", keep_default_na=False)
    else:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    english = {zh: en for en, zh in HEADERS_ZH.items()}
    table = table.rename(columns=lambda c: english.get(str(c).strip(), str(c).strip()))
    missing = [c for c in ("interview", "check", "variable", "resolution") if c not in table]
    if missing:
        raise DataError(f"{path}: expected columns {missing} (or their Chinese headers) in the "
                        f"flag list, found {list(table.columns)}")
    table = table.map(lambda v: v[1:] if isinstance(v, str) and v.startswith("'") and
                      v[1:].startswith(_FORMULA_STARTS) else v)
    words = table["resolution"].fillna("").astype(str).str.strip()
    canonical = []
    for position, word in enumerate(words):
        key = word.lower() if word.isascii() else word
        if key not in RESOLUTIONS:
            allowed = sorted({w for w in RESOLUTIONS if w})
            raise DataError(f"{path}, row {position + 2}, column 'resolution': expected one of "
                            f"{allowed} or blank, found {word!r}")
        canonical.append(RESOLUTIONS[key])
    table["resolution"] = canonical
    return table
