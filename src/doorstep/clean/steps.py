"""The cleaning steps: pure functions ``(frame, rule) -> StepResult``.

This module owns what each step does to a frame and what it writes in the audit trail. Every
step takes a frame and a small frozen rule, never changes the frame it is given, and returns a
:class:`StepResult` with the new frame, the log entries of every cell it changed, the flags it
raises for review without change, and the rows it dropped with a reason. Entries name rows by
their index label (column ``row``); :func:`doorstep.clean.engine.run` later adds the unit id,
round and source of each row and masks personal values. It must not import
``doorstep.estimate``, ``doorstep.report`` or ``doorstep.run``.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"inc_wages": ["三千", "3000"]})
>>> result = parse_money_columns(frame, MoneyStepRule(variables=("inc_wages",)))
>>> result.frame["inc_wages"].tolist(), result.log["rule"].tolist()
([3000.0, 3000.0], ['money_parse'])
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from doorstep.clean.values import (
    STRIPPED_CHARACTERS,
    id_card_problem,
    is_missing,
    normalise_text,
    parse_chinese_number,
    parse_date,
    parse_money,
    parse_number,
    render_value,
    restore_leading_zeros,
    values_agree,
)
from doorstep.errors import ConfigError
from doorstep.instrument.expressions import (
    Call,
    Current,
    String,
    evaluate,
    parse,
    referenced_names,
    uses_current,
)
from doorstep.instrument.lint import relevance_cycles

__all__ = [
    "DROP_COLUMNS",
    "FLAG_COLUMNS",
    "LOG_COLUMNS",
    "ConstraintRule",
    "DuplicateRule",
    "DurationRule",
    "IdentifierRule",
    "MissingCodesRule",
    "MoneyStepRule",
    "OptionColumnsRule",
    "PersonalRule",
    "ResubmissionRule",
    "SkipLogicRule",
    "StepResult",
    "TextRule",
    "TypeRule",
    "apply_constraints",
    "apply_missing_codes",
    "apply_skip_logic",
    "convert_types",
    "derive_option_columns",
    "drop_exact_duplicates",
    "drop_personal_columns",
    "drop_resubmissions",
    "drop_short_interviews",
    "normalise_text_columns",
    "parse_money_columns",
    "repair_identifiers",
    "without_dropped",
]

LOG_COLUMNS = ("row", "variable", "old_value", "new_value", "rule", "reason")
FLAG_COLUMNS = ("row", "variable", "value", "rule", "reason")
DROP_COLUMNS = ("row", "drop_rule", "drop_reason")


class StepResult(NamedTuple):
    """What a step returns: the new frame and its log entries, flags and dropped rows."""

    frame: pd.DataFrame
    log: pd.DataFrame
    flags: pd.DataFrame
    dropped: pd.DataFrame


class _Entries(dict):
    """Entries for many rows at once: column name -> array (what :func:`_entries` builds)."""


def _table(records: list, columns: tuple[str, ...]) -> pd.DataFrame:
    """One table (object columns) from dicts, :class:`_Entries` and frames, in the order given."""
    parts: dict[str, list[np.ndarray]] = {column: [] for column in columns}
    pending: list[dict] = []

    def flush() -> None:
        for column in columns:
            parts[column].append(np.fromiter((record.get(column) for record in pending),
                                             dtype=object, count=len(pending)))
        pending.clear()

    for record in records:
        if record is None:
            continue
        if isinstance(record, pd.DataFrame | _Entries):
            if pending:
                flush()
            if len(record) and len(record[columns[0]]):
                for column in columns:
                    parts[column].append(np.asarray(record[column], dtype=object))
        else:
            pending.append(record)
    if pending:
        flush()
    return pd.DataFrame({
        column: pd.Series(np.concatenate(parts[column]) if parts[column]
                          else np.empty(0, dtype=object), dtype=object)
        for column in columns
    })


def _result(
    frame: pd.DataFrame,
    log: list | None = None,
    flags: list | None = None,
    dropped: list | None = None,
) -> StepResult:
    return StepResult(
        frame,
        _table(log or [], LOG_COLUMNS),
        _table(flags or [], FLAG_COLUMNS),
        _table(dropped or [], DROP_COLUMNS),
    )


def empty_tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Empty log, flags and dropped tables, for a step that has nothing to do."""
    return _table([], LOG_COLUMNS), _table([], FLAG_COLUMNS), _table([], DROP_COLUMNS)


def _log(row: object, variable: str, old: object, new: object, rule: str, reason: str) -> dict:
    return {"row": row, "variable": variable, "old_value": render_value(old),
            "new_value": render_value(new), "rule": rule, "reason": reason}


def _flag(row: object, variable: str, value: object, rule: str, reason: str) -> dict:
    return {"row": row, "variable": variable, "value": render_value(value), "rule": rule,
            "reason": reason}


def _entries(labels, variable: str, rule: str, reason, **values) -> _Entries | None:
    """Log entries or flags for many rows at once; ``values`` are already rendered."""
    labels = np.asarray(labels, dtype=object)
    count = len(labels)
    if count == 0:
        return None

    def spread(value: object) -> np.ndarray:
        if value is None or isinstance(value, str):
            return np.full(count, value, dtype=object)
        return np.asarray(value, dtype=object)

    table = _Entries(row=labels, variable=np.full(count, variable, dtype=object))
    for name, value in values.items():
        table[name] = spread(value)
    table["rule"] = np.full(count, rule, dtype=object)
    table["reason"] = spread(reason)
    return table


def _is_text_column(column: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)


class Mapped(NamedTuple):
    """A column read once per distinct value: ``codes`` per row (-1 = missing), the distinct
    ``uniques`` and ``results`` of the function on each."""

    codes: np.ndarray
    uniques: list
    results: list

    def take(self, values: list, missing: object = None) -> np.ndarray:
        """Per row, the entry of ``values`` (one per unique); ``missing`` where missing."""
        table = np.fromiter([*values, missing], dtype=object, count=len(values) + 1)
        return table[self.codes]

    def rendered(self, rows: np.ndarray, which: str = "uniques") -> np.ndarray:
        """Log text of the unique values (or results) at ``rows``, each rendered once."""
        source = self.uniques if which == "uniques" else self.results
        codes = self.codes[rows]
        table = np.full(len(source) + 1, None, dtype=object)
        for code in np.unique(codes).tolist():
            if code < len(source):
                table[code] = render_value(source[code])
        return table[codes]

    def text(self, values: list, index: pd.Index | None = None) -> pd.Series:
        """Per row, the entry of ``values`` (one text or None per unique) as a ``str`` Series,
        built by pyarrow from the distinct texts (no Python object per row)."""
        labels = sorted({value for value in values if value is not None})
        number = {label: position for position, label in enumerate(labels)}
        per_unique = np.fromiter((number.get(value, -1) if value is not None else -1
                                  for value in values), dtype=np.int64, count=len(values))
        per_row = np.append(per_unique, -1)[self.codes]
        indices = pa.array(per_row, mask=per_row < 0, type=pa.int64())
        text = pa.DictionaryArray.from_arrays(indices, pa.array(labels, type=pa.large_string()))
        return pd.Series(text.cast(pa.large_string()), index=index, dtype="str")

    def rows(self, selected: list[bool] | np.ndarray) -> np.ndarray:
        """Positions of the rows whose unique value is selected."""
        chosen = np.append(np.asarray(selected, dtype=bool), False)
        return np.flatnonzero(chosen[self.codes])


