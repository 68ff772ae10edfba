"""Heterogeneous treatment effects: effects by subgroup from one interacted regression.

This module owns :func:`heterogeneity`: the effect of a binary treatment in each subgroup of a
categorical moderator, with the joint Wald test that the effects are equal, or the linear
interaction with a continuous moderator. It reuses the sample preparation, fixed-effect
absorption and covariance of ``doorstep.estimate.linear`` (every ``vcov`` of
:func:`doorstep.estimate.regress`, including ``"cr2"`` and two-way clustering). This module must
not import ``doorstep.io``, ``doorstep.report``, ``doorstep.run`` or notebook code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate import _within
from doorstep.estimate._checks import as_names, check_choice, check_columns, check_frame
from doorstep.estimate.covariance import cluster_names, resolve_vcov
from doorstep.estimate.linear import (
    _check_binary_treatment,
    _check_keywords,
    _fit_linear,
    _sample,
    with_intercept,
)
from doorstep.estimate.result import EstimationResult, wald_test

__all__ = ["heterogeneity"]

MODERATORS = ("categorical", "continuous")
_BY_CODE = "__doorstep_by_code"


def heterogeneity(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    by: str,
    *,
    covariates: str | Sequence[str] = (),
    strata: str | Sequence[str] | None = None,
    cluster: str | tuple[str, str] | None = None,
    vcov: str | None = None,
    weights: str | None = None,
    moderator: str = "categorical",
) -> EstimationResult:
    """Treatment effect by subgroup of ``by`` and the joint test that they are equal.

    With ``moderator="categorical"`` the model is
    ``outcome ~ sum_g effect_g * treatment * 1{by = g} + sum_{g > first} 1{by = g} + covariates``
    (+ intercept, or the ``strata`` absorbed; the subgroup main effects are left out when ``by``
    is nested in the strata). ``effect_g`` is the effect in subgroup g (levels in sorted order),
    term ``"<treatment>:<by>=<level>"``. ``extras["equality_test"]`` is the Wald test that all
    effects are equal (G - 1 restrictions; F with the residual or cluster degrees of freedom).

    With ``moderator="continuous"`` the model is ``outcome ~ treatment + m + treatment:m +
    covariates`` with ``m = by - mean(by)`` (weighted mean in the estimation sample), so the
    ``treatment`` term is the effect at the mean of the moderator and ``"<treatment>:<by>"`` the
    change of the effect per unit of ``by``; ``extras["equality_test"]`` tests that slope.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit; not changed. Rows with a missing value in a used column are dropped.
    outcome, treatment : str
        Outcome and treatment (coded 0/1).
    by : str
        The moderator: any dtype when categorical, numeric when continuous.
    covariates : str or sequence of str, optional
        Baseline covariates (not interacted).
    strata : str or sequence of str, optional
        Randomisation strata, absorbed as fixed effects.
    cluster, vcov, weights
        As in :func:`doorstep.estimate.regress`.
    moderator : {"categorical", "continuous"}, default "categorical"

    Returns
    -------
    EstimationResult
        ``estimator="heterogeneity"``; the main term is the first subgroup's effect (or the
        effect at the mean moderator). ``extras`` holds ``equality_test``
        (:class:`~doorstep.estimate.result.WaldTest`), ``effect_terms``, ``levels`` and
        ``n_by_level`` (categorical).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> group = rng.choice(["north", "south"], 800)
    >>> d = rng.integers(0, 2, 800)
    >>> y = d * np.where(group == "north", 1.0, 3.0) + rng.normal(size=800)
    >>> result = heterogeneity(pd.DataFrame({"y": y, "d": d, "g": group}), "y", "d", "g")
    >>> result.extras["effect_terms"]
    ('d:g=north', 'd:g=south')
    >>> result.extras["equality_test"].p_value < 0.001
    True
    """
    check_frame(data)
    check_choice("moderator", moderator, MODERATORS)
    for name, value in (("outcome", outcome), ("treatment", treatment), ("by", by)):
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be one column name, found {value!r}")
    fixed = as_names("strata", strata)
    _check_keywords(fixed, weights, cluster)
    kind = resolve_vcov(vcov, cluster)
    names = as_names("covariates", covariates)
    used = (outcome, treatment, by, *names)
    if len(set(used)) < len(used):
        raise ConfigError(f"outcome, treatment, by and covariates repeat a column: {list(used)}")
    check_columns(
        data,
        {
            "outcome": (outcome,),
            "treatment": (treatment,),
            "by": (by,),
            "covariates": names,
            "strata": fixed,
            "cluster": cluster_names(cluster),
            "weights": as_names("weights", weights),
        },
    )
    _check_binary_treatment(data, treatment)
    columns = [outcome, treatment, *names, *fixed, *cluster_names(cluster)]
    columns += [weights] if weights is not None else []
    if moderator == "continuous":
        columns.append(by)
    work = data[list(dict.fromkeys(columns))].copy()
    levels: list[object] = []
    if moderator == "categorical":
        codes, uniques = pd.factorize(data[by], sort=True, use_na_sentinel=True)
        work[_BY_CODE] = np.where(codes >= 0, codes, np.nan)
        levels = list(uniques)
        if len(levels) < 2:
            raise EstimationError(
                f"column {by!r} (by) has {len(levels)} non-missing level(s); subgroup effects "
                "need at least two"
            )
        moderator_column = _BY_CODE
    else:
        moderator_column = by
    numeric = {outcome: "outcome", treatment: "treatment", moderator_column: "by"}
    numeric.update(dict.fromkeys(names, "covariate"))
    sample = _sample(work, numeric=numeric, fixed_effects=fixed, weights=weights, cluster=cluster)
    treated = sample.numeric[treatment]
    covariate_columns = [sample.numeric[name] for name in names]

    if moderator == "categorical":
        group = sample.numeric[_BY_CODE].astype(np.int64)
        present = np.unique(group)
        if present.size < 2:
            raise EstimationError(
                f"column {by!r} (by) has one level among the rows with complete data"
            )
        effect_terms = tuple(f"{treatment}:{by}={levels[code]}" for code in present)
        effects = [treated * (group == code) for code in present]
        for term, code in zip(effect_terms, present, strict=True):
            in_group = group == code
            if np.unique(treated[in_group]).size < 2:
                raise EstimationError(
                    f"subgroup {by}={levels[code]!r} has only "
                    f"{'treated' if treated[in_group][0] else 'control'} units; its effect "
                    f"({term}) cannot be estimated"
                )
        nested = bool(fixed) and any(
            _within.is_nested(codes_, n_levels, group) for codes_, n_levels in sample.factors
        )
        main_terms: tuple[str, ...] = ()
        main_columns: list[np.ndarray] = []
        if not nested:
            main_terms = tuple(f"{by}={levels[code]}" for code in present[1:])
            main_columns = [(group == code).astype(float) for code in present[1:]]
        matrix_columns = effects + main_columns + covariate_columns
        terms = (*effect_terms, *main_terms, *names)
        n_by_level = tuple(int((group == code).sum()) for code in present)
        level_values = tuple(levels[code] for code in present)
    else:
        values = sample.numeric[by]
        centred = values - np.average(values, weights=sample.weights)
        effect_terms = (treatment, f"{treatment}:{by}")
        matrix_columns = [treated, centred, treated * centred, *covariate_columns]
        terms = (treatment, by, f"{treatment}:{by}", *names)
        n_by_level = ()
        level_values = ()
    matrix, terms = with_intercept(np.column_stack(matrix_columns), terms, sample)
    fit = _fit_linear(
        sample.numeric[outcome],
        matrix,
        terms,
        sample,
        vcov=kind,
        cluster=cluster,
        fixed_effects=fixed,
    )
    coefficients, covariance = fit.coefficients, fit.covariance
    if moderator == "categorical":
        count = len(effect_terms)
        restriction = np.zeros((count - 1, len(terms)))
        restriction[:, 0] = -1.0
        restriction[np.arange(count - 1), np.arange(1, count)] = 1.0
        tested = tuple(f"{term} - {effect_terms[0]}" for term in effect_terms[1:])
    else:
        restriction = np.zeros((1, len(terms)))
        restriction[0, 2] = 1.0
        tested = (f"{treatment}:{by}",)
    equality = wald_test(
        restriction @ coefficients,
        restriction @ covariance @ restriction.T,
        df_denom=fit.df,
        terms=tested,
    )
    return EstimationResult(
        outcome=outcome,
        estimator="heterogeneity",
        terms=terms,
        coefficients=coefficients,
        covariance=covariance,
        n_obs=sample.n_obs,
        n_clusters=fit.n_clusters,
        inference=fit.label,
        df=fit.df,
        main_term=effect_terms[0],
        extras={
            **sample.extras(),
            "n_params": fit.n_params,
            "equality_test": equality,
            "effect_terms": effect_terms,
            "levels": level_values,
            "n_by_level": n_by_level,
            "moderator": moderator,
            "strata": fixed,
        },
    )
