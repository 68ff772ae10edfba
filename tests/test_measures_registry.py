"""Scale registry, reliability and income measures against hand-worked examples and peers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pingouin
import pytest
from statsmodels.multivariate.factor import Factor

from doorstep.errors import ConfigError, DataError
from doorstep.measures import (
    SCALES,
    adult_equivalents,
    cronbach_alpha,
    income_measures,
    mcdonald_omega,
    reliability,
    scale_from_spec,
    score_scale,
    sdq_scores,
    ucla_total,
    who5_score,
    winsorise,
)


def _frame(prefix: str, values, width: int = 0) -> pd.DataFrame:
    return pd.DataFrame({f"{prefix}{i + 1:0{width}d}": [v] for i, v in enumerate(values)})


def test_who5_hand_worked_and_topp_cut_offs():
    # WHO (1998) / Topp et al. 2015: raw = sum of five 0-5 items, percentage = 4 x raw;
    # <= 28 likely depression, <= 50 poor wellbeing.
    rows = pd.DataFrame([[5, 4, 3, 2, 1], [1, 1, 2, 2, 1], [2, 2, 2, 1, 1], [3, 3, 3, 2, 2],
                         [3, 3, 3, 2, 1]], columns=[f"q{i}" for i in range(1, 6)])
    out = score_scale(rows, "who5", items={f"who5_{i}": f"q{i}" for i in range(1, 6)})
    assert out["who5_raw"].tolist() == [15, 7, 8, 13, 12]
    assert out["who5_percentage"].tolist() == [60, 28, 32, 52, 48]
    assert out["who5_percentage_band"].astype(str).tolist() == [
        "not poor wellbeing", "likely depression", "poor wellbeing", "not poor wellbeing",
        "poor wellbeing"]


def test_k6_ucla_rosenberg_cantril_hand_worked():
    # Kessler et al. 2003: six items 0-4 summed, >= 13 serious psychological distress.
    k6 = pd.concat([_frame("k6_", [4, 3, 2, 2, 1, 1]), _frame("k6_", [4, 3, 2, 1, 1, 1])])
    out = score_scale(k6.reset_index(drop=True), "k6")
    assert out["k6_total"].tolist() == [13, 12]
    assert out["k6_total_band"].astype(str).tolist() == ["serious psychological distress",
                                                         "no serious distress"]
    # Hughes et al. 2004: three items 1-3 summed (3-9); >= 6 lonely.
    ucla = pd.concat([_frame("ucla_", [2, 2, 2]), _frame("ucla_", [1, 2, 2])]
                     ).reset_index(drop=True)
    out = score_scale(ucla, "ucla3")
    assert out["ucla_total"].tolist() == [6, 5]
    assert out["ucla_total_band"].astype(str).tolist() == ["lonely", "not lonely"]
    # Rosenberg 1965, 0-30 scoring: positive items 1,3,4,7,10 score as answered (0-3),
    # negative items 2,5,6,8,9 are reversed (3 - x). Agreeing strongly with everything: 15;
    # agreeing strongly with the positive and disagreeing strongly with the negative: 30.
    agree_all = _frame("rse_", [3] * 10, width=2)
    consistent = _frame("rse_", [3, 0, 3, 3, 0, 0, 3, 0, 0, 3], width=2)
    out = score_scale(pd.concat([agree_all, consistent]).reset_index(drop=True), "rosenberg")
    assert out["rosenberg_total"].tolist() == [15, 30]
    ladder = score_scale(pd.DataFrame({"life_satisfaction": [7, None]}), "cantril_ladder",
                         items={"ladder": "life_satisfaction"})
    assert ladder["cantril_ladder"].iloc[0] == 7 and np.isnan(ladder["cantril_ladder"].iloc[1])


def test_sdq_subscales_composites_and_bands():
    # youthinmind scoring: all items "certainly true" (2) -> reversed items 7, 11, 14, 21, 25
    # score 0: emotional 10, conduct 8, hyperactivity 6, peer 6, prosocial 10, total 30.
    out = score_scale(_frame("sdq_", [2] * 25, width=2), "sdq_parent").iloc[0]
    assert [out[c] for c in ("sdq_emotional", "sdq_conduct", "sdq_hyperactivity", "sdq_peer",
                             "sdq_prosocial", "sdq_total", "sdq_externalising",
                             "sdq_internalising")] == [10, 8, 6, 6, 10, 30, 14, 16]
    assert out["sdq_total_band"] == "very high" and out["sdq_prosocial_band"] == (
        "close to average")
    assert out["sdq_hyperactivity_band"] == "slightly raised"  # 6-7 on the parent form
    # Published parent four-band and self-report three-band edges for the total.
    parent = SCALES["sdq_parent"]
    cut = next(c for c in parent.cut_offs if c.scheme == "four_band" and c.score == "sdq_total")
    assert [(b.low, b.high) for b in cut.bands] == [(0, 13), (14, 16), (17, 19), (20, 40)]
    self_three = next(c for c in SCALES["sdq_self"].cut_offs
                      if c.scheme == "three_band" and c.score == "sdq_total")
    assert [(b.label, b.low, b.high) for b in self_three.bands] == [
        ("normal", 0, 15), ("borderline", 16, 19), ("abnormal", 20, 40)]
    three = score_scale(_frame("sdq_", [2] * 25, width=2), "sdq_self", cut_offs="three_band")
    assert three["sdq_total_band"].iloc[0] == "abnormal"
    assert "sdq_total_band" not in score_scale(_frame("sdq_", [2] * 25, width=2), "sdq_self",
                                               cut_offs="none")


def test_registry_matches_the_pipeline_functions():
    rng = np.random.default_rng(5)
    sdq = pd.DataFrame(rng.integers(0, 3, (300, 25)).astype(float),
                       columns=[f"sdq_{i:02d}" for i in range(1, 26)])
    sdq = sdq.mask(rng.random(sdq.shape) < 0.15)
    expected = sdq_scores(sdq)
    got = score_scale(sdq, "sdq_parent")
    pd.testing.assert_frame_equal(got[expected.columns], expected)
    who5 = pd.DataFrame(rng.integers(0, 6, (50, 5)).astype(float),
                        columns=[f"who5_{i}" for i in range(1, 6)]).mask(
        rng.random((50, 5)) < 0.1)
    pd.testing.assert_series_equal(score_scale(who5, "who5")["who5_percentage"],
                                   who5_score(who5), check_names=False)
    ucla = pd.DataFrame(rng.integers(1, 4, (50, 3)), columns=["ucla_1", "ucla_2", "ucla_3"])
    pd.testing.assert_series_equal(score_scale(ucla, "ucla3")["ucla_total"], ucla_total(ucla))
    before = sdq.copy()
    score_scale(sdq, "sdq_self")
    pd.testing.assert_frame_equal(sdq, before)  # input not mutated


def test_user_defined_scale_and_errors():
    spec = {"name": "stress", "items": {"stress_a": ["s1", "s2", "s3"], "stress_b": ["s4",
                                                                                     "s5"]},
            "range": [1, 5], "reversed": ["s2"], "rule": "mean", "missing": "prorate",
            "minimum_answered": 2, "composites": {"stress_ab": ["stress_a", "stress_b"]},
            "cut_offs": {"stress_a": [["low", 1, 2.5], ["high", 2.51, 5]]}}
    frame = pd.DataFrame({"s1": [5, 4], "s2": [1, None], "s3": [3, None], "s4": [2, 2],
                          "s5": [4, 2]})
    out = score_scale(frame, spec)
    assert out["stress_a"].iloc[0] == pytest.approx((5 + 5 + 3) / 3)
    assert np.isnan(out["stress_a"].iloc[1])  # only 1 of 3 answered
    assert out["stress_ab"].iloc[0] == pytest.approx(13 / 3 + 3)
    assert out["stress_a_band"].iloc[0] == "high"
    with pytest.raises(ConfigError, match=r"key 'reversed'.*found \['s9'\]"):
        scale_from_spec({"name": "x", "items": ["a", "b"], "range": [0, 3], "reversed": ["s9"]})
    with pytest.raises(ConfigError, match="key 'rule'"):
        scale_from_spec({"name": "x", "items": ["a", "b"], "range": [0, 3], "rule": "median"})
    with pytest.raises(ConfigError, match=r"key 'cut_offs\.x'.*bands covering 0-6"):
        scale_from_spec({"name": "x", "items": ["a", "b"], "range": [0, 3],
                         "cut_offs": {"x": [["low", 0, 2], ["high", 3, 5]]}})
    with pytest.raises(ConfigError, match="key 'wording'"):
        scale_from_spec({"name": "x", "items": ["a"], "range": [0, 1], "wording": "?"})
    with pytest.raises(ConfigError, match=r"key 'items'.*\['who5_9'\]"):
        score_scale(frame, "who5", items={"who5_9": "s1"})
    with pytest.raises(DataError, match="column 'ucla_2', row 1: expected a number from 1 to 3, "
                                        "found 7"):
        score_scale(pd.DataFrame({"ucla_1": [1, 1], "ucla_2": [2, 7], "ucla_3": [1, 1]}),
                    "ucla3")
    with pytest.raises(DataError, match="expected item columns"):
        score_scale(pd.DataFrame({"x": [1]}), "k6")


def test_alpha_matches_pingouin_and_omega_a_hand_computation():
    rng = np.random.default_rng(11)
    factor = rng.normal(size=(400, 1))
    items = pd.DataFrame(factor * [0.9, 0.7, 0.6, 0.5, 0.8] + rng.normal(size=(400, 5)),
                         columns=list("abcde"))
    items.iloc[:20, 1] = np.nan
    expected, _ = pingouin.cronbach_alpha(items, nan_policy="listwise")
    assert cronbach_alpha(items) == pytest.approx(expected, abs=1e-10)
    # Omega: data whose sample covariance is exactly l l' + diag(u) -> the ML fit recovers
    # l and u, and omega = (sum l)^2 / ((sum l)^2 + sum u) by hand.
    loadings = np.array([1.2, 0.9, 0.6, 1.5])
    unique = np.array([0.5, 0.8, 1.0, 0.7])
    target = np.outer(loadings, loadings) + np.diag(unique)
    raw = rng.normal(size=(300, 4))
    raw -= raw.mean(axis=0)
    whitened = raw @ np.linalg.inv(np.linalg.cholesky(np.cov(raw, rowvar=False)).T)
    exact = pd.DataFrame(whitened @ np.linalg.cholesky(target).T)
    hand = loadings.sum() ** 2 / (loadings.sum() ** 2 + unique.sum())
    assert mcdonald_omega(exact) == pytest.approx(hand, abs=1e-6)
    # The ML loadings agree with statsmodels' ML factor analysis on real-looking data.
    complete = items.dropna()
    ours = mcdonald_omega(complete)
    fit = Factor(complete.to_numpy(), n_factor=1, method="ml").fit()
    peer_loadings = np.abs(fit.loadings.ravel()) * complete.std(ddof=1).to_numpy()
    peer_unique = fit.uniqueness * complete.var(ddof=1).to_numpy()
    peer = peer_loadings.sum() ** 2 / (peer_loadings.sum() ** 2 + peer_unique.sum())
    assert ours == pytest.approx(peer, abs=1e-3)


def test_reliability_per_scale_and_round():
    rng = np.random.default_rng(2)
    latent = rng.normal(size=400)
    who5 = np.clip(np.round(2.5 + latent[:, None] + rng.normal(0, 0.8, (400, 5))), 0, 5)
    frame = pd.DataFrame(who5, columns=[f"w{i}" for i in range(1, 6)]).assign(
        round=np.repeat([1, 2], 200))
    out = reliability(frame, "who5", by="round", mapping={f"who5_{i}": f"w{i}"
                                                          for i in range(1, 6)})
    assert out["round"].tolist() == [1, 2] and out["scale"].tolist() == ["who5_raw"] * 2
    first = frame[frame["round"] == 1].iloc[:, :5]
    assert out["cronbach_alpha"].iloc[0] == pytest.approx(
        pingouin.cronbach_alpha(first)[0], abs=1e-10)
    assert (out["omega_total"] > 0.7).all() and (out["n_obs"] == 200).all()
    sdq = pd.DataFrame(rng.integers(0, 3, (100, 25)), columns=[f"sdq_{i:02d}"
                                                              for i in range(1, 26)])
    rows = reliability(sdq, "sdq_parent")
    assert rows["scale"].tolist()[-3:] == ["sdq_total", "sdq_externalising",
                                           "sdq_internalising"]
    assert rows.set_index("scale").loc["sdq_total", "n_items"] == 20
    with pytest.raises(ConfigError, match="at least 2 items"):
        reliability(frame, {"one": ["w1"]})


def test_income_measures_hand_computation():
    frame = pd.DataFrame({"wages": [3000.0, 2000.0, np.nan], "farming": [24000.0, 0.0, 1200.0],
                          "remit": [500.0, np.nan, 100.0], "adults": [3, 1, 0],
                          "kids": [1, 0, 2], "cpi": [105.0, 100.0, 100.0],
                          "round": [1, 1, 2]})
    out = income_measures(frame, ["wages", "farming", "remit"], adults="adults",
                          children="kids", periods={"farming": "year"}, price_index="cpi")
    # Household 1: 3000 + 24000/12 + 500 = 5500 a month, at 2020 prices / 1.05.
    assert out["hh_income"].iloc[0] == pytest.approx(5500 / 1.05)
    assert np.isnan(out["hh_income"].iloc[1])  # a missing component is not a zero
    assert out["hh_income_per_capita"].iloc[0] == pytest.approx(5500 / 1.05 / 4)
    # Modified OECD: 1 + 0.5 x 2 + 0.3 x 1 = 2.3
    assert out["adult_equivalents"].iloc[0] == pytest.approx(2.3)
    assert out["hh_income_per_adult_equivalent"].iloc[0] == pytest.approx(5500 / 1.05 / 2.3)
    assert np.isnan(out["adult_equivalents"].iloc[2])  # no one aged 14+
    assert out["hh_income_ihs"].iloc[0] == pytest.approx(np.arcsinh(5500 / 1.05))
    lenient = income_measures(frame, ["wages", "farming", "remit"], adults="adults",
                              children="kids", missing="all", output_period="year",
                              periods={"farming": "year"})
    assert lenient["hh_income"].tolist() == [66000.0, 24000.0, 2400.0]
    assert lenient["hh_income_components_missing"].tolist() == [0, 1, 1]
    assert adult_equivalents(2, 2) == pytest.approx(2.1)
    values = pd.Series([1.0, 2, 3, 100, 1, 2, 3, 50])
    groups = pd.Series(["a"] * 4 + ["b"] * 4)
    clipped = winsorise(values, upper=0.75, groups=groups)
    assert clipped.tolist() == [1, 2, 3, np.quantile([1, 2, 3, 100], 0.75), 1, 2, 3,
                                np.quantile([1, 2, 3, 50], 0.75)]
