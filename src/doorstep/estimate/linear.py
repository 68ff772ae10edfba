"""Linear estimators: OLS/WLS with absorbed fixed effects, difference in means and ANCOVA.

This module owns :func:`regress`, :func:`difference_in_means` and :func:`ancova`, and the shared
steps every linear estimator takes: pick the columns, drop (and count) rows with missing values,
cast to float64, weight, absorb fixed effects, fit, and hand the scores to
``doorstep.estimate.covariance``. It must not import ``doorstep.io``, ``doorstep.report``,
``doorstep.run`` or notebook code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

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
from doorstep.estimate.covariance import cluster_names, resolve_vcov, sandwich
from doorstep.estimate.result import EstimationResult

__all__ = ["ancova", "difference_in_means", "regress"]

INTERCEPT = "intercept"
_GRAM_SCREEN = 1e-8


@dataclasses.dataclass(frozen=True)
class _Sample:
    """Complete-case arrays drawn from a frame (never the frame itself)."""

    numeric: dict[str, np.ndarray]
    weights: np.ndarray
    factors: list[tuple[np.ndarray, int]]
    clusters: np.ndarray | None
    n_obs: int
    n_dropped_missing: int
    n_dropped_zero_weight: int
    second_clusters: np.ndarray | None = None

    def extras(self) -> dict[str, int]:
        return {
            "n_dropped_missing": self.n_dropped_missing,
            "n_dropped_zero_weight": self.n_dropped_zero_weight,
        }


def _sample(
    data: pd.DataFrame,
    *,
    numeric: dict[str, str],
    fixed_effects: tuple[str, ...],
    weights: str | None,
    cluster: str | tuple[str, str] | None,
) -> _Sample:
    """Extract the model columns, dropping rows with a missing value in any used column.

    ``numeric`` maps column name -> role (for messages). Rows with zero weight are dropped and
    counted separately; negative weights are an error.
    """
    check_frame(data)
    roles: dict[str, tuple[str, ...]] = {}
    for column, role in numeric.items():
        roles.setdefault(role, ())
        roles[role] += (column,)
    roles["fixed_effects"] = fixed_effects
    roles["weights"] = as_names("weights", weights)
    clustering = cluster_names(cluster)
    roles["cluster"] = clustering
    check_columns(data, roles)
    arrays = {column: numeric_column(data, column, role) for column, role in numeric.items()}
    keep = np.ones(len(data), dtype=bool)
    for values in arrays.values():
        keep &= ~np.isnan(values)
    coded: dict[str, np.ndarray] = {}
    for column in (*fixed_effects, *clustering):  # a column both absorbed and clustered: once
        if column not in coded:
            coded[column] = group_codes(data, column)
    codes = [coded[column] for column in fixed_effects]
    for code in codes:
        keep &= code >= 0
    all_cluster_codes = [coded[name] for name in clustering]
    for codes_of_cluster in all_cluster_codes:
        keep &= codes_of_cluster >= 0
    cluster_codes = all_cluster_codes[0] if all_cluster_codes else None
    second_codes = all_cluster_codes[1] if len(all_cluster_codes) == 2 else None
    if weights is not None:
        weight_values = numeric_column(data, weights, "weights")
        keep &= ~np.isnan(weight_values)
        if np.any(weight_values[keep] < 0):
            raise EstimationError(f"column {weights!r} (weights) holds negative values")
    else:
        weight_values = np.ones(len(data))
    n_missing = int((~keep).sum())
    zero = keep & (weight_values == 0)
    keep &= ~zero
    n_obs = int(keep.sum())
    if n_obs == 0:
        raise EstimationError(
            "no rows are left after dropping rows with missing values in "
            f"{', '.join(list(numeric) + list(fixed_effects))}"
        )
    if n_obs == len(data):
        # Nothing dropped: the arrays are already new copies and the factor codes dense.
        def subset(values: np.ndarray) -> np.ndarray:
            return values

        def recode(values: np.ndarray) -> tuple[np.ndarray, int]:
            return values, int(values.max()) + 1
    else:
        def subset(values: np.ndarray) -> np.ndarray:
            return values[keep]

        def recode(values: np.ndarray) -> tuple[np.ndarray, int]:
            return dense_codes(values[keep])
    return _Sample(
        numeric={column: subset(values) for column, values in arrays.items()},
        weights=subset(weight_values),
        factors=[recode(code) for code in codes],
        clusters=recode(cluster_codes)[0] if cluster_codes is not None else None,
        n_obs=n_obs,
        n_dropped_missing=n_missing,
        n_dropped_zero_weight=int(zero.sum()),
        second_clusters=recode(second_codes)[0] if second_codes is not None else None,
    )


@dataclasses.dataclass(frozen=True)
class _LinearFit:
    coefficients: np.ndarray
    covariance: np.ndarray
    df: float
    n_clusters: int | None
    label: str
    n_params: int


def _check_rank(
    matrix: np.ndarray,
    names: Sequence[str],
    absorbed: bool,
    original: np.ndarray | None = None,
    *,
    gram: np.ndarray | None = None,
) -> None:
    """Raise EstimationError naming a regressor that is constant or collinear with the others.

    ``original`` holds the columns before the within transformation; a column whose norm fell
    below 1e-10 of its original norm has no variation within the fixed effects. ``gram`` is
    ``matrix.T @ matrix`` when the caller has it.

    The rank is first screened on the Gram matrix of the columns scaled to unit norm (k x k,
    one O(N k^2) product): when its smallest eigenvalue exceeds ``_GRAM_SCREEN`` times the
    largest, the smallest singular value of the scaled matrix is above 1e-4 times the largest,
    far above numpy's rank tolerance ``max(N, k) * eps``, so the matrix has full rank. Only
    otherwise is the singular value decomposition of the N x k matrix taken, as before (at a
    million rows it took 0.2-0.3 s of a 0.5 s regression).

    Examples
    --------
    >>> x = np.column_stack([np.arange(5.0), np.ones(5), 2 * np.arange(5.0)])
    >>> _check_rank(x, ("a", "intercept", "b"), absorbed=False)
    Traceback (most recent call last):
    ...
    doorstep.errors.EstimationError: column 'b' is collinear with 'a', 'intercept'; drop one of them
    """
    if gram is None:
        gram = matrix.T @ matrix
    squares = np.diag(gram).copy()
    scale = np.sqrt(squares)
    before = scale if original is None else np.sqrt(np.einsum("ij,ij->j", original, original))
    for position, name in enumerate(names):
        if scale[position] <= 1e-10 * before[position] or scale[position] == 0:
            where = " within the fixed effects" if absorbed else ""
            raise EstimationError(
                f"column {name!r} has no variation{where}; it cannot be estimated"
            )
    eigenvalues = np.linalg.eigvalsh(gram / np.outer(scale, scale))
    screen = max(_GRAM_SCREEN, 10.0 * matrix.shape[0] * np.finfo(float).eps)
    if eigenvalues[0] > screen * eigenvalues[-1]:
        return
    if np.linalg.matrix_rank(matrix / scale) < matrix.shape[1]:
        for position in range(2, matrix.shape[1] + 1):
            block = matrix[:, :position] / scale[:position]
            if np.linalg.matrix_rank(block) < position:
                raise EstimationError(
                    f"column {names[position - 1]!r} is collinear with "
                    f"{', '.join(repr(name) for name in names[: position - 1])}"
                    f"{' and the fixed effects' if absorbed else ''}; drop one of them"
                )


def fixed_effect_projection(factors: list[tuple[np.ndarray, int]], weights: np.ndarray,
                            vcov: str, names: tuple[str, ...] = ()
                            ) -> _within.FixedEffectProjection | None:
    """The absorbed dummies' projection when ``vcov`` needs the hat matrix (HC2, HC3, CR2)."""
    if vcov not in ("hc2", "hc3", "cr2") or not factors:
        return None
    return _within.FixedEffectProjection(factors, weights, names, what=f"vcov={vcov!r}")