class _Rendered:
    """``olds[rows]``: the log text of the original values at ``rows``, rendered lazily."""

    def __init__(self, mapped: Mapped) -> None:
        self.mapped = mapped

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        return self.mapped.rendered(rows)


def map_unique(column: pd.Series, function: Callable[[object], object]) -> Mapped:
    """Apply ``function`` once per distinct non-missing value of ``column``.

    Examples
    --------
    >>> import pandas as pd
    >>> mapped = map_unique(pd.Series(["a", "b", "a", None]), str.upper)
    >>> mapped.take(mapped.results).tolist()
    ['A', 'B', 'A', None]
    """
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    distinct = np.asarray(uniques, dtype=object)
    codes = np.asarray(codes, dtype=np.int64)
    # factorize leaves out None, NaN, NaT and pd.NA; empty text is missing too
    blank = np.zeros(len(distinct), dtype=bool)
    if len(distinct):
        blank = np.asarray(distinct == "", dtype=bool).reshape(len(distinct))
    if blank.any():
        keep = np.flatnonzero(~blank)
        position = np.full(len(distinct), -1)
        position[keep] = np.arange(len(keep))
        codes = np.where(codes >= 0, position[np.where(codes >= 0, codes, 0)], -1)
        distinct = distinct[keep]
    codes = np.where(codes < 0, len(distinct), codes)
    values = distinct.tolist()
    return Mapped(codes, values, [function(value) for value in values])


def _map_unique(column: pd.Series, function: Callable[[object], object]) -> list:
    mapped = map_unique(column, function)
    return list(mapped.take(mapped.results))


def missing_mask(column: pd.Series) -> pd.Series:
    """A bool Series: True where the cell is missing (NA, NaN, NaT or empty text)."""
    mask = column.isna().to_numpy(dtype=bool)
    if pd.api.types.is_string_dtype(column) and not pd.api.types.is_object_dtype(column):
        mask = mask | (column == "").to_numpy(dtype=bool, na_value=False)
    elif _is_text_column(column):
        mask = mask | np.asarray(column.to_numpy(dtype=object) == "", dtype=bool)
    return pd.Series(mask, index=column.index, dtype=bool)


def _text_series(values, like: pd.Series) -> pd.Series:
    """Text values in the dtype of ``like`` when that is a text dtype, else object."""
    dtype = like.dtype if pd.api.types.is_string_dtype(like) else object
    cleaned = pd.Series(np.asarray(values, dtype=object), index=like.index, dtype=object)
    if len(cleaned):
        cleaned = cleaned.where(~missing_mask(cleaned), None)
    return cleaned.astype(dtype) if dtype is not object else cleaned


def _is_arrow_text(column: pd.Series) -> bool:
    """True for pandas' text dtype backed by pyarrow (``str``), which pyarrow can compute on."""
    return isinstance(column.array, pd.arrays.ArrowStringArray)


def _replace_cells(column: pd.Series, positions: np.ndarray, values) -> pd.Series:
    """A text column with the cells at ``positions`` set to ``values`` (None: missing), and
    empty text made missing; in the column's text dtype (object when it has none).

    Only the cells named are touched: a pyarrow-backed column is changed by pyarrow, never
    turned into Python objects.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> column = pd.Series(["a", "", "c"], dtype="str")
    >>> _replace_cells(column, np.array([2]), ["C"]).tolist()
    ['a', nan, 'C']
    """
    values = np.asarray(values, dtype=object)
    if _is_arrow_text(column):
        chunked = column.array.__arrow_array__()
        mask = np.zeros(len(column), dtype=bool)
        mask[positions] = True
        replacements = pa.array([None if is_missing(value) else str(value) for value in values],
                                type=chunked.type)
        new = pc.replace_with_mask(chunked, pa.array(mask), replacements)
        empty = pc.equal(new, "")
        if pc.any(empty).as_py():
            new = pc.if_else(empty, pa.scalar(None, type=chunked.type), new)
        return pd.Series(new, index=column.index, dtype=column.dtype, name=column.name)
    cells = column.to_numpy(dtype=object, copy=True)
    cells[positions] = values
    return _text_series(cells, column).rename(column.name)


def _set_missing(column: pd.Series, mask: np.ndarray) -> pd.Series:
    """``column.mask(mask)``: the cells where ``mask`` is True made missing. In a pyarrow text
    column only the validity bits change; the texts themselves are not copied.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> _set_missing(pd.Series(["a", None, "c"], dtype="str"), np.array([True, False, False])
    ...              ).tolist()
    [nan, nan, 'c']
    """
    if not _is_arrow_text(column):
        return column.mask(mask)
    chunks, start = [], 0
    for chunk in column.array.__arrow_array__().chunks:
        hidden = mask[start:start + len(chunk)]
        start += len(chunk)
        if not hidden.any():
            chunks.append(chunk)
            continue
        valid = ~hidden
        if chunk.null_count:
            valid &= chunk.is_valid().to_numpy(zero_copy_only=False)
        # the validity bitmap counts from the buffers' start, before the chunk's offset
        bits = pa.array(np.concatenate([np.zeros(chunk.offset, dtype=bool), valid]))
        chunks.append(pa.Array.from_buffers(
            chunk.type, len(chunk), [bits.buffers()[1], *chunk.buffers()[1:]],
            null_count=int((~valid).sum()), offset=chunk.offset))
    return pd.Series(pa.chunked_array(chunks, type=column.array.__arrow_array__().type),
                     index=column.index, dtype=column.dtype, name=column.name)


def _present(frame: pd.DataFrame, names: tuple[str, ...] | list[str]) -> list[str]:
    return [name for name in names if name in frame.columns]


def _render_series(column: pd.Series) -> pd.Series:
    """Each cell rendered as log text (None where missing), computed once per distinct value."""
    if pd.api.types.is_string_dtype(column) and not pd.api.types.is_object_dtype(column):
        return column.astype(object).where(~missing_mask(column), None)
    mapped = map_unique(column, render_value)
    return pd.Series(mapped.take(mapped.results), index=column.index, dtype=object)


def keep_rows(frame: pd.DataFrame, keep: np.ndarray | pd.Series) -> pd.DataFrame:
    """The rows of ``frame`` where ``keep`` is True (``frame.loc[keep]``); the frame itself
    when every row is kept, so that a step that drops nothing copies nothing.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> keep_rows(pd.DataFrame({"a": [1, 2]}), np.array([False, True]))["a"].tolist()
    [2]
    """
    keep = np.asarray(keep, dtype=bool)
    if keep.all():
        return frame
    return frame.loc[keep]


