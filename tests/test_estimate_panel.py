"""twfe and event_study against pyfixest (fixest's Python port) and statsmodels.

Reference data ship with the peers (no network): R did's ``mpdta`` (500 counties x 5 years,
staggered adoption in 2004, 2006, 2007) and statsmodels' Grunfeld panel (11 firms x 20 years).
Tolerance 1e-8 relative on estimates, standard errors and p-values (1e-6 on p-values).

pyfixest's default small-sample correction ``ssc(k_adj=True, k_fixef="nonnested", G_adj=True)``
is reghdfe's and ours: HC1 and iid count the absorbed levels in K; CRV1 multiplies by
G/(G-1) (N-1)/(N-K) with fixed effects nested in the clusters left out of K, and uses t(G-1).
"""

from __future__ import annotations

import warnings

import moderndid
import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
from statsmodels.datasets import grunfeld

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate.panel import event_study, twfe

RTOL = 1e-8
NEVER = -1000  # rel_time of the never treated; pyfixest drops its collinear indicator (warning)


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    frame = moderndid.load_mpdta().to_pandas()
    frame["cohort"] = frame["first.treat"]
    frame["treated"] = ((frame["cohort"] > 0) & (frame["year"] >= frame["cohort"])).astype(int)
    frame["rel_time"] = np.where(frame["cohort"] > 0, frame["year"] - frame["cohort"], NEVER)
    return frame


def _feols(formula: str, data: pd.DataFrame, vcov) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.feols(formula, data=data, vcov=vcov)


VCOVS = [
    ("iid", "iid", None),
    ("hetero", "hc1", None),
    ({"CRV1": "countyreal"}, None, "countyreal"),
    ({"CRV1": "countyreal+year"}, None, ("countyreal", "year")),  # two-way (fixest's min G)
]


@pytest.mark.parametrize(("peer_vcov", "vcov", "cluster"), VCOVS)
def test_twfe_matches_pyfixest_on_mpdta(mpdta, peer_vcov, vcov, cluster):
    reference = _feols("lemp ~ treated | countyreal + year", mpdta, peer_vcov)
    result = twfe(mpdta, "lemp", "treated", "countyreal", "year", vcov=vcov, cluster=cluster)
    assert result.estimator == "twfe" and result.terms == ("treated",)
    assert result.estimate == pytest.approx(reference.coef()["treated"], rel=RTOL)
    assert result.std_error == pytest.approx(reference.se()["treated"], rel=RTOL)
    assert result.p_value == pytest.approx(reference.pvalue()["treated"], rel=1e-6)
    assert result.n_obs == 2500


