"""Absorbed fixed effects: the within transformation and its degrees of freedom.

This module owns the (weighted) within transformation by alternating projections (one exact sweep
for a single factor; sweeps until convergence for several; never dummy matrices) and the count of
absorbed parameters that enters K in the small-sample corrections. It must not import
``doorstep.io``, ``doorstep.report``, ``doorstep.run`` or notebook code.

Degrees of freedom follow reghdfe: the first factor counts all its levels (the constant is one of
them); each further factor counts its levels minus the redundant ones (for the second factor the
number of connected components of the bipartite graph it forms with the first, computed exactly;
for a third and later factor one redundant level is assumed, a lower bound as in reghdfe). With
clustered inference a factor nested within the clusters (every level in one cluster) counts no
levels beyond the constant, as in reghdfe (and ``xtreg, fe vce(cluster)``); Stata's ``areg``
instead always counts all levels.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from doorstep.errors import EstimationError

MAX_SWEEPS = 10_000
TOLERANCE = 1e-13


def _group_means(codes: np.ndarray, n_levels: int, matrix: np.ndarray, weights: np.ndarray):
    indicator = sparse.csr_matrix(
        (weights, (codes, np.arange(codes.size))), shape=(n_levels, codes.size)
    )
    totals = np.asarray(indicator.sum(axis=1)).reshape(-1)
    sums = indicator @ matrix
    return sums / totals[:, None]


def demean(
    matrix: np.ndarray,
    factors: list[tuple[np.ndarray, int]],
    weights: np.ndarray,
    *,
    names: tuple[str, ...] = (),
) -> np.ndarray:
    """Weighted within transformation of the columns of ``matrix`` (a new array).

    ``factors`` holds (codes 0..M-1, M) pairs. Several factors are swept in turn until the largest
    change in a sweep is below ``TOLERANCE`` times the scale of the data.
    """
    result = np.array(matrix, dtype=float, copy=True)
    if not factors:
        return result
    if len(factors) == 1:
        codes, n_levels = factors[0]
        return result - _group_means(codes, n_levels, result, weights)[codes]
    scale = max(1.0, float(np.max(np.abs(result))))
    for _ in range(MAX_SWEEPS):
        before = result.copy()
        for codes, n_levels in factors:
            result -= _group_means(codes, n_levels, result, weights)[codes]
        if float(np.max(np.abs(result - before))) <= TOLERANCE * scale:
            return result
    raise EstimationError(
        f"absorbing the fixed effects {', '.join(names)} did not converge in {MAX_SWEEPS} "
        "sweeps; check for nearly disconnected levels"
    )


def is_nested(codes: np.ndarray, n_levels: int, clusters: np.ndarray) -> bool:
    """True when every level of the factor lies within one cluster.

    O(n): record one cluster per level, then check that every row agrees with it (sorting the
    (level, cluster) pairs took most of a two-way fixed-effects fit at 300,000 rows).

    Examples
    --------
    >>> is_nested(np.array([0, 0, 1]), 2, np.array([5, 5, 7])), is_nested(
    ...     np.array([0, 0, 1]), 2, np.array([5, 6, 7]))
    (True, False)
    """
    owner = np.empty(n_levels, dtype=clusters.dtype)
    owner[codes] = clusters
    return bool(np.array_equal(owner[codes], clusters))


def absorbed_parameters(
    factors: list[tuple[np.ndarray, int]], clusters: np.ndarray | None
) -> tuple[int, list[int]]:
    """Number of absorbed parameters (constant included) and the count for each factor."""
    counts: list[int] = []
    counted_first: tuple[np.ndarray, int] | None = None
    for position, (codes, n_levels) in enumerate(factors):
        if clusters is not None and is_nested(codes, n_levels, clusters):
            counts.append(0)
            continue
        if position == 0:
            counts.append(n_levels - 1)
            counted_first = (codes, n_levels)
        elif position == 1 and counted_first is not None:
            first_codes, first_levels = counted_first
            graph = sparse.csr_matrix(
                (np.ones(codes.size), (first_codes, codes)), shape=(first_levels, n_levels)
            )
            bipartite = sparse.bmat([[None, graph], [graph.T, None]])
            n_components, _ = connected_components(bipartite, directed=False)
            counts.append(n_levels - n_components)
        else:
            counts.append(n_levels - 1)
    return 1 + sum(counts), counts


def single_factor_leverage(codes: np.ndarray, n_levels: int, weights: np.ndarray) -> np.ndarray:
    """Diagonal of the weighted projection on one factor's dummies: w_i / (sum of w in level)."""
    totals = np.bincount(codes, weights=weights, minlength=n_levels)
    return weights / totals[codes]