def without_dropped(result: StepResult) -> StepResult:
    """``result`` with the rows its ``dropped`` table names taken out of its frame, in one copy.

    Row steps find the rows to drop on the whole frame (see ``alive`` in
    :func:`drop_exact_duplicates`); the cleaning run drops the rows of all its early row steps
    at once, and a step called on its own drops them here.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"a": ["1", "1"], "_record_id": ["r1", "r2"]})
    >>> found = drop_exact_duplicates(frame, DuplicateRule(), alive=np.ones(2, dtype=bool))
    >>> len(found.frame), len(without_dropped(found).frame)
    (2, 1)
    """
    if result.dropped.empty:
        return result
    keep = np.ones(len(result.frame), dtype=bool)
    keep[result.frame.index.get_indexer(result.dropped["row"].to_numpy(dtype=object))] = False
    return result._replace(frame=keep_rows(result.frame, keep))


def _alive_mask(frame: pd.DataFrame, alive: np.ndarray | None) -> np.ndarray:
    if alive is None:
        return np.ones(len(frame), dtype=bool)
    alive = np.asarray(alive, dtype=bool)
    if len(alive) != len(frame):
        raise ValueError(f"alive: expected one flag per row ({len(frame)}), found {len(alive)}")
    return alive


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


# ----------------------------------------------------------------------------------------------
# Row steps
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DuplicateRule:
    """Columns ignored when looking for exact copies of a row."""

    ignore: tuple[str, ...] = ("_record_id", "_source_row", "_submitted_at")


def drop_exact_duplicates(frame: pd.DataFrame, rule: DuplicateRule, *,
                          alive: np.ndarray | None = None) -> StepResult:
    """Drop rows identical to an earlier row on every column but ``rule.ignore``; keep the first.

    With ``alive`` (one flag per row) only the rows flagged True are looked at, as if the
    others had been dropped before, and the frame is returned whole: the caller drops the rows
    that ``dropped`` names (:func:`without_dropped`), so several row steps cost one copy.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"a": ["1", "1"], "_record_id": ["r1", "r2"]})
    >>> drop_exact_duplicates(frame, DuplicateRule()).dropped["drop_reason"].tolist()
    ['exact copy of an earlier row (record r1)']
    """
    if alive is None:
        return without_dropped(drop_exact_duplicates(frame, rule, alive=_alive_mask(frame, None)))
    alive = _alive_mask(frame, alive)
    compared = [column for column in frame.columns if column not in rule.ignore]
    if not compared or frame.empty:
        return _result(frame)
    # one pass over the whole frame finds the rows that have a copy; the rest is done on them.
    # A row whose only copies are not alive is alone in its group below, so it is kept.
    involved = np.flatnonzero(frame.duplicated(subset=compared, keep=False).to_numpy())
    involved = involved[alive[involved]]
    if not len(involved):
        return _result(frame)
    part = frame.iloc[involved]
    # rows sharing content share a group number; the first row of a group is the one kept
    groups = part.groupby(compared, sort=False, dropna=False).ngroup().to_numpy()
    first = involved[pd.Series(np.arange(len(part))).groupby(groups).transform(
        "first").to_numpy()]
    is_copy = first != involved
    positions = involved[is_copy]
    kept = frame.index[first[is_copy]]
    records = (frame["_record_id"].reindex(kept).map(render_value).to_numpy(dtype=object)
               if "_record_id" in frame.columns else np.asarray(kept, dtype=object))
    dropped = pd.DataFrame({
        "row": np.asarray(frame.index[positions], dtype=object),
        "drop_rule": "duplicate",
        "drop_reason": [f"exact copy of an earlier row (record {record})" for record in records],
    })
    return _result(frame, dropped=[dropped])


@dataclass(frozen=True)
class DurationRule:
    """The shortest plausible interview, in minutes, and the column holding the length."""

    min_minutes: float | None
    column: str = "_duration_seconds"


def drop_short_interviews(frame: pd.DataFrame, rule: DurationRule, *,
                          alive: np.ndarray | None = None) -> StepResult:
    """Drop interviews shorter than ``rule.min_minutes``; unknown lengths are kept.

    ``alive`` works as in :func:`drop_exact_duplicates`: with it the frame is returned whole.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"_duration_seconds": [420.0, 2400.0, None]})
    >>> result = drop_short_interviews(frame, DurationRule(min_minutes=15))
    >>> len(result.frame), result.dropped["drop_reason"].tolist()
    (2, ['interview took 7.0 minutes, less than the minimum of 15 minutes'])
    """
    if alive is None:
        return without_dropped(drop_short_interviews(frame, rule, alive=_alive_mask(frame, None)))
    alive = _alive_mask(frame, alive)
    if rule.min_minutes is None or rule.column not in frame.columns:
        return _result(frame)
    seconds = pd.to_numeric(frame[rule.column], errors="coerce")
    short = (seconds < rule.min_minutes * 60).fillna(False).to_numpy(dtype=bool) & alive
    dropped = [
        {"row": label, "drop_rule": "short_interview",
         "drop_reason": f"interview took {_minutes(length)} minutes, less than the "
                        f"minimum of {rule.min_minutes:g} minutes"}
        for label, length in zip(frame.index[short], seconds.to_numpy()[short], strict=True)
    ]
    return _result(frame, dropped=dropped)


@dataclass(frozen=True)
class ResubmissionRule:
    """The unit and round columns that identify one interview, and the submission time."""

    unit_id: str
    round_column: str = "round"
    submitted_at: str = "_submitted_at"


def drop_resubmissions(frame: pd.DataFrame, rule: ResubmissionRule, *,
                       alive: np.ndarray | None = None) -> StepResult:
    """Keep the latest submission per unit and round; drop the others naming the kept record.

    Ties and unknown submission times are broken by row order (the later row wins). Rows
    without a unit id are kept and flagged. ``alive`` works as in
    :func:`drop_exact_duplicates`: with it the frame is returned whole.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"child_id": ["c1", "c1"], "_record_id": ["a", "b"],
    ...                       "_submitted_at": ["2024-03-06 10:00", "2024-03-05 09:00"]})
    >>> drop_resubmissions(frame, ResubmissionRule("child_id")).dropped["drop_reason"].tolist()
    ['re-submission of unit c1; the latest submission (record a) is kept']
    """
    if alive is None:
        return without_dropped(drop_resubmissions(frame, rule, alive=_alive_mask(frame, None)))
    alive = _alive_mask(frame, alive)
    if rule.unit_id not in frame.columns or frame.empty:
        return _result(frame)
    units = frame[rule.unit_id]
    missing_unit = missing_mask(units).to_numpy(dtype=bool)
    flags = [_entries(frame.index[missing_unit & alive], rule.unit_id, "missing_unit_id",
                      "the unit id is missing; re-submissions cannot be checked for this row",
                      value=None)]
    if rule.submitted_at in frame.columns:
        mapped = map_unique(frame[rule.submitted_at], parse_date)
        moments = [pd.Timestamp.min if moment is None else pd.Timestamp(moment)
                   for moment in mapped.results]
        known = mapped.take([moment is not None for moment in mapped.results], False)
        times = mapped.take(moments, pd.Timestamp.min)
    else:
        known = np.zeros(len(frame), dtype=bool)
        times = np.full(len(frame), pd.Timestamp.min, dtype=object)
    order = pd.DataFrame({
        "unit": _render_series(units),
        "round": _render_series(frame[rule.round_column]) if rule.round_column in frame
        else "",
        "known": known.astype(bool),
        "time": pd.to_datetime(pd.Series(times, index=frame.index), errors="coerce"),
        "position": np.arange(len(frame)),
    }, index=frame.index)
    order = order.loc[~missing_unit & alive]
    repeated = order.duplicated(["unit", "round"], keep=False)
    if not repeated.any():
        return _result(frame, flags=flags)
    order = order.loc[repeated].sort_values(["unit", "round", "known", "time", "position"])
    latest = order.groupby(["unit", "round"], sort=False).tail(1)
    kept_of = {(unit, round_): label for label, unit, round_ in
               zip(latest.index, latest["unit"], latest["round"], strict=True)}
    superseded = order.index.difference(latest.index)
    keep = ~frame.index.isin(superseded)
    leaving = order.loc[frame.index[~keep], ["unit", "round"]]
    kept = [kept_of[key] for key in zip(leaving["unit"], leaving["round"], strict=True)]
    records = (frame["_record_id"].to_numpy(dtype=object)[frame.index.get_indexer(kept)]
               if "_record_id" in frame.columns else kept)
    dropped = [
        {"row": label, "drop_rule": "resubmission",
         "drop_reason": f"re-submission of unit {unit}"
                        f"{f' in round {round_}' if round_ not in ('', None) else ''}; the "
                        f"latest submission (record {record}) is kept"}
        for label, unit, round_, record in zip(leaving.index, leaving["unit"], leaving["round"],
                                               records, strict=True)
    ]
    return _result(frame, flags=flags, dropped=dropped)


