"""Review steps: outliers, straight-lining and panel links, as pure ``(frame, rule)`` steps.

This module owns the checks that judge a value against other values (of its group, of its
scale, of the unit's other rounds) rather than on its own: outliers by IQR, SD or MAD within
groups (flagged, or winsorised and logged), straight-lined multi-item scales (flagged), and
the linking of survey rounds by unit id with a fallback on name, age and village that is only
ever *reported* for review (``panel_links``); reviewed links come back through a links table
applied on every run. It must not import ``doorstep.estimate``, ``doorstep.report`` or
``doorstep.run``.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"inc": [100.0, 110.0, 95.0, 105.0, 5000.0]})
>>> flag_outliers(frame, OutlierRule("inc", method="iqr", threshold=3)).flags["row"].tolist()
[4]
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from doorstep.clean.steps import (
    StepResult,
    _entries,
    _render_series,
    _result,
)
from doorstep.clean.values import render_value
from doorstep.errors import ConfigError

__all__ = [
    "OUTLIER_ACTIONS",
    "OUTLIER_METHODS",
    "PANEL_LINK_COLUMNS",
    "LinksRule",
    "OutlierRule",
    "PanelRule",
    "StraightLineRule",
    "apply_panel_links",
    "flag_outliers",
    "flag_straight_lining",
    "flag_unmatched_units",
    "link_rounds",
]

OUTLIER_METHODS = ("iqr", "sd", "mad")
OUTLIER_ACTIONS = ("flag", "winsorise")
PANEL_LINK_COLUMNS = ("round", "row", "recorded_id", "candidate_id", "score", "id_distance",
                      "same_name", "age_consistent", "same_village", "status")


@dataclass(frozen=True)
class OutlierRule:
    """One variable's outlier rule: method, threshold, grouping columns and action.

    ``iqr``: outside [Q1 - t*IQR, Q3 + t*IQR]; ``sd``: more than t standard deviations from
    the mean; ``mad``: more than t scaled MADs (1.4826 * MAD) from the median. Groups with
    fewer than ``min_group`` values, or without spread (IQR, SD or MAD of 0), are not judged.
    """

    variable: str
    method: str = "iqr"
    threshold: float = 3.0
    by: tuple[str, ...] = ()
    action: str = "flag"
    min_group: int = 5


def _bounds(values: pd.Series, groups: list[pd.Series], rule: OutlierRule
            ) -> tuple[pd.Series, pd.Series]:
    grouped = values.groupby(groups, dropna=False) if groups else values.groupby(
        np.zeros(len(values)))
    count = grouped.transform("count")
    if rule.method == "iqr":
        low_q, high_q = grouped.transform(lambda v: v.quantile(0.25)), grouped.transform(
            lambda v: v.quantile(0.75))
        spread = high_q - low_q
        low, high = low_q - rule.threshold * spread, high_q + rule.threshold * spread
    elif rule.method == "sd":
        mean, spread = grouped.transform("mean"), grouped.transform("std")
        low, high = mean - rule.threshold * spread, mean + rule.threshold * spread
    else:
        median = grouped.transform("median")
        spread = (values - median).abs().groupby(groups if groups else np.zeros(len(values)),
                                                 dropna=False).transform("median") * 1.4826
        low, high = median - rule.threshold * spread, median + rule.threshold * spread
    # a group without spread (most answers 0) cannot be judged by a spread rule
    small = (count < rule.min_group) | ~(spread > 0)
    return low.mask(small), high.mask(small)


def flag_outliers(frame: pd.DataFrame, rule: OutlierRule) -> StepResult:
    """Flag (or winsorise to the bounds, logged) values far from the rest of their group.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"inc": [100.0, 110.0, 95.0, 105.0, 5000.0]})
    >>> rule = OutlierRule("inc", method="mad", threshold=5, action="winsorise")
    >>> flag_outliers(frame, rule).frame["inc"].tolist()[-1] < 5000
    True
    """
    if rule.method not in OUTLIER_METHODS or rule.action not in OUTLIER_ACTIONS:
        raise ConfigError(f"outliers, {rule.variable}: expected method in {OUTLIER_METHODS} and "
                          f"action in {OUTLIER_ACTIONS}, found {rule.method!r}, {rule.action!r}")
    missing_groups = [name for name in rule.by if name not in frame.columns]
    if rule.variable not in frame.columns or missing_groups:
        return _result(frame)
    values = pd.to_numeric(frame[rule.variable], errors="coerce").astype("float64")
    groups = [frame[name].astype(object) for name in rule.by]
    low, high = _bounds(values, groups, rule)
    below, above = (values < low).fillna(False), (values > high).fillna(False)
    outside = (below | above).to_numpy(dtype=bool)
    if not outside.any():
        return _result(frame)
    where = f" within {', '.join(rule.by)}" if rule.by else ""
    reasons = [f"outlier by {rule.method.upper()} (threshold {rule.threshold:g}){where}: "
               f"outside [{lo:.6g}, {hi:.6g}]" for lo, hi in
               zip(low[outside], high[outside], strict=True)]
    old = [render_value(v) for v in values[outside]]
    if rule.action == "flag":
        flags = [_entries(frame.index[outside], rule.variable, "outlier",
                          [f"{reason}; kept, check it" for reason in reasons], value=old)]
        return _result(frame, flags=flags)
    new = values.where(~below, low).where(~above, high)
    log = [_entries(frame.index[outside], rule.variable, "outlier_winsorised",
                    [f"{reason}; winsorised to the bound" for reason in reasons],
                    old_value=old, new_value=[render_value(v) for v in new[outside]])]
    return _result(frame.assign(**{rule.variable: new}), log)


@dataclass(frozen=True)
class StraightLineRule:
    """A multi-item scale and the rule that calls an answer pattern straight-lined.

    ``rule="identical"``: every answered item has the same value; ``rule="sd_below"``: the
    standard deviation of the answered items is below ``threshold``. Only rows with at least
    ``min_items`` answered items are judged.
    """

    scale: str
    items: tuple[str, ...]
    rule: str = "identical"
    threshold: float = 0.0
    min_items: int = 5


def flag_straight_lining(frame: pd.DataFrame, rule: StraightLineRule) -> StepResult:
    """Flag rows whose answers to a scale's items are (nearly) all the same.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"a": [1.0, 1.0], "b": [1.0, 2.0], "c": [1.0, 0.0]})
    >>> result = flag_straight_lining(frame, StraightLineRule("s", ("a", "b", "c"), min_items=3))
    >>> result.flags["row"].tolist()
    [0]
    """
    if rule.rule not in ("identical", "sd_below"):
        raise ConfigError(f"straight_lining, {rule.scale}, rule: expected 'identical' or "
                          f"'sd_below', found {rule.rule!r}")
    items = [name for name in rule.items if name in frame.columns]
    if len(items) < rule.min_items:
        return _result(frame)
    answers = frame[items].apply(pd.to_numeric, errors="coerce").to_numpy(dtype="float64")
    answered = np.isfinite(answers).sum(axis=1)
    with np.errstate(all="ignore"):
        spread = np.nanstd(answers, axis=1) if answers.size else np.zeros(len(frame))
    if rule.rule == "identical":
        hit = (np.nanmax(answers, axis=1, initial=-np.inf, where=np.isfinite(answers))
               == np.nanmin(answers, axis=1, initial=np.inf, where=np.isfinite(answers)))
        described = "all answered items identical"
    else:
        hit = spread < rule.threshold
        described = f"item standard deviation below {rule.threshold:g}"
    hit = hit & (answered >= rule.min_items)
    if not hit.any():
        return _result(frame)
    reasons = [f"straight-lining in {rule.scale}: {described} across {count} items; check the "
               "interview" for count in answered[hit]]
    values = [render_value(row[np.isfinite(row)][0]) for row in answers[hit]]
    return _result(frame, flags=[_entries(frame.index[hit], rule.scale, "straight_lining",
                                          reasons, value=values)])


@dataclass(frozen=True)
class PanelRule:
    """Columns for linking rounds: unit id, round, and the fallback's name, age and village."""

    unit_id: str
    round_column: str = "round"
    name: str | None = None
    age: str | None = None
    village: str | None = None
    max_age_gap: float = 2.0
    min_score: float = 0.7


