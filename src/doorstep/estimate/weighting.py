"""Propensity-score weighting: inverse probability weighting and doubly robust AIPW.

This module owns :func:`ipw`, :func:`aipw` and :func:`overlap` (propensity summaries by arm and
the Crump et al. trimming rule), the logit propensity model they share (:func:`fit_logit`, a
Newton solver with sampling weights) and the stacked M-estimation sandwich that gives their
standard errors. Balance after weighting comes from
:func:`doorstep.estimate.balance.covariate_balance`'s conventions; results are
:class:`~doorstep.estimate.result.EstimationResult`. This module must not import
``doorstep.io``, ``doorstep.report``, ``doorstep.run`` or notebook code.

Inference. Every estimator here is the last parameter of a stacked system of estimating
equations: the logit score of the propensity model, the least squares normal equations of the
outcome models (AIPW) and the (weighted) means. Its variance is the sandwich
``J^-1 (sum_g psi_g psi_g') J^-T`` with the analytic Jacobian ``J``, so it accounts for the
estimated propensity score (and outcome models). Without ``cluster=`` the sums run over units
and no small-sample factor is applied (HC0, as Stata's ``teffects`` and R's ``DRDID``); with
``cluster=`` the moment contributions are summed within clusters and multiplied by G/(G-1).
p-values and intervals use the standard normal.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate._checks import as_names, check_choice
from doorstep.estimate.balance import CovariateBalance, balance_from_arrays
from doorstep.estimate.linear import (
    _check_binary_treatment,
    _check_keywords,
    _check_rank,
    _sample,
)
from doorstep.estimate.result import EstimationResult

__all__ = ["Overlap", "aipw", "fit_logit", "ipw", "overlap"]

ESTIMANDS = ("ATE", "ATT")
TRIM_RULES = ("crump",)
_NEWTON_TOLERANCE = 1e-10
_NEWTON_MAX_ITERATIONS = 100


# -- the propensity model -----------------------------------------------------------------------
def fit_logit(design: np.ndarray, treated: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted logit coefficients by Newton-Raphson (the maximum likelihood of ``glm``).

    Raises EstimationError when the fit does not converge or separates the arms perfectly.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.column_stack([np.ones(6), [0.0, 1, 2, 3, 4, 5]])
    >>> fit_logit(x, np.array([0.0, 0, 1, 0, 1, 1]), np.ones(6)).round(3)
    array([-3.035,  1.214])
    """
    coefficients = np.zeros(design.shape[1])
    for _ in range(_NEWTON_MAX_ITERATIONS):
        fitted = special.expit(design @ coefficients)
        gradient = design.T @ (weights * (treated - fitted))
        hessian = design.T @ (design * (weights * fitted * (1 - fitted))[:, None])
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError as error:
            if np.any(fitted < 1e-10) or np.any(fitted > 1 - 1e-10):
                raise EstimationError(
                    "the propensity model diverges: the covariates separate treated and "
                    "control units (no overlap); trim or coarsen the covariates"
                ) from error
            raise EstimationError(
                "the propensity model cannot be fitted (its information matrix is singular); "
                "drop collinear covariates"
            ) from error
        coefficients = coefficients + step
        if np.max(np.abs(step)) < _NEWTON_TOLERANCE * (1 + np.max(np.abs(coefficients))):
            break
    else:
        raise EstimationError(
            f"the propensity model did not converge in {_NEWTON_MAX_ITERATIONS} Newton steps; "
            "the covariates may separate the arms perfectly"
        )
    fitted = special.expit(design @ coefficients)
    if np.any(fitted < 1e-10) or np.any(fitted > 1 - 1e-10):
        raise EstimationError(
            "some propensity scores are 0 or 1 to machine precision: the covariates separate "
            "treated and control units (no overlap); trim or coarsen the covariates"
        )
    return coefficients