# ----------------------------------------------------------------------------------------------
# Cell steps
# ----------------------------------------------------------------------------------------------


_ASCII_STRIPPED = "".join(character for character in STRIPPED_CHARACTERS if character.isascii())


def _unnormalised_cells(column: pd.Series) -> np.ndarray:
    """Positions of the cells that :func:`normalise_text` may change: all of them, except in
    a pyarrow text column, where pyarrow leaves out the ASCII texts without an edge space
    (full-width characters and the other spaces are not ASCII)."""
    if not _is_arrow_text(column):
        return np.arange(len(column))
    chunked = column.array.__arrow_array__()
    suspect = pc.or_kleene(pc.invert(pc.string_is_ascii(chunked)),
                           pc.not_equal(pc.utf8_trim(chunked, _ASCII_STRIPPED), chunked))
    return np.flatnonzero(pc.fill_null(suspect, False).to_numpy(zero_copy_only=False))


@dataclass(frozen=True)
class TextRule:
    """The text columns to normalise."""

    columns: tuple[str, ...]


def normalise_text_columns(frame: pd.DataFrame, rule: TextRule) -> StepResult:
    """Full-width characters to half-width, whitespace trimmed, blank cells to missing.

    Examples
    --------
    >>> import pandas as pd
    >>> result = normalise_text_columns(pd.DataFrame({"a": ["３０００", " x "]}), TextRule(("a",)))
    >>> result.frame["a"].tolist(), len(result.log)
    (['3000', 'x'], 2)
    """
    updates, log = {}, []
    for name in _present(frame, rule.columns):
        column = frame[name]
        if not _is_text_column(column):
            continue
        candidates = _unnormalised_cells(column)
        if not len(candidates):
            continue
        mapped = map_unique(column if len(candidates) == len(column)
                            else column.iloc[candidates], normalise_text)
        changed = [new is None or (old is not new and old != new) if isinstance(old, str)
                   else not values_agree(old, new)
                   for old, new in zip(mapped.uniques, mapped.results, strict=True)]
        if not any(changed):
            continue
        rows = mapped.rows(changed)
        updates[name] = _replace_cells(column, candidates[rows],
                                       mapped.take(mapped.results)[rows])
        log.append(_entries(
            column.index[candidates[rows]], name, "text_normalisation",
            "full-width characters made half-width, spaces trimmed",
            old_value=mapped.rendered(rows),
            new_value=mapped.rendered(rows, "results")))
    return _result(frame.assign(**updates) if updates else frame, log)


@dataclass(frozen=True)
class MissingCodesRule:
    """Missing codes (code -> meaning) per column, and whole-cell texts that mean missing.

    With ``companion`` the meaning of each coded cell is kept in a text column
    ``<var>__missing`` (don't know, refused, not applicable, skipped, not shown...), so that
    the reasons stay distinguishable while the variable itself holds only missing (NaN).
    """

    codes: Mapping[str, Mapping[str, str]]
    texts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    companion: bool = False


MISSING_SUFFIX = "__missing"


def _missing_meaning(value: object, codes: Mapping[str, str],
                     numeric_codes: dict[float, str], texts: Mapping[str, str]) -> str | None:
    if isinstance(value, str):
        text = value.strip()
        if text in codes:
            return codes[text]
        if text in texts:
            return texts[text]
    number = parse_number(value)
    if number is not None and number in numeric_codes:
        return numeric_codes[number]
    return None


def apply_missing_codes(frame: pd.DataFrame, rule: MissingCodesRule) -> StepResult:
    """Set cells holding a missing code (-99, 不知道...) to missing, logging the code's meaning.

    Examples
    --------
    >>> import pandas as pd
    >>> rule = MissingCodesRule({"age": {"-99": "don't know"}})
    >>> result = apply_missing_codes(pd.DataFrame({"age": ["-99", "7"]}), rule)
    >>> result.frame["age"].isna().tolist(), result.log["reason"].tolist()
    ([True, False], ["missing code -99: don't know"])
    """
    updates, log = {}, []
    for name in _present(frame, list(rule.codes)):
        codes = rule.codes[name]
        numeric_codes = {}
        for code, meaning in codes.items():
            number = parse_number(code)
            if number is not None:
                numeric_codes[number] = meaning
        column = frame[name]
        mapped = map_unique(
            column, lambda value, c=codes, n=numeric_codes: _missing_meaning(value, c, n,
                                                                            rule.texts)
        )
        hit = [meaning is not None for meaning in mapped.results]
        if not any(hit):
            continue
        rows = mapped.rows(hit)
        mask = np.zeros(len(column), dtype=bool)
        mask[rows] = True
        updates[name] = _set_missing(column, mask)
        reasons = [None if meaning is None else
                   f"missing code {render_value(normalise_text(value))}: {meaning}"
                   for value, meaning in zip(mapped.uniques, mapped.results, strict=True)]
        log.append(_entries(
            column.index[rows], name, "missing_code", mapped.take(reasons)[rows],
            old_value=mapped.rendered(rows),
            new_value=None))
        if rule.companion:
            companion = f"{name}{MISSING_SUFFIX}"
            reason = mapped.text(mapped.results, column.index)
            if companion in frame.columns:
                reason = frame[companion].astype(object).where(
                    ~missing_mask(frame[companion]), reason.astype(object))
                reason = reason.astype("str").where(reason.notna(), None)
            updates[companion] = reason
    if rule.companion and updates:
        return _result(_with_companions(frame, updates), log)
    return _result(frame.assign(**updates) if updates else frame, log)


def _with_companions(frame: pd.DataFrame, updates: Mapping[str, pd.Series]) -> pd.DataFrame:
    """Assign ``updates``, new companion columns placed right after their variable."""
    updated = frame.assign(**updates)
    new = [name for name in updates if name not in frame.columns]
    if not new:
        return updated
    order = []
    for column in frame.columns:
        order.append(column)
        order += [name for name in new if name == f"{column}{MISSING_SUFFIX}"]
    order += [name for name in new if name not in order]
    return updated[order]


