"""Covariate balance: the baseline balance table and balance after weighting or matching.

This module owns :func:`balance_table` and its frozen result :class:`BalanceTable` (a
per-variable frame and the joint orthogonality test, toward DIME's ``iebaltab``), and
:func:`covariate_balance` with :class:`CovariateBalance` (balance before and after weighting or
matching in cobalt's conventions, shared by ``doorstep.estimate.weighting`` and
``doorstep.estimate.matching``). Differences, standard errors and the joint F come from
:func:`doorstep.estimate.regress`, so they use the same covariance conventions. It must not import
``doorstep.io``, ``doorstep.report``, ``doorstep.run`` or notebook code.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate._checks import (
    as_names,
    check_choice,
    check_columns,
    check_frame,
    numeric_column,
)
from doorstep.estimate.linear import regress

__all__ = ["BalanceTable", "CovariateBalance", "balance_table", "covariate_balance"]

BALANCE_ESTIMANDS = ("ATE", "ATT", "ATC")


@dataclasses.dataclass(frozen=True)
class BalanceTable:
    """Balance of baseline variables across treatment arms.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per variable: ``variable``, then for every arm ``a`` the columns ``mean_a``,
        ``sd_a``, ``n_a``, then for every arm ``a`` other than the control (the lowest code)
        ``difference_a``, ``std_error_a``, ``p_value_a``, ``normalised_difference_a`` and
        ``variance_ratio_a``. With two arms the comparison columns carry no suffix
        (``difference``, ``std_error``, ...). With ``cluster=``, ``n_clusters_a`` per arm; with
        ``pairwise=True``, ``difference_b_vs_a``, ``std_error_b_vs_a`` and ``p_value_b_vs_a``
        for every pair of non-control arms a < b.
    joint : pandas.DataFrame
        One row per non-control arm: ``arm``, ``f_statistic``, ``df_num``, ``df_denom``,
        ``p_value``, ``n_obs`` of the joint orthogonality test.
    control : float
        The code of the control arm.
    inference : str
        Covariance used for differences and the joint test.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"d": [0, 1] * 10, "age": range(20), "hh": [3, 4, 5, 2] * 5})
    >>> balance = balance_table(frame, "d", ["age", "hh"])
    >>> list(balance.table["variable"]), round(balance.joint_p, 3) > 0
    (['age', 'hh'], True)
    """

    table: pd.DataFrame
    joint: pd.DataFrame
    control: float
    inference: str

    @property
    def joint_f(self) -> float:
        """F statistic of the joint test (the first treated arm when there are several)."""
        return float(self.joint["f_statistic"].iloc[0])

    @property
    def joint_p(self) -> float:
        """p-value of the joint test (the first treated arm when there are several)."""
        return float(self.joint["p_value"].iloc[0])


def _weighted_moments(values: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Weighted mean and SD; the SD uses the n/(n-1) correction (equal to ddof=1 unweighted)."""
    n = values.size
    if n == 0:
        return math.nan, math.nan
    mean = float(np.average(values, weights=weights))
    if n < 2:
        return mean, math.nan
    variance = float(np.average((values - mean) ** 2, weights=weights)) * n / (n - 1)
    return mean, math.sqrt(variance)


def _label(arm: float) -> str:
    return f"{arm:g}"


