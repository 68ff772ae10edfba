"""The enumerator dashboard and the ranking of enumerators whose answers differ from their peers.

This module owns the per-enumerator indicators (interviews per day, durations, don't-know,
refusal, "other" and missing rates, consent refusals, answers that skip logic hides, outliers,
straight-lining, GPS spread, hours of work) and the ranking statistic. It must not import
``estimate``, ``report`` or ``run``.

Ranking statistic
-----------------
For each enumerator *e* and each categorical or ordinal question *q* (``select_one`` questions,
and integer questions with at most 11 distinct values; identifiers, location, enumerator and
personal columns excluded, see ``ranking_exclude``), let *P* be the distribution of *e*'s answers
to *q* and *Q* the pooled distribution of every other enumerator's answers (missing codes such
as -99 count as answers; blanks do not). The distance is the Jensen-Shannon distance

    JS(P, Q) = sqrt( KL(P || M) / 2 + KL(Q || M) / 2 ),  M = (P + Q) / 2,  log base 2,

which lies in [0, 1]. ``distance`` is its mean over the questions *e* answered. Three components
are then standardised across enumerators (z = (x - mean) / standard deviation, population
standard deviation, 0 when every enumerator has the same value):

* ``distance_z``: z of the mean Jensen-Shannon distance;
* ``duration_z``: z of *minus* the mean of log(duration in seconds) over the enumerator's
  interviews (short is suspicious; the log makes a few very short interviews weigh more than
  a few long ones);
* ``straightlining_z``: z of the enumerator's straight-lining share: for each multi-item scale
  (a choice list shared by five or more questions, e.g. SDQ and WHO-5), the share of the
  enumerator's interviews that answer every item with the same value, averaged over scales
  with weights proportional to their number of items (straight-lining 25 SDQ items is
  stronger evidence than straight-lining 5 WHO-5 items).

``composite = (w_d distance_z + w_t duration_z + w_s straightlining_z) / (w_d + w_t + w_s)``
with the weights ``ranking_weights`` (1, 1, 1 by default). Enumerators are ranked by the
composite, highest first: the one at rank 1 is the first to back-check.

Examples
--------
>>> import numpy as np
>>> round(float(jensen_shannon(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]))[0]), 3)
1.0
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from doorstep.checks.config import CheckConfig
from doorstep.checks.prepare import Prepared, fold_text
from doorstep.instrument import Instrument

RANKING_COLUMNS = ("rank", "enumerator", "n_interviews", "distance", "mean_duration_minutes",
                   "straightlining_share", "distance_z", "duration_z", "straightlining_z",
                   "composite")
EARTH_RADIUS_KM = 6371.0


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Row-wise Jensen-Shannon distance (base 2) between two arrays of distributions.

    Examples
    --------
    >>> import numpy as np
    >>> float(jensen_shannon(np.array([[0.5, 0.5]]), np.array([[0.5, 0.5]]))[0])
    0.0
    """
    p = p / np.where(p.sum(axis=1, keepdims=True) > 0, p.sum(axis=1, keepdims=True), 1)
    q = q / np.where(q.sum(axis=1, keepdims=True) > 0, q.sum(axis=1, keepdims=True), 1)
    m = (p + q) / 2

    def kl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(a > 0, a * np.log2(a / np.where(b > 0, b, 1)), 0.0)
        return terms.sum(axis=1)

    divergence = np.clip(kl(p, m) / 2 + kl(q, m) / 2, 0, 1)
    return np.sqrt(divergence)


def default_scales(instrument: Instrument | None, columns, minimum_items: int = 5) -> dict:
    """Multi-item scales: choice lists shared by at least ``minimum_items`` select_one questions.

    Examples
    --------
    >>> default_scales(None, [])
    {}
    """
    if instrument is None:
        return {}
    scales: dict[str, list[str]] = {}
    for question in instrument.questions:
        if question.type == "select_one" and question.list_name and question.name in columns:
            scales.setdefault(question.list_name, []).append(question.name)
    return {name: tuple(items) for name, items in scales.items() if len(items) >= minimum_items}


def straightlining(answers: pd.DataFrame, scales: dict, codes) -> pd.DataFrame:
    """One boolean column per scale: every item answered (no code) with one and the same value.

    Examples
    --------
    >>> import pandas as pd
    >>> answers = pd.DataFrame({"a": ["1", "1"], "b": ["1", "2"], "c": ["1", "2"]})
    >>> straightlining(answers, {"s": ("a", "b", "c")}, ())["s"].tolist()
    [True, False]
    """
    result = {}
    for name, items in scales.items():
        items = [item for item in items if item in answers]
        if len(items) < 2:
            continue
        block = answers[items].astype(object)
        complete = block.notna().all(axis=1) & ~block.isin(list(codes)).any(axis=1)
        same = block.eq(block.iloc[:, 0], axis=0).all(axis=1)
        result[name] = (complete & same).astype(bool)
    return pd.DataFrame(result, index=answers.index)


