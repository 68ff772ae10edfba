"""Subgroup effects and dose-response stages: against hand computations and simulated truth."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from doorstep import estimate
from doorstep.run.stages import (
    dose_bands,
    dose_response,
    subgroup_effects,
)


def _config(design, **extra):
    base = {"unit": "id", "cluster": "village", "design": design, "headline": {"main": "y"},
            "subgroups": ({"column": "group", "label": {"en": "Group", "zh": "组"}},),
            "language": "en", "dose": None, "path": "cfg.yaml"}
    base.update(extra)
    return SimpleNamespace(**base)


def _staggered_panel(seed, *, n_villages=60, per_village=20, effects=(1.0, 3.0),
                     village_sd=1.0, periods=(1, 2)):
    """Villages start in period 2 (half) or never; a subgroup 0/1 within every village; each
    village has a shock per period shared by both subgroups."""
    rng = np.random.default_rng(seed)
    rows = []
    for village in range(n_villages):
        cohort = 2 if village % 2 == 0 else 0
        shocks = rng.normal(0, village_sd, len(periods))
        for member in range(per_village):
            unit = f"v{village:03d}u{member:02d}"
            group = member % 2
            level = rng.normal()
            for position, period in enumerate(periods):
                treated = cohort and period >= cohort
                rows.append({"id": unit, "village": f"V{village:03d}", "round": period,
                             "cohort": cohort, "group": group,
                             "y": level + shocks[position] + rng.normal()
                             + (effects[group] if treated else 0.0)})
    return pd.DataFrame(rows)


def _simple_att_influence(fit):
    """Reference: each unit's influence function of the simple ATT, written out from R did's
    aggte (cohort-size weights plus the term for the estimated cohort shares)."""
    groups, times = fit.groups, fit.times
    keepers = np.flatnonzero(groups <= times)
    cohort_list = np.unique(groups)
    shares = np.array([np.mean(fit.unit_cohorts == g) for g in cohort_list])
    pg = shares[np.searchsorted(cohort_list, groups)][keepers]
    weights = pg / pg.sum()
    indicators = (fit.unit_cohorts[:, None] == groups[keepers][None, :]).astype(float)
    centred = indicators - pg[None, :]
    weight_influence = centred / pg.sum() - np.outer(centred.sum(axis=1), pg / pg.sum() ** 2)
    return fit.influence[:, keepers] @ weights + weight_influence @ fit.estimates[keepers]


def test_cluster_scores_the_subgroup_test_uses_match_the_written_out_influence_function():
    rng = np.random.default_rng(3)
    rows = [(i, t, (2, 3, 0)[i % 3], i // 10) for i in range(300) for t in (1, 2, 3, 4)]
    frame = pd.DataFrame(rows, columns=["id", "t", "g", "village"])
    frame["y"] = rng.normal(size=len(frame)) + (frame.t >= frame.g) * (frame.g > 0) * 1.5
    fit = estimate.staggered_did(frame, "y", "id", "t", "g", cluster="village",
                                 bootstrap_reps=0)
    function = _simple_att_influence(fit)
    sums = np.bincount(fit.cluster_codes, weights=function) / fit.n_units
    assert np.sqrt((sums**2).sum()) == pytest.approx(fit.aggregate("simple").std_error,
                                                     rel=1e-10)
    assert abs(function.mean()) < 1e-10  # an influence function has mean zero
    scores = fit.cluster_scores("simple")
    assert scores.index.tolist() == list(fit.cluster_labels)
    np.testing.assert_allclose(scores.to_numpy(), sums, rtol=1e-10, atol=1e-14)


def test_staggered_equality_test_matches_a_saturated_regression_with_clustered_errors():
    panel = _staggered_panel(5, n_villages=16, per_village=10)
    table = subgroup_effects(_config("staggered_rollout"), panel, seed=1)
    rows = table[table["subgroup"] == "group"].set_index("level")
    # reference: change per unit on the four cells (group x treated), CR0 clustered sandwich
    wide = panel.pivot(index="id", columns="round", values="y")
    info = panel.groupby("id")[["group", "cohort", "village"]].first().loc[wide.index]
    change = (wide[2] - wide[1]).to_numpy()
    cells = (info["group"] * 2 + (info["cohort"] > 0)).to_numpy()
    design = np.eye(4)[cells]
    coefficients = np.linalg.lstsq(design, change, rcond=None)[0]
    residuals = change - design @ coefficients
    bread = np.linalg.inv(design.T @ design)
    scores = pd.DataFrame(design * residuals[:, None]).groupby(info["village"].to_numpy()).sum()
    covariance = bread @ (scores.T.to_numpy() @ scores.to_numpy()) @ bread
    effects = np.array([coefficients[1] - coefficients[0], coefficients[3] - coefficients[2]])
    assert rows.loc[0, "estimate"] == pytest.approx(effects[0], rel=1e-10)
    assert rows.loc[1, "estimate"] == pytest.approx(effects[1], rel=1e-10)
    contrast = np.array([1.0, -1.0, -1.0, 1.0])  # (g1 treated - g1 control) - (g0 ...)
    difference = contrast @ coefficients
    wald = difference**2 / (contrast @ covariance @ contrast)
    assert rows.loc[0, "equality_statistic"] == pytest.approx(wald, rel=1e-8)
    assert rows.loc[0, "equality_p_value"] == pytest.approx(stats.chi2.sf(wald, 1), rel=1e-8)
    assert rows.loc[0, "std_error"] == pytest.approx(
        np.sqrt(covariance[0, 0] + covariance[1, 1]), rel=1e-8)
    overall = table[table["subgroup"] == "overall"].iloc[0]
    direct = estimate.staggered_did(panel, "y", "id", "round", "cohort", cluster="village",
                                    bootstrap_reps=0).aggregate("simple")
    assert overall["estimate"] == pytest.approx(direct.estimate, rel=1e-12)


def test_staggered_subgroups_recover_simulated_effects_and_detect_the_difference():
    panel = _staggered_panel(11, n_villages=80, per_village=30, effects=(1.0, 3.0))
    rows = subgroup_effects(_config("staggered_rollout"), panel, seed=1)
    rows = rows[rows["subgroup"] == "group"].set_index("level")
    assert rows.loc[0, "estimate"] == pytest.approx(1.0, abs=0.35)
    assert rows.loc[1, "estimate"] == pytest.approx(3.0, abs=0.35)
    assert rows.loc[0, "equality_p_value"] < 0.001


def test_staggered_equality_test_holds_its_size_with_shared_village_shocks():
    rejections = 0
    reps = 150
    for seed in range(reps):
        panel = _staggered_panel(1000 + seed, n_villages=40, per_village=8, effects=(2.0, 2.0),
                                 village_sd=1.5)
        rows = subgroup_effects(_config("staggered_rollout"), panel, seed=1)
        rejections += rows.loc[rows["subgroup"] == "group", "equality_p_value"].iloc[0] < 0.05
    # 150 draws: a 5% test rejects 2-14 times with probability > 0.99
    assert 2 <= rejections <= 14


def _lottery_frame(seed, *, n_villages=40, per_village=40, effects=(1.0, 3.0)):
    rng = np.random.default_rng(seed)
    rows = []
    for village in range(n_villages):
        shock = rng.normal(0, 0.5)
        for member in range(per_village):
            group = member % 2
            won = int(rng.random() < 0.5)
            baseline = rng.normal()
            rows.append({"id": f"v{village}m{member}", "village": f"V{village:02d}",
                         "design": "lottery", "applied": 1, "won_lottery": won,
                         "group": group, "y_baseline": baseline,
                         "y": 0.6 * baseline + shock + rng.normal() + won * effects[group]})
    return pd.DataFrame(rows)


def test_lottery_subgroups_use_ancova_per_level_and_the_interaction_test():
    frame = _lottery_frame(2)
    rows = subgroup_effects(_config("lottery"), frame, seed=1)
    levels = rows[rows["subgroup"] == "group"].set_index("level")
    for level in (0, 1):
        direct = estimate.ancova(frame[frame["group"] == level], "y", "won_lottery",
                                 baseline_outcome="y_baseline", strata="village",
                                 cluster="village")
        assert levels.loc[level, "estimate"] == pytest.approx(direct.estimate, rel=1e-12)
        assert levels.loc[level, "std_error"] == pytest.approx(direct.std_error, rel=1e-12)
    assert levels.loc[0, "estimate"] == pytest.approx(1.0, abs=0.3)
    assert levels.loc[1, "estimate"] == pytest.approx(3.0, abs=0.3)
    test = estimate.heterogeneity(frame, "y", "won_lottery", "group", covariates=["y_baseline"],
                                  strata="village", cluster="village").extras["equality_test"]
    assert levels.loc[0, "equality_p_value"] == pytest.approx(test.p_value, rel=1e-12)
    assert levels.loc[0, "equality_p_value"] < 0.001
    assert set(levels["n_units"]) == {800}


def test_subgroup_levels_from_bins_and_labels():
    spec = {"column": "group", "label": {"en": "Group", "zh": "组"}, "bins": [0.0, 0.5, 1.0]}
    frame = _lottery_frame(4, n_villages=10, per_village=20)
    rows = subgroup_effects(_config("lottery", subgroups=(spec,)), frame, seed=1)
    assert rows["level_label"].tolist() == ["All", "[0, 0.5)", "[0.5, 1]"]
    assert rows["subgroup_label"].tolist()[1:] == ["Group", "Group"]


def test_dose_bands_cut_points_and_tertiles():
    band, table = dose_bands(pd.Series([0.0, 2, 5, 6, 11, 12, 40]), [6, 12])
    assert band.tolist() == [0, 0, 0, 1, 1, 2, 2]
    assert table["band_label"].tolist() == ["0–5", "6–11", "12+"]
    band, table = dose_bands(pd.Series(np.arange(9, dtype=float)), "tertiles")
    assert band.value_counts().sort_index().tolist() == [2, 3, 4]


def test_staggered_dose_response_on_a_hand_made_panel(tmp_path):
    # never-treated changes 1, 2, 3 (mean 2); band "0-1" changes 5, 7; band "2+" 10, 12
    units = {"n1": (0, 1.0, 0), "n2": (0, 2.0, 0), "n3": (0, 3.0, 0),
             "t1": (2, 5.0, 0), "t2": (2, 7.0, 1), "t3": (2, 10.0, 2), "t4": (2, 12.0, 3)}
    rows, visits = [], []
    for position, (unit, (cohort, change, count)) in enumerate(units.items()):
        rows.append({"id": unit, "village": f"V{position}", "round": 1, "cohort": cohort,
                     "y": 0.0, "interview_date": pd.Timestamp("2024-03-01")})
        rows.append({"id": unit, "village": f"V{position}", "round": 2, "cohort": cohort,
                     "y": change, "interview_date": pd.Timestamp("2024-09-01")})
        visits += [{"child": unit, "day": "2024-05-01"}] * count
    visits.append({"child": "t1", "day": "2024-10-01"})  # after the last interview: not counted
    path = tmp_path / "visits.csv"
    pd.DataFrame(visits).to_csv(path, index=False)
    dose = {"path": str(path), "unit": "child", "count": "rows", "date": "day",
            "bands": [2.0], "label": {"en": "Visits", "zh": "走访"}}
    table = dose_response(_config("staggered_rollout", dose=dose), pd.DataFrame(rows), seed=1)
    assert table["band_label"].tolist() == ["0–1", "2+"]
    assert table["estimate"].tolist() == pytest.approx([6.0 - 2.0, 11.0 - 2.0], rel=1e-12)
    assert table["mean_dose"].tolist() == pytest.approx([0.5, 2.5])
    assert table["n_units"].tolist() == [2, 2]


def test_lottery_dose_response_on_a_hand_made_frame(tmp_path):
    frame = _lottery_frame(7, n_villages=3, per_village=40)
    winners = frame.loc[frame["won_lottery"] == 1, "id"].tolist()
    sessions = pd.DataFrame({"woman": winners[:-3],
                             "sessions": [(k * 7) % 15 for k in range(len(winners) - 3)]})
    path = tmp_path / "attendance.csv"
    sessions.to_csv(path, index=False)
    dose = {"path": str(path), "unit": "woman", "count": "sessions", "date": None,
            "bands": [3.0, 10.0], "label": {"en": "Sessions", "zh": "次数"}}
    table = dose_response(_config("lottery", dose=dose), frame, seed=1)
    counts = sessions.set_index("woman")["sessions"].reindex(winners).fillna(0)  # absent: 0
    for band, (low, high) in enumerate([(0, 3), (3, 10), (10, 99)]):
        members = counts.index[(counts >= low) & (counts < high)]
        part = frame[(frame["won_lottery"] == 0) | frame["id"].isin(members)]
        villages = pd.get_dummies(part["village"]).to_numpy(dtype=float)  # strata
        design = np.column_stack([part["won_lottery"], part["y_baseline"], villages])
        reference = np.linalg.lstsq(design, part["y"].to_numpy(), rcond=None)[0][0]
        row = table.iloc[band]
        assert row["estimate"] == pytest.approx(reference, rel=1e-10)
        assert row["n_units"] == len(members)


def test_dose_gradient_has_the_right_sign_on_simulated_data(tmp_path):
    # the simulator's rule: effect = base x (0.5 + 0.5 visits / 4), visits ~ Poisson(rate)
    rng = np.random.default_rng(21)
    rows, visits = [], []
    for village in range(120):
        cohort = 2 if village % 2 == 0 else 0
        shocks = rng.normal(0, 0.5, 2)
        for member in range(25):
            unit = f"v{village}m{member}"
            count = int(rng.poisson(rng.gamma(4.0, 1.0))) if cohort else 0
            level = rng.normal()
            for position, period in enumerate((1, 2)):
                effect = -2.0 * (0.5 + 0.5 * count / 4) if cohort and period == 2 else 0.0
                rows.append({"id": unit, "village": f"V{village}", "round": period,
                             "cohort": cohort, "y": level + shocks[position] + rng.normal()
                             + effect})
            visits += [{"child": unit}] * count
    path = tmp_path / "visits.csv"
    pd.DataFrame(visits).to_csv(path, index=False)
    dose = {"path": str(path), "unit": "child", "count": "rows", "date": None,
            "bands": "tertiles", "label": {"en": "Visits", "zh": "走访"}}
    table = dose_response(_config("staggered_rollout", dose=dose), pd.DataFrame(rows), seed=1)
    estimates = table["estimate"].to_numpy()
    assert np.all(np.diff(estimates) < 0)  # more visits, larger fall in difficulties
    truth = -2.0 * (0.5 + 0.5 * table["mean_dose"].to_numpy() / 4)
    assert estimates == pytest.approx(truth, abs=0.3)
    gap = estimates[-1] - estimates[0]
    assert gap < -3 * np.hypot(table["std_error"].iloc[-1], table["std_error"].iloc[0])
