"""did and did_table against statsmodels, pyfixest and moderndid (R DRDID's Python port).

Reference data ship with the peers (no network): R did's ``mpdta`` (500 US counties, 2003-2007)
restricted to two years and one cohort against the never treated, and DRDID's ``nsw_long``
(LaLonde's NSW experimental sample against CPS comparisons, 1975 and 1978).

Tolerances: ``method="ols"`` estimates and standard errors 1e-8 relative against statsmodels OLS
and pyfixest ``feols`` (CRV1: G/(G-1) (N-1)/(N-K), t(G-1); HC1: N/(N-K) ... see the tests).
Panel methods 1e-6 relative against moderndid ``ordid``, ``ipwdid(est_method="std_ipw")`` and
``drdid(est_method="imp")``. For ``"dr"`` moderndid solves the inverse-probability-tilting score
with scipy's trust-constr to a gradient of about 1e-4, ours by Newton to about 1e-9; the test
hands moderndid our score to compare the rest at 1e-6 and checks the unpatched peer at 1e-4.
"""

from __future__ import annotations

import importlib
import warnings

import moderndid
import numpy as np
import pandas as pd
import polars as pl
import pyfixest as pf
import pytest
import statsmodels.formula.api as smf

import doorstep.estimate.two_period as did_module
from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate.two_period import did, did_table

RTOL = 1e-8
RTOL_PANEL = 1e-6
NSW_COVARIATES = ["age", "educ", "black", "married", "nodegree", "hisp", "re74"]
NSW_FORMULA = "~ " + " + ".join(NSW_COVARIATES)
# the module object (its package attribute of the same name is the function)
_IMP_MODULE = importlib.import_module("moderndid.drdid.estimators.drdid_imp_panel")


@pytest.fixture(scope="module")
def mpdta_two_periods() -> tuple[pl.DataFrame, pd.DataFrame]:
    """2006 and 2007 for the 2007 cohort against the never treated."""
    peer = moderndid.load_mpdta().filter(
        pl.col("year").is_in([2006, 2007]) & pl.col("first.treat").is_in([0, 2007])
    )
    frame = peer.to_pandas()
    frame["post"] = (frame["year"] == 2007).astype(int)
    frame["treated"] = (frame["first.treat"] == 2007).astype(int)
    peer = peer.with_columns(pl.Series("treated", frame["treated"].to_numpy()))
    return peer, frame


@pytest.fixture(scope="module")
def nsw() -> tuple[pl.DataFrame, pd.DataFrame]:
    peer = moderndid.load_nsw().filter((pl.col("treated") == 0) | (pl.col("sample") == 2))
    frame = peer.to_pandas()
    frame["post"] = (frame["year"] == 1978).astype(int)
    return peer, frame


# -- method="ols" ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("vcov", "cluster"), [("iid", None), ("hc1", None), (None, "countyreal")])
def test_ols_matches_statsmodels(mpdta_two_periods, vcov, cluster):
    _, frame = mpdta_two_periods
    cov_type = {"iid": "nonrobust", "hc1": "HC1"}.get(vcov, "cluster")
    kwds = {"groups": frame["countyreal"]} if cluster else None
    reference = smf.ols("lemp ~ treated * post + lpop", data=frame).fit(
        cov_type=cov_type, cov_kwds=kwds, use_t=True
    )
    result = did(frame, "lemp", "treated", "post", covariates="lpop", vcov=vcov, cluster=cluster)
    assert result.main_term == "treated:post" and result.estimator == "did_ols"
    mapping = {"treated:post": "treated:post", "treated": "treated", "post": "post",
               "lpop": "lpop", "intercept": "Intercept"}
    for ours, theirs in mapping.items():
        assert result.term(ours).estimate == pytest.approx(reference.params[theirs], rel=RTOL)
        assert result.term(ours).std_error == pytest.approx(reference.bse[theirs], rel=RTOL)
    assert result.p_value == pytest.approx(reference.pvalues["treated:post"], rel=1e-6)


