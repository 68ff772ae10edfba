"""staggered_did against moderndid 0.2 (the Python port of R's did) on R did's mpdta data.

The peer runs ``att_gt(est_method=..., boot=False)`` (analytic influence-function SEs,
clustered by unit, countyreal), without covariates and with ``xformla="~lpop"`` for
``est_method`` "reg", "ipw" and "dr", and ``aggte(..., boot=False)``. Tolerance 1e-6 relative.
Uniform bands: the bootstrap critical value lies between the pointwise normal one and the
Bonferroni bound, is reproducible with the seed, and is within 5% of moderndid's at 20,000
draws (both studentise max |t|; moderndid by bootstrap IQR standard errors, we by the analytic
ones, so they agree only up to simulation noise).
"""

from __future__ import annotations

import warnings

import moderndid
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate import EstimationResult, StaggeredResult, staggered_did
from doorstep.estimate.staggered import _bootstrap_max_t

RTOL = 1e-6
REPS = 199
PEER_CONTROL = {"never": "nevertreated", "not_yet": "notyettreated"}
PEER_TERMS = {"group": "group=", "dynamic": "event_time=", "calendar": "period="}


@pytest.fixture(scope="module")
def mpdta() -> tuple[object, pd.DataFrame]:
    peer_frame = moderndid.load_mpdta()
    return peer_frame, peer_frame.to_pandas()


