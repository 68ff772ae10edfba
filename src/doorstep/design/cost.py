"""Cost-effectiveness and benefit-cost ratios, with confidence intervals for the ratios.

Conventions:

- Cost per participant = total cost / participants.
- Cost per unit of effect = cost per participant / effect on participants. Its interval is by
  **Fieller's method** (default): the set of ratios theta with
  (a - theta b)^2 <= z^2 (v_aa - 2 theta v_ab + theta^2 v_bb) for numerator a and denominator
  b; bounded only when the denominator differs significantly from 0 (b^2 > z^2 v_bb),
  otherwise the bounds are missing and ``note`` says "unbounded". With a known cost this is
  cost / (the effect's interval). ``method="delta"`` gives theta +- z se with
  se = |theta| sqrt(v_aa/a^2 + v_bb/b^2 - 2 v_ab/(a b)).
- Benefits: an annual income gain per participant G received at the end of each of
  ``horizon_years`` years, discounted at rate r: present value PV = G x sum_{t=1..H} (1+r)^-t.
  Benefit-cost ratio = PV / cost per participant, with its interval from G's standard error
  (Fieller on PV / cost); net present value = PV - cost per participant.
- Intervals use the normal quantile at ``level``.

This module must not import ``estimate``, ``report`` or ``run``.
"""

from __future__ import annotations

import math
from typing import Literal

import pandas as pd
from scipy import stats

from doorstep.errors import ConfigError

COLUMNS = ["quantity", "estimate", "conf_low", "conf_high", "method", "unit", "note"]


def annuity_factor(horizon_years: int, discount_rate: float) -> float:
    """sum_{t=1..H} (1 + r)^-t: the present value of 1 a year for H years, paid at year ends.

    Examples
    --------
    >>> round(annuity_factor(3, 0.05), 6)
    2.723248
    """
    return float(sum((1 + discount_rate) ** -year for year in range(1, horizon_years + 1)))


def ratio_interval(numerator: float, denominator: float, *, numerator_variance: float = 0.0,
                   denominator_variance: float = 0.0, covariance: float = 0.0,
                   level: float = 0.95, method: Literal["fieller", "delta"] = "fieller"
                   ) -> tuple[float, float]:
    """Confidence interval of numerator / denominator by Fieller's method or the delta method.

    Returns ``(nan, nan)`` when Fieller's set is unbounded.

    Examples
    --------
    >>> [round(v, 4) for v in ratio_interval(100.0, 2.0, denominator_variance=0.25)]
    [33.5572, 98.0375]
    """
    z = stats.norm.ppf(0.5 + level / 2)
    ratio = numerator / denominator
    if method == "delta":
        relative = (numerator_variance / numerator**2 + denominator_variance / denominator**2
                    - 2 * covariance / (numerator * denominator))
        spread = z * abs(ratio) * math.sqrt(max(relative, 0.0))
        return float(ratio - spread), float(ratio + spread)
    if method != "fieller":
        raise ConfigError(f"cost_effectiveness, key 'method': expected one of "
                          f"['fieller', 'delta'], found {method!r}")
    quadratic = denominator**2 - z**2 * denominator_variance
    linear = -2 * (numerator * denominator - z**2 * covariance)
    constant = numerator**2 - z**2 * numerator_variance
    discriminant = linear**2 - 4 * quadratic * constant
    if quadratic <= 0 or discriminant < 0:
        return float("nan"), float("nan")
    root = math.sqrt(discriminant)
    low, high = sorted(((-linear - root) / (2 * quadratic), (-linear + root) / (2 * quadratic)))
    return float(low), float(high)


def _positive(key: str, value: float, *, allow_zero: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"cost_effectiveness, key {key!r}: expected a number, "
                          f"found {value!r}") from None
    if math.isnan(number) or number < 0 or (number == 0 and not allow_zero):
        raise ConfigError(f"cost_effectiveness, key {key!r}: expected a "
                          f"{'non-negative' if allow_zero else 'positive'} number, "
                          f"found {value!r}")
    return number


