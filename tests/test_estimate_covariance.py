"""CR2 and two-way clustering: against pyfixest, statsmodels and an explicit CR2 in numpy.

Real data ship with statsmodels (no network): the Grunfeld investment panel (11 firms x 20
years). Two-way clustering is compared with pyfixest's ``vcov={"CRV1": "a+b"}`` (fixest's
default small-sample factor with ``cluster_df="min"``, as reghdfe), rtol 1e-8. pyfixest has no
CR2, so CR2 is compared with an independent implementation written here: the regression with
explicit dummy columns, the full hat matrix, and ``scipy.linalg.sqrtm`` for (I - H_gg)^(-1/2)
(rtol 1e-8), and with statsmodels' HC2 when every observation is its own cluster. With several
absorbed fixed effects, CR2 is compared with that explicit CR2 on the dummies, and HC2/HC3 with
statsmodels' OLS on the dummies (rtol 1e-8).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import linalg
from statsmodels.datasets import grunfeld

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate import ancova, iv, regress, twfe

RTOL = 1e-8
pytestmark = [
    pytest.mark.filterwarnings("ignore:The inplace keyword"),
    pytest.mark.filterwarnings("ignore:Matrix is singular"),
]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    data = grunfeld.load_pandas().data
    data["year"] = data["year"].astype(int)
    data["firm"] = data["firm"].astype(str)
    data["period"] = data["year"] // 4
    data["weight"] = 1.0 + (pd.factorize(data["firm"])[0] % 3)
    return data


def _pyfixest():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip("pyfixest")


@pytest.mark.parametrize(
    ("formula", "fixed_effects", "clusters"),
    [
        ("invest ~ value + capital", (), ("firm", "year")),
        ("invest ~ value + capital | year", ("year",), ("firm", "period")),
        ("invest ~ value + capital | firm", ("firm",), ("firm", "year")),
    ],
)
def test_two_way_clustering_matches_pyfixest(panel, formula, fixed_effects, clusters):
    pf = _pyfixest()
    reference = pf.feols(formula, data=panel, vcov={"CRV1": "+".join(clusters)})
    result = regress(
        panel, "invest", ["value", "capital"], fixed_effects=fixed_effects, cluster=clusters
    )
    for term in ("value", "capital"):
        view = result.term(term)
        assert view.estimate == pytest.approx(reference.coef()[term], rel=RTOL)
        assert view.std_error == pytest.approx(reference.se()[term], rel=RTOL)
        assert view.p_value == pytest.approx(reference.pvalue()[term], rel=1e-6)
    assert result.n_clusters == min(panel[name].nunique() for name in clusters)
    assert result.df == result.n_clusters - 1
    assert "two-way" in result.inference


def test_two_way_clustering_in_ancova_matches_pyfixest(panel):
    pf = _pyfixest()
    frame = panel.assign(treated=(panel["value"] > panel["value"].median()).astype(np.int8))
    reference = pf.feols(
        "invest ~ treated + capital | year", data=frame, vcov={"CRV1": "firm+period"}
    )
    result = ancova(
        frame, "invest", "treated", covariates="capital", strata="year", cluster=("firm", "period")
    )
    assert result.std_error == pytest.approx(reference.se()["treated"], rel=RTOL)


def _cr2_reference(y, x, clusters, weights=None):
    """CR2 written from Bell and McCaffrey's formula, with explicit matrices."""
    weights = np.ones(y.size) if weights is None else weights
    root = np.sqrt(weights)
    xw, yw = x * root[:, None], y * root
    bread = np.linalg.inv(xw.T @ xw)
    beta = bread @ xw.T @ yw
    resid = yw - xw @ beta
    hat = xw @ bread @ xw.T
    meat = np.zeros_like(bread)
    for group in np.unique(clusters):
        index = np.nonzero(clusters == group)[0]
        block = np.eye(index.size) - hat[np.ix_(index, index)]
        # singular values of the root below 1e-6: eigenvalues of the block below 1e-12, as ours
        adjust = np.linalg.pinv(np.real(linalg.sqrtm(block)), hermitian=True, rcond=1e-6)
        score = xw[index].T @ adjust @ resid[index]
        meat += np.outer(score, score)
    return beta, bread @ meat @ bread