@pytest.mark.parametrize("vcov", ["iid", "hetero", {"CRV1": "countyreal"}])
def test_ols_matches_pyfixest(mpdta_two_periods, vcov):
    """pyfixest's default ssc (k_adj, G_adj) equals Stata's: HC1 N/(N-K)... and CR1."""
    _, frame = mpdta_two_periods
    reference = pf.feols("lemp ~ treated * post", data=frame, vcov=vcov)
    ours_vcov = {"iid": "iid", "hetero": "hc1"}.get(vcov) if isinstance(vcov, str) else None
    cluster = None if isinstance(vcov, str) else "countyreal"
    result = did(frame, "lemp", "treated", "post", vcov=ours_vcov, cluster=cluster)
    assert result.estimate == pytest.approx(reference.coef()["treated:post"], rel=RTOL)
    assert result.std_error == pytest.approx(reference.se()["treated:post"], rel=RTOL)
    assert result.p_value == pytest.approx(reference.pvalue()["treated:post"], rel=1e-6)


def test_ols_with_two_way_clustering_matches_pyfixest(mpdta_two_periods):
    """Counties crossed with a second, made-up grouping (county number modulo 13, as an
    enumerator team would be): CGM two-way with fixest's min(G) factor, t(min(G)-1)."""
    _, frame = mpdta_two_periods
    frame = frame.assign(team=frame["countyreal"] * 7 % 13)
    reference = pf.feols("lemp ~ treated * post", data=frame, vcov={"CRV1": "countyreal+team"})
    result = did(frame, "lemp", "treated", "post", cluster=("countyreal", "team"))
    assert result.std_error == pytest.approx(reference.se()["treated:post"], rel=RTOL)
    assert result.p_value == pytest.approx(reference.pvalue()["treated:post"], rel=1e-6)
    table = did_table(frame, "lemp", "treated", "post", cluster=("countyreal", "team"))
    assert table["std_error"].iloc[-1] == pytest.approx(result.std_error, rel=1e-12)
    # teams that change between rounds: an indefinite matrix gives NaN standard errors in the
    # table rather than an error
    changing = frame.assign(team=frame["team"] + 13 * frame["post"])
    table = did_table(changing, "lemp", "treated", "post", cluster=("countyreal", "team"))
    assert table["std_error"].isna().any() and table["difference"].notna().all()
    with pytest.raises(ConfigError, match="two-way clustering applies to method='ols'"):
        did(frame, "lemp", "treated", "post", unit="countyreal", method="dr",
            cluster=("countyreal", "team"))


def test_did_table_is_the_ieddtab_layout(mpdta_two_periods):
    _, frame = mpdta_two_periods
    table = did_table(frame, "lemp", "treated", "post", cluster="countyreal")
    means = frame.groupby(["treated", "post"])["lemp"].mean()
    control, treated, difference = (table.iloc[i] for i in range(3))
    assert list(table["row"]) == ["control", "treatment", "difference"]
    assert control["baseline_mean"] == pytest.approx(means[(0, 0)], rel=1e-12)
    assert treated["followup_mean"] == pytest.approx(means[(1, 1)], rel=1e-12)
    assert treated["difference"] == pytest.approx(means[(1, 1)] - means[(1, 0)], rel=1e-10)
    second = (means[(1, 1)] - means[(1, 0)]) - (means[(0, 1)] - means[(0, 0)])
    assert difference["difference"] == pytest.approx(second, rel=1e-10)
    result = did(frame, "lemp", "treated", "post", cluster="countyreal")
    assert difference["std_error"] == pytest.approx(result.std_error, rel=1e-12)
    pd.testing.assert_frame_equal(result.extras["table"], table)
    counts = frame.groupby(["treated", "post"]).size()
    assert control["n_baseline"] == counts[(0, 0)] and treated["n_followup"] == counts[(1, 1)]
    assert difference["n_baseline"] == counts[(0, 0)] + counts[(1, 0)]
    # the first difference of the treated arm has the SE of post + interaction
    reference = smf.ols("lemp ~ treated * post", data=frame).fit(
        cov_type="cluster", cov_kwds={"groups": frame["countyreal"]}
    )
    contrast = np.zeros(len(reference.params))
    contrast[list(reference.params.index).index("post")] = 1
    contrast[list(reference.params.index).index("treated:post")] = 1
    se = np.sqrt(contrast @ reference.cov_params().to_numpy() @ contrast)
    assert treated["std_error"] == pytest.approx(se, rel=RTOL)


