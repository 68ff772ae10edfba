"""Outputs of a cleaning run: clean Parquet and Stata files, the audit tables, a summary.

This module owns how a :class:`~doorstep.clean.engine.CleanResult` is written to a folder
(``clean.parquet``, ``clean.dta`` with variable and value labels from the instrument and names
cut to Stata's 32 characters, ``stata_names.csv``, ``cleaning_log.csv``, ``dropped.csv``,
``flags.csv``, ``codebook.csv``, ``duplicates_report.csv``, ``panel_links.csv``), each written
to a temporary name and then renamed, and the counts by rule, variable and enumerator that the
clean notebook shows. The personal linking table is never written here. It must not import
``doorstep.estimate``, ``doorstep.report`` or ``doorstep.run``.

Examples
--------
>>> summarise(result)["by_rule"].head()  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from doorstep.errors import DataError, RunError
from doorstep.instrument import Instrument
from doorstep.spreadsheet import neutralise_frame

__all__ = ["stata_names", "summarise", "write_clean_outputs"]

_STATA_LENGTH = 32


def stata_names(columns: list[str]) -> dict[str, str]:
    """Stata-safe, unique names of at most 32 characters for ``columns``.

    Examples
    --------
    >>> stata_names(["a" * 40, "a" * 40 + "_b", "x y"])["x y"]
    'x_y'
    """
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for column in columns:
        name = re.sub(r"[^A-Za-z0-9_]", "_", column)
        if not name or not (name[0].isalpha() or name[0] == "_"):
            name = f"v_{name}"
        name = name[:_STATA_LENGTH]
        base, number = name, 1
        while name.lower() in taken:
            suffix = f"_{number}"
            name = base[:_STATA_LENGTH - len(suffix)] + suffix
            number += 1
        taken.add(name.lower())
        mapping[column] = name
    return mapping


def _atomic(path: Path, write) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    except OSError as error:  # a read-only folder or a full disk: name the file
        raise RunError(
            f"{path}: cannot write the output file ({error.strerror or error}); expected a "
            "writable folder with free space: free some space or choose another output folder"
        ) from error
    finally:
        if temporary.exists():
            temporary.unlink()


def _stata_frame(data: pd.DataFrame) -> pd.DataFrame:
    columns = {}
    for name in data.columns:
        column = data[name]
        if pd.api.types.is_bool_dtype(column):
            columns[name] = column.astype("float64")
        elif pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(
                column):
            columns[name] = column
        else:
            columns[name] = column.astype(object).where(column.notna(), "").astype(str)
    return pd.DataFrame(columns)


def write_clean_outputs(result, folder: str | Path, *, instrument: Instrument | None = None,
                        language: str | None = None) -> dict[str, Path]:
    """Write the clean data and the audit trail of a run into ``folder``, atomically.

    Parameters
    ----------
    result
        A :class:`~doorstep.clean.engine.CleanResult`.
    folder
        The output folder (created if needed).
    instrument, language
        Variable and value labels for the Stata file.

    Returns
    -------
    dict
        File role -> path written.

    Examples
    --------
    >>> write_clean_outputs(result, "reports/caring_mothers/run1")  # doctest: +SKIP
    """
    import pyreadstat

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunError(f"{folder}: cannot create the output folder ({error.strerror or error}); "
                       "expected a writable place: choose another output folder") from error
    written: dict[str, Path] = {}
    tables = {"cleaning_log.csv": result.log, "dropped.csv": result.dropped,
              "flags.csv": result.flags, "codebook.csv": result.codebook,
              "duplicates_report.csv": result.duplicates, "panel_links.csv": result.panel_links}
    for name, table in tables.items():
        _atomic(folder / name,
                lambda path, t=table: neutralise_frame(t).to_csv(path, index=False))
        written[name] = folder / name
    _atomic(folder / "clean.parquet", lambda path: result.data.to_parquet(path, index=False))
    written["clean.parquet"] = folder / "clean.parquet"

    names = stata_names(list(result.data.columns))
    stata = _stata_frame(result.data).rename(columns=names)
    variable_labels, value_labels = [], {}
    language = language or (instrument.default_language if instrument is not None else None)
    for original, short in names.items():
        label = ""
        if instrument is not None:
            question = next((q for q in instrument.questions if q.name == original), None)
            if question is not None:
                label = question.labels.get(language or "", "") or next(
                    iter(question.labels.values()), "")
                if question.list_name and pd.api.types.is_numeric_dtype(stata[short]):
                    labels = instrument.choice_labels(question.list_name, language or "")
                    numeric = {}
                    for code, text in labels.items():
                        try:
                            number = float(code)
                        except ValueError:
                            continue
                        if number.is_integer():
                            numeric[int(number)] = str(text)[:80]
                    if numeric:
                        value_labels[short] = numeric
        variable_labels.append((label or original)[:80])
    try:
        _atomic(folder / "clean.dta", lambda path: pyreadstat.write_dta(
            stata, str(path), column_labels=variable_labels,
            variable_value_labels=value_labels or None, version=15))
    except Exception as error:  # pyreadstat raises its own types
        raise DataError(f"{folder / 'clean.dta'}: cannot write the Stata file: {error}") from error
    written["clean.dta"] = folder / "clean.dta"
    mapping = pd.DataFrame({"name": list(names), "stata_name": list(names.values())})
    _atomic(folder / "stata_names.csv",
            lambda path: neutralise_frame(mapping).to_csv(path, index=False))
    written["stata_names.csv"] = folder / "stata_names.csv"
    return written


def summarise(result, *, enumerator: str = "enumerator") -> dict[str, pd.DataFrame]:
    """Counts for the clean notebook: by rule, by variable and by enumerator.

    Returns
    -------
    dict
        ``by_rule`` (rule, kind in log/flag/dropped, entries), ``by_variable`` (variable,
        changes, flags) and ``by_enumerator`` (enumerator, rows kept, changes, flags, dropped),
        each sorted by the largest count first.

    Examples
    --------
    >>> import pandas as pd
    >>> from doorstep.clean import run
    >>> result = run(pd.DataFrame({"id": ["a"], "x": ["-99"]}), {"unit_id": "id"})
    >>> summarise(result)["by_rule"].values.tolist()
    [['missing_code', 'log', 1]]
    """
    rule_counts = [
        result.log.groupby("rule").size().rename("entries").reset_index().assign(kind="log"),
        result.flags.groupby("rule").size().rename("entries").reset_index().assign(kind="flag"),
        result.dropped.groupby("drop_rule").size().rename("entries").reset_index().rename(
            columns={"drop_rule": "rule"}).assign(kind="dropped"),
    ]
    by_rule = pd.concat(rule_counts, ignore_index=True)[["rule", "kind", "entries"]]
    by_rule = by_rule.sort_values(["entries", "rule"], ascending=[False, True]).reset_index(
        drop=True)
    changes = result.log.groupby("variable").size().rename("changes")
    flagged = result.flags.groupby("variable").size().rename("flags")
    by_variable = pd.concat([changes, flagged], axis=1).fillna(0).astype("int64")
    by_variable = by_variable.rename_axis("variable").reset_index().sort_values(
        ["changes", "flags", "variable"], ascending=[False, False, True]).reset_index(drop=True)
    by_enumerator = pd.DataFrame(columns=["enumerator", "rows", "changes", "flags", "dropped"])
    if enumerator in result.data.columns or enumerator in result.dropped.columns:
        who = {}
        if enumerator in result.data.columns and "_record_id" in result.data.columns:
            who = dict(zip(result.data["_record_id"].astype(str),
                           result.data[enumerator].astype(object), strict=True))
        rows = result.data[enumerator].value_counts() if enumerator in result.data else None
        log_who = result.log["record_id"].astype(str).map(who)
        flag_who = result.flags["record_id"].astype(str).map(who)
        dropped_who = (result.dropped[enumerator] if enumerator in result.dropped.columns
                       else pd.Series(dtype=object))
        by_enumerator = pd.concat([
            rows.rename("rows") if rows is not None else pd.Series(dtype="int64", name="rows"),
            log_who.value_counts().rename("changes"), flag_who.value_counts().rename("flags"),
            dropped_who.value_counts().rename("dropped"),
        ], axis=1).fillna(0).astype("int64").rename_axis("enumerator").reset_index()
        by_enumerator = by_enumerator.sort_values(["dropped", "flags", "enumerator"],
                                                  ascending=[False, False, True])
        by_enumerator = by_enumerator.reset_index(drop=True)
    return {"by_rule": by_rule, "by_variable": by_variable, "by_enumerator": by_enumerator}