@dataclass(frozen=True)
class MoneyStepRule:
    """Money columns, and the monthly threshold above which an amount is read as annual."""

    variables: tuple[str, ...]
    annual_above: float | None = None
    unit: str = "yuan"


def parse_money_columns(frame: pd.DataFrame, rule: MoneyStepRule) -> StepResult:
    """Read amounts (三千, 3千, 0.3万元, 3000元...) as numbers in yuan; rescale annual figures.

    A monthly amount above ``annual_above`` is taken as an annual figure and divided by 12 when
    the result is plausible (at most ``annual_above``); larger amounts are flagged unchanged.
    Unreadable amounts become missing, logged and flagged.

    Examples
    --------
    >>> import pandas as pd
    >>> rule = MoneyStepRule(("inc",), annual_above=20000)
    >>> parse_money_columns(pd.DataFrame({"inc": ["3.6万", "两千五"]}), rule).frame["inc"].tolist()
    [3000.0, 2500.0]
    """
    updates, log, flags = {}, [], []
    for name in _present(frame, rule.variables):
        column = frame[name]
        mapped = map_unique(column, parse_money)
        olds = _Rendered(mapped)
        amounts = np.asarray(mapped.take(mapped.results, np.nan), dtype=object)
        unreadable = mapped.rows([amount is None for amount in mapped.results])
        column_log, column_flags = [], []
        column_log.append(_entries(
            column.index[unreadable], name, "money_unparseable",
            "expected an amount such as 3000, 3千 or 0.3万, found text that cannot be read as "
            "one; set missing", old_value=olds[unreadable], new_value=None))
        column_flags.append(_entries(
            column.index[unreadable], name, "money_unparseable",
            "amount cannot be read; set missing, check the paper form", value=olds[unreadable]))
        amounts[unreadable] = np.nan
        values = amounts.astype("float64")
        parsed = mapped.rows([amount is not None and not values_agree(value, amount)
                              for value, amount in zip(mapped.uniques, mapped.results,
                                                       strict=True)])
        column_log.append(_entries(
            column.index[parsed], name, "money_parse",
            f"amount written as text read in {rule.unit}", old_value=olds[parsed],
            new_value=[render_value(amount) for amount in values[parsed]]))
        threshold = rule.annual_above
        if threshold is not None:
            above = values > threshold
            fits = np.flatnonzero(above & (values / 12 <= threshold))
            column_log.append(_entries(
                column.index[fits], name, "money_annual",
                f"monthly amount above {threshold:g} {rule.unit} taken as an annual figure and "
                "divided by 12", old_value=[render_value(v) for v in values[fits]],
                new_value=[render_value(v / 12) for v in values[fits]]))
            implausible = np.flatnonzero(above & (values / 12 > threshold))
            column_flags.append(_entries(
                column.index[implausible], name, "money_implausible",
                f"monthly amount above {threshold:g} {rule.unit} even if read as annual; kept, "
                "check it", value=[render_value(v) for v in values[implausible]]))
            values = values.copy()
            values[fits] = values[fits] / 12
        log.append(_in_row_order(column_log, column.index, LOG_COLUMNS))
        flags.append(_in_row_order(column_flags, column.index, FLAG_COLUMNS))
        updates[name] = pd.Series(values, index=column.index, dtype="float64")
    return _result(frame.assign(**updates) if updates else frame, log, flags)


def _in_row_order(pieces: list, index: pd.Index,
                  columns: tuple[str, ...]) -> pd.DataFrame | None:
    """Entries of one column put in row order; entries of one row keep the order given."""
    pieces = [piece for piece in pieces if piece is not None]
    if not pieces:
        return None
    table = _table(pieces, columns)
    if len(table) < 2 or len(pieces) == 1:
        return table
    position = index.get_indexer(pd.Index(table["row"]))
    return table.iloc[np.argsort(position, kind="stable")].reset_index(drop=True)


@dataclass(frozen=True)
class PanelAnnualRule:
    """Money columns of a panel, the ratio band that marks an annual figure, and a threshold.

    ``annual_above`` applies only to amounts the panel cannot judge (no other round).
    """

    unit_id: str
    round_column: str
    variables: tuple[str, ...]
    ratio: tuple[float, float] | None = (5.0, 30.0)
    annual_above: float | None = None


def rescale_annual_in_panel(frame: pd.DataFrame, rule: PanelAnnualRule) -> StepResult:
    """Divide by 12 a monthly amount that looks like an annual figure, judged by the panel.

    An annual figure entered for a monthly question is about 12 times what the same household
    reports in its other rounds; a fixed threshold misses it when the amounts are small (a
    transfer of 500 yuan a month entered as 6,000) and wrongly divides a household that really
    earns a lot every month. For each unit and money column, an amount whose ratio to the
    median of the unit's other rounds lies in ``ratio`` (default 5 to 30, so that the divided
    amount lands within about 0.4 to 2.5 times that median) is divided by 12 and logged.
    Amounts of units with no other round to compare with fall back on ``annual_above``: above
    it, divided by 12 when the result is at most the threshold, flagged otherwise. A ``ratio``
    of None turns the panel comparison off.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"id": ["a"] * 3 + ["b"] * 2, "round": [1, 2, 3, 1, 2],
    ...                       "inc": [500.0, 6000.0, 520.0, 25000.0, 24000.0]})
    >>> rule = PanelAnnualRule("id", "round", ("inc",), annual_above=20000)
    >>> rescale_annual_in_panel(frame, rule).frame["inc"].tolist()
    [500.0, 500.0, 520.0, 25000.0, 24000.0]
    """
    names = _present(frame, rule.variables)
    if rule.unit_id not in frame.columns or rule.round_column not in frame.columns:
        names = []
    updates, log, flags = {}, [], []
    units = frame[rule.unit_id].astype(object) if names else None
    for name in names:
        values = pd.to_numeric(frame[name], errors="coerce").astype("float64")
        others = _median_of_others(values, units)
        new = values.copy()
        column_log = []
        if rule.ratio is not None:
            ratio = values / others.where(others > 0)
            hit = ratio.between(*rule.ratio)
            new = new.mask(hit, values / 12)
            column_log.append(_entries(
                values.index[hit], name, "money_annual_panel",
                [f"{r:.1f} times the median of this unit's other rounds ({o:g}); read as an "
                 "annual figure, / 12" for r, o in zip(ratio[hit], others[hit], strict=True)],
                old_value=[render_value(v) for v in values[hit]],
                new_value=[render_value(v) for v in new[hit]]))
        if rule.annual_above is not None:
            alone = values.gt(rule.annual_above) & (others.isna() | (rule.ratio is None))
            fits = alone & (values / 12 <= rule.annual_above)
            new = new.mask(fits, values / 12)
            column_log.append(_entries(
                values.index[fits], name, "money_annual",
                f"monthly amount above {rule.annual_above:g} with no other round to compare "
                "with; read as an annual figure, / 12",
                old_value=[render_value(v) for v in values[fits]],
                new_value=[render_value(v) for v in new[fits]]))
            implausible = alone & ~fits
            flags.append(_entries(
                values.index[implausible], name, "money_implausible",
                f"monthly amount above {rule.annual_above:g} even if read as annual; kept, "
                "check it", value=[render_value(v) for v in values[implausible]]))
        log.append(_in_row_order(column_log, values.index, LOG_COLUMNS))
        if not new.equals(values):
            updates[name] = new
    return _result(frame.assign(**updates) if updates else frame, log, flags)