def test_cr2_matches_explicit_formula_with_dummies_and_weights(panel):
    year_dummies = pd.get_dummies(panel["year"], drop_first=True, dtype=float).to_numpy()
    x = np.column_stack([panel[["value", "capital"]].to_numpy(), np.ones(len(panel)), year_dummies])
    beta, covariance = _cr2_reference(
        panel["invest"].to_numpy(), x, panel["firm"].to_numpy(), panel["weight"].to_numpy()
    )
    result = regress(
        panel,
        "invest",
        ["value", "capital"],
        fixed_effects="year",
        weights="weight",
        cluster="firm",
        vcov="cr2",
    )
    np.testing.assert_allclose(result.coefficients, beta[:2], rtol=RTOL)
    np.testing.assert_allclose(result.covariance, covariance[:2, :2], rtol=RTOL)
    assert result.df == 10 and result.n_clusters == 11
    assert result.inference == "cluster CR2 (firm), t(G-1)"
    # Without fixed effects, CR2 differs from CR1 on these data.
    plain = regress(panel, "invest", ["value", "capital"], cluster="firm", vcov="cr2")
    beta, covariance = _cr2_reference(
        panel["invest"].to_numpy(),
        np.column_stack([panel[["value", "capital"]].to_numpy(), np.ones(len(panel))]),
        panel["firm"].to_numpy(),
    )
    np.testing.assert_allclose(plain.covariance, covariance, rtol=RTOL)
    cr1 = regress(panel, "invest", ["value", "capital"], cluster="firm")
    assert abs(plain.std_error / cr1.std_error - 1) > 1e-3


def test_cr2_with_fixed_effects_nested_in_clusters_equals_dummy_regression(panel):
    """Firm effects inside firm clusters make I - H_gg singular: the pseudo-inverse root."""
    firm_dummies = pd.get_dummies(panel["firm"], dtype=float).to_numpy()
    x = np.column_stack([panel[["value", "capital"]].to_numpy(), firm_dummies])
    _, covariance = _cr2_reference(panel["invest"].to_numpy(), x, panel["firm"].to_numpy())
    result = regress(
        panel, "invest", ["value", "capital"], fixed_effects="firm", cluster="firm", vcov="cr2"
    )
    np.testing.assert_allclose(result.covariance, covariance[:2, :2], rtol=1e-8)


def test_cr2_with_singleton_clusters_is_hc2(panel):
    frame = panel.assign(row=np.arange(len(panel)))
    result = regress(frame, "invest", ["value", "capital"], cluster="row", vcov="cr2")
    reference = sm.OLS(frame["invest"], sm.add_constant(frame[["value", "capital"]])).fit(
        cov_type="HC2"
    )
    np.testing.assert_allclose(
        [result.term(name).std_error for name in ("value", "capital")],
        reference.bse[["value", "capital"]],
        rtol=RTOL,
    )


def test_cr2_in_ancova_uses_g_minus_one(panel):
    frame = panel.assign(treated=(panel["value"] > panel["value"].median()).astype(np.int8))
    before = frame.copy(deep=True)
    result = ancova(frame, "invest", "treated", covariates="capital", cluster="firm", vcov="cr2")
    pd.testing.assert_frame_equal(frame, before)
    assert result.df == 10 and "CR2" in result.inference
    assert np.isfinite(result.std_error) and result.std_error > 0


def test_unsupported_combinations_are_explained(panel, monkeypatch):
    with pytest.raises(EstimationError, match="two-way"):
        regress(panel, "invest", ["value"], cluster=("firm", "year"), vcov="cr2")
    with pytest.raises(ConfigError, match="pair of two different column names"):
        regress(panel, "invest", ["value"], cluster=("firm", "year", "period"))
    with pytest.raises(ConfigError, match="pair of two different column names"):
        regress(panel, "invest", ["value"], cluster=("firm", "firm"))
    with pytest.raises(ConfigError, match="needs cluster="):
        regress(panel, "invest", ["value"], vcov="cr2")
    frame = panel.assign(z=panel["capital"])
    with pytest.raises(EstimationError, match="two-way"):
        iv(frame, "invest", "value", "z", cluster=("firm", "year"), vcov="cr2")
    # the dummies of the smaller factors (11 firms against 20 years: 10 columns x 220 rows)
    monkeypatch.setattr("doorstep.estimate._within.MAX_EXPANDED_CELLS", 10 * 220 - 1)
    with pytest.raises(EstimationError, match=r"\(firm: 10 columns x 220 rows\)"):
        regress(panel, "invest", ["value"], fixed_effects=("firm", "year"), cluster="firm",
                vcov="cr2")