def hat_diagonal(x_w: np.ndarray, bread: np.ndarray,
                 projection: _within.FixedEffectProjection | None,
                 vcov: str) -> np.ndarray | None:
    """The leverages h_ii that ``vcov="hc2"``/``"hc3"`` need (None for the other types).

    ``x_w`` are the weighted, within-transformed regressors (for 2SLS the fitted ones, as R
    ivreg's ``vcovHC``) and ``bread`` is ``inv(x_w' x_w)``; the absorbed fixed effects'
    ``projection`` adds its diagonal, so that h_ii is the leverage with explicit dummies.

    Examples
    --------
    >>> x = np.column_stack([np.ones(4), [0.0, 1.0, 2.0, 3.0]])
    >>> hat_diagonal(x, np.linalg.inv(x.T @ x), None, "hc2").round(2).tolist()
    [0.7, 0.3, 0.3, 0.7]
    """
    if vcov not in ("hc2", "hc3"):
        return None
    leverage = np.einsum("ij,jk,ik->i", x_w, bread, x_w)
    if projection is not None:
        leverage = leverage + projection.diagonal()
    return leverage


def _fit_linear(
    outcome: np.ndarray,
    regressors: np.ndarray,
    names: tuple[str, ...],
    sample: _Sample,
    *,
    vcov: str,
    cluster: str | tuple[str, str] | None,
    fixed_effects: tuple[str, ...],
) -> _LinearFit:
    """WLS of ``outcome`` on ``regressors`` (plus an intercept, or absorbed fixed effects)."""
    weights = sample.weights
    if sample.factors:
        stacked = _within.demean(
            stack_columns([outcome, *regressors.T]), sample.factors, weights,
            names=fixed_effects, overwrite=True,
        )
        y, x = stacked[:, 0], stacked[:, 1:]
        n_absorbed = _absorbed_count(sample, vcov)
    else:
        y, x = outcome, np.asfortranarray(regressors)
        n_absorbed = 0
    if np.all(weights == 1.0):  # OLS: the weighted space is the data itself, no copies
        y_w, x_w, original = y, x, regressors
    else:
        root = np.sqrt(weights)
        y_w = y * root
        x_w = x * root[:, None]
        original = regressors * root[:, None] if sample.factors else None
    gram = x_w.T @ x_w
    _check_rank(x_w, names, absorbed=bool(sample.factors),
                original=original if sample.factors else None, gram=gram)
    bread = np.linalg.inv(gram)
    coefficients = bread @ (x_w.T @ y_w)
    residuals = y_w - x_w @ coefficients
    projection = fixed_effect_projection(sample.factors, weights, vcov, fixed_effects)
    leverage = hat_diagonal(x_w, bread, projection, vcov)
    if vcov == "cv3" and not all(_within.is_nested(codes, levels, sample.clusters)
                                 for codes, levels in sample.factors):
        raise EstimationError(
            "vcov='cv3' (the cluster jackknife) needs every absorbed fixed effect nested in the "
            "clusters; enter the others as dummy regressors, or use vcov='cluster' or 'cr2'"
        )
    n_params = x.shape[1] + n_absorbed
    covariance = sandwich(
        x_w,
        residuals,
        bread,
        kind=vcov,
        n_params=n_params,
        clusters=sample.clusters,
        cluster_name=", ".join(cluster_names(cluster)) or None,
        leverage=leverage,
        second_clusters=sample.second_clusters if vcov == "cluster" else None,
        absorbed=projection if vcov == "cr2" else None,
        least_squares=True,
    )
    return _LinearFit(
        coefficients,
        covariance.covariance,
        covariance.df,
        covariance.n_clusters,
        covariance.label,
        n_params,
    )


