"""Bounds on treatment effects under sample selection: Lee (2009) trimming bounds.

This module owns :func:`lee_bounds` and its frozen record :class:`LeeBounds` (lower and upper
bounds, their standard errors, the Imbens-Manski confidence interval of the identified set, the
trimming proportion and a test of differential attrition, with ``tidy()``). The attrition test
reuses :func:`doorstep.estimate.difference_in_means`. This module must not import
``doorstep.io``, ``doorstep.report``, ``doorstep.run`` or notebook code.

Conventions. ``q_1`` and ``q_0`` are the shares of treated and control units whose outcome is
observed. Under Lee's monotonicity assumption the arm with the higher observation rate holds
``p = (q_high - q_low) / q_high`` of its observed units who would not have been observed in the
other arm; the bounds trim that share of the observed outcomes of that arm from above (lower
bound) or from below (upper bound) and compare the trimmed mean with the untrimmed mean of the
other arm. Trimming is exact: when ``(1 - p) n`` is not a whole number the boundary observation
enters with a fractional weight, so ties and small samples need no rounding rule.

Standard errors are Lee's (2009, Proposition 3) asymptotic variance with sample analogues:
for a trimmed mean ``mu`` of ``n`` observed outcomes kept at share ``q = 1 - p`` with cut-off
``xi``, ``[V_kept / q + (1 - q)(xi - mu)^2 / q] / n + ((xi - mu) / q)^2 Var(q_hat)``, where
``V_kept`` is the variance of the kept outcomes and ``Var(q_hat)`` the delta-method variance of
``q_low / q_high``; plus ``Var / n`` of the other arm's mean. With ``covariates_for_tightening``
(Lee's tightened bounds: trimming within cells of discrete covariates, averaged with the shares
of the cells among the observed units of the less-observed arm) the standard errors come from a
nonparametric bootstrap of the rows with a fixed seed; so do they with sampling ``weights``
(weighted observation rates, trimming of a share of the weighted mass, weighted means) and with
``cluster=`` (a bootstrap of whole clusters). The confidence interval for the
identified set is Imbens and Manski (2004): ``[lower - c se_lower, upper + c se_upper]`` with
``Phi(c + (upper - lower) / max(se)) - Phi(-c) = level``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import optimize, stats

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate._checks import (
    as_names,
    check_columns,
    check_frame,
    factor_codes,
    numeric_column,
)
from doorstep.estimate.linear import _check_binary_treatment, difference_in_means
from doorstep.estimate.result import TIDY_COLUMNS, EstimationResult, _check_level

__all__ = ["LeeBounds", "imbens_manski_interval", "lee_bounds"]


@dataclasses.dataclass(frozen=True)
class LeeBounds:
    """Lee (2009) bounds on the effect for units observed in both arms.

    Attributes
    ----------
    outcome : str
    lower, upper : float
        The estimated bounds.
    lower_std_error, upper_std_error : float
    conf_int : tuple of float
        Imbens-Manski confidence interval of the identified set at ``level``.
    level : float
    trimming_proportion : float
        ``p = (q_high - q_low) / q_high``.
    trimmed_arm : str
        ``"treated"`` or ``"control"`` (the arm with the higher observation rate).
    observation_rates : tuple of float
        ``(q_treated, q_control)``.
    attrition : EstimationResult
        Difference in observation rates, treated minus control (HC1).
    n_obs : int
        Units used (observed or not).
    inference : str
        ``"analytic (Lee 2009)"`` or the bootstrap used.
    n_clusters : int or None
        Clusters resampled by the bootstrap (None without ``cluster=``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> d = rng.integers(0, 2, 1000)
    >>> seen = (rng.random(1000) < 0.6 + 0.2 * d).astype(int)
    >>> frame = pd.DataFrame({"d": d, "seen": seen, "y": rng.normal(size=1000) + d})
    >>> bounds = lee_bounds(frame, "y", "d", "seen")
    >>> bounds.lower < bounds.upper, bounds.trimmed_arm
    (True, 'treated')
    """

    outcome: str
    lower: float
    upper: float
    lower_std_error: float
    upper_std_error: float
    conf_int: tuple[float, float]
    level: float
    trimming_proportion: float
    trimmed_arm: str
    observation_rates: tuple[float, float]
    attrition: EstimationResult
    n_obs: int
    inference: str
    n_clusters: int | None = None

    def tidy(self) -> pd.DataFrame:
        """Rows ``lower_bound``, ``upper_bound`` (normal intervals at ``level``) and
        ``identified_set`` (estimate missing; ``conf_low``/``conf_high`` the Imbens-Manski
        interval), with the columns of the design contract."""
        critical = float(stats.norm.ppf(0.5 + self.level / 2))
        rows = []
        for term, estimate, std_error in (
            ("lower_bound", self.lower, self.lower_std_error),
            ("upper_bound", self.upper, self.upper_std_error),
        ):
            statistic = estimate / std_error if std_error > 0 else math.nan
            rows.append(
                {
                    "term": term,
                    "estimate": estimate,
                    "std_error": std_error,
                    "statistic": statistic,
                    "p_value": float(2 * stats.norm.sf(abs(statistic))),
                    "conf_low": estimate - critical * std_error,
                    "conf_high": estimate + critical * std_error,
                }
            )
        rows.append(
            {
                "term": "identified_set",
                "estimate": math.nan,
                "std_error": math.nan,
                "statistic": math.nan,
                "p_value": math.nan,
                "conf_low": self.conf_int[0],
                "conf_high": self.conf_int[1],
            }
        )
        frame = pd.DataFrame(rows)
        frame["outcome"] = self.outcome
        frame["estimator"] = "lee_bounds"
        frame["n_obs"] = self.n_obs
        frame["n_clusters"] = pd.array([self.n_clusters] * len(frame), dtype="Int64")
        frame["inference"] = self.inference
        return frame[list(TIDY_COLUMNS)]


def imbens_manski_interval(
    lower: float, upper: float, lower_se: float, upper_se: float, level: float = 0.95
) -> tuple[float, float]:
    """Imbens and Manski (2004) confidence interval for a partially identified parameter.

    Examples
    --------
    >>> low, high = imbens_manski_interval(0.0, 0.0, 1.0, 1.0)
    >>> round(low, 2), round(high, 2)
    (-1.96, 1.96)
    """
    level = _check_level(level)
    width = max(upper - lower, 0.0)
    scale = max(lower_se, upper_se)
    if scale <= 0:
        return (lower, upper)
    low_c, high_c = float(stats.norm.ppf(level)), float(stats.norm.ppf(0.5 + level / 2))

    def coverage(c: float) -> float:
        return float(stats.norm.cdf(c + width / scale) - stats.norm.cdf(-c)) - level

    critical = high_c if coverage(high_c) <= 0 else float(
        optimize.brentq(coverage, low_c - 1e-9, high_c, xtol=1e-12)
    )
    return (lower - critical * lower_se, upper + critical * upper_se)


def _trimmed_mean(values: np.ndarray, keep_share: float, keep: str,
                  weights: np.ndarray | None = None) -> tuple[float, float, float]:
    """Mean, variance of the kept part, and cut-off, keeping ``keep_share`` of the (weighted)
    mass of the lowest or highest values (the boundary value with a fractional weight).

    Examples
    --------
    >>> _trimmed_mean(np.array([4.0, 1.0, 3.0, 2.0]), 0.5, "lowest")
    (1.5, 0.25, 2.0)
    >>> _trimmed_mean(np.array([1.0, 2.0]), 0.5, "lowest", weights=np.array([3.0, 1.0]))
    (1.0, 0.0, 1.0)
    """
    order = np.argsort(values, kind="stable")
    if keep == "highest":
        order = order[::-1]
    ordered = values[order]
    mass_of = np.ones(ordered.size) if weights is None else weights[order]
    # each value's share of the kept mass: whole up to the cut-off, the boundary one in part
    kept = np.clip(keep_share * mass_of.sum() - (np.cumsum(mass_of) - mass_of), 0.0, mass_of)
    kept[kept <= 1e-12 * mass_of.sum()] = 0.0
    last = int(np.nonzero(kept)[0][-1])
    mean = float(kept @ ordered / kept.sum())
    variance = float(kept @ (ordered - mean) ** 2 / kept.sum())
    return mean, variance, float(ordered[last])


@dataclasses.dataclass(frozen=True)
class _Arrays:
    outcome: np.ndarray
    treated: np.ndarray
    observed: np.ndarray
    cells: np.ndarray | None
    weights: np.ndarray | None = None  # sampling weights; None: every unit counts once

    def take(self, index: np.ndarray) -> _Arrays:
        """The units at ``index`` (a bootstrap sample)."""
        return _Arrays(*(None if values is None else values[index] for values in (
            self.outcome, self.treated, self.observed, self.cells, self.weights)))

    def share_observed(self, arm: np.ndarray) -> float:
        """The (weighted) share of the units in ``arm`` whose outcome is observed."""
        if self.weights is None:
            return float(self.observed[arm].mean())
        return float(self.weights[arm] @ self.observed[arm] / self.weights[arm].sum())

    def mean(self, rows: np.ndarray) -> float:
        if self.weights is None:
            return float(self.outcome[rows].mean())
        return float(np.average(self.outcome[rows], weights=self.weights[rows]))


def _point_bounds(arrays: _Arrays) -> dict[str, float | str]:
    """Bounds and the ingredients of Lee's variance, for one sample."""
    d, s, y = arrays.treated, arrays.observed, arrays.outcome
    n1, n0 = int((d == 1).sum()), int((d == 0).sum())
    q1, q0 = arrays.share_observed(d == 1), arrays.share_observed(d == 0)
    if q1 == 0 or q0 == 0:
        arm = "treated" if q1 == 0 else "control"
        raise EstimationError(f"no outcome is observed in the {arm} arm; bounds need both")
    trimmed_arm = "treated" if q1 >= q0 else "control"
    high, low = (1.0, 0.0) if trimmed_arm == "treated" else (0.0, 1.0)
    q_high, q_low = max(q1, q0), min(q1, q0)
    n_high, n_low = (n1, n0) if trimmed_arm == "treated" else (n0, n1)
    p = (q_high - q_low) / q_high
    share = 1.0 - p
    trimmed_rows = (d == high) & (s == 1)
    trimmed = y[trimmed_rows]
    trimmed_weights = None if arrays.weights is None else arrays.weights[trimmed_rows]
    other = y[(d == low) & (s == 1)]
    var_share = share**2 * ((1 - q_low) / (n_low * q_low) + (1 - q_high) / (n_high * q_high))
    other_mean = arrays.mean((d == low) & (s == 1))
    # Lee's analytic variance is for unweighted samples; weighted runs use the bootstrap
    other_var = float(other.var(ddof=1)) / other.size if other.size > 1 else math.nan
    parts = {}
    for keep in ("lowest", "highest"):
        mean, kept_var, cutoff = _trimmed_mean(trimmed, share, keep, trimmed_weights)
        variance = (kept_var / share + (1 - share) * (cutoff - mean) ** 2 / share) / trimmed.size
        variance += ((cutoff - mean) / share) ** 2 * var_share
        parts[keep] = (mean, variance)
    if trimmed_arm == "treated":
        lower = parts["lowest"][0] - other_mean
        upper = parts["highest"][0] - other_mean
        lower_var, upper_var = parts["lowest"][1], parts["highest"][1]
    else:
        lower = other_mean - parts["highest"][0]
        upper = other_mean - parts["lowest"][0]
        lower_var, upper_var = parts["highest"][1], parts["lowest"][1]
    return {
        "lower": lower,
        "upper": upper,
        "lower_se": math.sqrt(lower_var + other_var),
        "upper_se": math.sqrt(upper_var + other_var),
        "p": p,
        "trimmed_arm": trimmed_arm,
        "q1": q1,
        "q0": q0,
    }


def _tightened(arrays: _Arrays, direction: str | None = None) -> dict[str, float | str]:
    """Lee's tightened bounds: trim within cells, average over the less-observed arm's cells."""
    d, s, cells = arrays.treated, arrays.observed, arrays.cells
    overall = _point_bounds(dataclasses.replace(arrays, cells=None))
    direction = direction or str(overall["trimmed_arm"])
    low_arm = 0.0 if direction == "treated" else 1.0
    lower = upper = 0.0
    reference = (d == low_arm) & (s == 1)
    mass = np.ones(d.size) if arrays.weights is None else arrays.weights
    for cell in np.unique(cells):
        in_cell = cells == cell
        for arm in (0.0, 1.0):
            if not np.any(in_cell & (d == arm) & (s == 1)):
                raise EstimationError(
                    "a cell of covariates_for_tightening has no observed outcome in the "
                    f"{'treated' if arm else 'control'} arm; coarsen the cells"
                )
        share = float(mass[reference & in_cell].sum() / mass[reference].sum())
        sub = dataclasses.replace(arrays.take(np.flatnonzero(in_cell)), cells=None)
        q1, q0 = sub.share_observed(sub.treated == 1), sub.share_observed(sub.treated == 0)
        if (direction == "treated") != (q1 >= q0):
            # Sample rates against the overall direction: no trimming in this cell (p = 0).
            y1 = sub.mean((sub.treated == 1) & (sub.observed == 1))
            y0 = sub.mean((sub.treated == 0) & (sub.observed == 1))
            cell_lower = cell_upper = float(y1 - y0)
        else:
            bounds = _point_bounds(sub)
            cell_lower, cell_upper = float(bounds["lower"]), float(bounds["upper"])
        lower += share * cell_lower
        upper += share * cell_upper
    return {**overall, "lower": lower, "upper": upper}


def _bootstrap(arrays: _Arrays, bounds_of, clusters: np.ndarray | None, n_bootstrap: int,
               seed: int, *, tightened: bool) -> tuple[tuple[float, float], int]:
    """Standard deviations of the bounds over resamples of the units, or of whole clusters."""
    rng = np.random.default_rng(seed)
    n_units = arrays.treated.size
    if clusters is not None:
        order = np.argsort(clusters, kind="stable")
        members = np.split(order, np.flatnonzero(np.diff(clusters[order])) + 1)
    draws = []
    for _ in range(n_bootstrap):
        if clusters is None:
            index = rng.integers(0, n_units, n_units)
        else:
            index = np.concatenate([members[group] for group in
                                    rng.integers(0, len(members), len(members))])
        try:
            draws.append(bounds_of(arrays.take(index)))
        except EstimationError:
            continue
    if len(draws) < n_bootstrap // 2:
        what = ("left a cell of covariates_for_tightening without observed outcomes in an "
                "arm; coarsen the cells") if tightened else (
                "left an arm without observed outcomes; too few units or clusters")
        raise EstimationError(f"most bootstrap samples {what}")
    spread = np.asarray(draws, dtype=float).std(axis=0, ddof=1)
    return (float(spread[0]), float(spread[1])), len(draws)


def lee_bounds(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    observed: str,
    *,
    covariates_for_tightening: str | Sequence[str] | None = None,
    weights: str | None = None,
    cluster: str | None = None,
    level: float = 0.95,
    n_bootstrap: int = 500,
    seed: int = 0,
) -> LeeBounds:
    """Lee (2009) trimming bounds on the effect for the always-observed, with inference.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per randomised unit (observed or not); not changed.
    outcome : str
        Outcome column; only read where ``observed`` is 1 (must be non-missing there).
    treatment : str
        Treatment column coded 0/1; rows where it is missing are dropped.
    observed : str
        1 when the outcome was observed (not attrited), 0 otherwise.
    covariates_for_tightening : str or sequence of str, optional
        Discrete baseline covariates: Lee's tightened bounds (trimming within cells);
        standard errors then come from the bootstrap.
    weights : str, optional
        Sampling weights: the observation rates, the trimming (a share of the weighted mass
        of the observed outcomes, the boundary unit in part) and the means are weighted;
        standard errors then come from the bootstrap.
    cluster : str, optional
        Cluster column (e.g. the village when assignment or attrition is by village):
        standard errors come from a bootstrap that resamples whole clusters, and the
        attrition test is clustered (CR1).
    level : float, default 0.95
        Level of the Imbens-Manski interval and of the intervals in ``tidy()``.
    n_bootstrap : int, default 500
        Bootstrap replications (tightened bounds, weights or clusters).
    seed : int, default 0
        Seed of the bootstrap.

    Returns
    -------
    LeeBounds
        See the module docstring for the trimming and variance conventions.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> frame = pd.DataFrame({"d": [1, 1, 1, 1, 0, 0, 0, 0],
    ...                       "seen": [1, 1, 1, 1, 1, 1, 1, 0],
    ...                       "y": [1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, np.nan]})
    >>> bounds = lee_bounds(frame, "y", "d", "seen")
    >>> bounds.trimming_proportion, bounds.lower, bounds.upper
    (0.25, 0.0, 1.0)
    """
    check_frame(data)
    level = _check_level(level)
    for name, value in (("outcome", outcome), ("treatment", treatment), ("observed", observed)):
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be one column name, found {value!r}")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 50:
        raise ConfigError(
            f"n_bootstrap must be a whole number of at least 50, found {n_bootstrap!r}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed must be a whole number, found {seed!r}")
    tighten = as_names("covariates_for_tightening", covariates_for_tightening)
    for name, value in (("weights", weights), ("cluster", cluster)):
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{name} must be one column name or None, found {value!r}")
    check_columns(
        data,
        {
            "outcome": (outcome,),
            "treatment": (treatment,),
            "observed": (observed,),
            "covariates_for_tightening": tighten,
            "weights": as_names("weights", weights),
            "cluster": as_names("cluster", cluster),
        },
    )
    _check_binary_treatment(data, treatment)
    d = numeric_column(data, treatment, "treatment")
    s = numeric_column(data, observed, "observed")
    y = numeric_column(data, outcome, "outcome")
    keep = ~np.isnan(d)
    if np.isnan(s[keep]).any() or not set(np.unique(s[keep]).tolist()) <= {0.0, 1.0}:
        raise EstimationError(
            f"column {observed!r} (observed) must be 0/1 with no missing values, found "
            f"{np.unique(s[keep])[:6].tolist()}"
        )
    missing = keep & (s == 1) & np.isnan(y)
    if missing.any():
        raise EstimationError(
            f"column {outcome!r} is missing in {int(missing.sum())} rows where {observed!r} is 1 "
            f"(first row label {data.index[np.nonzero(missing)[0][0]]!r}); mark them unobserved"
        )
    cells = None
    if tighten:
        codes = np.column_stack([factor_codes(data, name) for name in tighten])
        keep &= (codes >= 0).all(axis=1)
    mass = None
    if weights is not None:
        mass = numeric_column(data, weights, "weights")
        if np.isnan(mass[keep]).any() or (mass[keep] < 0).any():
            raise EstimationError(f"column {weights!r} (weights) must be non-negative and "
                                  "not missing")
        keep &= mass > 0
    if tighten:
        cells = np.unique(codes[keep], axis=0, return_inverse=True)[1].reshape(-1)
    arrays = _Arrays(np.where(s == 1, y, 0.0)[keep], d[keep], s[keep], cells,
                     None if mass is None else mass[keep])
    for arm, label in ((1.0, "treated"), (0.0, "control")):
        if not np.any(arrays.treated == arm):
            raise EstimationError(f"treatment column {treatment!r} has no {label} rows")

    clusters = None
    if cluster is not None:
        clusters = factor_codes(data, cluster)[keep]
        if (clusters < 0).any():
            raise EstimationError(f"column {cluster!r} (cluster) has missing values")
    point = _point_bounds(arrays) if cells is None else _tightened(arrays)
    if cells is None and weights is None and cluster is None:
        lower_se, upper_se = float(point["lower_se"]), float(point["upper_se"])
        inference = "analytic (Lee 2009)"
    else:
        direction = str(point["trimmed_arm"])

        def bounds_of(sample: _Arrays) -> tuple[float, float]:
            draw = _point_bounds(sample) if cells is None else _tightened(sample, direction)
            return float(draw["lower"]), float(draw["upper"])

        (lower_se, upper_se), n_draws = _bootstrap(arrays, bounds_of, clusters, n_bootstrap,
                                                   seed, tightened=cells is not None)
        how = f"bootstrap ({n_draws} draws, seed {seed}"
        how += f", by cluster {cluster})" if cluster is not None else ")"
        inference = how + (f", tightened by {', '.join(tighten)}" if tighten else "")
    lower, upper = float(point["lower"]), float(point["upper"])
    attrition_frame = pd.DataFrame({"observed": arrays.observed, "treated": arrays.treated,
                                    "weight": arrays.weights, "cluster": clusters})
    attrition = difference_in_means(attrition_frame, "observed", "treated",
                                    weights="weight" if weights is not None else None,
                                    cluster="cluster" if cluster is not None else None)
    return LeeBounds(
        outcome=outcome,
        lower=lower,
        upper=upper,
        lower_std_error=lower_se,
        upper_std_error=upper_se,
        conf_int=imbens_manski_interval(lower, upper, lower_se, upper_se, level),
        level=level,
        trimming_proportion=float(point["p"]),
        trimmed_arm=str(point["trimmed_arm"]),
        observation_rates=(float(point["q1"]), float(point["q0"])),
        attrition=dataclasses.replace(attrition, outcome=observed, estimator="attrition"),
        n_obs=int(arrays.treated.size),
        inference=inference,
        n_clusters=None if clusters is None else int(np.unique(clusters).size),
    )
