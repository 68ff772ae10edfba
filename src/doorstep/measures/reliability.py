"""Internal consistency of scales: Cronbach's alpha and McDonald's omega total.

Conventions, stated once:

- Both coefficients use the respondents who answered every item of the set (listwise deletion)
  and the sample covariance matrix with ``ddof=1``.
- Cronbach's alpha = k / (k - 1) x (1 - sum of item variances / variance of the sum).
- McDonald's omega total comes from a one-factor model fitted by **maximum likelihood**:
  the discrepancy log|S| + tr(R S^-1) - log|R| - k, with S = l l' + diag(u), is minimised over
  loadings ``l`` and uniquenesses ``u`` on the item correlation matrix R by L-BFGS-B
  (scipy), starting from principal-axis loadings with squared multiple correlations as
  communalities; uniquenesses are bounded below by 0.005 (as statsmodels and R's ``factanal``
  do). ML is scale-free, so loadings and uniquenesses on the covariance scale are the
  correlation-scale ones times the item SD (and variance). Then
  omega = (sum l)^2 / ((sum l)^2 + sum u) on the covariance scale, i.e. the share of the
  model-implied variance of the raw sum score due to the common factor. Omega needs at least
  three items (a one-factor model with two items is not identified) and more respondents than
  items; otherwise it is missing.

This module must not import ``estimate``, ``report`` or ``run``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import optimize

from doorstep.errors import ConfigError, DataError
from doorstep.measures.registry import Scale, get_scale, item_columns, keyed_items

MINIMUM_UNIQUENESS = 0.005


def _complete(items: pd.DataFrame) -> np.ndarray:
    values = items.apply(pd.to_numeric, errors="coerce").astype("float64").to_numpy()
    return values[~np.isnan(values).any(axis=1)]


def cronbach_alpha(items: pd.DataFrame) -> float:
    """Cronbach's alpha of the columns of ``items`` (listwise deletion, ddof=1).

    Examples
    --------
    >>> items = pd.DataFrame({"a": [1, 2, 3, 4], "b": [1, 3, 3, 4], "c": [2, 2, 4, 4]})
    >>> round(cronbach_alpha(items), 4)
    0.9388
    """
    values = _complete(items)
    count = values.shape[1]
    if count < 2 or values.shape[0] < 2:
        return float("nan")
    covariance = np.cov(values, rowvar=False, ddof=1)
    total = covariance.sum()
    if total <= 0:
        return float("nan")
    return float(count / (count - 1) * (1 - np.trace(covariance) / total))


def one_factor_ml(correlation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood one-factor loadings and uniquenesses of a correlation matrix.

    Returns ``(loadings, uniquenesses)`` with the loadings' sum made positive.

    Examples
    --------
    >>> loadings = np.array([0.8, 0.7, 0.6])
    >>> matrix = np.outer(loadings, loadings) + np.diag(1 - loadings**2)
    >>> np.round(one_factor_ml(matrix)[0], 4).tolist()
    [0.8, 0.7, 0.6]
    """
    count = correlation.shape[0]
    _, log_det_sample = np.linalg.slogdet(correlation)
    communality = np.clip(1 - 1 / np.diag(np.linalg.inv(correlation)), 0.05, 0.995)
    values, vectors = np.linalg.eigh(correlation - np.diag(1 - communality))
    start_loadings = vectors[:, -1] * np.sqrt(max(values[-1], 1e-6))
    start = np.concatenate([start_loadings,
                            np.clip(1 - start_loadings**2, MINIMUM_UNIQUENESS, None)])

    def discrepancy(parameters: np.ndarray) -> tuple[float, np.ndarray]:
        loadings, uniquenesses = parameters[:count], parameters[count:]
        implied = np.outer(loadings, loadings) + np.diag(uniquenesses)
        sign, log_det = np.linalg.slogdet(implied)
        if sign <= 0:
            return 1e10, np.zeros_like(parameters)
        inverse = np.linalg.inv(implied)
        value = log_det + np.trace(correlation @ inverse) - log_det_sample - count
        middle = inverse @ (implied - correlation) @ inverse
        return float(value), np.concatenate([2 * middle @ loadings, np.diag(middle)])

    bounds = [(None, None)] * count + [(MINIMUM_UNIQUENESS, None)] * count
    fit = optimize.minimize(discrepancy, start, jac=True, method="L-BFGS-B", bounds=bounds,
                            options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-10})
    loadings, uniquenesses = fit.x[:count], fit.x[count:]
    if loadings.sum() < 0:
        loadings = -loadings
    return loadings, uniquenesses