def balance_table(
    data: pd.DataFrame,
    treatment: str,
    variables: str | Sequence[str],
    *,
    cluster: str | None = None,
    weights: str | None = None,
    fixed_effects: str | Sequence[str] = (),
    pairwise: bool = False,
    vcov: str | None = None,
) -> BalanceTable:
    """Means, SDs and differences of baseline ``variables`` by treatment arm, and a joint F-test.

    Each variable uses the rows where it and the treatment are observed. The difference of arm a
    against the control (the lowest treatment code) is the coefficient of the arm indicator in
    :func:`doorstep.estimate.regress` of the variable on the arm indicators (by default cluster
    CR1 with ``cluster=``, else HC1; p-value from t(G-1) or t(N-K); ``vcov=`` chooses another
    covariance, e.g. ``"cr2"`` with few clusters). The normalised difference is
    ``difference / sqrt((sd_a^2 + sd_control^2) / 2)`` and the variance ratio
    ``sd_a^2 / sd_control^2``. The joint orthogonality test regresses the arm indicator on all
    variables (rows of arm a and the control with every variable observed) and gives the Wald F of
    all variable coefficients being zero with the same covariance.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit; not changed.
    treatment : str
        Arm column (numeric codes, e.g. 0/1 or 0/1/2).
    variables : str or sequence of str
        Baseline variables (numeric).
    cluster, weights : str, optional
        As in :func:`doorstep.estimate.regress`. Weights apply to the means, SDs, differences
        and the joint test. With ``cluster=`` the table also has ``n_clusters_a`` per arm.
    fixed_effects : str or sequence of str, optional
        Strata (or other fixed effects) absorbed in the difference regressions and in the joint
        test, as DIME's ``iebaltab, fixedeffect()``; the means and SDs stay raw.
    pairwise : bool, default False
        Also compare every pair of non-control arms: columns ``difference_b_vs_a``,
        ``std_error_b_vs_a`` and ``p_value_b_vs_a`` (from the regression on the rows of arms a
        and b, arm b's indicator, same covariance and fixed effects).
    vcov : str, optional
        Covariance of the differences and the joint test, as in
        :func:`doorstep.estimate.regress` (default ``"cluster"`` with ``cluster=``, else
        ``"hc1"``).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"d": [0, 0, 1, 1], "x": [1.0, 3.0, 2.0, 6.0]})
    >>> float(balance_table(frame, "d", "x").table.loc[0, "difference"])
    2.0
    """
    check_frame(data)
    fixed = as_names("fixed_effects", fixed_effects)
    if not isinstance(pairwise, bool):
        raise ConfigError(f"pairwise must be True or False, found {pairwise!r}")
    names = as_names("variables", variables)
    if not names:
        raise ConfigError("variables must name at least one column")
    if treatment in names:
        raise ConfigError(f"the treatment {treatment!r} cannot also be a balance variable")
    check_columns(
        data,
        {
            "treatment": (treatment,),
            "variables": names,
            "cluster": as_names("cluster", cluster),
            "weights": as_names("weights", weights),
            "fixed_effects": fixed,
        },
    )
    arm_values = numeric_column(data, treatment, "treatment")
    arms = np.unique(arm_values[~np.isnan(arm_values)])
    if arms.size < 2:
        raise EstimationError(
            f"treatment column {treatment!r} has no variation; balance needs at least two arms"
        )
    control = float(arms[0])
    treated_arms = [float(arm) for arm in arms[1:]]
    two_arms = len(treated_arms) == 1
    weight_values = (
        numeric_column(data, weights, "weights") if weights is not None else np.ones(len(data))
    )
    # Work on a private frame with arm indicators; the caller's frame is not touched.
    indicator_names = {arm: f"__arm_{index}" for index, arm in enumerate(treated_arms)}
    work = pd.DataFrame(
        {name: numeric_column(data, name, "balance variable") for name in names}, index=None
    )
    work["__arm"] = arm_values
    for arm, column in indicator_names.items():
        work[column] = np.where(np.isnan(arm_values), np.nan, (arm_values == arm).astype(float))
    if cluster is not None:
        work["__cluster"] = data[cluster].to_numpy()
    if weights is not None:
        work["__weight"] = weight_values
    fixed_columns = tuple(f"__fixed_{position}" for position in range(len(fixed)))
    for column, name in zip(fixed_columns, fixed, strict=True):
        work[column] = data[name].to_numpy()
    cluster_column = "__cluster" if cluster is not None else None
    weight_column = "__weight" if weights is not None else None

    rows = []
    inference = ""
    for name in names:
        values = work[name].to_numpy()
        observed = ~np.isnan(values) & ~np.isnan(arm_values) & ~np.isnan(weight_values)
        row: dict[str, object] = {"variable": name}
        moments = {}
        for arm in arms:
            in_arm = observed & (arm_values == arm)
            mean, sd = _weighted_moments(values[in_arm], weight_values[in_arm])
            moments[float(arm)] = (mean, sd)
            row[f"mean_{_label(arm)}"] = mean
            row[f"sd_{_label(arm)}"] = sd
            row[f"n_{_label(arm)}"] = int(in_arm.sum())
            if cluster is not None:
                row[f"n_clusters_{_label(arm)}"] = int(
                    pd.Series(work["__cluster"].to_numpy()[in_arm]).nunique()
                )
        result = regress(
            work,
            name,
            list(indicator_names.values()),
            weights=weight_column,
            cluster=cluster_column,
            vcov=vcov,
            fixed_effects=fixed_columns,
        )
        inference = result.inference.replace("__cluster", cluster or "")
        for arm, column in indicator_names.items():
            suffix = "" if two_arms else f"_{_label(arm)}"
            view = result.term(column)
            sd_arm, sd_control = moments[arm][1], moments[control][1]
            pooled = math.sqrt((sd_arm**2 + sd_control**2) / 2)
            row[f"difference{suffix}"] = view.estimate
            row[f"std_error{suffix}"] = view.std_error
            row[f"p_value{suffix}"] = view.p_value
            row[f"normalised_difference{suffix}"] = (
                view.estimate / pooled if pooled > 0 else math.nan
            )
            row[f"variance_ratio{suffix}"] = (
                sd_arm**2 / sd_control**2 if sd_control > 0 else math.nan
            )
        if pairwise:
            for first_position, first in enumerate(treated_arms):
                for second in treated_arms[first_position + 1 :]:
                    pair = work.loc[(work["__arm"] == first) | (work["__arm"] == second)]
                    pair_result = regress(
                        pair,
                        name,
                        [indicator_names[second]],
                        weights=weight_column,
                        cluster=cluster_column,
                        vcov=vcov,
                        fixed_effects=fixed_columns,
                    )
                    suffix = f"_{_label(second)}_vs_{_label(first)}"
                    row[f"difference{suffix}"] = pair_result.estimate
                    row[f"std_error{suffix}"] = pair_result.std_error
                    row[f"p_value{suffix}"] = pair_result.p_value
        rows.append(row)
    table = pd.DataFrame(rows)

    joint_rows = []
    for arm, column in indicator_names.items():
        subset = work.loc[(work["__arm"] == arm) | (work["__arm"] == control)]
        joint_result = regress(
            subset,
            column,
            list(names),
            weights=weight_column,
            cluster=cluster_column,
            vcov=vcov,
            fixed_effects=fixed_columns,
        )
        test = joint_result.wald_test(names)
        joint_rows.append(
            {
                "arm": arm,
                "f_statistic": test.statistic,
                "df_num": test.df_num,
                "df_denom": test.df_denom,
                "p_value": test.p_value,
                "n_obs": joint_result.n_obs,
            }
        )
    return BalanceTable(
        table=table, joint=pd.DataFrame(joint_rows), control=control, inference=inference
    )


