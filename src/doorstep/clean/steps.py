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

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
import pandas as pd

from doorstep.clean.values import (
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
from doorstep.instrument.expressions import evaluate, parse, referenced_names, uses_current

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


def _table(records: list[dict], columns: tuple[str, ...]) -> pd.DataFrame:
    table = pd.DataFrame.from_records(records, columns=list(columns))
    for column in columns:
        if column != "row":
            table[column] = table[column].astype(object)
    return table


def _result(
    frame: pd.DataFrame,
    log: list[dict] | None = None,
    flags: list[dict] | None = None,
    dropped: list[dict] | None = None,
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


def _is_text_column(column: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)


def _text_series(values: list, like: pd.Series) -> pd.Series:
    """Text values in the dtype of ``like`` when that is a text dtype, else object."""
    dtype = like.dtype if pd.api.types.is_string_dtype(like) else object
    cleaned = [None if is_missing(value) else value for value in values]
    return pd.Series(cleaned, index=like.index, dtype=dtype)


def _map_unique(column: pd.Series, function: Callable[[object], object]) -> list:
    cache: dict[object, object] = {}
    results = []
    for value in column:
        key = None if is_missing(value) else value
        if key not in cache:
            cache[key] = function(key) if key is not None else None
        results.append(cache[key])
    return results


def missing_mask(column: pd.Series) -> pd.Series:
    """A bool Series: True where the cell is missing (NA, NaN, NaT or empty text)."""
    return pd.Series([is_missing(value) for value in column], index=column.index, dtype=bool)


def _present(frame: pd.DataFrame, names: tuple[str, ...] | list[str]) -> list[str]:
    return [name for name in names if name in frame.columns]


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


# ----------------------------------------------------------------------------------------------
# Row steps
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DuplicateRule:
    """Columns ignored when looking for exact copies of a row."""

    ignore: tuple[str, ...] = ("_record_id", "_source_row", "_submitted_at")


def drop_exact_duplicates(frame: pd.DataFrame, rule: DuplicateRule) -> StepResult:
    """Drop rows identical to an earlier row on every column but ``rule.ignore``; keep the first.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"a": ["1", "1"], "_record_id": ["r1", "r2"]})
    >>> drop_exact_duplicates(frame, DuplicateRule()).dropped["drop_reason"].tolist()
    ['exact copy of an earlier row (record r1)']
    """
    compared = [column for column in frame.columns if column not in rule.ignore]
    if not compared or frame.empty:
        return _result(frame)
    duplicated = frame.duplicated(subset=compared, keep="first")
    if not duplicated.any():
        return _result(frame)
    keys = frame[compared].astype(object).where(frame[compared].notna(), None)
    first_of: dict[tuple, object] = {}
    dropped = []
    for label, key in zip(frame.index, map(tuple, keys.itertuples(index=False)), strict=True):
        if not duplicated.loc[label]:
            first_of.setdefault(key, label)
            continue
        kept = first_of[key]
        record = frame.at[kept, "_record_id"] if "_record_id" in frame.columns else kept
        dropped.append({"row": label, "drop_rule": "duplicate",
                        "drop_reason": f"exact copy of an earlier row (record {record})"})
    return _result(frame.loc[~duplicated], dropped=dropped)


@dataclass(frozen=True)
class DurationRule:
    """The shortest plausible interview, in minutes, and the column holding the length."""

    min_minutes: float | None
    column: str = "_duration_seconds"


def drop_short_interviews(frame: pd.DataFrame, rule: DurationRule) -> StepResult:
    """Drop interviews shorter than ``rule.min_minutes``; unknown lengths are kept.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"_duration_seconds": [420.0, 2400.0, None]})
    >>> result = drop_short_interviews(frame, DurationRule(min_minutes=15))
    >>> len(result.frame), result.dropped["drop_reason"].tolist()
    (2, ['interview took 7.0 minutes, less than the minimum of 15 minutes'])
    """
    if rule.min_minutes is None or rule.column not in frame.columns:
        return _result(frame)
    seconds = pd.to_numeric(frame[rule.column], errors="coerce")
    short = (seconds < rule.min_minutes * 60).fillna(False).astype(bool)
    dropped = [
        {"row": label, "drop_rule": "short_interview",
         "drop_reason": f"interview took {_minutes(seconds.loc[label])} minutes, less than the "
                        f"minimum of {rule.min_minutes:g} minutes"}
        for label in frame.index[short]
    ]
    return _result(frame.loc[~short], dropped=dropped)


@dataclass(frozen=True)
class ResubmissionRule:
    """The unit and round columns that identify one interview, and the submission time."""

    unit_id: str
    round_column: str = "round"
    submitted_at: str = "_submitted_at"


def drop_resubmissions(frame: pd.DataFrame, rule: ResubmissionRule) -> StepResult:
    """Keep the latest submission per unit and round; drop the others naming the kept record.

    Ties and unknown submission times are broken by row order (the later row wins). Rows
    without a unit id are kept and flagged.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"child_id": ["c1", "c1"], "_record_id": ["a", "b"],
    ...                       "_submitted_at": ["2024-03-06 10:00", "2024-03-05 09:00"]})
    >>> drop_resubmissions(frame, ResubmissionRule("child_id")).dropped["drop_reason"].tolist()
    ['re-submission of unit c1; the latest submission (record a) is kept']
    """
    if rule.unit_id not in frame.columns or frame.empty:
        return _result(frame)
    units = frame[rule.unit_id]
    missing_unit = missing_mask(units)
    flags = [
        _flag(label, rule.unit_id, None, "missing_unit_id",
              "the unit id is missing; re-submissions cannot be checked for this row")
        for label in frame.index[missing_unit]
    ]
    if rule.submitted_at in frame.columns:
        times = pd.Series(_map_unique(frame[rule.submitted_at], parse_date), index=frame.index,
                          dtype=object)
    else:
        times = pd.Series(None, index=frame.index, dtype=object)
    order = pd.DataFrame({
        "unit": units.map(render_value),
        "round": frame[rule.round_column].map(render_value) if rule.round_column in frame
        else "",
        "known": times.map(lambda value: value is not None),
        "time": times.map(lambda value: value if value is not None else pd.Timestamp.min),
        "position": np.arange(len(frame)),
    }, index=frame.index)
    order = order.loc[~missing_unit].sort_values(["unit", "round", "known", "time", "position"])
    latest = order.groupby(["unit", "round"], sort=False).tail(1)
    kept_of = {(unit, round_): label for label, unit, round_ in
               zip(latest.index, latest["unit"], latest["round"], strict=True)}
    superseded = order.index.difference(latest.index)
    dropped = []
    for label in frame.index:
        if label not in superseded:
            continue
        unit, round_ = order.at[label, "unit"], order.at[label, "round"]
        kept = kept_of[(unit, round_)]
        record = frame.at[kept, "_record_id"] if "_record_id" in frame.columns else kept
        in_round = f" in round {round_}" if round_ not in ("", None) else ""
        dropped.append({
            "row": label, "drop_rule": "resubmission",
            "drop_reason": f"re-submission of unit {unit}{in_round}; the latest submission "
                           f"(record {record}) is kept",
        })
    keep = ~frame.index.isin(superseded)
    return _result(frame.loc[keep], flags=flags, dropped=dropped)


# ----------------------------------------------------------------------------------------------
# Cell steps
# ----------------------------------------------------------------------------------------------


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
        new = _map_unique(column, normalise_text)
        changed = [
            (label, old, value) for label, old, value in zip(column.index, column, new, strict=True)
            if not values_agree(old, value)
        ]
        if not changed:
            continue
        updates[name] = _text_series(new, column)
        log += [_log(label, name, old, value, "text_normalisation",
                     "full-width characters made half-width, spaces trimmed")
                for label, old, value in changed]
    return _result(frame.assign(**updates) if updates else frame, log)


@dataclass(frozen=True)
class MissingCodesRule:
    """Missing codes (code -> meaning) per column, and whole-cell texts that mean missing."""

    codes: Mapping[str, Mapping[str, str]]
    texts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


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
        meanings = _map_unique(
            column, lambda value, c=codes, n=numeric_codes: _missing_meaning(value, c, n,
                                                                            rule.texts)
        )
        hits = [(label, old, meaning) for label, old, meaning in
                zip(column.index, column, meanings, strict=True) if meaning is not None]
        if not hits:
            continue
        mask = pd.Series([meaning is not None for meaning in meanings], index=column.index)
        updates[name] = column.mask(mask)
        log += [_log(label, name, old, None, "missing_code",
                     f"missing code {render_value(normalise_text(old))}: {meaning}")
                for label, old, meaning in hits]
    return _result(frame.assign(**updates) if updates else frame, log)


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
        parsed = _map_unique(column, parse_money)
        values = []
        for label, old, amount in zip(column.index, column, parsed, strict=True):
            if is_missing(old):
                values.append(np.nan)
                continue
            if amount is None:
                log.append(_log(label, name, old, None, "money_unparseable",
                                "expected an amount such as 3000, 3千 or 0.3万, found text that "
                                "cannot be read as one; set missing"))
                flags.append(_flag(label, name, old, "money_unparseable",
                                   "amount cannot be read; set missing, check the paper form"))
                values.append(np.nan)
                continue
            if not values_agree(old, amount):
                log.append(_log(label, name, old, amount, "money_parse",
                                f"amount written as text read in {rule.unit}"))
            threshold = rule.annual_above
            if threshold is not None and amount > threshold:
                if amount / 12 <= threshold:
                    log.append(_log(label, name, amount, amount / 12, "money_annual",
                                    f"monthly amount above {threshold:g} {rule.unit} taken as an "
                                    f"annual figure and divided by 12"))
                    amount = amount / 12
                else:
                    flags.append(_flag(label, name, amount, "money_implausible",
                                       f"monthly amount above {threshold:g} {rule.unit} even if "
                                       f"read as annual; kept, check it"))
            values.append(float(amount))
        updates[name] = pd.Series(values, index=column.index, dtype="float64")
    return _result(frame.assign(**updates) if updates else frame, log, flags)


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
        others = pd.Series(np.nan, index=frame.index)
        for _, labels in values.groupby(units, sort=False).groups.items():
            group = values.loc[labels]
            for label in labels:
                others[label] = group.drop(label).median()
        new = values.copy()
        if rule.ratio is not None:
            ratio = values / others.where(others > 0)
            hit = ratio.between(*rule.ratio)
            new = new.mask(hit, values / 12)
            log += [_log(label, name, values[label], new[label], "money_annual_panel",
                         f"{ratio[label]:.1f} times the median of this unit's other rounds "
                         f"({others[label]:g}); read as an annual figure, / 12")
                    for label in values.index[hit]]
        if rule.annual_above is not None:
            alone = values.gt(rule.annual_above) & (others.isna() | (rule.ratio is None))
            fits = alone & (values / 12 <= rule.annual_above)
            new = new.mask(fits, values / 12)
            log += [_log(label, name, values[label], new[label], "money_annual",
                         f"monthly amount above {rule.annual_above:g} with no other round to "
                         "compare with; read as an annual figure, / 12")
                    for label in values.index[fits]]
            flags += [_flag(label, name, values[label], "money_implausible",
                            f"monthly amount above {rule.annual_above:g} even if read as "
                            "annual; kept, check it")
                      for label in values.index[alone & ~fits]]
        if not new.equals(values):
            updates[name] = new
    return _result(frame.assign(**updates) if updates else frame, log, flags)


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
        column = frame[name]
        if not _is_text_column(column):
            column = column.map(render_value)
        width = rule.widths[name]
        new = _map_unique(column, lambda value, w=width: restore_leading_zeros(value, w))
        for label, old, value in zip(column.index, frame[name], new, strict=True):
            if not values_agree(old, value):
                log.append(_log(label, name, old, value, "leading_zeros",
                                f"leading zeros restored to the declared width of {width}"))
            if isinstance(value, str) and len(value) > width:
                flags.append(_flag(label, name, value, "identifier_width",
                                   f"code longer than the declared width of {width}"))
        if any(not values_agree(o, v) for o, v in zip(frame[name], new, strict=True)):
            updates[name] = _text_series(new, column)
    for name in _present(frame, rule.id_cards):
        column = frame[name]
        new_values, changed = [], False
        for label, old in zip(column.index, column, strict=True):
            if is_missing(old):
                new_values.append(None)
                continue
            text = render_value(old) if not isinstance(old, str) else old
            problem = id_card_problem(text)
            if problem is not None:
                log.append(_log(label, name, old, None, "id_card_invalid",
                                f"ID card number {problem}; set missing"))
                flags.append(_flag(label, name, old, "id_card_invalid",
                                   f"ID card number {problem}; recover it from the paper form"))
                new_values.append(None)
                changed = True
                continue
            value = text.strip().upper()
            if value != old:
                log.append(_log(label, name, old, value, "id_card_format",
                                "check letter made upper case"))
                changed = True
            new_values.append(value)
        if changed:
            updates[name] = _text_series(new_values, column if _is_text_column(column)
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
    values = []
    whole = name in rule.whole
    allowed = set(rule.choices.get(name, ()))
    allowed_numbers = {parse_number(code) for code in allowed}
    rule_name = "type_code" if rule.kinds[name] == "code_number" else "type_number"
    numbers = _map_unique(column, _read_number)
    for label, old, number in zip(column.index, column, numbers, strict=True):
        if is_missing(old):
            values.append(np.nan)
            continue
        if number is None:
            log.append(_log(label, name, old, None, rule_name,
                            "expected a number, found text that cannot be read as one; "
                            "set missing"))
            flags.append(_flag(label, name, old, rule_name,
                               "expected a number, found text; set missing"))
            values.append(np.nan)
            continue
        if not values_agree(old, number):
            log.append(_log(label, name, old, number, rule_name, "numeral read as a number"))
        if whole and not float(number).is_integer():
            flags.append(_flag(label, name, number, "not_whole",
                               "expected a whole number, found a fraction; kept"))
        if allowed and number not in allowed_numbers:
            flags.append(_flag(label, name, number, "code_not_in_list",
                               "code not in the instrument's choice list; kept"))
        values.append(float(number))
    return pd.Series(values, index=column.index, dtype="float64")


def _convert_date(name: str, column: pd.Series, log: list, flags: list) -> pd.Series:
    values = []
    moments = _map_unique(column, parse_date)
    for label, old, moment in zip(column.index, column, moments, strict=True):
        if is_missing(old):
            values.append(pd.NaT)
            continue
        if moment is None:
            log.append(_log(label, name, old, None, "type_date",
                            "expected a date such as 2024-03-05, 2024/3/5 or 2024年3月5日, "
                            "found text that cannot be read as one; set missing"))
            flags.append(_flag(label, name, old, "type_date",
                               "expected a date, found text; set missing"))
            values.append(pd.NaT)
            continue
        if not values_agree(old, pd.Timestamp(moment)):
            log.append(_log(label, name, old, pd.Timestamp(moment), "type_date",
                            "date read from a non-ISO form"))
        values.append(pd.Timestamp(moment))
    return pd.Series(values, index=column.index, dtype="datetime64[ns]")


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
            for label, value in zip(column.index, column, strict=True):
                if is_missing(value):
                    continue
                codes = str(value).split() if kind == "multiple" else [render_value(value)]
                unknown = [code for code in codes if code not in allowed]
                if unknown:
                    flags.append(_flag(label, name, value, "code_not_in_list",
                                       f"code(s) {' '.join(unknown)} not in the instrument's "
                                       f"choice list; kept"))
    return _result(frame.assign(**updates) if updates else frame, log, flags)


@dataclass(frozen=True)
class ConstraintRule:
    """Constraint expressions per column, in form order; ``flag_only`` columns are never blanked
    (the unit id: a malformed id is flagged, not erased)."""

    constraints: tuple[tuple[str, str], ...]
    flag_only: tuple[str, ...] = ()


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
            satisfied = evaluate(expression, current_frame, current=column)
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
            log += [_log(label, name, column.loc[label], None, "constraint",
                         f"violates the constraint {expression!r}; set missing")
                    for label in column.index[failing]]
            continue
        for other in names:
            failing = failing & ~missing_mask(current_frame[other])
        flags += [_flag(label, name, column.loc[label], "constraint_other",
                        f"violates the constraint {expression!r}, which involves "
                        f"{', '.join(names)}; kept, check it")
                  for label in column.index[failing]]
    return _result(frame.assign(**updates) if updates else frame, log, flags)


@dataclass(frozen=True)
class SkipLogicRule:
    """``relevant`` expressions per column, in form order."""

    relevant: tuple[tuple[str, str], ...]


def apply_skip_logic(frame: pd.DataFrame, rule: SkipLogicRule) -> StepResult:
    """Blank answers given where the question's ``relevant`` is False (rule ``skip_logic``).

    Questions are handled in form order on the frame as cleaned so far, so a blanked answer
    hides the questions that depend on it.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"enrolled": [1.0, 0.0], "days_missed": [2.0, 3.0]})
    >>> rule = SkipLogicRule((("days_missed", "${enrolled} = 1"),))
    >>> apply_skip_logic(frame, rule).frame["days_missed"].tolist()
    [2.0, nan]
    """
    log, flags = [], []
    current_frame = frame
    for name, expression in rule.relevant:
        if name not in frame.columns:
            continue
        try:
            relevant = evaluate(expression, current_frame)
        except ConfigError as error:
            flags.append(_not_checked(name, "relevant", expression, error))
            continue
        column = current_frame[name]
        hidden = ~relevant & ~missing_mask(column)
        if not hidden.any():
            continue
        current_frame = current_frame.assign(**{name: column.mask(hidden)})
        log += [_log(label, name, column.loc[label], None, "skip_logic",
                     f"answer given although the question is not relevant ({expression!r} is "
                     f"false); set missing")
                for label in column.index[hidden]]
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
        selections = [None if is_missing(value) else set(str(value).split()) for value in column]
        for code in rule.options[name]:
            updates[f"{name}__{code}"] = pd.Series(
                [np.nan if chosen is None else float(code in chosen) for chosen in selections],
                index=column.index, dtype="float64",
            )
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
