"""The CONSORT-style flow of the sample from assignment to analysis: checks, table and figure.

This module draws the tidy flow frame that :func:`doorstep.run.stages.sample_flow` builds
(columns ``step, arm, round, n_units, n_clusters, note``; steps ``assigned``,
``records_read``, ``records_dropped``, ``records_kept``, ``surveyed``, ``lost``, ``joined``,
``analysed``): :func:`flow_problems` says whether its counts add up, :func:`flow_table` lays it
out with arms side by side (small cells suppressed) and :func:`flow_figure` draws boxes and
arrows, one column per arm. Everything is in the report's language. Like the rest of
:mod:`doorstep.report` it must not import ``estimate``, ``clean`` or ``run``.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from doorstep.errors import DataError
from doorstep.report.i18n import check_language, text, use_language_fonts

__all__ = ["FLOW_STEPS", "arm_label", "flow_figure", "flow_problems", "flow_table"]

FLOW_STEPS = ("assigned", "records_read", "records_dropped", "records_kept", "surveyed", "lost",
              "joined", "analysed")
FLOW_COLUMNS = ("step", "arm", "round", "n_units", "n_clusters", "note")
_ARM_KEYS = {"never": "arm_never", "won": "arm_won", "lost": "arm_lost",
             "not_applied": "arm_not_applied", "open": "arm_open", "all": "arm_all",
             "ever": "arm_ever"}
_COLON = {"en": ": ", "zh": "："}


def arm_label(code: str, language: str) -> str:
    """An arm's name in ``language`` from its code (``starts_<round>``, ``never``, ``won``...).

    Unknown codes are shown as they are.

    Examples
    --------
    >>> arm_label("starts_3", "en"), arm_label("lost", "zh"), arm_label("pilot", "en")
    ('starts round 3', '未中签', 'pilot')
    """
    if code.startswith("starts_") and code[len("starts_"):].isdigit():
        return text("arm_starts", language, round=int(code[len("starts_"):]))
    return text(_ARM_KEYS[code], language) if code in _ARM_KEYS else code


def _check_flow(flow: pd.DataFrame) -> None:
    missing = [column for column in FLOW_COLUMNS if column not in flow.columns]
    if missing:
        raise DataError(f"sample flow: missing columns {missing}; expected {list(FLOW_COLUMNS)} "
                        "(see doorstep.run.stages.sample_flow)")
    unknown = sorted(set(flow["step"]) - set(FLOW_STEPS))
    if unknown:
        raise DataError(f"sample flow: unknown steps {unknown}; expected steps among "
                        f"{list(FLOW_STEPS)}")


def _count(flow: pd.DataFrame, step: str, arm: str | None = None,
           round_: object = None) -> int:
    chosen = flow[flow["step"] == step]
    if arm is not None:
        chosen = chosen[chosen["arm"] == arm]
    if round_ is not None:
        chosen = chosen[chosen["round"] == round_]
    return int(chosen["n_units"].fillna(0).sum())


def flow_problems(flow: pd.DataFrame) -> list[str]:
    """The ways the flow's counts fail to add up (an empty list when they all do).

    Checked: in every round, records read = records kept + records dropped, and the units
    surveyed over all arms = records kept (one record per unit and round); in every arm and
    follow-up round, surveyed = surveyed at baseline - lost + joined.

    Examples
    --------
    >>> flow = pd.DataFrame({"step": ["records_read", "records_dropped", "records_kept",
    ...     "surveyed"], "arm": ["all", "all", "all", "a"], "round": [1, 1, 1, 1],
    ...     "n_units": [10, 2, 8, 7], "n_clusters": [None] * 4, "note": [""] * 4})
    >>> flow_problems(flow)
    ['round 1: 7 units surveyed over all arms but 8 records kept']
    """
    _check_flow(flow)
    problems = []
    rounds = sorted(flow["round"].dropna().unique())
    arms = list(dict.fromkeys(flow.loc[flow["step"] == "surveyed", "arm"]))
    for round_ in rounds:
        read = _count(flow, "records_read", round_=round_)
        dropped = _count(flow, "records_dropped", round_=round_)
        kept = _count(flow, "records_kept", round_=round_)
        surveyed = _count(flow, "surveyed", round_=round_)
        if read != kept + dropped:
            problems.append(f"round {round_}: {read} records read but {kept} kept + {dropped} "
                            "dropped")
        if surveyed != kept:
            problems.append(f"round {round_}: {surveyed} units surveyed over all arms but "
                            f"{kept} records kept")
    if rounds:
        baseline = rounds[0]
        for arm in arms:
            start = _count(flow, "surveyed", arm, baseline)
            for round_ in rounds[1:]:
                surveyed = _count(flow, "surveyed", arm, round_)
                lost = _count(flow, "lost", arm, round_)
                joined = _count(flow, "joined", arm, round_)
                if surveyed != start - lost + joined:
                    problems.append(
                        f"arm {arm}, round {round_}: {surveyed} surveyed but {start} at "
                        f"baseline - {lost} lost + {joined} joined = {start - lost + joined}")
    return problems


def _people(value: object, min_cell_size: int) -> str:
    if value is None or pd.isna(value):
        return ""
    value = int(value)
    return f"<{min_cell_size}" if 0 < value < min_cell_size else f"{value}"


def _counts_text(row: pd.Series, language: str, min_cell_size: int) -> str:
    units = _people(row["n_units"], min_cell_size)
    clusters = "" if pd.isna(row["n_clusters"]) else f"{int(row['n_clusters'])}"
    if units and clusters:
        return text("flow_box_counts", language, units=units, clusters=clusters)
    if clusters:
        return text("flow_box_villages", language, clusters=clusters)
    return units


def _step_label(step: str, round_: object, baseline: object, language: str) -> str:
    words = text(f"flow_{step}", language)
    if round_ is None or pd.isna(round_):
        return words
    key = "flow_baseline" if round_ == baseline else "flow_round"
    return f"{text(key, language, round=int(round_))}{_COLON[language]}{words}"


def flow_table(flow: pd.DataFrame, language: str = "en", *,
               min_cell_size: int = 5) -> pd.DataFrame:
    """The flow as a table: one row per step (and round), one column per arm.

    A cell holds the people of that arm (fewer than ``min_cell_size`` but more than none
    shown as ``<n``, see :func:`doorstep.report.small_cells_suppressed`) and the villages;
    records read, dropped and kept are in the column of all arms, the reasons of the drops and
    the notes in the last column.

    Examples
    --------
    >>> flow = pd.DataFrame({"step": ["surveyed", "surveyed", "lost"], "arm": ["won", "lost",
    ...     "won"], "round": [1, 1, 2], "n_units": [40, 38, 3], "n_clusters": [10, 10, None],
    ...     "note": ["", "", ""]})
    >>> table = flow_table(flow, "en")
    >>> table.loc["round 1 (baseline): surveyed", "lottery won"], table.iloc[1, 0]
    ('40 people, 10 villages', '<5')
    """
    check_language(language)
    _check_flow(flow)
    rounds = sorted(flow["round"].dropna().unique())
    baseline = rounds[0] if rounds else None
    arms = list(dict.fromkeys(flow["arm"]))
    arms = [arm for arm in arms if arm != "all"] + (["all"] if "all" in arms else [])
    columns = [arm_label(arm, language) for arm in arms]
    note_column = text("flow_note", language)
    cells: dict[str, dict[str, str]] = {}
    for _, row in flow.iterrows():
        label = _step_label(row["step"], row["round"], baseline, language)
        line = cells.setdefault(label, {})
        line[arm_label(row["arm"], language)] = _counts_text(row, language, min_cell_size)
        note = row["note"] if isinstance(row["note"], str) else ""
        if note and note not in line.get(note_column, ""):
            line[note_column] = "; ".join(filter(None, [line.get(note_column, ""), note]))
    table = pd.DataFrame.from_dict(cells, orient="index", dtype=object).reindex(
        columns=[*columns, note_column])
    table = table.astype(object).where(table.notna(), "")
    table.index.name = text("flow_step", language)
    return table


def _box(axis, x: float, y: float, width: float, height: float, lines: list[str],
         colour: str = "#eef3f8", size: float = 8.5) -> None:
    axis.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                  boxstyle="round,pad=0.02,rounding_size=0.05",
                                  facecolor=colour, edgecolor="#1f5f8b", linewidth=1))
    axis.text(x, y, "\n".join(line for line in lines if line), ha="center", va="center",
              fontsize=size, wrap=True)


def _arrow(axis, x: float, top: float, bottom: float) -> None:
    axis.annotate("", xy=(x, bottom), xytext=(x, top),
                  arrowprops={"arrowstyle": "-|>", "color": "#1f5f8b", "linewidth": 1})


def flow_figure(flow: pd.DataFrame, language: str = "en", *, min_cell_size: int = 5,
                title: str = "") -> Figure:
    """Draw the flow as boxes and arrows: a box of the records on top, then one column per arm.

    Each arm's column runs from assignment through every round (surveyed; after baseline
    also those lost since baseline and those not surveyed at baseline) to the analysis.
    Counts of fewer than ``min_cell_size`` people are shown as ``<n``.

    Examples
    --------
    >>> flow = pd.DataFrame({"step": ["assigned", "surveyed", "surveyed", "lost", "analysed"],
    ...     "arm": ["won"] * 5, "round": [None, 1, 2, 2, None],
    ...     "n_units": [50, 48, 45, 3, 45], "n_clusters": [10, 10, 10, None, 10],
    ...     "note": [""] * 5})
    >>> figure = flow_figure(flow, "en")
    >>> len(figure.axes), len(figure.axes[0].patches)
    (1, 4)
    """
    check_language(language)
    _check_flow(flow)
    use_language_fonts(language)
    rounds = sorted(flow["round"].dropna().unique())
    baseline = rounds[0] if rounds else None
    arms = [arm for arm in dict.fromkeys(flow["arm"]) if arm != "all"]
    has_assigned = (flow["step"] == "assigned").any()
    has_analysed = (flow["step"] == "analysed").any()
    levels = [*(["assigned"] if has_assigned else []), *rounds,
              *(["analysed"] if has_analysed else [])]
    records = flow[flow["arm"] == "all"]
    width = max(2.9 * len(arms), 5.0)
    height = 1.05 * len(levels) + (1.1 if len(records) else 0.4) + 0.5
    figure = Figure(figsize=(width, height), layout="constrained")
    axis = figure.add_subplot()
    axis.set_axis_off()
    top = len(levels) + (0.75 if len(records) else 0.0)
    axis.set_xlim(0, len(arms))
    axis.set_ylim(-0.6, top + 0.7)
    if len(records):
        read = int(records.loc[records["step"] == "records_read", "n_units"].fillna(0).sum())
        dropped_rows = records[records["step"] == "records_dropped"]
        dropped = int(dropped_rows["n_units"].fillna(0).sum())
        reasons: dict[str, int] = {}
        for note in dropped_rows["note"].fillna(""):
            for part in filter(None, (piece.strip() for piece in str(note).split(";"))):
                rule, _, count = part.rpartition(" ")
                if count.isdigit():
                    reasons[rule] = reasons.get(rule, 0) + int(count)
        reason_text = ", ".join(f"{rule} {count}" for rule, count in reasons.items()) or "-"
        _box(axis, len(arms) / 2, top, min(len(arms) - 0.1, 0.92 * len(arms)), 0.55,
             [text("flow_records_line", language, read=read, dropped=dropped,
                   reasons=reason_text)], colour="#f6f6f6")
    for position, arm in enumerate(arms):
        x = position + 0.5
        rows = flow[flow["arm"] == arm]
        axis.text(x, len(levels) - 0.35 + 0.05, arm_label(arm, language), ha="center",
                  va="bottom", fontsize=10.5, color="#1f3f5b")
        previous_y = None
        for depth, level in enumerate(levels):
            y = len(levels) - 1 - depth
            if level in ("assigned", "analysed"):
                chosen = rows[rows["step"] == level]
                lines = [text(f"flow_{level}", language)] + [
                    _counts_text(row, language, min_cell_size) for _, row in chosen.iterrows()]
            else:
                here = rows[rows["round"] == level]
                label = text("flow_baseline" if level == baseline else "flow_round", language,
                             round=int(level))
                lines = [label]
                for step in ("surveyed", "lost", "joined"):
                    for _, row in here[here["step"] == step].iterrows():
                        counts = _counts_text(row, language, min_cell_size)
                        lines.append(f"{text(f'flow_{step}', language)}{_COLON[language]}"
                                     f"{counts}")
            _box(axis, x, y, 0.9, 0.72, lines,
                 colour="#e3efe6" if level == "analysed" else "#eef3f8")
            if previous_y is not None:
                _arrow(axis, x, previous_y - 0.36, y + 0.36)
            previous_y = y
    if title:
        figure.suptitle(title, fontsize=11)
    return figure