@dataclasses.dataclass(frozen=True)
class CovariateBalance:
    """Balance of covariates before and after weighting or matching (cobalt's conventions).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per covariate: ``variable``, ``mean_treated_before``, ``mean_control_before``,
        ``mean_treated_after``, ``mean_control_after``, ``smd_before``, ``smd_after``,
        ``variance_ratio_before``, ``variance_ratio_after``.
    sample_size : pandas.DataFrame
        One row per arm (``arm`` 1 = treated, 0 = control): ``n`` (units with positive weight
        after), ``ess_before`` and ``ess_after`` (Kish effective sample size).
    estimand : str
        ``"ATE"``, ``"ATT"`` or ``"ATC"``: which standard deviation scales the differences.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"d": [0, 0, 1, 1], "x": [1.0, 3.0, 2.0, 6.0], "w": [1, 1, 1, 1]})
    >>> balance = covariate_balance(frame, "d", ["x"], weights="w")
    >>> round(float(balance.table.loc[0, "smd_after"]), 3)
    0.894
    """

    table: pd.DataFrame
    sample_size: pd.DataFrame
    estimand: str

    @property
    def max_abs_smd_after(self) -> float:
        """Largest absolute standardised mean difference after weighting."""
        return float(self.table["smd_after"].abs().max())


def _weighted_variance(values: np.ndarray, weights: np.ndarray) -> float:
    """cobalt's weighted variance: sum w (x - m)^2 / (sum w - sum w^2 / sum w)."""
    total = weights.sum()
    if values.size < 2 or total <= 0:
        return math.nan
    mean = float(weights @ values / total)
    denominator = total - float(weights @ weights) / total
    if denominator <= 0:
        return math.nan
    return float(weights @ (values - mean) ** 2) / denominator


def _kish(weights: np.ndarray) -> float:
    squares = float(weights @ weights)
    return float(weights.sum()) ** 2 / squares if squares > 0 else 0.0