# -- overlap ------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Overlap:
    """Overlap of the estimated propensity scores between arms.

    Attributes
    ----------
    by_arm : pandas.DataFrame
        One row per arm (``arm`` 1 = treated, 0 = control): ``n``, ``min``, ``p05``, ``p25``,
        ``median``, ``mean``, ``p75``, ``p95``, ``max`` of the propensity score (unweighted).
    share_outside : float
        Share of units with a propensity score outside [0.1, 0.9].
    crump_bounds : tuple of float
        ``(alpha, 1 - alpha)`` of the Crump, Hotz, Imbens and Mitnik (2009) rule.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=300)
    >>> frame = pd.DataFrame({"x": x, "d": (rng.random(300) < 1 / (1 + np.exp(-x))).astype(int)})
    >>> result = overlap(frame, "d", ["x"])
    >>> list(result.by_arm["arm"]), 0 <= result.share_outside <= 1
    ([1, 0], True)
    """

    by_arm: pd.DataFrame
    share_outside: float
    crump_bounds: tuple[float, float]


def crump_alpha(propensity: np.ndarray, weights: np.ndarray | None = None) -> float:
    """The Crump et al. (2009) trimming threshold alpha for the scores ``propensity``.

    With ``g = 1 / (e (1 - e))``: alpha = 0 when ``max g <= 2 E[g]``; otherwise
    ``gamma = 2 E[g | g <= gamma]`` is solved on the sorted sample and
    ``alpha = 1/2 - sqrt(1/4 - 1/gamma)``.

    Examples
    --------
    >>> import numpy as np
    >>> crump_alpha(np.array([0.4, 0.5, 0.6]))
    0.0
    """
    weights = np.ones(propensity.size) if weights is None else weights
    g = 1.0 / (propensity * (1.0 - propensity))
    if g.max() <= 2.0 * float(np.average(g, weights=weights)):
        return 0.0
    order = np.argsort(g, kind="stable")
    sorted_g, sorted_w = g[order], weights[order]
    running = np.cumsum(sorted_g * sorted_w) / np.cumsum(sorted_w)
    beyond = np.nonzero(sorted_g > 2.0 * running)[0]
    last = beyond[0] - 1 if beyond.size else sorted_g.size - 1
    gamma = 2.0 * running[max(last, 0)]
    return float(0.5 - math.sqrt(max(0.25 - 1.0 / gamma, 0.0)))


def _overlap(propensity: np.ndarray, treated: np.ndarray, weights: np.ndarray) -> Overlap:
    rows = []
    for arm in (1, 0):
        values = propensity[treated == arm]
        quantiles = np.quantile(values, [0.05, 0.25, 0.5, 0.75, 0.95])
        rows.append(
            {
                "arm": arm,
                "n": int(values.size),
                "min": float(values.min()),
                "p05": float(quantiles[0]),
                "p25": float(quantiles[1]),
                "median": float(quantiles[2]),
                "mean": float(values.mean()),
                "p75": float(quantiles[3]),
                "p95": float(quantiles[4]),
                "max": float(values.max()),
            }
        )
    alpha = crump_alpha(propensity, weights)
    outside = float(np.mean((propensity < 0.1) | (propensity > 0.9)))
    return Overlap(pd.DataFrame(rows), outside, (alpha, 1.0 - alpha))


# -- shared preparation -------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class _Prepared:
    outcome: np.ndarray
    treated: np.ndarray
    design: np.ndarray
    covariates: dict[str, np.ndarray]
    weights: np.ndarray
    clusters: np.ndarray | None
    n_dropped_missing: int
    n_dropped_zero_weight: int
    dropped: tuple[str, ...] = ()