# -- Sant'Anna and Zhao panel estimators -----------------------------------------------------------
def _peer(function, data, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(data, **options)


def _exact_ipt(D, X, iw, quantiles=None):  # noqa: N803 (moderndid's argument names)
    return did_module._ipt_pscore(np.asarray(D, float), np.asarray(X, float), np.asarray(iw))


@pytest.mark.parametrize("method", ["reg", "ipw", "dr"])
def test_panel_methods_match_moderndid_on_nsw(nsw, method, monkeypatch):
    peer_frame, frame = nsw
    options = {"yname": "re", "tname": "year", "idname": "id", "treatname": "experimental",
               "xformla": NSW_FORMULA}
    function = {"reg": moderndid.ordid, "ipw": moderndid.ipwdid, "dr": moderndid.drdid}[method]
    if method == "ipw":
        options["est_method"] = "std_ipw"
    result = did(frame, "re", "experimental", "post", unit="id", covariates=NSW_COVARIATES,
                 method=method)
    assert result.main_term == "ATT" and result.df is None
    assert result.n_obs == 16417 and result.extras["n_units_dropped"] == 0
    if method == "dr":
        loose = _peer(function, peer_frame, **options)
        assert result.estimate == pytest.approx(loose.att, rel=1e-6)
        assert result.std_error == pytest.approx(loose.se, rel=1e-4)
        monkeypatch.setattr(_IMP_MODULE, "calculate_pscore_ipt", _exact_ipt)
    reference = _peer(function, peer_frame, **options)
    assert result.estimate == pytest.approx(reference.att, rel=RTOL_PANEL)
    assert result.std_error == pytest.approx(reference.se, rel=RTOL_PANEL)


@pytest.mark.parametrize("method", ["reg", "ipw", "dr"])
def test_panel_methods_match_moderndid_on_mpdta(mpdta_two_periods, method, monkeypatch):
    peer_frame, frame = mpdta_two_periods
    monkeypatch.setattr(_IMP_MODULE, "calculate_pscore_ipt", _exact_ipt)
    options = {"yname": "lemp", "tname": "year", "idname": "countyreal", "treatname": "treated",
               "xformla": "~ lpop"}
    if method == "ipw":
        options["est_method"] = "std_ipw"
    function = {"reg": moderndid.ordid, "ipw": moderndid.ipwdid, "dr": moderndid.drdid}[method]
    reference = _peer(function, peer_frame, **options)
    result = did(frame, "lemp", "treated", "post", unit="countyreal", covariates=["lpop"],
                 method=method)
    assert result.estimate == pytest.approx(reference.att, rel=RTOL_PANEL)
    assert result.std_error == pytest.approx(reference.se, rel=RTOL_PANEL)
    # clustering by the unit itself changes nothing
    clustered = did(frame, "lemp", "treated", "post", unit="countyreal", covariates=["lpop"],
                    method=method, cluster="countyreal")
    assert clustered.std_error == pytest.approx(result.std_error, rel=1e-12)
    assert clustered.n_clusters == result.n_obs == 440


def _two_by_two(seed: int = 11, n_units: int = 2000) -> pd.DataFrame:
    """Selection on x: treated units have higher x, and x drives the trend."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n_units)
    arm = (rng.random(n_units) < 1 / (1 + np.exp(-0.8 * x))).astype(np.int8)
    village = np.arange(n_units) // 20
    level = rng.normal(0, 1, n_units) + x
    rows = []
    for post in (0, 1):
        y = level + post * (1.0 + 1.5 * x) + 3.0 * arm * post + rng.normal(0, 0.5, n_units)
        rows.append(pd.DataFrame({"hh": np.arange(n_units), "village": village, "arm": arm,
                                  "round": np.int8(post), "x": x, "income": y}))
    return pd.concat(rows, ignore_index=True)


def test_known_effect_is_recovered_by_every_method():
    frame = _two_by_two()
    before = frame.copy(deep=True)
    naive = did(frame, "income", "arm", "round", cluster="hh")
    assert abs(naive.estimate - 3.0) > 0.5  # x-dependent trends bias the unconditional DiD
    adjusted = did(frame, "income", "arm", "round", covariates="x", cluster="hh")
    assert adjusted.estimate == pytest.approx(naive.estimate, rel=1e-12)  # x is time-invariant
    for method in ("reg", "ipw", "dr"):
        result = did(frame, "income", "arm", "round", unit="hh", covariates=["x"], method=method,
                     cluster="village")
        assert abs(result.estimate - 3.0) < 4 * result.std_error, method
        assert result.std_error < 0.1 and result.n_clusters == 100
        assert result.inference == "influence function, clustered by village, normal"
    pd.testing.assert_frame_equal(frame, before)
    assert frame["arm"].dtype == np.int8


def test_int8_columns_do_not_overflow():
    frame = _two_by_two(n_units=400)
    frame["big"] = (frame["income"] * 10).round().clip(-127, 127).astype(np.int8)
    as_float = frame.assign(big=frame["big"].astype(float))
    for method in ("ols", "dr"):
        unit = None if method == "ols" else "hh"
        ours = did(frame, "big", "arm", "round", unit=unit, method=method)
        reference = did(as_float, "big", "arm", "round", unit=unit, method=method)
        assert ours.estimate == pytest.approx(reference.estimate, rel=1e-12)


def test_unbalanced_units_are_dropped_and_counted():
    frame = _two_by_two(n_units=300)
    frame = frame.drop(index=[0, 1, 305])  # hh 0, 1 lose baseline, hh 5 loses follow-up
    frame.loc[frame.index[10], "x"] = np.nan
    result = did(frame, "income", "arm", "round", unit="hh", covariates="x", method="reg")
    assert result.extras["n_units_dropped"] == 4 and result.n_obs == 296


def test_options_are_checked():
    frame = _two_by_two(n_units=100)
    with pytest.raises(ConfigError, match="'ols', 'reg', 'ipw', 'dr'"):
        did(frame, "income", "arm", "round", method="drdid")
    with pytest.raises(ConfigError, match="needs unit="):
        did(frame, "income", "arm", "round", method="reg")
    with pytest.raises(ConfigError, match="vcov='hc1' applies to method='ols'"):
        did(frame, "income", "arm", "round", unit="hh", method="reg", vcov="hc1")
    with pytest.raises(ConfigError, match="'nope'"):
        did(frame, "income", "arm", "round", covariates=["nope"])
    with pytest.raises(EstimationError, match=r"'x' .* must be coded 0/1"):
        did(frame, "income", "x", "round")
    changing = frame.copy()
    changing.loc[changing.index[-1], "arm"] = 1 - changing["arm"].iloc[-1]
    with pytest.raises(EstimationError, match="constant within each unit"):
        did(changing, "income", "arm", "round", unit="hh", method="ipw")
    doubled = pd.concat([frame, frame.head(1)])
    with pytest.raises(EstimationError, match="more than once"):
        did(doubled, "income", "arm", "round", unit="hh", method="reg")