def _digest(value: object) -> str | None:
    text = render_value(value)
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def _by_label(frame: pd.DataFrame, column: str, labels: list, function) -> dict:
    """``function`` of the cell of ``column`` in each row of ``labels``, by row label."""
    values = frame[column].loc[labels].astype(object)
    return dict(zip(labels, map(function, values.to_numpy()), strict=True))


def _ages(frame: pd.DataFrame, column: str, labels: list) -> dict:
    """Ages as finite numbers (None otherwise, as ``pd.to_numeric(..., errors="coerce")``
    reads them), by row label."""
    numbers = pd.to_numeric(frame[column].loc[labels].astype(object), errors="coerce")
    numbers = numbers.astype("float64").to_numpy()
    return {label: float(number) if math.isfinite(number) else None
            for label, number in zip(labels, numbers, strict=True)}


def _id_distance(first: str, second: str) -> int:
    if len(first) != len(second):
        return max(len(first), len(second))
    return sum(a != b for a, b in zip(first, second, strict=True))


def link_rounds(frame: pd.DataFrame, rule: PanelRule, *, max_candidates: int = 3
                ) -> pd.DataFrame:
    """Candidate links for rows whose unit id is seen in no other round (the review frame).

    A follow-up row whose id appears in no other round is either a new unit or a mistyped id.
    Candidates are the units seen in other rounds but missing from this row's round; each is
    scored 0-1: 0.4 when the ids differ by one character, 0.3 for the same (hashed) name, 0.15
    for a consistent age, 0.15 for the same village. Nothing is applied: reviewed links go into
    a links table (see :func:`apply_panel_links`).

    Returns
    -------
    pandas.DataFrame
        ``round, row, recorded_id, candidate_id, score, id_distance, same_name,
        age_consistent, same_village, status`` (status ``candidate`` or ``no_candidate``).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"id": ["C001", "C002", "C001", "C902"], "round": [1, 1, 2, 2]})
    >>> links = link_rounds(frame, PanelRule("id"))
    >>> links[["recorded_id", "candidate_id", "score"]].values.tolist()
    [['C902', 'C002', 0.4]]
    """
    columns = list(PANEL_LINK_COLUMNS)
    if rule.unit_id not in frame.columns or rule.round_column not in frame.columns:
        return pd.DataFrame(columns=columns)
    ids = _render_series(frame[rule.unit_id])
    rounds = _render_series(frame[rule.round_column])
    known = ids.notna() & rounds.notna()
    if rounds[known].nunique() < 2:
        return pd.DataFrame(columns=columns)
    seen = pd.DataFrame({"id": ids[known], "round": rounds[known]})
    rounds_of: dict[str, set] = seen.groupby("id")["round"].agg(set).to_dict()
    first_round = min(seen["round"], key=lambda r: (parse_float(r), r))
    in_one_round = seen.groupby("id")["round"].transform("nunique").to_numpy() == 1
    lonely = seen.index[in_one_round & (seen["round"] != first_round).to_numpy()].tolist()
    # Only a candidate that can score 0.3 is kept: ids one character apart (0.4), the same
    # name (0.3), or the same village with a consistent age (0.15 + 0.15). Index the units by
    # those keys once, so each lonely row is compared with its few possible matches instead of
    # every unit (which made this step cubic in the number of rows).
    last_row: dict[str, object] = {}
    for label, unit in zip(seen.index, seen["id"], strict=True):
        last_row[unit] = label
    use_name = bool(rule.name and rule.name in frame.columns)
    use_age = bool(rule.age and rule.age in frame.columns)
    use_village = bool(rule.village and rule.village in frame.columns)
    needed = list({*lonely, *last_row.values()})
    name_of = _by_label(frame, rule.name, needed, _digest) if use_name else {}
    age_of = _ages(frame, rule.age, needed) if use_age else {}
    village_of = _by_label(frame, rule.village, needed, render_value) if use_village else {}
    by_name: dict[str, list[str]] = {}
    by_place: dict[tuple, list[str]] = {}
    by_mask: dict[tuple, list[str]] = {}
    for unit, label in last_row.items():
        if use_name and name_of[label] is not None:
            by_name.setdefault(name_of[label], []).append(unit)
        if use_village and use_age and age_of[label] is not None:
            by_place.setdefault((village_of[label], math.floor(age_of[label])), []).append(unit)
        for position in range(len(unit)):
            by_mask.setdefault((len(unit), position, unit[:position], unit[position + 1:]),
                               []).append(unit)
    reach = math.ceil(rule.max_age_gap) + 1
    records = []
    for label in lonely:
        this_round, recorded = seen.at[label, "round"], seen.at[label, "id"]
        possible: set[str] = set()
        if use_name and name_of[label] is not None:
            possible.update(by_name.get(name_of[label], ()))
        if use_village and use_age and age_of[label] is not None:
            floor = math.floor(age_of[label])
            for year in range(floor - reach, floor + reach + 1):
                possible.update(by_place.get((village_of[label], year), ()))
        for position in range(len(recorded)):
            possible.update(by_mask.get((len(recorded), position, recorded[:position],
                                         recorded[position + 1:]), ()))
        candidates = [unit for unit in possible
                      if this_round not in rounds_of[unit] and unit != recorded]
        scored = []
        for unit in candidates:
            other = last_row[unit]
            distance = _id_distance(recorded, unit)
            same_name = bool(use_name and name_of[label] is not None
                             and name_of[label] == name_of[other])
            age_ok = bool(use_age and age_of[label] is not None and age_of[other] is not None
                          and abs(age_of[label] - age_of[other]) <= rule.max_age_gap)
            same_village = bool(use_village and village_of[label] == village_of[other])
            score = (0.4 * (distance == 1) + 0.3 * same_name + 0.15 * age_ok
                     + 0.15 * same_village)
            if score >= 0.3:
                scored.append((round(score, 2), distance, unit, same_name, age_ok, same_village))
        scored.sort(key=lambda item: (-item[0], item[1], item[2]))
        if not scored:
            records.append({"round": this_round, "row": label, "recorded_id": recorded,
                            "candidate_id": None, "score": 0.0, "id_distance": None,
                            "same_name": False, "age_consistent": False, "same_village": False,
                            "status": "no_candidate"})
        for score, distance, unit, same_name, age_ok, same_village in scored[:max_candidates]:
            records.append({"round": this_round, "row": label, "recorded_id": recorded,
                            "candidate_id": unit, "score": score, "id_distance": distance,
                            "same_name": same_name, "age_consistent": age_ok,
                            "same_village": same_village, "status": "candidate"})
    return pd.DataFrame.from_records(records, columns=columns)


