"""regress, difference_in_means, ancova and the result type, against statsmodels and linearmodels.

Reference data ship with the peers (no network): statsmodels' Grunfeld investment panel
(11 firms x 20 years). Tolerances are relative, 1e-8, on estimates and standard errors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.datasets import grunfeld

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate import (
    TIDY_COLUMNS,
    EstimationResult,
    ancova,
    difference_in_means,
    regress,
)

RTOL = 1e-8


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    data = grunfeld.load_pandas().data
    data["year"] = data["year"].astype(int)
    data["firm_code"] = pd.factorize(data["firm"])[0]
    return data


def _dummies(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return pd.get_dummies(frame[columns].astype(str), drop_first=True, dtype=float)


def _by_name(result: EstimationResult, reference, mapping: dict[str, str]):
    ours_estimate = np.array([result.term(term).estimate for term in mapping])
    ours_se = np.array([result.term(term).std_error for term in mapping])
    return (
        ours_estimate,
        ours_se,
        reference.params[list(mapping.values())].to_numpy(),
        reference.bse[list(mapping.values())].to_numpy(),
    )


@pytest.mark.parametrize(
    ("vcov", "cov_type"),
    [("iid", "nonrobust"), ("hc1", "HC1"), ("hc2", "HC2"), ("hc3", "HC3"), ("cluster", "cluster")],
)
def test_regress_matches_statsmodels(panel, vcov, cov_type):
    exog = sm.add_constant(panel[["value", "capital"]])
    kwds = {"groups": panel["firm_code"]} if vcov == "cluster" else None
    reference = sm.OLS(panel["invest"], exog).fit(cov_type=cov_type, cov_kwds=kwds, use_t=True)
    result = regress(
        panel,
        "invest",
        ["value", "capital"],
        vcov=vcov,
        cluster="firm" if vcov == "cluster" else None,
    )
    mapping = {"value": "value", "capital": "capital", "intercept": "const"}
    estimate, std_error, ref_estimate, ref_se = _by_name(result, reference, mapping)
    np.testing.assert_allclose(estimate, ref_estimate, rtol=RTOL)
    np.testing.assert_allclose(std_error, ref_se, rtol=RTOL)
    # statsmodels uses t(N-K), and t(G-1) when clustered, like Stata and like us.
    np.testing.assert_allclose(result.p_value, reference.pvalues["value"], rtol=1e-6)
    np.testing.assert_allclose(result.conf_int(), reference.conf_int().loc["value"], rtol=RTOL)
    assert result.n_obs == 220
    assert result.n_clusters == (11 if vcov == "cluster" else None)
    assert result.main_term == "value"


def test_weighted_regression_matches_statsmodels_wls(panel):
    weights = 1.0 + (panel["firm_code"] % 3)
    frame = panel.assign(weight=weights)
    exog = sm.add_constant(frame[["value", "capital"]])
    for vcov, cov_type, kwds in [
        ("iid", "nonrobust", None),
        ("hc1", "HC1", None),
        ("cluster", "cluster", {"groups": frame["firm_code"]}),
    ]:
        reference = sm.WLS(frame["invest"], exog, weights=weights).fit(
            cov_type=cov_type, cov_kwds=kwds
        )
        result = regress(
            frame,
            "invest",
            ["value", "capital"],
            weights="weight",
            vcov=vcov,
            cluster="firm" if vcov == "cluster" else None,
        )
        estimate, std_error, ref_estimate, ref_se = _by_name(
            result, reference, {"value": "value", "capital": "capital", "intercept": "const"}
        )
        np.testing.assert_allclose(estimate, ref_estimate, rtol=RTOL)
        np.testing.assert_allclose(std_error, ref_se, rtol=RTOL)
        assert result.estimator == "wls"


@pytest.mark.parametrize("vcov", ["iid", "hc1"])
def test_two_way_fixed_effects_match_dummies(panel, vcov):
    exog = sm.add_constant(
        pd.concat([panel[["value", "capital"]], _dummies(panel, ["firm", "year"])], axis=1)
    )
    reference = sm.OLS(panel["invest"], exog).fit(cov_type={"iid": "nonrobust", "hc1": "HC1"}[vcov])
    result = regress(
        panel, "invest", ["value", "capital"], fixed_effects=["firm", "year"], vcov=vcov
    )
    estimate, std_error, ref_estimate, ref_se = _by_name(
        result, reference, {"value": "value", "capital": "capital"}
    )
    np.testing.assert_allclose(estimate, ref_estimate, rtol=RTOL)
    np.testing.assert_allclose(std_error, ref_se, rtol=RTOL)
    # 11 firm levels + 20 year levels - 1 redundant (connected panel) = K of the dummy model - 2.
    assert result.extras["n_params"] == exog.shape[1]


@pytest.mark.parametrize(("vcov", "cov_type"), [("hc2", "HC2"), ("hc3", "HC3")])
def test_one_way_fixed_effects_leverage_matches_dummies(panel, vcov, cov_type):
    exog = sm.add_constant(
        pd.concat([panel[["value", "capital"]], _dummies(panel, ["firm"])], axis=1)
    )
    reference = sm.OLS(panel["invest"], exog).fit(cov_type=cov_type)
    result = regress(panel, "invest", ["value", "capital"], fixed_effects="firm", vcov=vcov)
    estimate, std_error, ref_estimate, ref_se = _by_name(
        result, reference, {"value": "value", "capital": "capital"}
    )
    np.testing.assert_allclose(estimate, ref_estimate, rtol=RTOL)
    np.testing.assert_allclose(std_error, ref_se, rtol=RTOL)


def test_clustered_fixed_effects_follow_reghdfe(panel):
    """Year FE not nested in firm clusters count fully; firm FE nested in them count nothing."""
    exog = sm.add_constant(
        pd.concat([panel[["value", "capital"]], _dummies(panel, ["firm", "year"])], axis=1)
    )
    reference = sm.OLS(panel["invest"], exog).fit(
        cov_type="cluster", cov_kwds={"groups": panel["firm_code"]}, use_t=True
    )
    result = regress(
        panel, "invest", ["value", "capital"], fixed_effects=["firm", "year"], cluster="firm"
    )
    n_obs, k_dummies = exog.shape
    # reghdfe: 2 regressors + constant + 19 year levels; firm levels nested in clusters.
    assert result.extras["n_params"] == 2 + 1 + 19
    rescale = np.sqrt((n_obs - k_dummies) / (n_obs - result.extras["n_params"]))
    estimate, std_error, ref_estimate, ref_se = _by_name(
        result, reference, {"value": "value", "capital": "capital"}
    )
    np.testing.assert_allclose(estimate, ref_estimate, rtol=RTOL)
    np.testing.assert_allclose(std_error, ref_se * rescale, rtol=RTOL)
    assert result.df == 10
    assert result.inference == "cluster CR1 (firm), t(G-1)"


def test_fixed_effects_match_linearmodels_panelols(panel):
    from linearmodels.panel import PanelOLS

    indexed = panel.set_index(["firm", "year"])
    reference = PanelOLS(
        indexed["invest"], indexed[["value", "capital"]], entity_effects=True, time_effects=True
    ).fit(cov_type="unadjusted", debiased=True)
    result = regress(
        panel, "invest", ["value", "capital"], fixed_effects=["firm", "year"], vcov="iid"
    )
    np.testing.assert_allclose(result.coefficients, reference.params.to_numpy(), rtol=RTOL)
    np.testing.assert_allclose(
        np.sqrt(np.diag(result.covariance)), reference.std_errors.to_numpy(), rtol=RTOL
    )


def test_unbalanced_two_way_fixed_effects_converge(panel):
    frame = panel.iloc[[i for i in range(len(panel)) if i % 7 != 3]]
    exog = sm.add_constant(
        pd.concat([frame[["value", "capital"]], _dummies(frame, ["firm", "year"])], axis=1)
    )
    reference = sm.OLS(frame["invest"], exog).fit(cov_type="HC1")
    result = regress(
        frame, "invest", ["value", "capital"], fixed_effects=["year", "firm"], vcov="hc1"
    )
    estimate, std_error, ref_estimate, ref_se = _by_name(
        result, reference, {"value": "value", "capital": "capital"}
    )
    np.testing.assert_allclose(estimate, ref_estimate, rtol=RTOL)
    np.testing.assert_allclose(std_error, ref_se, rtol=RTOL)


def test_missing_values_are_dropped_and_counted(panel):
    frame = panel.copy()
    frame.loc[[0, 5, 9], "capital"] = np.nan
    frame.loc[[5, 12], "invest"] = np.nan
    result = regress(frame, "invest", ["value", "capital"])
    assert result.n_obs == 220 - 4
    assert result.extras["n_dropped_missing"] == 4
    reference = regress(frame.dropna(subset=["invest", "capital"]), "invest", ["value", "capital"])
    np.testing.assert_allclose(result.coefficients, reference.coefficients, rtol=1e-12)


def test_tidy_has_contract_columns_and_inference_is_immutable(panel):
    result = regress(panel, "invest", ["value", "capital"], cluster="firm")
    tidy = result.tidy()
    assert tuple(tidy.columns) == TIDY_COLUMNS
    assert list(tidy["term"]) == ["value", "capital", "intercept"]
    row = tidy.iloc[0]
    assert row["estimate"] == result.estimate and row["std_error"] == result.std_error
    assert (row["conf_low"], row["conf_high"]) == result.conf_int()
    assert tidy["n_clusters"].iloc[0] == 11
    capital = result.term("capital")
    assert isinstance(capital, EstimationResult) and capital.estimate == tidy.iloc[1]["estimate"]
    changed = result.with_inference(
        covariance=result.covariance * 4, inference="doubled", df=None, n_clusters=None
    )
    assert changed.std_error == pytest.approx(2 * result.std_error)
    assert result.inference == "cluster CR1 (firm), t(G-1)"
    with pytest.raises(AttributeError):
        result.inference = "changed"  # type: ignore[misc]
    with pytest.raises(ValueError):
        result.coefficients[0] = 0.0
    low, high = result.conf_int(0.9)
    assert low < result.estimate < high


# -- simulated designs with a known effect ---------------------------------------------------


def _cluster_randomised(seed: int = 7, effect: float = 2.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_villages, per_village = 60, 25
    village = np.repeat(np.arange(n_villages), per_village)
    stratum = village % 4
    treated_village = rng.permutation(np.tile([0, 1], n_villages // 2))
    treatment = treated_village[village].astype(np.int8)
    village_shock = rng.normal(0, 1.0, n_villages)[village]
    baseline = 10 + village_shock + rng.normal(0, 2, village.size)
    age = rng.integers(18, 80, village.size).astype(np.int8)
    outcome = (
        3
        + 0.6 * baseline
        + 0.02 * age
        + effect * treatment
        + 0.5 * stratum
        + 0.5 * village_shock
        + rng.normal(0, 2, village.size)
    )
    return pd.DataFrame(
        {
            "village_code": village,
            "stratum": stratum,
            "treatment": treatment,
            "age": age,
            "baseline_income": baseline,
            "income": outcome,
        }
    )


@pytest.mark.parametrize("interacted", [False, True])
def test_ancova_recovers_a_known_effect(interacted):
    frame = _cluster_randomised()
    result = ancova(
        frame,
        "income",
        "treatment",
        covariates=["age"],
        baseline_outcome="baseline_income",
        strata="stratum",
        interacted=interacted,
        cluster="village_code",
    )
    assert result.estimator == "ancova"
    assert result.n_clusters == 60 and result.df == 59
    assert abs(result.estimate - 2.0) < 4 * result.std_error
    low, high = result.conf_int()
    assert low < 2.0 < high
    if interacted:
        assert "treatment:baseline_income" in result.terms


def test_ancova_matches_statsmodels_with_dummies():
    frame = _cluster_randomised()
    exog = sm.add_constant(
        pd.concat(
            [
                frame[["treatment", "baseline_income", "age"]].astype(float),
                _dummies(frame, ["stratum"]),
            ],
            axis=1,
        )
    )
    reference = sm.OLS(frame["income"], exog).fit(cov_type="HC1")
    result = ancova(
        frame,
        "income",
        "treatment",
        covariates=["age"],
        baseline_outcome="baseline_income",
        strata="stratum",
    )
    estimate, std_error, ref_estimate, ref_se = _by_name(
        result,
        reference,
        {"treatment": "treatment", "baseline_income": "baseline_income", "age": "age"},
    )
    np.testing.assert_allclose(estimate, ref_estimate, rtol=RTOL)
    np.testing.assert_allclose(std_error, ref_se, rtol=RTOL)


def test_lin_interacted_matches_statsmodels():
    frame = _cluster_randomised()
    centred = frame[["baseline_income", "age"]].astype(float)
    centred = centred - centred.mean()
    exog = sm.add_constant(
        pd.DataFrame(
            {
                "treatment": frame["treatment"].astype(float),
                "baseline_income": centred["baseline_income"],
                "age": centred["age"],
                "t_b": frame["treatment"] * centred["baseline_income"],
                "t_a": frame["treatment"] * centred["age"],
            }
        )
    )
    reference = sm.OLS(frame["income"], exog).fit(
        cov_type="cluster", cov_kwds={"groups": frame["village_code"]}
    )
    result = ancova(
        frame,
        "income",
        "treatment",
        covariates="age",
        baseline_outcome="baseline_income",
        interacted=True,
        cluster="village_code",
    )
    assert result.terms == (
        "treatment",
        "baseline_income",
        "age",
        "treatment:baseline_income",
        "treatment:age",
        "intercept",
    )
    np.testing.assert_allclose(result.coefficients[:5], reference.params.to_numpy()[1:], rtol=RTOL)
    np.testing.assert_allclose(
        np.sqrt(np.diag(result.covariance))[:5], reference.bse.to_numpy()[1:], rtol=RTOL
    )


def test_difference_in_means_is_the_mean_gap():
    frame = _cluster_randomised()
    result = difference_in_means(frame, "income", "treatment", cluster="village_code")
    means = frame.groupby("treatment")["income"].mean()
    assert result.estimate == pytest.approx(means[1] - means[0], rel=1e-12)
    assert result.estimator == "difference_in_means"
    assert abs(result.estimate - 2.0) < 4 * result.std_error + 1.5  # unadjusted, baseline noise


# -- contracts ---------------------------------------------------------------------------------


def test_callers_frame_is_not_mutated():
    frame = _cluster_randomised()
    frame.loc[3, "baseline_income"] = np.nan
    before = frame.copy(deep=True)
    ancova(
        frame,
        "income",
        "treatment",
        covariates=["age"],
        baseline_outcome="baseline_income",
        strata="stratum",
        interacted=True,
        cluster="village_code",
    )
    regress(
        frame,
        "income",
        ["age", "baseline_income"],
        fixed_effects=["stratum", "village_code"],
        cluster="village_code",
    )
    pd.testing.assert_frame_equal(frame, before)
    assert frame["age"].dtype == np.int8


def test_int8_columns_do_not_overflow():
    rng = np.random.default_rng(3)
    x = rng.integers(100, 127, 500).astype(np.int8)
    frame = pd.DataFrame({"x": x, "y": 0.001 * x.astype(float) ** 2 + rng.normal(size=500)})
    frame["x_squared"] = frame["x"] * frame["x"]  # overflows in int8: we must not rely on it
    result = regress(frame, "y", ["x"], vcov="hc1")
    reference = sm.OLS(frame["y"], sm.add_constant(x.astype(float))).fit(cov_type="HC1")
    np.testing.assert_allclose(result.estimate, reference.params.iloc[1], rtol=RTOL)
    np.testing.assert_allclose(result.std_error, reference.bse.iloc[1], rtol=RTOL)


def test_bad_options_list_allowed_values(panel):
    with pytest.raises(ConfigError, match=r"'iid'.*'hc1'.*'cluster'"):
        regress(panel, "invest", ["value"], vcov="robust")
    with pytest.raises(ConfigError, match="needs cluster="):
        regress(panel, "invest", ["value"], vcov="cluster")
    with pytest.raises(EstimationError, match="two-way"):
        regress(panel, "invest", ["value"], vcov="cr2", cluster=("firm", "year"))
    with pytest.raises(ConfigError, match="'nope'"):
        regress(panel, "invest", ["nope"])
    with pytest.raises(ConfigError, match="interacted"):
        ancova(_cluster_randomised(), "income", "treatment", interacted="yes")


def test_no_variation_in_treatment_names_the_column():
    frame = _cluster_randomised().assign(treatment=1)
    with pytest.raises(EstimationError, match="'treatment'"):
        ancova(frame, "income", "treatment")
    with pytest.raises(EstimationError, match="'treatment'"):
        difference_in_means(frame, "income", "treatment")
    with pytest.raises(EstimationError, match="'treatment'"):
        regress(frame, "income", ["treatment"])


def test_collinear_and_absorbed_regressors_are_named(panel):
    frame = panel.assign(value_twice=2 * panel["value"])
    with pytest.raises(EstimationError, match=r"'value_twice'.*collinear"):
        regress(frame, "invest", ["value", "value_twice"])
    frame = panel.assign(firm_size=panel["firm_code"] * 3.0)
    with pytest.raises(EstimationError, match=r"'firm_size'.*within the fixed effects"):
        regress(frame, "invest", ["firm_size"], fixed_effects="firm")


def test_non_numeric_regressor_is_explained(panel):
    with pytest.raises(EstimationError, match=r"'firm'.*numeric"):
        regress(panel, "invest", ["firm"])


# -- fast paths: within transformation, grouping codes, rank screen ---------------------------
def _dummy_residuals(matrix, factor_codes, weights):
    """Independent reference: weighted least squares on explicit dummies, residuals."""
    dummies = np.column_stack(
        [np.ones(len(weights))]
        + [np.eye(codes.max() + 1)[codes][:, 1:] for codes in factor_codes]
    )
    root = np.sqrt(weights)
    fitted = dummies @ np.linalg.lstsq(dummies * root[:, None], matrix * root[:, None],
                                       rcond=None)[0]
    return matrix - fitted


@pytest.mark.parametrize("n_columns", [4, 20])  # column by column, or the whole matrix at once
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_factors", [1, 2, 3])
def test_within_transformation_equals_dummy_regression(weighted, n_factors, n_columns):
    from doorstep.estimate import _within

    rng = np.random.default_rng(n_factors)
    n = 600
    codes = [rng.integers(0, levels, n) for levels in (40, 7, 5)[:n_factors]]
    codes = [np.unique(code, return_inverse=True)[1] for code in codes]
    weights = rng.uniform(0.5, 2.0, n) if weighted else np.ones(n)
    matrix = rng.normal(size=(n, n_columns)) + codes[0][:, None] * 0.3
    original = matrix.copy()
    result = _within.demean(matrix, [(code, code.max() + 1) for code in codes], weights)
    np.testing.assert_allclose(result, _dummy_residuals(matrix, codes, weights), atol=1e-9)
    np.testing.assert_array_equal(matrix, original)  # a new array unless overwrite=True


def test_balanced_panel_takes_one_exact_sweep():
    from doorstep.estimate import _within

    rng = np.random.default_rng(3)
    unit, period = np.repeat(np.arange(50), 4), np.tile(np.arange(4), 50)
    factors = [(unit, 50), (period, 4)]
    assert _within._projections_commute(factors)
    assert not _within._projections_commute([(unit[1:], 50), (period[1:], 4)])
    matrix = rng.normal(size=(200, 3))
    frame = pd.DataFrame(matrix).assign(unit=unit, period=period)
    exact = (matrix - frame.groupby("unit")[[0, 1, 2]].transform("mean").to_numpy()
             - frame.groupby("period")[[0, 1, 2]].transform("mean").to_numpy()
             + matrix.mean(axis=0))
    np.testing.assert_allclose(_within.demean(matrix, factors, np.ones(200)), exact, atol=1e-12)


def test_group_codes_give_the_same_groups_as_factorize():
    from doorstep.estimate._checks import dense_codes, factor_codes, group_codes

    rng = np.random.default_rng(4)
    frame = pd.DataFrame({
        "village": rng.choice([-5, 3, 17, 400, 2], 300),  # compact range: coded by value
        "household": rng.choice([10**12, 7, 10**15], 300),  # wide range: hashed
        "small": rng.integers(0, 4, 300).astype(np.uint8),
        "name": rng.choice(["a", "b", "c"], 300),
        "nullable": pd.array(rng.choice([1, 2, None], 300), dtype="Int64"),
    })
    for column in frame.columns:
        ours, reference = group_codes(frame, column), factor_codes(frame, column)
        np.testing.assert_array_equal(ours < 0, reference < 0)
        pairs = np.unique(np.stack([ours, reference]), axis=1)
        assert pairs.shape[1] == np.unique(ours).size == np.unique(reference).size, column
    assert group_codes(frame, "village").max() == 4
    sparse_codes = rng.choice([0, 3, 4, 9, 12], 100)
    codes, count = dense_codes(sparse_codes)
    np.testing.assert_array_equal(codes, np.unique(sparse_codes, return_inverse=True)[1])
    assert count == 5


@pytest.mark.parametrize("noise", [0.0, 1e-14, 1e-12, 1e-10, 1e-8, 1e-6, 1e-3])
def test_rank_screen_agrees_with_the_singular_values(noise):
    from doorstep.estimate.linear import _check_rank

    rng = np.random.default_rng(5)
    x = rng.normal(size=(2_000, 2))
    third = x[:, 0] + 2 * x[:, 1] + noise * rng.normal(size=2_000)
    matrix = np.column_stack([x, third])
    scaled = matrix / np.sqrt((matrix**2).sum(axis=0))
    deficient = np.linalg.matrix_rank(scaled) < 3
    if deficient:
        with pytest.raises(EstimationError, match="'c' is collinear with 'a', 'b'"):
            _check_rank(matrix, ("a", "b", "c"), absorbed=False)
    else:
        _check_rank(matrix, ("a", "b", "c"), absorbed=False)
    assert deficient == (noise <= 1e-12)  # both verdicts occur across the cases


def test_cluster_on_the_absorbed_integer_column_with_dropped_rows(panel):
    frame = panel.copy()
    frame.loc[[3, 40, 41, 150], "capital"] = np.nan
    kept = frame.dropna(subset=["capital"])
    exog = sm.add_constant(
        pd.concat([kept[["value", "capital"]], _dummies(kept, ["firm_code"])], axis=1)
    )
    reference = sm.OLS(kept["invest"], exog).fit(
        cov_type="cluster", cov_kwds={"groups": kept["firm_code"]}, use_t=True
    )
    result = regress(frame, "invest", ["value", "capital"], fixed_effects="firm_code",
                     cluster="firm_code")
    assert result.n_obs == 216 and result.n_clusters == 11
    assert result.extras["n_params"] == 3  # firm levels nested in the firm clusters
    rescale = np.sqrt((216 - exog.shape[1]) / (216 - 3))
    estimate, std_error, ref_estimate, ref_se = _by_name(
        result, reference, {"value": "value", "capital": "capital"}
    )
    np.testing.assert_allclose(estimate, ref_estimate, rtol=RTOL)
    np.testing.assert_allclose(std_error, ref_se * rescale, rtol=RTOL)