def _prepare(
    data: pd.DataFrame,
    outcome: str | None,
    treatment: str,
    covariates: str | Sequence[str],
    *,
    weights: str | None,
    cluster: str | None,
) -> _Prepared:
    if outcome is not None and not isinstance(outcome, str):
        raise ConfigError(f"outcome must be one column name, found {outcome!r}")
    if not isinstance(treatment, str):
        raise ConfigError(f"treatment must be one column name, found {treatment!r}")
    if cluster is not None and not isinstance(cluster, str):
        raise ConfigError(f"cluster must be one column name, found {cluster!r}")
    _check_keywords((), weights, cluster)
    names = as_names("covariates", covariates)
    used = ((outcome,) if outcome is not None else ()) + (treatment, *names)
    if len(set(used)) < len(used):
        raise ConfigError(f"outcome, treatment and covariates repeat a column: {list(used)}")
    _check_binary_treatment(data, treatment)
    numeric = {treatment: "treatment", **dict.fromkeys(names, "covariate")}
    if outcome is not None:
        numeric = {outcome: "outcome", **numeric}
    sample = _sample(data, numeric=numeric, fixed_effects=(), weights=weights, cluster=cluster)
    treated = sample.numeric[treatment]
    for arm, label in ((1.0, "treated"), (0.0, "control")):
        if not np.any(treated == arm):
            raise EstimationError(
                f"treatment column {treatment!r} has no {label} rows among the rows with "
                "complete data"
            )
    design = np.column_stack([np.ones(sample.n_obs)] + [sample.numeric[name] for name in names])
    _check_rank(design, ("intercept", *names), absorbed=False)
    return _Prepared(
        outcome=sample.numeric[outcome] if outcome is not None else np.zeros(sample.n_obs),
        treated=treated,
        design=design,
        covariates={name: sample.numeric[name] for name in names},
        weights=sample.weights,
        clusters=sample.clusters,
        n_dropped_missing=sample.n_dropped_missing,
        n_dropped_zero_weight=sample.n_dropped_zero_weight,
    )


def _subset(prepared: _Prepared, keep: np.ndarray) -> _Prepared:
    clusters = prepared.clusters
    if clusters is not None:
        clusters = np.unique(clusters[keep], return_inverse=True)[1].reshape(-1)
    return dataclasses.replace(
        prepared,
        outcome=prepared.outcome[keep],
        treated=prepared.treated[keep],
        design=prepared.design[keep],
        covariates={name: values[keep] for name, values in prepared.covariates.items()},
        weights=prepared.weights[keep],
        clusters=clusters,
    )


def _validate_trim(trim: object) -> str | tuple[float, float] | None:
    if trim is None:
        return None
    if isinstance(trim, str):
        return check_choice("trim", trim, TRIM_RULES)
    if (
        isinstance(trim, tuple | list)
        and len(trim) == 2
        and all(isinstance(bound, int | float) and not isinstance(bound, bool) for bound in trim)
        and 0 <= trim[0] < trim[1] <= 1
    ):
        return (float(trim[0]), float(trim[1]))
    raise ConfigError(
        f"trim={trim!r} is not allowed; choose None, 'crump' or a pair (low, high) with "
        "0 <= low < high <= 1"
    )


def _check_options(estimand: str, trim: object) -> str | tuple[float, float] | None:
    check_choice("estimand", estimand, ESTIMANDS)
    return _validate_trim(trim)


def _propensity_and_trim(
    prepared: _Prepared, trim: object
) -> tuple[_Prepared, np.ndarray, Overlap, tuple[float, float] | None, int]:
    """Fit the logit; summarise overlap; trim outside the bounds and refit on the rest."""
    gamma = fit_logit(prepared.design, prepared.treated, prepared.weights)
    propensity = special.expit(prepared.design @ gamma)
    summary = _overlap(propensity, prepared.treated, prepared.weights)
    if trim is None:
        return prepared, gamma, summary, None, 0
    if trim == "crump":
        alpha = crump_alpha(propensity, prepared.weights)
        low, high = alpha, 1.0 - alpha
    else:
        low, high = trim  # type: ignore[misc]
    keep = (propensity >= low) & (propensity <= high)
    n_trimmed = int((~keep).sum())
    if n_trimmed:
        prepared = _subset(prepared, keep)
        for arm, label in ((1.0, "treated"), (0.0, "control")):
            if not np.any(prepared.treated == arm):
                raise EstimationError(
                    f"trimming at ({low:.3f}, {high:.3f}) leaves no {label} units"
                )
        # A covariate can become constant in the trimmed sample (e.g. everyone kept is in one
        # category): it is left out of the models, as Stata omits it, and reported.
        names = list(prepared.covariates)
        constant = [
            position
            for position in range(1, prepared.design.shape[1])
            if np.ptp(prepared.design[:, position]) == 0
        ]
        if constant:
            keep_columns = [col for col in range(prepared.design.shape[1]) if col not in constant]
            prepared = dataclasses.replace(
                prepared,
                design=prepared.design[:, keep_columns],
                dropped=tuple(names[position - 1] for position in constant),
            )
        gamma = fit_logit(prepared.design, prepared.treated, prepared.weights)
    return prepared, gamma, summary, (low, high), n_trimmed