# -- HC2, HC3 and CR2 with several absorbed fixed effects ----------------------------------
def _dummies(frame, *names):
    return np.column_stack([pd.get_dummies(frame[name].astype(str), dtype=float).to_numpy()
                            for name in names])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("fixed_effects", "cluster"), [
    (("firm", "year"), "firm"),       # firms nested in the clusters, years across them
    (("firm", "year"), "period"),     # both across the clusters
    (("year", "firm", "period"), "firm"),  # a third factor nested in the second (collinear)
])
def test_cr2_with_several_absorbed_fixed_effects_equals_explicit_dummies(
        panel, fixed_effects, cluster, weighted):
    """The projection on absorbed dummies (all but the largest factor expanded) enters H_gg
    exactly as the explicit dummies do."""
    x = np.column_stack([panel[["value", "capital"]].to_numpy(),
                         _dummies(panel, *fixed_effects)])
    keep = np.linalg.matrix_rank(x) == x.shape[1]
    if not keep:  # drop collinear dummy columns for the explicit reference (QR pivoting)
        _, r, pivots = linalg.qr(x, mode="economic", pivoting=True)
        independent = np.abs(np.diag(r)) > 1e-9 * np.abs(r[0, 0])
        x = x[:, np.sort(pivots[independent])]
    weights = panel["weight"].to_numpy() if weighted else None
    beta, covariance = _cr2_reference(panel["invest"].to_numpy(), x, panel[cluster].to_numpy(),
                                      weights)
    result = regress(panel, "invest", ["value", "capital"], fixed_effects=fixed_effects,
                     weights="weight" if weighted else None, cluster=cluster, vcov="cr2")
    np.testing.assert_allclose(result.coefficients, beta[:2], rtol=1e-8)
    np.testing.assert_allclose(result.covariance, covariance[:2, :2], rtol=1e-8)


@pytest.mark.parametrize("vcov", ["hc2", "hc3"])
def test_hc2_hc3_with_two_absorbed_fixed_effects_equal_statsmodels_with_dummies(panel, vcov):
    dummies = pd.get_dummies(panel[["firm", "year"]].astype(str), drop_first=True, dtype=float)
    exog = sm.add_constant(pd.concat([panel[["value", "capital"]], dummies], axis=1))
    reference = sm.OLS(panel["invest"], exog).fit(cov_type=vcov.upper())
    result = regress(panel, "invest", ["value", "capital"], fixed_effects=("firm", "year"),
                     vcov=vcov)
    np.testing.assert_allclose([result.term(name).std_error for name in ("value", "capital")],
                               reference.bse[["value", "capital"]], rtol=1e-8)
    assert result.df == len(panel) - exog.shape[1]


def test_twfe_and_event_study_accept_cr2(panel):
    """twfe absorbs unit and time effects: its CR2 equals the explicit two-way dummies'."""
    frame = panel.assign(treated=((panel["firm"].str.len() % 2 == 0)
                                  & (panel["year"] >= 1945)).astype(float))
    x = np.column_stack([frame["treated"], _dummies(frame, "firm", "year")[:, :-1]])
    _, covariance = _cr2_reference(frame["invest"].to_numpy(), x, frame["firm"].to_numpy())
    result = twfe(frame, "invest", "treated", "firm", "year", cluster="firm", vcov="cr2")
    assert result.std_error == pytest.approx(np.sqrt(covariance[0, 0]), rel=1e-8)
    assert result.inference == "cluster CR2 (firm), t(G-1)"

