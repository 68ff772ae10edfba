"""ipw, aipw and overlap: against moderndid (R DRDID's port) and an independent M-estimator.

Real data: the Dehejia-Wahba NSW experimental sample (185 treated, 260 controls) shipped by the
``causaldata`` package (``nsw_mixtape``; int8 covariates as read from Stata), and the same
treated units with the 15,992 CPS comparison units (``cps_mixtape``) for poor overlap.

Peers. The ATT estimators equal Sant'Anna and Zhao's panel estimators with the outcome change
replaced by the outcome (``y0 = 0``): ``moderndid.drdid.std_ipw_did_panel`` (Hajek IPW) and
``drdid_panel`` (doubly robust), whose influence-function standard errors account for the
estimated propensity score and outcome model. moderndid is already a dependency of the project
(it checks ``staggered_did``), installs offline and ports R's DRDID line by line, which is why
it is the peer. Tolerance 1e-8 (relative) on estimates and standard errors. The ATE estimators
are checked against an independent computation in this file: statsmodels' Logit for the
propensity score and a numerical (central-difference) Jacobian of the stacked estimating
equations for the sandwich (rtol 1e-6 for the standard errors, 1e-9 for the estimates).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate.weighting import aipw, crump_alpha, ipw, overlap

COVARIATES = ["age", "educ", "black", "hisp", "marr", "nodegree", "re74", "re75"]


@pytest.fixture(scope="module")
def nsw() -> pd.DataFrame:
    causaldata = pytest.importorskip("causaldata")
    return causaldata.nsw_mixtape.load_pandas().data


@pytest.fixture(scope="module")
def nsw_cps(nsw) -> pd.DataFrame:
    causaldata = pytest.importorskip("causaldata")
    cps = causaldata.cps_mixtape.load_pandas().data
    return pd.concat([nsw[nsw["treat"] == 1], cps], ignore_index=True)


def _arrays(frame: pd.DataFrame):
    x = np.column_stack([np.ones(len(frame))] + [frame[c].astype(float) for c in COVARIATES])
    return x, frame["treat"].to_numpy(float), frame["re78"].to_numpy(float)


@pytest.mark.parametrize("weighted", [False, True])
def test_att_matches_moderndid_drdid(nsw, weighted):
    drdid = pytest.importorskip("moderndid.drdid")
    x, d, y = _arrays(nsw)
    frame = nsw.assign(w=1.0 + (np.arange(len(nsw)) % 3)) if weighted else nsw
    weights = frame["w"].to_numpy(float) if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dr = drdid.drdid_panel(y, np.zeros_like(y), d, x, i_weights=weights)
        std_ipw = drdid.std_ipw_did_panel(y, np.zeros_like(y), d, x, i_weights=weights)
    assert dr.att == pytest.approx(1797.45, abs=0.01) or weighted
    ours_dr = aipw(frame, "re78", "treat", COVARIATES, estimand="ATT",
                   weights="w" if weighted else None)
    ours_ipw = ipw(frame, "re78", "treat", COVARIATES, estimand="ATT",
                   weights="w" if weighted else None)
    assert ours_dr.estimate == pytest.approx(dr.att, rel=1e-8)
    assert ours_dr.std_error == pytest.approx(dr.se, rel=1e-8)
    assert ours_ipw.estimate == pytest.approx(std_ipw.att, rel=1e-8)
    assert ours_ipw.std_error == pytest.approx(std_ipw.se, rel=1e-8)
    assert ours_dr.terms == ("ATT",) and ours_dr.df is None and ours_dr.n_obs == 445


def _numerical_jacobian(moment_sum, theta, scale):
    jacobian = np.zeros((theta.size, theta.size))
    for j in range(theta.size):
        step = 1e-5 * scale[j]
        up, down = theta.copy(), theta.copy()
        up[j] += step
        down[j] -= step
        jacobian[:, j] = (moment_sum(up) - moment_sum(down)) / (2 * step)
    return jacobian


def _reference_ate(frame: pd.DataFrame, doubly_robust: bool, clusters=None):
    """ATE and its sandwich SE from statsmodels' logit and numerically differentiated moments."""
    x, d, y = _arrays(frame)
    k = x.shape[1]
    gamma = sm.Logit(d, x).fit(disp=0, tol=1e-12, maxiter=200).params
    e = 1 / (1 + np.exp(-x @ gamma))
    if doubly_robust:
        beta1 = sm.WLS(y[d == 1], x[d == 1]).fit().params
        beta0 = sm.WLS(y[d == 0], x[d == 0]).fit().params
        r1 = np.sum(d / e * (y - x @ beta1)) / np.sum(d / e)
        r0 = np.sum((1 - d) / (1 - e) * (y - x @ beta0)) / np.sum((1 - d) / (1 - e))
        a1, a0 = np.mean(x @ beta1), np.mean(x @ beta0)
        theta = np.concatenate([gamma, beta1, beta0, [a1, r1, a0, r0]])

        def moments(t):
            g, b1, b0 = t[:k], t[k : 2 * k], t[2 * k : 3 * k]
            a1_, r1_, a0_, r0_ = t[3 * k :]
            p = 1 / (1 + np.exp(-x @ g))
            return np.column_stack(
                [
                    x * (d - p)[:, None],
                    x * (d * (y - x @ b1))[:, None],
                    x * ((1 - d) * (y - x @ b0))[:, None],
                    x @ b1 - a1_,
                    d / p * (y - x @ b1 - r1_),
                    x @ b0 - a0_,
                    (1 - d) / (1 - p) * (y - x @ b0 - r0_),
                ]
            )

        contrast = np.zeros(theta.size)
        contrast[3 * k :] = [1, 1, -1, -1]
    else:
        mu1 = np.sum(d / e * y) / np.sum(d / e)
        mu0 = np.sum((1 - d) / (1 - e) * y) / np.sum((1 - d) / (1 - e))
        theta = np.concatenate([gamma, [mu1, mu0]])

        def moments(t):
            p = 1 / (1 + np.exp(-x @ t[:k]))
            return np.column_stack(
                [x * (d - p)[:, None], d / p * (y - t[k]), (1 - d) / (1 - p) * (y - t[k + 1])]
            )

        contrast = np.zeros(theta.size)
        contrast[k:] = [1, -1]
    scale = np.maximum(np.abs(theta), 1e-3)
    jacobian = _numerical_jacobian(lambda t: moments(t).sum(axis=0), theta, scale)
    influence = moments(theta) @ np.linalg.solve(jacobian.T, contrast)
    if clusters is None:
        variance = influence @ influence
    else:
        sums = pd.Series(influence).groupby(clusters).sum().to_numpy()
        variance = sums @ sums * sums.size / (sums.size - 1)
    return float(contrast @ theta), float(np.sqrt(variance))


