"""Interval plots of effects by group: forest plot of subgroups, dose-response plot.

Both figures draw one panel per outcome of estimates with their 95% intervals along a list of
groups (subgroup levels, or bands of dose) with one plotting core, :func:`draw_intervals`. They
draw what :func:`doorstep.run.stages.subgroup_effects` and
:func:`doorstep.run.stages.dose_response` give (tidy frames), in the report's language; they
compute nothing. This module must not import ``estimate``, ``clean`` or ``run``.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from doorstep.report.i18n import text, use_language_fonts
from doorstep.report.tables import format_p_value

COLOUR = "#1f5f8b"
OVERALL_COLOUR = "#c0392b"
SUBGROUP_COLUMNS = ("outcome", "subgroup", "level_label", "estimate", "conf_low", "conf_high")
DOSE_COLUMNS = ("outcome", "band", "band_label", "estimate", "conf_low", "conf_high")


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise ValueError(f"{what}: columns {missing} not found; expected {list(columns)}, "
                         f"found {list(frame.columns)}")


def draw_intervals(axis: Axes, positions: np.ndarray, estimates: np.ndarray,
                   lows: np.ndarray, highs: np.ndarray, *, horizontal: bool,
                   colours: list[str] | None = None, connect: bool = False) -> None:
    """Points with interval bars at ``positions``, and a dashed line at zero.

    ``horizontal=True`` puts the values on the x axis (a forest plot), else on the y axis.
    Missing estimates are skipped.

    Examples
    --------
    >>> axis = Figure().subplots()
    >>> draw_intervals(axis, np.arange(2), np.array([1.0, 2.0]), np.array([0.5, 1.0]),
    ...                np.array([1.5, 3.0]), horizontal=False)
    >>> len(axis.lines) >= 1
    True
    """
    colours = colours or [COLOUR] * len(positions)
    for position, value, low, high, colour in zip(positions, estimates, lows, highs, colours,
                                                  strict=True):
        if not np.isfinite(value):
            continue
        bar = ([low, high], [position, position]) if horizontal else (
            [position, position], [low, high])
        axis.plot(*bar, color=colour, linewidth=2.2, solid_capstyle="butt")
        axis.plot(*(([value], [position]) if horizontal else ([position], [value])), "o",
                  color=colour, markersize=5)
    if connect:
        finite = np.isfinite(estimates)
        axis.plot(positions[finite], estimates[finite], color=COLOUR, linewidth=0.8, alpha=0.6)
    (axis.axvline if horizontal else axis.axhline)(0, color="grey", linestyle="--",
                                                   linewidth=0.8)


def _p_words(p_value: float) -> str:
    shown = format_p_value(p_value)
    return shown.replace("<", "< ") if shown.startswith("<") else f"= {shown}"


def _forest_rows(part: pd.DataFrame, language: str) -> list[dict]:
    """Rows of one outcome's forest plot, top to bottom: overall, then a header and the levels
    of each subgroup (the header carries the test of equal effects)."""
    rows = []
    for subgroup, levels in part.groupby("subgroup", sort=False):
        if subgroup == "overall":
            rows += [{"label": row["level_label"], "row": row, "header": False}
                     for _, row in levels.iterrows()]
            continue
        name = levels["subgroup_label"].iloc[0] if "subgroup_label" in levels else subgroup
        p_value = levels["equality_p_value"].iloc[0] if "equality_p_value" in levels else np.nan
        header = name if pd.isna(p_value) else (
            f"{name}  ({text('subgroup_equal_p', language, p=_p_words(p_value))})")
        rows.append({"label": header, "row": None, "header": True})
        rows += [{"label": f"    {row['level_label']}", "row": row, "header": False}
                 for _, row in levels.iterrows()]
    return rows


def forest_figure(frame: pd.DataFrame, labels: dict[str, str], language: str = "en") -> Figure:
    """Forest plot: one panel per outcome, the effect and 95% interval in every subgroup level.

    ``frame`` is the tidy output of :func:`doorstep.run.stages.subgroup_effects` (columns
    ``outcome, subgroup, subgroup_label, level_label, estimate, conf_low, conf_high,
    equality_p_value``); the ``overall`` row is drawn first, in red, then each subgroup's name
    with the p-value of its test of equal effects, and its levels. ``labels`` names the outcomes.

    Examples
    --------
    >>> rows = pd.DataFrame({"outcome": ["y"] * 3, "subgroup": ["overall", "sex", "sex"],
    ...     "subgroup_label": ["", "Sex", "Sex"], "level_label": ["All", "boy", "girl"],
    ...     "estimate": [1.0, 0.8, 1.2], "conf_low": [0.5, 0.1, 0.4],
    ...     "conf_high": [1.5, 1.5, 2.0], "equality_p_value": [np.nan, 0.4, 0.4]})
    >>> figure = forest_figure(rows, {"y": "Income"})
    >>> [tick.get_text() for tick in figure.axes[0].get_yticklabels()]
    ['All', 'Sex  (equal effects: p = 0.400)', '    boy', '    girl']
    """
    _require(frame, SUBGROUP_COLUMNS, "forest_figure")
    use_language_fonts(language)
    outcomes = list(dict.fromkeys(frame["outcome"]))
    layouts = [_forest_rows(frame[frame["outcome"] == name], language) for name in outcomes]
    height = max(len(rows) for rows in layouts)
    figure = Figure(figsize=(5.2 * len(outcomes), 0.32 * height + 1.3), layout="constrained")
    axes = figure.subplots(1, len(outcomes), squeeze=False)[0]
    for axis, outcome, rows in zip(axes, outcomes, layouts, strict=True):
        drawn = [(position, entry["row"]) for position, entry in enumerate(rows)
                 if not entry["header"]]
        positions = np.array([position for position, _ in drawn], dtype=float)
        draw_intervals(
            axis, positions,
            np.array([row["estimate"] for _, row in drawn], dtype=float),
            np.array([row["conf_low"] for _, row in drawn], dtype=float),
            np.array([row["conf_high"] for _, row in drawn], dtype=float),
            horizontal=True,
            colours=[OVERALL_COLOUR if row["subgroup"] == "overall" else COLOUR
                     for _, row in drawn])
        axis.set_yticks(np.arange(len(rows)), [entry["label"] for entry in rows], fontsize=8)
        for tick, entry in zip(axis.get_yticklabels(), rows, strict=True):
            if language == "en":  # the shipped CJK font has no bold face
                tick.set_fontweight("bold" if entry["header"] else "normal")
            tick.set_horizontalalignment("left")
        axis.tick_params(axis="y", length=0, pad=_label_pad(rows))
        axis.set_ylim(len(rows) - 0.5, -0.7)
        axis.set_title(labels.get(outcome, outcome), fontsize=10)
        axis.spines[["left", "right", "top"]].set_visible(False)
    return figure


def _label_pad(rows: list[dict]) -> float:
    """Room for left-aligned tick labels (points), from the longest label."""
    longest = max(sum(2 if ord(char) > 0x2E80 else 1 for char in entry["label"])
                  for entry in rows)
    return 4.4 * longest + 4


def dose_response_figure(frame: pd.DataFrame, labels: dict[str, str], language: str = "en",
                         *, dose_label: str = "") -> Figure:
    """Effects by band of dose (visits, sessions) per outcome, with 95% intervals.

    ``frame`` is the tidy output of :func:`doorstep.run.stages.dose_response` (columns
    ``outcome, band, band_label, estimate, conf_low, conf_high`` and ``n_units``); bands are
    drawn in order on the x axis, labelled with their range and number of units, joined by a
    thin line. The caption under the panels says that the comparison is descriptive, not causal.

    Examples
    --------
    >>> rows = pd.DataFrame({"outcome": ["y"] * 2, "band": [0, 1], "band_label": ["0-5", "6+"],
    ...     "estimate": [0.2, 1.0], "conf_low": [-0.3, 0.4], "conf_high": [0.7, 1.6],
    ...     "n_units": [40, 60]})
    >>> figure = dose_response_figure(rows, {"y": "Income"}, dose_label="Visits")
    >>> [tick.get_text() for tick in figure.axes[0].get_xticklabels()]
    ['0-5\\nn = 40', '6+\\nn = 60']
    """
    _require(frame, DOSE_COLUMNS, "dose_response_figure")
    use_language_fonts(language)
    outcomes = list(dict.fromkeys(frame["outcome"]))
    figure = Figure(figsize=(4.4 * len(outcomes), 3.6), layout="constrained")
    axes = figure.subplots(1, len(outcomes), squeeze=False)[0]
    for axis, outcome in zip(axes, outcomes, strict=True):
        part = frame[frame["outcome"] == outcome].sort_values("band")
        positions = np.arange(len(part), dtype=float)
        draw_intervals(axis, positions, part["estimate"].to_numpy(dtype=float),
                       part["conf_low"].to_numpy(dtype=float),
                       part["conf_high"].to_numpy(dtype=float), horizontal=False, connect=True)
        counts = part["n_units"] if "n_units" in part else pd.Series([None] * len(part))
        axis.set_xticks(positions, [
            label if pd.isna(count) else f"{label}\n{text('dose_units', language, n=int(count))}"
            for label, count in zip(part["band_label"], counts, strict=True)], fontsize=8)
        axis.set_xlim(-0.5, len(part) - 0.5)
        axis.set_xlabel(dose_label, fontsize=9)
        axis.set_title(labels.get(outcome, outcome), fontsize=10)
        axis.spines[["right", "top"]].set_visible(False)
    width = int(4.4 * len(outcomes) * 72 / (9.0 if language == "zh" else 5.0))
    figure.supxlabel("\n".join(textwrap.wrap(text("dose_caption", language), width)),
                     fontsize=8, color="#555555")
    return figure
