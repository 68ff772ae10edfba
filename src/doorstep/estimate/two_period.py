"""The 2x2 difference-in-differences design: regression DiD, its means table, Sant'Anna-Zhao.

This module owns :func:`did` (one treated arm, one comparison arm, a baseline and a follow-up
round), :func:`did_table` (the DIME ``ieddtab``-style table of means, first and second
differences) and the private two-period panel estimators of Sant'Anna and Zhao (2020) that
:func:`doorstep.estimate.staggered_did` reuses for every group-time cell: outcome regression
(``"reg"``), normalised (Hajek) inverse probability weighting (``"ipw"``), the traditional
locally efficient doubly robust estimator (``"dr_traditional"``, what R's ``did`` runs for
``est_method="dr"``) and the improved doubly robust estimator (``"dr"``, R ``DRDID::drdid``'s
default ``estMethod="imp"``). Their influence functions follow R's ``DRDID`` and ``moderndid``
line by line. The regression DiD reuses :func:`doorstep.estimate.regress` and its covariance
conventions. This module must not import ``doorstep.io``, ``doorstep.report``, ``doorstep.run``
or notebook code.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import special

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate._checks import (
    as_names,
    check_choice,
    check_columns,
    check_frame,
    factor_codes,
    numeric_column,
)
from doorstep.estimate.linear import INTERCEPT, regress
from doorstep.estimate.result import EstimationResult

__all__ = ["did", "did_table"]

DID_METHODS = ("ols", "reg", "ipw", "dr")
PANEL_METHODS = ("reg", "ipw", "dr", "dr_traditional")
PSCORE_CLIP = 1e-6
TRIM_LEVEL = 0.995
_NEWTON_TOLERANCE = 1e-11
_NEWTON_MAX_ITERATIONS = 200


# -- the two-period panel estimators (Sant'Anna and Zhao 2020) ------------------------------------
@dataclasses.dataclass(frozen=True)
class PanelATT:
    """ATT of a two-period panel and its influence function (DRDID scaling: se = ||IF||/n)."""

    estimate: float
    influence: np.ndarray


def _solve(matrix: np.ndarray, vector: np.ndarray, what: str) -> np.ndarray:
    try:
        condition = np.linalg.cond(matrix)
    except np.linalg.LinAlgError:
        condition = math.inf
    if not np.isfinite(condition) or condition > 1e14:
        raise EstimationError(
            f"the {what} is singular: the covariates are collinear or constant in the units "
            "compared; drop one of them"
        )
    return np.linalg.solve(matrix, vector)


def _logit(d: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted logit coefficients by Newton's method (R ``glm(binomial)`` with weights)."""
    gamma = np.zeros(x.shape[1])
    for _ in range(_NEWTON_MAX_ITERATIONS):
        p = special.expit(x @ gamma)
        hessian = x.T @ (x * (w * p * (1 - p))[:, None])
        step = _solve(hessian, x.T @ (w * (d - p)), "propensity-score (logit) information matrix")
        gamma = gamma + step
        if np.max(np.abs(step)) <= _NEWTON_TOLERANCE * (1 + np.max(np.abs(gamma))):
            return gamma
    raise EstimationError(
        "the propensity-score logit did not converge (perfect separation: some covariate "
        "predicts treatment exactly); drop or coarsen that covariate"
    )