def _median_of_others(values: pd.Series, units: pd.Series) -> pd.Series:
    """Per row, the median of the other rows of its unit (NaN when there are none)."""
    group, _ = pd.factorize(units, use_na_sentinel=True)
    result = np.full(len(values), np.nan)
    grouped = group >= 0
    if not grouped.any():
        return pd.Series(result, index=values.index)
    sizes = np.bincount(group[grouped])
    if sizes.max() < 2:
        return pd.Series(result, index=values.index)
    rows = np.flatnonzero(grouped & (sizes[np.where(grouped, group, 0)] > 1))
    compact, members = np.unique(group[rows], return_inverse=True)
    place = pd.Series(members).groupby(members).cumcount().to_numpy()
    matrix = np.full((len(compact), int(place.max()) + 1), np.nan)
    matrix[members, place] = values.to_numpy(dtype="float64")[rows]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for column in range(matrix.shape[1]):
            at = place == column
            without = matrix[members[at]].copy()
            without[:, column] = np.nan
            result[rows[at]] = np.nanmedian(without, axis=1)
    return pd.Series(result, index=values.index)


@dataclass(frozen=True)
class IdentifierRule:
    """Code widths whose leading zeros must be restored, and ID card number columns."""

    widths: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    id_cards: tuple[str, ...] = ()


def repair_identifiers(frame: pd.DataFrame, rule: IdentifierRule) -> StepResult:
    """Restore leading zeros to declared widths; validate 18-digit ID card numbers.

    ID card numbers that are damaged (scientific notation, wrong length, failed checksum) are
    set missing, logged and flagged; a lower-case check letter ``x`` is made upper case.

    Examples
    --------
    >>> import pandas as pd
    >>> rule = IdentifierRule(widths={"village_code": 6})
    >>> repair_identifiers(pd.DataFrame({"village_code": ["10305"]}), rule).frame.iloc[0, 0]
    '010305'
    """
    updates, log, flags = {}, [], []
    for name in _present(frame, list(rule.widths)):
        original = frame[name]
        width = rule.widths[name]
        mapped = map_unique(original, lambda value, w=width: restore_leading_zeros(
            value if isinstance(value, str) else render_value(value), w))
        changed = [not values_agree(old, new) for old, new in
                   zip(mapped.uniques, mapped.results, strict=True)]
        rows = mapped.rows(changed)
        log.append(_entries(
            original.index[rows], name, "leading_zeros",
            f"leading zeros restored to the declared width of {width}",
            old_value=mapped.rendered(rows),
            new_value=mapped.rendered(rows, "results")))
        long = mapped.rows([isinstance(v, str) and len(v) > width for v in mapped.results])
        flags.append(_entries(
            original.index[long], name, "identifier_width",
            f"code longer than the declared width of {width}",
            value=mapped.take(mapped.results)[long]))
        if len(rows):
            like = original if _is_text_column(original) else original.astype(object)
            updates[name] = _text_series(mapped.take(mapped.results), like)
    for name in _present(frame, rule.id_cards):
        column = frame[name]

        def check(old: object) -> tuple[str | None, str | None]:
            text = render_value(old) if not isinstance(old, str) else old
            problem = id_card_problem(text)
            return (None, problem) if problem is not None else (text.strip().upper(), None)

        mapped = map_unique(column, check)
        olds = _Rendered(mapped)
        invalid = mapped.rows([problem is not None for _, problem in mapped.results])
        problems = mapped.take([problem for _, problem in mapped.results])[invalid]
        formatted = mapped.rows([problem is None and value != old for old, (value, problem)
                                 in zip(mapped.uniques, mapped.results, strict=True)])
        column_log = [
            _entries(column.index[invalid], name, "id_card_invalid",
                     [f"ID card number {problem}; set missing" for problem in problems],
                     old_value=olds[invalid], new_value=None),
            _entries(column.index[formatted], name, "id_card_format",
                     "check letter made upper case", old_value=olds[formatted],
                     new_value=mapped.take([value for value, _ in mapped.results])[formatted]),
        ]
        log.append(_in_row_order(column_log, column.index, LOG_COLUMNS))
        flags.append(_entries(
            column.index[invalid], name, "id_card_invalid",
            [f"ID card number {problem}; recover it from the paper form" for problem in problems],
            value=olds[invalid]))
        if len(invalid) or len(formatted):
            updates[name] = _text_series(mapped.take([value for value, _ in mapped.results]),
                                         column if _is_text_column(column)
                                         else column.astype(object))
    return _result(frame.assign(**updates) if updates else frame, log, flags)


@dataclass(frozen=True)
class TypeRule:
    """Target kinds per column: number, code_number, code_text, date or multiple.

    ``choices`` holds the allowed codes of select columns; ``whole`` the columns that must
    hold whole numbers (XLSForm ``integer``).
    """

    kinds: Mapping[str, str]
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    whole: tuple[str, ...] = ()


TYPE_KINDS = ("number", "code_number", "code_text", "date", "multiple")


def _read_number(value: object) -> float | None:
    number = parse_number(value)
    if number is None and isinstance(value, str):
        numeral = parse_chinese_number(value.strip())
        number = None if numeral is None else float(numeral)
    return number


def _convert_number(name: str, column: pd.Series, rule: TypeRule, log: list, flags: list):
    whole = name in rule.whole
    allowed = set(rule.choices.get(name, ()))
    allowed_numbers = {parse_number(code) for code in allowed}
    rule_name = "type_code" if rule.kinds[name] == "code_number" else "type_number"
    mapped = map_unique(column, _read_number)
    olds = _Rendered(mapped)
    numbers = mapped.results
    unreadable = mapped.rows([number is None for number in numbers])
    read = mapped.rows([number is not None and not values_agree(old, number)
                        for old, number in zip(mapped.uniques, numbers, strict=True)])
    values = np.asarray(mapped.take([np.nan if n is None else float(n) for n in numbers],
                                    np.nan), dtype="float64")
    rendered = mapped.take([render_value(n) for n in numbers])
    log.append(_in_row_order([
        _entries(column.index[unreadable], name, rule_name,
                 "expected a number, found text that cannot be read as one; set missing",
                 old_value=olds[unreadable], new_value=None),
        _entries(column.index[read], name, rule_name, "numeral read as a number",
                 old_value=olds[read], new_value=rendered[read]),
    ], column.index, LOG_COLUMNS))
    pieces = [_entries(column.index[unreadable], name, rule_name,
                       "expected a number, found text; set missing", value=olds[unreadable])]
    if whole:
        fraction = mapped.rows([n is not None and not float(n).is_integer() for n in numbers])
        pieces.append(_entries(column.index[fraction], name, "not_whole",
                               "expected a whole number, found a fraction; kept",
                               value=rendered[fraction]))
    if allowed:
        outside = mapped.rows([n is not None and n not in allowed_numbers for n in numbers])
        pieces.append(_entries(column.index[outside], name, "code_not_in_list",
                               "code not in the instrument's choice list; kept",
                               value=rendered[outside]))
    flags.append(_in_row_order(pieces, column.index, FLAG_COLUMNS))
    return pd.Series(values, index=column.index, dtype="float64")