def _absorbed_count(sample: _Sample, vcov: str) -> int:
    """Absorbed parameters as reghdfe and fixest count them: with clustered inference a factor
    nested in a cluster variable (either one, with two-way clustering) counts nothing."""
    if vcov not in ("cluster", "cr2", "cv3"):
        return _within.absorbed_parameters(sample.factors)[0]
    clusters = [one for one in (sample.clusters, sample.second_clusters) if one is not None]
    return _within.absorbed_parameters(sample.factors, clusters)[0]


def _check_keywords(fixed_effects, weights, cluster) -> tuple[str, ...]:
    fixed = as_names("fixed_effects", fixed_effects)
    if weights is not None and not isinstance(weights, str):
        raise ConfigError(f"weights must be one column name or None, found {weights!r}")
    cluster_names(cluster)
    return fixed


def stack_columns(columns: Sequence[np.ndarray], *, intercept: bool = False) -> np.ndarray:
    """N x k float64 matrix in Fortran order (each column contiguous), plus a column of ones.

    Column order suits what follows: the within transformation, the cluster sums of the
    scores and the rank check all work column by column.

    Examples
    --------
    >>> stack_columns([np.array([1.0, 2.0])], intercept=True).tolist()
    [[1.0, 1.0], [2.0, 1.0]]
    """
    n_rows = len(columns[0])
    matrix = np.empty((n_rows, len(columns) + int(intercept)), order="F")
    for position, column in enumerate(columns):
        matrix[:, position] = column
    if intercept:
        matrix[:, -1] = 1.0
    return matrix


