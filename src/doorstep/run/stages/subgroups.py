"""Subgroups, dose and cost (``04_report``): effects by subgroup and by band of dose.

Owns :func:`subgroup_effects` (the forest plot's effects by level of each configured subgroup,
with a test of equality), :func:`dose_response` (effects by band of home visits or sessions,
descriptive) and their helpers :func:`subgroup_levels` and :func:`dose_bands`; the figures and
the cost-effectiveness table are drawn by :mod:`doorstep.report.forest` and
:mod:`doorstep.report.cost`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from doorstep import estimate
from doorstep.config import EvaluationConfig
from doorstep.errors import DataError, EstimationError
from doorstep.estimate.result import wald_test
from doorstep.io import read_table
from doorstep.report.i18n import text
from doorstep.run.stages.common import TIME, applicants, lottery_itt

SUBGROUP_COLUMNS = (
    "outcome", "subgroup", "subgroup_label", "level", "level_label", "n_units", "estimator",
    "estimate",
    "std_error", "p_value", "conf_low", "conf_high", "n_obs", "n_clusters", "equality_statistic",
    "equality_df", "equality_p_value", "equality_test", "note",
)
DOSE_COLUMNS = (
    "outcome", "band", "band_label", "dose_low", "dose_high", "mean_dose", "n_units",
    "estimator", "estimate", "std_error", "p_value", "conf_low", "conf_high", "n_obs",
    "n_clusters", "note",
)
OVERALL = "overall"


def _number_text(value: float) -> str:
    return f"{value:g}"


def subgroup_levels(spec: dict, values: pd.Series, language: str = "en") -> tuple[pd.Series,
                                                                                    dict]:
    """Each unit's level of one configured subgroup, and the levels' labels in order.

    ``bins`` edges give levels ``[a, b)`` (the last bin closed); ``levels`` map values to
    labels (values not listed are left out); otherwise every distinct value is a level.

    Examples
    --------
    >>> codes, names = subgroup_levels({"column": "age", "bins": [6, 12, 19]},
    ...                                pd.Series([6, 11, 12, 19, 20]))
    >>> codes.tolist(), names
    ([0, 0, 1, 1, None], {0: '[6, 12)', 1: '[12, 19]'})
    """
    numbers = pd.to_numeric(values, errors="coerce")
    if "bins" in spec:
        edges = spec["bins"]
        codes = [None if pd.isna(v) or v < edges[0] or v > edges[-1] else
                 min(int(np.searchsorted(edges, v, side="right")) - 1, len(edges) - 2)
                 for v in numbers]
        names = {k: f"[{_number_text(edges[k])}, {_number_text(edges[k + 1])}"
                    f"{']' if k == len(edges) - 2 else ')'}" for k in range(len(edges) - 1)}
        return pd.Series(codes, index=values.index, dtype=object), names
    if "levels" in spec:
        keys = list(spec["levels"])
        lookup = {}
        for position, key in enumerate(keys):
            lookup[str(key)] = position
            number = pd.to_numeric(pd.Series([key]), errors="coerce").iloc[0]
            if pd.notna(number):
                lookup[float(number)] = position
        codes = [lookup.get(float(n)) if pd.notna(n) else lookup.get(str(v)) if pd.notna(v)
                 else None for v, n in zip(values, numbers, strict=True)]
        names = {position: spec["levels"][key][language] for position, key in enumerate(keys)}
        return pd.Series(codes, index=values.index, dtype=object), names
    present = sorted(values.dropna().unique(), key=lambda v: (str(type(v)), v))
    names = {position: (_number_text(v) if isinstance(v, int | float | np.number) else str(v))
             for position, v in enumerate(present)}
    codes = values.map({v: position for position, v in enumerate(present)})
    return codes.astype(object).where(codes.notna(), None), names


def _unit_values(config: EvaluationConfig, analysis: pd.DataFrame, column: str) -> pd.Series:
    """One value of ``column`` per unit: its value in the unit's first observed round."""
    if column not in analysis.columns:
        raise DataError(f"analysis data: subgroup column {column!r} not found; expected one of "
                        f"the analysis columns (e.g. {sorted(analysis.columns)[:8]}...)")
    if TIME in analysis.columns and analysis[config.unit].duplicated().any():
        first = analysis.sort_values(TIME, kind="stable").drop_duplicates(config.unit)
    else:
        first = analysis
    return first.set_index(config.unit)[column]