def _convert_date(name: str, column: pd.Series, log: list, flags: list) -> pd.Series:
    mapped = map_unique(column, parse_date)
    olds = _Rendered(mapped)
    moments = [None if moment is None else pd.Timestamp(moment) for moment in mapped.results]
    unreadable = mapped.rows([moment is None for moment in moments])
    changed = mapped.rows([moment is not None and not values_agree(old, moment)
                           for old, moment in zip(mapped.uniques, moments, strict=True)])
    log.append(_in_row_order([
        _entries(column.index[unreadable], name, "type_date",
                 "expected a date such as 2024-03-05, 2024/3/5 or 2024年3月5日, found text that "
                 "cannot be read as one; set missing", old_value=olds[unreadable],
                 new_value=None),
        _entries(column.index[changed], name, "type_date", "date read from a non-ISO form",
                 old_value=olds[changed],
                 new_value=mapped.take([render_value(m) for m in moments])[changed]),
    ], column.index, LOG_COLUMNS))
    flags.append(_entries(column.index[unreadable], name, "type_date",
                          "expected a date, found text; set missing", value=olds[unreadable]))
    values = mapped.take([pd.NaT if m is None else m for m in moments], pd.NaT)
    return pd.Series(pd.to_datetime(pd.Series(values, dtype=object)).to_numpy(
        dtype="datetime64[ns]"), index=column.index, dtype="datetime64[ns]")


def convert_types(frame: pd.DataFrame, rule: TypeRule) -> StepResult:
    """Give columns the types the instrument declares.

    integer/decimal -> float64; select_one with numeric codes -> float64; dates (ISO, slashed,
    Chinese or Excel serial) -> datetime64; select_multiple stays space-joined text. A value
    that cannot be read becomes missing, logged and flagged; codes outside the choice list are
    flagged and kept.

    Examples
    --------
    >>> import pandas as pd
    >>> rule = TypeRule({"day": "date"})
    >>> convert_types(pd.DataFrame({"day": ["45356"]}), rule).frame["day"].dt.date.tolist()
    [datetime.date(2024, 3, 5)]
    """
    updates, log, flags = {}, [], []
    for name in _present(frame, list(rule.kinds)):
        kind, column = rule.kinds[name], frame[name]
        if kind not in TYPE_KINDS:
            raise ConfigError(f"type rule for {name!r}: expected one of {TYPE_KINDS}, "
                              f"found {kind!r}")
        if kind in ("number", "code_number"):
            updates[name] = _convert_number(name, column, rule, log, flags)
        elif kind == "date":
            if not pd.api.types.is_datetime64_any_dtype(column):
                updates[name] = _convert_date(name, column, log, flags)
        else:
            allowed = set(rule.choices.get(name, ()))
            if not allowed:
                continue

            def unknown_codes(value: object, kind: str = kind,
                              allowed: set = allowed) -> list[str]:
                codes = str(value).split() if kind == "multiple" else [render_value(value)]
                return [code for code in codes if code not in allowed]

            mapped = map_unique(column, unknown_codes)
            rows = mapped.rows([bool(unknown) for unknown in mapped.results])
            reasons = mapped.take([f"code(s) {' '.join(unknown)} not in the instrument's "
                                   "choice list; kept" for unknown in mapped.results])
            flags.append(_entries(column.index[rows], name, "code_not_in_list", reasons[rows],
                                  value=mapped.take([render_value(v) for v in
                                                     mapped.uniques])[rows]))
    return _result(frame.assign(**updates) if updates else frame, log, flags)


@dataclass(frozen=True)
class ConstraintRule:
    """Constraint expressions per column, in form order; ``flag_only`` columns are never blanked
    (the unit id: a malformed id is flagged, not erased)."""

    constraints: tuple[tuple[str, str], ...]
    flag_only: tuple[str, ...] = ()


_DISTINCT_FROM = 2000  # smaller frames are evaluated directly


def evaluate_distinct(expression: str, frame: pd.DataFrame, current: pd.Series | None = None
                      ) -> pd.Series:
    """:func:`~doorstep.instrument.expressions.evaluate` once per distinct combination of the
    referenced columns (and ``.``), mapped back to every row: the same answer, much faster on
    large frames where answers repeat.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"a": ["1", "0", "1"]})
    >>> evaluate_distinct("${a} = 1", frame).tolist()
    [True, False, True]
    """
    names = [name for name in referenced_names(expression) if name in frame.columns]
    if len(names) != len(referenced_names(expression)):
        return evaluate(expression, frame, current=current)  # raises the usual error
    if not names and current is not None and _is_arrow_text(current):
        matched = _regex_of_current(expression, current)
        if matched is not None:
            return matched
    parts = {name: frame[name] for name in names}
    if current is not None:
        parts["\x00current"] = current
    if not parts or len(frame) < _DISTINCT_FROM:
        return evaluate(expression, frame, current=current)
    table = pd.DataFrame(parts, index=frame.index)
    groups = table.groupby(list(parts), sort=False, dropna=False).ngroup().to_numpy()
    first = pd.Series(np.arange(len(frame))).groupby(groups).first().to_numpy()
    distinct = table.iloc[first].reset_index(drop=True)
    values = evaluate(expression, distinct[names],
                      current=distinct["\x00current"] if current is not None else None)
    return pd.Series(values.to_numpy(dtype=bool)[groups], index=frame.index, dtype=bool)


def _regex_of_current(expression: str, current: pd.Series) -> pd.Series | None:
    """``regex(., 'pattern')`` on a text column, once per distinct text (an id column has
    as many as rows); None for any other expression or a pattern Python cannot compile (the
    evaluator then reports it). Missing text is matched as "", as the evaluator does."""
    tree = parse(expression).tree
    if not (isinstance(tree, Call) and tree.function == "regex" and len(tree.arguments) == 2
            and isinstance(tree.arguments[0], Current)
            and isinstance(tree.arguments[1], String)):
        return None
    try:
        pattern = re.compile(tree.arguments[1].value)
    except re.error:
        return None
    codes, uniques = pd.factorize(current, use_na_sentinel=True)
    found = np.fromiter((pattern.search(text) is not None for text in [*uniques, ""]),
                        dtype=bool, count=len(uniques) + 1)
    return pd.Series(found[codes], index=current.index, dtype=bool)


def _not_checked(name: str, what: str, expression: str, error: Exception) -> dict:
    return _flag(None, name, None, "rule_not_checked",
                 f"{what} {expression!r} not checked: {error}")