@pytest.mark.parametrize("doubly_robust", [False, True])
def test_ate_matches_independent_m_estimator(nsw, doubly_robust):
    estimator = aipw if doubly_robust else ipw
    estimate, std_error = _reference_ate(nsw, doubly_robust)
    result = estimator(nsw, "re78", "treat", COVARIATES)
    assert result.estimate == pytest.approx(estimate, rel=1e-9)
    assert result.std_error == pytest.approx(std_error, rel=1e-6)
    # Clustered: sums of the influence function within clusters, G/(G-1).
    frame = nsw.assign(block=np.arange(len(nsw)) // 5)
    estimate, std_error = _reference_ate(frame, doubly_robust, clusters=frame["block"].to_numpy())
    clustered = estimator(frame, "re78", "treat", COVARIATES, cluster="block")
    assert clustered.std_error == pytest.approx(std_error, rel=1e-6)
    assert clustered.n_clusters == 89 and "clustered (block)" in clustered.inference


def test_int8_inputs_and_the_callers_frame(nsw):
    assert nsw["age"].dtype == np.int8
    before = nsw.copy(deep=True)
    as_float = nsw.astype({name: float for name in [*COVARIATES, "treat"]})
    for estimand in ("ATE", "ATT"):
        ours = aipw(nsw, "re78", "treat", COVARIATES, estimand=estimand)
        again = aipw(as_float, "re78", "treat", COVARIATES, estimand=estimand)
        assert ours.estimate == pytest.approx(again.estimate, rel=1e-12)
    pd.testing.assert_frame_equal(nsw, before)


def test_balance_after_weighting_follows_cobalt(nsw):
    result = ipw(nsw, "re78", "treat", COVARIATES, estimand="ATT")
    balance = result.extras["balance"]
    table = balance.table.set_index("variable")
    x, d, _ = _arrays(nsw)
    gamma = sm.Logit(d, x).fit(disp=0, tol=1e-12).params
    odds = np.exp(x @ gamma)
    age = nsw["age"].to_numpy(float)
    treated_sd = age[d == 1].std(ddof=1)
    weighted_control = np.sum(odds[d == 0] * age[d == 0]) / np.sum(odds[d == 0])
    expected = (age[d == 1].mean() - weighted_control) / treated_sd
    assert table.loc["age", "smd_after"] == pytest.approx(expected, rel=1e-8)
    assert table.loc["age", "smd_before"] == pytest.approx(
        (age[d == 1].mean() - age[d == 0].mean()) / treated_sd, rel=1e-10
    )
    w = odds[d == 0]
    ess = w.sum() ** 2 / (w**2).sum()
    sizes = balance.sample_size.set_index("arm")
    assert sizes.loc[0, "ess_after"] == pytest.approx(ess, rel=1e-10)
    assert sizes.loc[1, "ess_after"] == pytest.approx(185.0)
    # Weighted variance ratio: cobalt's unbiased weighted variance.
    m = np.sum(w * age[d == 0]) / w.sum()
    var_c = np.sum(w * (age[d == 0] - m) ** 2) / (w.sum() - (w**2).sum() / w.sum())
    assert table.loc["age", "variance_ratio_after"] == pytest.approx(
        age[d == 1].var(ddof=1) / var_c, rel=1e-8
    )


def test_overlap_and_trimming_with_cps_controls(nsw_cps):
    summary = overlap(nsw_cps, "treat", COVARIATES)
    by_arm = summary.by_arm.set_index("arm")
    assert by_arm.loc[1, "n"] == 185 and by_arm.loc[0, "n"] == 15992
    assert by_arm.loc[1, "median"] > by_arm.loc[0, "median"]
    assert summary.share_outside > 0.9  # almost all CPS controls have e < 0.1
    low, high = summary.crump_bounds
    assert 0 < low < 0.1 and high == pytest.approx(1 - low)
    trimmed = ipw(nsw_cps, "re78", "treat", COVARIATES, trim="crump")
    assert trimmed.extras["trim_bounds"] == pytest.approx((low, high))
    assert trimmed.n_obs == len(nsw_cps) - trimmed.extras["n_trimmed"]
    assert trimmed.extras["n_trimmed"] > 10000
    fixed = aipw(nsw_cps, "re78", "treat", COVARIATES, estimand="ATT", trim=(0.01, 0.99))
    assert fixed.extras["trim_bounds"] == (0.01, 0.99)
    assert 0 < fixed.extras["n_trimmed"] < len(nsw_cps)


def test_crump_rule_against_a_direct_search():
    rng = np.random.default_rng(4)
    e = 1 / (1 + np.exp(-rng.normal(0, 2.5, 3000)))
    alpha = crump_alpha(e)
    g = 1 / (e * (1 - e))
    gamma = 1 / (alpha * (1 - alpha))
    # The threshold solves gamma = 2 E[g | g <= gamma] up to the discreteness of the sample.
    assert gamma == pytest.approx(2 * g[g <= gamma].mean(), rel=1e-2)


def _simulate(rng, n=1000):
    x1, x2 = rng.normal(size=n), rng.binomial(1, 0.4, n)
    e = 1 / (1 + np.exp(-(-0.3 + 0.8 * x1 - 0.5 * x2)))
    d = (rng.random(n) < e).astype(np.int8)
    effect = 2.0 + 1.0 * x1  # heterogeneous: ATE 2, ATT 2 + E[x1 | d = 1]
    y = 1.0 + x1 + 0.5 * x2 + effect * d + rng.normal(size=n)
    return pd.DataFrame({"x1": x1, "x2": x2.astype(np.int8), "d": d, "y": y})


def _true_att() -> float:
    """2 + E[x1 e(x)] / E[e(x)] by Gauss-Hermite quadrature over x1 ~ N(0, 1), x2 ~ B(0.4)."""
    nodes, masses = np.polynomial.hermite_e.hermegauss(80)
    masses = masses / masses.sum()
    numerator = denominator = 0.0
    for x2, share in ((0, 0.6), (1, 0.4)):
        e = 1 / (1 + np.exp(-(-0.3 + 0.8 * nodes - 0.5 * x2)))
        numerator += share * np.sum(masses * nodes * e)
        denominator += share * np.sum(masses * e)
    return 2.0 + numerator / denominator


def test_simulated_known_effects_are_covered():
    """Monte Carlo: intervals cover the true ATE/ATT; mean SE close to the SD of the estimates."""
    rng = np.random.default_rng(2024)
    keys = (("ipw", "ATE"), ("aipw", "ATE"), ("ipw", "ATT"), ("aipw", "ATT"))
    draws: dict[tuple[str, str], list[tuple[float, float, bool]]] = {key: [] for key in keys}
    att = _true_att()
    for _ in range(120):
        frame = _simulate(rng)
        for name, estimand in keys:
            estimator = ipw if name == "ipw" else aipw
            result = estimator(frame, "y", "d", ["x1", "x2"], estimand=estimand)
            low, high = result.conf_int()
            target = 2.0 if estimand == "ATE" else att
            covered = low <= target <= high
            draws[(name, estimand)].append((result.estimate, result.std_error, covered))
    for key, rows in draws.items():
        estimates, std_errors, covered = map(np.asarray, zip(*rows, strict=True))
        assert 0.85 <= covered.mean() <= 0.995, (key, covered.mean())
        assert 0.8 <= std_errors.mean() / estimates.std(ddof=1) <= 1.25, key
        target = 2.0 if key[1] == "ATE" else att
        assert abs(estimates.mean() - target) < 3 * estimates.std(ddof=1) / np.sqrt(120), key


def test_options_are_checked_early(nsw):
    with pytest.raises(ConfigError, match=r"'ATE'.*'ATT'"):
        ipw(nsw, "re78", "treat", COVARIATES, estimand="ATC")
    with pytest.raises(ConfigError, match="trim"):
        ipw(nsw, "re78", "treat", COVARIATES, trim=(0.9, 0.1))
    with pytest.raises(ConfigError, match="'crump'"):
        aipw(nsw, "re78", "treat", COVARIATES, trim="sturmer")
    with pytest.raises(ConfigError, match="'nope'"):
        aipw(nsw, "re78", "treat", ["nope"])
    separated = nsw.assign(score=nsw["treat"].astype(float) * 10 - 5)
    with pytest.raises(EstimationError, match="separate"):
        ipw(separated, "re78", "treat", ["score"])