def with_intercept(matrix: np.ndarray, terms: tuple[str, ...], sample: _Sample
                   ) -> tuple[np.ndarray, tuple[str, ...]]:
    """Add the intercept column and term, unless fixed effects are absorbed (they carry it)."""
    if sample.factors:
        return np.asfortranarray(matrix, dtype=float), terms
    return stack_columns(list(np.asarray(matrix, dtype=float).T), intercept=True), (
        *terms, INTERCEPT)


def regress(
    data: pd.DataFrame,
    outcome: str,
    regressors: str | Sequence[str],
    *,
    fixed_effects: str | Sequence[str] = (),
    weights: str | None = None,
    cluster: str | None = None,
    vcov: str | None = None,
) -> EstimationResult:
    """Least squares (OLS, or WLS with ``weights=``) with optional absorbed fixed effects.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per observation. It is not changed.
    outcome : str
        Outcome column.
    regressors : str or sequence of str
        Regressor columns; the first is the main term. An ``intercept`` term is added unless
        fixed effects are absorbed.
    fixed_effects : str or sequence of str, optional
        Categorical columns absorbed by the within transformation (alternating projections for
        several; no dummy matrices). Absorbed levels count in K as reghdfe counts them (see
        ``doorstep.estimate._within``); with ``vcov="cluster"``, factors nested within the
        clusters are not counted (reghdfe, ``xtreg, fe``), unlike ``areg``.
    weights : str, optional
        Analytic or probability weights (WLS); they enter point estimates and the sandwich.
        Rows with zero weight are dropped and counted in ``extras["n_dropped_zero_weight"]``.
    cluster : str or (str, str), optional
        Cluster column; makes ``vcov="cluster"`` the default. A pair of columns gives two-way
        clustering (Cameron-Gelbach-Miller with reghdfe's min(G) factor and t(min(G)-1)).
    vcov : {"iid", "hc1", "hc2", "hc3", "cluster", "cr2", "cv3"}, optional
        Covariance type (see ``doorstep.estimate.covariance``); default ``"cluster"`` with
        ``cluster=``, else ``"hc1"``. ``"cr2"`` is Bell-McCaffrey CR2 with t(G-1) (one cluster
        column; absorbed fixed effects enter the hat matrix as their dummies would, as they do
        for ``"hc2"``/``"hc3"``); ``"cv3"`` the cluster jackknife with t(G-1)
        (MacKinnon, Nielsen and Webb 2023; one cluster column, absorbed fixed effects nested
        in it).

    Returns
    -------
    EstimationResult
        ``estimator="ols"`` (``"wls"`` with weights); ``extras`` holds ``n_dropped_missing``,
        ``n_dropped_zero_weight``, ``n_params`` (K) and ``fixed_effects``.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"y": [1.0, 2.0, 2.5, 4.5, 5.0], "x": [0, 1, 2, 3, 4]})
    >>> result = regress(frame, "y", ["x"], vcov="iid")
    >>> round(result.estimate, 2), result.terms
    (1.05, ('x', 'intercept'))
    """
    fixed = _check_keywords(fixed_effects, weights, cluster)
    kind = resolve_vcov(vcov, cluster)
    if not isinstance(outcome, str):
        raise ConfigError(f"outcome must be one column name, found {outcome!r}")
    names = as_names("regressors", regressors)
    if not names:
        raise ConfigError("regressors must name at least one column")
    if len(set(names)) < len(names) or outcome in names:
        raise ConfigError(f"regressors {list(names)} repeat a column or include the outcome")
    numeric = {outcome: "outcome", **dict.fromkeys(names, "regressor")}
    sample = _sample(data, numeric=numeric, fixed_effects=fixed, weights=weights, cluster=cluster)
    matrix = stack_columns([sample.numeric[column] for column in names],
                           intercept=not sample.factors)
    terms = names if sample.factors else (*names, INTERCEPT)
    fit = _fit_linear(
        sample.numeric[outcome],
        matrix,
        terms,
        sample,
        vcov=kind,
        cluster=cluster,
        fixed_effects=fixed,
    )
    return EstimationResult(
        outcome=outcome,
        estimator="wls" if weights is not None else "ols",
        terms=terms,
        coefficients=fit.coefficients,
        covariance=fit.covariance,
        n_obs=sample.n_obs,
        n_clusters=fit.n_clusters,
        inference=fit.label,
        df=fit.df,
        main_term=names[0],
        extras={**sample.extras(), "n_params": fit.n_params, "fixed_effects": fixed},
    )


