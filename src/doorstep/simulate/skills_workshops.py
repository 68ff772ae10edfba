"""True data of the ``skills_workshops`` programme (lottery with imperfect take-up, plus an
observational comparison).

This module owns the villages and their design (oversubscribed workshop allocated by lottery, or
an open course joined by choice), the women, applications, lottery results and attendance, the
potential outcomes under participation and non-participation (common random numbers) and the
true answers of the baseline and endline surveys, before any field problem is planted. It writes
no file.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from scipy import special, stats

from doorstep.simulate import people
from doorstep.simulate.common import (
    age_on,
    device_ids,
    enumerator_per_village,
    interview_header,
    interview_times,
    ordinal,
    stratified_labels,
    stream,
    village_dates,
    village_frame,
)
from doorstep.simulate.instruments import ENUMERATORS

N_TOWNSHIPS = 8
VILLAGES_PER_TOWNSHIP = 10
ROUNDS = (1, 2)
ROUND_WINDOWS = {1: dt.date(2024, 3, 4), 2: dt.date(2025, 3, 3)}
WINDOW_DAYS = 24
COURSES = ("baking", "local_food", "childcare", "domestic", "livestream")
SCORED_OUTCOMES = ("employed", "earnings_month", "hours_paid", "hours_unpaid", "hh_income",
                   "who5_score", "life_satisfaction")
EDUCATION_FACTOR = np.array([0.0, 1.5, 1.3, 1.0, 0.75, 0.6])
WHO5_SLOPE = 22.5


def _villages(seed: int, scale: float) -> pd.DataFrame:
    rng = stream(seed, "sw.villages")
    villages = village_frame(rng, N_TOWNSHIPS, max(1, round(VILLAGES_PER_TOWNSHIP * scale)))
    villages["design"] = stratified_labels(rng, villages["township"], ("lottery", "open"))
    villages["design"] = villages["design"].astype(str)
    villages["workshop_course"] = [COURSES[i] for i in rng.integers(0, len(COURSES),
                                                                    len(villages))]
    villages["enumerator"] = enumerator_per_village(rng, len(villages))
    return villages


def _women(seed: int, villages: pd.DataFrame) -> pd.DataFrame:
    rng = stream(seed, "sw.women")
    counts = rng.integers(40, 61, len(villages))
    village_index = np.repeat(np.arange(len(villages)), counts)
    n = len(village_index)
    women = pd.DataFrame({
        "woman_id": [f"W{number:05d}" for number in rng.permutation(n) + 1],
        "village_code": villages["village_code"].to_numpy()[village_index],
        "township": villages["township"].to_numpy()[village_index],
        "design": villages["design"].to_numpy()[village_index],
    })
    baseline = ROUND_WINDOWS[1]
    age_years = rng.uniform(18.2, 60.8, n)
    women["birth"] = [baseline - dt.timedelta(days=int(a * 365.25)) for a in age_years]
    education_score = 3.4 - 0.045 * (age_years - 35) + rng.normal(0, 0.9, n)
    women["education"] = np.clip(np.round(education_score), 1, 5).astype(int)
    women["married"] = (rng.random(n) < np.where(age_years < 25, 0.4, 0.88)).astype(int)
    young_mother = (age_years < 42) & (women["married"] == 1)
    women["n_children_under6"] = np.where(young_mother, np.minimum(rng.poisson(0.6, n), 3), 0)
    women["household_size"] = np.clip(2 + women["n_children_under6"] + rng.poisson(1.5, n), 1, 10)
    women["migrant_household"] = (rng.random(n) < 0.35).astype(int)
    women["heterogeneity"] = EDUCATION_FACTOR[women["education"]] * np.exp(
        rng.normal(0, 0.2, n) - 0.02)
    women["woman_name"] = [people.person_name(rng, True) for _ in range(n)]
    women["id_card"] = [people.id_card(rng, birth, True) for birth in women["birth"]]
    for column, values in people.contact_details(rng, women["village_code"], villages).items():
        women[column] = values
    return women


def _outcomes_and_assignment(seed: int, women: pd.DataFrame, rates: dict) -> pd.DataFrame:
    rng = stream(seed, "sw.outcomes")
    n = len(women)
    age = np.array([(ROUND_WINDOWS[1] - birth).days / 365.25 for birth in women["birth"]])
    education = women["education"].to_numpy()
    kids = women["n_children_under6"].to_numpy()
    h = women["heterogeneity"].to_numpy()
    propensity = special.expit(-0.1 + 0.35 * (education - 3) - 0.03 * (age - 35) - 0.5 * kids
                               + rng.normal(0, 0.6, n))
    z_baseline = rng.normal(0, 1, n)
    z_endline = 0.7 * z_baseline + np.sqrt(1 - 0.49) * rng.normal(0, 1, n)
    u_baseline, u_endline = stats.norm.cdf(z_baseline), stats.norm.cdf(z_endline)
    frame = women[["woman_id", "village_code", "township", "design"]].copy()
    frame["employed_baseline"] = (u_baseline < propensity).astype(int)
    employed0 = u_endline < np.minimum(propensity * 1.03, 0.97)
    employed1 = u_endline < np.minimum(propensity * 1.03 + 0.15 * h, 0.98)

    # assignment
    lottery = (frame["design"] == "lottery").to_numpy()
    apply_probability = special.expit(0.8 - 0.02 * (age - 35) - 0.4 * frame["employed_baseline"])
    applied = lottery & (rng.random(n) < apply_probability)
    won = np.zeros(n, dtype=bool)
    for _, index in frame[applied].groupby("village_code", sort=True).groups.items():
        positions = frame.index.get_indexer(index)
        winners = rng.permutation(positions)[: (len(positions) + int(rng.integers(0, 2))) // 2]
        won[winners] = True
    complier = rng.random(n) < 0.7
    join_probability = special.expit(-0.45 - 0.04 * (age - 35) + 0.35 * (education - 3)
                                     - 1.0 * frame["employed_baseline"])
    joined_open = ~lottery & (rng.random(n) < join_probability)
    participated = np.where(lottery, won & complier, joined_open)
    frame["applied"] = applied.astype(int)
    frame["won_lottery"] = won.astype(int)
    frame["complier"] = complier
    frame["participated"] = participated.astype(int)
    frame["sessions_attended"] = np.where(participated, rng.integers(3, 21, n),
                                          rng.integers(0, 3, n))

    wage = np.round(rng.lognormal(np.log(2800), 0.35, n) / 100) * 100
    gain = np.round(300 * h / 100) * 100
    frame["earnings_baseline"] = np.round(frame["employed_baseline"] * wage * 0.97 / 100) * 100
    earnings0 = employed0 * wage
    earnings1 = employed1 * (wage + gain)
    hours = rng.integers(25, 51, n)
    frame["hours_paid_baseline"] = frame["employed_baseline"] * np.clip(
        hours + rng.integers(-3, 4, n), 0, 80)
    hours_paid0 = employed0 * hours
    hours_paid1 = employed1 * (hours + np.round(3 * h))
    unpaid = np.clip(np.round(18 + 7 * kids + rng.normal(0, 6, (n, 2)).T), 2, 100)
    frame["hours_unpaid_baseline"] = unpaid[0]
    hours_unpaid0 = unpaid[1]
    hours_unpaid1 = np.maximum(unpaid[1] - np.round(3 * h), 0)

    married = women["married"].to_numpy()
    other_wages = np.where(married == 1, rng.lognormal(np.log(3500), 0.4, n), 0.0)
    other_wages = np.where(rng.random(n) < 0.8, other_wages, 0.0)
    business = np.where(rng.random(n) < 0.15, rng.lognormal(np.log(2500), 0.6, n), 0.0)
    farming = np.where(rng.random(n) < 0.4, rng.lognormal(np.log(700), 0.5, n), 0.0)
    transfers = rng.uniform(50, 400, n)
    for round_number, growth in ((1, 1.0), (2, 1.04)):
        noise = np.exp(rng.normal(0, 0.12, (4, n)))
        frame[f"other_wages_{round_number}"] = np.round(other_wages * growth * noise[0] / 100) * 100
        frame[f"inc_business_{round_number}"] = np.round(business * growth * noise[1] / 100) * 100
        frame[f"inc_farming_{round_number}"] = np.round(farming * growth * noise[2] / 100) * 100
        frame[f"inc_transfers_{round_number}"] = np.round(transfers * noise[3] / 10) * 10
    base_income = (frame["other_wages_2"] + frame["inc_business_2"] + frame["inc_farming_2"]
                   + frame["inc_transfers_2"]).to_numpy()

    wellbeing_unit = rng.normal(0, 0.55, n) + 0.15 * (education - 3)
    who5_noise = rng.normal(0, 0.8, (2, n, 5))
    wellbeing = wellbeing_unit[None, :] + rng.normal(0, 0.4, (2, n))
    cuts = (-2.0, -1.1, -0.3, 0.5, 1.5)
    frame["who5_items_baseline"] = list(ordinal(wellbeing[0][:, None] + who5_noise[0], cuts))
    who5_0 = ordinal(wellbeing[1][:, None] + who5_noise[1], cuts)
    who5_1 = ordinal((wellbeing[1] + 5 * h / WHO5_SLOPE)[:, None] + who5_noise[1], cuts)
    satisfaction_unit = rng.normal(6.3, 1.5, n)
    satisfaction = satisfaction_unit[None, :] + rng.normal(0, 0.8, (2, n))
    frame["life_satisfaction_baseline"] = np.clip(np.round(satisfaction[0]), 0, 10)
    life0 = np.clip(np.round(satisfaction[1]), 0, 10)
    life1 = np.clip(np.round(satisfaction[1] + 0.5 * h), 0, 10)

    frame["who5_items_0"] = list(who5_0)
    frame["who5_items_1"] = list(who5_1)
    arms = {
        0: (employed0, earnings0, hours_paid0, hours_unpaid0, who5_0, life0),
        1: (employed1, earnings1, hours_paid1, hours_unpaid1, who5_1, life1),
    }
    for arm, (employed, earnings, paid, unpaid_hours, who5, life) in arms.items():
        frame[f"employed_y{arm}"] = employed.astype(int)
        frame[f"earnings_month_y{arm}"] = earnings
        frame[f"hours_paid_y{arm}"] = paid
        frame[f"hours_unpaid_y{arm}"] = unpaid_hours
        frame[f"hh_income_y{arm}"] = base_income + earnings
        frame[f"who5_score_y{arm}"] = 4 * who5.sum(axis=1)
        frame[f"life_satisfaction_y{arm}"] = life
    for outcome in SCORED_OUTCOMES:
        frame[outcome + "_effect"] = frame[outcome + "_y1"] - frame[outcome + "_y0"]
    attrition = float(rates["attrition"]) * np.where(
        women["migrant_household"] == 1, float(rates["attrition_migrant_ratio"]), 1.0)
    frame["observed_endline"] = rng.random(n) >= attrition
    return frame


def _course_answers(rng, women, units, round_number, villages):
    course_of = villages.set_index("village_code")["workshop_course"]
    answers = []
    for row in units.itertuples(index=False):
        chosen = set()
        if round_number == 2 and row.participated:
            chosen.add(course_of[row.village_code])
            if rng.random() < 0.3:
                chosen.add(COURSES[int(rng.integers(0, len(COURSES)))])
        elif rng.random() < 0.08:
            chosen.add(COURSES[int(rng.integers(0, len(COURSES)))])
        answers.append(" ".join(course for course in COURSES if course in chosen) or None)
    return answers


def _round_frames(seed: int, women: pd.DataFrame, villages: pd.DataFrame,
                  units: pd.DataFrame) -> dict[int, pd.DataFrame]:
    rng = stream(seed, "sw.rounds")
    devices = device_ids(rng, ENUMERATORS)
    lookup = villages.set_index("village_code")
    frames = {}
    for round_number in ROUNDS:
        keep = np.ones(len(women), dtype=bool) if round_number == 1 else units[
            "observed_endline"].to_numpy()
        sub, unit = women[keep], units[keep]
        days = village_dates(rng, list(villages["village_code"]), ROUND_WINDOWS[round_number],
                             WINDOW_DAYS)
        dates = [days[code] + dt.timedelta(days=int(extra))
                 for code, extra in zip(sub["village_code"], rng.integers(0, 2, len(sub)),
                                        strict=True)]
        starts, ends, submitted = interview_times(rng, dates)
        enumerators = lookup.loc[sub["village_code"], "enumerator"].to_list()
        if round_number == 1:
            employed = unit["employed_baseline"].to_numpy()
            earnings = unit["earnings_baseline"].to_numpy()
            paid = unit["hours_paid_baseline"].to_numpy()
            unpaid = unit["hours_unpaid_baseline"].to_numpy()
            who5 = np.vstack(unit["who5_items_baseline"].to_list())
            life = unit["life_satisfaction_baseline"].to_numpy()
        else:
            d = unit["participated"].to_numpy() == 1

            def pick(name, _d=d, _unit=unit):
                return np.where(_d, _unit[name + "_y1"].to_numpy(), _unit[name + "_y0"].to_numpy())

            employed, earnings = pick("employed"), pick("earnings_month")
            paid, unpaid, life = pick("hours_paid"), pick("hours_unpaid"), pick("life_satisfaction")
            who5 = np.where(d[:, None], np.vstack(unit["who5_items_1"].to_list()),
                            np.vstack(unit["who5_items_0"].to_list()))
        frame = {
            **interview_header(rng, sub, "woman_id", (starts, ends, submitted), dates,
                               enumerators, devices),
            "woman_name": sub["woman_name"].to_list(),
            "age": [age_on(b, d) for b, d in zip(sub["birth"], dates, strict=True)],
            "education": sub["education"].astype(int).to_list(),
            "married": sub["married"].astype(int).to_list(),
            "n_children_under6": sub["n_children_under6"].astype(int).to_list(),
            "household_size": sub["household_size"].astype(int).to_list(),
            "migrant_household": sub["migrant_household"].astype(int).to_list(),
            "id_card": sub["id_card"].to_list(),
            "phone": sub["phone"].to_list(),
            "address": sub["address"].to_list(),
            "gps": [people.gps_point(rng, lat, lon) for lat, lon in
                    zip(sub["latitude"], sub["longitude"], strict=True)],
            "employed": employed.astype(int).tolist(),
            "earnings_month": [int(e) if w == 1 else None for e, w in
                               zip(earnings, employed, strict=True)],
            "hours_paid": paid.astype(int).tolist(),
            "hours_unpaid": unpaid.astype(int).tolist(),
            "courses_attended": _course_answers(rng, sub, unit, round_number, villages),
            "inc_wages": (unit[f"other_wages_{round_number}"].to_numpy() + earnings).astype(
                int).tolist(),
            "inc_business": unit[f"inc_business_{round_number}"].astype(int).to_list(),
            "inc_farming": unit[f"inc_farming_{round_number}"].astype(int).to_list(),
            "inc_transfers": unit[f"inc_transfers_{round_number}"].astype(int).to_list(),
        }
        for item in range(5):
            frame[f"who5_{item + 1}"] = who5[:, item].astype(int).tolist()
        frame["life_satisfaction"] = life.astype(int).tolist()
        result = pd.DataFrame(frame, dtype=object)
        order = np.argsort(np.array(submitted, dtype="datetime64[us]"), kind="stable")
        frames[round_number] = result.iloc[order].reset_index(drop=True)
    return frames


def generate(seed: int, scale: float, rates: dict) -> dict:
    """Build every true frame of the programme (nothing written).

    Returns a dict with ``villages``, ``women`` (covariates and personal data), ``units`` (one
    row per woman: assignment, compliance, ``*_y0``/``*_y1``/``*_effect`` at endline,
    ``observed_endline``), ``applicants``, ``attendance`` and ``rounds``.

    Examples
    --------
    >>> from doorstep.simulate.rates import default_rates
    >>> frames = generate(1, 0.2, default_rates("skills_workshops"))
    >>> sorted(frames["rounds"])
    [1, 2]
    """
    villages = _villages(seed, scale)
    women = _women(seed, villages)
    units = _outcomes_and_assignment(seed, women, rates)
    lottery = units["design"] == "lottery"
    applicants = pd.DataFrame({
        "woman_id": units["woman_id"],
        "village_code": units["village_code"],
        "applied": units["applied"],
        "won_lottery": [str(won) if applied else "" for won, applied in
                        zip(units["won_lottery"], units["applied"], strict=True)],
    }).sort_values("woman_id", kind="stable").reset_index(drop=True)
    offered = (lottery & (units["won_lottery"] == 1)) | (~lottery & (
        (units["participated"] == 1) | (units["sessions_attended"] > 0)))
    attendance = units.loc[offered, ["woman_id", "sessions_attended", "participated"]]
    attendance = attendance.sort_values("woman_id", kind="stable").reset_index(drop=True)
    rounds = _round_frames(seed, women, villages, units)
    return {
        "villages": villages,
        "women": women,
        "units": units,
        "applicants": applicants,
        "attendance": attendance,
        "rounds": rounds,
    }


def true_effects(units: pd.DataFrame) -> list[dict]:
    """ITT and LATE (lottery villages, applicants) and observational ATT (open villages).

    Computed over women observed at endline from the endline potential outcomes.

    Examples
    --------
    >>> from doorstep.simulate.rates import default_rates
    >>> frames = generate(1, 0.2, default_rates("skills_workshops"))
    >>> sorted({r["estimand"] for r in true_effects(frames["units"])})
    ['att_observational', 'itt', 'late']
    """
    observed = units[units["observed_endline"]]
    applicants = observed[(observed["design"] == "lottery") & (observed["applied"] == 1)]
    compliers = applicants[applicants["complier"]]
    participants = observed[(observed["design"] == "open") & (observed["participated"] == 1)]
    records = []
    for outcome in SCORED_OUTCOMES:
        effect = outcome + "_effect"
        itt = applicants[effect] * applicants["complier"]
        for estimand, values in (("itt", itt), ("late", compliers[effect]),
                                 ("att_observational", participants[effect])):
            records.append({
                "outcome": outcome, "estimand": estimand, "value": float(values.mean()),
                "n": len(values), "group": None, "time": 2, "event_time": None,
                "subgroup": None,
            })
    return records
