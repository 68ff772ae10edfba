"""Decisions kept in files and re-applied on every run: recodes, corrections, duplicates.

This module owns the tables a field team fills by hand and the steps that apply them on every
run, so that a decision is made once, kept with its author and reason, and never lost when the
raw export is re-read: the "other, specify" recode table (variable, text, new code), the
corrections file (unit id, round, variable, old value, new value, who, why; a correction whose
old value no longer matches the data is flagged as stale, not applied), and the duplicates
report with its resolution file (keep / drop / new id, initials, notes), on the model of DIME's
``ieduplicates`` and ``iecompdup``. Tables are read from CSV or XLSX. It must not import
``doorstep.estimate``, ``doorstep.report`` or ``doorstep.run``.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"id": ["a", "a"], "round": [1, 1], "x": ["1", "2"], "y": ["3", "3"],
...                       "_record_id": ["r1", "r2"]})
>>> duplicates_report(frame, "id", "round")[["unit_id", "record_id", "differs_in"]].values.tolist()
[['a', 'r1', 'x'], ['a', 'r2', 'x']]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from doorstep.clean.steps import (
    StepResult,
    _alive_mask,
    _entries,
    _render_series,
    _result,
    without_dropped,
)
from doorstep.clean.values import parse_number, render_value, values_agree
from doorstep.errors import ConfigError, DataError

__all__ = [
    "CORRECTION_COLUMNS",
    "DUPLICATE_REPORT_COLUMNS",
    "OTHER_SPECIFY_COLUMNS",
    "RESOLUTION_COLUMNS",
    "CorrectionsRule",
    "OtherSpecifyRule",
    "ResolutionRule",
    "apply_corrections",
    "apply_duplicate_resolutions",
    "duplicates_report",
    "read_decision_table",
    "recode_other_specify",
]

OTHER_SPECIFY_COLUMNS = ("variable", "text", "new_code")
CORRECTION_COLUMNS = ("unit_id", "round", "variable", "old_value", "new_value", "who", "why")
RESOLUTION_COLUMNS = ("unit_id", "round", "record_id", "action", "new_id", "initials", "notes")
DUPLICATE_REPORT_COLUMNS = ("unit_id", "round", "record_id", "source_file", "source_row",
                            "submitted_at", "n_records", "differs_in", "action", "new_id",
                            "initials", "notes")
RESOLUTION_ACTIONS = ("keep", "drop", "new_id")
_READER = ("_record_id", "_submitted_at", "_duration_seconds", "_source_file", "_source_row")


def read_decision_table(path: str | Path, required: tuple[str, ...], what: str) -> pd.DataFrame:
    """Read a CSV or XLSX decision table as text, checking its columns.

    Raises
    ------
    ConfigError
        The file is missing, unreadable, or lacks a required column (named in the message).

    Examples
    --------
    >>> read_decision_table("corrections.csv", CORRECTION_COLUMNS, "corrections")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path} ({what}): file not found; expected a CSV or XLSX table with "
                          f"columns {list(required)}")
    try:
        if path.suffix.lower() in (".xlsx", ".xls"):
            table = pd.read_excel(path, dtype=str)
        else:
            table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} ({what}): cannot read it as CSV or XLSX: {error}") from error
    table.columns = [str(column).strip() for column in table.columns]
    absent = [column for column in required if column not in table.columns]
    if absent:
        raise ConfigError(f"{path} ({what}): expected columns {list(required)}, missing "
                          f"{absent}; found {list(table.columns)}")
    return table.fillna("").map(lambda value: str(value).strip())


@dataclass(frozen=True)
class OtherSpecifyRule:
    """Recodes: (variable, text written in ``<variable><suffix>``) -> new code."""

    recodes: Mapping[tuple[str, str], str] = field(default_factory=lambda: MappingProxyType({}))
    suffix: str = "_other"