def _check_binary_treatment(data: pd.DataFrame, treatment: str) -> None:
    check_frame(data)
    check_columns(data, {"treatment": (treatment,)})
    values = numeric_column(data, treatment, "treatment")
    observed = np.unique(values[~np.isnan(values)])
    if observed.size < 2:
        found = "no non-missing values" if observed.size == 0 else f"every row is {observed[0]:g}"
        raise EstimationError(
            f"treatment column {treatment!r} has no variation ({found}); an effect cannot be "
            "estimated"
        )
    if not set(observed.tolist()) <= {0.0, 1.0}:
        raise EstimationError(
            f"treatment column {treatment!r} must be coded 0/1, found values "
            f"{observed[:6].tolist()}"
        )


def difference_in_means(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    *,
    weights: str | None = None,
    cluster: str | None = None,
    vcov: str | None = None,
) -> EstimationResult:
    """Difference in (weighted) means of ``outcome`` between treated (1) and control (0).

    The regression of ``outcome`` on ``treatment`` and an intercept, with the covariance chosen by
    ``vcov`` (default ``"cluster"`` when ``cluster=`` is given, else ``"hc1"``).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"y": [1.0, 2.0, 4.0, 6.0], "d": [0, 0, 1, 1]})
    >>> difference_in_means(frame, "y", "d").estimate
    3.5
    """
    _check_binary_treatment(data, treatment)
    result = regress(data, outcome, [treatment], weights=weights, cluster=cluster, vcov=vcov)
    return dataclasses.replace(result, estimator="difference_in_means")


