"""Effects in comparison-group SDs: the control SD, the standardised table and the plot."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from doorstep import estimate
from doorstep.errors import DataError
from doorstep.report.coefficients import coefficient_figure, standardise_effects
from doorstep.run.stages import control_standard_deviation


def test_standardise_effects_divides_by_each_outcome_sd():
    headline = pd.DataFrame({
        "outcome": ["income", "income", "wellbeing", "unknown"],
        "estimand": ["itt", "late", "itt", "itt"],
        "estimate": [300.0, 600.0, -2.5, 1.0],
        "conf_low": [100.0, 150.0, -5.0, 0.0],
        "conf_high": [500.0, 1050.0, 0.0, 2.0],
    })
    sd = pd.DataFrame({"outcome": ["income", "wellbeing"], "control_sd": [1500.0, 12.5]})
    out = standardise_effects(headline, sd)
    assert out["estimate_sd"].iloc[:3].tolist() == pytest.approx([0.2, 0.4, -0.2], abs=1e-12)
    assert out["conf_low_sd"].iloc[:3].tolist() == pytest.approx([1 / 15, 0.1, -0.4], abs=1e-12)
    assert out["conf_high_sd"].iloc[:3].tolist() == pytest.approx([1 / 3, 0.7, 0.0], abs=1e-12)
    assert out.iloc[3][["control_sd", "estimate_sd"]].isna().all()  # no SD, no standard units
    assert "estimate_sd" not in headline.columns  # the caller's frame is not changed


def test_standardise_effects_rejects_two_sds_for_one_outcome():
    headline = pd.DataFrame({"outcome": ["y"], "estimand": ["itt"], "estimate": [1.0],
                             "conf_low": [0.0], "conf_high": [2.0]})
    with pytest.raises(DataError, match="outcome 'y' appears twice"):
        standardise_effects(headline, pd.DataFrame({"outcome": ["y", "y"],
                                                    "control_sd": [1.0, 2.0]}))


def test_control_sd_of_a_staggered_roll_out_uses_never_treated_units_at_baseline():
    config = SimpleNamespace(design="staggered_rollout", outcomes={"y": "Y", "z": "Z"})
    analysis = pd.DataFrame({
        "round": [1, 1, 1, 1, 2, 2, 1],
        "cohort": [0, 0, 0, 2, 0, 2, 0],
        "y": [1.0, 2.0, 6.0, 100.0, 50.0, 70.0, np.nan],
        "z": [3.0, 3.0, 3.0, 1.0, 2.0, 2.0, 3.0],
    })
    sd = control_standard_deviation(config, analysis).set_index("outcome")
    assert sd.loc["y", "control_sd"] == pytest.approx(np.std([1.0, 2.0, 6.0], ddof=1))
    assert sd.loc["y", "n_obs"] == 3
    assert np.isnan(sd.loc["z", "control_sd"])  # no variation: no standard unit


def test_control_sd_of_a_lottery_uses_the_losers_baseline():
    config = SimpleNamespace(design="lottery", outcomes={"y": "Y"})
    analysis = pd.DataFrame({
        "design": ["lottery"] * 5 + ["open"],
        "applied": [1, 1, 1, 1, 0, 0],
        "won_lottery": [0, 0, 0, 1, 0, 0],
        "y": [9.0, 9.0, 9.0, 9.0, 9.0, 9.0],
        "y_baseline": [2.0, 4.0, 9.0, 40.0, 60.0, 80.0],
    })
    sd = control_standard_deviation(config, analysis)
    assert sd["control_sd"].item() == pytest.approx(np.std([2.0, 4.0, 9.0], ddof=1))
    with pytest.raises(DataError, match="no column 'y_baseline'"):
        control_standard_deviation(config, analysis.drop(columns="y_baseline"))


def test_a_known_standardised_effect_is_recovered_from_simulated_data():
    """Outcome SD 400 in the control group, effect 0.25 SD: ITT/SD must cover 0.25."""
    generator = np.random.default_rng(20240301)
    villages, per_village = 60, 40
    n = villages * per_village
    village = np.repeat(np.arange(villages), per_village)
    won = generator.integers(0, 2, n)
    baseline = generator.normal(3000, 400, n)
    endline = 0.6 * baseline + 1200 + generator.normal(0, 320, n) + 0.25 * 400 * won
    analysis = pd.DataFrame({"design": "lottery", "applied": 1, "won_lottery": won,
                             "village_code": village, "earnings": endline,
                             "earnings_baseline": baseline})
    config = SimpleNamespace(design="lottery", outcomes={"earnings": "Earnings"})
    sd = control_standard_deviation(config, analysis)
    assert sd["control_sd"].item() == pytest.approx(400, rel=0.05)
    itt = estimate.ancova(analysis, "earnings", "won_lottery",
                          baseline_outcome="earnings_baseline", cluster="village_code")
    headline = itt.tidy().iloc[[0]].assign(estimand="itt")
    row = standardise_effects(headline, sd).iloc[0]
    assert row["conf_low_sd"] <= 0.25 <= row["conf_high_sd"]
    std_error_sd = row["std_error"] / row["control_sd"]
    assert 0.02 < std_error_sd < 0.05  # the design's precision: the check below has teeth
    assert abs(row["estimate_sd"] - 0.25) < 3 * std_error_sd
    assert row["estimate_sd"] == pytest.approx(row["estimate"] / sd["control_sd"].item())


def test_coefficient_figure_sorts_outcomes_and_marks_every_estimand():
    headline = pd.DataFrame({
        "outcome": ["a", "b", "c", "a", "b", "c", "d"],
        "estimand": ["itt"] * 3 + ["late"] * 3 + ["itt"],
        "estimate": [1.0, -4.0, 3.0, 2.0, -8.0, 6.0, 1.0],
        "conf_low": [0.0, -6.0, 1.0, 0.0, -12.0, 2.0, 0.0],
        "conf_high": [2.0, -2.0, 5.0, 4.0, -4.0, 10.0, 2.0],
    })
    sd = pd.DataFrame({"outcome": ["a", "b", "c", "d"], "control_sd": [1.0, 2.0, 10.0, np.nan]})
    figure = coefficient_figure(headline, sd, {"a": "Alpha", "b": "Beta", "c": "Gamma"}, "en")
    axis = figure.axes[0]
    # ITT in SDs: a 1.0, b -2.0, c 0.3; d has no SD and is left out; largest on top
    assert [label.get_text() for label in axis.get_yticklabels()] == ["Beta", "Gamma", "Alpha"]
    points = [line for line in axis.get_lines() if line.get_linestyle() == "None"]
    assert [line.get_label() for line in points] == ["ITT", "LATE"]
    assert sorted(points[0].get_xdata()) == pytest.approx([-2.0, 0.3, 1.0])
    assert sorted(points[1].get_xdata()) == pytest.approx([-4.0, 0.6, 2.0])
    assert axis.get_xlabel() == "effect (comparison-group standard deviations)"


def test_coefficient_figure_accepts_a_standardised_table_and_speaks_chinese():
    headline = pd.DataFrame({"outcome": ["y"], "estimand": ["itt"], "estimate": [3.0],
                             "conf_low": [1.0], "conf_high": [5.0]})
    table = standardise_effects(headline, pd.DataFrame({"outcome": ["y"], "control_sd": [2.0]}))
    figure = coefficient_figure(table, None, {"y": "收入"}, "zh")
    assert figure.axes[0].get_xlabel() == "效应（对照组标准差）"
    with pytest.raises(DataError, match="pass control_sd"):
        coefficient_figure(headline, None)
    with pytest.raises(DataError, match="no outcome has a comparison-group SD"):
        coefficient_figure(headline, pd.DataFrame({"outcome": ["y"], "control_sd": [0.0]}))