def cost_effectiveness(*, total_cost: float, n_participants: float, effect: float,
                       effect_std_error: float, effect_unit: str = "outcome unit",
                       cost_std_error: float = 0.0, level: float = 0.95,
                       method: Literal["fieller", "delta"] = "fieller",
                       annual_income_gain: float | None = None,
                       annual_income_gain_std_error: float = 0.0,
                       horizon_years: int | None = None, discount_rate: float = 0.05,
                       currency: str = "yuan") -> pd.DataFrame:
    """Cost per participant, cost per unit of effect and (optionally) the benefit-cost ratio.

    Parameters
    ----------
    total_cost, n_participants
        Programme cost and the number of participants it served.
    effect, effect_std_error, effect_unit
        Effect per participant (e.g. the TOT estimate) and its standard error.
    cost_std_error
        Standard error of the cost per participant (0: cost known).
    level, method
        Interval level and ``"fieller"`` or ``"delta"`` for the cost-effectiveness ratio.
    annual_income_gain, annual_income_gain_std_error, horizon_years, discount_rate
        For the benefit-cost ratio (see the module notes).

    Returns
    -------
    pandas.DataFrame
        Rows ``cost_per_participant``, ``cost_per_unit_effect`` and, with an income gain,
        ``present_value_benefits``, ``net_present_value`` and ``benefit_cost_ratio``; columns
        ``quantity, estimate, conf_low, conf_high, method, unit, note``.

    Examples
    --------
    >>> out = cost_effectiveness(total_cost=100_000, n_participants=200, effect=5.0,
    ...                          effect_std_error=2.0)
    >>> out.set_index("quantity").loc["cost_per_unit_effect", "estimate"]
    np.float64(100.0)
    """
    cost = _positive("total_cost", total_cost, allow_zero=True) / _positive(
        "n_participants", n_participants)
    effect_se = _positive("effect_std_error", effect_std_error, allow_zero=True)
    cost_se = _positive("cost_std_error", cost_std_error, allow_zero=True)
    if not 0 < level < 1:
        raise ConfigError(f"cost_effectiveness, key 'level': expected a number in (0, 1), "
                          f"found {level!r}")
    if effect == 0:
        raise ConfigError("cost_effectiveness, key 'effect': expected a non-zero effect, "
                          "found 0")
    z = stats.norm.ppf(0.5 + level / 2)
    rows = [{"quantity": "cost_per_participant", "estimate": cost,
             "conf_low": cost - z * cost_se, "conf_high": cost + z * cost_se,
             "method": "total cost / participants", "unit": f"{currency} per participant",
             "note": ""}]
    low, high = ratio_interval(cost, float(effect), numerator_variance=cost_se**2,
                               denominator_variance=effect_se**2, level=level, method=method)
    rows.append({"quantity": "cost_per_unit_effect", "estimate": cost / effect,
                 "conf_low": low, "conf_high": high, "method": method,
                 "unit": f"{currency} per {effect_unit}",
                 "note": "unbounded: the effect does not differ significantly from 0"
                 if math.isnan(low) else ""})
    if annual_income_gain is not None:
        if not isinstance(horizon_years, int) or horizon_years < 1:
            raise ConfigError(f"cost_effectiveness, key 'horizon_years': expected a whole "
                              f"number >= 1, found {horizon_years!r}")
        if not discount_rate > -1:
            raise ConfigError(f"cost_effectiveness, key 'discount_rate': expected a rate "
                              f"above -1, found {discount_rate!r}")
        factor = annuity_factor(horizon_years, discount_rate)
        value = annual_income_gain * factor
        value_se = _positive("annual_income_gain_std_error", annual_income_gain_std_error,
                             allow_zero=True) * factor
        label = f"{horizon_years} years at {discount_rate:g}"
        rows.append({"quantity": "present_value_benefits", "estimate": value,
                     "conf_low": value - z * value_se, "conf_high": value + z * value_se,
                     "method": f"annual gain x annuity factor ({label})",
                     "unit": f"{currency} per participant", "note": ""})
        rows.append({"quantity": "net_present_value", "estimate": value - cost,
                     "conf_low": value - cost - z * math.hypot(value_se, cost_se),
                     "conf_high": value - cost + z * math.hypot(value_se, cost_se),
                     "method": "present value - cost per participant",
                     "unit": f"{currency} per participant", "note": ""})
        if cost > 0:
            low, high = ratio_interval(value, cost, numerator_variance=value_se**2,
                                       denominator_variance=cost_se**2, level=level,
                                       method=method)
            rows.append({"quantity": "benefit_cost_ratio", "estimate": value / cost,
                         "conf_low": low, "conf_high": high, "method": method,
                         "unit": "ratio", "note": ""})
    return pd.DataFrame(rows, columns=COLUMNS)