def _balanced_units(config: EvaluationConfig, panel: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """The rows of the units :func:`estimate.staggered_did` keeps (complete panel, not treated
    in the first round), so that its units are exactly these, in sorted order."""
    wide = panel.pivot(index=config.unit, columns=TIME, values=outcome)
    info = panel.groupby(config.unit)[["cohort", config.cluster]].first().reindex(wide.index)
    keep = wide.notna().all(axis=1) & info["cohort"].notna() & info[config.cluster].notna()
    keep &= ~((info["cohort"] > 0) & (info["cohort"] <= wide.columns.min()))
    return panel[panel[config.unit].isin(wide.index[keep])]


def _staggered_fit(config: EvaluationConfig, panel: pd.DataFrame, outcome: str,
                   seed: int) -> tuple[estimate.EstimationResult, pd.Series]:
    """Simple ATT on the balanced units of ``panel`` and each village's share of its influence
    function (:meth:`doorstep.estimate.StaggeredResult.cluster_scores`)."""
    fit = estimate.staggered_did(_balanced_units(config, panel, outcome), outcome,
                                 unit=config.unit, time=TIME, cohort="cohort",
                                 control_group="never", cluster=config.cluster,
                                 bootstrap_reps=0, seed=seed)
    return fit.aggregate("simple"), fit.cluster_scores("simple")


def _row(result: estimate.EstimationResult) -> dict:
    tidy = result.tidy().iloc[0]
    return {key: tidy[key] for key in ("estimator", "estimate", "std_error", "p_value",
                                       "conf_low", "conf_high", "n_obs", "n_clusters")}


def subgroup_effects(config: EvaluationConfig, analysis: pd.DataFrame,
                     seed: int = 20240301) -> pd.DataFrame:
    """Headline effects within each level of every configured subgroup, and a test of equality.

    Subgroups are baseline characteristics (a unit's value in its first round). Each level's
    effect uses the design's primary estimator on the units of that level:

    - staggered roll-out: the Callaway-Sant'Anna simple ATT against never-treated villages
      (as :func:`estimate_effects`). Levels share villages, so their estimates are correlated
      through village shocks and a Wald test that treats them as independent would be wrong.
      The test stacks the levels' influence functions (each unit contributes to its own level's
      function only), sums them within villages and takes ``V = S'S`` over villages as the
      joint covariance, which is each estimate's clustered variance on the diagonal and the
      covariance through shared villages off it; the Wald chi2 test of ``effect_k - effect_1 =
      0`` (k > 1) uses that V.
    - lottery: the ANCOVA ITT (winning, baseline outcome, village fixed effects) among the
      applicants of each level; the equality test is the interaction test of
      :func:`doorstep.estimate.heterogeneity` (one regression with an effect per level, a
      common baseline slope, village fixed effects), F with the cluster degrees of freedom.

    Returns a tidy frame, columns :data:`SUBGROUP_COLUMNS`; each outcome also has an
    ``overall`` row (all units). A level whose effect cannot be estimated has a ``note``.

    Examples
    --------
    >>> effects = subgroup_effects(config, analysis, seed=1)  # doctest: +SKIP
    """
    rows = []
    for outcome in dict.fromkeys(config.headline.values()):
        if config.design == "staggered_rollout":
            overall, _ = _staggered_fit(config, analysis, outcome, seed)
        else:
            overall = lottery_itt(config, applicants(analysis), outcome)
        units = analysis if config.design == "staggered_rollout" else applicants(analysis)
        rows.append({"outcome": outcome, "subgroup": OVERALL,
                     "subgroup_label": text("subgroup_overall", config.language),
                     "level": OVERALL, "level_label": text("subgroup_overall", config.language),
                     "n_units": int(units[config.unit].nunique()), **_row(overall),
                     "note": ""})
        for spec in config.subgroups:
            rows += _subgroup_rows(config, analysis, outcome, spec, seed)
    return pd.DataFrame(rows, columns=list(SUBGROUP_COLUMNS))


def _subgroup_rows(config: EvaluationConfig, analysis: pd.DataFrame, outcome: str,
                   spec: dict, seed: int) -> list[dict]:
    column = spec["column"]
    values = _unit_values(config, analysis, column)
    codes, names = subgroup_levels(spec, values, config.language)
    level_of = analysis[config.unit].map(codes)
    rows, estimates, sums = [], {}, {}
    for level, name in names.items():
        part = analysis[level_of == level]
        if config.design != "staggered_rollout":
            part = applicants(part)
        base = {"outcome": outcome, "subgroup": column,
                "subgroup_label": spec["label"][config.language], "level": level,
                "level_label": name,
                "n_units": int(part[config.unit].nunique()), "note": ""}
        try:
            if config.design == "staggered_rollout":
                result, sums[level] = _staggered_fit(config, part, outcome, seed)
            else:
                result = lottery_itt(config, part, outcome)
        except (EstimationError, ValueError) as error:
            rows.append({**base, "note": f"not estimable: {error}"})
            continue
        estimates[level] = result.estimate
        rows.append({**base, **_row(result)})
    test = _equality_test(config, analysis, outcome, level_of, estimates, sums)
    for row in rows:
        row.update(test)
    return rows


def _equality_test(config: EvaluationConfig, analysis: pd.DataFrame, outcome: str,
                   level_of: pd.Series, estimates: dict, sums: dict) -> dict:
    empty = {"equality_statistic": np.nan, "equality_df": np.nan, "equality_p_value": np.nan,
             "equality_test": "not possible: fewer than two levels estimated"}
    if len(estimates) < 2:
        return empty
    if config.design == "staggered_rollout":
        levels = list(estimates)
        matrix = pd.concat([sums[level] for level in levels], axis=1).fillna(0.0).to_numpy()
        covariance = matrix.T @ matrix
        contrast = np.zeros((len(levels) - 1, len(levels)))
        contrast[:, 0] = -1.0
        contrast[np.arange(len(levels) - 1), np.arange(1, len(levels))] = 1.0
        values = np.array([estimates[level] for level in levels])
        wald = wald_test(contrast @ values, contrast @ covariance @ contrast.T, df_denom=None)
        kind = "Wald chi2, stacked influence functions clustered by " + config.cluster
    else:
        sample = applicants(analysis.assign(__level=level_of))
        sample = sample.dropna(subset=[outcome, f"{outcome}_baseline", "__level"])
        sample = sample[sample["__level"].isin(list(estimates))]
        try:
            fit = estimate.heterogeneity(sample.assign(__level=sample["__level"].astype(int)),
                                         outcome, "won_lottery", "__level",
                                         covariates=[f"{outcome}_baseline"],
                                         strata=config.cluster, cluster=config.cluster)
        except EstimationError as error:
            return {**empty, "equality_test": f"not possible: {error}"}
        wald = fit.extras["equality_test"]
        kind = f"Wald {wald.distribution}, interaction (heterogeneity) clustered by " + \
            config.cluster
    return {"equality_statistic": wald.statistic, "equality_df": wald.df_num,
            "equality_p_value": wald.p_value, "equality_test": kind}


def _dose_by_unit(config: EvaluationConfig, analysis: pd.DataFrame) -> pd.Series:
    """Each unit's dose from the configured file: rows (or the count column) per unit; with a
    ``date`` column, only rows dated on or before the unit's last interview date."""
    spec = config.dose
    records, _ = read_table(spec["path"])
    source = Path(spec["path"]).name
    needed = [spec["unit"]] + ([spec["count"]] if spec["count"] != "rows" else []) + (
        [spec["date"]] if spec.get("date") else [])
    missing = [name for name in needed if name not in records.columns]
    if missing:
        raise DataError(f"{source}: columns {missing} (from the config's dose section) not "
                        f"found; the file has {list(records.columns)}")
    if spec.get("date"):
        if "interview_date" not in analysis.columns:
            raise DataError(f"{source}: dose.date is set but the analysis data has no "
                            "'interview_date' column to count visits up to")
        dates = pd.to_datetime(records[spec["date"]], errors="coerce")
        if dates.isna().any():
            first = records.loc[dates.isna(), spec["date"]].iloc[0]
            raise DataError(f"{source}: column {spec['date']!r}: expected dates, found "
                            f"{first!r} ({int(dates.isna().sum())} rows)")
        last = pd.to_datetime(analysis.groupby(config.unit)["interview_date"].max())
        records = records[dates.to_numpy() <= records[spec["unit"]].map(last).to_numpy()]
    if spec["count"] == "rows":
        return records.groupby(spec["unit"]).size().astype(float)
    counts = pd.to_numeric(records[spec["count"]], errors="coerce")
    if counts.isna().any() or (counts < 0).any():
        bad = records.loc[counts.isna() | (counts < 0), spec["count"]].iloc[0]
        raise DataError(f"{source}: column {spec['count']!r}: expected counts >= 0, found "
                        f"{bad!r}")
    return counts.groupby(records[spec["unit"]]).sum().astype(float)


def dose_bands(doses: pd.Series, bands: list[float] | str) -> tuple[pd.Series, pd.DataFrame]:
    """Each unit's band of dose, and the bands (label, lower and upper dose).

    ``bands`` are cut points (a dose d is in band k = number of cut points <= d) or
    ``"tertiles"`` (cut points at the 1/3 and 2/3 quantiles of ``doses``). Labels are "lo-hi"
    ranges of whole numbers ("12+" for the last band) when the doses and cut points are whole.

    Examples
    --------
    >>> band, table = dose_bands(pd.Series([0, 3, 6, 7, 12, 20]), [6, 12])
    >>> band.tolist(), table["band_label"].tolist()
    ([0, 0, 1, 1, 2, 2], ['0–5', '6–11', '12+'])
    """
    cuts = (sorted(set(np.quantile(doses, [1 / 3, 2 / 3], method="inverted_cdf")))
            if bands == "tertiles" else list(bands))
    band = pd.Series(np.searchsorted(np.array(cuts, dtype=float), doses.to_numpy(dtype=float),
                                     side="right"), index=doses.index)
    whole = bool(np.all(np.mod(doses, 1) == 0) and np.all(np.mod(cuts, 1) == 0))
    low_edges = [min(float(doses.min()), cuts[0] - 1 if whole else cuts[0]), *cuts]
    table = []
    for k in range(len(cuts) + 1):
        low, high = low_edges[k], (cuts[k] if k < len(cuts) else np.inf)
        if whole:
            label = f"{low:g}+" if k == len(cuts) else f"{low:g}–{high - 1:g}"
        else:
            label = f"≥ {low:g}" if k == len(cuts) else f"< {high:g}" if k == 0 else \
                f"{low:g}–{high:g}"
        table.append({"band": k, "band_label": label, "dose_low": low, "dose_high": high})
    return band, pd.DataFrame(table)


def dose_response(config: EvaluationConfig, analysis: pd.DataFrame,
                  seed: int = 20240301) -> pd.DataFrame:
    """Headline effects by band of dose (home visits, sessions): descriptive, not causal.

    The dose is chosen by families and volunteers, not randomised, so units in a band differ
    from those in another in more than their dose; each band is compared with the same
    comparison group the design gives, which keeps the comparison of like with like as far as
    the design allows but does not make the gradient causal:

    - staggered roll-out: children of treated villages at the last round, banded by the home
      visits logged up to their last interview, against children of never-treated villages;
      the estimate is the change from the first round (before any village started) to the last
      round, band minus never-treated, i.e. :func:`estimate.staggered_did` on that two-period
      panel (clustered by village). Children of earlier cohorts had more time to be visited,
      so bands also differ in time since start.
    - lottery: winners in each band of attendance against all losers, ANCOVA with the baseline
      outcome and village fixed effects, clustered by village (winners missing from the
      attendance file attended 0 sessions).

    Returns a tidy frame, columns :data:`DOSE_COLUMNS`.

    Examples
    --------
    >>> bands = dose_response(config, analysis, seed=1)  # doctest: +SKIP
    """
    if config.dose is None:
        raise DataError(f"{config.path}: no dose section in the config")
    doses = _dose_by_unit(config, analysis)
    rows = []
    if config.design == "staggered_rollout":
        first, last = analysis[TIME].min(), analysis[TIME].max()
        units = analysis.groupby(config.unit)["cohort"].first()
        treated = units[(units > first) & (units <= last)].index
        control = units[units == 0].index
        dose = doses.reindex(treated).fillna(0.0)
        panel = analysis[analysis[TIME].isin([first, last])]
        estimator_panel = panel.assign(cohort=np.where(panel["cohort"] > 0, last, 0))
    else:
        sample = applicants(analysis)
        treated = sample.loc[sample["won_lottery"] == 1, config.unit]
        dose = doses.reindex(treated).fillna(0.0)
    band, table = dose_bands(dose, config.dose["bands"])
    for outcome in dict.fromkeys(config.headline.values()):
        for _, info in table.iterrows():
            members = band.index[band == info["band"]]
            base = {"outcome": outcome, **info.to_dict(),
                    "mean_dose": float(dose[members].mean()) if len(members) else np.nan,
                    "n_units": len(members), "note": ""}
            try:
                if config.design == "staggered_rollout":
                    keep = estimator_panel[config.unit].isin(members.union(control))
                    result, _ = _staggered_fit(config, estimator_panel[keep], outcome, seed)
                else:
                    keep = (sample["won_lottery"] == 0) | sample[config.unit].isin(members)
                    result = lottery_itt(config, sample[keep], outcome)
            except (EstimationError, ValueError) as error:
                rows.append({**base, "note": f"not estimable: {error}"})
                continue
            rows.append({**base, **_row(result)})
    return pd.DataFrame(rows, columns=list(DOSE_COLUMNS))