def _sandwich_variance(
    moments: np.ndarray, jacobian: np.ndarray, contrast: np.ndarray, clusters: np.ndarray | None
) -> tuple[float, np.ndarray]:
    """Variance of ``contrast @ theta`` from the stacked moments and their Jacobian."""
    try:
        direction = np.linalg.solve(jacobian.T, contrast)
    except np.linalg.LinAlgError as error:
        raise EstimationError(
            "the Jacobian of the estimating equations is singular; check the covariates"
        ) from error
    influence = -(moments @ direction)
    if clusters is None:
        return float(influence @ influence), influence
    n_clusters = int(clusters.max()) + 1
    if n_clusters < 2:
        raise EstimationError("cluster-robust inference needs at least 2 clusters")
    sums = np.bincount(clusters, weights=influence, minlength=n_clusters)
    return float(sums @ sums) * n_clusters / (n_clusters - 1), influence


def _result(
    *,
    estimator: str,
    outcome: str,
    estimand: str,
    estimate: float,
    variance: float,
    prepared: _Prepared,
    cluster: str | None,
    extras: dict[str, object],
) -> EstimationResult:
    n_clusters = int(prepared.clusters.max()) + 1 if prepared.clusters is not None else None
    label = (
        f"M-estimation sandwich clustered ({cluster}), normal"
        if cluster is not None
        else "M-estimation sandwich (HC0), normal"
    )
    return EstimationResult(
        outcome=outcome,
        estimator=estimator,
        terms=(estimand,),
        coefficients=np.array([estimate]),
        covariance=np.array([[variance]]),
        n_obs=int(prepared.treated.size),
        n_clusters=n_clusters,
        inference=label,
        df=None,
        main_term=estimand,
        extras=extras,
    )


def _ipw_weights(treated: np.ndarray, propensity: np.ndarray, estimand: str) -> np.ndarray:
    if estimand == "ATE":
        return np.where(treated == 1, 1.0 / propensity, 1.0 / (1.0 - propensity))
    return np.where(treated == 1, 1.0, propensity / (1.0 - propensity))


