"""Planting of field problems into the true answers of a survey round.

This module owns every planted data problem (duplicates, resubmissions, a fabricating
enumerator, missing-value codes, amounts as text or in 万元, annual-for-monthly amounts,
full-width digits, Excel-damaged IDs, lost leading zeros, mixed date formats, answers that skip
logic should have hidden, mistyped unit ids) and the record of each instance. It works on
in-memory frames only; :mod:`doorstep.simulate.exports` writes them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from doorstep.simulate import people

EXCEL_EPOCH = dt.date(1899, 12, 30)


@dataclass(frozen=True)
class RoundSpec:
    """What the planting needs to know about a programme's round frames.

    Examples
    --------
    >>> RoundSpec("child_id", (), (), (), (), (), ()).unit_column
    'child_id'
    """

    unit_column: str
    integer_columns: tuple[str, ...]
    item_columns: tuple[str, ...]
    income_columns: tuple[str, ...]
    straight_line_groups: tuple[tuple[tuple[str, ...], tuple[int, ...]], ...]
    skip_rules: tuple[tuple[str, str], ...]  # (gate column answered 1 to ask, hidden column)
    fabricated_ranges: tuple[tuple[str, int, int, int], ...]  # (column, low, high, step)


@dataclass
class Planted:
    """Problem records and eligibility counts collected while planting one file."""

    records: list[dict] = field(default_factory=list)
    eligible: dict[str, int] = field(default_factory=dict)

    def add(self, problem, key, unit, variable="", true_value="", raw_value=None):
        self.records.append({"problem": problem, "key": key, "unit_id": unit,
                             "variable": variable, "true_value": _text(true_value),
                             "raw_value": raw_value})

    def count_eligible(self, problem, number):
        self.eligible[problem] = self.eligible.get(problem, 0) + int(number)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _choose(rng, count, rate):
    return np.flatnonzero(rng.random(count) < rate)


def _id_typo(rng, unit_id: str, taken: set) -> str:
    for _ in range(50):
        position = int(rng.integers(1, len(unit_id)))
        digit = str(int(rng.integers(0, 10)))
        candidate = unit_id[:position] + digit + unit_id[position + 1:]
        if candidate != unit_id and candidate not in taken:
            return candidate
    return unit_id


def plant(frame: pd.DataFrame, *, spec: RoundSpec, kind: str, rates: dict,
          rng: np.random.Generator, follow_up: bool, fabricator: str,
          all_unit_ids: set) -> tuple[pd.DataFrame, Planted]:
    """Plant every field problem into one round's true frame.

    Parameters
    ----------
    frame : pandas.DataFrame
        True answers of one round (object columns, plus ``_unit``, ``_submitted``, ``_uuid``).
    spec : RoundSpec
        Which columns hold what.
    kind : {"kobo", "wjx", "gbk"}
        The export the frame is going to, which decides how damaged values look.
    rates : dict
        Resolved rates (see :func:`doorstep.simulate.default_rates`).
    rng : numpy.random.Generator
        The stream for this file.
    follow_up : bool
        Whether unit ids may be mistyped (follow-up rounds only).
    fabricator : str
        Enumerator id who fabricates.
    all_unit_ids : set
        Every real unit id, so that a mistyped id never equals another unit's id.

    Returns
    -------
    frame, planted
        The damaged frame (with ``_key``, ``_dup_of``, ``_fabricated`` columns) in file order,
        and the problem records keyed by ``_key``.

    Examples
    --------
    >>> # exercised through doorstep.simulate.simulate
    """
    planted = Planted()
    frame = frame.copy()
    frame["_key"] = np.arange(len(frame))
    frame["_dup_of"] = -1
    frame["_fabricated"] = False
    unit = spec.unit_column

    if follow_up:
        planted.count_eligible("id_typo", len(frame))
        for row in _choose(rng, len(frame), rates["id_typo"]):
            original = frame.at[row, unit]
            typo = _id_typo(rng, original, all_unit_ids)
            frame.at[row, unit] = typo
            planted.add("id_typo", int(frame.at[row, "_key"]), frame.at[row, "_unit"], unit,
                        original, typo)

    _fabricate(frame, spec, rates, rng, fabricator, planted)
    n_original = len(frame)
    frame = _resubmissions(frame, spec, rates, rng, ~frame["_fabricated"].to_numpy(), planted)
    clean = ~frame["_fabricated"].to_numpy() & (frame["_key"].to_numpy() < n_original)
    touched: set[tuple[int, str]] = set()
    _cell_problems(frame, spec, kind, rates, rng, clean, touched, planted)
    frame = _duplicates(frame, rates, rng, planted)
    return frame, planted


def _fabricate(frame, spec, rates, rng, fabricator, planted):
    theirs = np.flatnonzero(frame["username"].to_numpy() == fabricator)
    planted.count_eligible("fabricator", len(theirs))
    chosen = theirs[rng.random(len(theirs)) < rates["fabricator"]]
    for row in chosen:
        start = frame.at[row, "start"]
        duration = dt.timedelta(seconds=int(rng.integers(300, 601)))
        frame.at[row, "end"] = start + duration
        submitted = (start + duration + dt.timedelta(minutes=int(rng.integers(5, 90))))
        frame.at[row, "_submitted"] = submitted.astimezone(dt.UTC).replace(tzinfo=None)
        for columns, values in spec.straight_line_groups:
            value = int(values[int(rng.integers(0, len(values)))])
            for column in columns:
                frame.at[row, column] = value
        for column, low, high, step in spec.fabricated_ranges:
            if frame.at[row, column] is None:
                continue
            frame.at[row, column] = int(rng.integers(low // step, high // step + 1)) * step
        frame.at[row, "_fabricated"] = True
        planted.add("fabricator", int(frame.at[row, "_key"]), frame.at[row, "_unit"])


def _cell_problems(frame, spec, kind, rates, rng, clean, touched, planted):
    keys = frame["_key"].to_numpy()
    units = frame["_unit"].to_numpy()

    def plant_cells(problem, columns, is_eligible, damage):
        total = 0
        for column in columns:
            values = frame[column].to_numpy()
            eligible = [row for row in np.flatnonzero(clean)
                        if (keys[row], column) not in touched and is_eligible(row, values[row])]
            total += len(eligible)
            if not eligible:
                continue
            for row in np.asarray(eligible)[rng.random(len(eligible)) < rates[problem]]:
                raw = damage(values[row])
                touched.add((keys[row], column))
                planted.add(problem, int(keys[row]), units[row], column, values[row], raw)
                frame.at[row, column] = raw
        planted.count_eligible(problem, total)

    hidden = []
    for gate, column in spec.skip_rules:
        gates = frame[gate].to_numpy()
        hidden.append((column, gates))

    def hidden_cell(gates):
        return lambda row, value: value is None and gates[row] == 0

    for column, gates in hidden:
        step = 500 if column.startswith("earnings") else 1
        plant_cells("skip_logic", [column], hidden_cell(gates),
                    lambda value, step=step: int(rng.integers(1, 6)) * step)
    for column, gates in hidden:
        plant_cells("na_code", [column], hidden_cell(gates), lambda value: -66)

    def has_integer(row, value):
        return isinstance(value, int) and not isinstance(value, bool)

    plant_cells("missing_codes", spec.integer_columns + spec.item_columns, has_integer,
                lambda value: -99 if rng.random() < 0.6 else -88)

    def positive(row, value):
        return has_integer(row, value) and value > 0

    plant_cells("amount_wan", spec.income_columns, positive,
                lambda value: people.amount_in_wan(rng, value))
    plant_cells("amount_text", spec.income_columns, positive,
                lambda value: people.amount_as_text(rng, value))
    plant_cells("monthly_annual", spec.income_columns, positive, lambda value: value * 12)
    plant_cells("fullwidth_digits", spec.integer_columns, has_integer,
                lambda value: people.fullwidth(str(value)))

    def id_damage(value):
        number = float(f"{float(value):.15g}")  # Excel keeps 15 significant digits
        return number if kind == "wjx" else f"{number:.5E}"

    plant_cells("id_scientific", ["id_card"], lambda row, value: str(value).isdigit(), id_damage)

    def zero_damage(value):
        return int(value) if kind == "wjx" else str(int(value))

    plant_cells("leading_zeros", ["village_code"],
                lambda row, value: isinstance(value, str) and value.startswith("0"), zero_damage)

    def date_damage(value):
        forms = [f"{value.year}/{value.month}/{value.day}",
                 f"{value.year}年{value.month}月{value.day}日"]
        if kind == "wjx":
            forms.append((value - EXCEL_EPOCH).days)
        return forms[int(rng.integers(0, len(forms)))]

    plant_cells("date_formats", ["interview_date"],
                lambda row, value: isinstance(value, dt.date), date_damage)


def _changed_answer(rng, value, column, spec):
    for columns, values in spec.straight_line_groups:
        if column in columns:
            options = [v for v in values if v != value]
            return int(options[int(rng.integers(0, len(options)))])
    if column in spec.income_columns:
        step = int(rng.integers(1, 6)) * 100
        return int(value) + step if value < step or rng.random() < 0.5 else int(value) - step
    step = int(rng.integers(1, 3))
    return int(value) + step if value < step or rng.random() < 0.5 else int(value) - step


def _resubmissions(frame, spec, rates, rng, clean, planted):
    candidates = np.flatnonzero(clean)
    planted.count_eligible("resubmission", len(candidates))
    chosen = candidates[rng.random(len(candidates)) < rates["resubmission"]]
    columns = [c for c in (*spec.item_columns, *spec.integer_columns, *spec.income_columns)
               if c in frame.columns]
    next_key = int(frame["_key"].max()) + 1
    copies = []
    for row in chosen:
        copy = frame.loc[row].copy()
        usable = [c for c in columns if isinstance(copy[c], int) and copy[c] >= 0]
        n_changes = min(int(rng.integers(1, 4)), len(usable))
        if n_changes == 0:
            continue
        shift = dt.timedelta(minutes=int(rng.integers(20, 240)))
        copy["start"] = copy["start"] - shift
        copy["end"] = copy["end"] - shift
        copy["_submitted"] = copy["_submitted"] - shift
        copy["today"] = copy["start"].date()
        copy["_uuid"] = _uuid_from(rng)
        copy["_key"] = next_key
        for index in sorted(rng.choice(len(usable), n_changes, replace=False)):
            column = usable[index]
            new = _changed_answer(rng, copy[column], column, spec)
            planted.add("resubmission", next_key, copy["_unit"], column, copy[column], new)
            copy[column] = new
        copies.append(copy)
        next_key += 1
    return _append(frame, copies)


def _append(frame, copies):
    if not copies:
        return frame
    extra = pd.DataFrame([copy.to_dict() for copy in copies], columns=frame.columns, dtype=object)
    combined = pd.concat([frame.astype(object), extra], ignore_index=True)
    return combined.where(combined.notna(), None)


def _uuid_from(rng):
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def _duplicates(frame, rates, rng, planted):
    originals = np.flatnonzero(frame["_dup_of"].to_numpy() == -1)
    planted.count_eligible("duplicate_exact", len(originals))
    chosen = originals[rng.random(len(originals)) < rates["duplicate_exact"]]
    next_key = int(frame["_key"].max()) + 1
    copies = []
    for row in chosen:
        copy = frame.loc[row].copy()
        copy["_dup_of"] = int(frame.at[row, "_key"])
        copy["_key"] = next_key
        planted.add("duplicate_exact", next_key, copy["_unit"])
        copies.append(copy)
        next_key += 1
    frame = _append(frame, copies)
    is_copy = frame["_dup_of"].to_numpy() != -1
    submitted = np.array(frame["_submitted"].to_list(), dtype="datetime64[us]")
    keys = frame["_key"].to_numpy()
    copy_position = {int(frame.at[p, "_dup_of"]): p for p in np.flatnonzero(is_copy)}
    order = []
    for position in np.lexsort((keys, submitted)):
        if is_copy[position]:
            continue
        order.append(position)
        if int(keys[position]) in copy_position:
            order.append(copy_position[int(keys[position])])
    return frame.iloc[order].reset_index(drop=True)