def parse_float(text: object) -> float:
    """A round label as a number for ordering (inf when it is not one)."""
    try:
        return float(str(text))
    except ValueError:
        return float("inf")


def flag_unmatched_units(frame: pd.DataFrame, rule: PanelRule) -> StepResult:
    """Flag follow-up rows whose unit id appears in no other round, naming the best candidate.

    A row whose best candidate scores at least ``rule.min_score`` (by default: one character
    off and the same name, or same name, age and village) is flagged ``panel_unmatched``
    (likely a mistyped id); the others ``panel_new_unit``. Nothing is changed.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"id": ["C001", "C002", "C001", "C902"], "round": [1, 1, 2, 2]})
    >>> flag_unmatched_units(frame, PanelRule("id")).flags["rule"].tolist()
    ['panel_new_unit']
    """
    links = link_rounds(frame, rule)
    if links.empty:
        return _result(frame)
    best = links.drop_duplicates("row", keep="first")
    likely = (best["score"] >= rule.min_score).to_numpy(dtype=bool)
    flags = []
    for rule_name, chosen, wording in (
            ("panel_unmatched", likely, "likely a mistyped id of {candidate} (score {score:g}); "
             "review it in panel_links and record the decision in the links table"),
            ("panel_new_unit", ~likely, "no convincing match in other rounds; a new unit, or an "
             "id to check (see panel_links)")):
        if not chosen.any():
            continue
        picked = best[chosen]
        reasons = [f"unit id {recorded} appears in no other round; "
                   + wording.format(candidate=candidate, score=score)
                   for recorded, candidate, score in zip(
                       picked["recorded_id"], picked["candidate_id"], picked["score"],
                       strict=True)]
        flags.append(_entries(picked["row"].to_numpy(), rule.unit_id, rule_name, reasons,
                              value=picked["recorded_id"].to_numpy()))
    return _result(frame, flags=flags)