def apply_constraints(frame: pd.DataFrame, rule: ConstraintRule) -> StepResult:
    """Apply constraints that refer only to ``.``; flag violations of the others.

    A hard constraint (only ``.`` and literals) that a non-missing value fails sets the value
    missing, logged. A constraint referring to other columns is only flagged where it fails
    and every referred value is present. A constraint that cannot be evaluated (an unsupported
    function, a column not in the export) is reported once as ``rule_not_checked``.

    Examples
    --------
    >>> import pandas as pd
    >>> rule = ConstraintRule((("age", ". >= 0 and . <= 17"),))
    >>> apply_constraints(pd.DataFrame({"age": [5.0, 40.0]}), rule).frame["age"].tolist()
    [5.0, nan]
    """
    updates, log, flags = {}, [], []
    current_frame = frame
    for name, expression in rule.constraints:
        if name not in frame.columns:
            continue
        column = current_frame[name]
        try:
            parse(expression)
            names = referenced_names(expression)
            satisfied = evaluate_distinct(expression, current_frame, current=column)
        except ConfigError as error:
            flags.append(_not_checked(name, "constraint", expression, error))
            continue
        present = ~missing_mask(column)
        failing = present & ~satisfied
        if not failing.any():
            continue
        if not names and uses_current(expression) and name not in rule.flag_only:
            new = column.mask(failing)
            updates[name] = new
            current_frame = current_frame.assign(**{name: new})
            log.append(_entries(column.index[failing], name, "constraint",
                                f"violates the constraint {expression!r}; set missing",
                                old_value=_render_series(column[failing]).to_numpy(),
                                new_value=None))
            continue
        for other in names:
            failing = failing & ~missing_mask(current_frame[other])
        why = (f"which involves {', '.join(names)}" if names
               else "and is an identifier, never blanked")
        flags.append(_entries(column.index[failing], name, "constraint_other",
                              f"violates the constraint {expression!r}, {why}; kept, check it",
                              value=_render_series(column[failing]).to_numpy()))
    return _result(frame.assign(**updates) if updates else frame, log, flags)


def _refuse_circular_relevance(relevant: tuple[tuple[str, str], ...]) -> None:
    """Raise a ConfigError when the relevants refer to each other in a cycle."""
    graph = []
    for name, expression in relevant:
        try:
            graph.append((name, referenced_names(expression)))
        except ConfigError:  # a bad expression is flagged "not checked" by the step itself
            continue
    cycles = relevance_cycles(graph)
    if cycles:
        chain = " -> ".join(f"{name!r}" for name in (*cycles[0], cycles[0][0]))
        raise ConfigError(
            f"instrument, column 'relevant': circular skip logic ({chain}): each question's "
            "relevant refers to the next; expected a relevant to depend only on questions "
            "asked before it. Fix the form (`lint_instrument` names the rows)"
        )


NOT_APPLICABLE = "not applicable"


@dataclass(frozen=True)
class SkipLogicRule:
    """``relevant`` expressions per column, in form order.

    With ``companion`` each blanked answer's ``<var>__missing`` says ``not applicable``, as a
    -66 code would (see :class:`MissingCodesRule`).
    """

    relevant: tuple[tuple[str, str], ...]
    companion: bool = False


def apply_skip_logic(frame: pd.DataFrame, rule: SkipLogicRule) -> StepResult:
    """Blank answers given where the question's ``relevant`` is False (rule ``skip_logic``).

    Questions are handled in form order on the frame as cleaned so far, so a blanked answer
    hides the questions that depend on it. With ``rule.companion`` the reason of each blanked
    answer, ``not applicable``, goes in ``<var>__missing`` (created after the variable when
    missing codes did not create it; a reason already there is kept).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"enrolled": [1.0, 0.0], "days_missed": [2.0, 3.0]})
    >>> rule = SkipLogicRule((("days_missed", "${enrolled} = 1"),), companion=True)
    >>> cleaned = apply_skip_logic(frame, rule).frame
    >>> cleaned["days_missed"].tolist(), cleaned["days_missed__missing"].tolist()
    ([2.0, nan], [nan, 'not applicable'])
    """
    _refuse_circular_relevance(rule.relevant)
    log, flags = [], []
    current_frame = frame
    companions: dict[str, pd.Series] = {}
    for name, expression in rule.relevant:
        if name not in frame.columns:
            continue
        try:
            relevant = evaluate_distinct(expression, current_frame)
        except ConfigError as error:
            flags.append(_not_checked(name, "relevant", expression, error))
            continue
        column = current_frame[name]
        hidden = ~relevant & ~missing_mask(column)
        if not hidden.any():
            continue
        current_frame = current_frame.assign(**{name: column.mask(hidden)})
        log.append(_entries(column.index[hidden], name, "skip_logic",
                            f"answer given although the question is not relevant "
                            f"({expression!r} is false); set missing",
                            old_value=_render_series(column[hidden]).to_numpy(),
                            new_value=None))
        if rule.companion:
            companion = f"{name}{MISSING_SUFFIX}"
            reasons = (frame[companion] if companion in frame.columns
                       else pd.Series(np.nan, index=frame.index, dtype="str"))
            blank = np.flatnonzero(hidden.to_numpy(dtype=bool)
                                   & missing_mask(reasons).to_numpy(dtype=bool))
            companions[companion] = _replace_cells(reasons, blank, [NOT_APPLICABLE] * len(blank))
    if companions:
        current_frame = _with_companions(current_frame, companions)
    return _result(current_frame, log, flags)


@dataclass(frozen=True)
class OptionColumnsRule:
    """select_multiple columns and their option codes, for 0/1 columns ``<var>__<code>``."""

    options: Mapping[str, tuple[str, ...]]


def derive_option_columns(frame: pd.DataFrame, rule: OptionColumnsRule) -> StepResult:
    """Add one 0/1 column per option of each select_multiple question (missing stays missing).

    Derived columns are new; they need no log entries.

    Examples
    --------
    >>> import pandas as pd
    >>> rule = OptionColumnsRule({"sports": ("1", "2")})
    >>> derive_option_columns(pd.DataFrame({"sports": ["2", None]}), rule).frame.columns.tolist()
    ['sports', 'sports__1', 'sports__2']
    """
    updates = {}
    for name in _present(frame, list(rule.options)):
        column = frame[name]
        mapped = map_unique(column, lambda value: set(str(value).split()))
        for code in rule.options[name]:
            chosen = [float(code in selection) for selection in mapped.results]
            updates[f"{name}__{code}"] = pd.Series(
                np.asarray(mapped.take(chosen, np.nan), dtype="float64"), index=column.index,
                dtype="float64")
    if not updates:
        return _result(frame)
    ordered = []
    for column in frame.columns:
        if column in updates:
            continue
        ordered.append(column)
        ordered += [derived for derived in updates if derived.rsplit("__", 1)[0] == column]
    return _result(frame.assign(**updates)[ordered])


@dataclass(frozen=True)
class PersonalRule:
    """Columns holding personal data, removed from the clean data."""

    columns: tuple[str, ...]


def drop_personal_columns(frame: pd.DataFrame, rule: PersonalRule) -> StepResult:
    """Remove personal columns from the frame.

    Removing a whole column changes no cell value, so nothing is logged; the codebook records
    each personal column with ``personal=True`` and ``in_data=False``.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"phone": ["13800000000"], "age": ["3"]})
    >>> drop_personal_columns(frame, PersonalRule(("phone",))).frame.columns.tolist()
    ['age']
    """
    return _result(frame.drop(columns=_present(frame, rule.columns)))
