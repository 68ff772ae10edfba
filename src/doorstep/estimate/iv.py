"""Instrumental variables: two-stage least squares with first-stage and weak-IV diagnostics.

This module owns :func:`iv` (2SLS for one endogenous treatment, just- or over-identified), its
first-stage F statistic and the Anderson-Rubin interval, with every covariance type of
``doorstep.estimate.covariance`` (HC2/HC3 as R ivreg's ``vcovHC`` and CR2 as R
clubSandwich's ``vcovCR`` for ``ivreg``; two-way clustering as reghdfe and fixest). It reuses
the sample preparation, fixed-effect absorption and leverages of ``doorstep.estimate.linear``
and the sandwich of ``doorstep.estimate.covariance``. It must not import ``doorstep.io``,
``doorstep.report``, ``doorstep.run`` or notebook code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from doorstep.errors import ConfigError
from doorstep.estimate import _within
from doorstep.estimate._checks import as_names
from doorstep.estimate.covariance import cluster_names, resolve_vcov, sandwich
from doorstep.estimate.linear import (
    INTERCEPT,
    _absorbed_count,
    _check_keywords,
    _check_rank,
    _sample,
    fixed_effect_projection,
    hat_diagonal,
)
from doorstep.estimate.result import EstimationResult, wald_test

__all__ = ["iv"]


def _anderson_rubin(
    reduced_form: float,
    first_stage: float,
    variances: tuple[float, float, float],
    critical: float,
) -> tuple[tuple[float, float], ...]:
    """Solve (a - b0 b)^2 <= c (Vyy - 2 b0 Vyd + b0^2 Vdd) for b0; return the set as intervals."""
    v_yy, v_yd, v_dd = variances
    c = critical**2
    quad = first_stage**2 - c * v_dd
    lin = -2.0 * (reduced_form * first_stage - c * v_yd)
    const = reduced_form**2 - c * v_yy
    disc = lin**2 - 4.0 * quad * const
    if quad > 0:
        if disc < 0:  # cannot happen for a valid covariance; the set would be empty
            return ()
        root = math.sqrt(disc)
        return (((-lin - root) / (2 * quad), (-lin + root) / (2 * quad)),)
    if disc <= 0 or quad == 0:
        return ((-math.inf, math.inf),)
    root = math.sqrt(disc)
    low, high = sorted(((-lin - root) / (2 * quad), (-lin + root) / (2 * quad)))
    return ((-math.inf, low), (high, math.inf))


def iv(
    data: pd.DataFrame,
    outcome: str,
    endogenous: str,
    instrument: str | Sequence[str],
    *,
    covariates: str | Sequence[str] = (),
    strata: str | Sequence[str] | None = None,
    weights: str | None = None,
    cluster: str | tuple[str, str] | None = None,
    vcov: str | None = None,
) -> EstimationResult:
    """Two-stage least squares of ``outcome`` on ``endogenous`` instrumented by ``instrument``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit; not changed.
    outcome : str
        Outcome column.
    endogenous : str
        The endogenous treatment (e.g. take-up); the main term.
    instrument : str or sequence of str
        Excluded instruments (e.g. random assignment). One gives a just-identified model.
    covariates : str or sequence of str, optional
        Exogenous covariates, in both stages.
    strata : str or sequence of str, optional
        Randomisation strata, absorbed as fixed effects in both stages (degrees of freedom as in
        :func:`doorstep.estimate.regress`).
    weights : str, optional
        As in :func:`doorstep.estimate.regress`.
    cluster : str or (str, str), optional
        Cluster column, or a pair for two-way clustering (Cameron-Gelbach-Miller with one
        factor ``G/(G-1) (N-1)/(N-K)``, G = min(G_a, G_b), and t(min(G)-1): the convention of
        reghdfe and of fixest/pyfixest; linearmodels' ``debiased=True`` instead scales each of
        the three meats by its own G/(G-1), and its t uses N-K).
    vcov : {"iid", "hc1", "hc2", "hc3", "cluster", "cr2"}, optional
        Default ``"cluster"`` with ``cluster=``, else ``"hc1"``. The small-sample factors are
        Stata's ``ivregress 2sls, small`` (equal to linearmodels' ``debiased=True``); p-values
        and intervals use t(N-K), or t(G-1) when clustered (linearmodels uses t(N-K) there).
        ``"cr2"`` (one cluster column) is R clubSandwich's
        ``vcovCR(ivreg_fit, type = "CR2")``: the scores are the projected regressors
        X^ = P_Z X (first-stage fitted values and the exogenous covariates) times the
        structural residuals y - X b, and the adjustment matrices are ``(I - H_gg)^(-1/2)``
        with H the hat matrix of the projected regressors, ``X^ (X^'X^)^-1 X^'``
        (clubSandwich's ``projection_matrix.ivreg`` with the identity working model), with no
        further factor and t(G-1). Absorbed strata enter X^ as their dummies would. With
        weights the hat matrix is taken in the weighted space (rows scaled by sqrt(w)), as
        :func:`doorstep.estimate.regress` does for CR2; clubSandwich's default for a weighted
        fit (identity working model with W = diag(w)) adjusts differently, so the two agree
        without weights only. ``"hc2"`` and ``"hc3"`` are ``vcovHC(ivreg_fit, type =
        "HC2"|"HC3")`` of R's ivreg package: the same scores, each squared residual divided
        by (1 - h_ii) or its square, h_ii the leverage of the projected regressors (ivreg's
        ``hatvalues(type = "stage2")``, plus the strata's dummies'); t(N-K).
        Old versions of AER's ``ivreg`` took h_ii = x_i' (X^'X^)^-1 x^_i instead, which
        differs. The first stage and the Anderson-Rubin set use the first stage's leverages.

    Returns
    -------
    EstimationResult
        ``estimator="iv_2sls"``. ``extras`` holds ``first_stage_coefficient`` (a float, or a
        tuple for several instruments), ``first_stage_std_error``, ``first_stage_f`` and
        ``first_stage_f_p_value`` (Wald F of the excluded instruments with the same covariance
        type, F(q, df)), ``n_instruments``, and for one instrument the Anderson-Rubin 95% set,
        obtained analytically by inverting the AR test (the reduced-form coefficient of
        ``outcome - b0 * endogenous`` on the instrument, with the same covariance type and the
        t(df) critical value): ``anderson_rubin_conf_int`` (low, high; infinite when the set is
        unbounded) and ``anderson_rubin_set`` (a tuple of intervals: one bounded interval, the
        whole line, or two rays).

        The first-stage F and the Anderson-Rubin set use the covariance chosen by ``vcov`` and
        ``cluster`` for the first-stage and reduced-form regressions, CR2 and two-way clustering
        included: under two-way clustering the F is the Wald statistic of the two-way covariance
        divided by q, on F(q, min(G)-1), and the AR set inverts the two-way t test of the
        reduced-form coefficient with the t(min(G)-1) critical value. The two-way matrix is not
        forced to be positive semi-definite; when its block for the excluded instruments (or
        the 2 x 2 covariance of the reduced-form and first-stage coefficients) is not positive
        definite, the F (or the AR set) is not computed: NaN (or an empty set) with the reason
        in ``extras["weak_iv_note"]``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> z = rng.integers(0, 2, 400)
    >>> d = (rng.random(400) < 0.2 + 0.6 * z).astype(float)
    >>> frame = pd.DataFrame({"z": z, "d": d, "y": 1.5 * d + rng.normal(size=400)})
    >>> result = iv(frame, "y", "d", "z")
    >>> result.estimator, abs(result.estimate - 1.5) < 4 * result.std_error
    ('iv_2sls', True)
    >>> frame["village"], frame["enumerator"] = np.arange(400) // 10, np.arange(400) % 7
    >>> iv(frame, "y", "d", "z", cluster="village", vcov="cr2").inference
    'cluster CR2 (village), t(G-1)'
    >>> iv(frame, "y", "d", "z", cluster=("village", "enumerator")).df
    6
    """
    fixed = as_names("strata", strata)
    _check_keywords(fixed, weights, cluster)
    kind = resolve_vcov(vcov, cluster)
    cluster_label = ", ".join(cluster_names(cluster)) or None
    for name, value in (("outcome", outcome), ("endogenous", endogenous)):
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be one column name, found {value!r}")
    instruments = as_names("instrument", instrument)
    exogenous = as_names("covariates", covariates)
    if not instruments:
        raise ConfigError("instrument must name at least one column")
    used = (outcome, endogenous, *instruments, *exogenous)
    if len(set(used)) < len(used):
        raise ConfigError(f"outcome, endogenous, instrument and covariates repeat a column: {used}")
    numeric = {outcome: "outcome", endogenous: "endogenous"}
    numeric.update(dict.fromkeys(instruments, "instrument"))
    numeric.update(dict.fromkeys(exogenous, "covariate"))
    sample = _sample(data, numeric=numeric, fixed_effects=fixed, weights=weights, cluster=cluster)

    columns = np.column_stack([sample.numeric[name] for name in used])
    original = columns * np.sqrt(sample.weights)[:, None]
    if not fixed:
        columns = np.column_stack([columns, np.ones(sample.n_obs)])
        exogenous_terms = (*exogenous, INTERCEPT)
        n_absorbed = 0
    else:
        columns = _within.demean(columns, sample.factors, sample.weights, names=fixed)
        exogenous_terms = exogenous
        n_absorbed = _absorbed_count(sample, kind)
    columns = columns * np.sqrt(sample.weights)[:, None]
    y = columns[:, 0]
    n_inst = len(instruments)
    d = columns[:, 1]
    z_excluded = columns[:, 2 : 2 + n_inst]
    w_exog = columns[:, 2 + n_inst :]
    x = np.column_stack([d, w_exog])
    z = np.column_stack([z_excluded, w_exog])
    terms = (endogenous, *exogenous_terms)
    if not fixed:
        original = np.column_stack([original, np.sqrt(sample.weights)])
    z_original = np.column_stack([original[:, 2 : 2 + n_inst], original[:, 2 + n_inst :]])
    x_original = np.column_stack([original[:, 1], original[:, 2 + n_inst :]])
    _check_rank(z, (*instruments, *exogenous_terms), absorbed=bool(fixed), original=z_original)
    _check_rank(x, terms, absorbed=bool(fixed), original=x_original)

    projection = fixed_effect_projection(sample.factors, sample.weights, kind, fixed)
    covariance_options = {
        "kind": kind,
        "clusters": sample.clusters,
        "cluster_name": cluster_label,
        "second_clusters": sample.second_clusters,
        "absorbed": projection if kind == "cr2" else None,
    }

    # First stage: endogenous on all instruments.
    z_bread = np.linalg.inv(z.T @ z)
    first_coefficients = z_bread @ (z.T @ d)
    first_residuals = d - z @ first_coefficients
    n_params_first = z.shape[1] + n_absorbed
    first_leverage = hat_diagonal(z, z_bread, projection, kind)
    first_cov = sandwich(z, first_residuals, z_bread, n_params=n_params_first,
                         leverage=first_leverage, **covariance_options)
    excluded = slice(0, n_inst)
    first_block = first_cov.covariance[excluded, excluded]
    notes: list[str] = []
    if np.linalg.eigvalsh(first_block).min() > 0:
        first_test = wald_test(
            first_coefficients[excluded], first_block, df_denom=first_cov.df, terms=instruments
        )
        first_f, first_f_p = first_test.statistic, first_test.p_value
    else:
        first_f = first_f_p = math.nan
        notes.append(
            "first-stage F not computed: the covariance of the excluded instruments' "
            f"coefficients ({first_cov.label}) is not positive definite"
        )

    # Second stage.
    x_hat = np.column_stack([z @ first_coefficients, w_exog])
    bread = np.linalg.inv(x_hat.T @ x_hat)
    coefficients = bread @ (x_hat.T @ y)
    residuals = y - x @ coefficients
    n_params = x.shape[1] + n_absorbed
    covariance = sandwich(x_hat, residuals, bread, n_params=n_params,
                          leverage=hat_diagonal(x_hat, bread, projection, kind),
                          **covariance_options)

    first_variance = np.diag(first_cov.covariance)[excluded]
    first_se = np.sqrt(np.where(first_variance >= 0, first_variance, np.nan))
    extras: dict[str, object] = {
        **sample.extras(),
        "n_params": n_params,
        "n_instruments": n_inst,
        "first_stage_coefficient": (
            float(first_coefficients[0]) if n_inst == 1 else tuple(first_coefficients[excluded])
        ),
        "first_stage_std_error": float(first_se[0]) if n_inst == 1 else tuple(first_se),
        "first_stage_f": first_f,
        "first_stage_f_p_value": first_f_p,
        "strata": fixed,
    }
    if n_inst == 1:
        reduced_coefficients = z_bread @ (z.T @ y)
        reduced_residuals = y - z @ reduced_coefficients

        def variance(resid: np.ndarray) -> float:
            fit = sandwich(z, resid, z_bread, n_params=n_params_first,
                           leverage=first_leverage, **covariance_options)
            return float(fit.covariance[0, 0])

        v_yy = variance(reduced_residuals)
        v_dd = variance(first_residuals)
        v_yd = (variance(reduced_residuals + first_residuals) - v_yy - v_dd) / 2.0
        critical = float(stats.t.ppf(0.975, first_cov.df))
        if v_yy > 0 and v_dd > 0 and v_yy * v_dd - v_yd**2 > 0:
            ar_set = _anderson_rubin(
                float(reduced_coefficients[0]),
                float(first_coefficients[0]),
                (v_yy, v_yd, v_dd),
                critical,
            )
        else:
            ar_set = ()
            notes.append(
                "Anderson-Rubin set not computed: the covariance of the reduced-form and "
                f"first-stage coefficients ({first_cov.label}) is not positive definite"
            )
        extras["anderson_rubin_set"] = ar_set
        extras["anderson_rubin_conf_int"] = (
            (ar_set[0][0], ar_set[-1][1]) if ar_set else (math.nan, math.nan)
        )
        if len(ar_set) == 2:
            extras["anderson_rubin_conf_int"] = (-math.inf, math.inf)
    if notes:
        extras["weak_iv_note"] = "; ".join(notes)
    return EstimationResult(
        outcome=outcome,
        estimator="iv_2sls",
        terms=terms,
        coefficients=coefficients,
        covariance=covariance.covariance,
        n_obs=sample.n_obs,
        n_clusters=covariance.n_clusters,
        inference=covariance.label,
        df=covariance.df,
        main_term=endogenous,
        extras=extras,
    )