# -- estimators ---------------------------------------------------------------------------------
def ipw(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    covariates: str | Sequence[str],
    *,
    estimand: str = "ATE",
    trim: str | tuple[float, float] | None = None,
    weights: str | None = None,
    cluster: str | None = None,
) -> EstimationResult:
    """Inverse probability weighting with a logit propensity score and Hajek-normalised weights.

    The propensity score ``e(X)`` is the weighted logit of ``treatment`` on an intercept and
    ``covariates``. For the ATE the estimate is the difference of the weighted means of the
    outcome with weights ``1/e`` (treated) and ``1/(1-e)`` (controls), each normalised to sum to
    one within its arm (Hajek); for the ATT the treated get weight 1 and the controls the odds
    ``e/(1-e)``. Sampling ``weights`` multiply both the logit likelihood and the balancing
    weights. The standard error is the stacked M-estimation sandwich (logit score and the two
    weighted means), so it accounts for the estimated propensity score (module docstring).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit; not changed. Rows with a missing value in any used column are dropped.
    outcome, treatment : str
        Outcome column and treatment column coded 0/1.
    covariates : str or sequence of str
        Covariates of the propensity model (numeric; enter dummies for categories).
    estimand : {"ATE", "ATT"}, default "ATE"
    trim : None, "crump" or (low, high), optional
        Drop units whose propensity score lies outside ``[low, high]`` (``"crump"``: the
        Crump et al. 2009 rule, see :func:`crump_alpha`), then refit the propensity model on
        the rest and estimate there. The estimand becomes the effect in the trimmed population;
        the standard error treats the trimmed sample as given.
    weights : str, optional
        Sampling weights.
    cluster : str, optional
        Cluster column for cluster-robust standard errors.

    Returns
    -------
    EstimationResult
        One term, ``"ATE"`` or ``"ATT"``, with normal inference. ``extras`` holds
        ``overlap`` (:class:`Overlap`, before trimming), ``balance``
        (:class:`~doorstep.estimate.balance.CovariateBalance` after weighting),
        ``trim_bounds``, ``n_trimmed``, ``propensity_coefficients`` (intercept first),
        ``covariates_constant_after_trim`` (covariates left out of the models because trimming
        made them constant), ``n_dropped_missing`` and ``n_dropped_zero_weight``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=2000)
    >>> d = (rng.random(2000) < 1 / (1 + np.exp(-x))).astype(int)
    >>> frame = pd.DataFrame({"x": x, "d": d, "y": 2.0 * d + x + rng.normal(size=2000)})
    >>> result = ipw(frame, "y", "d", ["x"])
    >>> result.term("ATE").estimator, abs(result.estimate - 2.0) < 4 * result.std_error
    ('ipw', True)
    """
    trim = _check_options(estimand, trim)
    prepared = _prepare(data, outcome, treatment, covariates, weights=weights, cluster=cluster)
    prepared, gamma, summary, bounds, n_trimmed = _propensity_and_trim(prepared, trim)
    x, d, y, w = prepared.design, prepared.treated, prepared.outcome, prepared.weights
    k = x.shape[1]
    e = special.expit(x @ gamma)
    balancing = _ipw_weights(d, e, estimand)
    treated_w, control_w = w * balancing * d, w * balancing * (1 - d)
    mu1 = float(treated_w @ y / treated_w.sum())
    mu0 = float(control_w @ y / control_w.sum())
    moments = np.column_stack(
        [x * (w * (d - e))[:, None], treated_w * (y - mu1), control_w * (y - mu0)]
    )
    jacobian = np.zeros((k + 2, k + 2))
    jacobian[:k, :k] = -x.T @ (x * (w * e * (1 - e))[:, None])
    if estimand == "ATE":
        # d(1/e)/dgamma = -(1-e)/e x;  d(1/(1-e))/dgamma = e/(1-e) x
        jacobian[k, :k] = -(treated_w * (1 - e) * (y - mu1)) @ x
    jacobian[k + 1, :k] = (control_w * e * (y - mu0)) @ x if estimand == "ATE" else (
        (control_w * (y - mu0)) @ x
    )
    jacobian[k, k] = -treated_w.sum()
    jacobian[k + 1, k + 1] = -control_w.sum()
    contrast = np.zeros(k + 2)
    contrast[k], contrast[k + 1] = 1.0, -1.0
    variance, _ = _sandwich_variance(moments, jacobian, contrast, prepared.clusters)
    balance = balance_from_arrays(
        prepared.covariates, d, balancing, sampling_weights=w, estimand=estimand
    )
    return _result(
        estimator="ipw",
        outcome=outcome,
        estimand=estimand,
        estimate=mu1 - mu0,
        variance=variance,
        prepared=prepared,
        cluster=cluster,
        extras=_extras(prepared, summary, balance, bounds, n_trimmed, gamma),
    )


def _extras(
    prepared: _Prepared,
    summary: Overlap,
    balance: CovariateBalance,
    bounds: tuple[float, float] | None,
    n_trimmed: int,
    gamma: np.ndarray,
) -> dict[str, object]:
    return {
        "overlap": summary,
        "balance": balance,
        "trim_bounds": bounds,
        "n_trimmed": n_trimmed,
        "propensity_coefficients": tuple(float(value) for value in gamma),
        "covariates_constant_after_trim": prepared.dropped,
        "n_dropped_missing": prepared.n_dropped_missing,
        "n_dropped_zero_weight": prepared.n_dropped_zero_weight,
    }