def _ipt_pscore(d: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Inverse-probability-tilting propensity score for the ATT (Graham et al.; DRDID ``imp``).

    Minimises mean(w [(1-d) exp(x'g) - d x'g]) by damped Newton steps, starting from the logit;
    the solution reweights the comparison units to the treated units' covariate means.
    """
    gamma = _logit(d, x, w)
    n = d.size

    def loss(g: np.ndarray) -> float:
        index = np.clip(x @ g, -500, 500)
        return float(np.mean(w * ((1 - d) * np.exp(index) - d * index)))

    current = loss(gamma)
    for _ in range(_NEWTON_MAX_ITERATIONS):
        tilt = np.exp(np.clip(x @ gamma, -500, 500))
        gradient = x.T @ (w * ((1 - d) * tilt - d)) / n
        hessian = x.T @ (x * (w * (1 - d) * tilt)[:, None]) / n
        step = _solve(hessian, gradient, "propensity-score (tilting) information matrix")
        size = 1.0
        while size > 1e-10:
            candidate = gamma - size * step
            value = loss(candidate)
            if value <= current + 1e-15 * abs(current):
                break
            size /= 2
        gamma, current = candidate, value
        if np.max(np.abs(size * step)) <= _NEWTON_TOLERANCE * (1 + np.max(np.abs(gamma))):
            return special.expit(x @ gamma)
    raise EstimationError("the propensity score (inverse probability tilting) did not converge")


def _wls(y: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return _solve(x.T @ (x * w[:, None]), x.T @ (w * y), "outcome-regression design matrix")


def panel_att(
    delta_y: np.ndarray,
    d: np.ndarray,
    x: np.ndarray,
    weights: np.ndarray | None,
    method: str,
) -> PanelATT:
    """Sant'Anna-Zhao ATT for a balanced two-period panel and its influence function.

    Parameters
    ----------
    delta_y : numpy.ndarray
        Follow-up minus baseline outcome of every unit.
    d : numpy.ndarray
        1 for treated units, 0 for comparison units.
    x : numpy.ndarray
        n x k covariates including the intercept column.
    weights : numpy.ndarray or None
        Unit weights (normalised to mean 1 here, as DRDID does).
    method : {"reg", "ipw", "dr", "dr_traditional"}
        ``reg_did_panel``, ``std_ipw_did_panel``, ``drdid_imp_panel``, ``drdid_panel``.
    """
    n = d.size
    w = np.ones(n) if weights is None else weights / weights.mean()
    if method == "reg":
        control = d == 0
        beta = _wls(delta_y[control], x[control], w[control])
        fitted = x @ beta
        w_treat = w * d
        mean_treat = w_treat.mean()
        eta_treat = np.mean(w_treat * delta_y) / mean_treat
        eta_cont = np.mean(w_treat * fitted) / mean_treat
        w_ols = w * (1 - d)
        gram = x.T @ (x * w_ols[:, None]) / n
        representation = (x * (w_ols * (delta_y - fitted))[:, None]) @ np.linalg.inv(gram)
        inf_treat = (w_treat * delta_y - w_treat * eta_treat) / mean_treat
        estimation_effect = representation @ np.mean(w_treat[:, None] * x, 0)
        inf_cont = (w_treat * fitted - w_treat * eta_cont + estimation_effect) / mean_treat
        return PanelATT(float(eta_treat - eta_cont), inf_treat - inf_cont)

    if method == "dr":
        ps = np.clip(_ipt_pscore(d, x, w), PSCORE_CLIP, 1 - PSCORE_CLIP)
        trim = np.where(d == 0, ps < TRIM_LEVEL, True)
        control = d == 0
        odds = ps[control] / (1 - ps[control])
        beta = _wls(delta_y[control], x[control], w[control] * odds)
        fitted = x @ beta
        summand = trim * (1 - (1 - d) / (1 - ps)) * (delta_y - fitted)
        mean_d = np.mean(d * w)
        att = float(np.mean(w * summand) / mean_d)
        return PanelATT(att, w * trim * (summand - d * att) / mean_d)

    # ipw and dr_traditional share the logit propensity score and its estimation effect.
    ps = np.clip(special.expit(x @ _logit(d, x, w)), PSCORE_CLIP, 1 - PSCORE_CLIP)
    trim = np.where(d == 0, ps < TRIM_LEVEL, True)
    w_treat = trim * w * d
    w_cont = trim * w * ps * (1 - d) / (1 - ps)
    mean_treat, mean_cont = w_treat.mean(), w_cont.mean()
    if mean_treat == 0 or mean_cont == 0:
        raise EstimationError("no treated or no comparison units are left after trimming")
    information = x.T @ (x * (ps * (1 - ps) * w)[:, None])
    representation_ps = (x * (w * (d - ps))[:, None]) @ (np.linalg.inv(information) * n)
    if method == "ipw":
        eta_treat = w_treat * delta_y / mean_treat
        eta_cont = w_cont * delta_y / mean_cont
        att_treat, att_cont = eta_treat.mean(), eta_cont.mean()
        inf_treat = eta_treat - w_treat * att_treat / mean_treat
        inf_cont = eta_cont - w_cont * att_cont / mean_cont
        moment = np.mean((w_cont * (delta_y - att_cont))[:, None] * x, 0) / mean_cont
        influence = inf_treat - (inf_cont + representation_ps @ moment)
        return PanelATT(float(att_treat - att_cont), influence)

    control = d == 0
    beta = _wls(delta_y[control], x[control], w[control])
    fitted = x @ beta
    residual = delta_y - fitted
    dr_treat, dr_cont = w_treat * residual, w_cont * residual
    eta_treat, eta_cont = dr_treat.mean() / mean_treat, dr_cont.mean() / mean_cont
    w_ols = w * (1 - d)
    gram = x.T @ (x * w_ols[:, None]) / n
    representation_ols = (x * (w_ols * residual)[:, None]) @ np.linalg.inv(gram)
    inf_treat = (
        dr_treat - w_treat * eta_treat - representation_ols @ np.mean(w_treat[:, None] * x, 0)
    ) / mean_treat
    leading = dr_cont - w_cont * eta_cont
    inf_cont = (
        leading
        + representation_ps @ np.mean(leading[:, None] * x, 0)
        - representation_ols @ np.mean(w_cont[:, None] * x, 0)
    ) / mean_cont
    return PanelATT(float(eta_treat - eta_cont), inf_treat - inf_cont)


def max_propensity(d: np.ndarray, x: np.ndarray) -> float:
    """Largest unweighted logit propensity score (R ``did``'s overlap check, >= 0.999 fails)."""
    return float(special.expit(x @ _logit(d, x, np.ones(d.size))).max())


# -- the user-facing 2x2 estimators ---------------------------------------------------------------
def _check_names(**names: object) -> None:
    for role, value in names.items():
        if not isinstance(value, str):
            raise ConfigError(f"{role} must be one column name, found {value!r}")


def _binary(data: pd.DataFrame, column: str, role: str) -> np.ndarray:
    values = numeric_column(data, column, role)
    observed = np.unique(values[~np.isnan(values)])
    if not set(observed.tolist()) <= {0.0, 1.0}:
        raise EstimationError(
            f"column {column!r} ({role}) must be coded 0/1, found values {observed[:6].tolist()}"
        )
    if observed.size < 2:
        found = "no non-missing values" if observed.size == 0 else f"every row is {observed[0]:g}"
        raise EstimationError(f"column {column!r} ({role}) has no variation ({found})")
    return values


def _interaction_frame(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    post: str,
    extra: tuple[str, ...],
) -> tuple[pd.DataFrame, str]:
    """A new frame with the used columns and the treatment x post interaction."""
    name = f"{treatment}:{post}"
    if name in data.columns:
        raise ConfigError(f"the data already has a column named {name!r}; rename it")
    treated = _binary(data, treatment, "treatment")
    follow_up = _binary(data, post, "post")
    columns = dict.fromkeys((outcome, *extra))
    frame = pd.DataFrame({column: data[column].to_numpy() for column in columns})
    frame[treatment] = treated
    frame[post] = follow_up
    frame[name] = treated * follow_up
    return frame, name


def did_table(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    post: str,
    *,
    weights: str | None = None,
    cluster: str | tuple[str, str] | None = None,
    vcov: str | None = None,
) -> pd.DataFrame:
    """Means by arm and round, first differences and the second difference (DIME ``ieddtab``).

    The numbers come from one regression ``outcome ~ treatment + post + treatment:post`` (with
    ``weights``), so the standard errors use the covariance of :func:`doorstep.estimate.regress`
    (default ``"cluster"`` with ``cluster=``, else ``"hc1"``).

    Returns
    -------
    pandas.DataFrame
        Rows ``"control"``, ``"treatment"`` and ``"difference"`` (treatment minus control) with
        columns ``baseline_mean``, ``followup_mean``, ``difference`` (follow-up minus baseline:
        the first difference of each arm; in the last row the second difference, the DiD),
        ``std_error`` (of ``difference``), ``n_baseline``, ``n_followup``.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"y": [1.0, 2.0, 2.0, 3.0, 1.5, 2.5, 5.0, 6.0],
    ...                       "d": [0, 0, 1, 1] * 2, "post": [0] * 4 + [1] * 4})
    >>> did_table(frame, "y", "d", "post")["difference"].round(2).tolist()
    [0.5, 3.0, 2.5]
    """
    check_frame(data)
    _check_names(outcome=outcome, treatment=treatment, post=post)
    extra = as_names("weights", weights) + as_names("cluster", cluster)
    check_columns(
        data,
        {"outcome": (outcome,), "treatment": (treatment,), "post": (post,), "other": extra},
    )
    frame, name = _interaction_frame(data, outcome, treatment, post, extra)
    result = regress(
        frame, outcome, [name, treatment, post], weights=weights, cluster=cluster, vcov=vcov
    )
    return _table_from_regression(result, frame, outcome, treatment, post, name, weights)


def _table_from_regression(
    result: EstimationResult,
    frame: pd.DataFrame,
    outcome: str,
    treatment: str,
    post: str,
    name: str,
    weights: str | None,
) -> pd.DataFrame:
    terms = result.terms
    b = dict(zip(terms, result.coefficients, strict=True))
    index = {term: position for position, term in enumerate(terms)}

    def contrast(vector: dict[str, float]) -> tuple[float, float]:
        c = np.zeros(len(terms))
        for term, value in vector.items():
            c[index[term]] = value
        variance = float(c @ result.covariance @ c)
        # a two-way clustered covariance need not be positive semi-definite: NaN, not an error
        return float(c @ result.coefficients), math.sqrt(variance) if variance >= 0 else math.nan

    used = frame[[outcome, treatment, post]].notna().all(axis=1)
    if weights is not None:
        used &= frame[weights].notna() & (frame[weights] != 0)
    counts = frame.loc[used].groupby([treatment, post]).size()
    control_change = contrast({post: 1.0})
    treated_change = contrast({post: 1.0, name: 1.0})
    second = contrast({name: 1.0})
    base_c, base_t = b[INTERCEPT], b[INTERCEPT] + b[treatment]
    follow_c, follow_t = base_c + b[post], base_t + b[post] + b[name]
    return pd.DataFrame(
        {
            "row": ["control", "treatment", "difference"],
            "baseline_mean": [base_c, base_t, base_t - base_c],
            "followup_mean": [follow_c, follow_t, follow_t - follow_c],
            "difference": [control_change[0], treated_change[0], second[0]],
            "std_error": [control_change[1], treated_change[1], second[1]],
            "n_baseline": [
                int(counts.get((0.0, 0.0), 0)),
                int(counts.get((1.0, 0.0), 0)),
                int(counts.get((0.0, 0.0), 0) + counts.get((1.0, 0.0), 0)),
            ],
            "n_followup": [
                int(counts.get((0.0, 1.0), 0)),
                int(counts.get((1.0, 1.0), 0)),
                int(counts.get((0.0, 1.0), 0) + counts.get((1.0, 1.0), 0)),
            ],
        }
    )


def did(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    post: str,
    *,
    unit: str | None = None,
    covariates: str | Sequence[str] = (),
    method: Literal["ols", "reg", "ipw", "dr"] = "ols",
    weights: str | None = None,
    cluster: str | tuple[str, str] | None = None,
    vcov: str | None = None,
) -> EstimationResult:
    """Difference-in-differences with two arms and two rounds (baseline and follow-up).

    Parameters
    ----------
    data : pandas.DataFrame
        Long data, one row per unit and round; not changed.
    outcome : str
        Outcome column.
    treatment : str
        Arm indicator coded 0/1: 1 for units in the treated arm, in both rounds.
    post : str
        Round indicator coded 0/1: 0 at baseline, 1 at follow-up.
    unit : str, optional
        Unit identifier; required for ``"reg"``, ``"ipw"`` and ``"dr"`` (panel estimators),
        unused by ``"ols"`` (pass ``cluster=unit`` there to cluster by household).
    covariates : str or sequence of str, optional
        For ``"ols"`` added to the regression. For the panel estimators they enter the outcome
        regression and/or propensity score, measured at baseline (the ``post == 0`` row; R's
        ``did`` also takes the base period, ``moderndid.drdid`` the follow-up row, which is the
        same for time-invariant covariates).
    method : {"ols", "reg", "ipw", "dr"}, default "ols"
        ``"ols"``: the regression ``outcome ~ treatment + post + treatment:post (+ covariates)``;
        the main term is ``"<treatment>:<post>"`` and ``extras["table"]`` holds
        :func:`did_table` (computed without covariates). The others are Sant'Anna and Zhao (2020)
        for a balanced panel keyed by ``unit`` (units missing a round or a value are dropped and
        counted): ``"reg"`` outcome regression (DRDID ``reg_did_panel``), ``"ipw"`` normalised
        (Hajek) IPW with a logit score (``std_ipw_did_panel``), ``"dr"`` the improved doubly
        robust estimator with an inverse-probability-tilting score and propensity-weighted
        outcome regression (``drdid_imp_panel``, R ``drdid``'s default). Comparison units with a
        propensity score of 0.995 or more are trimmed, as in DRDID. Main term ``"ATT"``.
    weights : str, optional
        Sampling weights (constant within unit for the panel estimators).
    cluster : str or (str, str), optional
        Cluster column. For ``"ols"`` as in :func:`doorstep.estimate.regress` (CR1, t(G-1);
        a pair of columns for two-way clustering).
        For the panel estimators the influence functions are summed within clusters (constant
        within unit) without a small-sample factor, with normal inference; without it the
        standard error is DRDID's, ||IF - mean IF|| / n.
    vcov : str, optional
        Covariance type for ``"ols"`` (see ``doorstep.estimate.covariance``); default
        ``"cluster"`` with ``cluster=``, else ``"hc1"``. Must be None for the panel estimators.

    Returns
    -------
    EstimationResult
        ``estimator="did_ols"`` (or ``"did_reg"``, ``"did_ipw"``, ``"did_dr"``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> arm = np.repeat(rng.integers(0, 2, 200), 2)
    >>> frame = pd.DataFrame({"hh": np.repeat(np.arange(200), 2), "d": arm,
    ...                       "post": np.tile([0, 1], 200)})
    >>> frame["y"] = 1 + frame.post + 3 * frame.d * frame.post + rng.normal(0, 0.1, 400)
    >>> result = did(frame, "y", "d", "post", cluster="hh")
    >>> result.main_term, round(result.estimate)
    ('d:post', 3)
    >>> round(did(frame, "y", "d", "post", unit="hh", method="dr").estimate)
    3
    """
    check_frame(data)
    check_choice("method", method, DID_METHODS)
    _check_names(outcome=outcome, treatment=treatment, post=post)
    for role, value in (("unit", unit), ("weights", weights), ("cluster", cluster)):
        if role == "cluster" and method == "ols" and isinstance(value, tuple | list):
            continue  # two-way clustering, checked by regress
        if value is not None and not isinstance(value, str):
            expected = "one column name or None" + (
                " (two-way clustering applies to method='ols')" if role == "cluster" else "")
            raise ConfigError(f"{role} must be {expected}, found {value!r}")
    names = as_names("covariates", covariates)
    if {outcome, treatment, post} & set(names):
        raise ConfigError(f"covariates {list(names)} include the outcome, treatment or post column")
    check_columns(
        data,
        {
            "outcome": (outcome,),
            "treatment": (treatment,),
            "post": (post,),
            "unit": as_names("unit", unit),
            "covariates": names,
            "weights": as_names("weights", weights),
            "cluster": as_names("cluster", cluster),
        },
    )
    if method == "ols":
        extra = tuple(dict.fromkeys((*names, *as_names("w", weights), *as_names("c", cluster))))
        frame, name = _interaction_frame(data, outcome, treatment, post, extra)
        result = regress(
            frame,
            outcome,
            [name, treatment, post, *names],
            weights=weights,
            cluster=cluster,
            vcov=vcov,
        )
        plain = regress(
            frame, outcome, [name, treatment, post], weights=weights, cluster=cluster, vcov=vcov
        )
        table = _table_from_regression(plain, frame, outcome, treatment, post, name, weights)
        return dataclasses.replace(
            result, estimator="did_ols", extras={**result.extras, "table": table}
        )
    if unit is None:
        raise ConfigError(f"method={method!r} needs unit= (the column identifying each unit)")
    if vcov is not None:
        raise ConfigError(
            f"vcov={vcov!r} applies to method='ols' only; method={method!r} uses influence "
            "functions (clustered with cluster=)"
        )
    return _panel_did(data, outcome, treatment, post, unit, names, method, weights, cluster)


def _panel_did(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    post: str,
    unit: str,
    covariates: tuple[str, ...],
    method: str,
    weights: str | None,
    cluster: str | None,
) -> EstimationResult:
    follow_up = _binary(data, post, "post")
    arm = _binary(data, treatment, "treatment")
    columns = {
        "__y": numeric_column(data, outcome, "outcome"),
        "__d": arm,
        "__w": numeric_column(data, weights, "weights") if weights else np.ones(len(data)),
    }
    for position, column in enumerate(covariates):
        columns[f"__x{position}"] = numeric_column(data, column, "covariate")
    frame = pd.DataFrame(columns)
    frame["__unit"] = factor_codes(data, unit)
    frame["__cluster"] = factor_codes(data, cluster) if cluster else frame["__unit"]
    if (frame["__unit"] < 0).any() or np.isnan(follow_up).any():
        raise EstimationError(
            f"columns {unit!r} (unit) and {post!r} (post) must not have missing values"
        )
    before, after = frame[follow_up == 0], frame[follow_up == 1]
    for part, label in ((before, "baseline"), (after, "follow-up")):
        repeated = part["__unit"].duplicated()
        if repeated.any():
            raise EstimationError(
                f"unit {data[unit].to_numpy()[part.index[repeated][0]]!r} appears more than once "
                f"at {label} (column {unit!r}); the panel needs one row per unit and round"
            )
    wide = before.merge(after, on="__unit", how="outer", suffixes=("_0", "_1")).sort_values(
        "__unit"
    )
    for column, role in (("__d", treatment), ("__w", weights), ("__cluster", cluster)):
        if role is None:
            continue
        both = wide[[f"{column}_0", f"{column}_1"]].dropna()
        if (both.iloc[:, 0] != both.iloc[:, 1]).any():
            raise EstimationError(
                f"column {role!r} must be constant within each unit across the two rounds; "
                f"{int((both.iloc[:, 0] != both.iloc[:, 1]).sum())} units change"
            )
    needed = ["__y_0", "__y_1", "__d_0", "__w_0", "__cluster_0"]
    needed += [f"__x{position}_0" for position in range(len(covariates))]
    complete = wide[needed].notna().all(axis=1).to_numpy() & (wide["__cluster_0"] >= 0).to_numpy()
    if weights is not None and (wide["__w_0"] < 0).any():
        raise EstimationError(f"column {weights!r} (weights) holds negative values")
    kept = wide.loc[complete]
    n_dropped = int((~complete).sum())
    if kept.empty:
        raise EstimationError("no unit is observed in both rounds with all values present")
    d = kept["__d_0"].to_numpy()
    if d.min() == d.max():
        raise EstimationError(
            f"after keeping units observed in both rounds, column {treatment!r} (treatment) has "
            "no variation"
        )
    delta_y = kept["__y_1"].to_numpy() - kept["__y_0"].to_numpy()
    x = np.column_stack(
        [np.ones(len(kept))] + [kept[f"__x{p}_0"].to_numpy() for p in range(len(covariates))]
    )
    w = kept["__w_0"].to_numpy() if weights is not None else None
    fit = panel_att(delta_y, d, x, w, method)
    n_units = int(delta_y.size)
    centred = fit.influence - fit.influence.mean()
    codes = pd.factorize(kept["__cluster_0"].to_numpy())[0]
    n_clusters = int(codes.max()) + 1
    sums = np.bincount(codes, weights=centred, minlength=n_clusters)
    variance = float(sums @ sums) / n_units**2
    label = (
        f"influence function, clustered by {cluster}, normal"
        if cluster
        else "influence function, normal"
    )
    return EstimationResult(
        outcome=outcome,
        estimator=f"did_{method}",
        terms=("ATT",),
        coefficients=np.array([fit.estimate]),
        covariance=np.array([[variance]]),
        n_obs=n_units,
        n_clusters=n_clusters if cluster else None,
        inference=label,
        df=None,
        main_term="ATT",
        extras={
            "n_units": n_units,
            "n_units_dropped": n_dropped,
            "method": method,
            "covariates": covariates,
        },
    )
