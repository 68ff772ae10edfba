"""iv against linearmodels IV2SLS on the Mroz (1987) data shipped with linearmodels.

linearmodels is run with ``debiased=True`` (Stata's ``ivregress 2sls, small`` factors: N/(N-K),
and G/(G-1)(N-1)/(N-K) when clustered), which are ours. Tolerance 1e-6 relative. Differences
documented: linearmodels reports clustered p-values from t(N-K), we use t(G-1); its robust
first-stage "f.stat" is the Wald chi2 W while ours is F = W/q (equal for one instrument).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from linearmodels.datasets import mroz
from linearmodels.iv import IV2SLS

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate import iv, regress

RTOL = 1e-6


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
    with pytest.raises(EstimationError, match="not implemented"):
        iv(women, "lwage", "educ", "fatheduc", vcov="hc3")
    with pytest.raises(EstimationError, match="'constant_z'"):
        iv(women.assign(constant_z=1.0), "lwage", "educ", "constant_z")