def _least_squares(x: np.ndarray, y: np.ndarray, weights: np.ndarray, arm: str) -> np.ndarray:
    gram = x.T @ (x * weights[:, None])
    try:
        return np.linalg.solve(gram, x.T @ (weights * y))
    except np.linalg.LinAlgError as error:
        raise EstimationError(
            f"the outcome model of the {arm} arm cannot be fitted: the covariates are "
            "collinear within that arm"
        ) from error


def aipw(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    covariates: str | Sequence[str],
    *,
    estimand: str = "ATE",
    trim: str | tuple[float, float] | None = None,
    weights: str | None = None,
    cluster: str | None = None,
) -> EstimationResult:
    """Doubly robust augmented inverse probability weighting (AIPW) for the ATE or the ATT.

    The propensity score is the logit of :func:`ipw`; the outcome models are (weighted) least
    squares of ``outcome`` on an intercept and ``covariates`` within each arm. For the ATE the
    estimate is ``mean(m1(X)) + sum(w1 (Y - m1)) / sum(w1) - mean(m0(X)) - sum(w0 (Y - m0)) /
    sum(w0)`` with ``w1 = D/e`` and ``w0 = (1-D)/(1-e)`` (normalised residual weights). For the
    ATT it is ``mean_treated(Y - m0) - sum(w0 (Y - m0)) / sum(w0)`` with ``w0 = (1-D) e/(1-e)``,
    the doubly robust ATT of Sant'Anna and Zhao (2020, the panel estimator with the outcome
    change replaced by the outcome; R ``DRDID::drdid_panel``). Consistent if either model is
    right. The standard error is the stacked M-estimation sandwich over the logit, the outcome
    regressions and the means, i.e. the influence function with the estimation effects of both
    nuisance models (valid when only one of them is correct).

    Parameters
    ----------
    data, outcome, treatment, covariates, estimand, trim, weights, cluster
        As in :func:`ipw`.

    Returns
    -------
    EstimationResult
        As :func:`ipw`, ``estimator="aipw"``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=2000)
    >>> d = (rng.random(2000) < 1 / (1 + np.exp(-x))).astype(int)
    >>> frame = pd.DataFrame({"x": x, "d": d, "y": 1.0 * d + 2 * x + rng.normal(size=2000)})
    >>> result = aipw(frame, "y", "d", "x", estimand="ATT")
    >>> result.terms, abs(result.estimate - 1.0) < 4 * result.std_error
    (('ATT',), True)
    """
    trim = _check_options(estimand, trim)
    prepared = _prepare(data, outcome, treatment, covariates, weights=weights, cluster=cluster)
    prepared, gamma, summary, bounds, n_trimmed = _propensity_and_trim(prepared, trim)
    x, d, y, w = prepared.design, prepared.treated, prepared.outcome, prepared.weights
    n, k = x.shape
    e = special.expit(x @ gamma)
    logit_hessian = -x.T @ (x * (w * e * (1 - e))[:, None])
    beta0 = _least_squares(x, y, w * (1 - d), "control")
    fitted0 = x @ beta0
    balancing = _ipw_weights(d, e, estimand)
    if estimand == "ATT":
        # theta = (gamma, beta0, t1, t0); ATT = t1 - t0.
        resid0 = y - fitted0
        treated_w, control_w = w * d, w * (1 - d) * balancing
        t1 = float(treated_w @ resid0 / treated_w.sum())
        t0 = float(control_w @ resid0 / control_w.sum())
        moments = np.column_stack(
            [
                x * (w * (d - e))[:, None],
                x * (w * (1 - d) * resid0)[:, None],
                treated_w * (resid0 - t1),
                control_w * (resid0 - t0),
            ]
        )
        size = 2 * k + 2
        jacobian = np.zeros((size, size))
        jacobian[:k, :k] = logit_hessian
        jacobian[k : 2 * k, k : 2 * k] = -x.T @ (x * (w * (1 - d))[:, None])
        jacobian[2 * k, k : 2 * k] = -(treated_w @ x)
        jacobian[2 * k, 2 * k] = -treated_w.sum()
        jacobian[2 * k + 1, :k] = (control_w * (resid0 - t0)) @ x
        jacobian[2 * k + 1, k : 2 * k] = -(control_w @ x)
        jacobian[2 * k + 1, 2 * k + 1] = -control_w.sum()
        contrast = np.zeros(size)
        contrast[2 * k], contrast[2 * k + 1] = 1.0, -1.0
        estimate = t1 - t0
    else:
        # theta = (gamma, beta1, beta0, a1, r1, a0, r0); ATE = a1 + r1 - a0 - r0.
        beta1 = _least_squares(x, y, w * d, "treated")
        fitted1 = x @ beta1
        resid1, resid0 = y - fitted1, y - fitted0
        treated_w, control_w = w * d * balancing, w * (1 - d) * balancing
        total = w.sum()
        a1, a0 = float(w @ fitted1 / total), float(w @ fitted0 / total)
        r1 = float(treated_w @ resid1 / treated_w.sum())
        r0 = float(control_w @ resid0 / control_w.sum())
        moments = np.column_stack(
            [
                x * (w * (d - e))[:, None],
                x * (w * d * resid1)[:, None],
                x * (w * (1 - d) * resid0)[:, None],
                w * (fitted1 - a1),
                treated_w * (resid1 - r1),
                w * (fitted0 - a0),
                control_w * (resid0 - r0),
            ]
        )
        b1, b0, i_a1 = slice(k, 2 * k), slice(2 * k, 3 * k), 3 * k
        i_r1, i_a0, i_r0 = i_a1 + 1, i_a1 + 2, i_a1 + 3
        size = 3 * k + 4
        jacobian = np.zeros((size, size))
        jacobian[:k, :k] = logit_hessian
        jacobian[b1, b1] = -x.T @ (x * (w * d)[:, None])
        jacobian[b0, b0] = -x.T @ (x * (w * (1 - d))[:, None])
        jacobian[i_a1, b1] = w @ x
        jacobian[i_a1, i_a1] = -total
        jacobian[i_r1, :k] = -(treated_w * (1 - e) * (resid1 - r1)) @ x
        jacobian[i_r1, b1] = -(treated_w @ x)
        jacobian[i_r1, i_r1] = -treated_w.sum()
        jacobian[i_a0, b0] = w @ x
        jacobian[i_a0, i_a0] = -total
        jacobian[i_r0, :k] = (control_w * e * (resid0 - r0)) @ x
        jacobian[i_r0, b0] = -(control_w @ x)
        jacobian[i_r0, i_r0] = -control_w.sum()
        contrast = np.zeros(size)
        contrast[[i_a1, i_r1, i_a0, i_r0]] = [1.0, 1.0, -1.0, -1.0]
        estimate = a1 + r1 - a0 - r0
    del n
    variance, _ = _sandwich_variance(moments, jacobian, contrast, prepared.clusters)
    balance = balance_from_arrays(
        prepared.covariates, d, balancing, sampling_weights=w, estimand=estimand
    )
    return _result(
        estimator="aipw",
        outcome=outcome,
        estimand=estimand,
        estimate=estimate,
        variance=variance,
        prepared=prepared,
        cluster=cluster,
        extras=_extras(prepared, summary, balance, bounds, n_trimmed, gamma),
    )


def overlap(
    data: pd.DataFrame,
    treatment: str,
    covariates: str | Sequence[str],
    *,
    weights: str | None = None,
) -> Overlap:
    """Propensity score overlap: summaries by arm, share outside [0.1, 0.9], Crump bounds.

    The propensity score is the logit of :func:`ipw` (sampling ``weights`` in the likelihood
    and in the Crump rule; the summaries are unweighted).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(2)
    >>> x = rng.normal(size=500)
    >>> frame = pd.DataFrame({"x": x, "d": (rng.random(500) < 1 / (1 + np.exp(-2 * x))) * 1})
    >>> low, high = overlap(frame, "d", "x").crump_bounds
    >>> 0 <= low < 0.5 < high <= 1
    True
    """
    prepared = _prepare(data, None, treatment, covariates, weights=weights, cluster=None)
    gamma = fit_logit(prepared.design, prepared.treated, prepared.weights)
    propensity = special.expit(prepared.design @ gamma)
    return _overlap(propensity, prepared.treated, prepared.weights)
