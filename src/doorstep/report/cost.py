"""The cost-effectiveness summary of a report: cost per participant, per unit of effect, per SD.

This module owns :func:`cost_effectiveness_table` (numbers, from the config's ``costs`` section
and the run's headline estimates, through :func:`doorstep.design.cost.cost_effectiveness`) and
:func:`format_cost_table` (the same table for display in the report's language). Conventions:

- The effect used is the effect on participants: the design's ``att_simple`` (staggered
  roll-out) or ``late`` (lottery), unless ``costs.estimand`` names another estimand.
- Effects are turned into improvements with the outcome's direction in its family (SDQ
  difficulties: -1), so that a cost per unit is a cost per unit of *improvement*; an effect
  pointing the harmful way gets no ratio (note ``harmful``).
- Cost per SD divides the effect and its standard error by the comparison group's baseline SD
  (treated as known).
- With ``costs.income_outcome``, the annual income gain is that outcome's effect times
  ``periods_per_year``; its present value over ``horizon_years`` at ``discount_rate``, the net
  present value and the benefit-cost ratio follow :mod:`doorstep.design.cost`.
- Intervals are Fieller's at 95%; a missing bound means the effect does not differ
  significantly from 0 (note ``unbounded``).

It must not import ``estimate``, ``clean`` or ``run``.
"""

from __future__ import annotations

import math

import pandas as pd

from doorstep.config import EvaluationConfig
from doorstep.design.cost import cost_effectiveness
from doorstep.errors import ConfigError, DataError
from doorstep.report.i18n import text

COLUMNS = ("outcome", "quantity", "estimate", "conf_low", "conf_high", "unit", "note")
DEFAULT_ESTIMAND = {"staggered_rollout": "att_simple", "lottery": "late"}


def _signs(config: EvaluationConfig) -> dict[str, int]:
    signs: dict[str, int] = {}
    for family in config.outcome_families:
        signs.update(family.signs)
    return signs


def _effect_row(headline: pd.DataFrame, outcome: str, estimand: str) -> pd.Series:
    rows = headline[(headline["outcome"] == outcome) & (headline["estimand"] == estimand)]
    if len(rows) != 1:
        raise DataError(f"headline estimates: expected one row for outcome {outcome!r} and "
                        f"estimand {estimand!r}, found {len(rows)} (estimands present: "
                        f"{sorted(set(headline['estimand']))})")
    return rows.iloc[0]


def _standard_deviation(standard_deviations: pd.DataFrame | dict | None,
                        outcome: str) -> float:
    if standard_deviations is None:
        return math.nan
    if isinstance(standard_deviations, pd.DataFrame):
        found = standard_deviations.loc[standard_deviations["outcome"] == outcome, "control_sd"]
        return float(found.iloc[0]) if len(found) else math.nan
    return float(standard_deviations.get(outcome, math.nan))


