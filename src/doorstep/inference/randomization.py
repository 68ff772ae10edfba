"""Randomisation inference: re-running the assignment as it was done and re-estimating.

This module owns :func:`randomization_inference` and :class:`RandomizationResult`. The
assignment is re-randomised as it was actually done: the treatment values are permuted among
the randomisation units (the clusters when ``cluster=`` is given, else the rows) within each
stratum, or, when ``assignment_procedure=`` gives a ``doorstep.design.randomise`` record, the
recorded procedure (arms, shares, strata, clusters and any re-randomisation criterion) is re-run
with new seeds. When the number of distinct assignments within strata is at most
``permutations`` they are all enumerated and the p-value is exact; otherwise it is the Monte
Carlo p-value ``(1 + #{|T_p| >= |T_obs|}) / (1 + P)``.

Two statistics are computed, and both p-values are reported: the estimate itself and its t
statistic (CR1 clustered on the randomisation clusters, HC1 without clusters, recomputed for
the observed and every permuted assignment; robust to heterogeneous effects, Wu and Ding 2021).
For linear estimators (``regress``, ``ancova``, ``twfe`` and friends, with the treatment as a
plain regressor) the computation is vectorised by Frisch-Waugh-Lovell: the outcome and the other
regressors are residualised once on the controls and absorbed effects. With cluster-level
assignment and absorbed effects constant within the clusters (randomisation strata, or none),
every permuted estimate and t statistic is a combination of a few cluster totals computed once,
so all permutations together cost a handful of (permutations x clusters) products, whatever the
number of rows (after the outcome is residualised once, 1,000 permutations of 100 clusters take
a few milliseconds). With absorbed effects that vary within clusters (unit and period effects),
they come from G x G (and G x G x G) matrices of cluster-level products (up to 200 clusters);
beyond that, or with unit-level assignment, permuted treatment columns are residualised in
blocks by matrix products.
Any other estimator (``staggered_did``, ``nearest_neighbor_match``...), or a weighted fit (its
result does not record the weights), is re-run once per permutation on a new frame. It must not
import ``doorstep.io``, ``doorstep.clean``, ``doorstep.report`` or ``doorstep.run``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate import _within
from doorstep.estimate._checks import check_choice, check_frame
from doorstep.estimate.result import TIDY_COLUMNS, EstimationResult
from doorstep.inference._design import LINEAR_ESTIMATORS, LinearDesign, linear_design
from doorstep.inference.wild import check_count, check_seed

__all__ = ["STATISTICS", "RandomizationResult", "randomization_inference"]

STATISTICS = ("t", "estimate")
_MAX_TENSOR_CLUSTERS = 200
_CHUNK_ELEMENTS = 8_000_000
_ROW_ID = "__doorstep_row__"


@dataclasses.dataclass(frozen=True)
class RandomizationResult:
    """Randomisation-inference p-values of one term, with the columns of the result contract.

    Attributes
    ----------
    outcome, estimator, term : str
        As in the estimator's result.
    estimate, std_error, statistic : float
        The observed estimate, its standard error and t statistic as recomputed for the
        permutation test (CR1 by randomisation cluster, or HC1).
    p_value : float
        The p-value of the chosen ``statistic_used`` (``"t"`` or ``"estimate"``).
    p_value_t, p_value_estimate : float
        Both p-values.
    permutations : int
        Number of assignments in the distribution (all of them when ``exact``).
    exact : bool
        True when every possible assignment was enumerated.
    estimates, statistics : numpy.ndarray
        The permutation distributions (read-only).
    n_obs, n_clusters : int
        As in the result (randomisation clusters).
    inference : str
        E.g. ``"randomization inference (t statistic, 1000 permutations within strata)"``.

    Examples
    --------
    See :func:`randomization_inference`.
    """

    outcome: str
    estimator: str
    term: str
    estimate: float
    std_error: float
    statistic: float
    p_value: float
    p_value_t: float
    p_value_estimate: float
    permutations: int
    exact: bool
    statistic_used: str
    n_obs: int
    n_clusters: int | None
    inference: str
    estimates: np.ndarray = dataclasses.field(repr=False)
    statistics: np.ndarray = dataclasses.field(repr=False)

    def conf_int(self, level: float = 0.95) -> tuple[float, float]:
        """Not provided (inverting a sharp null needs a constant-effect model): (nan, nan)."""
        return (math.nan, math.nan)

    def tidy(self, level: float = 0.95) -> pd.DataFrame:
        """One row with the columns of the result contract (intervals are missing)."""
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
                    "conf_low": math.nan,
                    "conf_high": math.nan,
                    "n_obs": self.n_obs,
                    "n_clusters": self.n_clusters,
                    "inference": self.inference,
                }
            ],
            columns=list(TIDY_COLUMNS),
        )
        frame["n_clusters"] = frame["n_clusters"].astype("Int64")
        return frame


# -- assignments --------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class _Units:
    codes: np.ndarray  # row -> randomisation unit (0..G-1)
    values: np.ndarray  # observed treatment value of each unit
    strata: np.ndarray  # stratum code of each unit
    n_units: int


def _units(data: pd.DataFrame, treatment: str, strata: str | None, cluster: str | None) -> _Units:
    for role, name in (("treatment", treatment), ("strata", strata), ("cluster", cluster)):
        if name is not None and (not isinstance(name, str) or name not in data.columns):
            raise ConfigError(f"{role}={name!r} is not a column of the data")
    values = pd.to_numeric(data[treatment], errors="coerce").to_numpy(dtype=float)
    if np.isnan(values).any():
        raise EstimationError(
            f"column {treatment!r} (treatment) has {int(np.isnan(values).sum())} missing values; "
            "randomisation inference needs the assignment of every row"
        )
    if cluster is None:
        codes = np.arange(len(data))
    else:
        codes = pd.factorize(data[cluster], sort=True, use_na_sentinel=True)[0]
        if (codes < 0).any():
            raise EstimationError(f"column {cluster!r} (cluster) has missing values")
    n_units = int(codes.max()) + 1
    unit_values = np.full(n_units, np.nan)
    unit_values[codes] = values
    if not np.array_equal(unit_values[codes], values):
        raise EstimationError(
            f"column {treatment!r} varies within clusters of {cluster!r}; assignment by cluster "
            "needs one treatment value per cluster"
        )
    stratum = np.zeros(n_units, dtype=np.int64)
    if strata is not None:
        stratum_codes = pd.factorize(data[strata], sort=True, use_na_sentinel=True)[0]
        if (stratum_codes < 0).any():
            raise EstimationError(f"column {strata!r} (strata) has missing values")
        stratum[codes] = stratum_codes
        if not np.array_equal(stratum[codes], stratum_codes):
            raise EstimationError(
                f"strata {strata!r} vary within clusters of {cluster!r}; expected each "
                "randomisation unit in one stratum"
            )
    return _Units(codes, unit_values, stratum, n_units)


def _count_assignments(units: _Units) -> float:
    total = 1.0
    for stratum in np.unique(units.strata):
        members = units.values[units.strata == stratum]
        _, counts = np.unique(members, return_counts=True)
        total *= math.factorial(members.size) / math.prod(math.factorial(c) for c in counts)
        if total > 1e7:
            return math.inf
    return total


def _enumerate(units: _Units) -> np.ndarray:
    """Every distinct assignment within strata (binary treatments), one row each."""
    per_stratum = []
    for stratum in np.unique(units.strata):
        positions = np.flatnonzero(units.strata == stratum)
        members = units.values[positions]
        levels = np.unique(members)
        if levels.size > 2:
            raise EstimationError("exact enumeration is implemented for two treatment values")
        high = int((members == levels[-1]).sum())
        options = []
        for chosen in itertools.combinations(range(positions.size), high):
            row = np.full(positions.size, levels[0])
            row[list(chosen)] = levels[-1]
            options.append(row)
        per_stratum.append((positions, np.array(options)))
    rows = []
    for combination in itertools.product(*[range(len(options)) for _, options in per_stratum]):
        row = np.empty(units.n_units)
        for (positions, options), pick in zip(per_stratum, combination, strict=True):
            row[positions] = options[pick]
        rows.append(row)
    return np.array(rows)


def _permute(units: _Units, permutations: int, rng: np.random.Generator) -> np.ndarray:
    """Random permutations of the unit values within strata, one row per permutation."""
    order = np.argsort(units.strata, kind="stable")
    keys = rng.random((permutations, units.n_units)) + 2.0 * units.strata[None, :]
    positions = np.argsort(keys, axis=1)  # stratum by stratum, random within
    result = np.empty((permutations, units.n_units))
    np.put_along_axis(result, positions, units.values[order][None, :], axis=1)
    return result


def _procedure_draws(
    procedure: Any, data: pd.DataFrame, treatment: str, units: _Units, cluster: str | None,
    permutations: int, rng: np.random.Generator,
) -> np.ndarray:
    """Re-run a ``doorstep.design.randomise`` procedure record with new seeds."""
    from doorstep.design.randomise import AssignmentProcedure, assign_treatment

    if isinstance(procedure, dict):
        procedure = AssignmentProcedure.from_dict(procedure)
    if not isinstance(procedure, AssignmentProcedure):
        raise ConfigError(
            "assignment_procedure must be a doorstep.design.randomise.AssignmentProcedure (or "
            f"its dict), found {type(procedure).__name__}"
        )
    if len(procedure.arms) != 2:
        raise ConfigError("randomisation inference re-runs procedures with two arms")
    if (procedure.cluster or None) != cluster:
        raise ConfigError(
            f"the procedure randomised by {procedure.cluster or procedure.unit!r}; pass "
            f"cluster={procedure.cluster!r}"
        )
    seeds = rng.integers(0, 2**31 - 1, size=permutations)
    level = procedure.cluster or procedure.unit
    unit_of_row = pd.factorize(data[level], sort=True)[0] if cluster else units.codes
    rows = []
    for seed in seeds:
        table = assign_treatment(
            data, unit=procedure.unit, seed=int(seed), strata=procedure.strata,
            cluster=procedure.cluster, arms=procedure.arms, shares=procedure.shares,
            balance=procedure.balance, threshold=procedure.threshold,
            covariates=procedure.covariates, max_draws=procedure.max_draws,
        ).table
        arm = data[[procedure.unit]].merge(
            table[[procedure.unit, "arm"]], on=procedure.unit, how="left"
        )["arm"].to_numpy()
        treated = (arm == procedure.arms[1]).astype(float)
        row = np.empty(units.n_units)
        row[unit_of_row if cluster else units.codes] = treated
        rows.append(row)
    return np.array(rows)


# -- statistics ---------------------------------------------------------------------------------
def _fast_statistics(
    design: LinearDesign, index: int, assignments: np.ndarray, unit_codes: np.ndarray,
    clustered: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Permuted estimates and CR1/HC1 t statistics of a linear design (FWL, vectorised)."""
    root = design.root_weights
    x = design.regressors
    others = np.delete(x, index, axis=1)
    n = x.shape[0]
    if others.shape[1]:
        q_others, _ = np.linalg.qr(others)
    else:
        q_others = np.zeros((n, 0))

    def residualise(matrix: np.ndarray) -> np.ndarray:
        """M applied to weighted columns: absorb the effects, then the other regressors."""
        if design.factors:
            matrix = _within.demean(matrix / root[:, None], design.factors, design.weights)
            matrix = matrix * root[:, None]
        return matrix - q_others @ (q_others.T @ matrix)

    y_tilde = residualise(design.outcome[:, None])[:, 0]
    n_params = design.n_params
    n_units = int(unit_codes.max()) + 1
    ssc = (n_units / (n_units - 1) * (n - 1) / (n - n_params)) if clustered else n / (
        n - n_params
    )
    if clustered and all(
        _within.is_nested(unit_codes, n_units, codes) for codes, _ in design.factors
    ):
        return _cluster_level_statistics(
            design, q_others, y_tilde, assignments, unit_codes, n_units, ssc
        )
    if clustered and n_units <= _MAX_TENSOR_CLUSTERS:
        indicator = sparse.csr_matrix((root, (np.arange(n), unit_codes)), shape=(n, n_units))
        m_e = residualise(indicator.toarray())  # N x G: residualised weighted cluster dummies
        gram = m_e.T @ m_e  # G x G
        cross = np.asarray(indicator.T @ y_tilde).reshape(-1)  # sum of y~ in each cluster
        members = sparse.csr_matrix(
            (np.ones(n), (unit_codes, np.arange(n))), shape=(n_units, n)
        )
        score_y = np.asarray(members @ (m_e * y_tilde[:, None]))  # c x G
        order = np.argsort(unit_codes, kind="stable")
        bounds = np.searchsorted(unit_codes[order], np.arange(n_units + 1))
        tensor = np.empty((n_units, n_units, n_units))
        for unit in range(n_units):
            block = m_e[order[bounds[unit] : bounds[unit + 1]]]
            tensor[unit] = block.T @ block
        a = assignments
        denominator = np.einsum("pg,gh,ph->p", a, gram, a)
        numerator = a @ cross
        with np.errstate(invalid="ignore", divide="ignore"):
            estimates = numerator / denominator
        s_y = a @ score_y.T  # P x c
        quad = np.einsum(
            "pcg,pg->pc", (a @ tensor.transpose(1, 0, 2).reshape(n_units, -1)).reshape(
                a.shape[0], n_units, n_units), a)
        scores = s_y - estimates[:, None] * quad
        variance = ssc * (scores**2).sum(axis=1) / denominator**2
        with np.errstate(invalid="ignore", divide="ignore"):
            return estimates, estimates / np.sqrt(variance)
    permutations = assignments.shape[0]
    estimates = np.empty(permutations)
    statistics = np.empty(permutations)
    step = max(1, _CHUNK_ELEMENTS // n)
    members = sparse.csr_matrix((np.ones(n), (unit_codes, np.arange(n))), shape=(n_units, n))
    for start in range(0, permutations, step):
        block = assignments[start : start + step]
        d = residualise(block[:, unit_codes].T * root[:, None])  # N x b
        denominator = np.einsum("ij,ij->j", d, d)
        beta = (d.T @ y_tilde) / denominator
        residuals = y_tilde[:, None] - d * beta[None, :]
        scores = np.asarray(members @ (d * residuals)) if clustered else d * residuals
        variance = ssc * (scores**2).sum(axis=0) / denominator**2
        window = slice(start, start + block.shape[0])
        estimates[window] = beta
        statistics[window] = beta / np.sqrt(variance)
    return estimates, statistics


def _cluster_level_statistics(
    design: LinearDesign, q_others: np.ndarray, y_tilde: np.ndarray, assignments: np.ndarray,
    unit_codes: np.ndarray, n_units: int, ssc: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Permuted estimates and CR1 t statistics from cluster-level sums alone (FWL).

    Valid when every absorbed factor is constant within each randomisation cluster (strata
    coarser than the clusters, or no absorbed factor). The weighted, within-transformed
    treatment of permutation p is then ``d_i = r_i * alpha_pc - q_i' gamma_p`` for row i of
    cluster c: ``alpha_p`` is the assignment residualised on the factors at cluster level
    (weights: the cluster totals of the row weights), ``r`` the root weights, ``q`` an
    orthonormal basis of the other (within-transformed) regressors and
    ``gamma_p = sum_i r_i q_i alpha_pc``. Every sum the estimate and the cluster scores need,
    ``sum_(i in c) d_i y~_i`` and ``sum_(i in c) d_i^2``, is then a combination of a few
    cluster totals computed once (``W_c = sum r_i^2``, ``S_c = sum r_i q_i``,
    ``Y_c = sum r_i y~_i``, ``R_c = sum q_i y~_i``, ``Q_c = sum q_i q_i'``), so the
    permutations cost O(P G k^2) whatever the number of rows.
    """
    root = design.root_weights
    k = q_others.shape[1]
    pairs = [(j, m) for j in range(k) for m in range(j, k)]

    def totals(columns: list[np.ndarray]) -> np.ndarray:
        """Cluster totals of each column, G x len(columns)."""
        result = np.zeros((n_units, len(columns)))
        for position, values in enumerate(columns):
            result[:, position] = np.bincount(unit_codes, weights=values, minlength=n_units)
        return result

    cluster_weight = totals([design.weights])[:, 0]
    y_sums = totals([root * y_tilde])[:, 0]
    s_q = totals([q_others[:, j] * root for j in range(k)])
    r_q = totals([q_others[:, j] * y_tilde for j in range(k)])
    q_products = totals([q_others[:, j] * q_others[:, m] for j, m in pairs])
    alpha = assignments
    if design.factors:
        cluster_factors = []
        for codes, levels in design.factors:
            owner = np.zeros(n_units, dtype=np.int64)
            owner[unit_codes] = codes
            cluster_factors.append((owner, levels))
        alpha = _within.demean(assignments.T, cluster_factors, cluster_weight).T
    gamma = alpha @ s_q  # P x k
    cross = alpha * y_sums[None, :] - gamma @ r_q.T  # sum_(i in c) d_i y~_i, P x G
    quadratic = alpha**2 * cluster_weight[None, :] - 2.0 * alpha * (gamma @ s_q.T)
    for position, (j, m) in enumerate(pairs):  # + gamma' Q_c gamma: sum_(i in c) d_i^2, P x G
        weight = 1.0 if j == m else 2.0
        quadratic += np.outer(weight * gamma[:, j] * gamma[:, m], q_products[:, position])
    numerator = cross.sum(axis=1)
    denominator = quadratic.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        estimates = numerator / denominator
        scores = cross - estimates[:, None] * quadratic
        variance = ssc * np.einsum("pc,pc->p", scores, scores) / denominator**2
        return estimates, estimates / np.sqrt(variance)


def _p_value(observed: float, distribution: np.ndarray, exact: bool) -> float:
    valid = distribution[~np.isnan(distribution)]
    extreme = int(np.sum(np.abs(valid) >= abs(observed) * (1 - 1e-9)))
    if exact:
        return extreme / valid.size
    return (1 + extreme) / (1 + valid.size)


def randomization_inference(
    estimator_call: Callable[[pd.DataFrame], Any],
    *,
    data: pd.DataFrame,
    treatment: str,
    permutations: int = 1000,
    strata: str | None = None,
    cluster: str | None = None,
    seed: int,
    assignment_procedure: Any = None,
    statistic: Literal["t", "estimate"] = "t",
    term: str | None = None,
) -> RandomizationResult:
    """Randomisation-inference p-value of a treatment effect under the sharp null of no effect.

    Parameters
    ----------
    estimator_call : callable
        ``frame -> result``: the estimation to repeat, e.g.
        ``lambda frame: ancova(frame, "income", "treated", strata="county", cluster="village")``.
        It gets the caller's frame with the ``treatment`` column permuted (a new frame).
    data : pandas.DataFrame
        The analysis frame; not changed.
    treatment : str
        The assigned treatment column (constant within ``cluster``).
    permutations : int, default 1000
        Random re-assignments; when the number of distinct assignments is not larger, all are
        enumerated instead (exact p-value).
    strata : str, optional
        Randomisation strata: treatment values are permuted within them.
    cluster : str, optional
        Randomisation clusters: treatment values are permuted between clusters.
    seed : int
        Seed of the permutations.
    assignment_procedure : AssignmentProcedure or dict, optional
        A ``doorstep.design.randomise`` record: re-run it with new seeds instead of permuting
        (it supplies strata, clusters and any re-randomisation criterion).
    statistic : {"t", "estimate"}, default "t"
        Which permutation distribution gives ``p_value`` (both p-values are kept).
    term : str, optional
        The term of the result holding the effect (default: its main term).

    Returns
    -------
    RandomizationResult

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from doorstep.estimate import regress
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"v": np.repeat(np.arange(16), 10),
    ...                       "d": np.repeat(np.arange(16) % 2, 10).astype(float)})
    >>> frame["y"] = 0.8 * frame.d + rng.normal(size=160)
    >>> ri = randomization_inference(lambda f: regress(f, "y", ["d"], cluster="v"), data=frame,
    ...                              treatment="d", cluster="v", seed=1)
    >>> ri.exact, ri.permutations, ri.p_value < 0.05
    (False, 1000, True)
    """
    check_frame(data)
    if not callable(estimator_call):
        raise ConfigError("estimator_call must be a function of a data frame")
    permutations = check_count("permutations", permutations, 1)
    seed = check_seed(seed)
    check_choice("statistic", statistic, STATISTICS)
    if assignment_procedure is not None:
        strata = getattr(assignment_procedure, "strata", None) if strata is None else strata
        cluster = getattr(assignment_procedure, "cluster", None) if cluster is None else cluster
    units = _units(data, treatment, strata, cluster)
    rng = np.random.default_rng(seed)
    exact = False
    if assignment_procedure is not None:
        assignments = _procedure_draws(
            assignment_procedure, data, treatment, units, cluster, permutations, rng
        )
        where = "by re-running the assignment procedure"
    elif _count_assignments(units) <= permutations:
        assignments = _enumerate(units)
        exact = True
        where = "all assignments enumerated"
    else:
        assignments = _permute(units, permutations, rng)
        where = "permutations"
    scope = (" within strata" if strata else "") + (f" by {cluster}" if cluster else "")
    result = estimator_call(data)
    term = getattr(result, "main_term", None) if term is None else term
    fast = (
        isinstance(result, EstimationResult)
        and result.estimator in LINEAR_ESTIMATORS
        and term == treatment
        and treatment in result.terms
    )
    if fast:
        frame = data if cluster is not None else data.assign(**{_ROW_ID: np.arange(len(data))})
        try:
            design = linear_design(result, frame, cluster=cluster or _ROW_ID, weights=None)
        except EstimationError:
            fast = False  # e.g. a weighted fit, whose weights the result does not record
        else:
            if design.n_obs != len(data):
                fast = False  # rows dropped for missing values: map assignments row by row
    if fast:
        index = design.terms.index(term)
        both = np.vstack([units.values[None, :], assignments])
        estimates, statistics = _fast_statistics(
            design, index, both, units.codes, cluster is not None
        )
        estimate, t_observed = float(estimates[0]), float(statistics[0])
        estimates, statistics = estimates[1:].copy(), statistics[1:].copy()
        path = "vectorised"
    else:
        estimates = np.empty(assignments.shape[0])
        statistics = np.empty(assignments.shape[0])
        for position, assignment in enumerate(assignments):
            permuted = estimator_call(data.assign(**{treatment: assignment[units.codes]}))
            view = permuted.term(term) if hasattr(permuted, "term") and term else permuted
            estimates[position] = view.estimate
            statistics[position] = view.estimate / view.std_error
        view = result.term(term) if hasattr(result, "term") and term else result
        estimate, t_observed = float(view.estimate), float(view.estimate / view.std_error)
        path = "re-estimated"
    p_t = _p_value(t_observed, statistics, exact)
    p_estimate = _p_value(estimate, estimates, exact)
    count = assignments.shape[0]
    label = (
        f"randomization inference ({'t statistic' if statistic == 't' else 'estimate'}, "
        f"{count} {where}{scope}; {path})"
    )
    estimates.flags.writeable = False
    statistics.flags.writeable = False
    return RandomizationResult(
        outcome=getattr(result, "outcome", ""),
        estimator=getattr(result, "estimator", ""),
        term=str(term),
        estimate=estimate,
        std_error=abs(estimate / t_observed) if t_observed else math.nan,
        statistic=t_observed,
        p_value=p_t if statistic == "t" else p_estimate,
        p_value_t=p_t,
        p_value_estimate=p_estimate,
        permutations=count,
        exact=exact,
        statistic_used=statistic,
        n_obs=int(getattr(result, "n_obs", len(data))),
        n_clusters=units.n_units if cluster else None,
        inference=label,
        estimates=estimates,
        statistics=statistics,
    )