def balance_from_arrays(
    covariates: dict[str, np.ndarray],
    treated: np.ndarray,
    balance_weights: np.ndarray,
    *,
    sampling_weights: np.ndarray | None = None,
    estimand: str = "ATE",
) -> CovariateBalance:
    """:func:`covariate_balance` on arrays (complete cases, treated coded 0/1)."""
    base = np.ones(treated.size) if sampling_weights is None else sampling_weights
    after = base * balance_weights
    is_treated = treated == 1
    rows = []
    for name, values in covariates.items():
        row: dict[str, object] = {"variable": name}
        variances = {}
        for label, weights in (("before", base), ("after", after)):
            t_w, c_w = weights[is_treated], weights[~is_treated]
            t_x, c_x = values[is_treated], values[~is_treated]
            mean_t = float(t_w @ t_x / t_w.sum()) if t_w.sum() > 0 else math.nan
            mean_c = float(c_w @ c_x / c_w.sum()) if c_w.sum() > 0 else math.nan
            var_t, var_c = _weighted_variance(t_x, t_w), _weighted_variance(c_x, c_w)
            variances[label] = (var_t, var_c)
            row[f"mean_treated_{label}"] = mean_t
            row[f"mean_control_{label}"] = mean_c
            row[f"difference_{label}"] = mean_t - mean_c
            row[f"variance_ratio_{label}"] = var_t / var_c if var_c > 0 else math.nan
        var_t, var_c = variances["before"]
        scale = {
            "ATE": math.sqrt((var_t + var_c) / 2),
            "ATT": math.sqrt(var_t),
            "ATC": math.sqrt(var_c),
        }[estimand]
        for label in ("before", "after"):
            difference = float(row.pop(f"difference_{label}"))  # type: ignore[arg-type]
            row[f"smd_{label}"] = difference / scale if scale > 0 else math.nan
        rows.append(row)
    columns = [
        "variable",
        "mean_treated_before",
        "mean_control_before",
        "mean_treated_after",
        "mean_control_after",
        "smd_before",
        "smd_after",
        "variance_ratio_before",
        "variance_ratio_after",
    ]
    sizes = [
        {
            "arm": arm,
            "n": int(((treated == arm) & (after > 0)).sum()),
            "ess_before": _kish(base[treated == arm]),
            "ess_after": _kish(after[treated == arm]),
        }
        for arm in (1, 0)
    ]
    return CovariateBalance(
        table=pd.DataFrame(rows, columns=columns),
        sample_size=pd.DataFrame(sizes),
        estimand=estimand,
    )


def covariate_balance(
    data: pd.DataFrame,
    treatment: str,
    covariates: str | Sequence[str],
    *,
    weights: str,
    sampling_weights: str | None = None,
    estimand: str = "ATE",
) -> CovariateBalance:
    """Standardised mean differences, variance ratios and effective sample sizes.

    The conventions are cobalt's (``bal.tab``): means and variances use the weights (the
    "after" columns use ``sampling_weights * weights``, the "before" columns the sampling
    weights alone); the standardised mean difference divides the difference in weighted means
    by a standard deviation computed once on the sample *before* weighting: the pooled
    ``sqrt((var_treated + var_control) / 2)`` for the ATE, the SD of the treated for the ATT,
    of the controls for the ATC. Weighted variances are ``sum w (x - m)^2 / (sum w - sum w^2 /
    sum w)`` (ddof=1 without weights). Binary covariates are standardised too (MatchIt's
    ``summary``), where cobalt reports raw differences in proportions by default. The variance
    ratio is treated over control; the effective sample size is Kish's
    ``(sum w)^2 / sum w^2`` per arm.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit; not changed. Rows with a missing value in any used column are dropped.
    treatment : str
        Treatment column coded 0/1.
    covariates : str or sequence of str
        Numeric covariates.
    weights : str
        Balancing weights (inverse probability or matching weights; zero drops a unit).
    sampling_weights : str, optional
        Survey weights, applied before and after.
    estimand : {"ATE", "ATT", "ATC"}, default "ATE"
        Chooses the standard deviation of the denominator.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"d": [0, 0, 1, 1], "x": [1.0, 3.0, 2.0, 6.0], "w": [1, 1, 1, 1]})
    >>> balance = covariate_balance(frame, "d", "x", weights="w", estimand="ATT")
    >>> round(float(balance.table.loc[0, "smd_before"]), 3)
    0.707
    """
    check_frame(data)
    estimand = check_choice("estimand", estimand, BALANCE_ESTIMANDS)
    names = as_names("covariates", covariates)
    if not names:
        raise ConfigError("covariates must name at least one column")
    check_columns(
        data,
        {
            "treatment": (treatment,),
            "covariates": names,
            "weights": as_names("weights", weights),
            "sampling_weights": as_names("sampling_weights", sampling_weights),
        },
    )
    arrays = {name: numeric_column(data, name, "covariate") for name in names}
    treated = numeric_column(data, treatment, "treatment")
    balance_weights = numeric_column(data, weights, "weights")
    base = (
        numeric_column(data, sampling_weights, "sampling_weights")
        if sampling_weights is not None
        else np.ones(len(data))
    )
    keep = ~np.isnan(treated) & ~np.isnan(balance_weights) & ~np.isnan(base)
    for values in arrays.values():
        keep &= ~np.isnan(values)
    if not set(np.unique(treated[keep]).tolist()) <= {0.0, 1.0}:
        raise EstimationError(f"treatment column {treatment!r} must be coded 0/1")
    if np.any(balance_weights[keep] < 0) or np.any(base[keep] < 0):
        raise EstimationError(f"weights {weights!r} or sampling weights hold negative values")
    return balance_from_arrays(
        {name: values[keep] for name, values in arrays.items()},
        treated[keep],
        balance_weights[keep],
        sampling_weights=base[keep],
        estimand=estimand,
    )
