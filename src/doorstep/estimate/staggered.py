"""Staggered difference-in-differences: Callaway and Sant'Anna (2021) group-time effects.

This module owns :func:`staggered_did` (group-time ATT(g,t) on a balanced panel, unconditional
or conditional parallel trends, analytic influence-function standard errors) and its result
:class:`StaggeredResult` with the aggregations of R's ``did::aggte`` (simple, group, dynamic,
calendar), the pre-trend Wald test and uniform confidence bands by multiplier bootstrap.
Conventions follow R's ``did`` and ``moderndid``: without covariates the influence function of
unit i for a cell is ``n/n_g (dy_i - mean_g)`` for treated units and ``-n/n_c (dy_i - mean_c)``
for controls; with covariates each cell is a two-period Sant'Anna-Zhao estimator from
``doorstep.estimate.two_period`` (its influence function scaled by n / n_cell); the covariance is
``IF'IF / n^2`` over the n units (cluster sums of the IF when clustering above the unit).
Sampling weights (``weights=``, unit-level, normalised to mean 1) follow R's ``did``: each cell
is DRDID's estimator with ``i.weights`` (without covariates the treated term of the IF becomes
``n w_i / sum_g(w) (dy_i - weighted mean_g)``), and the aggregations weight cohorts by
``pg = mean(w * 1{G = g})`` with ``w * 1{G = g} - pg`` in the weight influence function. It
must not import ``doorstep.io``, ``doorstep.report``, ``doorstep.run`` or notebook code.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate._checks import (
    as_names,
    check_choice,
    check_columns,
    check_frame,
    numeric_column,
)
from doorstep.estimate.result import TIDY_COLUMNS, EstimationResult, WaldTest, wald_test
from doorstep.estimate.two_period import max_propensity, panel_att

__all__ = ["StaggeredResult", "staggered_did"]

CONTROL_GROUPS = ("never", "not_yet")
BASE_PERIODS = ("varying", "universal")
METHODS = ("reg", "dr", "ipw")
AGGREGATIONS = ("simple", "group", "dynamic", "calendar")
MULTIPLIERS = ("mammen", "rademacher")
OVERLAP_LIMIT = 0.999
_TINY_SE = math.sqrt(np.finfo(float).eps) * 10
_SQRT5 = math.sqrt(5.0)
_BOOTSTRAP_CHUNK = 1 << 24  # multipliers drawn per chunk (reps x clusters)


def _check_level(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, int | float) or not 0 < level < 1:
        raise ConfigError(f"level must be a number strictly between 0 and 1, found {level!r}")
    return float(level)


def _bootstrap_max_t(
    influence: np.ndarray,
    std_errors: np.ndarray,
    cluster_codes: np.ndarray,
    *,
    reps: int,
    seed: int,
    multiplier: str,
) -> np.ndarray:
    """Multiplier-bootstrap draws of max_j |theta*_j - theta_j| / se_j (sorted).

    theta* - theta = sum over clusters of v_c * (cluster sum of the IF) / n, with v_c Mammen's
    two-point weights (mean 0, variance 1, third moment 1; R ``did``'s choice) or Rademacher
    signs, one per cluster (the unit unless clustered above it). Columns with a zero or missing
    standard error (e.g. the reference cell of the universal base period) are left out.
    """
    n_units = influence.shape[0]
    keep = np.isfinite(std_errors) & (std_errors > 0)
    if not keep.any():
        return np.full(reps, np.nan)
    n_clusters = int(cluster_codes.max()) + 1
    sums = np.zeros((n_clusters, int(keep.sum())))
    np.add.at(sums, cluster_codes, influence[:, keep])
    scaled = sums / (n_units * std_errors[keep][None, :])
    rng = np.random.default_rng(seed)
    chunk = max(1, _BOOTSTRAP_CHUNK // n_clusters)
    draws = np.empty(reps)
    low, high = (1 - _SQRT5) / 2, (1 + _SQRT5) / 2
    p_low = (1 + _SQRT5) / (2 * _SQRT5)
    for start in range(0, reps, chunk):
        size = min(chunk, reps - start)
        if multiplier == "mammen":
            weights = np.where(rng.random((size, n_clusters)) < p_low, low, high)
        else:
            weights = rng.integers(0, 2, size=(size, n_clusters)) * 2.0 - 1.0
        draws[start : start + size] = np.abs(weights @ scaled).max(axis=1)
    return np.sort(draws)


def _quantile(sorted_draws: np.ndarray, level: float) -> float:
    if sorted_draws.size == 0 or np.isnan(sorted_draws).all():
        return math.nan
    return float(np.quantile(sorted_draws, level, method="inverted_cdf"))


def _format_value(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclasses.dataclass(frozen=True)
class StaggeredResult:
    """Group-time average treatment effects ATT(g,t) and their influence functions.

    Holds no data frame: only the cell estimates, the influence function of every unit for every
    cell (n_units x n_cells, needed to aggregate) and each unit's cohort and cluster code.

    Attributes
    ----------
    outcome : str
        Outcome column.
    groups, times : numpy.ndarray
        Cohort g and period t of each cell.
    estimates : numpy.ndarray
        ATT(g,t) of each cell.
    influence : numpy.ndarray
        n_units x n_cells influence functions (R's scaling).
    unit_cohorts : numpy.ndarray
        Cohort of every unit (0 = never treated).
    cluster_codes : numpy.ndarray
        Cluster code 0..G-1 of every unit (the unit itself when not clustered above it).
    cluster : str
        Name of the cluster column (the unit column by default).
    control_group, base_period : str
        Options used.
    anticipation : int
        Periods of anticipation allowed.
    extras : dict
        Units dropped and why, and other counts.
    bootstrap_reps : int
        Multiplier-bootstrap draws for the uniform bands (0: no bands).
    seed : int
        Seed of the bootstrap draws (drawn once and recorded when not given), so that every
        band computed from this result uses the same draws.
    multiplier : str
        ``"mammen"`` or ``"rademacher"`` multipliers.
    cluster_labels : numpy.ndarray or None
        Label of every cluster code (for ``cluster_scores``).
    unit_weights : numpy.ndarray or None
        Sampling weight of every unit, normalised to mean 1 (R ``did``'s ``weights.ind``);
        None when unweighted. They enter the cohort shares of the aggregations and the
        influence of estimating those shares.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rows = [(i, t, 3 if i < 20 else 0) for i in range(40) for t in (1, 2, 3, 4)]
    >>> frame = pd.DataFrame(rows, columns=["id", "t", "g"])
    >>> frame["y"] = np.random.default_rng(0).normal(size=len(frame)) + (frame.t >= frame.g) * (
    ...     frame.g > 0)
    >>> result = staggered_did(frame, "y", "id", "t", "g")
    >>> result.group_time["time"].tolist()
    [2, 3, 4]
    """

    outcome: str
    groups: np.ndarray = dataclasses.field(repr=False)
    times: np.ndarray = dataclasses.field(repr=False)
    estimates: np.ndarray = dataclasses.field(repr=False)
    influence: np.ndarray = dataclasses.field(repr=False)
    unit_cohorts: np.ndarray = dataclasses.field(repr=False)
    cluster_codes: np.ndarray = dataclasses.field(repr=False)
    cluster: str
    control_group: str
    base_period: str
    anticipation: int
    extras: dict[str, Any] = dataclasses.field(default_factory=dict)
    bootstrap_reps: int = 0
    seed: int = 0
    multiplier: str = "mammen"
    cluster_labels: np.ndarray | None = dataclasses.field(default=None, repr=False)
    unit_weights: np.ndarray | None = dataclasses.field(default=None, repr=False)

    @property
    def n_units(self) -> int:
        """Units in the balanced panel used."""
        return int(self.unit_cohorts.size)

    @property
    def n_clusters(self) -> int:
        """Clusters (units unless clustered above the unit)."""
        return int(self.cluster_codes.max()) + 1

    def _covariance(self, influence: np.ndarray) -> np.ndarray:
        sums = np.zeros((self.n_clusters, influence.shape[1]))
        np.add.at(sums, self.cluster_codes, influence)
        return sums.T @ sums / self.n_units**2

    @property
    def covariance(self) -> np.ndarray:
        """Covariance of the ATT(g,t) estimates from the influence functions."""
        return self._covariance(self.influence)

    @property
    def std_errors(self) -> np.ndarray:
        """Standard errors of ATT(g,t); NaN where (numerically) zero, as R's did reports."""
        std_errors = np.sqrt(np.clip(np.diag(self.covariance), 0, None))
        std_errors[std_errors <= _TINY_SE] = np.nan
        return std_errors

    def _max_t(self, influence: np.ndarray, std_errors: np.ndarray) -> np.ndarray:
        if self.bootstrap_reps == 0:
            return np.empty(0)
        return _bootstrap_max_t(
            influence,
            std_errors,
            self.cluster_codes,
            reps=self.bootstrap_reps,
            seed=self.seed,
            multiplier=self.multiplier,
        )

    @functools.cached_property
    def _group_time_max_t(self) -> np.ndarray:
        return self._max_t(self.influence, self.std_errors)

    def uniform_critical_value(
        self,
        level: float = 0.95,
        *,
        kind: Literal["simple", "group", "dynamic", "calendar"] | None = None,
    ) -> float:
        """Critical value of the uniform (sup-t) band, from the multiplier bootstrap.

        The ``level`` quantile of max_j |theta*_j - theta_j| / se_j over the bootstrap draws,
        with se_j the analytic standard errors, so that ``estimate +/- c * std_error`` covers
        all terms at once with probability ``level``. ``kind=None`` covers the group-time
        effects; an aggregation kind covers its terms other than the overall ``"ATT"`` (R's
        ``aggte`` bands), or the overall ATT for ``"simple"``. NaN when ``bootstrap_reps=0``.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> rows = [(i, t, 3 if i < 20 else 0) for i in range(40) for t in (1, 2, 3, 4)]
        >>> frame = pd.DataFrame(rows, columns=["id", "t", "g"])
        >>> frame["y"] = np.random.default_rng(0).normal(size=len(frame))
        >>> result = staggered_did(frame, "y", "id", "t", "g", bootstrap_reps=199, seed=1)
        >>> result.uniform_critical_value() > 1.96
        True
        """
        level = _check_level(level)
        if kind is None:
            return _quantile(self._group_time_max_t, level)
        check_choice("kind", kind, AGGREGATIONS)
        return _quantile(self.aggregate(kind).extras["bootstrap_max_t"], level)

    def group_time_table(self, level: float = 0.95) -> pd.DataFrame:
        """Frame of ATT(g,t) with pointwise intervals and the uniform band.

        Columns: group, time, estimate, std_error, conf_low, conf_high (pointwise normal),
        uniform_low, uniform_high (``estimate +/- uniform_critical_value(level) * std_error``,
        NaN without bootstrap), post.
        """
        level = _check_level(level)
        critical = stats.norm.ppf(0.5 + level / 2)
        uniform = self.uniform_critical_value(level)
        std_errors = self.std_errors
        return pd.DataFrame(
            {
                "group": self.groups,
                "time": self.times,
                "estimate": self.estimates,
                "std_error": std_errors,
                "conf_low": self.estimates - critical * std_errors,
                "conf_high": self.estimates + critical * std_errors,
                "uniform_low": self.estimates - uniform * std_errors,
                "uniform_high": self.estimates + uniform * std_errors,
                "post": self.groups <= self.times,
            }
        )

    @property
    def group_time(self) -> pd.DataFrame:
        """ATT(g,t) with pointwise 95% normal intervals (see ``group_time_table``)."""
        return self.group_time_table()

    def _inference_label(self) -> str:
        return f"influence function, clustered by {self.cluster}, normal"

    def tidy(self, level: float = 0.95) -> pd.DataFrame:
        """ATT(g,t) as a tidy frame with the columns of the design contract."""
        table = self.group_time_table(level)
        std_error = table["std_error"]
        statistic = table["estimate"] / std_error
        return pd.DataFrame(
            {
                "outcome": self.outcome,
                "estimator": "staggered_did",
                "term": [
                    f"ATT(g={_format_value(g)}, t={_format_value(t)})"
                    for g, t in zip(self.groups, self.times, strict=True)
                ],
                "estimate": table["estimate"],
                "std_error": std_error,
                "statistic": statistic,
                "p_value": 2 * stats.norm.sf(np.abs(statistic)),
                "conf_low": table["conf_low"],
                "conf_high": table["conf_high"],
                "n_obs": self.n_units,
                "n_clusters": pd.array([self.n_clusters] * len(table), dtype="Int64"),
                "inference": self._inference_label(),
            },
            columns=list(TIDY_COLUMNS),
        )

    def pre_trend_test(self) -> WaldTest:
        """Wald chi2 test that every pre-treatment ATT(g,t) (g > t) is zero.

        Uses the influence-function covariance; cells with a zero standard error (the reference
        period under ``base_period="universal"``) are left out, as in R's ``did``.
        """
        keep = (self.groups > self.times) & ~np.isnan(self.std_errors)
        if not keep.any():
            raise EstimationError(
                "there are no pre-treatment group-time effects to test (every cohort is treated "
                "in the second period or the anticipation window covers the pre-periods)"
            )
        index = np.flatnonzero(keep)
        terms = tuple(
            f"ATT(g={_format_value(self.groups[i])}, t={_format_value(self.times[i])})"
            for i in index
        )
        return wald_test(
            self.estimates[index],
            self.covariance[np.ix_(index, index)],
            df_denom=None,
            terms=terms,
        )

    # -- aggregation (R's did::aggte) ------------------------------------------------------------
    def _weight_influence(self, keepers: np.ndarray, cell_groups: np.ndarray, pg: np.ndarray):
        """R's ``wif``: influence of estimating the group-share weights (n x len(keepers)).

        The indicator of unit i being in cohort g is multiplied by its sampling weight, as R's
        ``did`` (``weights.ind * 1{G = g} - pg``).
        """
        indicators = (self.unit_cohorts[:, None] == cell_groups[keepers][None, :]).astype(float)
        if self.unit_weights is not None:
            indicators *= self.unit_weights[:, None]
        centred = indicators - pg[keepers][None, :]
        total = pg[keepers].sum()
        first = centred / total
        second = np.outer(centred.sum(axis=1), pg[keepers] / total**2)
        return first - second

    def _weighted(self, keepers, cell_groups, pg, estimates, influence):
        """Share-weighted average of cells ``keepers`` and its influence function (with wif)."""
        share = pg[keepers] / pg[keepers].sum()
        estimate = float(share @ estimates[keepers])
        wif = self._weight_influence(keepers, cell_groups, pg)
        return estimate, influence[:, keepers] @ share + wif @ estimates[keepers]

    def _aggregation(self, kind: str, min_event_time: float | None,
                     max_event_time: float | None) -> tuple[list[str], list[float], np.ndarray]:
        """Terms, values (overall first) and influence functions (n x terms) of an aggregation."""
        check_choice("kind", kind, AGGREGATIONS)
        for name, value in (("min_event_time", min_event_time), ("max_event_time", max_event_time)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise ConfigError(f"{name} must be a number or None, found {value!r}")
        low = -math.inf if min_event_time is None else float(min_event_time)
        high = math.inf if max_event_time is None else float(max_event_time)
        groups, times, estimates, influence = (
            self.groups,
            self.times,
            self.estimates,
            self.influence,
        )
        cohort_list = np.unique(groups)
        unit_weights = 1.0 if self.unit_weights is None else self.unit_weights
        cohort_share = np.array(
            [np.mean(unit_weights * (self.unit_cohorts == g)) for g in cohort_list]
        )
        pg = cohort_share[np.searchsorted(cohort_list, groups)]
        post = (groups <= times) & (times <= groups + high)
        terms: list[str] = []
        values: list[float] = []
        functions: list[np.ndarray] = []
        if kind == "simple":
            keepers = np.flatnonzero(post)
            if keepers.size == 0:
                raise EstimationError("there are no post-treatment group-time effects to average")
            overall, overall_if = self._weighted(keepers, groups, pg, estimates, influence)
        elif kind == "group":
            kept_groups = []
            for g in cohort_list:
                which = np.flatnonzero((groups == g) & post)
                if which.size == 0:
                    continue
                kept_groups.append(g)
                terms.append(f"group={_format_value(g)}")
                values.append(float(estimates[which].mean()))
                functions.append(influence[:, which].mean(axis=1))
            if not kept_groups:
                raise EstimationError("there are no post-treatment group-time effects to average")
            kept = np.array(kept_groups)
            group_pg = cohort_share[np.searchsorted(cohort_list, kept)]
            group_estimates = np.array(values)
            group_influence = np.column_stack(functions)
            overall, overall_if = self._weighted(
                np.arange(kept.size), kept, group_pg, group_estimates, group_influence
            )
        elif kind == "dynamic":
            event = times - groups
            event_list = np.unique(event)
            event_list = event_list[(event_list >= low) & (event_list <= high)]
            for e in event_list:
                which = np.flatnonzero(event == e)
                estimate, function = self._weighted(which, groups, pg, estimates, influence)
                terms.append(f"event_time={_format_value(e)}")
                values.append(estimate)
                functions.append(function)
            positive = [i for i, e in enumerate(event_list) if e >= 0]
            if not positive:
                raise EstimationError("there are no event times >= 0 to average")
            overall = float(np.mean([values[i] for i in positive]))
            overall_if = np.column_stack([functions[i] for i in positive]).mean(axis=1)
        else:  # calendar
            for t in np.unique(times[times >= groups.min()]):
                which = np.flatnonzero((times == t) & (groups <= times))
                if which.size == 0:
                    continue
                estimate, function = self._weighted(which, groups, pg, estimates, influence)
                terms.append(f"period={_format_value(t)}")
                values.append(estimate)
                functions.append(function)
            if not values:
                raise EstimationError("there are no post-treatment periods to average")
            overall = float(np.mean(values))
            overall_if = np.column_stack(functions).mean(axis=1)
        all_influence = np.column_stack([overall_if, *functions])
        return ["ATT", *terms], [overall, *values], all_influence

    def cluster_scores(
        self,
        kind: Literal["simple", "group", "dynamic", "calendar"] = "simple",
        *,
        min_event_time: float | None = None,
        max_event_time: float | None = None,
    ) -> pd.Series:
        """Each cluster's share of the overall aggregated ATT's influence function.

        The sum over the cluster's units of the overall ATT's influence function divided by
        the number of units, indexed by the cluster's label: the sum of squares is the
        clustered variance of ``aggregate(kind).estimate``, and perturbing the values with one
        multiplier per cluster is the multiplier bootstrap
        (:func:`doorstep.inference.multiplier_bootstrap`), jointly over outcomes when their
        scores are aligned on the labels.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> rows = [(i, t, 3 if i < 20 else 0, i % 8) for i in range(40) for t in (1, 2, 3, 4)]
        >>> frame = pd.DataFrame(rows, columns=["id", "t", "g", "v"])
        >>> frame["y"] = np.random.default_rng(0).normal(size=len(frame))
        >>> result = staggered_did(frame, "y", "id", "t", "g", cluster="v")
        >>> scores = result.cluster_scores()
        >>> len(scores), bool(np.isclose(np.sqrt((scores**2).sum()),
        ...                              result.aggregate("simple").std_error))
        (8, True)
        """
        _, _, all_influence = self._aggregation(kind, min_event_time, max_event_time)
        sums = np.zeros(self.n_clusters)
        np.add.at(sums, self.cluster_codes, all_influence[:, 0])
        labels = (self.cluster_labels if self.cluster_labels is not None
                  else np.arange(self.n_clusters))
        return pd.Series(sums / self.n_units, index=pd.Index(labels, name=self.cluster),
                         name=self.outcome)

    def aggregate(
        self,
        kind: Literal["simple", "group", "dynamic", "calendar"] = "simple",
        *,
        min_event_time: float | None = None,
        max_event_time: float | None = None,
    ) -> EstimationResult:
        """Aggregate ATT(g,t) as R's ``did::aggte`` does, with its influence functions.

        Parameters
        ----------
        kind : {"simple", "group", "dynamic", "calendar"}
            ``"simple"``: post-treatment cells weighted by cohort size; ``"group"``: average over
            each cohort's post periods, then over cohorts by size; ``"dynamic"``: by event time
            e = t - g (the overall effect averages e >= 0); ``"calendar"``: by period.
        min_event_time, max_event_time : float, optional
            Event-time window (R's ``min_e``/``max_e``): for ``"dynamic"`` the event times kept,
            for ``"simple"`` and ``"group"`` the post periods kept (t <= g + max_event_time).

        Returns
        -------
        EstimationResult
            Main term ``"ATT"`` (the overall effect), then ``"group=g"``, ``"event_time=e"`` or
            ``"period=t"`` terms. The covariance of all terms comes from their influence
            functions, including the term for estimated weights (R's ``wif``). ``conf_int`` is
            pointwise normal; ``extras["uniform_critical_value"]`` is the 95% sup-t critical
            value of the multiplier bootstrap over the non-overall terms (the overall ATT for
            ``"simple"``) and ``extras["bootstrap_max_t"]`` the sorted draws (other levels:
            ``StaggeredResult.uniform_critical_value(level, kind=...)``).

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> rows = [(i, t, 3 if i < 20 else 0) for i in range(40) for t in (1, 2, 3, 4)]
        >>> frame = pd.DataFrame(rows, columns=["id", "t", "g"])
        >>> frame["y"] = np.arange(len(frame)) % 7 + 2.0 * (frame.t >= frame.g) * (frame.g > 0)
        >>> staggered_did(frame, "y", "id", "t", "g").aggregate("group").terms
        ('ATT', 'group=3')
        """
        terms, values, all_influence = self._aggregation(kind, min_event_time, max_event_time)
        overall, values, terms = values[0], values[1:], terms[1:]
        covariance = self._covariance(all_influence)
        band = slice(0, 1) if kind == "simple" else slice(1, None)
        band_se = np.sqrt(np.clip(np.diag(covariance), 0, None))[band]
        band_se = np.where(band_se <= _TINY_SE, np.nan, band_se)
        max_t = self._max_t(all_influence[:, band], band_se)
        max_t.flags.writeable = False
        return EstimationResult(
            outcome=self.outcome,
            estimator=f"staggered_did_{kind}",
            terms=("ATT", *terms),
            coefficients=np.array([overall, *values]),
            covariance=covariance,
            n_obs=self.n_units,
            n_clusters=self.n_clusters,
            inference=self._inference_label(),
            df=None,
            main_term="ATT",
            extras={
                "aggregation": kind,
                "control_group": self.control_group,
                "base_period": self.base_period,
                "anticipation": self.anticipation,
                "n_units": self.n_units,
                "bands": "pointwise",
                "uniform_critical_value": _quantile(max_t, 0.95),
                "bootstrap_max_t": max_t,
                "bootstrap_reps": self.bootstrap_reps,
                "multiplier": self.multiplier,
                "seed": self.seed,
                "method": self.extras.get("method", "reg"),
            },
        )


def _plain(value: object) -> object:
    """A numpy scalar as the Python value, so that messages show ``7``, not ``np.int64(7)``."""
    return value.item() if isinstance(value, np.generic) else value


def _constant_within_unit(frame: pd.DataFrame, column: str, role: str) -> None:
    counts = frame.groupby("__unit", sort=False)[column].nunique(dropna=False)
    bad = counts[counts > 1]
    if not bad.empty:
        raise EstimationError(
            f"{role} must be constant within each unit; unit "
            f"{_plain(bad.index[0])!r} has {int(bad.iloc[0])} different values "
            f"({len(bad)} units in all)"
        )


def _check_unit_weights(frame: pd.DataFrame, weights: str) -> None:
    """Raise EstimationError naming a unit whose weight is missing, negative or not constant."""
    for bad, what in ((frame["__w"].isna(), "is missing"), (frame["__w"] < 0, "is negative")):
        if bad.any():
            first_unit = _plain(frame.loc[bad, "__unit"].iloc[0])
            raise EstimationError(
                f"column {weights!r} (weights) {what} for unit {first_unit!r} in period "
                f"{frame.loc[bad, '__time'].iloc[0]:g} ({int(bad.sum())} rows in all); sampling "
                "weights must be given, and >= 0, for every unit and period"
            )
    _constant_within_unit(frame, "__w", f"weights column {weights!r} (sampling weights are "
                          "unit-level, as in R's did)")


def staggered_did(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    *,
    control_group: Literal["never", "not_yet"] = "never",
    cluster: str | None = None,
    weights: str | None = None,
    anticipation: int = 0,
    base_period: Literal["varying", "universal"] = "varying",
    covariates: str | Sequence[str] = (),
    method: Literal["reg", "dr", "ipw"] = "dr",
    bootstrap_reps: int = 999,
    seed: int | None = None,
    multiplier: Literal["mammen", "rademacher"] = "mammen",
) -> StaggeredResult:
    """Callaway and Sant'Anna (2021) group-time ATT(g,t) on a balanced panel.

    Every cohort g is compared with the never-treated units (``control_group="never"``) or with
    the units not yet treated by max(t, base period) + anticipation (``"not_yet"``), in the
    change of ``outcome`` between period t and the base period: for post periods (t >= g) the
    last period before g - anticipation; for pre periods the previous period
    (``base_period="varying"``, R's default) or the same base as the post periods
    (``"universal"``, where the reference cell is reported as 0). Standard errors are analytic,
    from the influence functions, clustered by unit (or by ``cluster``, which must be constant
    within unit; R's ``did`` only clusters above the unit in its bootstrap, so this is the
    analytic analogue without a small-sample factor). ``conf_int`` and ``conf_low/high`` are
    pointwise normal; uniform (sup-t) bands come from a multiplier bootstrap of the influence
    functions (``uniform_low/high`` in ``group_time``, ``uniform_critical_value()``).

    Parameters
    ----------
    data : pandas.DataFrame
        Long panel, one row per unit and period; not changed.
    outcome : str
        Outcome column.
    unit : str
        Unit identifier.
    time : str
        Period, integer-valued.
    cohort : str
        First treated period of the unit, 0 for never treated (constant within unit). Cohorts
        after the last period are treated as never treated; units treated in the first period
        are dropped (both counted in ``extras``).
    control_group : {"never", "not_yet"}, default "never"
    cluster : str, optional
        Cluster column above the unit; default: the unit.
    weights : str, optional
        Sampling (survey) weights, as R's ``did``/``moderndid`` ``weightsname``: unit-level
        (constant within unit; a unit whose weight changes between rounds, or is missing or
        negative in any round, is an error naming the unit), normalised to mean 1 over the
        units used. They enter each cell as DRDID's ``i.weights`` (weighted means without
        covariates; with covariates the weighted logit propensity score, weighted outcome
        regression and weighted ATT, each influence function included), the cohort shares
        that weight the aggregations, and the influence of estimating those shares (R's
        ``wif``). R's overlap check (a propensity score reaching 0.999) stays unweighted, as
        in R. Units with weight 0 are dropped and counted in
        ``extras["n_units_dropped_zero_weight"]`` (they would contribute nothing).
    anticipation : int, default 0
        Periods before g in which units may already react.
    base_period : {"varying", "universal"}, default "varying"
    covariates : str or sequence of str, default ()
        Covariates for conditional parallel trends, taken in each cell at the earlier of the base
        period and t (R's ``did``; use baseline or time-invariant characteristics). Units with a
        missing covariate in any period are dropped as unbalanced. Without covariates every
        method gives the unconditional estimator.
    method : {"reg", "dr", "ipw"}, default "dr"
        Estimator of each cell with covariates, as R's ``did`` ``est_method``: ``"reg"`` outcome
        regression (DRDID ``reg_did_panel``), ``"ipw"`` normalised IPW with a logit score
        (``std_ipw_did_panel``), ``"dr"`` doubly robust (``drdid_panel``, the traditional
        locally efficient estimator, which is what R's ``did`` and ``moderndid.att_gt`` run for
        ``est_method="dr"``; the improved estimator is ``did(method="dr")``). As in R, a cell
        whose unweighted logit propensity score reaches 0.999 (``"ipw"``, ``"dr"``) or whose
        regression is singular is skipped and listed in ``extras["skipped_cells"]``, with the
        reason in ``extras["cell_warnings"]``; comparison units with a score of 0.995 or more are
        trimmed.
    bootstrap_reps : int, default 999
        Multiplier-bootstrap draws for the uniform bands; 0 turns the bands off (NaN).
    seed : int, optional
        Seed of the bootstrap; drawn once and recorded in ``result.seed`` when not given.
    multiplier : {"mammen", "rademacher"}, default "mammen"
        Bootstrap weights, one per cluster: Mammen's two-point weights (R ``did``) or signs.
        The draws perturb cluster sums of the influence functions, so the bootstrap variance
        equals the analytic clustered variance; R's ``did`` perturbs cluster means scaled by
        sqrt(G) instead, which differs when clusters differ in size.

    Returns
    -------
    StaggeredResult
        ``.group_time``, ``.aggregate(kind)``, ``.pre_trend_test()``,
        ``.uniform_critical_value()``; ``extras`` counts units dropped for a missing period or
        value (``n_units_dropped_unbalanced``), units treated in the first period
        (``n_units_dropped_treated_first_period``), units whose cohort is after the last period
        (``n_units_late_cohort_as_never``) and skipped cells.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rows = [(i, t, 3 if i < 20 else 0) for i in range(40) for t in (1, 2, 3, 4)]
    >>> frame = pd.DataFrame(rows, columns=["id", "t", "g"])
    >>> frame["y"] = np.arange(len(frame)) % 5 + 2.0 * (frame.t >= frame.g) * (frame.g > 0)
    >>> round(staggered_did(frame, "y", "id", "t", "g").aggregate("simple").estimate, 6)
    2.0
    """
    check_frame(data)
    check_choice("control_group", control_group, CONTROL_GROUPS)
    check_choice("base_period", base_period, BASE_PERIODS)
    check_choice("method", method, METHODS)
    check_choice("multiplier", multiplier, MULTIPLIERS)
    if isinstance(anticipation, bool) or not isinstance(anticipation, int) or anticipation < 0:
        raise ConfigError(f"anticipation must be a whole number >= 0, found {anticipation!r}")
    if (
        isinstance(bootstrap_reps, bool)
        or not isinstance(bootstrap_reps, int)
        or (bootstrap_reps < 0)
    ):
        raise ConfigError(
            f"bootstrap_reps must be a whole number >= 0 (0: no uniform bands), found "
            f"{bootstrap_reps!r}"
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ConfigError(f"seed must be a whole number >= 0 or None, found {seed!r}")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**63))
    covariate_names = as_names("covariates", covariates)
    for name, value in (("outcome", outcome), ("unit", unit), ("time", time), ("cohort", cohort)):
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be one column name, found {value!r}")
    for name, value in (("cluster", cluster), ("weights", weights)):
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{name} must be one column name or None, found {value!r}")
    check_columns(
        data,
        {
            "outcome": (outcome,),
            "unit": (unit,),
            "time": (time,),
            "cohort": (cohort,),
            "cluster": as_names("cluster", cluster),
            "weights": as_names("weights", weights),
            "covariates": covariate_names,
        },
    )
    if {outcome, unit, time, cohort} & set(covariate_names):
        raise ConfigError(
            f"covariates {list(covariate_names)} include the outcome, unit, time or cohort column"
        )
    frame = pd.DataFrame(
        {
            "__unit": data[unit].to_numpy(),
            "__time": numeric_column(data, time, "time"),
            "__cohort": numeric_column(data, cohort, "cohort"),
            "__y": numeric_column(data, outcome, "outcome"),
        }
    )
    for position, column in enumerate(covariate_names):
        frame[f"__x{position}"] = numeric_column(data, column, "covariate")
    if cluster is not None and cluster != unit:
        frame["__cluster"] = data[cluster].to_numpy()
    if weights is not None:
        frame["__w"] = numeric_column(data, weights, "weights")
    if frame["__unit"].isna().any() or frame["__time"].isna().any():
        raise EstimationError(
            f"columns {unit!r} (unit) and {time!r} (time) must not have missing values; "
            f"found {int(frame['__unit'].isna().sum())} and {int(frame['__time'].isna().sum())}"
        )
    if not np.all(np.equal(np.mod(frame["__time"].to_numpy(), 1), 0)):
        raise EstimationError(f"column {time!r} (time) must hold whole numbers (periods)")
    cohort_values = frame["__cohort"].dropna().to_numpy()
    if not np.all(np.equal(np.mod(cohort_values, 1), 0)):
        raise EstimationError(
            f"column {cohort!r} (cohort) must hold whole numbers (first treated period, 0 if never)"
        )
    duplicated = frame.duplicated(["__unit", "__time"])
    if duplicated.any():
        first = frame.loc[duplicated].iloc[0]
        raise EstimationError(
            f"unit {_plain(first['__unit'])!r} appears more than once in period "
            f"{first['__time']:g} "
            f"({int(duplicated.sum())} duplicated unit-period rows); the panel needs one row per "
            "unit and period"
        )
    _constant_within_unit(frame, "__cohort", f"cohort column {cohort!r}")
    if "__cluster" in frame:
        _constant_within_unit(frame, "__cluster", f"cluster column {cluster!r}")
    if weights is not None:
        _check_unit_weights(frame, weights)

    wide = frame.pivot(index="__unit", columns="__time", values="__y")
    period_list = wide.columns.to_numpy(dtype=float)
    unit_info = frame.groupby("__unit", sort=False).first().reindex(wide.index)
    cohorts = unit_info["__cohort"].to_numpy(dtype=float)
    complete = ~np.isnan(wide.to_numpy()).any(axis=1) & ~np.isnan(cohorts)
    covariate_panels = []
    for position in range(len(covariate_names)):
        panel = frame.pivot(index="__unit", columns="__time", values=f"__x{position}")
        panel = panel.reindex(index=wide.index, columns=wide.columns).to_numpy(dtype=float)
        complete &= ~np.isnan(panel).any(axis=1)
        covariate_panels.append(panel)
    if "__cluster" in frame:
        complete &= unit_info["__cluster"].notna().to_numpy()
    n_unbalanced = int((~complete).sum())
    zero_weight = np.zeros(complete.size, dtype=bool)
    if weights is not None:
        zero_weight = complete & (unit_info["__w"].to_numpy(dtype=float) == 0)
        complete &= ~zero_weight
    late = complete & (cohorts > period_list.max())
    cohorts = np.where(late, 0.0, cohorts)
    first_treated = complete & (cohorts > 0) & (cohorts <= period_list.min())
    keep = complete & ~first_treated
    outcomes = wide.to_numpy(dtype=float)[keep]
    covariate_panels = [panel[keep] for panel in covariate_panels]
    cohorts = cohorts[keep]
    n_units = int(keep.sum())
    if n_units == 0:
        raise EstimationError("no units are left after dropping units missing a period"
                              + (" or with weight 0" if zero_weight.any() else ""))
    unit_weights = None
    if weights is not None:
        unit_weights = unit_info["__w"].to_numpy(dtype=float)[keep]
        unit_weights = unit_weights / unit_weights.mean()
    if np.any(cohorts < 0):
        raise EstimationError(f"column {cohort!r} (cohort) must be 0 or a period, found negatives")
    if "__cluster" in frame:
        cluster_codes, cluster_labels = pd.factorize(unit_info["__cluster"].to_numpy()[keep])
        cluster_name = cluster
    else:
        cluster_codes = np.arange(n_units)
        cluster_labels = unit_info.index.to_numpy()[keep]
        cluster_name = unit
    never = cohorts == 0
    if control_group == "never" and not never.any():
        raise EstimationError(
            f"control_group='never' needs never-treated units (cohort 0 in {cohort!r}); there "
            "are none. Use control_group='not_yet'"
        )
    cohort_list = np.unique(cohorts[~never])
    if cohort_list.size == 0:
        raise EstimationError(f"no treated units: every unit has cohort 0 in {cohort!r}")

    cell_groups, cell_times, cell_estimates, cell_influence = [], [], [], []
    skipped: list[tuple[float, float]] = []
    warnings_list: list[str] = []
    n_periods = period_list.size
    first_index = 1 if base_period == "varying" else 0
    for g in cohort_list:
        pre = np.flatnonzero(period_list < g - anticipation)
        for t_index in range(first_index, n_periods):
            t = period_list[t_index]
            if base_period == "universal" or g <= t:
                if pre.size == 0:
                    skipped.append((g, t))
                    continue
                base_index = int(pre[-1])
            else:
                base_index = t_index - 1
            if base_period == "universal" and base_index == t_index:
                cell_groups.append(g)
                cell_times.append(t)
                cell_estimates.append(0.0)
                cell_influence.append(np.zeros(n_units))
                continue
            treated = cohorts == g
            if control_group == "never":
                control = never
            else:
                limit = max(t, period_list[base_index]) + anticipation
                control = never | ((cohorts > limit) & (cohorts != g))
            if not treated.any() or not control.any():
                skipped.append((g, t))
                continue
            change = outcomes[:, t_index] - outcomes[:, base_index]
            if covariate_panels:
                cell = _conditional_cell(
                    change,
                    treated,
                    control,
                    [panel[:, min(base_index, t_index)] for panel in covariate_panels],
                    method,
                    unit_weights,
                )
                if isinstance(cell, str):
                    skipped.append((g, t))
                    warnings_list.append(f"ATT(g={_format_value(g)}, t={_format_value(t)}): {cell}")
                    continue
                estimate, function = cell
            else:
                estimate, function = _unconditional_cell(change, treated, control, unit_weights)
            cell_groups.append(g)
            cell_times.append(t)
            cell_estimates.append(estimate)
            cell_influence.append(function)
    if not cell_estimates:
        raise EstimationError("no group-time effect could be estimated (no usable comparisons)")
    return StaggeredResult(
        outcome=outcome,
        groups=np.array(cell_groups, dtype=np.int64),
        times=np.array(cell_times, dtype=np.int64),
        estimates=np.array(cell_estimates),
        influence=np.column_stack(cell_influence),
        unit_cohorts=cohorts,
        cluster_codes=np.asarray(cluster_codes, dtype=np.int64),
        cluster=cluster_name,
        control_group=control_group,
        base_period=base_period,
        anticipation=anticipation,
        bootstrap_reps=bootstrap_reps,
        seed=seed,
        multiplier=multiplier,
        cluster_labels=np.asarray(cluster_labels),
        unit_weights=unit_weights,
        extras={
            "n_units": n_units,
            "weights": weights,
            "n_units_dropped_zero_weight": int(zero_weight.sum()),
            "method": method if covariate_names else "unconditional",
            "covariates": covariate_names,
            "cell_warnings": tuple(warnings_list),
            "n_units_dropped_unbalanced": n_unbalanced,
            "n_units_dropped_treated_first_period": int(first_treated.sum()),
            "n_units_late_cohort_as_never": int(late.sum()),
            "skipped_cells": tuple(skipped),
        },
    )


def _unconditional_cell(
    change: np.ndarray,
    treated: np.ndarray,
    control: np.ndarray,
    unit_weights: np.ndarray | None,
) -> tuple[float, np.ndarray]:
    """One cell without covariates: the (weighted) difference in mean changes and its IF.

    The influence function of unit i is ``n w_i / sum_treated(w) (dy_i - mean_treated)`` for
    treated units and ``-n w_i / sum_control(w) (dy_i - mean_control)`` for controls, which is
    DRDID's ``reg_did_panel`` with an intercept only, scaled by n / n_cell as R's ``did``
    (and equal to its ``ipw`` and ``dr`` estimators without covariates).

    Examples
    --------
    >>> change = np.array([3.0, 5.0, 1.0, 2.0])
    >>> treated, control = np.array([1, 1, 0, 0], bool), np.array([0, 0, 1, 1], bool)
    >>> estimate, function = _unconditional_cell(change, treated, control, np.array(
    ...     [1.0, 3.0, 1.0, 1.0]))
    >>> estimate, function.tolist()
    (3.0, [-1.5, 1.5, 1.0, -1.0])
    """
    n_units = change.size
    w = np.ones(n_units) if unit_weights is None else unit_weights
    w_treated, w_control = w[treated], w[control]
    mean_treated = np.average(change[treated], weights=w_treated)
    mean_control = np.average(change[control], weights=w_control)
    function = np.zeros(n_units)
    function[treated] = n_units * w_treated / w_treated.sum() * (change[treated] - mean_treated)
    function[control] = -n_units * w_control / w_control.sum() * (change[control] - mean_control)
    return float(mean_treated - mean_control), function


def _conditional_cell(
    change: np.ndarray,
    treated: np.ndarray,
    control: np.ndarray,
    covariates: list[np.ndarray],
    method: str,
    unit_weights: np.ndarray | None = None,
) -> tuple[float, np.ndarray] | str:
    """One group-time cell under conditional parallel trends, or the reason it is skipped.

    ``unit_weights`` (sampling weights) enter the Sant'Anna-Zhao estimator as DRDID's
    ``i.weights`` (renormalised to mean 1 among the cell's units there); the overlap check
    stays unweighted, as in R's ``did``.
    """
    n_units = change.size
    valid = treated | control
    d = treated[valid].astype(float)
    x = np.column_stack([np.ones(int(valid.sum()))] + [values[valid] for values in covariates])
    try:
        if method in ("ipw", "dr") and max_propensity(d, x) >= OVERLAP_LIMIT:
            return f"overlap fails (a propensity score reaches {OVERLAP_LIMIT})"
        fit = panel_att(change[valid], d, x,
                        None if unit_weights is None else unit_weights[valid],
                        "dr_traditional" if method == "dr" else method)
    except EstimationError as error:
        return str(error)
    function = np.zeros(n_units)
    function[valid] = n_units / valid.sum() * fit.influence
    return fit.estimate, function
