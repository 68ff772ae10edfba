"""Absorbed fixed effects: the within transformation and its degrees of freedom.

This module owns the (weighted) within transformation by alternating projections (one exact sweep
for a single factor; sweeps until convergence for several; never dummy matrices), the count of
absorbed parameters that enters K in the small-sample corrections, and the projection on the
absorbed dummies that HC2, HC3 and CR2 add to the hat matrix (:class:`FixedEffectProjection`;
dummies only for the factors beyond the largest). It must not import
``doorstep.io``, ``doorstep.report``, ``doorstep.run`` or notebook code.

Degrees of freedom follow reghdfe: the first factor counts all its levels (the constant is one of
them); each further factor counts its levels minus the redundant ones (for the second factor the
number of connected components of the bipartite graph it forms with the first, computed exactly;
for a third and later factor one redundant level is assumed, a lower bound as in reghdfe). With
clustered inference a factor nested within the clusters (every level in one cluster; with two-way
clustering, within either cluster variable) counts no levels beyond the constant, as in reghdfe
and fixest (and ``xtreg, fe vce(cluster)``); Stata's ``areg`` instead always counts all levels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from doorstep.errors import EstimationError

MAX_SWEEPS = 10_000
TOLERANCE = 1e-13
_MAX_CROSS_TAB = 4_000_000
_WIDE = 16  # columns above which a sweep works on the whole matrix at once
MAX_EXPANDED_CELLS = 50_000_000  # dummies of all but one absorbed factor for HC2/HC3/CR2


def _group_means(
    codes: np.ndarray, n_levels: int, matrix: np.ndarray, weights: np.ndarray | None,
    totals: np.ndarray,
) -> np.ndarray:
    """Weighted means of each column of ``matrix`` within each level (levels x columns).

    One ``np.bincount`` per column (contiguous when ``matrix`` is in Fortran order): several
    times faster than a product with a sparse indicator matrix built on every call.
    """
    if matrix.shape[1] > _WIDE:  # many columns (permuted assignments): one sparse product
        indicator = sparse.csr_matrix(
            (np.ones(codes.size) if weights is None else weights, (codes, np.arange(codes.size))),
            shape=(n_levels, codes.size),
        )
        return np.asarray(indicator @ matrix) / totals[:, None]
    sums = np.empty((n_levels, matrix.shape[1]))
    for column in range(matrix.shape[1]):
        values = matrix[:, column] if weights is None else matrix[:, column] * weights
        sums[:, column] = np.bincount(codes, weights=values, minlength=n_levels)
    return sums / totals[:, None]


def _subtract(result: np.ndarray, means: np.ndarray, codes: np.ndarray) -> None:
    if result.shape[1] > _WIDE:
        result -= means[codes]
        return
    for column in range(result.shape[1]):
        result[:, column] -= means[:, column][codes]


def _projections_commute(factors: list[tuple[np.ndarray, int]]) -> bool:
    """True when two factors form a balanced design: rows in a cell = row x column total / N.

    Then the two (unweighted) projections commute and one sweep (first factor, then second) is
    the exact two-way within transformation, as in a balanced panel of units and periods. The
    counts are integers, so the check is exact; it is made only when the cross table is small
    enough to hold (and costs about one projection of one column).
    """
    (first, first_levels), (second, second_levels) = factors
    if first_levels * second_levels > max(_MAX_CROSS_TAB, 4 * first.size):
        return False
    cells = np.bincount(first * second_levels + second, minlength=first_levels * second_levels)
    first_totals = np.bincount(first, minlength=first_levels)
    second_totals = np.bincount(second, minlength=second_levels)
    return bool(np.array_equal(cells.reshape(first_levels, second_levels) * first.size,
                               np.outer(first_totals, second_totals)))


def demean(
    matrix: np.ndarray,
    factors: list[tuple[np.ndarray, int]],
    weights: np.ndarray,
    *,
    names: tuple[str, ...] = (),
    overwrite: bool = False,
) -> np.ndarray:
    """Weighted within transformation of the columns of ``matrix`` (a new array, Fortran order).

    ``factors`` holds (codes 0..M-1, M) pairs. One factor is one exact sweep; two factors forming
    a balanced design without weights (every cell count the product of its margins over N, as
    in a balanced panel of units and periods) are one exact sweep too, when there are at least
    three columns (the check costs about one projection of one column; with fewer columns the
    sweeps below stop after three projections anyway). With ``overwrite=True``
    a float64 ``matrix`` in Fortran order is transformed in place and returned (no copy).
    Otherwise the factors are swept in turn until a sweep changes no value by more than
    ``TOLERANCE`` times the scale of the data: the change made by each projection is the
    largest group mean it subtracts, and the last projection of a sweep is skipped when the
    others changed less than half the tolerance together (the data were already demeaned by it,
    so it cannot change more than they did).

    Examples
    --------
    >>> unit, period = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    >>> demean(np.array([[1.0], [2.0], [3.0], [6.0]]), [(unit, 2), (period, 2)],
    ...        np.ones(4)).ravel().tolist()
    [0.5, -0.5, -0.5, 0.5]
    """
    in_place = overwrite and matrix.dtype == np.float64 and matrix.flags.f_contiguous
    result = matrix if in_place else np.array(matrix, dtype=float, copy=True, order="F")
    if not factors:
        return result
    unit_weights = bool(np.all(weights == 1.0))
    row_weights = None if unit_weights else weights
    totals = [
        np.bincount(codes, weights=row_weights, minlength=n_levels).astype(float)
        for codes, n_levels in factors
    ]
    if len(factors) == 1 or (len(factors) == 2 and unit_weights and result.shape[1] >= 3
                             and _projections_commute(factors)):
        for (codes, n_levels), total in zip(factors, totals, strict=True):
            _subtract(result, _group_means(codes, n_levels, result, row_weights, total), codes)
        return result
    scale = max(1.0, float(np.max(np.abs(result))))
    limit = TOLERANCE * scale
    for sweep in range(MAX_SWEEPS):
        change = 0.0
        for position, ((codes, n_levels), total) in enumerate(zip(factors, totals, strict=True)):
            if sweep > 0 and position == len(factors) - 1 and 2.0 * change <= limit:
                return result
            means = _group_means(codes, n_levels, result, row_weights, total)
            change += float(np.max(np.abs(means)))
            _subtract(result, means, codes)
        if change <= limit:
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
    factors: list[tuple[np.ndarray, int]], clusters: Sequence[np.ndarray] = ()
) -> tuple[int, list[int]]:
    """Number of absorbed parameters (constant included) and the count for each factor.

    A factor nested in any of the ``clusters`` (one array per cluster variable) counts nothing,
    as in reghdfe and fixest's ``fixef.K = "nested"``.
    """
    counts: list[int] = []
    counted_first: tuple[np.ndarray, int] | None = None
    for position, (codes, n_levels) in enumerate(factors):
        if any(is_nested(codes, n_levels, one) for one in clusters):
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


class FixedEffectProjection:
    """The projection on the absorbed factors' dummies in the weighted space, read by blocks.

    HC2/HC3 need its diagonal and CR2 its block for each cluster: the hat matrix of a model
    with absorbed fixed effects is this projection plus the one on the within-transformed
    regressors, so that the covariance equals the one with explicit dummies. The factor with
    the most levels is handled exactly without dummies (w_i^1/2 w_j^1/2 / sum of w in the
    level, for i and j in the same level); the dummies of the others (one level dropped each)
    are swept of the first factor and kept as an N x m matrix E, whose projection
    E (E'E)^+ E' is added (the Frisch-Waugh split P_D = P_D1 + P_(M_D1 D2)). The pseudo-inverse
    absorbs a factor nested in another. Above ``MAX_EXPANDED_CELLS`` entries of E the
    projection is refused.

    Examples
    --------
    >>> unit, period = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    >>> FixedEffectProjection([(unit, 2), (period, 2)], np.ones(4)).diagonal().tolist()
    [0.75, 0.75, 0.75, 0.75]
    """

    def __init__(self, factors: list[tuple[np.ndarray, int]], weights: np.ndarray,
                 names: tuple[str, ...] = (), what: str = "this covariance") -> None:
        order = sorted(range(len(factors)), key=lambda index: -factors[index][1])
        self.codes, n_levels = factors[order[0]]
        self.root_weights = np.sqrt(weights)
        self.totals = np.bincount(self.codes, weights=weights, minlength=n_levels)
        self.expanded: np.ndarray | None = None
        others = [factors[index] for index in order[1:]]
        if not others:
            return
        width = sum(levels - 1 for _, levels in others)
        if width * self.codes.size > MAX_EXPANDED_CELLS:
            label = ", ".join(names[index] for index in order[1:]) if names else "the others"
            raise EstimationError(
                f"{what} with several absorbed fixed effects needs the dummies of all but the "
                f"largest ({label}: {width} columns x {self.codes.size} rows), more than the "
                f"{MAX_EXPANDED_CELLS:,} cells implemented; use vcov='cluster' or 'hc1'"
            )
        dummies = np.zeros((self.codes.size, width), order="F")
        start = 0
        for codes, levels in others:
            rows = np.flatnonzero(codes > 0)
            dummies[rows, start + codes[rows] - 1] = 1.0
            start += levels - 1
        swept = demean(dummies, [factors[order[0]]], weights, overwrite=True)
        self.expanded = swept * self.root_weights[:, None]
        gram = self.expanded.T @ self.expanded
        self.gram_inverse = np.linalg.pinv(gram, rcond=1e-10, hermitian=True)

    def block(self, rows: np.ndarray) -> np.ndarray:
        """The rows x rows block of the projection."""
        codes, root = self.codes[rows], self.root_weights[rows]
        same = codes[:, None] == codes[None, :]
        block = same * np.outer(root, root) / self.totals[codes][None, :]
        if self.expanded is not None:
            part = self.expanded[rows]
            block = block + part @ self.gram_inverse @ part.T
        return block

    def diagonal(self) -> np.ndarray:
        """The diagonal of the projection (the fixed effects' share of each leverage)."""
        diagonal = self.root_weights**2 / self.totals[self.codes]
        if self.expanded is not None:
            diagonal = diagonal + np.einsum("ij,jk,ik->i", self.expanded, self.gram_inverse,
                                            self.expanded)
        return diagonal
