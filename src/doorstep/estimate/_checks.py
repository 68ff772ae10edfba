"""Checks of options and columns shared by the estimators of ``doorstep.estimate``.

This module owns the early checking of keyword options (a wrong choice gives a ``ConfigError``
that lists what is allowed) and the extraction of model columns from a frame into float64 arrays
(integer columns such as Stata's int8 are cast before any product; the caller's frame is never
changed). It must not import ``doorstep.io``, ``doorstep.report``, ``doorstep.run`` or notebook
code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from doorstep.errors import ConfigError, EstimationError


def check_choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise ConfigError listing them."""
    if not isinstance(value, str) or value not in allowed:
        listed = ", ".join(repr(option) for option in allowed)
        raise ConfigError(f"{name}={value!r} is not allowed; choose one of {listed}")
    return value


def as_names(name: str, value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Normalise a column name or a sequence of names to a tuple of names."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    try:
        names = tuple(value)
    except TypeError as error:
        raise ConfigError(
            f"{name} must be a column name or a list of column names, found {value!r}"
        ) from error
    for item in names:
        if not isinstance(item, str):
            raise ConfigError(f"{name} must hold column names (text), found {item!r}")
    return names


def check_frame(data: Any) -> pd.DataFrame:
    """Raise ConfigError unless ``data`` is a pandas DataFrame with at least one row."""
    if not isinstance(data, pd.DataFrame):
        raise ConfigError(f"data must be a pandas DataFrame, found {type(data).__name__}")
    if len(data) == 0:
        raise EstimationError("the data frame has no rows; nothing can be estimated")
    return data


def check_columns(data: pd.DataFrame, roles: dict[str, tuple[str, ...]]) -> None:
    """Raise ConfigError naming every requested column that is not in ``data``."""
    missing = [
        f"{column!r} (given as {role})"
        for role, columns in roles.items()
        for column in columns
        if column not in data.columns
    ]
    if missing:
        raise ConfigError(
            f"columns not found in the data: {', '.join(missing)}; "
            f"the data has {len(data.columns)} columns: {', '.join(map(str, data.columns[:30]))}"
            + (" ..." if len(data.columns) > 30 else "")
        )


def numeric_column(data: pd.DataFrame, column: str, role: str) -> np.ndarray:
    """Column as a new float64 array, missing values as NaN.

    Integer and boolean columns (including Stata's int8 and pandas nullable integers) are cast
    to float64 here, before any product, so that they cannot overflow.
    """
    series = data[column]
    if isinstance(series.dtype, pd.CategoricalDtype) or not (
        pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype)
    ):
        raise EstimationError(
            f"column {column!r} (given as {role}) must be numeric, found dtype {series.dtype}; "
            "recode it, or absorb a categorical variable with fixed_effects= / strata="
        )
    values = series.to_numpy(dtype="float64", na_value=np.nan, copy=True)
    if np.isinf(values).any():
        raise EstimationError(f"column {column!r} (given as {role}) holds infinite values")
    return values


def factor_codes(data: pd.DataFrame, column: str) -> np.ndarray:
    """Integer codes 0..M-1 of a categorical column (any dtype), -1 where missing."""
    codes, _ = pd.factorize(data[column], use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64)


def group_codes(data: pd.DataFrame, column: str) -> np.ndarray:
    """Integer codes 0..M-1 of a grouping column (fixed effect or cluster), -1 where missing.

    A column of plain integers whose range is at most a few times its length (unit, village or
    period numbers) is coded in the order of its values by ``np.bincount`` (about 20 times faster
    than the hashing of ``pd.factorize`` at 300,000 rows); any other column as
    :func:`factor_codes`, in order of appearance. Only the grouping matters to the estimators,
    not the order of the codes.

    Examples
    --------
    >>> group_codes(pd.DataFrame({"village": [12, 10, 12, 15]}), "village").tolist()
    [1, 0, 1, 2]
    >>> group_codes(pd.DataFrame({"village": ["b", "a", None]}), "village").tolist()
    [0, 1, -1]
    """
    series = data[column]
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and (dtype.kind == "i" or (
            dtype.kind == "u" and dtype.itemsize < 8)) and len(series):
        values = series.to_numpy().astype(np.int64, copy=False)
        low, high = int(values.min()), int(values.max())
        if high - low <= 4 * values.size + 1_000:
            shifted = values - low if low else values
            present = np.bincount(shifted) > 0
            mapping = np.cumsum(present) - 1
            return mapping[shifted].astype(np.int64, copy=False)
    return factor_codes(data, column)


def dense_codes(codes: np.ndarray) -> tuple[np.ndarray, int]:
    """Recode non-negative integer codes to 0..M-1 (after rows were dropped); return M.

    The order of the codes is kept (as ``np.unique(..., return_inverse=True)`` would, without
    its sort): code c becomes the number of distinct codes below c.

    Examples
    --------
    >>> codes, count = dense_codes(np.array([4, 0, 4, 2]))
    >>> codes.tolist(), count
    ([2, 0, 2, 1], 3)
    """
    if codes.size == 0:
        return np.zeros(0, dtype=np.int64), 0
    present = np.bincount(codes) > 0
    mapping = np.cumsum(present) - 1
    return mapping[codes].astype(np.int64, copy=False), int(mapping[-1]) + 1
