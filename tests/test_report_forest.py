"""Forest and dose-response figures: what is drawn is what the frame says, in its language."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from doorstep.report.forest import dose_response_figure, draw_intervals, forest_figure

SUBGROUPS = pd.DataFrame({
    "outcome": ["y"] * 5,
    "subgroup": ["overall", "sex", "sex", "age", "age"],
    "subgroup_label": ["全部", "性别", "性别", "年龄", "年龄"],
    "level_label": ["全部", "男", "女", "[6, 12)", "[12, 18]"],
    "estimate": [1.0, 0.8, 1.2, np.nan, 2.0],
    "conf_low": [0.5, 0.1, 0.4, np.nan, 1.0],
    "conf_high": [1.5, 1.5, 2.0, np.nan, 3.0],
    "equality_p_value": [np.nan, 0.4, 0.4, 0.0001, 0.0001],
})


def _points(axis):
    """(x, y) of every marker drawn (the estimates)."""
    return [(float(line.get_xdata()[0]), float(line.get_ydata()[0])) for line in axis.lines
            if line.get_marker() == "o"]


def test_draw_intervals_places_bars_and_points():
    axis = Figure().subplots()
    draw_intervals(axis, np.array([0.0, 1.0]), np.array([1.0, np.nan]), np.array([0.5, 0.0]),
                   np.array([1.5, 1.0]), horizontal=True)
    bars = [line for line in axis.lines if line.get_marker() in ("None", "")]
    assert [list(bar.get_xdata()) for bar in bars[:1]] == [[0.5, 1.5]]
    assert _points(axis) == [(1.0, 0.0)]  # the missing estimate is not drawn


def test_forest_figure_rows_values_and_chinese_labels():
    figure = forest_figure(SUBGROUPS, {"y": "收入"}, "zh")
    axis = figure.axes[0]
    labels = [tick.get_text() for tick in axis.get_yticklabels()]
    assert labels == ["全部", "性别  (效应相等检验：p = 0.400)", "    男", "    女",
                      "年龄  (效应相等检验：p < 0.001)", "    [6, 12)", "    [12, 18]"]
    # estimates drawn at their rows (headers have no point; the missing estimate is skipped)
    assert _points(axis) == [(1.0, 0.0), (0.8, 2.0), (1.2, 3.0), (2.0, 6.0)]
    assert axis.get_title() == "收入"
    figure.savefig(__import__("io").BytesIO(), format="png")  # renders without errors


def test_forest_figure_one_panel_per_outcome_and_missing_columns():
    two = pd.concat([SUBGROUPS, SUBGROUPS.assign(outcome="z")], ignore_index=True)
    assert len(forest_figure(two, {}, "en").axes) == 2
    with pytest.raises(ValueError, match="conf_low"):
        forest_figure(SUBGROUPS.drop(columns="conf_low"), {}, "en")


def test_dose_response_figure_bands_in_order_with_caption():
    frame = pd.DataFrame({"outcome": ["y"] * 3, "band": [2, 0, 1],
                          "band_label": ["12+", "0–5", "6–11"], "estimate": [3.0, 1.0, 2.0],
                          "conf_low": [2.0, 0.0, 1.0], "conf_high": [4.0, 2.0, 3.0],
                          "n_units": [30, 10, 20]})
    figure = dose_response_figure(frame, {"y": "Y"}, "en", dose_label="Home visits")
    axis = figure.axes[0]
    assert [tick.get_text() for tick in axis.get_xticklabels()] == [
        "0–5\nn = 10", "6–11\nn = 20", "12+\nn = 30"]
    assert _points(axis) == [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]
    assert axis.get_xlabel() == "Home visits"
    assert "not causal" in figure.get_supxlabel()
    chinese = dose_response_figure(frame, {"y": "Y"}, "zh")
    assert "不代表因果关系" in chinese.get_supxlabel().replace("\n", "")