def recode_other_specify(frame: pd.DataFrame, rule: OtherSpecifyRule) -> StepResult:
    """Give the coded variable the new code where its "other, specify" text is in the table.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"job": [96.0], "job_other": ["卖菜"]})
    >>> rule = OtherSpecifyRule({("job", "卖菜"): "4"})
    >>> recode_other_specify(frame, rule).frame["job"].tolist()
    [4.0]
    """
    updates, log = {}, []
    variables = sorted({variable for variable, _ in rule.recodes})
    for variable in variables:
        text_column = f"{variable}{rule.suffix}"
        if variable not in frame.columns or text_column not in frame.columns:
            continue
        texts = _render_series(frame[text_column])
        codes = [rule.recodes.get((variable, text)) if text is not None else None
                 for text in texts]
        column = frame[variable]
        numeric = pd.api.types.is_numeric_dtype(column)
        new = [None if code is None else (parse_number(code) if numeric else code)
               for code in codes]
        change = np.array([code is not None and not values_agree(old, value)
                           for old, code, value in zip(column, codes, new, strict=True)])
        if not change.any():
            continue
        updated = column.astype(object).copy()
        updated[change] = [value for value, hit in zip(new, change, strict=True) if hit]
        updates[variable] = updated.astype(column.dtype) if numeric else updated
        log.append(_entries(frame.index[change], variable, "other_specify",
                            [f"'other, specify' text {text!r} recoded from the table"
                             for text in texts[change]],
                            old_value=_render_series(column[change]).to_numpy(),
                            new_value=[render_value(value) for value, hit in
                                       zip(new, change, strict=True) if hit]))
    return _result(frame.assign(**updates) if updates else frame, log)


@dataclass(frozen=True)
class CorrectionsRule:
    """Corrections: rows of (unit id, round, variable, old value, new value, who, why)."""

    unit_id: str
    round_column: str
    corrections: tuple[tuple[str, str, str, str, str, str, str], ...] = ()


def apply_corrections(frame: pd.DataFrame, rule: CorrectionsRule) -> StepResult:
    """Apply each correction whose old value still matches the data; flag the stale ones.

    A correction already in the data (the cell holds the new value) is a no-op, so applying
    the file twice changes nothing. A correction whose unit is not found is flagged too.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"id": ["a", "b"], "round": [1, 1], "age": [7.0, 9.0]})
    >>> rule = CorrectionsRule("id", "round", (("a", "1", "age", "7", "8", "LW", "form"),
    ...                                         ("b", "1", "age", "5", "6", "LW", "form")))
    >>> result = apply_corrections(frame, rule)
    >>> result.frame["age"].tolist(), result.flags["rule"].tolist()
    ([8.0, 9.0], ['correction_stale'])
    """
    if not rule.corrections or rule.unit_id not in frame.columns:
        return _result(frame)
    ids = _render_series(frame[rule.unit_id]).fillna("")
    rounds = (_render_series(frame[rule.round_column]).fillna("")
              if rule.round_column in frame.columns else pd.Series("", index=frame.index))
    position = {}
    for label, unit, round_ in zip(frame.index, ids, rounds, strict=True):
        position.setdefault((unit, round_), label)
    columns: dict[str, pd.Series] = {}
    log, flags = [], []
    for unit, round_, variable, old, new, who, why in rule.corrections:
        label = position.get((unit, round_))
        if label is None or variable not in frame.columns:
            what = "unit and round" if label is None else "variable"
            flags.append({"row": None, "variable": variable, "value": new,
                          "rule": "correction_not_found",
                          "reason": f"correction of unit {unit} round {round_} by {who}: "
                                    f"{what} not in the data; not applied"})
            continue
        column = columns.get(variable, frame[variable])
        current = column.loc[label]
        numeric = pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(
            column)
        target = (parse_number(new) if pd.api.types.is_numeric_dtype(column) and new != ""
                  else (None if new == "" else new))
        if values_agree(current, target) or render_value(current) == (new or None):
            continue
        if not (render_value(current) == (old or None) or values_agree(old or None, current)):
            flags.append({"row": label, "variable": variable, "value": render_value(current),
                          "rule": "correction_stale",
                          "reason": f"correction by {who} ({why}) expects old value {old!r}, "
                                    f"the data hold {render_value(current)!r}; not applied, "
                                    "update the corrections file"})
            continue
        if numeric and pd.api.types.is_datetime64_any_dtype(column):
            target = pd.Timestamp(new) if new else pd.NaT
        updated = column.astype(object).copy() if not numeric else column.copy()
        updated.loc[label] = np.nan if target is None and numeric else target
        columns[variable] = updated.astype(column.dtype) if not numeric and \
            pd.api.types.is_string_dtype(column) else updated
        log.append({"row": label, "variable": variable, "old_value": render_value(current),
                    "new_value": render_value(target), "rule": "correction",
                    "reason": f"correction by {who}: {why}"})
    return _result(frame.assign(**columns) if columns else frame, log, flags)


