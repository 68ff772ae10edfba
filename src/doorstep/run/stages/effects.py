"""The impact stage (``03_impact``): every outcome's effect, family indices and inference.

Owns :func:`estimate_effects` -> ``estimates.csv``, ``headline.csv``, ``inference.csv``; the
Anderson ICW index of each outcome family (:func:`add_family_indices`); and the primary
estimand's wild/multiplier bootstrap, Romano-Wolf and sharpened-q values per outcome and family
index (:func:`primary_inference`, :func:`bootstrap_weights`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from doorstep import estimate
from doorstep.config import INDEX_PREFIX, EvaluationConfig
from doorstep.errors import ConfigError, DataError, EstimationError
from doorstep.inference import adjust_pvalues, romano_wolf, wild_cluster_bootstrap
from doorstep.inference.multiple import multiplier_bootstrap, romano_wolf_from_draws
from doorstep.measures.indices import icw_index
from doorstep.run.stages.common import (
    TIME,
    applicant_mask,
    applicants,
    first_round_mask,
    lottery_itt,
)


@dataclass(frozen=True)
class ImpactEstimates:
    """All estimates of a run: every term, the headline rows, the event-study terms, and the
    primary estimand's bootstrap and multiple-testing inference (``inference``, one row per
    outcome and family index; see :func:`primary_inference`)."""

    estimates: pd.DataFrame
    headline: pd.DataFrame
    event_study: pd.DataFrame
    pre_trend: pd.DataFrame
    inference: pd.DataFrame = field(default_factory=pd.DataFrame)


def _headline(result: estimate.EstimationResult, estimand: str) -> pd.DataFrame:
    row = result.tidy().iloc[[0]].copy()
    row["estimand"] = estimand
    return row


def estimate_effects(config: EvaluationConfig, analysis: pd.DataFrame,
                     seed: int = 20240301, *, reps: int | None = None) -> ImpactEstimates:
    """Estimate every outcome's effect with the design's estimators, and each family's index.

    Staggered roll-out: Callaway-Sant'Anna group-time effects against never-treated villages,
    aggregated to the overall ATT ("simple") and by event time ("dynamic"), clustered by
    village, with uniform bands from 999 multiplier-bootstrap draws seeded by ``seed``.
    Lottery: in lottery villages, among applicants, ANCOVA of the endline outcome on
    winning with the baseline outcome and village (stratum) fixed effects (ITT), and 2SLS of
    the outcome on participation instrumented by winning (LATE); in open villages, where women
    join by choice, the doubly robust AIPW effect on participants (ATT) given the baseline
    outcome and covariates; clustered by village.

    Each outcome family of the config also gets an Anderson ICW index
    (:func:`add_family_indices`), outcome ``index_<family>``, estimated with the primary
    estimator only (staggered: the simple ATT; lottery: the ANCOVA ITT with the baseline
    index). For the primary estimand of every outcome and index, :func:`primary_inference`
    adds the wild (multiplier) bootstrap p-value, the Romano-Wolf p-value and the sharpened
    q-value within the family; ``headline`` gets the columns ``family, p_wild,
    p_romano_wolf, q_sharpened`` (NaN for the LATE and observational ATT, which keep their
    cluster-robust ``p_value`` only). ``reps`` (default 9,999) sets the bootstrap draws.
    """
    reps = BOOTSTRAP_REPS if reps is None else reps
    data = add_family_indices(config, analysis)
    index_names = [family.index_name for family in config.outcome_families
                   if family.index_name in data.columns]
    tidy, headline, dynamic, pre_trend = [], [], [], []
    primary: dict[str, object] = {}
    for outcome in [*config.outcomes, *index_names]:
        if config.design == "staggered_rollout":
            result = estimate.staggered_did(
                data, outcome, unit=config.unit, time=TIME, cohort="cohort",
                control_group="never", cluster=config.cluster, seed=seed,
            )
            simple = result.aggregate("simple")
            primary[outcome] = (result, simple)
            by_event_time = result.aggregate("dynamic")
            tidy += [simple.tidy(), by_event_time.tidy()]
            headline.append(_headline(simple, "att_simple"))
            dynamic.append(by_event_time.tidy())
            try:
                test = result.pre_trend_test()
            except EstimationError as error:  # no cohort has a pre-period to test
                pre_trend.append({"outcome": outcome, "test": f"not possible: {error}",
                                  "statistic": float("nan"), "restrictions": 0,
                                  "p_value": float("nan")})
                continue
            pre_trend.append({"outcome": outcome, "test": f"Wald {test.distribution}",
                              "statistic": test.statistic, "restrictions": test.df_num,
                              "p_value": test.p_value})
        else:
            sample = applicants(data).dropna(subset=[outcome, f"{outcome}_baseline"])
            itt = lottery_itt(config, sample, outcome)
            primary[outcome] = itt
            tidy.append(itt.tidy())
            headline.append(_headline(itt, "itt"))
            if outcome in index_names:
                continue
            late = estimate.iv(sample, outcome, "participated", "won_lottery",
                               covariates=[f"{outcome}_baseline"], strata=config.cluster,
                               cluster=config.cluster)
            open_sample = data[data["design"] == "open"]
            confounders = list(dict.fromkeys(
                f"{name}_baseline" for name in (outcome, *config.covariates)))
            open_sample = open_sample.dropna(subset=[outcome, *confounders])
            observational = estimate.aipw(open_sample, outcome, "participated", confounders,
                                          estimand="ATT", cluster=config.cluster)
            tidy += [late.tidy(), observational.tidy()]
            headline += [_headline(late, "late"),
                         _headline(observational, "att_observational")]
    estimates = pd.concat(tidy, ignore_index=True)
    inference = primary_inference(config, data, primary, seed=seed, reps=reps)
    return ImpactEstimates(
        estimates=estimates,
        headline=_with_inference(pd.concat(headline, ignore_index=True), inference),
        event_study=pd.concat(dynamic, ignore_index=True) if dynamic else pd.DataFrame(),
        pre_trend=pd.DataFrame(pre_trend),
        inference=inference,
    )



# -- family indices and the primary estimand's inference (issue 6) ---------------------------
BOOTSTRAP_REPS = 9999
FEW_CLUSTERS = 12
INDEX_FAMILY = "indices"
PRIMARY_ESTIMAND = {"staggered_rollout": "att_simple", "lottery": "itt"}
INFERENCE_COLUMNS = ("outcome", "family", "estimand", "estimate", "std_error", "p_cluster",
                     "p_wild", "p_romano_wolf", "q_sharpened", "reps", "weights", "method",
                     "caution")
P_COLUMNS = ("p_wild", "p_romano_wolf", "q_sharpened")


def bootstrap_weights(n_clusters: int) -> str:
    """The bootstrap weights for ``n_clusters`` clusters: Webb's below 12, else Rademacher.

    With few clusters Rademacher signs have few distinct draws (2^G) and coarse p-values;
    Webb's six-point weights are advised there (Webb 2023; MacKinnon, Nielsen and Webb 2023).

    Examples
    --------
    >>> bootstrap_weights(8), bootstrap_weights(40)
    ('webb', 'rademacher')
    """
    return "webb" if n_clusters < FEW_CLUSTERS else "rademacher"


def add_family_indices(config: EvaluationConfig, analysis: pd.DataFrame) -> pd.DataFrame:
    """The analysis data with an Anderson (2008) ICW index of every outcome family.

    For each family of two or more outcomes (``config.outcome_families``), adds the column
    ``index_<family>`` (:func:`doorstep.measures.indices.icw_index`): components signed by the
    family's ``direction`` so that higher is better, standardised by the mean and SD of the
    control group at baseline, weighted by the inverse covariance of the standardised
    components (over the rows with every component present); a row missing some components
    gets the weighted mean of the ones it has (Anderson's rule), and a missing index only
    when all are missing. Staggered roll-out: every row of the panel, the reference being the
    never-treated villages in the first round. Lottery: applicants in lottery villages, at
    endline (``index_<family>``) and baseline (``index_<family>_baseline``, from the
    ``<outcome>_baseline`` columns, so that the ANCOVA can control for it), the reference being
    the baseline values of the applicants who lost the lottery; other rows get a missing index.
    The input is not changed.

    Raises
    ------
    DataError
        If a component cannot be standardised (no variation in the reference group), naming
        the family.
    """
    out = analysis.copy()
    for family in config.outcome_families:
        if len(family.outcomes) < 2:
            continue
        components = list(family.outcomes)
        try:
            if config.design == "staggered_rollout":
                reference = (analysis["cohort"] == 0) & first_round_mask(analysis)
                out[family.index_name] = icw_index(
                    analysis, components, reference=reference, direction=family.signs,
                    name=family.index_name).to_numpy()
                continue
            chosen = applicant_mask(analysis).to_numpy()
            sample = analysis[chosen]
            baseline = sample[[f"{name}_baseline" for name in components]].set_axis(
                components, axis=1)
            stacked = pd.concat([sample[components], baseline], ignore_index=True)
            reference = pd.Series(np.concatenate([
                np.zeros(len(sample), dtype=bool), (sample["won_lottery"] == 0).to_numpy()]))
            index = icw_index(stacked, components, reference=reference,
                              direction=family.signs).to_numpy()
        except (DataError, ConfigError) as error:
            raise DataError(f"{config.path}: families.{family.name}: the ICW index of "
                            f"{components} cannot be built: {error}") from error
        for column, values in ((family.index_name, index[:len(sample)]),
                               (f"{family.index_name}_baseline", index[len(sample):])):
            full = np.full(len(analysis), np.nan)
            full[chosen] = values
            out[column] = full
    return out


def _family_of(config: EvaluationConfig) -> dict[str, str]:
    """Each outcome's family name, and each index's own family name."""
    owner = {}
    for family in config.outcome_families:
        owner.update({name: family.name for name in family.outcomes})
        owner[family.index_name] = family.name
    return owner


def _test_groups(config: EvaluationConfig, names: list[str]) -> list[tuple[str, list[str]]]:
    """The sets adjusted together: each family's outcomes, and the family indices together."""
    groups = [(family.name, [name for name in family.outcomes if name in names])
              for family in config.outcome_families]
    groups.append((INDEX_FAMILY, [name for name in names if name.startswith(INDEX_PREFIX)
                                  and name not in config.outcomes]))
    return [(label, members) for label, members in groups if members]


def primary_inference(config: EvaluationConfig, data: pd.DataFrame, primary: dict[str, object],
                      *, seed: int, reps: int = BOOTSTRAP_REPS) -> pd.DataFrame:
    """Bootstrap and multiple-testing p-values of the primary estimand of every outcome.

    Lottery (ITT): ``p_wild`` from :func:`doorstep.inference.wild_cluster_bootstrap` (WCR,
    null imposed, clustered by village, its default CV3 t statistic); ``p_romano_wolf`` from
    :func:`doorstep.inference.romano_wolf` over the family with the same weights for a
    village in every outcome. Each outcome keeps its own complete cases (outcome and its
    baseline): the step-down rebuilds every outcome's sample from the applicants' frame, and
    the common village weights carry the dependence across outcomes. Staggered roll-out
    (simple ATT): Callaway-Sant'Anna has no linear design for the wild cluster bootstrap, so
    ``p_wild`` comes from the clustered multiplier bootstrap of the influence functions
    (:func:`doorstep.inference.multiple.multiplier_bootstrap`: one weight per village, the same
    for all outcomes and indices, as R ``did`` and Stata ``csdid``), a symmetric bootstrap-t
    p-value, and ``p_romano_wolf`` is the step-down
    (:func:`doorstep.inference.multiple.romano_wolf_from_draws`) on those joint draws.

    Both: ``reps`` draws, Rademacher weights (Webb's below 12 villages, see
    :func:`bootstrap_weights`), seeded by ``seed``; ``q_sharpened`` is Anderson's (2008)
    sharpened q-value of ``p_wild`` within the family. Outcomes are adjusted within their
    family; the family indices are adjusted together as a family of their own
    (``"indices"``); a family of one test keeps its bootstrap p-value as its Romano-Wolf value.

    Returns
    -------
    pandas.DataFrame
        One row per outcome and index, the columns of :data:`INFERENCE_COLUMNS`.
    """
    names = list(primary)
    estimand = PRIMARY_ESTIMAND[config.design]
    owner = _family_of(config)
    rows = {}
    if config.design == "staggered_rollout":
        scores = pd.concat([result.cluster_scores("simple").rename(name)
                            for name, (result, _) in primary.items()], axis=1).sort_index()
        estimates = [simple.estimate for _, simple in primary.values()]
        weights = bootstrap_weights(len(scores))
        boot = multiplier_bootstrap(scores, estimates, reps=reps, weights=weights, seed=seed)
        note = (f"{estimand}: Callaway-Sant'Anna, influence-function SE clustered by "
                f"{config.cluster}; p_wild: multiplier bootstrap of the influence functions "
                f"({weights}, {boot.reps} draws, common village weights), symmetric")
        for position, (name, (_, simple)) in enumerate(primary.items()):
            rows[name] = {"outcome": name, "estimand": estimand, "estimate": simple.estimate,
                          "std_error": simple.std_error, "p_cluster": simple.p_value,
                          "p_wild": float(boot.p_value[position]), "reps": boot.reps,
                          "weights": weights, "method": note, "caution": ""}
        for _, members in _test_groups(config, names):
            columns = [names.index(name) for name in members]
            adjusted = (romano_wolf_from_draws(boot.statistic[columns], boot.draws[:, columns])
                        if len(members) > 1 else [rows[members[0]]["p_wild"]])
            for name, value in zip(members, adjusted, strict=True):
                rows[name]["p_romano_wolf"] = float(value)
    else:
        sample = applicants(data)
        weights = bootstrap_weights(min(result.n_clusters for result in primary.values()))
        for name, result in primary.items():
            boot = wild_cluster_bootstrap(result, "won_lottery", data=sample,
                                          cluster=config.cluster, reps=reps, weights=weights,
                                          seed=seed)
            rows[name] = {"outcome": name, "estimand": estimand, "estimate": result.estimate,
                          "std_error": result.std_error, "p_cluster": result.p_value,
                          "p_wild": float(boot.p_value), "reps": int(boot.draws),
                          "weights": weights,
                          "method": f"{estimand}: ANCOVA, CR1 clustered by {config.cluster}; "
                                    f"p_wild: {boot.inference}",
                          "caution": boot.note}
        for _, members in _test_groups(config, names):
            if len(members) == 1:
                rows[members[0]]["p_romano_wolf"] = rows[members[0]]["p_wild"]
                continue
            adjusted = romano_wolf([primary[name] for name in members], data=sample,
                                   term="won_lottery", cluster=config.cluster, reps=reps,
                                   weights=weights, seed=seed)
            for name, value in zip(members, adjusted.table["p_adjusted"], strict=True):
                rows[name]["p_romano_wolf"] = float(value)
    for label, members in _test_groups(config, names):
        q_values = adjust_pvalues([rows[name]["p_wild"] for name in members], "sharpened_q")
        for name, value in zip(members, q_values, strict=True):
            rows[name]["q_sharpened"] = float(value)
            rows[name]["family"] = owner.get(name, "")
            rows[name]["method"] += (f"; Romano-Wolf and sharpened q over {label} "
                                     f"({len(members)} tests)")
    table = pd.DataFrame([rows[name] for name in names])
    table["family"] = table["family"].fillna("") if "family" in table else ""
    return table.loc[:, list(INFERENCE_COLUMNS)]


def _with_inference(headline: pd.DataFrame, inference: pd.DataFrame) -> pd.DataFrame:
    """The headline rows with ``family`` and the primary estimand's bootstrap p-values."""
    family = dict(zip(inference["outcome"], inference["family"], strict=True))
    out = headline.merge(inference[["outcome", "estimand", *P_COLUMNS, "caution"]],
                         on=["outcome", "estimand"], how="left", validate="one_to_one")
    out.insert(out.columns.get_loc("estimand"), "family",
               out["outcome"].map(family).fillna(""))
    return out
