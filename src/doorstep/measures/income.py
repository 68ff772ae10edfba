"""Household income aggregates: components, period, per person, prices and transformations.

Rules, stated once:

- **Components** (wages, business, farming, transfers, remittances, or any the instrument has)
  are summed. ``missing="any"`` (the default, the same rule as ``household_income``): the total
  is missing when any component is missing -- a missing component is not a zero.
  ``missing="all"``: missing components count as 0 and the total is missing only when every
  component is missing; the number of missing components is returned so that the choice can be
  reported.
- **Period**: each component has a period (``"week"``, ``"month"`` or ``"year"``, default
  ``"month"``) and is converted to the output period with 52 weeks = 12 months = 1 year.
- **Per capita** divides by household size (adults + children). **Per adult equivalent**
  divides by the modified OECD scale: 1 for the first person aged 14 or over, 0.5 for each
  other person aged 14 or over, 0.3 for each child under 14 (Hagenaars, de Vos and Zaidi 1994;
  OECD). A household without anyone aged 14 or over has no modified-OECD equivalent, so its
  per-adult-equivalent income is missing.
- **Deflating**: real = nominal x ``index_base`` / price index (e.g. a CPI with base 100).
- **Inverse hyperbolic sine**: asinh(x) = log(x + sqrt(x^2 + 1)), defined at 0 and for
  negative values (business losses).
- **Winsorising**: values above the ``upper`` quantile (and below the ``lower`` one, if given)
  are set to it; quantiles use numpy's default linear interpolation over the non-missing values,
  within each group when ``groups`` is given (e.g. per round).

This module must not import ``estimate``, ``report`` or ``run``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from doorstep.errors import ConfigError, DataError


def _shown(value: object) -> object:
    """A cell value as a user would write it (numpy scalars as plain numbers)."""
    return value.item() if isinstance(value, np.generic) else value

PERIODS_PER_YEAR = {"week": 52.0, "month": 12.0, "year": 1.0}
DEFAULT_COMPONENTS = ("inc_wages", "inc_business", "inc_farming", "inc_transfers",
                      "inc_remittances")


def _numbers(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        raise DataError(f"income: expected column {column!r}, not in the data")
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").astype("float64")
    bad = raw.notna() & values.isna()
    if bad.any():
        where = bad.to_numpy().nonzero()[0][0]
        raise DataError(f"income, column {column!r}, row {frame.index[where]!r}: expected a "
                        f"number, found {_shown(raw.iloc[where])!r}")
    return values


def _period(key: str, value: str) -> float:
    if value not in PERIODS_PER_YEAR:
        raise ConfigError(f"income, key {key!r}: expected one of {list(PERIODS_PER_YEAR)}, "
                          f"found {value!r}")
    return PERIODS_PER_YEAR[value]


def adult_equivalents(adults: pd.Series | np.ndarray | float,
                      children: pd.Series | np.ndarray | float) -> pd.Series | float:
    """Modified OECD equivalence scale: 1 + 0.5 x (adults - 1) + 0.3 x children.

    ``adults`` counts people aged 14 or over, ``children`` those under 14; missing where there
    is no one aged 14 or over.

    Examples
    --------
    >>> adult_equivalents(2, 2)
    2.1
    """
    adults_values = np.asarray(adults, dtype="float64")
    children_values = np.asarray(children, dtype="float64")
    scale = 1.0 + 0.5 * (adults_values - 1) + 0.3 * children_values
    scale = np.where(adults_values >= 1, scale, np.nan)
    if isinstance(adults, pd.Series):
        return pd.Series(scale, index=adults.index, name="adult_equivalents")
    return float(np.round(scale, 12)) if scale.ndim == 0 else scale


def inverse_hyperbolic_sine(values: pd.Series) -> pd.Series:
    """asinh(x), keeping the index; ``name`` gets the suffix ``_ihs``.

    Examples
    --------
    >>> inverse_hyperbolic_sine(pd.Series([0.0, 1.0], name="y")).round(4).tolist()
    [0.0, 0.8814]
    """
    return pd.Series(np.arcsinh(values.astype("float64")), index=values.index,
                     name=f"{values.name}_ihs")


def winsorise(values: pd.Series, *, upper: float | None = 0.99, lower: float | None = None,
              groups: pd.Series | pd.DataFrame | None = None) -> pd.Series:
    """Clip values at the ``lower`` and ``upper`` quantiles, optionally within groups.

    Examples
    --------
    >>> winsorise(pd.Series([1.0, 2.0, 3.0, 100.0]), upper=0.75).tolist()
    [1.0, 2.0, 3.0, 27.25]
    """
    for key, share in (("upper", upper), ("lower", lower)):
        if share is not None and not 0 < share < 1:
            raise ConfigError(f"winsorise, key {key!r}: expected a share between 0 and 1, "
                              f"found {share!r}")
    numbers = values.astype("float64")

    def clip(part: pd.Series) -> pd.Series:
        present = part.dropna().to_numpy()
        if present.size == 0:
            return part
        high = np.quantile(present, upper) if upper is not None else None
        low = np.quantile(present, lower) if lower is not None else None
        return part.clip(lower=low, upper=high)

    if groups is None:
        return clip(numbers)
    keys = groups if isinstance(groups, pd.Series) else [groups[c] for c in groups.columns]
    return numbers.groupby(keys, dropna=False).transform(clip)


def income_components_total(frame: pd.DataFrame,
                            components: Sequence[str] = DEFAULT_COMPONENTS, *,
                            periods: Mapping[str, str] | None = None,
                            output_period: Literal["week", "month", "year"] = "month",
                            missing: Literal["any", "all"] = "any") -> pd.DataFrame:
    """Sum income components after converting each to ``output_period``.

    Returns ``income_total`` and ``income_components_missing`` on the frame's index.

    Examples
    --------
    >>> frame = pd.DataFrame({"wages": [3000.0], "farming": [12000.0]})
    >>> income_components_total(frame, ["wages", "farming"], periods={"farming": "year"}
    ...                         )["income_total"].tolist()
    [4000.0]
    """
    if missing not in ("any", "all"):
        raise ConfigError(f"income, key 'missing': expected one of ['any', 'all'], "
                          f"found {missing!r}")
    components = list(components)
    if not components:
        raise ConfigError("income, key 'components': expected at least one column, found []")
    periods = dict(periods or {})
    unknown = [name for name in periods if name not in components]
    if unknown:
        raise ConfigError(f"income, key 'periods': expected keys among the components "
                          f"{components}, found {unknown}")
    target = _period("output_period", output_period)
    converted = pd.DataFrame({
        name: _numbers(frame, name) * _period(f"periods.{name}", periods.get(name, "month"))
        / target for name in components}, index=frame.index)
    count_missing = converted.isna().sum(axis=1)
    minimum = len(components) if missing == "any" else 1
    total = converted.sum(axis=1, min_count=minimum)
    return pd.DataFrame({"income_total": total,
                         "income_components_missing": count_missing.astype("int64")},
                        index=frame.index)


def income_measures(frame: pd.DataFrame, components: Sequence[str] = DEFAULT_COMPONENTS, *,
                    adults: str, children: str,
                    periods: Mapping[str, str] | None = None,
                    output_period: Literal["week", "month", "year"] = "month",
                    missing: Literal["any", "all"] = "any",
                    price_index: str | None = None, index_base: float = 100.0,
                    winsorise_upper: float | None = 0.99, winsorise_lower: float | None = None,
                    winsorise_within: str | Sequence[str] | None = None,
                    prefix: str = "hh_income") -> pd.DataFrame:
    """Household income in one period: total, per capita, per adult equivalent, and variants.

    Parameters
    ----------
    frame
        One row per household (and round); not changed.
    components
        Income component columns, summed by the ``missing`` rule (see module notes).
    adults, children
        Columns counting household members aged 14 or over and under 14.
    periods
        Component -> ``"week"``, ``"month"`` or ``"year"``; unnamed components are monthly.
    output_period
        The period of every output column.
    price_index
        Column of a price index; values are deflated to ``index_base`` prices.
    winsorise_upper, winsorise_lower, winsorise_within
        Quantiles for the ``_w`` columns and the column(s) of groups to compute them within.

    Returns
    -------
    pandas.DataFrame
        ``{prefix}``, ``{prefix}_per_capita``, ``{prefix}_per_adult_equivalent``, each also as
        ``_ihs`` (inverse hyperbolic sine) and ``_w`` (winsorised), plus
        ``{prefix}_components_missing``, ``household_size`` and ``adult_equivalents``.

    Examples
    --------
    >>> frame = pd.DataFrame({"wages": [3000.0, 1000.0], "adults": [2, 1], "kids": [2, 0]})
    >>> out = income_measures(frame, ["wages"], adults="adults", children="kids")
    >>> out["hh_income_per_adult_equivalent"].round(2).tolist()
    [1428.57, 1000.0]
    """
    totals = income_components_total(frame, components, periods=periods,
                                     output_period=output_period, missing=missing)
    total = totals["income_total"]
    if price_index is not None:
        index = _numbers(frame, price_index)
        if (index <= 0).any():
            raise DataError(f"income, column {price_index!r}: expected a positive price index, "
                            f"found {_shown(index[index <= 0].iloc[0])!r}")
        total = total * index_base / index
    adult_count = _numbers(frame, adults)
    child_count = _numbers(frame, children)
    size = adult_count + child_count
    equivalents = adult_equivalents(adult_count, child_count)
    out = pd.DataFrame(index=frame.index)
    out[prefix] = total
    out[f"{prefix}_per_capita"] = total / size.where(size > 0)
    out[f"{prefix}_per_adult_equivalent"] = total / equivalents
    groups = None
    if winsorise_within is not None:
        within = [winsorise_within] if isinstance(winsorise_within, str) else list(
            winsorise_within)
        groups = frame[within[0]] if len(within) == 1 else frame[within]
    for name in (prefix, f"{prefix}_per_capita", f"{prefix}_per_adult_equivalent"):
        out[f"{name}_ihs"] = inverse_hyperbolic_sine(out[name].rename(name))
        out[f"{name}_w"] = winsorise(out[name], upper=winsorise_upper, lower=winsorise_lower,
                                     groups=groups)
    out[f"{prefix}_components_missing"] = totals["income_components_missing"]
    out["household_size"] = size
    out["adult_equivalents"] = equivalents
    return out