def duplicates_report(frame: pd.DataFrame, unit_id: str, round_column: str, *,
                      alive: np.ndarray | None = None) -> pd.DataFrame:
    """Records sharing a unit id and round, with the variables on which they differ.

    One row per record of a duplicated (unit, round), ``differs_in`` listing the answer
    columns that are not the same in all its records (as ``iecompdup`` does), and empty
    ``action, new_id, initials, notes`` columns for the field team to fill (``ieduplicates``).
    With ``alive`` (one flag per row) only the rows flagged True are reported on.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"id": ["a", "a", "b"], "round": [1, 1, 1], "x": ["1", "1", "2"]})
    >>> duplicates_report(frame, "id", "round")["differs_in"].tolist()
    ['', '']
    """
    columns = list(DUPLICATE_REPORT_COLUMNS)
    if unit_id not in frame.columns or frame.empty:
        return pd.DataFrame(columns=columns)
    ids = _render_series(frame[unit_id])
    rounds = (_render_series(frame[round_column]) if round_column in frame.columns
              else pd.Series("", index=frame.index, dtype=object))
    keys = pd.DataFrame({"unit": ids, "round": rounds.fillna("")})
    if alive is None:
        repeated = keys["unit"].notna() & keys.duplicated(keep=False)
    else:
        alive = _alive_mask(frame, alive)
        among_alive = keys.loc[alive]
        repeated = pd.Series(False, index=frame.index)
        repeated[alive] = (among_alive["unit"].notna()
                           & among_alive.duplicated(keep=False)).to_numpy()
    if not repeated.any():
        return pd.DataFrame(columns=columns)
    answers = [column for column in frame.columns
               if column not in _READER and column not in (unit_id, round_column)]
    subset = frame.loc[repeated.to_numpy()]
    group = pd.DataFrame({"unit": ids[repeated], "round": keys["round"][repeated]})
    number = group.groupby(["unit", "round"], sort=True).ngroup().to_numpy()
    distinct = subset[answers].groupby(number).nunique(dropna=False)
    names = np.asarray(answers, dtype=object)
    differs_of = {index: " ".join(names[row > 1]) for index, row in
                  zip(distinct.index, distinct.to_numpy(), strict=True)}
    sizes = np.bincount(number)

    def reader(name: str) -> list:
        if name not in frame.columns:
            return [None] * len(subset)
        return [render_value(value) if name != "_source_file" else value
                for value in subset[name]]

    order = np.argsort(number, kind="stable")
    records = pd.DataFrame({
        "unit_id": group["unit"].to_numpy(dtype=object),
        "round": group["round"].to_numpy(dtype=object),
        "record_id": reader("_record_id") if "_record_id" in frame.columns
        else [str(label) for label in subset.index],
        "source_file": reader("_source_file"),
        "source_row": subset["_source_row"].to_numpy(dtype=object)
        if "_source_row" in frame.columns else None,
        "submitted_at": reader("_submitted_at"),
        "n_records": sizes[number],
        "differs_in": [differs_of[index] for index in number],
        "action": "", "new_id": "", "initials": "", "notes": "",
    }).iloc[order].reset_index(drop=True)
    return records[columns]


@dataclass(frozen=True)
class ResolutionRule:
    """Resolved duplicates: record id -> (action, new id, initials, notes)."""

    unit_id: str
    resolutions: Mapping[str, tuple[str, str, str, str]] = field(
        default_factory=lambda: MappingProxyType({}))


def apply_duplicate_resolutions(frame: pd.DataFrame, rule: ResolutionRule, *,
                                alive: np.ndarray | None = None) -> StepResult:
    """Apply the duplicates resolution file: drop a record, or give it a new unit id.

    ``keep`` changes nothing (the record stays; the others of its unit and round must be
    resolved too, or the re-submission rule decides). ``drop`` drops the record with the
    initials and notes as reason; ``new_id`` gives it the new unit id, logged. ``alive``
    works as in :func:`doorstep.clean.steps.drop_exact_duplicates`.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"id": ["a", "a"], "_record_id": ["r1", "r2"]})
    >>> rule = ResolutionRule("id", {"r2": ("new_id", "b", "LW", "twin sister")})
    >>> apply_duplicate_resolutions(frame, rule).frame["id"].tolist()
    ['a', 'b']
    """
    if alive is None:
        return without_dropped(apply_duplicate_resolutions(frame, rule,
                                                           alive=_alive_mask(frame, None)))
    alive = _alive_mask(frame, alive)
    if not rule.resolutions or "_record_id" not in frame.columns:
        return _result(frame)
    records = _render_series(frame["_record_id"])
    log, dropped = [], []
    new_ids = frame[rule.unit_id].astype(object).copy()
    for label, record, is_alive in zip(frame.index, records, alive, strict=True):
        decision = rule.resolutions.get(record) if record is not None and is_alive else None
        if decision is None:
            continue
        action, new_id, initials, notes = decision
        if action == "drop":
            dropped.append({"row": label, "drop_rule": "duplicate_resolved",
                            "drop_reason": f"duplicate resolved by {initials}: drop ({notes})"})
        elif action == "new_id" and render_value(new_ids.loc[label]) != new_id:
            log.append({"row": label, "variable": rule.unit_id,
                        "old_value": render_value(new_ids.loc[label]), "new_value": new_id,
                        "rule": "duplicate_new_id",
                        "reason": f"duplicate resolved by {initials}: new id ({notes})"})
            new_ids.loc[label] = new_id
    column = frame[rule.unit_id]
    if log:
        new = new_ids.astype(column.dtype) if pd.api.types.is_string_dtype(column) else new_ids
        frame = frame.assign(**{rule.unit_id: new})
    return _result(frame, log, dropped=dropped)


