"""iv against linearmodels IV2SLS on the Mroz (1987) data shipped with linearmodels.

linearmodels is run with ``debiased=True`` (Stata's ``ivregress 2sls, small`` factors: N/(N-K),
and G/(G-1)(N-1)/(N-K) when clustered), which are ours. Tolerance 1e-6 relative. Differences
documented: linearmodels reports clustered p-values from t(N-K), we use t(G-1); its robust
first-stage "f.stat" is the Wald chi2 W while ours is F = W/q (equal for one instrument).

Two-way clustering is compared with pyfixest 0.60's IV (``CRV1`` "a+b", fixest's min(G)
factor, rtol 1e-6) and with linearmodels' unadjusted two-way matrix times that factor
(linearmodels' ``debiased=True`` scales each meat by its own G/(G-1), a documented difference).
CR2 has no Python peer: it is compared with an explicit N x N computation of R clubSandwich's
``vcovCR(ivreg, type="CR2")`` (projected regressors, structural residuals), rtol 1e-8. HC2 and
HC3 likewise with R ivreg's ``vcovHC`` (stage-2 hat values of the projected regressors), and,
when the instrument is the regressor itself, with statsmodels' OLS HC2/HC3 (rtol 1e-10).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from linearmodels.datasets import mroz
from linearmodels.iv import IV2SLS
from scipy import linalg, stats

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate import iv, regress

RTOL = 1e-6
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword")


@pytest.fixture(scope="module")
def women() -> pd.DataFrame:
    return mroz.load()


@pytest.mark.parametrize(
    ("vcov", "cov_type"), [("iid", "unadjusted"), ("hc1", "robust"), ("cluster", "clustered")]
)
@pytest.mark.parametrize("instruments", [["fatheduc"], ["fatheduc", "motheduc"]])
def test_iv_matches_linearmodels(women, vcov, cov_type, instruments):
    working = women.dropna(subset=["lwage"])
    kwargs = {"clusters": working["age"]} if vcov == "cluster" else {}
    reference = IV2SLS(
        working["lwage"],
        sm.add_constant(working[["exper", "expersq"]]),
        working["educ"],
        working[instruments],
    ).fit(cov_type=cov_type, debiased=True, **kwargs)
    result = iv(
        women,
        "lwage",
        "educ",
        instruments,
        covariates=["exper", "expersq"],
        vcov=vcov,
        cluster="age" if vcov == "cluster" else None,
    )
    order = ["educ", "exper", "expersq", "const"]
    assert result.terms == ("educ", "exper", "expersq", "intercept")
    np.testing.assert_allclose(result.coefficients, reference.params[order], rtol=RTOL)
    np.testing.assert_allclose(
        np.sqrt(np.diag(result.covariance)), reference.std_errors[order], rtol=RTOL
    )
    assert result.n_obs == 428 and result.extras["n_dropped_missing"] == 325
    assert result.estimator == "iv_2sls"
    first_f = reference.first_stage.diagnostics.loc["educ", "f.stat"]
    scale = 1 if vcov == "iid" else len(instruments)
    np.testing.assert_allclose(result.extras["first_stage_f"] * scale, first_f, rtol=RTOL)
    if vcov != "cluster":
        np.testing.assert_allclose(result.p_value, reference.pvalues["educ"], rtol=1e-5)


@pytest.mark.parametrize("vcov", ["iid", "hc1", "cluster"])
def test_anderson_rubin_interval_inverts_the_reduced_form_test(women, vcov):
    cluster = "age" if vcov == "cluster" else None
    result = iv(
        women,
        "lwage",
        "educ",
        "fatheduc",
        covariates=["exper", "expersq"],
        vcov=vcov,
        cluster=cluster,
    )
    low, high = result.extras["anderson_rubin_conf_int"]
    assert low < result.estimate < high
    working = women.dropna(subset=["lwage"])
    for bound in (low, high):
        shifted = working.assign(adjusted=working["lwage"] - bound * working["educ"])
        test = regress(
            shifted, "adjusted", ["fatheduc", "exper", "expersq"], vcov=vcov, cluster=cluster
        )
        assert test.p_value == pytest.approx(0.05, abs=1e-8)


def test_strata_absorbed_match_dummies(women):
    frame = women.assign(city_kids=women["city"] * 10 + women["kidslt6"].clip(upper=2))
    working = frame.dropna(subset=["lwage"])
    dummies = pd.get_dummies(working["city_kids"].astype(str), drop_first=True, dtype=float)
    exog = sm.add_constant(pd.concat([working[["exper"]], dummies], axis=1))
    reference = IV2SLS(working["lwage"], exog, working["educ"], working[["fatheduc"]]).fit(
        cov_type="robust", debiased=True
    )
    result = iv(frame, "lwage", "educ", "fatheduc", covariates="exper", strata="city_kids")
    np.testing.assert_allclose(result.estimate, reference.params["educ"], rtol=RTOL)
    np.testing.assert_allclose(result.std_error, reference.std_errors["educ"], rtol=RTOL)


def test_weighted_iv_matches_linearmodels(women):
    working = women.dropna(subset=["lwage"]).assign(weight=lambda f: 1.0 + f["kidsge6"])
    reference = IV2SLS(
        working["lwage"],
        sm.add_constant(working[["exper"]]),
        working["educ"],
        working[["fatheduc"]],
        weights=working["weight"],
    ).fit(cov_type="robust", debiased=True)
    result = iv(working, "lwage", "educ", "fatheduc", covariates="exper", weights="weight")
    np.testing.assert_allclose(result.estimate, reference.params["educ"], rtol=RTOL)
    np.testing.assert_allclose(result.std_error, reference.std_errors["educ"], rtol=RTOL)


def test_iv_recovers_the_late_in_an_encouragement_design():
    rng = np.random.default_rng(11)
    n_villages, size = 80, 30
    village = np.repeat(np.arange(n_villages), size)
    encouraged = rng.permutation(np.tile([0, 1], n_villages // 2))[village].astype(np.int8)
    kind = rng.choice(["never", "complier", "always"], size=village.size, p=[0.3, 0.5, 0.2])
    took_up = ((kind == "always") | ((kind == "complier") & (encouraged == 1))).astype(np.int8)
    effect = np.where(kind == "complier", 3.0, 1.0)  # LATE = 3 (compliers), ATE differs
    income = (
        5
        + effect * took_up
        + (kind == "always") * 2.0
        + rng.normal(0, 2, village.size)
        + (rng.normal(0, 1, n_villages)[village])
    )
    frame = pd.DataFrame(
        {"village": village, "encouraged": encouraged, "took_up": took_up, "income": income}
    )
    before = frame.copy(deep=True)
    result = iv(frame, "income", "took_up", "encouraged", cluster="village")
    pd.testing.assert_frame_equal(frame, before)
    assert abs(result.estimate - 3.0) < 4 * result.std_error
    low, high = result.conf_int()
    assert low < 3.0 < high
    assert result.extras["first_stage_f"] > 100
    assert result.extras["first_stage_coefficient"] == pytest.approx(0.5, abs=0.1)
    ar_low, ar_high = result.extras["anderson_rubin_conf_int"]
    assert ar_low < 3.0 < ar_high
    assert result.n_clusters == 80 and result.inference == "cluster CR1 (village), t(G-1)"


def test_iv_options_are_checked(women):
    with pytest.raises(ConfigError, match="'hc1'"):
        iv(women, "lwage", "educ", "fatheduc", vcov="sandwich")
    with pytest.raises(EstimationError, match="'constant_z'"):
        iv(women.assign(constant_z=1.0), "lwage", "educ", "constant_z")


# -- two-way clustering and CR2 ---------------------------------------------------------------
@pytest.mark.parametrize("instruments", [["fatheduc"], ["fatheduc", "motheduc"]])
def test_two_way_clustered_iv_matches_pyfixest_and_linearmodels(women, instruments):
    """Two-way clustering by age (31 values) and experience (39) on the Mroz data.

    pyfixest 0.60 ``feols("y ~ w | d ~ z", vcov={"CRV1": "age+exper"})`` uses fixest's
    default small-sample factor with ``cluster_df="min"``: G/(G-1) (N-1)/(N-K), G = min(G_a,
    G_b), and t(G-1) p-values, which are ours (rtol 1e-6 for estimates and SEs, p-values too).
    linearmodels 7.1 IV2SLS ``cov_type="clustered"`` with two cluster columns scales each of the
    three meats by its own G/(G-1) when ``debiased=True``; with ``debiased=False`` it applies
    none, so ours is its unadjusted matrix times the one factor above (checked for the SEs and
    the first-stage Wald statistic, whose factor uses the first stage's K).
    """
    pf = pytest.importorskip("pyfixest")
    working = women.dropna(subset=["lwage"])
    clusters = ("age", "exper")
    reference = pf.feols(f"lwage ~ exper + expersq | educ ~ {' + '.join(instruments)}",
                         data=working, vcov={"CRV1": "+".join(clusters)})
    result = iv(women, "lwage", "educ", instruments, covariates=["exper", "expersq"],
                cluster=clusters)
    order = ["educ", "exper", "expersq", "Intercept"]
    np.testing.assert_allclose(result.coefficients, reference.coef()[order], rtol=RTOL)
    np.testing.assert_allclose(np.sqrt(np.diag(result.covariance)), reference.se()[order],
                               rtol=RTOL)
    np.testing.assert_allclose(result.tidy()["p_value"], reference.pvalue()[order], rtol=RTOL)
    n_clusters = min(working["age"].nunique(), working["exper"].nunique())
    assert result.n_clusters == n_clusters == 31 and result.df == 30
    assert result.inference == "two-way cluster CR1 (age, exper; G=31, 39), t(min(G)-1)"

    unadjusted = IV2SLS(
        working["lwage"],
        sm.add_constant(working[["exper", "expersq"]]),
        working["educ"],
        working[instruments],
    ).fit(cov_type="clustered", clusters=working[list(clusters)], debiased=False)
    n_obs, q = 428, len(instruments)

    def factor(n_params: int) -> float:
        return n_clusters / (n_clusters - 1) * (n_obs - 1) / (n_obs - n_params)

    np.testing.assert_allclose(
        np.sqrt(np.diag(result.covariance)),
        np.sqrt(factor(4)) * unadjusted.std_errors[["educ", "exper", "expersq", "const"]],
        rtol=RTOL,
    )
    first_wald = unadjusted.first_stage.diagnostics.loc["educ", "f.stat"]
    np.testing.assert_allclose(result.extras["first_stage_f"] * q * factor(3 + q), first_wald,
                               rtol=RTOL)
    assert result.extras["first_stage_f_p_value"] == pytest.approx(
        stats.f.sf(result.extras["first_stage_f"], q, 30), rel=1e-12)


def test_two_way_anderson_rubin_inverts_the_two_way_reduced_form_test(women):
    clusters = ("age", "exper")
    result = iv(women, "lwage", "educ", "fatheduc", covariates=["exper", "expersq"],
                cluster=clusters)
    low, high = result.extras["anderson_rubin_conf_int"]
    assert low < result.estimate < high
    working = women.dropna(subset=["lwage"])
    for bound in (low, high):
        shifted = working.assign(adjusted=working["lwage"] - bound * working["educ"])
        test = regress(shifted, "adjusted", ["fatheduc", "exper", "expersq"], cluster=clusters)
        assert test.df == 30
        assert test.p_value == pytest.approx(0.05, abs=1e-8)


def test_two_way_indefinite_first_stage_is_refused_with_a_note(women):
    """With 7 clusters in kidsge6 the two-way covariance of the two excluded instruments'
    first-stage coefficients is indefinite: no F (NaN) and a note, rather than a Wald
    statistic from an indefinite matrix (linearmodels reports one)."""
    result = iv(women, "lwage", "educ", ["fatheduc", "motheduc"],
                covariates=["exper", "expersq"], cluster=("age", "kidsge6"))
    working = women.dropna(subset=["lwage"])
    pf = pytest.importorskip("pyfixest")
    reference = pf.feols("lwage ~ exper + expersq | educ ~ fatheduc + motheduc", data=working,
                         vcov={"CRV1": "age+kidsge6"})
    assert result.std_error == pytest.approx(reference.se()["educ"], rel=RTOL)
    assert np.isnan(result.extras["first_stage_f"])
    assert "not positive definite" in result.extras["weak_iv_note"]


def _iv_cr2_reference(y, x, z, clusters):
    """2SLS and clubSandwich's CR2 for ivreg, written with explicit N x N matrices.

    clubSandwich (R/clubSandwich.R ``vcov_CR``, R/CR-adjustments.R ``CR2``, R/ivreg.R
    ``projection_matrix.ivreg`` = ``model.matrix(obj, component = "projected")``): with the
    identity working model and no weights, G_j = I - H_jj with H = X^ (X^'X^)^-1 X^', the
    estimating matrices are X^_j' G_j^(-1/2), the residuals y - X b, and the bread
    (X^'X^)^-1.
    """
    projection = z @ np.linalg.solve(z.T @ z, z.T)
    x_hat = projection @ x
    bread = np.linalg.inv(x_hat.T @ x_hat)
    beta = bread @ x_hat.T @ y
    residuals = y - x @ beta
    hat = x_hat @ bread @ x_hat.T
    meat = np.zeros_like(bread)
    for group in np.unique(clusters):
        index = np.flatnonzero(clusters == group)
        block = np.eye(index.size) - hat[np.ix_(index, index)]
        adjust = np.linalg.pinv(np.real(linalg.sqrtm(block)), hermitian=True, rcond=1e-10)
        score = x_hat[index].T @ adjust @ residuals[index]
        meat += np.outer(score, score)
    return beta, bread @ meat @ bread


@pytest.mark.parametrize("instruments", [["fatheduc"], ["fatheduc", "motheduc"]])
def test_cr2_matches_explicit_clubsandwich_formula(women, instruments):
    working = women.dropna(subset=["lwage"]).reset_index(drop=True)
    ones = np.ones(len(working))
    x = np.column_stack([working["educ"], working["exper"], working["expersq"], ones])
    z = np.column_stack([working[instruments], working["exper"], working["expersq"], ones])
    beta, covariance = _iv_cr2_reference(working["lwage"].to_numpy(), x, z,
                                         working["age"].to_numpy())
    result = iv(women, "lwage", "educ", instruments, covariates=["exper", "expersq"],
                cluster="age", vcov="cr2")
    np.testing.assert_allclose(result.coefficients, beta, rtol=1e-8)
    np.testing.assert_allclose(result.covariance, covariance, rtol=1e-8)
    assert result.inference == "cluster CR2 (age), t(G-1)" and result.df == 30
    clustered = iv(women, "lwage", "educ", instruments, covariates=["exper", "expersq"],
                   cluster="age")
    assert abs(result.std_error / clustered.std_error - 1) > 1e-3  # CR2 is not CR1 here


def test_cr2_with_absorbed_strata_matches_explicit_dummies(women):
    """Strata absorbed in both stages equal their dummies in X and Z (clustered by age, the
    strata city x kids cut across the clusters, so the absorbed projection enters H_gg)."""
    frame = women.assign(city_kids=women["city"] * 10 + women["kidslt6"].clip(upper=2))
    working = frame.dropna(subset=["lwage"]).reset_index(drop=True)
    dummies = pd.get_dummies(working["city_kids"].astype(str), dtype=float).to_numpy()
    x = np.column_stack([working["educ"], working["exper"], dummies])
    z = np.column_stack([working["fatheduc"], working["exper"], dummies])
    beta, covariance = _iv_cr2_reference(working["lwage"].to_numpy(), x, z,
                                         working["age"].to_numpy())
    result = iv(frame, "lwage", "educ", "fatheduc", covariates="exper", strata="city_kids",
                cluster="age", vcov="cr2")
    np.testing.assert_allclose(result.coefficients, beta[:2], rtol=1e-8)
    np.testing.assert_allclose(result.covariance, covariance[:2, :2], rtol=1e-8)


def test_cr2_first_stage_and_anderson_rubin_use_cr2(women):
    result = iv(women, "lwage", "educ", "fatheduc", covariates=["exper", "expersq"],
                cluster="age", vcov="cr2")
    first = regress(women.dropna(subset=["lwage"]), "educ", ["fatheduc", "exper", "expersq"],
                    cluster="age", vcov="cr2")
    assert result.extras["first_stage_f"] == pytest.approx(first.statistic**2, rel=1e-10)
    low, high = result.extras["anderson_rubin_conf_int"]
    working = women.dropna(subset=["lwage"])
    for bound in (low, high):
        shifted = working.assign(adjusted=working["lwage"] - bound * working["educ"])
        test = regress(shifted, "adjusted", ["fatheduc", "exper", "expersq"], cluster="age",
                       vcov="cr2")
        assert test.p_value == pytest.approx(0.05, abs=1e-8)


def test_cr2_and_two_way_cover_the_late_in_simulated_encouragement_designs():
    """Known LATE of 3 (compliers); 200 simulated designs with 30 villages crossed with 6
    enumerators: the CR2 and two-way intervals cover the truth at close to 95%."""
    rng = np.random.default_rng(2024)
    covered = {"cr2": 0, "two_way": 0}
    reps = 200
    for _ in range(reps):
        n_villages, size = 30, 20
        village = np.repeat(np.arange(n_villages), size)
        enumerator = rng.integers(0, 6, village.size)
        encouraged = rng.permutation(np.tile([0, 1], n_villages // 2))[village]
        kind = rng.choice(["never", "complier", "always"], size=village.size, p=[0.3, 0.5, 0.2])
        took_up = ((kind == "always") | ((kind == "complier") & (encouraged == 1))).astype(float)
        income = (3.0 * took_up + 2.0 * (kind == "always") + rng.normal(0, 2, village.size)
                  + rng.normal(0, 1, n_villages)[village] + rng.normal(0, 0.5, 6)[enumerator])
        frame = pd.DataFrame({"village": village, "enumerator": enumerator,
                              "encouraged": encouraged, "took_up": took_up, "income": income})
        for name, options in (("cr2", {"cluster": "village", "vcov": "cr2"}),
                              ("two_way", {"cluster": ("village", "enumerator")})):
            low, high = iv(frame, "income", "took_up", "encouraged", **options).conf_int()
            covered[name] += low < 3.0 < high
    for name, count in covered.items():
        assert 0.89 <= count / reps <= 0.995, (name, count)


def test_two_way_clustered_iv_with_absorbed_strata_equals_explicit_dummies(women):
    """Strata absorbed in both stages with two-way clustering equal the same strata entered as
    dummy covariates (the same K: six levels, or five dummies and the intercept), which
    pyfixest's IV reproduces at 1e-6 (pyfixest absorbing the strata itself applies a slightly
    different small-sample factor with fixed effects that are not nested in the clusters,
    for :func:`regress` too)."""
    pf = pytest.importorskip("pyfixest")
    frame = women.assign(city_kids=women["city"] * 10 + women["kidslt6"].clip(upper=2))
    dummies = pd.get_dummies(frame["city_kids"], prefix="s", drop_first=True, dtype=float)
    frame = pd.concat([frame, dummies], axis=1)
    clusters = ("age", "exper")
    absorbed = iv(frame, "lwage", "educ", "fatheduc", covariates="exper", strata="city_kids",
                  cluster=clusters)
    explicit = iv(frame, "lwage", "educ", "fatheduc", covariates=["exper", *dummies.columns],
                  cluster=clusters)
    assert absorbed.extras["n_params"] == explicit.extras["n_params"] == 8
    np.testing.assert_allclose(absorbed.coefficients, explicit.coefficients[:2], rtol=1e-8)
    np.testing.assert_allclose(absorbed.covariance, explicit.covariance[:2, :2], rtol=1e-8)
    assert absorbed.extras["first_stage_f"] == pytest.approx(explicit.extras["first_stage_f"],
                                                             rel=1e-8)
    working = frame.dropna(subset=["lwage"])
    reference = pf.feols(f"lwage ~ exper + {' + '.join(dummies.columns)} | educ ~ fatheduc",
                         data=working, vcov={"CRV1": "+".join(clusters)})
    np.testing.assert_allclose(absorbed.std_error, reference.se()["educ"], rtol=RTOL)


def test_weighted_cr2_is_the_explicit_formula_in_the_weighted_space(women):
    """The documented weighting convention: rows scaled by sqrt(w) before the explicit CR2."""
    working = women.dropna(subset=["lwage"]).reset_index(drop=True)
    working = working.assign(weight=1.0 + working["kidsge6"])
    root = np.sqrt(working["weight"].to_numpy())
    ones = np.ones(len(working))
    x = np.column_stack([working["educ"], working["exper"], ones]) * root[:, None]
    z = np.column_stack([working["fatheduc"], working["exper"], ones]) * root[:, None]
    beta, covariance = _iv_cr2_reference(working["lwage"].to_numpy() * root, x, z,
                                         working["age"].to_numpy())
    result = iv(working, "lwage", "educ", "fatheduc", covariates="exper", weights="weight",
                cluster="age", vcov="cr2")
    np.testing.assert_allclose(result.coefficients, beta, rtol=1e-8)
    np.testing.assert_allclose(result.covariance, covariance, rtol=1e-8)


def _iv_hc_reference(y, x, z, power):
    """2SLS and R ivreg's ``vcovHC(fit, type = "HC2"|"HC3")`` with explicit N x N matrices:
    the scores X^_i e_i, each e_i^2 divided by (1 - h_ii)^power, h the diagonal of the hat
    matrix of the projected regressors X^ (X^'X^)^-1 X^' (ivreg's ``hatvalues(type =
    "stage2")``)."""
    x_hat = z @ np.linalg.solve(z.T @ z, z.T @ x)
    bread = np.linalg.inv(x_hat.T @ x_hat)
    beta = bread @ x_hat.T @ y
    residuals = y - x @ beta
    leverage = np.diag(x_hat @ bread @ x_hat.T)
    meat = (x_hat * (residuals**2 / (1 - leverage) ** power)[:, None]).T @ x_hat
    return beta, bread @ meat @ bread


@pytest.mark.parametrize(("vcov", "power"), [("hc2", 1), ("hc3", 2)])
@pytest.mark.parametrize("instruments", [["fatheduc"], ["fatheduc", "motheduc"]])
def test_hc2_hc3_match_explicit_ivreg_formula(women, instruments, vcov, power):
    working = women.dropna(subset=["lwage"]).reset_index(drop=True)
    ones = np.ones(len(working))
    x = np.column_stack([working["educ"], working["exper"], working["expersq"], ones])
    z = np.column_stack([working[instruments], working["exper"], working["expersq"], ones])
    beta, covariance = _iv_hc_reference(working["lwage"].to_numpy(), x, z, power)
    result = iv(women, "lwage", "educ", instruments, covariates=["exper", "expersq"], vcov=vcov)
    np.testing.assert_allclose(result.coefficients, beta, rtol=1e-8)
    np.testing.assert_allclose(result.covariance, covariance, rtol=1e-8)
    assert result.inference == f"{vcov.upper()}, t(N-K)" and result.df == len(working) - 4
    robust = iv(women, "lwage", "educ", instruments, covariates=["exper", "expersq"])
    assert abs(result.std_error / robust.std_error - 1) > 1e-4  # not HC1 under another name


@pytest.mark.parametrize("vcov", ["hc2", "hc3"])
def test_hc2_hc3_with_absorbed_strata_and_weights_match_explicit_dummies(women, vcov):
    """One strata column absorbed in both stages equals its dummies in X and Z; weights scale
    the rows by sqrt(w) first (the convention of :func:`regress`)."""
    frame = women.assign(city_kids=women["city"] * 10 + women["kidslt6"].clip(upper=1),
                         weight=1.0 + women["kidsge6"])
    working = frame.dropna(subset=["lwage"]).reset_index(drop=True)
    root = np.sqrt(working["weight"].to_numpy())
    dummies = pd.get_dummies(working["city_kids"].astype(str), dtype=float).to_numpy()
    x = np.column_stack([working["educ"], working["exper"], dummies]) * root[:, None]
    z = np.column_stack([working["fatheduc"], working["exper"], dummies]) * root[:, None]
    beta, covariance = _iv_hc_reference(working["lwage"].to_numpy() * root, x, z,
                                        1 if vcov == "hc2" else 2)
    result = iv(frame, "lwage", "educ", "fatheduc", covariates="exper", strata="city_kids",
                weights="weight", vcov=vcov)
    np.testing.assert_allclose(result.coefficients, beta[:2], rtol=1e-8)
    np.testing.assert_allclose(result.covariance, covariance[:2, :2], rtol=1e-8)
    with pytest.raises(EstimationError, match="leverage 1"):  # a stratum of one woman
        iv(frame.assign(city_kids=frame["city"] * 10 + frame["kidslt6"].clip(upper=2)),
           "lwage", "educ", "fatheduc", covariates="exper", strata="city_kids", vcov=vcov)


@pytest.mark.parametrize("vcov", ["hc2", "hc3"])
def test_hc2_hc3_with_the_regressor_as_its_own_instrument_are_statsmodels_ols(women, vcov):
    """With Z = X, 2SLS is OLS and the projected regressors are X: statsmodels' OLS HC2/HC3
    (an independent implementation) must agree, and so must the first stage's F."""
    working = women.dropna(subset=["lwage"]).assign(educ_copy=lambda f: f["educ"] * 1.0)
    result = iv(working, "lwage", "educ", "educ_copy", covariates=["exper", "expersq"],
                vcov=vcov)
    reference = sm.OLS(working["lwage"], sm.add_constant(working[["educ", "exper", "expersq"]])
                       ).fit(cov_type=vcov.upper())
    assert result.estimate == pytest.approx(reference.params["educ"], rel=1e-10)
    assert result.std_error == pytest.approx(reference.bse["educ"], rel=1e-10)


def test_hc2_first_stage_and_anderson_rubin_use_the_first_stage_leverage(women):
    result = iv(women, "lwage", "educ", "fatheduc", covariates=["exper", "expersq"],
                vcov="hc2")
    working = women.dropna(subset=["lwage"])
    first = regress(working, "educ", ["fatheduc", "exper", "expersq"], vcov="hc2")
    assert result.extras["first_stage_f"] == pytest.approx(first.statistic**2, rel=1e-10)
    for bound in result.extras["anderson_rubin_conf_int"]:
        shifted = working.assign(adjusted=working["lwage"] - bound * working["educ"])
        test = regress(shifted, "adjusted", ["fatheduc", "exper", "expersq"], vcov="hc2")
        assert test.p_value == pytest.approx(0.05, abs=1e-8)


def test_cr2_and_hc3_with_two_absorbed_strata_match_explicit_dummies(women):
    """Two strata columns absorbed in both stages (the larger handled without dummies, the
    other expanded) equal their dummies in X and Z."""
    frame = women.assign(kids=women["kidslt6"].clip(upper=1),
                         ages=(women["age"] // 10).clip(upper=5))
    working = frame.dropna(subset=["lwage"]).reset_index(drop=True)
    dummies = np.column_stack([pd.get_dummies(working["ages"].astype(str), dtype=float),
                               pd.get_dummies(working["kids"].astype(str), drop_first=True,
                                              dtype=float)])
    x = np.column_stack([working["educ"], working["exper"], dummies])
    z = np.column_stack([working["fatheduc"], working["exper"], dummies])
    y = working["lwage"].to_numpy()
    beta, covariance = _iv_cr2_reference(y, x, z, working["city"].to_numpy() * 100
                                         + working["age"].to_numpy())
    result = iv(frame.assign(cell=frame["city"] * 100 + frame["age"]), "lwage", "educ",
                "fatheduc", covariates="exper", strata=["ages", "kids"], cluster="cell",
                vcov="cr2")
    np.testing.assert_allclose(result.coefficients, beta[:2], rtol=1e-8)
    np.testing.assert_allclose(result.covariance, covariance[:2, :2], rtol=1e-8)
    _, covariance = _iv_hc_reference(y, x, z, power=2)
    result = iv(frame, "lwage", "educ", "fatheduc", covariates="exper",
                strata=["ages", "kids"], vcov="hc3")
    np.testing.assert_allclose(result.covariance, covariance[:2, :2], rtol=1e-8)