@dataclass(frozen=True)
class LinksRule:
    """Reviewed panel links: (round, recorded id) -> the unit id it should carry."""

    unit_id: str
    round_column: str
    links: Mapping[tuple[str, str], tuple[str, str]]  # -> (linked id, who/why)


def apply_panel_links(frame: pd.DataFrame, rule: LinksRule) -> StepResult:
    """Give rows the unit id a reviewer linked them to (rule ``panel_link``, logged).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"id": ["C902"], "round": [2]})
    >>> rule = LinksRule("id", "round", {("2", "C902"): ("C002", "AB: same child")})
    >>> apply_panel_links(frame, rule).frame["id"].tolist()
    ['C002']
    """
    if not rule.links or rule.unit_id not in frame.columns:
        return _result(frame)
    ids = _render_series(frame[rule.unit_id])
    rounds = (_render_series(frame[rule.round_column]) if rule.round_column in frame.columns
              else pd.Series(None, index=frame.index, dtype=object))
    keys = list(zip(rounds.fillna(""), ids.fillna(""), strict=True))
    hits = np.array([key in rule.links for key in keys], dtype=bool)
    if not hits.any():
        return _result(frame)
    linked = [rule.links[key] for key, hit in zip(keys, hits, strict=True) if hit]
    column = frame[rule.unit_id].astype(object).copy()
    column[hits] = [unit for unit, _ in linked]
    like = frame[rule.unit_id]
    new = column.astype(like.dtype) if pd.api.types.is_string_dtype(like) else column
    log = [_entries(frame.index[hits], rule.unit_id, "panel_link",
                    [f"linked by review to unit {unit} ({why})" for unit, why in linked],
                    old_value=ids[hits].to_numpy(), new_value=[unit for unit, _ in linked])]
    return _result(frame.assign(**{rule.unit_id: new}), log)
