"""Effects in standard units: the standardised effect table and the coefficient plot.

This module owns :func:`standardise_effects` (each effect and its confidence interval divided
by the outcome's standard deviation in the comparison group, as
:func:`doorstep.run.stages.control_standard_deviation` computes it) and
:func:`coefficient_figure` (every outcome on one axis, one marker per estimand, the 95%
interval as a line, a zero line). Like the rest of :mod:`doorstep.report` it draws what it is
given and must not import ``estimate``, ``clean`` or ``run``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from doorstep.errors import DataError
from doorstep.report.i18n import check_language, text, use_language_fonts
from doorstep.report.tables import estimand_name

__all__ = ["STANDARDISED_COLUMNS", "coefficient_figure", "standardise_effects"]

STANDARDISED_COLUMNS = ("estimate_sd", "conf_low_sd", "conf_high_sd")
_MARKERS = ("o", "s", "D", "^", "v", "P", "X")
_COLOURS = ("#1f5f8b", "#c0392b", "#2e8b57", "#8e44ad", "#d68910", "#566573", "#16a085")


def standardise_effects(headline: pd.DataFrame, control_sd: pd.DataFrame) -> pd.DataFrame:
    """The headline rows with each effect and its interval in comparison-group SDs.

    Adds ``control_sd``, ``estimate_sd = estimate / control_sd``, ``conf_low_sd`` and
    ``conf_high_sd`` (the interval's bounds divided by the same SD). An outcome without an
    SD (missing, or no variation) gets missing standardised values.

    Parameters
    ----------
    headline : pandas.DataFrame
        Tidy rows with ``outcome, estimand, estimate, conf_low, conf_high``; not changed.
    control_sd : pandas.DataFrame
        One row per outcome with ``outcome`` and ``control_sd``.

    Raises
    ------
    DataError
        If a column is missing or an outcome has two SDs.

    Examples
    --------
    >>> headline = pd.DataFrame({"outcome": ["y"], "estimand": ["itt"], "estimate": [3.0],
    ...                          "conf_low": [1.0], "conf_high": [5.0]})
    >>> out = standardise_effects(headline, pd.DataFrame({"outcome": ["y"], "control_sd": [2.0]}))
    >>> out[["estimate_sd", "conf_low_sd", "conf_high_sd"]].iloc[0].tolist()
    [1.5, 0.5, 2.5]
    """
    needed = {"headline": (headline, ("outcome", "estimand", "estimate", "conf_low",
                                      "conf_high")),
              "control SD": (control_sd, ("outcome", "control_sd"))}
    for name, (frame, columns) in needed.items():
        missing = [column for column in columns if column not in frame.columns]
        if missing:
            raise DataError(f"{name}: missing columns {missing}; expected {list(columns)}")
    if control_sd["outcome"].duplicated().any():
        outcome = control_sd.loc[control_sd["outcome"].duplicated(), "outcome"].iloc[0]
        raise DataError(f"control SD: outcome {outcome!r} appears twice; expected one SD per "
                        "outcome")
    sd = control_sd.set_index("outcome")["control_sd"].astype(float)
    sd = sd.where(sd > 0)
    out = headline.drop(columns=[c for c in ("control_sd", *STANDARDISED_COLUMNS)
                                 if c in headline.columns])
    out = out.assign(control_sd=out["outcome"].map(sd).astype(float))
    for source, target in zip(("estimate", "conf_low", "conf_high"), STANDARDISED_COLUMNS,
                              strict=True):
        out[target] = out[source].astype(float) / out["control_sd"]
    return out


def coefficient_figure(headline: pd.DataFrame, control_sd: pd.DataFrame | None = None,
                       labels: Mapping[str, str] | None = None, language: str = "en", *,
                       title: str = "") -> Figure:
    """Every outcome's effect in comparison-group SDs, with its 95% interval, on one axis.

    Outcomes are rows, sorted by the standardised effect of the first estimand (largest on
    top); each estimand has its own marker and colour, slightly offset within the row; the
    dashed line marks zero. Outcomes without an SD are left out.

    Parameters
    ----------
    headline : pandas.DataFrame
        Tidy headline rows; or, with ``control_sd=None``, the output of
        :func:`standardise_effects`.
    control_sd : pandas.DataFrame, optional
        ``outcome, control_sd`` (see :func:`doorstep.run.stages.control_standard_deviation`).
    labels : mapping, optional
        Outcome labels in the report's language.

    Examples
    --------
    >>> headline = pd.DataFrame({"outcome": ["y", "z"], "estimand": ["itt", "itt"],
    ...     "estimate": [3.0, -1.0], "conf_low": [1.0, -2.0], "conf_high": [5.0, 0.0]})
    >>> sd = pd.DataFrame({"outcome": ["y", "z"], "control_sd": [2.0, 4.0]})
    >>> figure = coefficient_figure(headline, sd, {"y": "Income", "z": "Stress"})
    >>> [label.get_text() for label in figure.axes[0].get_yticklabels()]
    ['Stress', 'Income']
    """
    check_language(language)
    labels = dict(labels or {})
    if control_sd is not None:
        table = standardise_effects(headline, control_sd)
    else:
        missing = [c for c in STANDARDISED_COLUMNS if c not in headline.columns]
        if missing:
            raise DataError(f"headline: missing columns {missing}; pass control_sd or the "
                            "output of standardise_effects")
        table = headline
    table = table[table["estimate_sd"].notna()]
    if table.empty:
        raise DataError("coefficient figure: no outcome has a comparison-group SD; expected at "
                        "least one outcome with a positive SD")
    use_language_fonts(language)
    estimands = list(dict.fromkeys(table["estimand"]))
    first = table[table["estimand"] == estimands[0]].set_index("outcome")["estimate_sd"]
    outcomes = list(dict.fromkeys(table["outcome"]))
    outcomes.sort(key=lambda name: first.get(name, -np.inf))  # smallest at the bottom
    position = {name: index for index, name in enumerate(outcomes)}
    figure = Figure(figsize=(7.5, 0.55 * len(outcomes) + 1.4), layout="constrained")
    axis = figure.add_subplot()
    step = 0.6 / max(len(estimands), 1)
    for number, estimand in enumerate(estimands):
        rows = table[table["estimand"] == estimand]
        offset = (number - (len(estimands) - 1) / 2) * step
        y = np.array([position[name] for name in rows["outcome"]], dtype=float) - offset
        colour = _COLOURS[number % len(_COLOURS)]
        axis.hlines(y, rows["conf_low_sd"], rows["conf_high_sd"], color=colour, linewidth=2)
        axis.plot(rows["estimate_sd"], y, _MARKERS[number % len(_MARKERS)], color=colour,
                  markersize=6, label=estimand_name(estimand, language), linestyle="none")
    axis.axvline(0, color="grey", linestyle="--", linewidth=0.8)
    axis.set_yticks(range(len(outcomes)), [labels.get(name, name) for name in outcomes])
    axis.set_ylim(-0.6, len(outcomes) - 0.4)
    axis.set_xlabel(text("coefficient_axis", language))
    axis.spines[["right", "top"]].set_visible(False)
    axis.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=len(estimands),
                frameon=False, fontsize=8)
    if title:
        figure.suptitle(title, fontsize=11)
    return figure