def ancova(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    *,
    covariates: str | Sequence[str] = (),
    baseline_outcome: str | None = None,
    strata: str | Sequence[str] | None = None,
    interacted: bool = False,
    weights: str | None = None,
    cluster: str | None = None,
    vcov: str | None = None,
) -> EstimationResult:
    """Covariate-adjusted treatment effect (ANCOVA), optionally Lin's fully interacted version.

    Regresses ``outcome`` on ``treatment``, ``baseline_outcome`` and ``covariates`` with the
    randomisation ``strata`` absorbed as fixed effects. With ``interacted=True`` (Lin 2013) the
    covariates (baseline outcome included) are centred at their (weighted) means in the
    estimation sample and interacted with the treatment, so the treatment coefficient is the
    average effect.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit; not changed.
    outcome, treatment : str
        Outcome column and treatment column coded 0/1 (the main term).
    covariates : str or sequence of str, optional
        Baseline covariates.
    baseline_outcome : str, optional
        Baseline measure of the outcome, entered as the first covariate.
    strata : str or sequence of str, optional
        Randomisation strata, absorbed as fixed effects.
    interacted : bool, default False
        Lin (2013) fully interacted adjustment with centred covariates; interaction terms are
        named ``"<treatment>:<covariate>"``.
    weights, cluster, vcov
        As in :func:`regress`.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"y": [1.0, 2.0, 4.0, 6.0, 3.0, 5.5], "d": [0, 0, 1, 1, 0, 1],
    ...                       "y0": [1.0, 2.0, 2.0, 3.0, 2.5, 2.5]})
    >>> result = ancova(frame, "y", "d", baseline_outcome="y0")
    >>> result.estimator, result.terms
    ('ancova', ('d', 'y0', 'intercept'))
    """
    if not isinstance(interacted, bool):
        raise ConfigError(f"interacted must be True or False, found {interacted!r}")
    if baseline_outcome is not None and not isinstance(baseline_outcome, str):
        raise ConfigError(f"baseline_outcome must be one column name, found {baseline_outcome!r}")
    covariate_names = as_names("baseline_outcome", baseline_outcome) + as_names(
        "covariates", covariates
    )
    fixed = as_names("strata", strata)
    _check_keywords(fixed, weights, cluster)
    kind = resolve_vcov(vcov, cluster)
    _check_binary_treatment(data, treatment)
    if treatment in covariate_names or outcome in covariate_names:
        raise ConfigError("covariates must not include the outcome or the treatment")
    numeric = {outcome: "outcome", treatment: "treatment"}
    numeric.update(dict.fromkeys(covariate_names, "covariate"))
    sample = _sample(data, numeric=numeric, fixed_effects=fixed, weights=weights, cluster=cluster)
    treated = sample.numeric[treatment]
    if np.unique(treated).size < 2:
        raise EstimationError(
            f"treatment column {treatment!r} has no variation among the rows with complete data"
        )
    columns = [treated] + [sample.numeric[name] for name in covariate_names]
    terms: tuple[str, ...] = (treatment, *covariate_names)
    if interacted and covariate_names:
        centred = []
        for name in covariate_names:
            values = sample.numeric[name]
            centred.append(values - np.average(values, weights=sample.weights))
        columns = [treated, *centred, *[treated * values for values in centred]]
        terms = terms + tuple(f"{treatment}:{name}" for name in covariate_names)
    matrix, terms = with_intercept(np.column_stack(columns), terms, sample)
    fit = _fit_linear(
        sample.numeric[outcome],
        matrix,
        terms,
        sample,
        vcov=kind,
        cluster=cluster,
        fixed_effects=fixed,
    )
    return EstimationResult(
        outcome=outcome,
        estimator="ancova",
        terms=terms,
        coefficients=fit.coefficients,
        covariance=fit.covariance,
        n_obs=sample.n_obs,
        n_clusters=fit.n_clusters,
        inference=fit.label,
        df=fit.df,
        main_term=treatment,
        extras={
            **sample.extras(),
            "n_params": fit.n_params,
            "strata": fixed,
            "interacted": interacted,
        },
    )
