"""Panel regressions with absorbed unit and time effects: two-way fixed effects and event studies.

This module owns :func:`twfe` (a treatment indicator with unit and time effects) and
:func:`event_study` (event-time indicators relative to a reference period, with unit and time
effects, binned at the ends when ``leads``/``lags`` are given). Both build their regressors and
hand them to :func:`doorstep.estimate.regress`, so the effects are absorbed by the within
transformation of ``doorstep.estimate._within`` (never dummy matrices), degrees of freedom
follow reghdfe and covariances follow ``doorstep.estimate.covariance``. It must not import
``doorstep.io``, ``doorstep.report``, ``doorstep.run`` or notebook code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate._checks import as_names, check_columns, check_frame, numeric_column
from doorstep.estimate.linear import regress
from doorstep.estimate.result import EstimationResult

__all__ = ["event_study", "twfe"]


def _one_name(role: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        expected = "one column name or None" if optional else "one column name"
        raise ConfigError(f"{role} must be {expected}, found {value!r}")


def twfe(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    unit: str,
    time: str,
    *,
    covariates: str | Sequence[str] = (),
    fixed_effects: str | Sequence[str] = (),
    weights: str | None = None,
    cluster: str | tuple[str, str] | None = None,
    vcov: str | None = None,
) -> EstimationResult:
    """Two-way fixed effects: ``outcome`` on ``treatment`` with unit and time effects absorbed.

    Parameters
    ----------
    data : pandas.DataFrame
        Long panel, one row per unit and period (unbalanced is fine); not changed.
    outcome : str
        Outcome column.
    treatment : str
        Treatment status of the unit in the period (the main term).
    unit, time : str
        Unit and period columns, absorbed as fixed effects.
    covariates : str or sequence of str, optional
        Time-varying controls.
    fixed_effects : str or sequence of str, optional
        Further factors to absorb (e.g. ``"district_by_round"``); any number.
    weights : str, optional
        Analytic or sampling weights (WLS).
    cluster : str or (str, str), optional
        Cluster column, or a pair for two-way clustering as in
        :func:`doorstep.estimate.regress`. Not set by default: the project rule is to cluster
        only when asked (default ``vcov="hc1"``), but with panels users normally pass
        ``cluster=unit`` (or a level above it); then K does not count the unit effects, nested
        in the clusters, as in reghdfe and pyfixest's default ``ssc``.
    vcov : str, optional
        As in :func:`doorstep.estimate.regress`.

    Returns
    -------
    EstimationResult
        ``estimator="twfe"``; ``extras`` as in :func:`doorstep.estimate.regress`. With staggered
        adoption and heterogeneous effects this estimate mixes comparisons with negative weights
        (Goodman-Bacon 2021): prefer :func:`doorstep.estimate.staggered_did` there.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> frame = pd.DataFrame({"hh": np.repeat(np.arange(100), 3), "round": np.tile([1, 2, 3], 100)})
    >>> frame["d"] = ((frame.hh < 50) & (frame["round"] == 3)).astype(int)
    >>> frame["y"] = frame.hh * 0.1 + frame["round"] + 2 * frame.d + rng.normal(0, 0.1, 300)
    >>> round(twfe(frame, "y", "d", "hh", "round", cluster="hh").estimate)
    2
    """
    check_frame(data)
    for role, value in (("outcome", outcome), ("treatment", treatment), ("unit", unit)):
        _one_name(role, value)
    _one_name("time", time)
    extra = as_names("fixed_effects", fixed_effects)
    result = regress(
        data,
        outcome,
        [treatment, *as_names("covariates", covariates)],
        fixed_effects=[unit, time, *extra],
        weights=weights,
        cluster=cluster,
        vcov=vcov,
    )
    return dataclasses.replace(result, estimator="twfe")


def _count(role: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{role} must be a whole number >= 0 or None, found {value!r}")
    return value


def event_study(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    *,
    leads: int | None = None,
    lags: int | None = None,
    reference: int = -1,
    never_treated: float | None = 0,
    covariates: str | Sequence[str] = (),
    fixed_effects: str | Sequence[str] = (),
    weights: str | None = None,
    cluster: str | tuple[str, str] | None = None,
    vcov: str | None = None,
) -> EstimationResult:
    """Dynamic two-way fixed effects: event-time indicators with unit and time effects absorbed.

    For a unit first treated in period g (``cohort``), the event time of period t is e = t - g.
    One indicator per event time enters the regression, except ``reference`` (the normalised
    period, -1 by default, as ``i(rel_time, ref=-1)`` in fixest/pyfixest); never-treated units
    have all indicators 0.

    Parameters
    ----------
    data : pandas.DataFrame
        Long panel, one row per unit and period; not changed.
    outcome, unit, time : str
        Outcome, unit and period (numeric, whole numbers) columns.
    cohort : str
        First treated period of the unit (constant within unit); ``never_treated`` marks units
        never treated.
    leads, lags : int, optional
        Window of event times kept, [-leads, lags]. When given, the end points are binned (the
        Stata ``eventdd, accum`` / reghdfe habit): all event times <= -leads share the indicator
        ``"event_time<=-leads"`` and all >= lags share ``"event_time>=lags"``. When None every
        observed event time on that side gets its own indicator.
    reference : int, default -1
        Event time left out (its effect is normalised to zero); must lie inside the window.
    never_treated : float or None, default 0
        Value of ``cohort`` for never-treated units; None means missing values mark them.
        Otherwise rows with a missing cohort are dropped (counted as missing).
    covariates, fixed_effects, weights, cluster, vcov
        As in :func:`twfe`. Users normally pass ``cluster=unit``.

    Returns
    -------
    EstimationResult
        ``estimator="event_study"``; terms ``"event_time=-3"``, ..., ``"event_time=2"`` in
        event-time order (binned ends named ``"event_time<=-k"`` / ``"event_time>=k"``), then
        covariates. Main term ``"event_time=0"`` (or the first term after the reference).
        ``extras["event_times"]`` maps each event term to its event time (the bin edge for
        binned terms), ``extras["reference"]`` the reference.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(2)
    >>> frame = pd.DataFrame({"hh": np.repeat(np.arange(300), 6), "t": np.tile(range(1, 7), 300)})
    >>> frame["g"] = np.where(frame.hh % 3 == 0, 0, np.where(frame.hh % 3 == 1, 4, 5))
    >>> treated = (frame.g > 0) & (frame.t >= frame.g)
    >>> frame["y"] = frame.t + 2.0 * treated + rng.normal(0, 0.1, len(frame))
    >>> result = event_study(frame, "y", "hh", "t", "g", cluster="hh")
    >>> round(result.term("event_time=0").estimate), round(result.term("event_time=-2").estimate)
    (2, 0)
    """
    check_frame(data)
    for role, value in (("outcome", outcome), ("unit", unit), ("time", time), ("cohort", cohort)):
        _one_name(role, value)
    leads, lags = _count("leads", leads), _count("lags", lags)
    if isinstance(reference, bool) or not isinstance(reference, int):
        raise ConfigError(f"reference must be a whole number (an event time), found {reference!r}")
    if never_treated is not None and (
        isinstance(never_treated, bool) or not isinstance(never_treated, int | float)
    ):
        raise ConfigError(f"never_treated must be a number or None, found {never_treated!r}")
    if (leads is not None and reference < -leads) or (lags is not None and reference > lags):
        raise ConfigError(
            f"reference={reference} lies outside the event window [-leads, lags] = "
            f"[{-leads if leads is not None else '-inf'}, {lags if lags is not None else 'inf'}]"
        )
    names = as_names("covariates", covariates)
    extra = as_names("fixed_effects", fixed_effects)
    _one_name("weights", weights, optional=True)
    check_columns(
        data,
        {
            "outcome": (outcome,),
            "unit": (unit,),
            "time": (time,),
            "cohort": (cohort,),
            "covariates": names,
            "fixed_effects": extra,
            "weights": as_names("weights", weights),
            "cluster": as_names("cluster", cluster),
        },
    )
    periods = numeric_column(data, time, "time")
    cohorts = numeric_column(data, cohort, "cohort")
    finite = ~np.isnan(periods)
    if not np.all(np.equal(np.mod(periods[finite], 1), 0)):
        raise EstimationError(f"column {time!r} (time) must hold whole numbers (periods)")
    never = np.isnan(cohorts) if never_treated is None else cohorts == float(never_treated)
    treated = ~never & ~np.isnan(cohorts)
    if not np.all(np.equal(np.mod(cohorts[treated], 1), 0)):
        raise EstimationError(f"column {cohort!r} (cohort) must hold whole numbers (periods)")
    if not treated.any():
        raise EstimationError(
            f"no treated units: every row of {cohort!r} is the never-treated value "
            f"{never_treated!r} or missing"
        )
    event = np.where(treated, periods - cohorts, np.nan)
    binned = event.copy()
    if leads is not None:
        binned = np.where(binned < -leads, -leads, binned)
    if lags is not None:
        binned = np.where(binned > lags, lags, binned)
    observed = np.unique(binned[~np.isnan(binned)]).astype(int)
    if reference not in observed:
        raise EstimationError(
            f"reference event time {reference} is not observed for any treated unit (observed "
            f"event times {observed.min()} to {observed.max()})"
        )

    def term_name(value: int) -> str:
        if leads is not None and value == -leads and np.any(event < -leads):
            return f"event_time<={value}"
        if lags is not None and value == lags and np.any(event > lags):
            return f"event_time>={value}"
        return f"event_time={value}"

    kept = [int(value) for value in observed if value != reference]
    terms = {term_name(value): value for value in kept}
    clash = [name for name in terms if name in data.columns]
    if clash:
        raise ConfigError(f"the data already has columns named {clash}; rename them")
    used = dict.fromkeys(
        (outcome, unit, time, *names, *extra, *as_names("w", weights), *as_names("c", cluster))
    )
    columns: dict[str, np.ndarray] = {column: data[column].to_numpy() for column in used}
    missing_cohort = np.isnan(cohorts) & ~never
    for name, value in terms.items():
        indicator = (binned == value).astype(float)
        indicator[missing_cohort] = np.nan  # rows without a cohort are dropped as missing
        columns[name] = indicator
    frame = pd.DataFrame(columns)
    result = regress(
        frame,
        outcome,
        [*terms, *names],
        fixed_effects=[unit, time, *extra],
        weights=weights,
        cluster=cluster,
        vcov=vcov,
    )
    post = [name for name, value in terms.items() if value >= 0]
    main = "event_time=0" if "event_time=0" in terms else (post[0] if post else next(iter(terms)))
    return dataclasses.replace(
        result,
        estimator="event_study",
        main_term=main,
        extras={**result.extras, "event_times": dict(terms), "reference": reference},
    )
