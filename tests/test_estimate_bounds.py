"""lee_bounds: an independent implementation on real data, the bootstrap, and a selection model.

Lee's (2009) Job Corps numbers cannot be reproduced without his data. Instead: on the NSW
experimental sample shipped by ``causaldata`` (earnings in 1978 observed only for those employed,
``re78 > 0``: Lee's wage setting), the bounds are recomputed here from the quantile definition
(integrating the empirical quantile function) and the variance from Lee's Proposition 3 written
in his notation (rtol 1e-10); the analytic standard errors are compared with a bootstrap (within
20%); and in a simulated selection model satisfying monotonicity the true effect for the
always-observed lies inside the Imbens-Manski interval in about 95% of samples. Sampling weights
are checked against replicated rows (whole-number weights are frequencies: the bounds must be
equal, rtol 1e-12) and against a known population effect; the cluster bootstrap against a
simulated village design with a known effect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate.bounds import LeeBounds, imbens_manski_interval, lee_bounds
from doorstep.estimate.result import TIDY_COLUMNS


@pytest.fixture(scope="module")
def wages() -> pd.DataFrame:
    causaldata = pytest.importorskip("causaldata")
    data = causaldata.nsw_mixtape.load_pandas().data
    employed = (data["re78"] > 0).astype(np.int8)
    return data.assign(
        employed=employed, log_wage=np.log(data["re78"].where(employed == 1).astype(float))
    )


def _quantile_mean(values: np.ndarray, low: float, high: float) -> float:
    """Mean of the empirical quantile function over [low, high] (exact integral of a step)."""
    ordered = np.sort(values)
    n = ordered.size
    edges = np.arange(n + 1) / n
    overlap = np.clip(np.minimum(edges[1:], high) - np.maximum(edges[:-1], low), 0, None)
    return float(overlap @ ordered / (high - low))


def _lee_reference(y, d, s):
    """Lee (2009) Proposition 3 with the treated arm trimmed (as in these data)."""
    n = d.size
    alpha = d.mean()
    s1, s0 = s[d == 1].mean(), s[d == 0].mean()
    assert s1 > s0
    p = (s1 - s0) / s1
    y1, y0 = y[(d == 1) & (s == 1)], y[(d == 0) & (s == 1)]
    mu_lb = _quantile_mean(y1, 0, 1 - p)
    mu_ub = _quantile_mean(y1, p, 1)
    y_low = np.sort(y1)[int(np.ceil((1 - p) * y1.size)) - 1]  # y_{1-p}
    y_high = np.sort(y1)[int(np.floor(p * y1.size))]  # y_p
    kept_lb = np.sort(y1)[: int(np.ceil((1 - p) * y1.size))]
    kept_ub = np.sort(y1)[int(np.floor(p * y1.size)) :]
    fraction_lb = (1 - p) * y1.size - np.floor((1 - p) * y1.size)
    fraction_ub = 1 - (p * y1.size - np.floor(p * y1.size))
    w_lb = np.ones(kept_lb.size)
    w_ub = np.ones(kept_ub.size)
    if fraction_lb > 0:
        w_lb[-1] = fraction_lb
    if fraction_ub < 1:
        w_ub[0] = fraction_ub
    var_lb = np.average((kept_lb - mu_lb) ** 2, weights=w_lb)
    var_ub = np.average((kept_ub - mu_ub) ** 2, weights=w_ub)
    v_p = (1 - p) ** 2 * ((1 - s0) / (s0 * (1 - alpha)) + (1 - s1) / (s1 * alpha))
    e_s_alpha = s1 * alpha  # E[S | D = 1] P(D = 1)
    v_c = y0.var(ddof=1) / (s0 * (1 - alpha))  # Var(Y | D = 0, S = 1) / (E[S | D = 0] P(D = 0))
    v_lb = (
        var_lb / (e_s_alpha * (1 - p))
        + (y_low - mu_lb) ** 2 * p / (e_s_alpha * (1 - p))
        + ((y_low - mu_lb) / (1 - p)) ** 2 * v_p
    )
    v_ub = (
        var_ub / (e_s_alpha * (1 - p))
        + (y_high - mu_ub) ** 2 * p / (e_s_alpha * (1 - p))
        + ((y_high - mu_ub) / (1 - p)) ** 2 * v_p
    )
    lower, upper = mu_lb - y0.mean(), mu_ub - y0.mean()
    # Lee's V is the variance of sqrt(n) (estimate - bound), hence / n.
    lower_se, upper_se = np.sqrt((v_lb + v_c) / n), np.sqrt((v_ub + v_c) / n)
    return lower, upper, lower_se, upper_se, p


def test_bounds_match_independent_implementation_on_nsw(wages):
    before = wages.copy(deep=True)
    result = lee_bounds(wages, "log_wage", "treat", "employed")
    pd.testing.assert_frame_equal(wages, before)
    y = wages["log_wage"].fillna(0).to_numpy()
    d = wages["treat"].to_numpy(float)
    s = wages["employed"].to_numpy(float)
    lower, upper, lower_se, upper_se, p = _lee_reference(y, d, s)
    assert result.trimmed_arm == "treated"
    assert result.trimming_proportion == pytest.approx(p, rel=1e-12)
    assert result.lower == pytest.approx(lower, rel=1e-10)
    assert result.upper == pytest.approx(upper, rel=1e-10)
    assert result.lower_std_error == pytest.approx(lower_se, rel=1e-10)
    assert result.upper_std_error == pytest.approx(upper_se, rel=1e-10)
    assert result.observation_rates == pytest.approx((s[d == 1].mean(), s[d == 0].mean()))
    low, high = result.conf_int
    assert low < result.lower < result.upper < high
    # Differential attrition: difference in employment rates with HC1 (statsmodels).
    reference = sm.OLS(s, sm.add_constant(d)).fit(cov_type="HC1")
    assert result.attrition.estimate == pytest.approx(reference.params[1], rel=1e-10)
    assert result.attrition.std_error == pytest.approx(reference.bse[1], rel=1e-8)
    tidy = result.tidy()
    assert list(tidy.columns) == list(TIDY_COLUMNS)
    assert list(tidy["term"]) == ["lower_bound", "upper_bound", "identified_set"]
    assert tidy["conf_low"].iloc[2] == pytest.approx(low)


def test_analytic_standard_errors_agree_with_the_bootstrap(wages):
    result = lee_bounds(wages, "log_wage", "treat", "employed")
    rng = np.random.default_rng(5)
    draws = []
    for _ in range(300):
        sample = wages.iloc[rng.integers(0, len(wages), len(wages))].reset_index(drop=True)
        boot = lee_bounds(sample, "log_wage", "treat", "employed")
        draws.append((boot.lower, boot.upper))
    spread = np.asarray(draws).std(axis=0, ddof=1)
    assert result.lower_std_error == pytest.approx(spread[0], rel=0.2)
    assert result.upper_std_error == pytest.approx(spread[1], rel=0.2)


def test_control_arm_trimmed_when_it_is_observed_more():
    frame = pd.DataFrame(
        {
            "d": [1, 1, 1, 1, 0, 0, 0, 0],
            "seen": [1, 1, 1, 0, 1, 1, 1, 1],
            "y": [2.0, 3.0, 4.0, np.nan, 1.0, 2.0, 3.0, 4.0],
        }
    )
    result = lee_bounds(frame, "y", "d", "seen")
    assert result.trimmed_arm == "control" and result.trimming_proportion == 0.25
    # Control kept: top 3 -> mean 3 (lower bound 3 - 3 = 0); bottom 3 -> mean 2 (upper 1).
    assert (result.lower, result.upper) == (0.0, 1.0)


def test_imbens_manski_interval():
    assert imbens_manski_interval(0.0, 0.0, 1.0, 1.0) == pytest.approx((-1.959964, 1.959964))
    # A wide set: the critical value tends to the one-sided 1.645.
    low, high = imbens_manski_interval(0.0, 100.0, 1.0, 1.0)
    assert low == pytest.approx(-stats.norm.ppf(0.95), rel=1e-6)
    assert high == pytest.approx(100 + stats.norm.ppf(0.95), rel=1e-6)


def _selection_sample(rng, n=2000):
    d = rng.integers(0, 2, n)
    u = rng.normal(size=n)
    y0 = 1.0 + u
    y1 = y0 + 0.5 + 0.5 * u  # heterogeneous effect
    latent = rng.normal(size=n)
    s0 = latent < 0.0  # observed without treatment
    s1 = latent < 0.6  # treatment raises observation: monotone
    s = np.where(d == 1, s1, s0).astype(int)
    y = np.where(d == 1, y1, y0)
    return pd.DataFrame({"d": d, "s": s, "y": np.where(s == 1, y, np.nan)}), y1, y0, s0


def test_true_effect_for_the_always_observed_is_covered():
    rng = np.random.default_rng(17)
    true_effect = 0.5  # E[y1 - y0 | always observed] = 0.5 + 0.5 E[u | s0] = 0.5 (u indep.)
    covered = 0
    reps = 150
    for _ in range(reps):
        frame, *_ = _selection_sample(rng)
        result = lee_bounds(frame, "y", "d", "s")
        low, high = result.conf_int
        covered += low <= true_effect <= high
        assert result.trimmed_arm == "treated"
    assert covered / reps >= 0.9


def test_tightened_bounds_use_the_bootstrap():
    rng = np.random.default_rng(3)
    frame, *_ = _selection_sample(rng, n=1500)
    frame["region"] = rng.choice(["a", "b", "c"], len(frame))
    plain = lee_bounds(frame, "y", "d", "s")
    tight = lee_bounds(
        frame, "y", "d", "s", covariates_for_tightening="region", n_bootstrap=100, seed=1
    )
    assert "bootstrap" in tight.inference and "region" in tight.inference
    assert tight.lower_std_error > 0 and tight.upper_std_error > 0
    assert tight.lower <= tight.upper
    assert abs((tight.upper - tight.lower) - (plain.upper - plain.lower)) < 0.2
    again = lee_bounds(
        frame, "y", "d", "s", covariates_for_tightening="region", n_bootstrap=100, seed=1
    )
    assert again.lower_std_error == tight.lower_std_error  # reproducible with the seed
    assert isinstance(tight, LeeBounds)


def test_inputs_are_checked(wages):
    broken = wages.assign(log_wage=wages["log_wage"].where(wages.index != 0))
    broken.loc[0, "employed"] = 1
    with pytest.raises(EstimationError, match="'log_wage' is missing"):
        lee_bounds(broken, "log_wage", "treat", "employed")
    with pytest.raises(EstimationError, match="'employed'"):
        lee_bounds(wages.assign(employed=2), "log_wage", "treat", "employed")
    with pytest.raises(ConfigError, match="n_bootstrap"):
        lee_bounds(wages, "log_wage", "treat", "employed", n_bootstrap=5)
    with pytest.raises(ConfigError, match="level"):
        lee_bounds(wages, "log_wage", "treat", "employed", level=95)


def _village_sample(rng, n_villages=40, size=25, effect=0.5):
    """Attrition and outcomes that share a village shock; half the villages treated."""
    village = np.repeat(np.arange(n_villages), size)
    d = rng.permutation(np.repeat([0, 1], n_villages // 2))[village]
    shock = rng.normal(0, 1.0, n_villages)[village]
    u = rng.normal(size=village.size)
    latent = rng.random(village.size)
    s = (latent < 0.65 + 0.15 * d).astype(int)  # monotone: treatment only adds responders
    y = np.where(s == 1, effect * d + shock + u, np.nan)
    return pd.DataFrame({"village": village, "d": d, "s": s, "y": y})


@pytest.mark.parametrize("tighten", [None, "region"])
def test_whole_number_weights_equal_replicated_rows(tighten):
    rng = np.random.default_rng(5)
    frame, *_ = _selection_sample(rng, n=600)
    frame["region"] = rng.choice(["a", "b"], len(frame))
    frame["copies"] = rng.integers(1, 4, len(frame))
    replicated = frame.loc[frame.index.repeat(frame["copies"])].reset_index(drop=True)
    weighted = lee_bounds(frame, "y", "d", "s", weights="copies",
                          covariates_for_tightening=tighten, n_bootstrap=50)
    expanded = lee_bounds(replicated, "y", "d", "s", covariates_for_tightening=tighten,
                          n_bootstrap=50)
    assert weighted.lower == pytest.approx(expanded.lower, rel=1e-12)
    assert weighted.upper == pytest.approx(expanded.upper, rel=1e-12)
    np.testing.assert_allclose(weighted.observation_rates, expanded.observation_rates,
                               rtol=1e-12)
    assert weighted.trimming_proportion == pytest.approx(expanded.trimming_proportion,
                                                         rel=1e-12)
    assert weighted.attrition.estimate == pytest.approx(expanded.attrition.estimate, rel=1e-12)
    assert "bootstrap" in weighted.inference and weighted.lower_std_error > 0


def test_weights_recover_the_population_effect():
    """Stratum B (effect 1) is a fifth of the sample but four fifths of the population: the
    weighted bounds hold the population effect 0.8; the unweighted ones are near 0.5."""
    rng = np.random.default_rng(9)
    n = 4000
    stratum_b = rng.random(n) < 0.5
    d = rng.integers(0, 2, n)
    s = (rng.random(n) < 0.9 + 0.05 * d).astype(int)
    y = np.where(s == 1, np.where(stratum_b, 1.0, 0.0) * d + rng.normal(0, 0.2, n), np.nan)
    frame = pd.DataFrame({"d": d, "s": s, "y": y, "w": np.where(stratum_b, 4.0, 1.0)})
    weighted = lee_bounds(frame, "y", "d", "s", weights="w", n_bootstrap=100)
    plain = lee_bounds(frame, "y", "d", "s")
    assert weighted.conf_int[0] < 0.8 < weighted.conf_int[1]
    assert not plain.conf_int[0] < 0.8 < plain.conf_int[1]


def test_cluster_bootstrap_resamples_villages():
    rng = np.random.default_rng(11)
    frame = _village_sample(rng)
    clustered = lee_bounds(frame, "y", "d", "s", cluster="village", n_bootstrap=200, seed=2)
    plain = lee_bounds(frame, "y", "d", "s")
    assert "by cluster village" in clustered.inference and clustered.n_clusters == 40
    # the shared village shock makes the unit-level standard errors too small
    assert clustered.lower_std_error > 1.3 * plain.lower_std_error
    assert clustered.attrition.n_clusters == 40
    assert set(clustered.tidy()["n_clusters"]) == {40}
    with pytest.raises(ConfigError, match="cluster must be one column name"):
        lee_bounds(frame, "y", "d", "s", cluster=["village", "d"])


def test_cluster_bootstrap_intervals_cover_the_population_bounds():
    """The bounds of the village design's population (from 40,000 villages) lie inside the
    normal 95% intervals of the village bootstrap in at least 90% of 100 simulated evaluations
    of 40 villages; the unit-level analytic intervals, which ignore the shared village shock,
    cover in fewer than 80% (about half), so the check can tell the two apart."""
    population = lee_bounds(_village_sample(np.random.default_rng(0), n_villages=40_000),
                            "y", "d", "s")
    rng = np.random.default_rng(23)
    covered = {"cluster": 0, "analytic": 0}
    reps = 100
    for _ in range(reps):
        frame = _village_sample(rng)
        clustered = lee_bounds(frame, "y", "d", "s", cluster="village", n_bootstrap=100,
                               seed=int(rng.integers(2**31)))
        for name, result in (("cluster", clustered), ("analytic", lee_bounds(frame, "y", "d",
                                                                              "s"))):
            covered[name] += (abs(result.lower - population.lower)
                              <= 1.96 * result.lower_std_error)
    assert covered["cluster"] / reps >= 0.9, covered
    assert covered["analytic"] / reps < 0.8, covered
