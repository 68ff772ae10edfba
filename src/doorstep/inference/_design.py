"""Re-deriving the design of a linear result from the caller's frame (never stored in a result).

A result of ``doorstep.estimate`` records its outcome, its terms and (in ``extras``) the absorbed
fixed effects, but not its weights or cluster columns, and some of its regressors are built by the
estimator (the ``d:post`` interaction of ``did``, the event-time indicators of ``event_study``,
the centred interactions of Lin's ``ancova``). This module rebuilds the arrays of such a result
from the data and the names the caller gives (or, when a result records them in
``extras["specification"]``, from there), and checks that refitting reproduces the recorded
coefficients, so that a wrong frame, a forgotten ``weights=`` or a filtered sample is an error
rather than a silently different bootstrap.

The rows are touched a few times only (this runs before every wild bootstrap and randomisation
test, at up to millions of rows): each column is read once as float64, the grouping columns are
coded by ``np.bincount`` when they hold integers, no frame is built, and the refit is a k x k
solve of the Gram matrix ``X'[X y]`` (one symmetric product per block of rows, each below
OpenBLAS's threading threshold), kept on the design so that the bootstrap does not compute it
again. It must not import ``doorstep.io``, ``doorstep.clean``, ``doorstep.report`` or
``doorstep.run``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import pandas as pd

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate import _within
from doorstep.estimate._checks import (
    as_names,
    check_columns,
    check_frame,
    dense_codes,
    group_codes,
    numeric_column,
)
from doorstep.estimate.covariance import cluster_names
from doorstep.estimate.linear import INTERCEPT, _absorbed_count, _Sample
from doorstep.estimate.result import EstimationResult

LINEAR_ESTIMATORS = (
    "ols",
    "wls",
    "ancova",
    "difference_in_means",
    "did_ols",
    "twfe",
    "event_study",
)
COEFFICIENT_TOLERANCE = 1e-6
_CHUNK_ELEMENTS = 2**18


@dataclasses.dataclass(frozen=True)
class LinearDesign:
    """Arrays of a linear result in the weighted, within-transformed space (no frame).

    ``outcome`` and ``regressors`` are multiplied by the square root of the weights after the
    fixed effects were absorbed; ``root_weights`` is that square root; ``factors`` are the
    absorbed factors as (codes, levels) pairs; ``clusters`` one code array per cluster column
    (codes in sorted order of the labels); ``cluster_labels`` the codes of the first cluster
    column among all rows of the frame (before rows with missing values were dropped);
    ``cross`` is ``X'[X y]`` of the weighted arrays (k x k+1), or None if not computed.
    """

    outcome: np.ndarray
    regressors: np.ndarray
    terms: tuple[str, ...]
    root_weights: np.ndarray
    weights: np.ndarray
    factors: list[tuple[np.ndarray, int]]
    clusters: tuple[np.ndarray, ...]
    cluster_names: tuple[str, ...]
    n_params: int
    cluster_labels: np.ndarray
    cross: np.ndarray | None = None

    @property
    def n_obs(self) -> int:
        return int(self.outcome.size)


def recorded_specification(result: EstimationResult) -> Mapping[str, object]:
    """The specification recorded by the estimator (``extras["specification"]``), or empty."""
    specification = result.extras.get("specification")
    return specification if isinstance(specification, Mapping) else {}


def _fixed_effects(result: EstimationResult) -> tuple[str, ...]:
    for key in ("fixed_effects", "strata"):
        value = result.extras.get(key)
        if value:
            return tuple(value)
    return ()


def _resolve(result: EstimationResult, cluster, weights) -> tuple[tuple[str, ...], str | None]:
    recorded = recorded_specification(result)
    names = cluster_names(cluster) if cluster is not None else ()
    if not names:
        names = cluster_names(recorded.get("cluster") or None)
    if not names:
        raise ConfigError(
            f"the {result.estimator!r} result for {result.outcome!r} does not record its cluster "
            "column; pass cluster= (the column, or a pair of columns, to cluster on)"
        )
    if weights is None:
        weights = recorded.get("weights")
    if weights is not None and not isinstance(weights, str):
        raise ConfigError(f"weights must be one column name or None, found {weights!r}")
    return names, weights


def _event_indicator(term: str, event: np.ndarray) -> np.ndarray:
    if term.startswith("event_time<="):
        chosen = event <= float(term[len("event_time<=") :])
    elif term.startswith("event_time>="):
        chosen = event >= float(term[len("event_time>=") :])
    else:
        chosen = event == float(term[len("event_time=") :])
    return chosen.astype(float)


def sorted_codes(data: pd.DataFrame, column: str) -> np.ndarray:
    """Codes 0..M-1 of a cluster column in sorted order of its labels, -1 where missing.

    The order is ``np.unique``'s (that of ``wildboottest``, so that the same seed gives the
    same draws to the same clusters). Plain integers whose range is at most a few times the
    number of rows are coded by ``np.bincount`` (at a million rows about ten times faster than
    the sort of ``pd.factorize(sort=True)``, which codes any other column).

    Examples
    --------
    >>> sorted_codes(pd.DataFrame({"village": [12, 10, 12, 15]}), "village").tolist()
    [1, 0, 1, 2]
    >>> sorted_codes(pd.DataFrame({"village": ["b", "a", None, "b"]}), "village").tolist()
    [1, 0, -1, 1]
    """
    series = data[column]
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and (dtype.kind == "i" or (
            dtype.kind == "u" and dtype.itemsize < 8)) and len(series):
        values = series.to_numpy().astype(np.int64, copy=False)
        low, high = int(values.min()), int(values.max())
        if high - low <= 4 * values.size + 1_000:
            return dense_codes(values - low if low else values)[0]
    codes = pd.factorize(series, sort=True, use_na_sentinel=True)[0]
    return np.asarray(codes, dtype=np.int64)


def cross_products(matrix: np.ndarray) -> np.ndarray:
    """``M'M`` of a C-ordered N x m matrix, summed over blocks of rows.

    Each block's product is one symmetric rank-k update (numpy calls BLAS ``syrk`` for
    ``block.T @ block``) small enough to stay below OpenBLAS's threading threshold: on a machine
    busy with other work the threads of one large product cost more than they save. For a
    design, ``matrix`` is ``[X y]`` and the first k rows of the result are ``X'[X y]``.

    Examples
    --------
    >>> cross_products(np.array([[1.0, 2.0, 1.0], [1.0, 3.0, 0.0], [1.0, 5.0, 2.0]]))
    array([[ 3., 10.,  3.],
           [10., 38., 12.],
           [ 3., 12.,  5.]])
    """
    n_columns = matrix.shape[1]
    rows = max(256, _CHUNK_ELEMENTS // (n_columns * n_columns))
    cross = np.zeros((n_columns, n_columns))
    for start in range(0, matrix.shape[0], rows):
        block = matrix[start : start + rows]
        cross += block.T @ block
    return cross


def _check_refit(result: EstimationResult, cross: np.ndarray, x_w: np.ndarray,
                 y_w: np.ndarray) -> None:
    """Raise EstimationError unless the refit reproduces the result's coefficients.

    The k x k solve of the normal equations is tried first; only if it misses the tolerance
    (an ill-conditioned design) is the N x k least-squares problem solved, as the estimator
    does, before the difference counts as a different sample.
    """
    n_terms = cross.shape[0]
    scale = 1.0 + np.abs(result.coefficients)

    def worst(coefficients: np.ndarray) -> tuple[int, bool]:
        gaps = np.abs(coefficients - result.coefficients) / scale
        position = int(np.argmax(gaps))
        return position, bool(gaps[position] <= COEFFICIENT_TOLERANCE)

    try:
        coefficients = np.linalg.solve(cross[:, :n_terms], cross[:, n_terms])
        position, close = worst(coefficients)
    except np.linalg.LinAlgError:
        close = False
    if close:
        return
    coefficients = np.linalg.lstsq(x_w, y_w, rcond=None)[0]
    position, close = worst(coefficients)
    if not close:
        raise EstimationError(
            f"refitting on the data given does not reproduce the result: the coefficient of "
            f"{result.terms[position]!r} is {coefficients[position]:.6g}, the result has "
            f"{result.coefficients[position]:.6g}; pass the same frame and weights= used for it"
        )


def linear_design(
    result: EstimationResult,
    data: pd.DataFrame,
    *,
    cluster: str | tuple[str, str] | None,
    weights: str | None,
    cohort: str | None = None,
    never_treated: float | None = 0,
) -> LinearDesign:
    """Rebuild the arrays of a linear ``result`` from ``data`` and check the refit.

    Rows are dropped as the estimators drop them (a missing value in any used column, a
    missing fixed-effect or cluster label, a missing or zero weight); the count must equal the
    result's ``n_obs`` and the refit its coefficients.

    Raises
    ------
    ConfigError
        The result is not from a linear estimator, or a needed name is missing.
    EstimationError
        Refitting on ``data`` does not reproduce the recorded coefficients.

    Examples
    --------
    >>> from doorstep.estimate import regress
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"v": np.repeat([3, 1, 2], 10), "x": rng.normal(size=30)})
    >>> frame["y"] = frame.x + rng.normal(size=30)
    >>> design = linear_design(regress(frame, "y", ["x"], cluster="v"), frame, cluster="v",
    ...                        weights=None)
    >>> design.regressors.shape, design.clusters[0][[0, 10, 20]].tolist()
    ((30, 2), [2, 0, 1])
    """
    if not isinstance(result, EstimationResult):
        raise ConfigError(
            f"result must be an EstimationResult, found {type(result).__name__}"
        )
    if result.estimator not in LINEAR_ESTIMATORS:
        raise ConfigError(
            f"the wild cluster bootstrap needs a linear estimator's result; {result.estimator!r} "
            f"is not one of {', '.join(map(repr, LINEAR_ESTIMATORS))}"
        )
    check_frame(data)
    clusters, weights = _resolve(result, cluster, weights)
    fixed = _fixed_effects(result)
    recorded = recorded_specification(result)
    columns: dict[str, np.ndarray] = {}
    read: dict[str, np.ndarray] = {}

    def raw(name: str, role: str) -> np.ndarray:
        # Each column is read (and cast to float64) once; callers never change the array.
        if name not in read:
            check_columns(data, {role: (name,)})
            read[name] = numeric_column(data, name, role)
        return read[name]

    columns[result.outcome] = raw(result.outcome, "outcome")
    interacted = bool(result.extras.get("interacted", False))
    event_times = result.extras.get("event_times") or {}
    event = None
    if result.estimator == "event_study":
        cohort = cohort or recorded.get("cohort")
        if not isinstance(cohort, str):
            raise ConfigError(
                "an event_study result does not record its cohort column; pass cohort= (and "
                "never_treated= if it was not 0)"
            )
        if len(fixed) < 2:
            raise EstimationError("the event_study result does not record its unit and time")
        periods = raw(fixed[1], "time")
        cohorts = raw(cohort, "cohort")
        never = np.isnan(cohorts) if never_treated is None else cohorts == float(never_treated)
        event = np.where(~never & ~np.isnan(cohorts), periods - cohorts, np.nan)
        missing_cohort = np.isnan(cohorts) & ~never
    centred: list[str] = []
    for term in result.terms:
        if term == INTERCEPT and term not in data.columns:
            continue
        if event is not None and term in event_times:
            values = _event_indicator(term, event)
            values[missing_cohort] = np.nan
        elif term in data.columns:
            values = raw(term, "regressor")
        elif ":" in term:
            left, right = term.split(":", 1)
            if interacted:
                centred.append(right)
                columns.setdefault(right, raw(right, "covariate"))
                values = raw(left, "treatment")
            else:
                values = raw(left, "regressor") * raw(right, "regressor")
        else:
            raise ConfigError(
                f"term {term!r} of the result is not a column of the data; pass the frame the "
                "result was estimated on"
            )
        columns[term] = values
    # Complete cases, as ``doorstep.estimate.linear._sample`` keeps them.
    for name in (*fixed, *clusters, *as_names("weights", weights)):
        check_columns(data, {"design": (name,)})
    keep = np.ones(len(data), dtype=bool)
    for values in columns.values():
        keep &= ~np.isnan(values)
    coded = {name: sorted_codes(data, name) for name in clusters}
    for name in fixed:
        if name not in coded:
            coded[name] = group_codes(data, name)
    for codes in coded.values():
        keep &= codes >= 0
    if weights is not None:
        weight_values = numeric_column(data, weights, "weights")
        keep &= ~np.isnan(weight_values)
        if np.any(weight_values[keep] < 0):
            raise EstimationError(f"column {weights!r} (weights) holds negative values")
        keep &= weight_values != 0
    n_obs = int(keep.sum())
    if n_obs != result.n_obs:
        raise EstimationError(
            f"the data gives {n_obs} complete rows but the result used {result.n_obs}; "
            "pass the frame and weights= the result was estimated with"
        )
    complete = n_obs == len(data)

    def subset(values: np.ndarray) -> np.ndarray:
        return values if complete else values[keep]

    def recode(codes: np.ndarray) -> tuple[np.ndarray, int]:
        return (codes, int(codes.max()) + 1) if complete else dense_codes(codes[keep])

    numeric = {name: subset(values) for name, values in columns.items()}
    factors = [recode(coded[name]) for name in fixed]
    cluster_codes = [recode(coded[name])[0] for name in clusters]
    if weights is not None:
        sample_weights = subset(weight_values)
        root = np.sqrt(sample_weights)
    else:
        # One read-only array of ones serves as both (nothing may change it in place).
        sample_weights = root = np.ones(n_obs)
        root.flags.writeable = False
    # [X y] in one C-ordered array: its Gram matrix is one symmetric product per block of rows.
    n_terms = len(result.terms)
    combined = np.empty((n_obs, n_terms + 1))
    for position, term in enumerate(result.terms):
        if term == INTERCEPT and term not in numeric:
            combined[:, position] = 1.0
            continue
        values = numeric[term]
        if interacted and ":" in term and term not in data.columns:
            right = term.split(":", 1)[1]
            covariate = numeric[right]
            values = values * (covariate - np.average(covariate, weights=sample_weights))
        elif interacted and term in centred:
            values = values - np.average(values, weights=sample_weights)
        combined[:, position] = values
    combined[:, n_terms] = numeric[result.outcome]
    if factors:
        combined = np.ascontiguousarray(_within.demean(combined, factors, sample_weights))
    if weights is not None:
        combined *= root[:, None]
    cross = cross_products(combined)[:n_terms]
    x = np.ascontiguousarray(combined[:, :n_terms])
    y = combined[:, n_terms].copy()
    _check_refit(result, cross, x, y)
    n_params = n_terms
    if factors:
        sample = _Sample(
            numeric={}, weights=sample_weights, factors=factors, clusters=cluster_codes[0],
            n_obs=n_obs, n_dropped_missing=0, n_dropped_zero_weight=0,
            second_clusters=cluster_codes[1] if len(cluster_codes) == 2 else None,
        )
        n_params += _absorbed_count(sample, "cluster")
    return LinearDesign(
        outcome=y,
        regressors=x,
        terms=result.terms,
        root_weights=root,
        weights=sample_weights,
        factors=factors,
        clusters=tuple(cluster_codes),
        cluster_names=clusters,
        n_params=n_params,
        cluster_labels=subset(coded[clusters[0]]),
        cross=cross,
    )