def test_twfe_with_covariates_and_a_third_factor_matches_pyfixest():
    data = grunfeld.load_pandas().data
    data["year"] = data["year"].astype(int)
    data["treated"] = ((data["year"] >= 1945) & (data["firm"].isin(data["firm"].unique()[:5])))
    data["treated"] = data["treated"].astype(int)
    data["decade_firm"] = data["firm"].astype(str) + (data["year"] // 10).astype(str)
    reference = _feols(
        "invest ~ treated + value + capital | firm + year + decade_firm", data, {"CRV1": "firm"}
    )
    result = twfe(data, "invest", "treated", "firm", "year", covariates=["value", "capital"],
                  fixed_effects="decade_firm", cluster="firm")
    for term in ("treated", "value", "capital"):
        assert result.term(term).estimate == pytest.approx(reference.coef()[term], rel=RTOL)
        assert result.term(term).std_error == pytest.approx(reference.se()[term], rel=RTOL)
    assert result.df == 10


@pytest.mark.parametrize(("peer_vcov", "vcov", "cluster"), VCOVS)
def test_event_study_matches_pyfixest_on_mpdta(mpdta, peer_vcov, vcov, cluster):
    reference = _feols(
        "lemp ~ i(rel_time, ref=-1) | countyreal + year", mpdta, peer_vcov
    )
    result = event_study(mpdta, "lemp", "countyreal", "year", "cohort", vcov=vcov,
                         cluster=cluster)
    expected = [f"event_time={e}" for e in (-4, -3, -2, 0, 1, 2, 3)]
    assert result.terms == tuple(expected) and result.main_term == "event_time=0"
    coefficients, std_errors, p_values = reference.coef(), reference.se(), reference.pvalue()
    for term in expected:
        peer_name = f"rel_time::{term.split('=')[1]}"
        view = result.term(term)
        assert view.estimate == pytest.approx(coefficients[peer_name], rel=RTOL)
        assert view.std_error == pytest.approx(std_errors[peer_name], rel=RTOL)
        assert view.p_value == pytest.approx(p_values[peer_name], rel=1e-6)
    assert result.extras["reference"] == -1 and result.extras["event_times"]["event_time=-4"] == -4


def test_binned_event_study_matches_pyfixest_with_binned_rel_time(mpdta):
    binned = mpdta.assign(
        rel_time=np.where(mpdta["rel_time"] == NEVER, NEVER, mpdta["rel_time"].clip(-2, 1))
    )
    reference = _feols(
        "lemp ~ i(rel_time, ref=-1) | countyreal + year", binned,
        {"CRV1": "countyreal"},
    )
    result = event_study(mpdta, "lemp", "countyreal", "year", "cohort", leads=2, lags=1,
                         cluster="countyreal")
    assert result.terms == ("event_time<=-2", "event_time=0", "event_time>=1")
    for term, level in zip(result.terms, ("-2", "0", "1"), strict=True):
        assert result.term(term).estimate == pytest.approx(
            reference.coef()[f"rel_time::{level}"], rel=RTOL
        )
        assert result.term(term).std_error == pytest.approx(
            reference.se()[f"rel_time::{level}"], rel=RTOL
        )


def _dynamic_panel(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_units, periods = 900, np.arange(1, 9)
    cohort = rng.choice([0, 4, 6], size=n_units)
    unit_effect = rng.normal(0, 1, n_units)
    unit = np.repeat(np.arange(n_units), periods.size)
    period = np.tile(periods, n_units)
    g = cohort[unit]
    event = np.where(g > 0, period - g, -99)
    effect = np.where(event >= 0, 1.0 + 0.5 * event, 0.0)
    y = unit_effect[unit] + 0.2 * period + effect + rng.normal(0, 0.3, unit.size)
    return pd.DataFrame({"hh": unit, "round": period.astype(np.int8), "first": g.astype(np.int8),
                         "income": y})


def test_event_study_recovers_dynamic_effects():
    frame = _dynamic_panel()
    before = frame.copy(deep=True)
    result = event_study(frame, "income", "hh", "round", "first", cluster="hh")
    pd.testing.assert_frame_equal(frame, before)
    for term, value in result.extras["event_times"].items():
        truth = 1.0 + 0.5 * value if value >= 0 else 0.0
        view = result.term(term)
        assert abs(view.estimate - truth) < 4.5 * view.std_error, term
    pre = [term for term, value in result.extras["event_times"].items() if value < -1]
    assert result.wald_test(pre).p_value > 0.001
    # int8 columns give the same numbers as float columns
    as_float = frame.astype({"round": float, "first": float})
    reference = event_study(as_float, "income", "hh", "round", "first", cluster="hh")
    np.testing.assert_allclose(result.coefficients, reference.coefficients, rtol=1e-12)
    effect = twfe(frame.assign(d=((frame["first"] > 0) & (frame["round"] >= frame["first"]))
                               .astype(np.int8)), "income", "d", "hh", "round", cluster="hh")
    assert 1.0 < effect.estimate < 3.0


def test_never_treated_marked_by_missing_cohort():
    frame = _dynamic_panel()
    missing = frame.assign(first=frame["first"].astype(float).replace(0.0, np.nan))
    zero = event_study(frame, "income", "hh", "round", "first")
    nan = event_study(missing, "income", "hh", "round", "first", never_treated=None)
    np.testing.assert_allclose(zero.coefficients, nan.coefficients, rtol=1e-12)
    assert zero.inference == "HC1, t(N-K)"  # the project rule: cluster only when asked


def test_panel_options_are_checked():
    frame = _dynamic_panel().head(800)
    with pytest.raises(ConfigError, match="leads must be a whole number"):
        event_study(frame, "income", "hh", "round", "first", leads=-1)
    with pytest.raises(ConfigError, match="outside the event window"):
        event_study(frame, "income", "hh", "round", "first", leads=3, reference=-4)
    with pytest.raises(ConfigError, match="'iid', 'hc1', 'hc2', 'hc3', 'cluster', 'cr2'"):
        twfe(frame.assign(d=0.0), "income", "d", "hh", "round", vcov="robust")
    with pytest.raises(ConfigError, match="'district'"):
        twfe(frame.assign(d=0.0), "income", "d", "hh", "round", cluster="district")
    with pytest.raises(EstimationError, match="reference event time -1 is not observed"):
        event_study(frame.assign(first=np.int8(1)), "income", "hh", "round", "first")
