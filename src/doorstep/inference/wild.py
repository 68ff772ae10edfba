"""The wild cluster bootstrap, by the fast algorithm of Roodman, MacKinnon, Nielsen and Webb.

This module owns :func:`wild_cluster_bootstrap` and its result, :class:`WildBootstrapResult`.
The bootstrap t statistic of one coefficient is computed from cluster-level pieces built once
(Roodman et al. 2019, "Fast and wild", section 3): with ``a`` the column of (X'X)^-1 for the
tested term and ``u`` the residuals of the bootstrap data-generating process (restricted by the
null for WCR, unrestricted for WCU), every draw ``v`` (one weight per bootstrap cluster) gives

* numerator  ``sum_h v_h a'X_h'u_h``;
* variance   ``ssc * sum_c (C_c v_c - sum_h H_ch v_h)^2`` over the score cells ``c``, where
  ``C_c = a'X_c'u_c`` and ``H_ch = a'X_c'X_c (X'X)^-1 X_h'u_h + a'X_c' [P_D(u 1_h)]_c``; the last
  term is the projection on absorbed fixed effects that are not nested in the bootstrap
  clusters (zero, and skipped, when every absorbed factor is nested in them).

The first term of ``H`` is ``P S'`` with ``P`` (cells x k) the rows ``a'X_c'X_c (X'X)^-1`` and
``S`` (clusters x k) the rows ``X_h'u_h``, so ``H v = P (S'v)``: the work per draw is O(kG)
whatever the number of rows (the projection term, when present, is a dense G x G product). The
rows are touched once, for 2k sums by cell; draws are processed in blocks small enough to stay in
cache and below OpenBLAS's threading threshold (on a busy machine its threads made the thin
products 20 to 60 times slower). Because the restricted residuals
are linear in the null value, ``u(null) = u_hat + delta * X a`` with
``delta = (b_j - null) / A_jj``, the numerator and the variance of every draw are a linear and a
quadratic function of ``delta``: five vectors of length B (stored on the result; no data) give
the bootstrap p-value at any null, so the confidence interval is found by inverting the test
(bisection to 1e-9 standard errors on each side, starting from the analytic interval).

The t statistics (of the sample and of every draw) use by default the cluster-jackknife
variance CV3 = (G-1)/G sum_g (b_(g) - b)(b_(g) - b)', b_(g) the estimate without cluster g,
centred on the estimate: MacKinnon, Nielsen and Webb (2023, "Fast and reliable jackknife and
bootstrap methods for cluster-robust inference", J. Applied Econometrics), whose WCR bootstrap
with CV3 in the bootstrap t ("WCR-V"; the ``bootstrap_type="13"`` of ``wildboottest``, whose
first digit names the residuals and second the variance) is more reliable than the classic one
with few or unequal clusters. No draw is refitted: with ``A_g = X'X - X_g'X_g``, ``r_g`` row j
of ``A_g^-1`` and ``s_h = X_h'u_h``, the draw's leave-g-out estimate is
``b~ + A_g^-1 (S'v - v_g s_g)`` and its full estimate ``b~ + (X'X)^-1 S'v``, so the deviation of
term j is ``r_g'(S'v) - a'(S'v) - (r_g's_g) v_g``: O(kG) per draw, as for CR1, and again
linear in ``delta``. CV3 needs one-way clustering and absorbed factors nested in the clusters
(then the jackknife of the within-transformed design is the model's); otherwise, and where
dropping a cluster leaves the term unidentified, the default is the classic CR1 t
(``variance=`` forces either; the label of the result says which was used).

Conventions (those of ``wildboottest``/pyfixest and Stata's ``boottest`` "11" bootstrap):
the CR1 variance has ``ssc = G/(G-1) * (N-1)/(N-K)``, CV3 ``(G-1)/G`` (both cancel in
p-values); the
two-sided p-value is the share of draws with ``|t*| >= |t|``, a relative difference below 1e-9
counting as a tie (so under full enumeration the draw that reproduces the sample, and its mirror,
count, as the identity does in a permutation test; ``wildboottest`` writes ``|t*| > |t|`` and
counts them or not as rounding falls); Rademacher weights use
full enumeration of the 2^G sign vectors when 2^G <= reps (the ``itertools.product`` order, as
``wildboottest``); Webb is the six-point distribution, Mammen the two-point one. With two-way
clustering the variance of every draw is Cameron-Gelbach-Miller (``M_a + M_b - M_ab``) with the
min(G) factor, the score cells are the intersections, and the bootstrap weights are drawn by
the clustering dimension with fewer clusters (MacKinnon, Nielsen and Webb 2021) unless
``bootstrap_cluster=`` says otherwise; draws whose variance is not positive are left out.
This module must not import ``doorstep.io``, ``doorstep.clean``, ``doorstep.report`` or
``doorstep.run``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate import _within
from doorstep.estimate._checks import check_choice
from doorstep.estimate.covariance import left_out_eigen
from doorstep.estimate.result import TIDY_COLUMNS, EstimationResult
from doorstep.inference._design import LinearDesign, cross_products, linear_design

__all__ = ["VARIANCE_TYPES", "WEIGHT_TYPES", "WildBootstrapResult", "wild_cluster_bootstrap"]

WEIGHT_TYPES = ("rademacher", "webb", "mammen")
VARIANCE_TYPES = ("cr1", "cv3")
# Below this many bootstrap clusters a term that is constant within clusters gets a note.
FEW_CLUSTERS_FOR_CLUSTER_LEVEL_TERMS = 12
_WEBB = np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)])
_MAMMEN = np.array([-(math.sqrt(5) - 1) / 2, (math.sqrt(5) + 1) / 2])
_MAMMEN_P = (math.sqrt(5) + 1) / (2 * math.sqrt(5))
_CHUNK_ELEMENTS = 2**18
_PROJECTION_ELEMENTS = 4_000_000
TIE_TOLERANCE = 1e-9
_MAX_ENUMERATION_CLUSTERS = 24
# A leave-one-cluster-out Gram matrix is singular in the directions that
# doorstep.estimate.covariance.left_out_eigen drops; the term must have no weight on them.
_UNIDENTIFIED = 1e-8


class UnidentifiedJackknifeError(EstimationError):
    """Dropping one cluster leaves the tested term unidentified, so CV3 is not defined."""

    def __init__(self, message: str, cluster: int) -> None:
        super().__init__(message)
        self.cluster = cluster


def check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed must be a whole number >= 0, found {seed!r}")
    return int(seed)


def check_count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{name} must be a whole number >= {minimum}, found {value!r}")
    return int(value)


def check_level(level: object) -> float:
    if isinstance(level, bool) or not isinstance(level, int | float) or not 0 < level < 1:
        raise ConfigError(f"level must be a number strictly between 0 and 1, found {level!r}")
    return float(level)


def draw_weights(
    n_clusters: int, reps: int, kind: str, rng: np.random.Generator
) -> tuple[np.ndarray, bool]:
    """Bootstrap weights, one row per cluster and one column per draw; True if enumerated.

    Examples
    --------
    >>> weights, enumerated = draw_weights(3, 999, "rademacher", np.random.default_rng(0))
    >>> weights.shape, enumerated
    ((3, 8), True)
    """
    if kind == "rademacher" and n_clusters <= _MAX_ENUMERATION_CLUSTERS and 2**n_clusters <= reps:
        grid = np.array(list(itertools.product((-1.0, 1.0), repeat=n_clusters))).T
        return grid, True
    # The draws of ``wildboottest`` (and so pyfixest): one call of ``rng.choice`` for all
    # G x B weights, laid out cluster by cluster; the same seed gives the same draws.
    if kind == "rademacher":
        values = rng.choice(np.array([-1.0, 1.0]), size=n_clusters * reps, replace=True)
    elif kind == "webb":
        values = rng.choice(_WEBB, size=n_clusters * reps, replace=True)
    else:
        values = rng.choice(
            _MAMMEN, size=n_clusters * reps, replace=True, p=[_MAMMEN_P, 1 - _MAMMEN_P]
        )
    return values.reshape(n_clusters, reps), False


def _group_sum(codes: np.ndarray, n_groups: int, values: np.ndarray) -> np.ndarray:
    """Sums of the rows of ``values`` (N or N x m) within groups, as a (G,) or (G, m) array.

    Examples
    --------
    >>> _group_sum(np.array([0, 1, 0]), 2, np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    array([[6., 8.],
           [3., 4.]])
    """
    if values.ndim == 1:
        return np.bincount(codes, weights=values, minlength=n_groups)
    return np.column_stack(
        [np.bincount(codes, weights=values[:, column], minlength=n_groups)
         for column in range(values.shape[1])]
    ).reshape(n_groups, values.shape[1])


def _cell_sums(
    cells: np.ndarray, n_cells: int, row_weights: np.ndarray, matrix: np.ndarray
) -> np.ndarray:
    """Sums of ``row_weights[i] * matrix[i]`` within cells, (n_cells, k): ``M' diag(w) X``.

    One pass over the rows of the C-ordered ``matrix`` by a sparse product: the cell
    indicator, one entry per row holding its weight, times ``matrix`` (at a million rows and
    three columns about ten times faster than forming the N x k products and summing each
    column by ``np.bincount``, whose strided reads dominate). Each cell's sum runs over its rows
    in order, as ``np.bincount`` sums.

    Examples
    --------
    >>> _cell_sums(np.array([0, 1, 0]), 2, np.array([1.0, 2.0, 3.0]),
    ...            np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    array([[16., 20.],
           [ 6.,  8.]])
    """
    n_rows = cells.size
    index = np.int32 if max(n_rows, n_cells) < 2**31 - 1 else np.int64
    indicator = sparse.csc_matrix(
        (np.ascontiguousarray(row_weights, dtype=float), cells.astype(index, copy=False),
         np.arange(n_rows + 1, dtype=index)),
        shape=(n_cells, n_rows),
    )
    return np.asarray(indicator @ np.ascontiguousarray(matrix))


def _cluster_grams(cells: np.ndarray, n_cells: int, x: np.ndarray) -> np.ndarray:
    """``X_g'X_g`` of every cluster, a (G, k, k) array (k passes over the rows).

    Examples
    --------
    >>> _cluster_grams(np.array([0, 1, 0]), 2, np.array([[1.0, 2.0], [1.0, 3.0], [1.0, 4.0]]))[0]
    array([[ 2.,  6.],
           [ 6., 20.]])
    """
    n_terms = x.shape[1]
    grams = np.empty((n_cells, n_terms, n_terms))
    for column in range(n_terms):
        grams[:, column, :] = _cell_sums(cells, n_cells, x[:, column], x)
    return grams


def jackknife_rows(gram: np.ndarray, grams: np.ndarray, index: int) -> np.ndarray:
    """Row ``index`` of ``(X'X - X_g'X_g)^-1`` for every cluster g, a (G, k) array.

    The leave-one-cluster-out estimate of term ``index`` is this row times
    ``X'y - X_g'y_g``. A singular leave-one-out Gram matrix is inverted on its range (the
    Moore-Penrose inverse, as ``wildboottest`` and pyfixest do), which gives the least-squares
    value of the term when the term is still identified without the cluster; when it is not
    (e.g. the only treated cluster is dropped), :class:`UnidentifiedJackknifeError`.

    Examples
    --------
    >>> gram = np.array([[4.0, 0.0], [0.0, 2.0]])
    >>> grams = np.array([[[1.0, 0.0], [0.0, 1.0]], [[3.0, 0.0], [0.0, 1.0]]])
    >>> jackknife_rows(gram, grams, 0)
    array([[0.33333333, 0.        ],
           [1.        , 0.        ]])
    """
    scale, values, vectors, kept = left_out_eigen(gram, grams)
    weights = vectors[:, index, :]  # e_j' V: the term's weight on each eigenvector
    lost = np.sqrt(np.sum(np.where(kept, 0.0, weights**2), axis=1))
    if np.any(lost > _UNIDENTIFIED):
        cluster = int(np.argmax(lost))
        raise UnidentifiedJackknifeError(
            f"without cluster {cluster + 1} of {grams.shape[0]} (in sorted order of the cluster "
            "labels) the tested term is not identified, so the jackknife (CV3) variance is not "
            "defined; pass variance='cr1'", cluster,
        )
    inverse_values = np.where(kept, 1.0 / np.where(kept, values, 1.0), 0.0)
    scaled_rows = np.einsum("gij,gj,gj->gi", vectors, inverse_values, weights)
    return scaled_rows * scale[None, :] * scale[index]


@dataclasses.dataclass(frozen=True)
class _Pieces:
    """Bootstrap pieces that do not depend on the null: five B-vectors and constants."""

    numerator0: np.ndarray
    numerator1: np.ndarray
    variance00: np.ndarray
    variance01: np.ndarray
    variance11: np.ndarray


def _bootstrap_pieces(
    design: LinearDesign,
    index: int,
    draws: np.ndarray,
    cells: np.ndarray,
    n_cells: int,
    boot_of_cell: np.ndarray,
    dimensions: list[tuple[np.ndarray, int, float]],
    *,
    restricted: bool,
    variance: str = "cr1",
) -> tuple[_Pieces, dict[str, float]]:
    """The fast algorithm: cluster-level pieces once, then O(k G) per draw.

    ``H`` (score cells x bootstrap clusters) is ``P S'`` with ``P = [X_c'X_c a]' (X'X)^-1``
    (cells x k) and ``S`` the bootstrap clusters' scores (clusters x k), so ``H v`` is computed
    as ``P (S' v)``: two thin products per block of draws, never a G x G x B one. Only the
    projection on non-nested absorbed fixed effects (rare) is a dense cells x clusters matrix.

    With ``variance="cv3"`` (one-way clustering, absorbed factors nested in the clusters) the
    variance of a draw is the jackknife's: with ``r_g`` row j of ``(X'X - X_g'X_g)^-1``, the
    leave-cluster-g-out deviation of the draw is ``r_g'S'v - a'S'v - (r_g's_g) v_g`` (see the
    module docstring), again two thin products per block.
    """
    x, y = design.regressors, design.outcome
    n_terms = x.shape[1]
    # Products over rows in blocks of rows, each below OpenBLAS's threading threshold; the
    # design usually brings X'[X y] from its refit check.
    rows = max(256, _CHUNK_ELEMENTS // (n_terms * (n_terms + 1)))
    cross = design.cross if design.cross is not None else (
        cross_products(np.column_stack([x, y]))[:n_terms])
    bread = np.linalg.inv(cross[:, :n_terms])
    coefficients = bread @ cross[:, n_terms]
    direction = bread[:, index]
    fitted = np.empty((x.shape[0], 2))
    both = np.column_stack([coefficients, direction])
    for start in range(0, x.shape[0], rows):
        np.matmul(x[start : start + rows], both, out=fitted[start : start + rows])
    residuals = y - fitted[:, 0]
    influence = fitted[:, 1]  # X a, N-vector
    n_boot = draws.shape[0]
    one_way = n_cells == n_boot and np.array_equal(boot_of_cell, np.arange(n_boot))
    # The only work on rows: per score cell, X_c'u_c and X_c'X_c a.
    cell_score0 = _cell_sums(cells, n_cells, residuals, x)
    cell_cross = _cell_sums(cells, n_cells, influence, x)
    # Per score cell: a'X_c'u_c and a'X_c'X_c a; per bootstrap cluster: X_h'u_h and X_h'X_h a.
    cell0 = cell_score0 @ direction
    cell1 = cell_cross @ direction
    score0 = cell_score0 if one_way else _group_sum(boot_of_cell, n_boot, cell_score0)
    score1 = cell_cross if one_way else _group_sum(boot_of_cell, n_boot, cell_cross)
    projector = cell_cross @ bread  # cells x k: H = projector @ score.T
    jackknife = variance == "cv3"
    if jackknife:
        # Row j of every leave-one-cluster-out inverse, and r_g's_g for both score vectors.
        rows_j = jackknife_rows(cross[:, :n_terms], _cluster_grams(cells, n_cells, x), index)
        own0 = np.einsum("gk,gk->g", rows_j, score0)
        own1 = np.einsum("gk,gk->g", rows_j, score1)
    projected = None
    if design.factors and not jackknife:
        projected = _fixed_effect_terms(design, influence, residuals, boot_of_cell[cells],
                                        n_boot, cells, n_cells)
    numerator_weights0 = _group_sum(boot_of_cell, n_boot, cell0)
    numerator_weights1 = _group_sum(boot_of_cell, n_boot, cell1)
    n_draws = draws.shape[1]
    outputs = {name: np.zeros(n_draws) for name in ("n0", "n1", "v00", "v01", "v11")}
    aggregators = [
        (None if size == n_cells and np.array_equal(codes, np.arange(n_cells)) else
         sparse.csr_matrix((np.ones(n_cells), (codes, np.arange(n_cells))),
                           shape=(size, n_cells)), sign)
        for codes, size, sign in dimensions
    ]
    # Blocks of draws small enough to stay in cache, and for the thin products (cells x k x
    # step) to stay below OpenBLAS's threading threshold: threads only cost time here.
    step = max(1, _CHUNK_ELEMENTS // (n_cells * max(n_terms, 4)))
    for start in range(0, n_draws, step):
        block = draws[:, start : start + step]
        window = slice(start, start + block.shape[1])
        if jackknife:
            summed0 = score0.T @ block  # S'v, k x draws
            z0 = rows_j @ summed0
            z0 -= direction @ summed0
            z0 -= own0[:, None] * block
            outputs["v00"][window] = np.einsum("ij,ij->j", z0, z0)
            if restricted:
                summed1 = score1.T @ block
                z1 = rows_j @ summed1
                z1 -= direction @ summed1
                z1 -= own1[:, None] * block
                outputs["v01"][window] = np.einsum("ij,ij->j", z0, z1)
                outputs["v11"][window] = np.einsum("ij,ij->j", z1, z1)
            outputs["n0"][window] = numerator_weights0 @ block
            if restricted:
                outputs["n1"][window] = numerator_weights1 @ block
            continue
        expanded = block if one_way else block[boot_of_cell]
        z0 = cell0[:, None] * expanded
        z0 -= projector @ (score0.T @ block)
        if projected is not None:
            z0 -= projected[0] @ block
        if restricted:
            z1 = cell1[:, None] * expanded
            z1 -= projector @ (score1.T @ block)
            if projected is not None:
                z1 -= projected[1] @ block
        for aggregator, sign in aggregators:
            a0 = z0 if aggregator is None else aggregator @ z0
            outputs["v00"][window] += sign * np.einsum("ij,ij->j", a0, a0)
            if restricted:
                a1 = z1 if aggregator is None else aggregator @ z1
                outputs["v01"][window] += sign * np.einsum("ij,ij->j", a0, a1)
                outputs["v11"][window] += sign * np.einsum("ij,ij->j", a1, a1)
        outputs["n0"][window] = numerator_weights0 @ block
        if restricted:
            outputs["n1"][window] = numerator_weights1 @ block
    # The analytic variance of the estimate (the draw with all weights 1 in WCU), before the
    # factor: CR1's meat, or the jackknife's sum of (b_(g) - b)_j^2 = (r_g'X_g'u_g)^2.
    meat = 0.0
    if jackknife:
        meat = float(own0 @ own0)
    for codes, size, sign in dimensions if not jackknife else ():
        summed = _group_sum(codes, size, cell0)
        meat += sign * float(summed @ summed)
    constants = {
        "estimate": float(coefficients[index]),
        "bread_jj": float(bread[index, index]),
        "meat": meat,
    }
    pieces = _Pieces(outputs["n0"], outputs["n1"], outputs["v00"], outputs["v01"], outputs["v11"])
    return pieces, constants


def _fixed_effect_terms(
    design: LinearDesign,
    influence: np.ndarray,
    residuals: np.ndarray,
    boot_codes: np.ndarray,
    n_boot: int,
    cells: np.ndarray,
    n_cells: int,
) -> tuple[np.ndarray, np.ndarray] | None:
    """a'X_c'[P_D(u 1_h)]_c for factors not nested in the bootstrap clusters (else None)."""
    factors = design.factors
    if not factors or all(
        _within.is_nested(codes, levels, boot_codes) for codes, levels in factors
    ):
        return None
    root = design.root_weights
    result = []
    for vector in (residuals, influence):
        out = np.zeros((n_cells, n_boot))
        step = max(1, _PROJECTION_ELEMENTS // max(vector.size, 1))
        for start in range(0, n_boot, step):
            members = np.arange(start, min(n_boot, start + step))
            block = np.zeros((vector.size, members.size))
            rows = np.isin(boot_codes, members)
            block[rows, boot_codes[rows] - start] = vector[rows]
            # Projection on the weighted fixed-effect dummies in the weighted space.
            within = _within.demean(block / root[:, None], factors, design.weights)
            projection = block - within * root[:, None]
            out[:, members] = _group_sum(cells, n_cells, influence[:, None] * projection)
        result.append(out)
    return result[0], result[1]


@dataclasses.dataclass(frozen=True)
class WildBootstrapResult:
    """The wild cluster bootstrap test of one term, with the columns of the result contract.

    Holds no data: the estimate, its analytic (CV3 or CR1) standard error, and five vectors of
    length ``draws`` from which the bootstrap p-value at any null, and so the confidence interval
    at any level, are recomputed.

    Attributes
    ----------
    outcome, estimator, term : str
        As in the original result; ``term`` is the tested coefficient.
    estimate, std_error : float
        Point estimate and its standard error: CV3 ((G-1)/G times the sum of squared
        leave-one-cluster-out deviations) or CR1 (G/(G-1) (N-1)/(N-K)), as ``variance`` says.
    null : float
        Value of the coefficient under the null hypothesis.
    draws : int
        Number of bootstrap draws (2^G under full enumeration).
    n_obs, n_clusters : int
        Observations; clusters (the smaller count with two-way clustering).
    inference : str
        E.g. ``"wild cluster bootstrap (WCR, CV3, Rademacher, 9999 draws)"`` (no ``CV3``: CR1).
    restricted, weights, enumerated : bool, str, bool
        WCR or WCU, the weight distribution, whether all sign vectors were enumerated.
    variance : str
        ``"cv3"`` (jackknife) or ``"cr1"``: the variance in the t statistics, sample and draws.
    note : str
        Empty, or why this bootstrap is less reliable than usual (see
        :func:`cluster_level_note`), to be shown beside its p-value.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from doorstep.estimate import regress
    >>> rng = np.random.default_rng(3)
    >>> frame = pd.DataFrame({"v": np.repeat(np.arange(10), 20), "x": rng.normal(size=200)})
    >>> frame["y"] = 0.5 * frame.x + rng.normal(size=200) + np.repeat(rng.normal(size=10), 20)
    >>> fit = regress(frame, "y", ["x"], cluster="v")
    >>> boot = wild_cluster_bootstrap(fit, "x", data=frame, cluster="v", seed=1)
    >>> boot.draws, boot.p_value < 0.05
    (1024, True)
    """

    outcome: str
    estimator: str
    term: str
    estimate: float
    std_error: float
    null: float
    draws: int
    n_obs: int
    n_clusters: int
    inference: str
    restricted: bool
    weights: str
    enumerated: bool
    level: float
    variance: str
    _pieces: _Pieces = dataclasses.field(repr=False)
    _bread_jj: float = dataclasses.field(repr=False)
    _ssc: float = dataclasses.field(repr=False)
    note: str = ""

    @property
    def statistic(self) -> float:
        """The t statistic of the term against ``null`` (CV3 or CR1, as ``variance``)."""
        return (self.estimate - self.null) / self.std_error if self.std_error > 0 else math.nan

    def bootstrap_statistics(self, null: float | None = None) -> np.ndarray:
        """The bootstrap t statistics (one per draw) for the test of ``null``."""
        null = self.null if null is None else float(null)
        pieces = self._pieces
        delta = (self.estimate - null) / self._bread_jj if self.restricted else 0.0
        numerator = pieces.numerator0 + delta * pieces.numerator1
        variance = pieces.variance00 + 2 * delta * pieces.variance01 + delta**2 * (
            pieces.variance11
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(variance > 0, numerator / np.sqrt(self._ssc * variance), np.nan)

    def p_value_at(self, null: float) -> float:
        """Two-sided bootstrap p-value of the hypothesis ``coefficient == null``."""
        statistics = self.bootstrap_statistics(null)
        valid = ~np.isnan(statistics)
        if not valid.any():
            return math.nan
        observed = abs((self.estimate - null) / self.std_error)
        return float(np.mean(np.abs(statistics[valid]) >= observed * (1 - TIE_TOLERANCE)))

    @property
    def p_value(self) -> float:
        """Two-sided bootstrap p-value at ``null``: the share of draws with |t*| >= |t|."""
        return self.p_value_at(self.null)

    def conf_int(self, level: float | None = None) -> tuple[float, float]:
        """Confidence interval: the nulls not rejected at ``1 - level`` by the bootstrap test.

        Examples
        --------
        See :class:`WildBootstrapResult`.
        """
        level = self.level if level is None else check_level(level)
        alpha = 1 - level
        return (self._bound(-1.0, alpha), self._bound(1.0, alpha))

    def _bound(self, side: float, alpha: float) -> float:
        inside = self.estimate
        scale = self.std_error if self.std_error > 0 else 1.0
        step = 2.0 * scale
        outside = inside + side * step
        for _ in range(200):
            if self.p_value_at(outside) <= alpha:
                break
            inside, step = outside, step * 2
            outside = inside + side * step
        else:
            return side * math.inf
        for _ in range(200):
            if abs(outside - inside) <= 1e-9 * scale:
                break
            middle = (inside + outside) / 2
            if self.p_value_at(middle) > alpha:
                inside = middle
            else:
                outside = middle
        return (inside + outside) / 2

    def tidy(self, level: float | None = None) -> pd.DataFrame:
        """One row with the columns of the result contract (``TIDY_COLUMNS``)."""
        low, high = self.conf_int(level)
        frame = pd.DataFrame(
            [
                {
                    "outcome": self.outcome,
                    "estimator": self.estimator,
                    "term": self.term,
                    "estimate": self.estimate,
                    "std_error": self.std_error,
                    "statistic": self.statistic,
                    "p_value": self.p_value,
                    "conf_low": low,
                    "conf_high": high,
                    "n_obs": self.n_obs,
                    "n_clusters": self.n_clusters,
                    "inference": self.inference,
                }
            ],
            columns=list(TIDY_COLUMNS),
        )
        frame["n_clusters"] = frame["n_clusters"].astype("Int64")
        return frame


@dataclasses.dataclass(frozen=True)
class _Layout:
    cells: np.ndarray
    n_cells: int
    boot_of_cell: np.ndarray
    n_boot: int
    dimensions: list[tuple[np.ndarray, int, float]]
    n_clusters: int
    label: str


def _layout(design: LinearDesign, bootstrap_cluster: str | None) -> _Layout:
    """Score cells, bootstrap clusters and the clustering dimensions as maps from cells."""
    codes = design.clusters
    names = design.cluster_names
    if bootstrap_cluster is not None and bootstrap_cluster not in names:
        raise ConfigError(
            f"bootstrap_cluster={bootstrap_cluster!r} is not one of the cluster columns "
            f"{list(names)}"
        )
    counts = [int(code.max()) + 1 for code in codes]
    if min(counts) < 2:
        raise EstimationError(
            f"the wild cluster bootstrap needs at least 2 clusters in {', '.join(names)}"
        )
    if len(codes) == 1:
        cells = codes[0]
        return _Layout(cells, counts[0], np.arange(counts[0]), counts[0],
                       [(np.arange(counts[0]), counts[0], 1.0)], counts[0], names[0])
    _, cells = np.unique(np.stack(codes), axis=1, return_inverse=True)
    cells = np.asarray(cells).reshape(-1)
    n_cells = int(cells.max()) + 1
    of_cell = [np.zeros(n_cells, dtype=np.int64) for _ in codes]
    for position, code in enumerate(codes):
        of_cell[position][cells] = code
    chosen = names.index(bootstrap_cluster) if bootstrap_cluster else int(np.argmin(counts))
    dimensions = [
        (of_cell[0], counts[0], 1.0),
        (of_cell[1], counts[1], 1.0),
        (np.arange(n_cells), n_cells, -1.0),
    ]
    return _Layout(cells, n_cells, of_cell[chosen], counts[chosen], dimensions, min(counts),
                   f"{names[0]}, {names[1]}; weights by {names[chosen]}")


def small_sample_factor(variance: str, n_obs: int, n_params: int, n_clusters: int) -> float:
    """The factor of the t statistics' variance: (G-1)/G for CV3, G/(G-1) (N-1)/(N-K) for CR1.

    Examples
    --------
    >>> small_sample_factor("cv3", 100, 2, 10), round(small_sample_factor("cr1", 100, 2, 10), 4)
    (0.9, 1.1224)
    """
    if variance == "cv3":
        return (n_clusters - 1) / n_clusters
    return n_clusters / (n_clusters - 1) * (n_obs - 1) / (n_obs - n_params)


def cluster_level_note(design: LinearDesign, index: int, clusters: np.ndarray,
                       n_clusters: int, term: str) -> str:
    """A warning when the tested term is constant within each of fewer than 12 clusters.

    Then the sign flips of the wild bootstrap cannot mimic the sampling of a cluster-level
    treatment: the homogeneity condition under which Canay, Santos and Shaikh (2021) show the
    wild bootstrap valid with few clusters fails, and with a handful of clusters the test
    over-rejects (Doorstep's Monte Carlo, half of 8 villages treated: 6.8% at the 5% level with
    CV3, 7.0% with CR1, 7.8% with Webb weights; 5.3% at 12 villages). Randomization inference
    over the clusters is exact for a cluster-randomised design. Empty otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from doorstep.inference._design import LinearDesign
    >>> village = np.repeat(np.arange(8), 5)
    >>> treated = (village % 2).astype(float)
    >>> design = LinearDesign(np.zeros(40), np.column_stack([np.ones(40), treated]),
    ...     ("Intercept", "treated"), np.ones(40), np.ones(40), [], (village,), ("village",), 2,
    ...     village)
    >>> cluster_level_note(design, 1, village, 8, "treated")[:47]
    "'treated' does not vary within any of the 8 clu"
    >>> cluster_level_note(design, 1, village, 12, "treated")
    ''
    """
    if n_clusters >= FEW_CLUSTERS_FOR_CLUSTER_LEVEL_TERMS:
        return ""
    positive = design.root_weights > 0
    values = design.regressors[positive, index] / design.root_weights[positive]
    codes = clusters[positive]
    highest = np.full(n_clusters, -np.inf)
    lowest = np.full(n_clusters, np.inf)
    np.maximum.at(highest, codes, values)
    np.minimum.at(lowest, codes, values)
    present = np.isfinite(highest)
    scale = max(float(np.abs(values).max(initial=0.0)), 1.0)
    if np.any(highest[present] - lowest[present] > 1e-9 * scale):
        return ""
    return (f"{term!r} does not vary within any of the {n_clusters} clusters: with fewer than "
            f"{FEW_CLUSTERS_FOR_CLUSTER_LEVEL_TERMS} clusters the wild bootstrap of a "
            "cluster-level treatment can over-reject (Canay, Santos and Shaikh 2021; about 7% "
            "at the 5% level with 8 villages in Doorstep's Monte Carlo); randomization "
            "inference over the clusters (doorstep.inference.randomization_inference) is exact "
            "for a cluster-randomised design")


def _resolve_variance(variance: str | None, design: LinearDesign) -> str:
    """The variance of the t statistics: ``variance``, or CV3 where it is exact, else CR1."""
    reason = None
    if len(design.cluster_names) != 1:
        reason = "two-way clustering"
    elif not all(_within.is_nested(codes, levels, design.clusters[0])
                 for codes, levels in design.factors):
        reason = "absorbed fixed effects that are not nested in the clusters"
    if reason is None:
        return "cv3" if variance is None else variance
    if variance == "cv3":
        raise ConfigError(
            f"variance='cv3' (the cluster jackknife) is not implemented with {reason}: the "
            "jackknife of the within-transformed design would not be the jackknife of the model; "
            "pass variance='cr1', or put such fixed effects in as explicit dummy regressors"
        )
    return "cr1"


def wild_cluster_bootstrap(
    result: EstimationResult,
    term: str | None = None,
    *,
    data: pd.DataFrame,
    cluster: str | tuple[str, str] | None = None,
    reps: int = 9999,
    weights: Literal["rademacher", "webb", "mammen"] = "rademacher",
    null: float = 0.0,
    restricted: bool = True,
    variance: Literal["cr1", "cv3"] | None = None,
    seed: int,
    level: float = 0.95,
    bootstrap_cluster: str | None = None,
    sample_weights: str | None = None,
    cohort: str | None = None,
    never_treated: float | None = 0,
) -> WildBootstrapResult:
    """Wild cluster bootstrap p-value and confidence interval for one term of a linear result.

    Works on the results of :func:`doorstep.estimate.regress`, ``difference_in_means``,
    ``ancova`` (strata absorbed, Lin's interacted version too), ``did`` (``method="ols"``),
    ``twfe`` and ``event_study``. The result holds no data, so the design is re-derived from
    ``data`` and the names below, and refitting must reproduce the result's coefficients.

    Parameters
    ----------
    result : EstimationResult
        The fitted linear model.
    term : str, optional
        The tested term (default: the result's main term).
    data : pandas.DataFrame
        The frame the result was estimated on; not changed.
    cluster : str or (str, str), optional
        Cluster column(s); required unless the result records them
        (``extras["specification"]["cluster"]``). Two columns give two-way clustering.
    reps : int, default 9999
        Bootstrap draws; Rademacher weights enumerate all 2^G sign vectors when 2^G <= reps.
    weights : {"rademacher", "webb", "mammen"}, default "rademacher"
        Distribution of the bootstrap weights (Webb's six-point one is advised below ~12
        clusters, where Rademacher has few distinct draws).
    null : float, default 0.0
        Value of the coefficient under the null hypothesis.
    restricted : bool, default True
        WCR (impose the null on the bootstrap DGP; recommended) or WCU. With 8 villages (4
        treated, a cluster-level treatment) WCR still over-rejects somewhat: about 7% at nominal
        5% with CR1 or CV3 t (``tests/test_monte_carlo.py``; Webb weights do not reduce it).
        WCU holds 5% there but over-rejects badly with few treated clusters (9-13% with 2 of 8
        or 10 treated, where WCR holds), so it is not the default.
    variance : {"cv3", "cr1"}, optional
        Variance of the t statistics. Default: ``"cv3"`` (the cluster jackknife, MacKinnon,
        Nielsen and Webb 2023; see the module docstring) with one-way clustering when absorbed
        fixed effects are nested in the clusters and no cluster's removal leaves the term
        unidentified; otherwise ``"cr1"``. Asking for ``"cv3"`` where it is not defined is an
        error. On the Monte Carlo designs CV3 lowers WCR's over-rejection by 0.2-0.4 points at
        8 and 12 villages.
    seed : int
        Seed of the draws (``numpy.random.default_rng(seed)``); required for reproducibility.
    level : float, default 0.95
        Level of the confidence interval in ``tidy()`` and ``conf_int()``.
    bootstrap_cluster : str, optional
        With two-way clustering, the dimension whose clusters get the weights (default: the one
        with fewer clusters).
    sample_weights : str, optional
        The weights column the result was estimated with (WLS), if not recorded.
    cohort, never_treated
        For ``event_study`` results: the cohort column and its never-treated value.

    Returns
    -------
    WildBootstrapResult
        ``p_value`` and ``conf_int()`` from the bootstrap; ``estimate``, ``std_error`` and
        ``statistic`` are the analytic ones with the variance used (``variance``).

    Raises
    ------
    ConfigError
        An option is not allowed, or ``variance="cv3"`` with two-way clustering or absorbed
        fixed effects not nested in the clusters.
    EstimationError
        The design cannot be rebuilt from ``data``, or (``variance="cv3"``) dropping one
        cluster leaves the term unidentified.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from doorstep.estimate import ancova
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"village": np.repeat(np.arange(12), 25)})
    >>> frame["treated"] = (frame.village % 2).astype(float)
    >>> frame["y"] = frame.treated + rng.normal(size=300) + np.repeat(rng.normal(size=12), 25)
    >>> fit = ancova(frame, "y", "treated", cluster="village")
    >>> boot = wild_cluster_bootstrap(fit, data=frame, cluster="village", reps=999, seed=2)
    >>> boot.inference
    'wild cluster bootstrap (WCR, CV3, Rademacher, 999 draws)'
    """
    check_choice("weights", weights, WEIGHT_TYPES)
    if variance is not None:
        check_choice("variance", variance, VARIANCE_TYPES)
    reps = check_count("reps", reps, 1)
    seed = check_seed(seed)
    level = check_level(level)
    if not isinstance(restricted, bool):
        raise ConfigError(f"restricted must be True or False, found {restricted!r}")
    if isinstance(null, bool) or not isinstance(null, int | float) or not math.isfinite(null):
        raise ConfigError(f"null must be a finite number, found {null!r}")
    if not isinstance(result, EstimationResult):
        raise ConfigError(f"result must be an EstimationResult, found {type(result).__name__}")
    term = result.main_term if term is None else term
    if term not in result.terms:
        raise ConfigError(f"term {term!r} is not estimated; the terms are {list(result.terms)}")
    design = linear_design(
        result, data, cluster=cluster, weights=sample_weights, cohort=cohort,
        never_treated=never_treated,
    )
    layout = _layout(design, bootstrap_cluster)
    rng = np.random.default_rng(seed)
    draws, enumerated = draw_weights(layout.n_boot, reps, weights, rng)
    index = design.terms.index(term)
    n_obs, n_params, n_clusters = design.n_obs, design.n_params, layout.n_clusters
    if n_obs <= n_params:
        raise EstimationError(f"{n_obs} observations are not enough for {n_params} parameters")
    chosen = _resolve_variance(variance, design)

    def pieces_with(kind: str) -> tuple[_Pieces, dict[str, float]]:
        return _bootstrap_pieces(
            design, index, draws, layout.cells, layout.n_cells, layout.boot_of_cell,
            layout.dimensions, restricted=restricted, variance=kind,
        )

    try:
        pieces, constants = pieces_with(chosen)
    except UnidentifiedJackknifeError:
        if variance == "cv3":
            raise
        chosen = "cr1"  # the default falls back where the jackknife is not defined
        pieces, constants = pieces_with(chosen)
    ssc = small_sample_factor(chosen, n_obs, n_params, n_clusters)
    sampling_variance = ssc * constants["meat"]
    std_error = math.sqrt(sampling_variance) if sampling_variance > 0 else math.nan
    count = f"full enumeration of {draws.shape[1]} draws" if enumerated else (
        f"{draws.shape[1]} draws")
    label = (
        f"wild cluster bootstrap ({'WCR' if restricted else 'WCU'}"
        f"{', CV3' if chosen == 'cv3' else ''}, {weights.capitalize()}, {count})"
    )
    if len(design.cluster_names) == 2:
        label += f", two-way ({layout.label})"
    return WildBootstrapResult(
        outcome=result.outcome,
        estimator=result.estimator,
        term=term,
        estimate=constants["estimate"],
        std_error=std_error,
        null=float(null),
        draws=int(draws.shape[1]),
        n_obs=n_obs,
        n_clusters=n_clusters,
        inference=label,
        restricted=restricted,
        weights=weights,
        enumerated=enumerated,
        level=level,
        variance=chosen,
        _pieces=pieces,
        _bread_jj=constants["bread_jj"],
        _ssc=ssc,
        note=cluster_level_note(design, index, layout.boot_of_cell[layout.cells], layout.n_boot,
                                term),
    )