def ranking_questions(prepared: Prepared, config: CheckConfig, answers: pd.DataFrame) -> list:
    """The categorical and ordinal questions the distance is averaged over.

    Examples
    --------
    >>> # see tests/test_checks.py::test_ranking_statistic_is_documented
    """
    exclude = set(config.ranking_exclude) if config.ranking_exclude is not None else {
        config.id_column, config.enumerator_column, config.village_column,
        config.township_column, "username", "deviceid", "interview_date"}
    exclude |= set(prepared.personal) | {prepared.enumerator_column}
    chosen = [q for q in prepared.categorical_questions if q not in exclude]
    codes = list(config.missing_codes)
    for name in prepared.numeric_questions:
        if name in exclude or name in chosen:
            continue
        values = answers[name]
        if values[~values.isin(codes).fillna(False)].nunique() <= 11:
            chosen.append(name)
    return chosen


def enumerator_distances(prepared: Prepared, answers: pd.DataFrame, questions: list
                         ) -> pd.DataFrame:
    """Jensen-Shannon distance of each enumerator's answers from everyone else's, per question.

    Returns a frame enumerator x question (NaN where the enumerator gave no answer).

    Examples
    --------
    >>> # see tests/test_checks.py::test_fabricator_ranks_first
    """
    enumerator_codes, names = pd.factorize(prepared.frame[prepared.enumerator_column]
                                           .astype(str), sort=True)
    columns = {}
    for name in questions:
        value_codes, levels = pd.factorize(answers[name], sort=True)
        known = value_codes >= 0
        if not known.any():
            continue
        own = np.zeros((len(names), len(levels)))
        np.add.at(own, (enumerator_codes[known], value_codes[known]), 1.0)
        others = own.sum(axis=0, keepdims=True) - own
        distance = jensen_shannon(own, others)
        distance[own.sum(axis=1) == 0] = np.nan
        columns[name] = distance
    return pd.DataFrame(columns, index=pd.Index(list(names), name="enumerator"))


def _z(values: pd.Series) -> pd.Series:
    spread = values.std(ddof=0)
    if not np.isfinite(spread) or spread == 0:
        return pd.Series(0.0, index=values.index)
    return (values - values.mean()) / spread


def rank_enumerators(distances: pd.DataFrame, dashboard: pd.DataFrame, config: CheckConfig
                     ) -> pd.DataFrame:
    """Combine distance, duration and straight-lining into the documented composite and rank.

    Examples
    --------
    >>> # see tests/test_checks.py::test_fabricator_ranks_first
    """
    table = pd.DataFrame(index=dashboard.index)
    table["n_interviews"] = dashboard["n_interviews"]
    table["distance"] = distances.mean(axis=1).reindex(table.index)
    table["mean_duration_minutes"] = dashboard["mean_duration_minutes"]
    table["straightlining_share"] = dashboard["straightlining_share"]
    table["distance_z"] = _z(table["distance"].fillna(table["distance"].mean()))
    log_duration = dashboard["log_duration_mean"]
    table["duration_z"] = _z(-log_duration.fillna(log_duration.mean()))
    table["straightlining_z"] = _z(table["straightlining_share"].fillna(0))
    weights = config.ranking_weights
    total = sum(weights.values()) or 1.0
    table["composite"] = (weights["distance"] * table["distance_z"]
                          + weights["duration"] * table["duration_z"]
                          + weights["straightlining"] * table["straightlining_z"]) / total
    table = table.reset_index(names="enumerator").sort_values(
        ["composite", "enumerator"], ascending=[False, True], ignore_index=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table[list(RANKING_COLUMNS)]


def _gps_spread(prepared: Prepared, config: CheckConfig) -> pd.Series:
    frame = prepared.frame
    if not config.gps_column or config.gps_column not in frame:
        return pd.Series(dtype=float)
    parts = fold_text(frame[config.gps_column]).str.split()
    latitude = pd.to_numeric(parts.str[0], errors="coerce")
    longitude = pd.to_numeric(parts.str[1], errors="coerce")
    enumerators = frame[prepared.enumerator_column]
    centre_lat = latitude.groupby(enumerators).transform("median")
    centre_lon = longitude.groupby(enumerators).transform("median")
    phi1, phi2 = np.radians(latitude), np.radians(centre_lat)
    d_phi, d_lambda = phi2 - phi1, np.radians(centre_lon - longitude)
    a = np.sin(d_phi / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(d_lambda / 2) ** 2
    distance = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a.clip(0, 1)))
    return distance.groupby(enumerators).median()


