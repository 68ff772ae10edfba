"""Baseline balance between treatment arms.

This module owns :func:`balance_table` and its frozen result :class:`BalanceTable` (a per-variable
frame and the joint orthogonality test). Differences, standard errors and the joint F come from
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
from doorstep.estimate._checks import as_names, check_columns, check_frame, numeric_column
from doorstep.estimate.linear import regress

__all__ = ["BalanceTable", "balance_table"]


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
        (``difference``, ``std_error``, ...).
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
) -> BalanceTable:
    """Means, SDs and differences of baseline ``variables`` by treatment arm, and a joint F-test.

    Each variable uses the rows where it and the treatment are observed. The difference of arm a
    against the control (the lowest treatment code) is the coefficient of the arm indicator in
    :func:`doorstep.estimate.regress` of the variable on the arm indicators (cluster CR1 with
    ``cluster=``, else HC1; p-value from t(G-1) or t(N-K)). The normalised difference is
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
        As in :func:`doorstep.estimate.regress`.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"d": [0, 0, 1, 1], "x": [1.0, 3.0, 2.0, 6.0]})
    >>> float(balance_table(frame, "d", "x").table.loc[0, "difference"])
    2.0
    """
    check_frame(data)
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
        result = regress(
            work,
            name,
            list(indicator_names.values()),
            weights=weight_column,
            cluster=cluster_column,
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
        rows.append(row)
    table = pd.DataFrame(rows)

    joint_rows = []
    for arm, column in indicator_names.items():
        subset = work.loc[(work["__arm"] == arm) | (work["__arm"] == control)]
        joint_result = regress(
            subset, column, list(names), weights=weight_column, cluster=cluster_column
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
