"""Re-deriving the design of a linear result from the caller's frame (never stored in a result).

A result of ``doorstep.estimate`` records its outcome, its terms and (in ``extras``) the absorbed
fixed effects, but not its weights or cluster columns, and some of its regressors are built by the
estimator (the ``d:post`` interaction of ``did``, the event-time indicators of ``event_study``,
the centred interactions of Lin's ``ancova``). This module rebuilds the arrays of such a result
from the data and the names the caller gives (or, when a result records them in
``extras["specification"]``, from there), and checks that refitting reproduces the recorded
coefficients, so that a wrong frame, a forgotten ``weights=`` or a filtered sample is an error
rather than a silently different bootstrap. It must not import ``doorstep.io``,
``doorstep.clean``, ``doorstep.report`` or ``doorstep.run``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import pandas as pd

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate import _within
from doorstep.estimate._checks import as_names, check_columns, check_frame, numeric_column
from doorstep.estimate.covariance import cluster_names
from doorstep.estimate.linear import INTERCEPT, _absorbed_count, _sample
from doorstep.estimate.result import EstimationResult

LINEAR_ESTIMATORS = (
    "ols",
    "wls",
    "ancova",
    "difference_in_means",
    "did_ols",
    "twfe",
    "event_study",
)
COEFFICIENT_TOLERANCE = 1e-6
_LABEL = "__doorstep_cluster_label__"


@dataclasses.dataclass(frozen=True)
class LinearDesign:
    """Arrays of a linear result in the weighted, within-transformed space (no frame).

    ``outcome`` and ``regressors`` are multiplied by the square root of the weights after the
    fixed effects were absorbed; ``root_weights`` is that square root; ``factors`` are the
    absorbed factors as (codes, levels) pairs; ``clusters`` one code array per cluster column.
    """

    outcome: np.ndarray
    regressors: np.ndarray
    terms: tuple[str, ...]
    root_weights: np.ndarray
    weights: np.ndarray
    factors: list[tuple[np.ndarray, int]]
    clusters: tuple[np.ndarray, ...]
    cluster_names: tuple[str, ...]
    n_params: int
    cluster_labels: np.ndarray

    @property
    def n_obs(self) -> int:
        return int(self.outcome.size)


def recorded_specification(result: EstimationResult) -> Mapping[str, object]:
    """The specification recorded by the estimator (``extras["specification"]``), or empty."""
    specification = result.extras.get("specification")
    return specification if isinstance(specification, Mapping) else {}


def _fixed_effects(result: EstimationResult) -> tuple[str, ...]:
    for key in ("fixed_effects", "strata"):
        value = result.extras.get(key)
        if value:
            return tuple(value)
    return ()


def _resolve(result: EstimationResult, cluster, weights) -> tuple[tuple[str, ...], str | None]:
    recorded = recorded_specification(result)
    names = cluster_names(cluster) if cluster is not None else ()
    if not names:
        names = cluster_names(recorded.get("cluster") or None)
    if not names:
        raise ConfigError(
            f"the {result.estimator!r} result for {result.outcome!r} does not record its cluster "
            "column; pass cluster= (the column, or a pair of columns, to cluster on)"
        )
    if weights is None:
        weights = recorded.get("weights")
    if weights is not None and not isinstance(weights, str):
        raise ConfigError(f"weights must be one column name or None, found {weights!r}")
    return names, weights


def _event_indicator(term: str, event: np.ndarray) -> np.ndarray:
    if term.startswith("event_time<="):
        chosen = event <= float(term[len("event_time<=") :])
    elif term.startswith("event_time>="):
        chosen = event >= float(term[len("event_time>=") :])
    else:
        chosen = event == float(term[len("event_time=") :])
    return chosen.astype(float)


def linear_design(
    result: EstimationResult,
    data: pd.DataFrame,
    *,
    cluster: str | tuple[str, str] | None,
    weights: str | None,
    cohort: str | None = None,
    never_treated: float | None = 0,
) -> LinearDesign:
    """Rebuild the arrays of a linear ``result`` from ``data`` and check the refit.

    Raises
    ------
    ConfigError
        The result is not from a linear estimator, or a needed name is missing.
    EstimationError
        Refitting on ``data`` does not reproduce the recorded coefficients.
    """
    if not isinstance(result, EstimationResult):
        raise ConfigError(
            f"result must be an EstimationResult, found {type(result).__name__}"
        )
    if result.estimator not in LINEAR_ESTIMATORS:
        raise ConfigError(
            f"the wild cluster bootstrap needs a linear estimator's result; {result.estimator!r} "
            f"is not one of {', '.join(map(repr, LINEAR_ESTIMATORS))}"
        )
    check_frame(data)
    clusters, weights = _resolve(result, cluster, weights)
    fixed = _fixed_effects(result)
    recorded = recorded_specification(result)
    columns: dict[str, np.ndarray] = {}
    roles: dict[str, str] = {}

    def raw(name: str, role: str) -> np.ndarray:
        check_columns(data, {role: (name,)})
        return numeric_column(data, name, role)

    columns[result.outcome] = raw(result.outcome, "outcome")
    roles[result.outcome] = "outcome"
    interacted = bool(result.extras.get("interacted", False))
    event_times = result.extras.get("event_times") or {}
    event = None
    if result.estimator == "event_study":
        cohort = cohort or recorded.get("cohort")
        if not isinstance(cohort, str):
            raise ConfigError(
                "an event_study result does not record its cohort column; pass cohort= (and "
                "never_treated= if it was not 0)"
            )
        if len(fixed) < 2:
            raise EstimationError("the event_study result does not record its unit and time")
        periods = raw(fixed[1], "time")
        cohorts = raw(cohort, "cohort")
        never = np.isnan(cohorts) if never_treated is None else cohorts == float(never_treated)
        event = np.where(~never & ~np.isnan(cohorts), periods - cohorts, np.nan)
        missing_cohort = np.isnan(cohorts) & ~never
    centred: list[str] = []
    for term in result.terms:
        if term == INTERCEPT and term not in data.columns:
            continue
        if event is not None and term in event_times:
            values = _event_indicator(term, event)
            values[missing_cohort] = np.nan
        elif term in data.columns:
            values = raw(term, "regressor")
        elif ":" in term:
            left, right = term.split(":", 1)
            if interacted:
                centred.append(right)
                columns.setdefault(right, raw(right, "covariate"))
                roles.setdefault(right, "covariate")
                values = raw(left, "treatment")
            else:
                values = raw(left, "regressor") * raw(right, "regressor")
        else:
            raise ConfigError(
                f"term {term!r} of the result is not a column of the data; pass the frame the "
                "result was estimated on"
            )
        columns[term] = values
        roles[term] = "regressor"
    frame_columns = dict(columns)
    for name in (*fixed, *clusters, *as_names("weights", weights)):
        check_columns(data, {"design": (name,)})
        frame_columns.setdefault(name, data[name].to_numpy())
    numeric = {name: roles[name] for name in columns}
    for position, name in enumerate(clusters):
        # Codes in sorted order of the cluster labels (np.unique's order, as wildboottest).
        labels = pd.factorize(data[name], sort=True, use_na_sentinel=True)[0].astype(float)
        labels[labels < 0] = np.nan
        frame_columns[f"{_LABEL}{position}"] = labels
        numeric[f"{_LABEL}{position}"] = "cluster"
    frame = pd.DataFrame(frame_columns)
    sample = _sample(
        frame,
        numeric=numeric,
        fixed_effects=fixed,
        weights=weights,
        cluster=clusters if len(clusters) == 2 else clusters[0],
    )
    if sample.n_obs != result.n_obs:
        raise EstimationError(
            f"the data gives {sample.n_obs} complete rows but the result used {result.n_obs}; "
            "pass the frame and weights= the result was estimated with"
        )
    pieces = []
    for term in result.terms:
        if term == INTERCEPT and term not in sample.numeric:
            pieces.append(np.ones(sample.n_obs))
            continue
        values = sample.numeric[term]
        if interacted and ":" in term and term not in data.columns:
            right = term.split(":", 1)[1]
            covariate = sample.numeric[right]
            values = values * (covariate - np.average(covariate, weights=sample.weights))
        elif interacted and term in centred:
            values = values - np.average(values, weights=sample.weights)
        pieces.append(values)
    x = np.column_stack(pieces)
    y = sample.numeric[result.outcome]
    if sample.factors:
        stacked = _within.demean(np.column_stack([y, x]), sample.factors, sample.weights)
        y, x = stacked[:, 0], stacked[:, 1:]
    root = np.sqrt(sample.weights)
    y_w, x_w = y * root, x * root[:, None]
    coefficients = np.linalg.lstsq(x_w, y_w, rcond=None)[0]
    scale = 1.0 + np.abs(result.coefficients)
    worst = int(np.argmax(np.abs(coefficients - result.coefficients) / scale))
    if abs(coefficients[worst] - result.coefficients[worst]) > COEFFICIENT_TOLERANCE * scale[
        worst
    ]:
        raise EstimationError(
            f"refitting on the data given does not reproduce the result: the coefficient of "
            f"{result.terms[worst]!r} is {coefficients[worst]:.6g}, the result has "
            f"{result.coefficients[worst]:.6g}; pass the same frame and weights= used for it"
        )
    codes = [
        np.unique(sample.numeric[f"{_LABEL}{position}"], return_inverse=True)[1].reshape(-1)
        for position in range(len(clusters))
    ]
    return LinearDesign(
        outcome=y_w,
        regressors=x_w,
        terms=result.terms,
        root_weights=root,
        weights=sample.weights,
        factors=sample.factors,
        clusters=tuple(codes),
        cluster_names=clusters,
        n_params=x.shape[1] + (_absorbed_count(sample, "cluster") if sample.factors else 0),
        cluster_labels=sample.numeric[f"{_LABEL}0"].astype(np.int64),
    )