def unresolved_duplicates(report: pd.DataFrame, resolved: Mapping[str, object]) -> pd.DataFrame:
    """The rows of a duplicates report whose (unit, round) has a record nobody resolved."""
    if report.empty:
        return report
    open_record = ~report["record_id"].isin(list(resolved))
    open_keys = set(zip(report.loc[open_record, "unit_id"], report.loc[open_record, "round"],
                        strict=True))
    keys = list(zip(report["unit_id"], report["round"], strict=True))
    return report[[key in open_keys for key in keys]]


def stop_on_unresolved(report: pd.DataFrame, where: str) -> None:
    """Raise a :class:`DataError` naming the unresolved ids and the report file to fill."""
    if report.empty:
        return
    units = sorted(set(report["unit_id"]))
    shown = ", ".join(units[:20]) + (" ..." if len(units) > 20 else "")
    raise DataError(
        f"{len(units)} unit id(s) have several different records in one round: {shown}. "
        f"Fill the columns action (keep/drop/new_id), new_id, initials and notes of the "
        f"duplicates report {where} and point duplicates.resolutions at it, or set "
        f"duplicates.unresolved: keep_latest in the cleaning spec"
    )


SUPERVISOR_DROP = "drop"
SUPERVISOR_RESURVEY = "resurvey"


@dataclass(frozen=True)
class SupervisorRule:
    """Field supervisors' resolutions of the fieldwork flag lists, by interview key.

    ``decisions`` maps an interview key (``<source file>#<record id>``, as the flag lists of
    :mod:`doorstep.checks` write it) to ``(resolution, resolved_by, check, notes)``.
    """

    decisions: Mapping[str, tuple[str, str, str, str]] = field(
        default_factory=lambda: MappingProxyType({}))


def apply_supervisor_resolutions(frame: pd.DataFrame, rule: SupervisorRule, *,
                                 alive: np.ndarray | None = None) -> StepResult:
    """Act on the supervisors' resolutions: ``drop`` drops the interview, ``resurvey`` flags it.

    ``confirmed``, ``false_alarm`` and ``corrected`` (a correction goes in the corrections file)
    leave the data as it is. Re-applied on every run, so a filled-in flag list keeps its effect.
    ``alive`` works as in :func:`doorstep.clean.steps.drop_exact_duplicates`.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"_source_file": ["r1.csv"] * 2, "_record_id": ["u1", "u2"]})
    >>> rule = SupervisorRule({"r1.csv#u1": ("drop", "LW", "duration_short", "made up")})
    >>> result = apply_supervisor_resolutions(frame, rule)
    >>> result.frame["_record_id"].tolist(), result.dropped["drop_rule"].tolist()
    (['u2'], ['supervisor_drop'])
    """
    if alive is None:
        return without_dropped(apply_supervisor_resolutions(frame, rule,
                                                            alive=_alive_mask(frame, None)))
    alive = _alive_mask(frame, alive)
    if not rule.decisions or not {"_source_file", "_record_id"} <= set(frame.columns):
        return _result(frame)
    keys = frame["_source_file"].astype(str) + "#" + frame["_record_id"].astype(str)
    decisions = keys.map(lambda key: rule.decisions.get(key, ("",) * 4))
    resolution = decisions.map(lambda decision: decision[0]).where(alive, "")
    drop = resolution.eq(SUPERVISOR_DROP)
    dropped = [{"row": label, "drop_rule": "supervisor_drop",
                "drop_reason": f"field supervisor {decisions[label][1] or '(unnamed)'} resolved "
                               f"the {decisions[label][2]} flag as drop: {decisions[label][3]}"}
               for label in frame.index[drop]]
    flags = [{"row": label, "variable": "", "value": keys[label], "rule": "supervisor_resurvey",
              "reason": f"field supervisor {decisions[label][1] or '(unnamed)'} asked for a "
                        f"re-survey ({decisions[label][2]}): {decisions[label][3]}"}
             for label in frame.index[resolution.eq(SUPERVISOR_RESURVEY)]]
    return _result(frame, flags=flags, dropped=dropped)
