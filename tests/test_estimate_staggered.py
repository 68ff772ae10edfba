"""staggered_did against moderndid 0.2 (the Python port of R's did) on R did's mpdta data.

The peer runs ``att_gt(est_method="reg", boot=False)`` (analytic influence-function SEs,
clustered by unit, countyreal) and ``aggte(..., boot=False)``. Tolerance 1e-6 relative.
"""

from __future__ import annotations

import warnings

import moderndid
import numpy as np
import pandas as pd
import pytest

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate import EstimationResult, StaggeredResult, staggered_did

RTOL = 1e-6
PEER_CONTROL = {"never": "nevertreated", "not_yet": "notyettreated"}
PEER_TERMS = {"group": "group=", "dynamic": "event_time=", "calendar": "period="}


@pytest.fixture(scope="module")
def mpdta() -> tuple[object, pd.DataFrame]:
    peer_frame = moderndid.load_mpdta()
    return peer_frame, peer_frame.to_pandas()


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
    with pytest.raises(EstimationError, match="not implemented"):
        staggered_did(frame, "income", "hh_id", "round", "first_round", method="dr")
    with pytest.raises(EstimationError, match="covariates"):
        staggered_did(frame, "income", "hh_id", "round", "first_round", covariates=["district"])
    with pytest.raises(ConfigError, match="'simple', 'group', 'dynamic', 'calendar'"):
        staggered_did(frame, "income", "hh_id", "round", "first_round").aggregate("event")
    bad = frame.copy()
    bad.loc[bad.index[1], "first_round"] = 99
    with pytest.raises(EstimationError, match="constant within each unit"):
        staggered_did(bad, "income", "hh_id", "round", "first_round")
    with pytest.raises(EstimationError, match="more than once"):
        staggered_did(pd.concat([frame, frame.head(1)]), "income", "hh_id", "round", "first_round")