def enumerator_dashboard(prepared: Prepared, config: CheckConfig, *, answers: pd.DataFrame,
                         applicable: pd.DataFrame, durations: pd.DataFrame,
                         straight: pd.DataFrame, scales: dict, starts: pd.Series,
                         flags: pd.DataFrame, other_answers: pd.DataFrame
                         ) -> tuple[pd.DataFrame, dict]:
    """One row per enumerator with the dashboard indicators, and the time-pattern tables.

    Rates of don't-know (-99), refusal (-88) and "other" are shares of answered question cells;
    the missing rate is the share of applicable questions (``relevant`` true or absent) left
    blank; skip-logic and outlier shares are flags per interview and per numeric answer.

    Returns
    -------
    (dashboard, patterns)
        ``patterns`` holds ``per_day`` (enumerator x date counts) and ``by_hour``
        (enumerator x start hour counts).

    Examples
    --------
    >>> # see tests/test_checks.py::test_dashboard_indicators
    """
    frame = prepared.frame
    enumerators = frame[prepared.enumerator_column].astype(str)
    codes = config.missing_codes
    dont_know = [c for c, m in codes.items() if m == "dont_know"]
    refused = [c for c, m in codes.items() if m == "refused"]
    answered_cells = answers.notna()
    n_answered = answered_cells.sum(axis=1)
    per_interview = pd.DataFrame({
        "enumerator": enumerators,
        "answered": n_answered,
        "dont_know": answers.isin(dont_know).sum(axis=1),
        "refused": answers.isin(refused).sum(axis=1),
        "other": other_answers.sum(axis=1),
        "applicable": applicable.sum(axis=1),
        "blank": (applicable & ~answered_cells).sum(axis=1),
        "seconds": durations["seconds"],
        "straightlined": straight.any(axis=1) if not straight.empty else False,
        "day": starts.dt.date,
        "hour": starts.dt.hour,
    })
    if config.consent_column and config.consent_column in frame:
        consent = frame[config.consent_column].astype("string").str.strip()
        per_interview["consent_refused"] = consent.isin(
            list(config.consent_refused_values)).fillna(False)
    flag_counts = flags.groupby(["enumerator", "check"]).size().unstack(fill_value=0)
    grouped = per_interview.groupby("enumerator")
    dashboard = pd.DataFrame({
        "n_interviews": grouped.size(),
        "n_days": grouped["day"].nunique(),
    })
    dashboard["interviews_per_day"] = dashboard["n_interviews"] / dashboard["n_days"].replace(
        0, np.nan)
    minutes = per_interview["seconds"] / 60
    by_enumerator = minutes.groupby(per_interview["enumerator"])
    dashboard["mean_duration_minutes"] = by_enumerator.mean()
    dashboard["median_duration_minutes"] = by_enumerator.median()
    dashboard["p10_duration_minutes"] = by_enumerator.quantile(0.1)
    dashboard["p90_duration_minutes"] = by_enumerator.quantile(0.9)
    sums = grouped[["answered", "dont_know", "refused", "other", "applicable", "blank"]].sum()
    dashboard["dont_know_rate"] = sums["dont_know"] / sums["answered"].replace(0, np.nan)
    dashboard["refusal_rate"] = sums["refused"] / sums["answered"].replace(0, np.nan)
    dashboard["other_rate"] = sums["other"] / sums["answered"].replace(0, np.nan)
    dashboard["missing_rate"] = sums["blank"] / sums["applicable"].replace(0, np.nan)
    if "consent_refused" in per_interview:
        dashboard["consent_refusal_rate"] = grouped["consent_refused"].mean()
    n_numeric = answers[list(prepared.numeric_questions)].notna().groupby(enumerators).sum().sum(
        axis=1) if prepared.numeric_questions else pd.Series(0, index=dashboard.index)

    def flag_count(check: str) -> pd.Series:
        if check not in flag_counts:
            return pd.Series(0, index=dashboard.index)
        return flag_counts[check].reindex(dashboard.index, fill_value=0)

    dashboard["skip_violations_per_interview"] = (flag_count("skip_logic")
                                                  / dashboard["n_interviews"])
    dashboard["outlier_share"] = flag_count("outlier") / n_numeric.replace(0, np.nan)
    dashboard["short_share"] = ((flag_count("duration_short")
                                 + flag_count("duration_per_question"))
                                / dashboard["n_interviews"])
    dashboard["straightlining_share"] = 0.0
    total_items = sum(len(scales[name]) for name in straight.columns) or 1
    for scale in straight.columns:
        share = straight[scale].groupby(enumerators).mean()
        dashboard[f"straightlining_{scale}"] = share
        dashboard["straightlining_share"] += share * len(scales[scale]) / total_items
    dashboard["log_duration_mean"] = np.log(per_interview["seconds"].where(
        per_interview["seconds"] > 0)).groupby(per_interview["enumerator"]).mean()
    spread = _gps_spread(prepared, config)
    dashboard["gps_spread_km"] = spread.reindex(dashboard.index) if len(spread) else np.nan
    hours = per_interview["hour"]
    dashboard["share_outside_7_to_21"] = ((hours < 7) | (hours >= 21)).groupby(
        per_interview["enumerator"]).mean().where(hours.notna().groupby(
            per_interview["enumerator"]).any())
    dashboard.index.name = "enumerator"
    per_day = pd.crosstab(per_interview["enumerator"], per_interview["day"])
    by_hour = pd.crosstab(per_interview["enumerator"], hours.astype("Int64"))
    return dashboard, {"per_day": per_day, "by_hour": by_hour}