def cost_effectiveness_table(config: EvaluationConfig, headline: pd.DataFrame,
                             standard_deviations: pd.DataFrame | dict | None = None,
                             *, level: float = 0.95) -> pd.DataFrame:
    """Cost per participant, and per unit and per SD of improvement in each headline outcome.

    Parameters
    ----------
    config
        The evaluation config; its ``costs`` section gives the figures.
    headline
        The run's headline estimates (``headline.csv``): ``outcome, estimand, estimate,
        std_error``.
    standard_deviations
        The comparison group's baseline SD per outcome (the frame of
        ``stages.control_standard_deviation``, or a mapping); without it there are no per-SD
        rows.
    level
        Interval level.

    Returns
    -------
    pandas.DataFrame
        Columns ``outcome, quantity, estimate, conf_low, conf_high, unit, note``; quantities
        ``cost_per_participant``, ``cost_per_unit_effect``, ``cost_per_sd`` and, with an income
        outcome, ``present_value_benefits``, ``net_present_value``, ``benefit_cost_ratio``;
        ``unit`` is ``participant``, ``unit``, ``sd`` or ``ratio``; ``note`` is ``""``,
        ``"unbounded"`` or ``"harmful"``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> config = SimpleNamespace(costs={"total_cost": 1000.0, "n_participants": 10.0,
    ...     "estimand": "itt", "income_outcome": None}, design="lottery",
    ...     headline={"income": "y"}, outcome_families=())
    >>> headline = pd.DataFrame({"outcome": ["y"], "estimand": ["itt"], "estimate": [4.0],
    ...                          "std_error": [1.0]})
    >>> table = cost_effectiveness_table(config, headline, {"y": 2.0})
    >>> table[["quantity", "estimate"]].values.tolist()
    [['cost_per_participant', 100.0], ['cost_per_unit_effect', 25.0], ['cost_per_sd', 50.0]]
    """
    costs = config.costs
    if costs is None:
        raise ConfigError(f"{getattr(config, 'path', 'config')}: no costs section; the "
                          "cost-effectiveness table needs costs.total_cost and "
                          "costs.n_participants")
    estimand = costs.get("estimand") or DEFAULT_ESTIMAND[config.design]
    total, participants = costs["total_cost"], costs["n_participants"]
    per_participant = cost_effectiveness(total_cost=total, n_participants=participants,
                                         effect=1.0, effect_std_error=0.0, level=level)
    first = per_participant.iloc[0]
    rows = [{"outcome": "", "quantity": "cost_per_participant", "estimate": first["estimate"],
             "conf_low": first["conf_low"], "conf_high": first["conf_high"],
             "unit": "participant", "note": ""}]
    signs = _signs(config)
    for outcome in dict.fromkeys(config.headline.values()):
        effect = _effect_row(headline, outcome, estimand)
        improvement = signs.get(outcome, 1) * float(effect["estimate"])
        std_error = float(effect["std_error"])
        sd = _standard_deviation(standard_deviations, outcome)
        scales = [("cost_per_unit_effect", "unit", 1.0)]
        if math.isfinite(sd) and sd > 0:
            scales.append(("cost_per_sd", "sd", sd))
        for quantity, unit, scale in scales:
            row = {"outcome": outcome, "quantity": quantity, "unit": unit}
            if improvement <= 0:
                rows.append({**row, "estimate": math.nan, "conf_low": math.nan,
                             "conf_high": math.nan, "note": "harmful"})
                continue
            ratio = cost_effectiveness(total_cost=total, n_participants=participants,
                                       effect=improvement / scale,
                                       effect_std_error=std_error / scale, level=level)
            ratio = ratio.set_index("quantity").loc["cost_per_unit_effect"]
            rows.append({**row, "estimate": ratio["estimate"], "conf_low": ratio["conf_low"],
                         "conf_high": ratio["conf_high"],
                         "note": "unbounded" if math.isnan(ratio["conf_low"]) else ""})
    income = costs.get("income_outcome")
    if income:
        if not costs.get("horizon_years"):
            raise ConfigError(f"{getattr(config, 'path', 'config')}: costs.income_outcome is "
                              "set, so costs.horizon_years (whole years) is needed")
        effect = _effect_row(headline, income, estimand)
        periods = costs.get("periods_per_year", 12)
        benefits = cost_effectiveness(
            total_cost=total, n_participants=participants, effect=1.0, effect_std_error=0.0,
            annual_income_gain=float(effect["estimate"]) * periods,
            annual_income_gain_std_error=float(effect["std_error"]) * periods,
            horizon_years=costs["horizon_years"], discount_rate=costs["discount_rate"],
            level=level).set_index("quantity")
        for quantity in ("present_value_benefits", "net_present_value", "benefit_cost_ratio"):
            value = benefits.loc[quantity]
            rows.append({"outcome": income, "quantity": quantity, "estimate": value["estimate"],
                         "conf_low": value["conf_low"], "conf_high": value["conf_high"],
                         "unit": "ratio" if quantity == "benefit_cost_ratio" else "participant",
                         "note": "unbounded" if math.isnan(value["conf_low"]) else ""})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _amount(value: float, unit: str) -> str:
    if not math.isfinite(value):
        return "—"
    return f"{value:,.2f}" if unit == "ratio" or abs(value) < 100 else f"{value:,.0f}"


def format_cost_table(table: pd.DataFrame, labels: dict[str, str], language: str = "en",
                      currency: str = "yuan") -> pd.DataFrame:
    """The cost-effectiveness table for display: quantities, units and notes in ``language``.

    Examples
    --------
    >>> table = pd.DataFrame({"outcome": [""], "quantity": ["cost_per_participant"],
    ...     "estimate": [1200.0], "conf_low": [1200.0], "conf_high": [1200.0],
    ...     "unit": ["participant"], "note": [""]})
    >>> format_cost_table(table, {}, "zh", "元").iloc[0].tolist()
    ['人均成本', '', '1,200', '[1,200, 1,200]', '元/人', '']
    """
    units = {"participant": "cost_unit_participant", "unit": "cost_unit_effect",
             "sd": "cost_unit_sd", "ratio": "cost_unit_ratio"}
    notes = {"unbounded": "cost_unbounded", "harmful": "cost_harmful"}
    shown = pd.DataFrame({
        text("cost_quantity", language): [text(q, language) for q in table["quantity"]],
        text("cost_outcome", language): [labels.get(o, o) for o in table["outcome"]],
        text("cost_estimate", language): [_amount(v, u) for v, u in
                                          zip(table["estimate"], table["unit"], strict=True)],
        text("cost_interval", language): [
            f"[{_amount(low, unit)}, {_amount(high, unit)}]"
            for low, high, unit in zip(table["conf_low"], table["conf_high"], table["unit"],
                                       strict=True)],
        text("cost_unit", language): [text(units[u], language, currency=currency)
                                      if u != "ratio" else text(units[u], language)
                                      for u in table["unit"]],
        text("cost_note", language): [text(notes[n], language) if n in notes else n
                                      for n in table["note"]],
    })
    return shown
