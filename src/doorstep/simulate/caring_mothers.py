"""True data of the ``caring_mothers`` programme (caregiver pairing, staggered roll-out).

This module owns the county's villages, the children and caregivers, the roll-out cohorts, the
visit log, the potential outcomes Y(0) and Y(1) of every child in every round (built with common
random numbers, so that individual effects are exact) and the true answers of each survey round,
before any field problem is planted. It writes no file.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from scipy import stats

from doorstep.simulate import people
from doorstep.simulate.common import (
    age_on,
    device_ids,
    enumerator_per_village,
    interview_header,
    interview_times,
    ordinal,
    sdq_items,
    sdq_total,
    stratified_labels,
    stream,
    village_dates,
    village_frame,
)
from doorstep.simulate.instruments import ENUMERATORS

N_TOWNSHIPS = 6
VILLAGES_PER_TOWNSHIP = 10
ROUNDS = (1, 2, 3, 4)
ROUND_WINDOWS = {
    1: dt.date(2024, 3, 4),
    2: dt.date(2024, 9, 2),
    3: dt.date(2025, 3, 3),
    4: dt.date(2025, 9, 1),
}
WINDOW_DAYS = 24
COHORTS = (2, 3, 0)
SCORED_OUTCOMES = ("sdq_total", "ucla_total", "school_days_missed", "who5_score", "hh_income")
ACTIVITIES = ("companionship", "homework", "emotional", "safety", "resources")
CATEGORIES = ("orphan", "left_behind", "disabled", "low_income", "single_parent")

# True effects by exposure (rounds since start: 1, 2, 3) for an average child; each child's effect
# is this times a multiplier with mean one (visit dose, left-behind status, individual variation).
EFFECT_BY_EXPOSURE = {
    "sdq_total": (-1.0, -2.0, -2.5),
    "ucla_total": (-0.3, -0.45, -0.55),
    "school_days_missed": (-0.5, -0.7, -0.9),
    "who5_score": (4.0, 6.0, 8.0),
    "hh_income": (150.0, 200.0, 250.0),
}
# Change of each scale's expected score per unit of its latent variable, used to turn the
# effects above into latent shifts (calibrated by simulation).
SDQ_SLOPE = 10.4
UCLA_SLOPE = 1.75
WHO5_SLOPE = 22.5
LEFT_BEHIND_FACTOR = 1.5
MEAN_VISITS = 4.0
TREND = np.array([0.0, -0.05, -0.08, -0.12])


def _villages(seed: int, scale: float) -> pd.DataFrame:
    rng = stream(seed, "cm.villages")
    villages = village_frame(rng, N_TOWNSHIPS, max(1, round(VILLAGES_PER_TOWNSHIP * scale)))
    villages["cohort"] = stratified_labels(rng, villages["township"], COHORTS).astype(int)
    villages["enumerator"] = enumerator_per_village(rng, len(villages))
    return villages


def _children(seed: int, villages: pd.DataFrame) -> pd.DataFrame:
    rng = stream(seed, "cm.children")
    counts = rng.integers(20, 31, len(villages))
    village_index = np.repeat(np.arange(len(villages)), counts)
    n = len(village_index)
    child = pd.DataFrame({
        "child_id": [f"C{number:05d}" for number in rng.permutation(n) + 1],
        "village_code": villages["village_code"].to_numpy()[village_index],
        "township": villages["township"].to_numpy()[village_index],
        "cohort": villages["cohort"].to_numpy()[village_index],
    })
    migrant = rng.random(n) < 0.45
    child["migrant_household"] = migrant.astype(int)
    child["left_behind"] = migrant
    sex = np.where(rng.random(n) < 0.52, 1, 2)
    child["child_sex"] = sex
    baseline = ROUND_WINDOWS[1]
    child["child_birth"] = [
        baseline - dt.timedelta(days=int(days))
        for days in rng.integers(6 * 365 + 10, 16 * 365 + 300, n)
    ]
    flags = {
        "orphan": rng.random(n) < 0.05,
        "left_behind": migrant,
        "disabled": rng.random(n) < 0.08,
        "low_income": rng.random(n) < 0.4,
        "single_parent": rng.random(n) < 0.2,
    }
    none = ~np.any(np.column_stack(list(flags.values())), axis=1)
    flags["low_income"] = flags["low_income"] | none
    child["child_category"] = [
        " ".join(name for name in CATEGORIES if flags[name][index]) for index in range(n)
    ]
    relation_draw = rng.random(n)
    relation = np.where(
        migrant,
        np.select([relation_draw < 0.2, relation_draw < 0.3, relation_draw < 0.9], [1, 2, 3], 4),
        np.select([relation_draw < 0.55, relation_draw < 0.75, relation_draw < 0.95], [1, 2, 3], 4),
    )
    relation = np.where(flags["orphan"], np.where(relation_draw < 0.7, 3, 4), relation)
    child["caregiver_relation"] = relation
    child_age_years = np.array([(baseline - birth).days / 365.25 for birth in child["child_birth"]])
    caregiver_age = np.select(
        [relation <= 2, relation == 3],
        [child_age_years + rng.uniform(22, 36, n), rng.uniform(56, 78, n)],
        rng.uniform(30, 65, n),
    )
    caregiver_female = np.select(
        [relation == 1, relation == 2], [True, False], rng.random(n) < 0.7
    ).astype(bool)
    child["caregiver_female"] = caregiver_female
    child["caregiver_birth"] = [
        baseline - dt.timedelta(days=int(age * 365.25)) for age in caregiver_age
    ]
    child["household_size"] = np.clip(rng.poisson(2.6, n) + 2, 2, 9)
    child["school_enrolled"] = (rng.random(n) < 0.95).astype(int)
    child["visit_rate"] = rng.gamma(4.0, MEAN_VISITS / 4.0, n)
    child["effect_heterogeneity"] = np.exp(rng.normal(0, 0.2, n) - 0.02)
    child["child_name"] = [people.person_name(rng, s == 2) for s in sex]
    child["caregiver_name"] = [people.person_name(rng, bool(f)) for f in caregiver_female]
    child["id_card"] = [
        people.id_card(rng, birth, bool(female))
        for birth, female in zip(child["caregiver_birth"], caregiver_female, strict=True)
    ]
    for column, values in people.contact_details(rng, child["village_code"], villages).items():
        child[column] = values
    return child


def _attrition(seed: int, child: pd.DataFrame, rates: dict) -> np.ndarray:
    """Return the first round each child is missing (0 = never leaves)."""
    rng = stream(seed, "cm.attrition")
    n = len(child)
    probability = float(rates["attrition"]) * np.where(
        child["migrant_household"] == 1, float(rates["attrition_migrant_ratio"]), 1.0
    )
    left = np.zeros(n, dtype=int)
    for round_number in ROUNDS[1:]:
        draw = rng.random(n) < probability
        left = np.where((left == 0) & draw, round_number, left)
    return left


def _potential_outcomes(seed: int, child: pd.DataFrame, villages: pd.DataFrame,
                        attrited_from: np.ndarray) -> tuple[pd.DataFrame, dict]:
    rng = stream(seed, "cm.outcomes")
    n, rounds = len(child), len(ROUNDS)
    village_index = pd.Index(villages["village_code"]).get_indexer(child["village_code"])
    n_villages = len(villages)
    left_behind = child["left_behind"].to_numpy()
    cohort = child["cohort"].to_numpy()
    round_grid = np.tile(np.array(ROUNDS), (n, 1))
    exposure = np.where((cohort[:, None] > 0) & (round_grid >= cohort[:, None]),
                        round_grid - cohort[:, None] + 1, 0)
    visits = np.where(exposure > 0,
                      rng.poisson(np.tile(child["visit_rate"].to_numpy()[:, None], (1, rounds))), 0)
    dose = 0.5 + 0.5 * visits / MEAN_VISITS
    multiplier = (dose * np.where(left_behind, LEFT_BEHIND_FACTOR, 1.0)[:, None]
                  * child["effect_heterogeneity"].to_numpy()[:, None])
    multiplier /= 0.45 * LEFT_BEHIND_FACTOR + 0.55

    def effect(outcome):
        base = np.array((0.0, *EFFECT_BY_EXPOSURE[outcome]))
        return np.where(exposure > 0, base[np.minimum(exposure, 3)] * multiplier, 0.0)

    def latent(unit_sd, village_sd, noise_sd, extra=0.0):
        unit = rng.normal(0, unit_sd, n)[:, None] + extra
        village = rng.normal(0, village_sd, (n_villages, rounds))[village_index]
        return unit + TREND[None, :] + village + rng.normal(0, noise_sd, (n, rounds))

    difficulty = latent(0.33, 0.18, 0.25, extra=0.2 * left_behind[:, None])
    prosocial = -0.4 * difficulty + rng.normal(0, 0.8, (n, rounds))
    loneliness = 0.5 * difficulty + latent(0.6, 0.25, 0.4, extra=0.3 * left_behind[:, None])
    wellbeing = latent(0.6, 0.25, 0.4)
    difficulty_treated = difficulty + effect("sdq_total") / SDQ_SLOPE
    loneliness_treated = loneliness + effect("ucla_total") / UCLA_SLOPE
    wellbeing_treated = wellbeing + effect("who5_score") / WHO5_SLOPE

    sdq_noise = rng.normal(0, 1.0, (n, rounds, 25))
    ucla_noise = rng.normal(0, 0.8, (n, rounds, 3))
    who5_noise = rng.normal(0, 0.8, (n, rounds, 5))
    school_uniform = rng.random((n, rounds))
    days_rate = 1.6 * np.exp(0.35 * difficulty)
    days_rate_treated = np.maximum(days_rate + effect("school_days_missed"), 0.05)

    wage_level = np.where(rng.random(n) < 0.72, rng.lognormal(np.log(3200), 0.45, n), 0.0)
    business_level = np.where(rng.random(n) < 0.15, rng.lognormal(np.log(2500), 0.6, n), 0.0)
    farming_level = np.where(rng.random(n) < 0.45, rng.lognormal(np.log(700), 0.5, n), 0.0)
    low_income = child["child_category"].str.contains("low_income").to_numpy()
    transfer_level = rng.uniform(100, 500, n) + 400 * low_income
    growth = np.array([1.0, 1.02, 1.04, 1.06])
    village_income = np.exp(rng.normal(0, 0.08, (n_villages, rounds)))[village_index]

    def component(level, noise_sd):
        value = level[:, None] * growth[None, :] * village_income * np.exp(
            rng.normal(0, noise_sd, (n, rounds)))
        return np.round(value / 100) * 100

    wages = component(wage_level, 0.15)
    business = component(business_level, 0.25)
    farming = component(farming_level, 0.2)
    transfer_noise = np.exp(rng.normal(0, 0.1, (n, rounds)))
    transfers = np.round(transfer_level[:, None] * transfer_noise / 10) * 10
    transfers_treated = transfers + np.round(effect("hh_income") / 10) * 10

    items = {}
    for arm, d_latent, l_latent, w_latent, rate, transfer in (
        (0, difficulty, loneliness, wellbeing, days_rate, transfers),
        (1, difficulty_treated, loneliness_treated, wellbeing_treated, days_rate_treated,
         transfers_treated),
    ):
        flat_sdq = sdq_items(d_latent.ravel(), prosocial.ravel(), sdq_noise.reshape(n * rounds, 25))
        ucla = 1 + ordinal(l_latent[:, :, None] + ucla_noise, (0.0, 1.2)).reshape(n * rounds, 3)
        who5 = ordinal(w_latent[:, :, None] + who5_noise, (-2.0, -1.1, -0.3, 0.5, 1.5))
        days = stats.poisson.ppf(school_uniform, rate).astype(int)
        items[arm] = {
            "sdq": flat_sdq,
            "ucla": ucla,
            "who5": who5.reshape(n * rounds, 5),
            "school_days_missed": days.ravel(),
            "inc_transfers": transfer.ravel(),
        }

    panel = pd.DataFrame({
        "child_id": np.repeat(child["child_id"].to_numpy(), rounds),
        "village_code": np.repeat(child["village_code"].to_numpy(), rounds),
        "township": np.repeat(child["township"].to_numpy(), rounds),
        "cohort": np.repeat(cohort, rounds),
        "round": round_grid.ravel(),
        "exposure": exposure.ravel(),
        "treated": exposure.ravel() > 0,
        "visits": visits.ravel(),
        "left_behind": np.repeat(left_behind, rounds),
        "school_enrolled": np.repeat(child["school_enrolled"].to_numpy(), rounds),
    })
    panel["event_time"] = np.where(panel["cohort"] > 0, panel["round"] - panel["cohort"], np.nan)
    attrited = np.repeat(attrited_from, rounds)
    panel["observed"] = (attrited == 0) | (panel["round"].to_numpy() < attrited)
    panel["complete"] = np.repeat(attrited_from == 0, rounds)
    other_income = (wages + business + farming).ravel()
    for arm in (0, 1):
        suffix = f"_y{arm}"
        panel["sdq_total" + suffix] = sdq_total(items[arm]["sdq"])
        panel["ucla_total" + suffix] = items[arm]["ucla"].sum(axis=1)
        days = items[arm]["school_days_missed"].astype(float)
        panel["school_days_missed" + suffix] = np.where(panel["school_enrolled"] == 1, days,
                                                        np.nan)
        panel["who5_score" + suffix] = 4 * items[arm]["who5"].sum(axis=1)
        panel["hh_income" + suffix] = other_income + items[arm]["inc_transfers"]
    for outcome in SCORED_OUTCOMES:
        panel[outcome + "_effect"] = panel[outcome + "_y1"] - panel[outcome + "_y0"]
    answers = {
        "items": items,
        "inc_wages": wages.ravel(),
        "inc_business": business.ravel(),
        "inc_farming": farming.ravel(),
    }
    return panel, answers


def _visit_log(seed: int, child: pd.DataFrame, panel: pd.DataFrame) -> pd.DataFrame:
    rng = stream(seed, "cm.visits")
    volunteers = {}
    counter = 0
    for _, group in child[child["cohort"] > 0].groupby("village_code", sort=True):
        n_volunteers = max(1, int(np.ceil(len(group) / 8)))
        ids = []
        for _ in range(n_volunteers):
            counter += 1
            ids.append((f"V{counter:04d}", people.person_name(rng, True)))
        for position, child_id in enumerate(group["child_id"]):
            volunteers[child_id] = ids[position % n_volunteers]
    treated = panel[panel["treated"] & panel["observed"] & (panel["visits"] > 0)]
    records = []
    for row in treated.itertuples(index=False):
        period_start = ROUND_WINDOWS[row.round - 1] + dt.timedelta(days=WINDOW_DAYS + 4)
        period_days = (ROUND_WINDOWS[row.round] - period_start).days - 3
        volunteer_id, volunteer_name = volunteers[row.child_id]
        for offset in np.sort(rng.integers(0, period_days, int(row.visits))):
            chosen = [name for name in ACTIVITIES if rng.random() < 0.45] or ["companionship"]
            problem = int(rng.random() < 0.1)
            records.append({
                "volunteer_id": volunteer_id,
                "volunteer_name": volunteer_name,
                "child_id": row.child_id,
                "visit_date": (period_start + dt.timedelta(days=int(offset))).isoformat(),
                "activities": " ".join(chosen),
                "problem_found": problem,
                "referred": int(problem and rng.random() < 0.5),
            })
    log = pd.DataFrame(records).sort_values(["visit_date", "volunteer_id", "child_id"],
                                            kind="stable").reset_index(drop=True)
    log.insert(0, "visit_id", [f"VL{number:06d}" for number in range(1, len(log) + 1)])
    return log


def _round_frames(seed: int, child: pd.DataFrame, villages: pd.DataFrame, panel: pd.DataFrame,
                  answers: dict) -> dict[int, pd.DataFrame]:
    rng = stream(seed, "cm.rounds")
    devices = device_ids(rng, ENUMERATORS)
    frames = {}
    lookup = villages.set_index("village_code")
    for round_number in ROUNDS:
        index = np.flatnonzero(panel["round"].to_numpy() == round_number)
        rows = index[panel["observed"].to_numpy()[index]]
        child_rows = rows // len(ROUNDS)
        sub = child.iloc[child_rows]
        days = village_dates(rng, list(villages["village_code"]), ROUND_WINDOWS[round_number],
                             WINDOW_DAYS)
        dates = [days[code] + dt.timedelta(days=int(extra))
                 for code, extra in zip(sub["village_code"], rng.integers(0, 2, len(sub)),
                                        strict=True)]
        starts, ends, submitted = interview_times(rng, dates)
        enumerators = lookup.loc[sub["village_code"], "enumerator"].to_list()
        treated = panel["treated"].to_numpy()[rows]
        frame = {
            **interview_header(rng, sub, "child_id", (starts, ends, submitted), dates,
                               enumerators, devices),
            "child_name": sub["child_name"].to_list(),
            "child_age": [age_on(b, d) for b, d in zip(sub["child_birth"], dates, strict=True)],
            "child_sex": sub["child_sex"].astype(int).to_list(),
            "child_category": sub["child_category"].to_list(),
            "caregiver_name": sub["caregiver_name"].to_list(),
            "caregiver_relation": sub["caregiver_relation"].astype(int).to_list(),
            "caregiver_age": [age_on(b, d) for b, d in zip(sub["caregiver_birth"], dates,
                                                           strict=True)],
            "id_card": sub["id_card"].to_list(),
            "phone": sub["phone"].to_list(),
            "address": sub["address"].to_list(),
            "gps": [people.gps_point(rng, lat, lon) for lat, lon in
                    zip(sub["latitude"], sub["longitude"], strict=True)],
            "household_size": sub["household_size"].astype(int).to_list(),
            "migrant_household": sub["migrant_household"].astype(int).to_list(),
            "school_enrolled": sub["school_enrolled"].astype(int).to_list(),
        }

        def realised(key, column=None, _rows=rows, _treated=treated):
            control = answers["items"][0][key][_rows]
            treatment = answers["items"][1][key][_rows]
            if column is not None:
                control, treatment = control[:, column], treatment[:, column]
            return np.where(_treated, treatment, control)

        days_missed = realised("school_days_missed")
        frame["school_days_missed"] = [
            int(value) if enrolled == 1 else None
            for value, enrolled in zip(days_missed, frame["school_enrolled"], strict=True)
        ]
        for item in range(25):
            frame[f"sdq_{item + 1:02d}"] = realised("sdq", item).astype(int).tolist()
        for item in range(3):
            frame[f"ucla_{item + 1}"] = realised("ucla", item).astype(int).tolist()
        for item in range(5):
            frame[f"who5_{item + 1}"] = realised("who5", item).astype(int).tolist()
        for name in ("inc_wages", "inc_business", "inc_farming"):
            frame[name] = answers[name][rows].astype(int).tolist()
        frame["inc_transfers"] = realised("inc_transfers").astype(int).tolist()
        result = pd.DataFrame(frame, dtype=object)
        order = np.argsort(np.array(submitted, dtype="datetime64[us]"), kind="stable")
        frames[round_number] = result.iloc[order].reset_index(drop=True)
    return frames


def generate(seed: int, scale: float, rates: dict) -> dict:
    """Build every true frame of the programme (nothing written).

    Returns a dict with ``villages``, ``children``, ``panel`` (child x round with ``*_y0``,
    ``*_y1`` and ``*_effect`` columns of the scored outcomes), ``visit_log``, ``rollout`` and
    ``rounds`` (round number -> frame of true answers with metadata).

    Examples
    --------
    >>> from doorstep.simulate.rates import default_rates
    >>> frames = generate(1, 0.2, default_rates("caring_mothers"))
    >>> sorted(frames["rounds"])
    [1, 2, 3, 4]
    """
    villages = _villages(seed, scale)
    child = _children(seed, villages)
    attrited_from = _attrition(seed, child, rates)
    child["attrited_from_round"] = attrited_from
    panel, answers = _potential_outcomes(seed, child, villages, attrited_from)
    rounds = _round_frames(seed, child, villages, panel, answers)
    rollout = pd.DataFrame({
        "village_code": villages["village_code"],
        "township": villages["township"],
        "cohort": [str(c) if c else "" for c in villages["cohort"]],
    })
    return {
        "villages": villages,
        "children": child,
        "panel": panel,
        "visit_log": _visit_log(seed, child, panel),
        "rollout": rollout,
        "rounds": rounds,
    }


def true_effects(panel: pd.DataFrame) -> list[dict]:
    """Callaway-Sant'Anna style true effects from the potential outcomes.

    Computed over children observed in every round; ``school_days_missed`` over enrolled children.

    Examples
    --------
    >>> from doorstep.simulate.rates import default_rates
    >>> frames = generate(1, 0.2, default_rates("caring_mothers"))
    >>> {record["estimand"] for record in true_effects(frames["panel"])} >= {"att_simple"}
    True
    """
    complete = panel[panel["complete"] & (panel["cohort"] > 0)]
    records = []

    def add(outcome, estimand, frame, subgroup, group=None, time=None, event_time=None):
        values = frame[outcome + "_effect"].dropna()
        records.append({
            "outcome": outcome, "estimand": estimand,
            "value": float(values.mean()) if len(values) else None, "n": len(values),
            "group": group, "time": time, "event_time": event_time, "subgroup": subgroup,
        })

    for subgroup in (None, "left_behind"):
        frame = complete if subgroup is None else complete[complete["left_behind"]]
        for outcome in SCORED_OUTCOMES:
            for (group, time), cell in frame.groupby(["cohort", "round"], sort=True):
                add(outcome, "att_gt", cell, subgroup, group=int(group), time=int(time),
                    event_time=int(time - group))
            post = frame[frame["treated"]]
            add(outcome, "att_simple", post, subgroup)
            for event_time, cell in frame.groupby("event_time", sort=True):
                add(outcome, "att_dynamic", cell, subgroup, event_time=int(event_time))
            for group, cell in post.groupby("cohort", sort=True):
                add(outcome, "att_group", cell, subgroup, group=int(group))
    return records
