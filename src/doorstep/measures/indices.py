"""Summary indices of a family of outcomes: Anderson's ICW index and the Kling-Liebman-Katz index.

This module owns :func:`icw_index` (Anderson 2008: inverse-covariance-weighted mean of
standardised components) and :func:`zscore_index` (Kling, Liebman and Katz 2007: the plain mean
of standardised components), and :func:`standardise_components`, which both share:

1. signs are aligned with ``direction`` (+1: higher is better, -1: lower is better, so the
   component is multiplied by -1), so that a higher index is always better;
2. each component is standardised by the mean and standard deviation (ddof=1) of the
   ``reference`` rows (e.g. the control group at baseline);
3. the ICW weights are the row sums of the inverse of the covariance matrix of the standardised
   components, computed over the rows with every component present (as Anderson's code and
   Samii's ``icwIndex``);
4. missing components (Anderson's rule): a row's index is the weighted mean over its available
   components with the weights re-normalised over them (for the z-score index, the plain mean
   of the available components); a row with fewer than ``min_components`` available
   components gets a missing index.

No re-standardisation of the final index is done unless ``standardise=True`` (then the index is
standardised by the reference rows' mean and SD). Inputs are never changed. It must not import
``estimate``, ``report`` or ``run``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from doorstep.errors import ConfigError, DataError

__all__ = ["icw_index", "icw_weights", "standardise_components", "zscore_index"]


def _reference_mask(data: pd.DataFrame, reference: object) -> np.ndarray:
    if isinstance(reference, str):
        if reference not in data.columns:
            raise ConfigError(f"reference column {reference!r} is not in the data")
        values = data[reference]
    else:
        values = pd.Series(reference) if not isinstance(reference, pd.Series) else reference
        if len(values) != len(data):
            raise ConfigError(
                f"reference must mark the {len(data)} rows of the data, found {len(values)} values"
            )
    if not pd.api.types.is_bool_dtype(values.dtype):
        raise ConfigError("reference must be a boolean column or mask (True for reference rows)")
    mask = values.to_numpy(dtype=bool, na_value=False)
    if mask.sum() < 2:
        raise DataError(f"the reference group has {int(mask.sum())} rows; at least 2 are needed")
    return mask


def _directions(components: Sequence[str], direction: object) -> np.ndarray:
    if direction is None:
        return np.ones(len(components))
    if isinstance(direction, Mapping):
        unknown = set(direction) - set(components)
        if unknown:
            raise ConfigError(f"direction names components not in the index: {sorted(unknown)}")
        values = [direction.get(name, 1) for name in components]
    else:
        values = list(direction)
        if len(values) != len(components):
            raise ConfigError(
                f"direction must give one sign per component ({len(components)}), found "
                f"{len(values)}"
            )
    for value in values:
        if value not in (1, -1):
            raise ConfigError(f"direction values must be 1 or -1, found {value!r}")
    return np.asarray(values, dtype=float)


def standardise_components(
    data: pd.DataFrame,
    components: Sequence[str],
    *,
    reference: str | pd.Series | np.ndarray,
    direction: Mapping[str, int] | Sequence[int] | None = None,
) -> pd.DataFrame:
    """Sign-aligned components standardised on the reference rows (a new frame).

    Examples
    --------
    >>> frame = pd.DataFrame({"a": [1.0, 3.0, 5.0], "b": [2.0, 0.0, 1.0],
    ...                       "control": [True, True, False]})
    >>> standardise_components(frame, ["a", "b"], reference="control",
    ...                        direction={"b": -1}).round(3).to_dict("list")
    {'a': [-0.707, 0.707, 2.121], 'b': [-0.707, 0.707, 0.0]}
    """
    if not isinstance(data, pd.DataFrame):
        raise ConfigError(f"data must be a pandas DataFrame, found {type(data).__name__}")
    components = [components] if isinstance(components, str) else list(components)
    if len(components) < 2 or len(set(components)) != len(components):
        raise ConfigError(f"an index needs two or more distinct components, found {components}")
    missing = [name for name in components if name not in data.columns]
    if missing:
        raise ConfigError(f"components not in the data: {missing}")
    signs = _directions(components, direction)
    mask = _reference_mask(data, reference)
    out = {}
    for name, sign in zip(components, signs, strict=True):
        try:
            values = data[name].to_numpy(dtype="float64", na_value=np.nan) * sign
        except (TypeError, ValueError) as error:
            raise DataError(f"component {name!r} must be numeric") from error
        ref = values[mask]
        ref = ref[~np.isnan(ref)]
        if ref.size < 2 or np.std(ref, ddof=1) == 0:
            raise DataError(
                f"component {name!r} has no variation (or fewer than 2 values) in the reference "
                "rows; it cannot be standardised"
            )
        out[name] = (values - ref.mean()) / np.std(ref, ddof=1)
    return pd.DataFrame(out, index=data.index)


def icw_weights(standardised: pd.DataFrame) -> pd.Series:
    """Anderson's weights: row sums of the inverse covariance of the standardised components.

    The covariance is computed over the rows with every component present.

    Examples
    --------
    >>> z = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [0.0, 1.0, 1.0, 0.0]})
    >>> icw_weights(z).round(3).tolist()
    [0.6, 3.0]
    """
    complete = standardised.dropna()
    if len(complete) <= standardised.shape[1]:
        raise DataError(
            f"only {len(complete)} rows have every component; the covariance of "
            f"{standardised.shape[1]} components cannot be estimated"
        )
    covariance = np.cov(complete.to_numpy(), rowvar=False)
    try:
        inverse = np.linalg.inv(covariance)
    except np.linalg.LinAlgError as error:
        raise DataError("the components are collinear; their covariance is singular") from error
    return pd.Series(inverse.sum(axis=1), index=standardised.columns, name="weight")


def _combine(
    z: pd.DataFrame, weights: np.ndarray, min_components: int, standardise: bool,
    mask: np.ndarray, name: str,
) -> pd.Series:
    values = z.to_numpy()
    available = ~np.isnan(values)
    weight_matrix = np.where(available, weights[None, :], 0.0)
    totals = weight_matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        index = np.where(available, values, 0.0) @ weights / totals
    index[available.sum(axis=1) < min_components] = np.nan
    if standardise:
        ref = index[mask & ~np.isnan(index)]
        index = (index - ref.mean()) / np.std(ref, ddof=1)
    return pd.Series(index, index=z.index, name=name)


def _check_min(min_components: object, count: int) -> int:
    if isinstance(min_components, bool) or not isinstance(min_components, int) or not (
        1 <= min_components <= count
    ):
        raise ConfigError(f"min_components must be a whole number from 1 to {count}, found "
                          f"{min_components!r}")
    return min_components


def icw_index(
    data: pd.DataFrame,
    components: Sequence[str],
    *,
    reference: str | pd.Series | np.ndarray,
    direction: Mapping[str, int] | Sequence[int] | None = None,
    min_components: int = 1,
    standardise: bool = False,
    name: str = "icw_index",
) -> pd.Series:
    """Anderson's (2008) inverse-covariance-weighted index of ``components``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit (and round); not changed.
    components : sequence of str
        Component columns (two or more).
    reference : str or boolean mask
        Rows whose mean and SD standardise every component (e.g. ``control & baseline``).
    direction : mapping or sequence of {1, -1}, optional
        Sign per component: -1 when lower is better (default +1 for all).
    min_components : int, default 1
        Rows with fewer available components get a missing index.
    standardise : bool, default False
        Standardise the index itself on the reference rows.
    name : str
        Name of the returned Series.

    Returns
    -------
    pandas.Series
        The index, aligned with ``data``.

    Examples
    --------
    >>> frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0], "b": [1.0, 0.0, 1.0, 0.0, None],
    ...                       "ref": [True, True, True, True, False]})
    >>> icw_index(frame, ["a", "b"], reference="ref").round(3).tolist()
    [-0.148, -0.627, 0.627, 0.148, 1.936]
    """
    z = standardise_components(data, components, reference=reference, direction=direction)
    weights = icw_weights(z).to_numpy()
    mask = _reference_mask(data, reference)
    return _combine(z, weights, _check_min(min_components, z.shape[1]), standardise, mask, name)


def zscore_index(
    data: pd.DataFrame,
    components: Sequence[str],
    *,
    reference: str | pd.Series | np.ndarray,
    direction: Mapping[str, int] | Sequence[int] | None = None,
    min_components: int = 1,
    standardise: bool = False,
    name: str = "zscore_index",
) -> pd.Series:
    """Kling-Liebman-Katz (2007) index: the mean of the available standardised components.

    Parameters as in :func:`icw_index`.

    Examples
    --------
    >>> frame = pd.DataFrame({"a": [0.0, 2.0, 4.0], "b": [1.0, 3.0, None],
    ...                       "ref": [True, True, False]})
    >>> zscore_index(frame, ["a", "b"], reference="ref").round(3).tolist()
    [-0.707, 0.707, 2.121]
    """
    z = standardise_components(data, components, reference=reference, direction=direction)
    mask = _reference_mask(data, reference)
    weights = np.ones(z.shape[1])
    return _combine(z, weights, _check_min(min_components, z.shape[1]), standardise, mask, name)