def mcdonald_omega(items: pd.DataFrame) -> float:
    """McDonald's omega total from a maximum-likelihood one-factor model (see module notes).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> factor = rng.normal(size=(500, 1))
    >>> items = pd.DataFrame(factor + rng.normal(size=(500, 4)))
    >>> 0.7 < mcdonald_omega(items) < 0.9
    True
    """
    values = _complete(items)
    rows, count = values.shape
    if count < 3 or rows <= count:
        return float("nan")
    covariance = np.cov(values, rowvar=False, ddof=1)
    deviation = np.sqrt(np.diag(covariance))
    if np.any(deviation == 0):
        return float("nan")
    correlation = covariance / np.outer(deviation, deviation)
    if np.linalg.matrix_rank(correlation) < count:
        return float("nan")
    loadings, uniquenesses = one_factor_ml(correlation)
    common = (loadings * deviation).sum() ** 2
    return float(common / (common + (uniquenesses * deviation**2).sum()))


def _item_sets(frame: pd.DataFrame, items, mapping: Mapping[str, str] | None
               ) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    if isinstance(items, str | Scale) or (isinstance(items, Mapping) and "range" in items):
        scale = get_scale(items)
        keyed = keyed_items(frame, scale, mapping)
        sets = {subscale.name: list(subscale.items) for subscale in scale.subscales}
        for composite in scale.composites:
            if len(composite.parts) > 1:
                sets[composite.name] = [item for part in composite.parts
                                        for item in sets[part]]
        columns = item_columns(scale, mapping)
        return keyed.rename(columns=columns), {
            name: [columns[item] for item in members] for name, members in sets.items()}
    if isinstance(items, Mapping):
        sets = {str(name): list(columns) for name, columns in items.items()}
    elif isinstance(items, Sequence):
        sets = {"items": list(items)}
    else:
        raise ConfigError(f"reliability, key 'items': expected a list of columns, a mapping of "
                          f"name -> columns or a scale, found {items!r}")
    for name, columns in sets.items():
        if len(columns) < 2:
            raise ConfigError(f"reliability, key 'items.{name}': expected at least 2 items, "
                              f"found {columns}")
        absent = [column for column in columns if column not in frame.columns]
        if absent:
            raise DataError(f"reliability: expected item columns {absent}, not in the data")
    used = list(dict.fromkeys(column for columns in sets.values() for column in columns))
    return frame[used], sets


def reliability(frame: pd.DataFrame, items, by: str | Sequence[str] | None = None, *,
                mapping: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Cronbach's alpha and McDonald's omega total per item set, optionally per group (round).

    Parameters
    ----------
    frame
        Survey data; not changed.
    items
        A list of item columns (already keyed in one direction); a mapping of set name ->
        columns; or a scale (built-in name, :class:`Scale` or spec dict), whose items are
        range-checked and reverse-coded first and whose subscales and multi-part composites
        (e.g. SDQ total difficulties) each give a row.
    by
        Column(s) to compute the coefficients within, e.g. ``"round"``.
    mapping
        For a scale: item key -> column name, as in ``score_scale(items=...)``.

    Returns
    -------
    pandas.DataFrame
        One row per group and item set: ``by`` columns, ``scale``, ``n_items``, ``n_obs``
        (complete answers), ``cronbach_alpha``, ``omega_total``.

    Examples
    --------
    >>> frame = pd.DataFrame({"a": [1, 2, 3, 4], "b": [1, 3, 3, 4], "c": [2, 2, 4, 4]})
    >>> reliability(frame, ["a", "b", "c"])[["scale", "n_obs", "cronbach_alpha"]].round(4)
       scale  n_obs  cronbach_alpha
    0  items      4          0.9388
    """
    groups = [] if by is None else [by] if isinstance(by, str) else list(by)
    absent = [column for column in groups if column not in frame.columns]
    if absent:
        raise DataError(f"reliability: expected grouping columns {absent}, not in the data")
    values, sets = _item_sets(frame, items, mapping)
    values = pd.concat([frame[groups], values], axis=1) if groups else values
    parts = values.groupby(groups, sort=True, dropna=False) if groups else [((), values)]
    rows = []
    for key, part in parts:
        labels = dict(zip(groups, key if isinstance(key, tuple) else (key,), strict=True))
        for name, columns in sets.items():
            block = part[columns]
            rows.append({**labels, "scale": name, "n_items": len(columns),
                         "n_obs": int(block.notna().all(axis=1).sum()),
                         "cronbach_alpha": cronbach_alpha(block),
                         "omega_total": mcdonald_omega(block)})
    return pd.DataFrame(rows, columns=[*groups, "scale", "n_items", "n_obs", "cronbach_alpha",
                                       "omega_total"])