def _assert_equals_peer(result, peer, peer_aggregates):
    """Group-time ATTs and SEs, the pre-trend Wald statistic and every aggregation equal
    moderndid's at RTOL (1e-12 absolute for estimates of zero; an event-time SE the peer leaves
    NaN, the reference cell of the universal base period, must be zero here)."""
    table = result.group_time
    np.testing.assert_array_equal(table["group"], peer.groups)
    np.testing.assert_array_equal(table["time"], peer.times)
    np.testing.assert_allclose(table["estimate"], peer.att_gt, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(table["std_error"], peer.se_gt, rtol=RTOL)  # NaN where peer NaN
    np.testing.assert_allclose(result.pre_trend_test().statistic, peer.wald_stat, rtol=RTOL)
    for kind, reference in peer_aggregates.items():
        aggregate = result.aggregate(kind)
        np.testing.assert_allclose(aggregate.estimate, reference.overall_att, rtol=RTOL)
        np.testing.assert_allclose(aggregate.std_error, reference.overall_se, rtol=RTOL)
        if kind != "simple":
            tidy = aggregate.tidy()
            np.testing.assert_allclose(tidy["estimate"].iloc[1:], reference.att_by_event,
                                       rtol=RTOL, atol=1e-12)
            ours_se = tidy["std_error"].iloc[1:].to_numpy()
            peer_se = np.asarray(reference.se_by_event, dtype=float)
            finite = np.isfinite(peer_se)
            np.testing.assert_allclose(ours_se[finite], peer_se[finite], rtol=RTOL)
            assert np.all(ours_se[~finite] < 1e-12)


@pytest.mark.parametrize("control_group", ["never", "not_yet"])
@pytest.mark.parametrize("base_period", ["varying", "universal"])
def test_group_time_and_aggregations_match_moderndid(mpdta, control_group, base_period):
    peer_frame, frame = mpdta
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = moderndid.att_gt(
            peer_frame,
            "lemp",
            "year",
            "countyreal",
            "first.treat",
            est_method="reg",
            boot=False,
            cband=False,
            control_group=PEER_CONTROL[control_group],
            base_period=base_period,
        )
        peer_aggregates = {
            kind: moderndid.aggte(peer, type=kind, boot=False, cband=False)
            for kind in ("simple", "group", "dynamic", "calendar")
        }
    result = staggered_did(
        frame,
        "lemp",
        "countyreal",
        "year",
        "first.treat",
        control_group=control_group,
        base_period=base_period,
    )
    table = result.group_time
    np.testing.assert_array_equal(table["group"], peer.groups)
    np.testing.assert_array_equal(table["time"], peer.times)
    np.testing.assert_allclose(table["estimate"], peer.att_gt, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(table["std_error"], peer.se_gt, rtol=RTOL)  # NaN where peer NaN
    pre_test = result.pre_trend_test()
    np.testing.assert_allclose(pre_test.statistic, peer.wald_stat, rtol=RTOL)
    assert pre_test.distribution == "chi2"
    for kind, reference in peer_aggregates.items():
        aggregate = result.aggregate(kind)
        assert aggregate.main_term == "ATT" and aggregate.df is None
        np.testing.assert_allclose(aggregate.estimate, reference.overall_att, rtol=RTOL)
        np.testing.assert_allclose(aggregate.std_error, reference.overall_se, rtol=RTOL)
        if kind == "simple":
            assert aggregate.terms == ("ATT",)
            continue
        assert aggregate.terms[1:] == tuple(
            f"{PEER_TERMS[kind]}{int(value)}" for value in reference.event_times
        )
        tidy = aggregate.tidy()
        np.testing.assert_allclose(
            tidy["estimate"].iloc[1:], reference.att_by_event, rtol=RTOL, atol=1e-12
        )
        ours_se = tidy["std_error"].iloc[1:].to_numpy()
        peer_se = np.asarray(reference.se_by_event, dtype=float)
        finite = np.isfinite(peer_se)
        np.testing.assert_allclose(ours_se[finite], peer_se[finite], rtol=RTOL)
        assert np.all(ours_se[~finite] < 1e-12)  # reference cell of the universal base


def test_known_numbers_from_r_did(mpdta):
    """The analytic simple ATT of R's did on mpdta (reg, never treated): -0.0400 (0.0120)."""
    _, frame = mpdta
    simple = staggered_did(frame, "lemp", "countyreal", "year", "first.treat").aggregate("simple")
    assert simple.estimate == pytest.approx(-0.0399513, abs=1e-7)
    assert simple.std_error == pytest.approx(0.0120340, abs=1e-7)
    assert simple.n_obs == 500 and simple.n_clusters == 500


def _staggered_panel(seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_units, periods = 600, np.arange(1, 9)
    cohort = rng.choice([0, 4, 6], size=n_units, p=[0.4, 0.3, 0.3])
    district = np.arange(n_units) // 10
    unit_effect = rng.normal(0, 1, n_units)
    rows = []
    for unit in range(n_units):
        for t in periods:
            treated = cohort[unit] > 0 and t >= cohort[unit]
            effect = (1.0 + 0.5 * (t - cohort[unit])) if treated else 0.0
            y = unit_effect[unit] + 0.3 * t + effect + rng.normal(0, 0.5)
            rows.append((unit, t, cohort[unit], district[unit], y))
    return pd.DataFrame(rows, columns=["hh_id", "round", "first_round", "district", "income"])


@pytest.mark.parametrize("control_group", ["never", "not_yet"])
def test_growing_effects_are_recovered(control_group):
    frame = _staggered_panel()
    before = frame.copy(deep=True)
    result = staggered_did(
        frame,
        "income",
        "hh_id",
        "round",
        "first_round",
        control_group=control_group,
        cluster="district",
    )
    pd.testing.assert_frame_equal(frame, before)
    assert isinstance(result, StaggeredResult)
    table = result.group_time
    truth = np.where(table["post"], 1.0 + 0.5 * (table["time"] - table["group"]), 0.0)
    z = (table["estimate"] - truth) / table["std_error"]
    assert np.all(np.abs(z) < 4.5)
    assert np.max(np.abs(table["estimate"] - truth)) < 0.25
    assert result.n_clusters == 60
    dynamic = result.aggregate("dynamic")
    assert isinstance(dynamic, EstimationResult)
    assert dynamic.term("event_time=2").estimate == pytest.approx(2.0, abs=0.15)
    assert dynamic.term("event_time=-2").estimate == pytest.approx(0.0, abs=0.15)
    assert result.pre_trend_test().p_value > 0.001
    assert result.tidy()["term"].iloc[0] == "ATT(g=4, t=2)"


def test_unbalanced_units_are_dropped_and_counted():
    frame = _staggered_panel()
    frame = frame.drop(index=[3, 17, 18])  # units 0 and 2 lose periods
    frame.loc[frame.index[100], "income"] = np.nan  # unit 12 loses a value
    result = staggered_did(frame, "income", "hh_id", "round", "first_round")
    assert result.extras["n_units_dropped_unbalanced"] == 3
    assert result.n_units == 597


def test_staggered_options_are_checked():
    frame = _staggered_panel().head(400)
    with pytest.raises(ConfigError, match="'never', 'not_yet'"):
        staggered_did(
            frame, "income", "hh_id", "round", "first_round", control_group="nevertreated"
        )
    with pytest.raises(ConfigError, match="'varying', 'universal'"):
        staggered_did(frame, "income", "hh_id", "round", "first_round", base_period="fixed")
    with pytest.raises(ConfigError, match="'reg', 'dr', 'ipw'"):
        staggered_did(frame, "income", "hh_id", "round", "first_round", method="aipw")
    with pytest.raises(ConfigError, match="'mammen', 'rademacher'"):
        staggered_did(frame, "income", "hh_id", "round", "first_round", multiplier="webb")
    with pytest.raises(ConfigError, match="bootstrap_reps"):
        staggered_did(frame, "income", "hh_id", "round", "first_round", bootstrap_reps=-1)
    with pytest.raises(ConfigError, match="'assets'"):
        staggered_did(frame, "income", "hh_id", "round", "first_round", covariates=["assets"])
    with pytest.raises(ConfigError, match="level"):
        staggered_did(frame, "income", "hh_id", "round", "first_round").uniform_critical_value(2)
    with pytest.raises(ConfigError, match="'simple', 'group', 'dynamic', 'calendar'"):
        staggered_did(frame, "income", "hh_id", "round", "first_round").aggregate("event")
    bad = frame.copy()
    bad.loc[bad.index[1], "first_round"] = 99
    with pytest.raises(EstimationError, match="constant within each unit"):
        staggered_did(bad, "income", "hh_id", "round", "first_round")
    with pytest.raises(EstimationError, match="more than once"):
        staggered_did(pd.concat([frame, frame.head(1)]), "income", "hh_id", "round", "first_round")


# -- conditional parallel trends -------------------------------------------------------------------
@pytest.mark.parametrize("method", ["reg", "ipw", "dr"])
@pytest.mark.parametrize("control_group", ["never", "not_yet"])
def test_covariates_match_moderndid(mpdta, method, control_group):
    peer_frame, frame = mpdta
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = moderndid.att_gt(
            peer_frame,
            "lemp",
            "year",
            "countyreal",
            "first.treat",
            xformla="~lpop",
            est_method=method,
            boot=False,
            cband=False,
            control_group=PEER_CONTROL[control_group],
        )
        peer_aggregates = {
            kind: moderndid.aggte(peer, type=kind, boot=False, cband=False)
            for kind in ("simple", "group", "dynamic", "calendar")
        }
    result = staggered_did(
        frame,
        "lemp",
        "countyreal",
        "year",
        "first.treat",
        covariates="lpop",
        method=method,
        control_group=control_group,
        bootstrap_reps=0,
    )
    assert result.group_time["uniform_low"].isna().all()  # no bootstrap asked for
    _assert_equals_peer(result, peer, peer_aggregates)
    assert result.extras["method"] == method and result.extras["covariates"] == ("lpop",)


def _covariate_trend_panel(seed: int = 9) -> pd.DataFrame:
    """Treatment timing depends on x, and x drives the trend: unconditional PT fails."""
    rng = np.random.default_rng(seed)
    n_units, periods = 3000, np.arange(1, 6)
    x = rng.normal(0, 1, n_units)
    score = 1 / (1 + np.exp(-1.2 * x))
    cohort = np.where(rng.random(n_units) < score, rng.choice([3, 4], n_units), 0)
    unit = np.repeat(np.arange(n_units), periods.size)
    period = np.tile(periods, n_units)
    g = cohort[unit]
    effect = np.where((g > 0) & (period >= g), 2.0, 0.0)
    y = rng.normal(0, 1, n_units)[unit] + period * (0.5 + x[unit]) + effect
    y = y + rng.normal(0, 0.3, unit.size)
    return pd.DataFrame({"hh": unit, "round": period, "cohort": g.astype(np.int8),
                         "x": x[unit], "income": y})


def test_conditional_parallel_trends_recover_the_truth():
    frame = _covariate_trend_panel()
    before = frame.copy(deep=True)
    unconditional = staggered_did(frame, "income", "hh", "round", "cohort", bootstrap_reps=0)
    assert abs(unconditional.aggregate("simple").estimate - 2.0) > 0.5
    for method in ("reg", "ipw", "dr"):
        result = staggered_did(frame, "income", "hh", "round", "cohort", covariates=["x"],
                               method=method, bootstrap_reps=0)
        simple = result.aggregate("simple")
        assert abs(simple.estimate - 2.0) < 4 * simple.std_error, method
        assert result.pre_trend_test().p_value > 0.001
    pd.testing.assert_frame_equal(frame, before)


def test_overlap_failure_skips_the_cell_as_r_does():
    frame = _covariate_trend_panel(seed=4).head(1500)
    frame = frame.assign(z=np.where(frame["cohort"] == 3, 10.0, 0.0) + frame["x"] * 0.01)
    result = staggered_did(frame, "income", "hh", "round", "cohort", covariates=["z"],
                           method="dr", bootstrap_reps=0)
    assert set(result.groups.tolist()) == {4}
    assert len(result.extras["cell_warnings"]) == 4  # every cell of cohort 3: x separates it
    assert all("separation" in text for text in result.extras["cell_warnings"])
    assert (3, 2) in result.extras["skipped_cells"]


# -- uniform bands ---------------------------------------------------------------------------------
def test_uniform_critical_value_is_between_pointwise_and_bonferroni(mpdta):
    """Exact bounds from the same draws: the sup-t quantile lies between the largest per-cell
    95% quantile of |t*| and the largest per-cell 1 - 0.05/k quantile (Bonferroni)."""
    _, frame = mpdta
    result = staggered_did(frame, "lemp", "countyreal", "year", "first.treat",
                           bootstrap_reps=999, seed=42)
    table = result.group_time
    std_errors = result.std_errors
    n_cells = int(np.isfinite(std_errors).sum())
    critical = result.uniform_critical_value()
    per_cell = [
        _bootstrap_max_t(result.influence[:, [j]], std_errors[[j]], result.cluster_codes,
                         reps=999, seed=42, multiplier="mammen")
        for j in range(n_cells)
    ]
    pointwise = max(np.quantile(draws, 0.95, method="inverted_cdf") for draws in per_cell)
    bonferroni = max(
        np.quantile(draws, 1 - 0.05 / n_cells, method="inverted_cdf") for draws in per_cell
    )
    assert stats.norm.ppf(0.975) < pointwise <= critical <= bonferroni
    assert critical == pytest.approx(2.76, abs=0.2)  # moderndid: 2.76 at 20,000 draws
    result = staggered_did(frame, "lemp", "countyreal", "year", "first.treat",
                           bootstrap_reps=REPS, seed=42)
    table = result.group_time
    critical = result.uniform_critical_value()
    np.testing.assert_allclose(
        table["uniform_high"] - table["estimate"], critical * table["std_error"], rtol=1e-12
    )
    assert (table["uniform_low"] <= table["conf_low"]).all()
    assert result.uniform_critical_value(0.9) < critical
    again = staggered_did(frame, "lemp", "countyreal", "year", "first.treat",
                          bootstrap_reps=REPS, seed=42)
    assert again.uniform_critical_value() == critical
    assert staggered_did(frame, "lemp", "countyreal", "year", "first.treat",
                         bootstrap_reps=REPS, seed=43).uniform_critical_value() != critical
    dynamic = result.aggregate("dynamic")
    n_terms = len(dynamic.terms) - 1
    band = dynamic.extras["uniform_critical_value"]
    assert stats.norm.ppf(0.975) < band < stats.norm.ppf(1 - 0.025 / n_terms)
    assert band == result.uniform_critical_value(kind="dynamic")
    assert dynamic.extras["bootstrap_max_t"].size == REPS
    simple = result.aggregate("simple").extras["uniform_critical_value"]
    assert simple == pytest.approx(stats.norm.ppf(0.975), rel=0.15)  # one term: about 1.96
    rademacher = staggered_did(frame, "lemp", "countyreal", "year", "first.treat",
                               bootstrap_reps=REPS, seed=42, multiplier="rademacher")
    assert stats.norm.ppf(0.975) < rademacher.uniform_critical_value() < 4
    result_seedless = staggered_did(frame, "lemp", "countyreal", "year", "first.treat",
                                    bootstrap_reps=REPS)
    first = result_seedless.uniform_critical_value()
    assert result_seedless.uniform_critical_value() == first  # drawn once, recorded
    assert isinstance(result_seedless.seed, int)


def test_uniform_critical_value_agrees_with_moderndid_at_many_draws(mpdta):
    peer_frame, frame = mpdta
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = moderndid.att_gt(peer_frame, "lemp", "year", "countyreal", "first.treat",
                                est_method="reg", boot=True, cband=True, biters=20_000,
                                random_state=3)
    result = staggered_did(frame, "lemp", "countyreal", "year", "first.treat",
                           bootstrap_reps=20_000, seed=3)
    assert result.uniform_critical_value() == pytest.approx(peer.critical_value, rel=0.05)


def test_clustered_bootstrap_draws_are_per_cluster():
    frame = _staggered_panel()
    result = staggered_did(frame, "income", "hh_id", "round", "first_round", cluster="district",
                           bootstrap_reps=REPS, seed=1)
    critical = result.uniform_critical_value()
    assert stats.norm.ppf(0.975) < critical < 5


# -- sampling weights ----------------------------------------------------------------------------
def _peer_unit_weights(peer_frame, weightsname: str) -> np.ndarray:
    """moderndid's own normalised unit weights, in the unit order of its ``att_gt`` result."""
    from moderndid.core.preprocess import DIDConfig, PreprocessDataBuilder

    config = DIDConfig(yname="lemp", tname="year", idname="countyreal", gname="first.treat",
                       weightsname=weightsname, xformla="~1")
    prepared = (PreprocessDataBuilder().with_data(peer_frame).with_config(config).validate()
                .transform().build())
    return prepared.time_invariant_data["weights"].to_numpy()


@pytest.mark.parametrize(("covariates", "method", "base_period"),
                         [(None, "reg", "varying"), (None, "reg", "universal"),
                          ("lpop", "reg", "varying"), ("lpop", "ipw", "varying"),
                          ("lpop", "dr", "varying"), ("lpop", "dr", "universal")])
@pytest.mark.parametrize("control_group", ["never", "not_yet"])
def test_sampling_weights_match_moderndid(mpdta, covariates, method, base_period,
                                          control_group):
    """Weighted ATT(g,t), aggregations and analytic SEs against moderndid's ``weightsname``.

    The weight is the county's population, exp(lpop) (constant within county), at 1e-6
    relative. moderndid 0.2's ``att_gt`` weights every cell but does not hand the unit weights
    to ``aggte`` (it looks ``weightsname`` up in its pre-processed unit table, where the
    column is renamed ``weights``, and ``weights_ind`` stays None), so its aggregations weight
    cohorts by unweighted counts. R's ``did::aggte`` uses the normalised weights
    (``weights.ind <- dta$.w``; ``pg = mean(weights.ind * 1{G = g})``), which is what we do;
    the reference aggregations are moderndid's ``aggte`` given its own normalised unit
    weights as ``weights_ind``, i.e. R's rule computed by the peer's code.
    """
    import polars as pl

    peer_frame, _ = mpdta
    peer_frame = peer_frame.with_columns(pl.col("lpop").exp().alias("population"))
    frame = peer_frame.to_pandas()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = moderndid.att_gt(
            peer_frame, "lemp", "year", "countyreal", "first.treat",
            est_method=method, boot=False, cband=False,
            control_group=PEER_CONTROL[control_group], weightsname="population",
            base_period=base_period, **({"xformla": f"~{covariates}"} if covariates else {}),
        )
        assert peer.weights_ind is None  # the moderndid 0.2 behaviour documented above
        peer = peer._replace(weights_ind=_peer_unit_weights(peer_frame, "population"))
        peer_aggregates = {
            kind: moderndid.aggte(peer, type=kind, boot=False, cband=False)
            for kind in ("simple", "group", "dynamic", "calendar")
        }
    before = frame.copy(deep=True)
    result = staggered_did(frame, "lemp", "countyreal", "year", "first.treat",
                           weights="population", covariates=covariates or (), method=method,
                           control_group=control_group, base_period=base_period,
                           bootstrap_reps=0)
    pd.testing.assert_frame_equal(frame, before)
    _assert_equals_peer(result, peer, peer_aggregates)
    assert result.extras["weights"] == "population"
    unweighted = staggered_did(frame, "lemp", "countyreal", "year", "first.treat",
                               covariates=covariates or (), method=method,
                               control_group=control_group, base_period=base_period,
                               bootstrap_reps=0)
    assert abs(unweighted.aggregate("simple").estimate
               - result.aggregate("simple").estimate) > 1e-3  # the weights matter here


def _weighted_panel(seed: int = 3) -> tuple[pd.DataFrame, float]:
    """Two sampling strata: the rare one (sampled at 1/4 the rate, weight 4) has a larger effect.

    The population ATT (equal strata in the population) is 2.0; the unweighted sample ATT is
    about 1.4 because the large-effect stratum is under-sampled. Parallel trends hold given the
    stratum only (its own trend), so the weighted estimator needs the stratum as a covariate;
    without covariates the trends are parallel on average in the weighted population.
    """
    rng = np.random.default_rng(seed)
    n_units, periods = 4000, np.arange(1, 6)
    rare = rng.random(n_units) < 0.2
    weight = np.where(rare, 4.0, 1.0)
    cohort = np.where(rng.random(n_units) < 0.5, rng.choice([3, 4], n_units), 0)
    unit = np.repeat(np.arange(n_units), periods.size)
    period = np.tile(periods, n_units)
    g = cohort[unit]
    effect = np.where((g > 0) & (period >= g), np.where(rare[unit], 3.0, 1.0), 0.0)
    y = rng.normal(0, 1, n_units)[unit] + 0.4 * period + effect + rng.normal(0, 0.5, unit.size)
    frame = pd.DataFrame({"hh": unit, "round": period, "cohort": g, "village": unit // 20,
                          "weight": weight[unit], "rare": rare[unit].astype(float),
                          "income": y})
    return frame, 2.0


def test_informative_weights_recover_the_population_effect():
    frame, truth = _weighted_panel()
    unweighted = staggered_did(frame, "income", "hh", "round", "cohort", bootstrap_reps=0)
    assert abs(unweighted.aggregate("simple").estimate - truth) > 0.4  # about 1.4
    for covariates, method in (((), "dr"), (("rare",), "dr"), (("rare",), "ipw"),
                               (("rare",), "reg")):
        result = staggered_did(frame, "income", "hh", "round", "cohort", weights="weight",
                               covariates=covariates, method=method, cluster="village",
                               bootstrap_reps=199, seed=2)
        simple = result.aggregate("simple")
        assert abs(simple.estimate - truth) < 4 * simple.std_error, (covariates, method)
        assert abs(simple.estimate - truth) < 0.15
        for e in (0, 1):
            term = result.aggregate("dynamic").term(f"event_time={e}")
            assert abs(term.estimate - truth) < 4 * term.std_error
        assert result.pre_trend_test().p_value > 0.001
        # cluster scores (the subgroup stage and the multiplier bootstrap) carry the weights
        scores = result.cluster_scores("simple")
        assert len(scores) == 200
        assert np.sqrt((scores**2).sum()) == pytest.approx(simple.std_error, rel=1e-12)
        assert stats.norm.ppf(0.975) < result.uniform_critical_value() < 4  # 199 draws: noisy


def test_weights_of_one_and_rescaled_weights_change_nothing():
    frame, _ = _weighted_panel()
    for covariates in ((), ("rare",)):
        plain = staggered_did(frame, "income", "hh", "round", "cohort", covariates=covariates,
                              bootstrap_reps=0)
        ones = staggered_did(frame.assign(one=1.0), "income", "hh", "round", "cohort",
                             covariates=covariates, weights="one", bootstrap_reps=0)
        np.testing.assert_allclose(ones.estimates, plain.estimates, rtol=1e-10)
        np.testing.assert_allclose(ones.std_errors, plain.std_errors, rtol=1e-10)
        weighted = staggered_did(frame, "income", "hh", "round", "cohort",
                                 covariates=covariates, weights="weight", bootstrap_reps=0)
        scaled = staggered_did(frame.assign(w=frame["weight"] * 37.5), "income", "hh", "round",
                               "cohort", covariates=covariates, weights="w", bootstrap_reps=0)
        for kind in ("simple", "dynamic"):
            np.testing.assert_allclose(scaled.aggregate(kind).coefficients,
                                       weighted.aggregate(kind).coefficients, rtol=1e-10)
            np.testing.assert_allclose(scaled.aggregate(kind).covariance,
                                       weighted.aggregate(kind).covariance, rtol=1e-9)


def test_bad_weights_name_the_unit():
    frame, _ = _weighted_panel()
    frame = frame[frame["hh"] < 300]
    varying = frame.copy()
    varying.loc[varying.index[7], "weight"] = 9.0  # unit 1, round 3
    with pytest.raises(EstimationError, match=r"'weight'.*constant within each unit; unit 1 "):
        staggered_did(varying, "income", "hh", "round", "cohort", weights="weight")
    negative = frame.copy()
    negative.loc[negative.index[12], "weight"] = -1.0  # unit 2, round 3
    with pytest.raises(EstimationError, match=r"'weight' \(weights\) is negative for unit 2 in "
                       "period 3"):
        staggered_did(negative, "income", "hh", "round", "cohort", weights="weight")
    missing = frame.copy()
    missing.loc[missing.index[21], "weight"] = np.nan  # unit 4, round 2
    with pytest.raises(EstimationError, match=r"'weight' \(weights\) is missing for unit 4 in "
                       "period 2"):
        staggered_did(missing, "income", "hh", "round", "cohort", weights="weight")
    with pytest.raises(ConfigError, match="'pweight'"):
        staggered_did(frame, "income", "hh", "round", "cohort", weights="pweight")
    with pytest.raises(ConfigError, match="weights must be one column name"):
        staggered_did(frame, "income", "hh", "round", "cohort", weights=["weight"])
    zero = frame.assign(weight=np.where(frame["hh"] < 10, 0.0, frame["weight"]))
    result = staggered_did(zero, "income", "hh", "round", "cohort", weights="weight",
                           bootstrap_reps=0)
    dropped = staggered_did(frame[frame["hh"] >= 10], "income", "hh", "round", "cohort",
                            weights="weight", bootstrap_reps=0)
    assert result.extras["n_units_dropped_zero_weight"] == 10 and result.n_units == 290
    np.testing.assert_allclose(result.estimates, dropped.estimates, rtol=1e-12)
    np.testing.assert_allclose(result.aggregate("simple").std_error,
                               dropped.aggregate("simple").std_error, rtol=1e-12)
