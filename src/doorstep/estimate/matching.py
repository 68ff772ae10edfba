"""Greedy nearest-neighbour matching in MatchIt's conventions.

This module owns :func:`nearest_neighbor_match` and its frozen result :class:`MatchResult` (the
matched units with their match weights and subclasses, balance after matching and, when an
outcome is given, the effect as an :class:`~doorstep.estimate.result.EstimationResult`). The
propensity score is the logit of ``doorstep.estimate.weighting``; balance uses
``doorstep.estimate.balance``; the effect is a weighted :func:`doorstep.estimate.regress`. The
result keeps row labels and weights, never the data. This module must not import
``doorstep.io``, ``doorstep.report``, ``doorstep.run`` or notebook code.

Conventions (MatchIt 4, ``method = "nearest"``):

* Distance ``"propensity"``: ``|e_i - e_j|`` with ``e`` the logit propensity score (MatchIt's
  ``distance = "glm"``); ``"propensity_logit"``: the difference of the linear predictors
  (``link = "linear.logit"``); ``"mahalanobis"``: the Mahalanobis distance with the pooled
  within-arm covariance matrix (each arm's covariance weighted by its n - 1).
* Order: focal units (treated for the ATT, controls for the ATC) are matched from the largest
  propensity score down for the ATT (``m.order = "largest"``), from the smallest up for the ATC,
  and in data order for Mahalanobis matching; with ``ratio=k`` matching proceeds in k rounds
  (every focal unit gets its first match before any gets a second), as MatchIt does.
* Ties: among equally distant candidates the one with the smaller distance value (propensity)
  wins, then the earlier row, so the matching is deterministic. Textbook exact matching that
  averages every control of a cell (Cunningham's Mixtape, ch. 5: ATT $1,695 in its training
  example) is ``exact=`` with ``ratio`` at least the largest cell; 1:1 keeps one control per
  focal unit (there $1,607.50). Abadie-Imbens matching (Stata ``teffects nnmatch``/``psmatch``)
  is with replacement and keeps all tied controls, so it agrees with ``replace=True`` only when
  there are no ties.
* Caliper: in standard deviations of the distance measure over all units with complete data
  (MatchIt's ``std.caliper = TRUE``); not available with Mahalanobis distance.
* Weights: a matched focal unit gets 1; a matched non-focal unit gets the sum over the focal
  units it is matched to of 1 / (their number of matches); non-focal weights are then scaled to
  sum to the number of matched non-focal units. Unmatched units get 0. Sampling weights
  (``weights=``, MatchIt's ``s.weights``) enter the propensity model and then multiply these
  match weights (``match.data()``); the matching itself, the Mahalanobis covariance and the SD
  of the caliper are unweighted.
* Effect: the weighted least squares of the outcome on the treatment in the matched sample
  (the difference of weighted means), with standard errors clustered by subclass (pair)
  without replacement, HC1 with replacement, or clustered by ``cluster=`` when given: the
  procedure of MatchIt's vignette "Estimating Effects After Matching" (there with
  ``sandwich::vcovCL``, CR1; we use t(G-1), or t(N-K) for HC1).
* Covariate adjustment (``adjust_covariates=True``): the same weighted regression with the
  matching covariates, centred at their weighted means in the focal arm, and their interactions
  with the treatment, so that the coefficient of the treatment is the ATT (ATC) also when the
  effect varies with the covariates (MatchIt's vignette's g-computation; Abadie and Spiess 2022,
  "Robust post-matching inference", for the clustered-by-pair standard errors). Without it the
  pair-clustered standard error ignores that the propensity score was estimated, which makes it
  conservative when a covariate of the score also drives the outcome (Abadie and Imbens 2016:
  in ``tests/test_monte_carlo.py``, 98% coverage of nominal 95% intervals, standard error 0.155
  against a sampling SD of 0.121); adjusting removes that part of the variance from both the
  estimate and its standard error (95.6% coverage, SE 0.110 against SD 0.107 there).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

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
from doorstep.estimate.balance import CovariateBalance, balance_from_arrays
from doorstep.estimate.linear import _check_binary_treatment, _check_rank, regress
from doorstep.estimate.result import EstimationResult
from doorstep.estimate.weighting import fit_logit

__all__ = ["MatchResult", "nearest_neighbor_match"]

DISTANCES = ("propensity", "propensity_logit", "mahalanobis")
MATCH_ESTIMANDS = ("ATT", "ATC")


@dataclasses.dataclass(frozen=True)
class MatchResult:
    """Matched sample, balance after matching and (with an outcome) the effect.

    Attributes
    ----------
    matched : pandas.DataFrame
        One row per matched unit: ``row`` (the index label in the caller's frame),
        ``treated`` (0/1), ``subclass`` (the matched set; missing with replacement),
        ``weight`` (match weight, times the sampling weight with ``weights=``) and
        ``distance`` (the propensity score, or missing for Mahalanobis matching).
    balance : CovariateBalance
        Balance of the covariates before and after matching (standardised by the SD of the
        focal arm before matching).
    effect : EstimationResult or None
        The ATT (or ATC) when ``outcome=`` was given.
    n_focal_unmatched : int
        Focal units that received no match (caliper, exact cells or too few controls).
    estimand : str
        ``"ATT"`` or ``"ATC"``.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"d": [1, 1, 0, 0, 0], "x": [1.0, 2.0, 1.1, 5.0, 2.2]})
    >>> result = nearest_neighbor_match(frame, "d", ["x"], distance="mahalanobis")
    >>> sorted(result.matched["row"].tolist())
    [0, 1, 2, 4]
    """

    matched: pd.DataFrame
    balance: CovariateBalance
    effect: EstimationResult | None
    n_focal_unmatched: int
    estimand: str

    def matched_data(self, data: pd.DataFrame) -> pd.DataFrame:
        """A new frame: the matched rows of ``data`` with ``weight`` and ``subclass`` columns."""
        frame = data.loc[self.matched["row"].to_numpy()].copy()
        frame["weight"] = self.matched["weight"].to_numpy()
        frame["subclass"] = self.matched["subclass"].to_numpy()
        return frame


def _pooled_inverse_covariance(matrix: np.ndarray, focal: np.ndarray, names) -> np.ndarray:
    pooled = np.zeros((matrix.shape[1], matrix.shape[1]))
    degrees = 0
    for arm in (True, False):
        block = matrix[focal == arm]
        if block.shape[0] > 1:
            pooled += np.atleast_2d(np.cov(block, rowvar=False)) * (block.shape[0] - 1)
            degrees += block.shape[0] - 1
    pooled /= max(degrees, 1)
    try:
        return np.linalg.inv(pooled)
    except np.linalg.LinAlgError as error:
        raise EstimationError(
            f"the covariance of {', '.join(names)} is singular within the arms; drop a "
            "covariate that is constant or collinear"
        ) from error


def _greedy(
    *,
    focal_order: np.ndarray,
    candidates: np.ndarray,
    distance_to: Callable[[int, np.ndarray], np.ndarray],
    tiebreak: np.ndarray,
    cells: np.ndarray,
    ratio: int,
    replace: bool,
    caliper: float | None,
) -> dict[int, list[int]]:
    """Greedy matching in rounds; returns focal index -> matched candidate indices."""
    available = np.ones(candidates.size, dtype=bool)
    matches: dict[int, list[int]] = {int(unit): [] for unit in focal_order}
    # Candidates sorted by the tie-break key (distance value, then row) once.
    sort = np.lexsort((candidates, tiebreak[candidates]))
    sorted_candidates = candidates[sort]
    for _ in range(ratio):
        for unit in focal_order:
            allowed = available[sort] & (cells[sorted_candidates] == cells[unit])
            if matches[unit]:
                allowed &= ~np.isin(sorted_candidates, matches[unit])
            if not allowed.any():
                continue
            distances = distance_to(unit, sorted_candidates)
            distances = np.where(allowed, distances, np.inf)
            best = int(np.argmin(distances))  # first minimum: smallest key among ties
            if not np.isfinite(distances[best]):
                continue
            if caliper is not None and distances[best] > caliper:
                continue
            matches[unit].append(int(sorted_candidates[best]))
            if not replace:
                available[sort[best]] = False
    return matches


def _adjusted_design(
    work: pd.DataFrame,
    matrix: np.ndarray,
    names: Sequence[str],
    focal: np.ndarray,
    estimand: str,
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The regression of the covariate-adjusted effect: columns, regressors and term names.

    Covariates are centred at their weighted means in the focal arm, so that the coefficient of
    the treatment, with treatment x covariate interactions, is the effect in the focal arm.

    Examples
    --------
    >>> work = pd.DataFrame({"outcome": [1.0, 2, 3, 4], "treated": [1.0, 1, 0, 0],
    ...                      "weight": [1.0, 1, 1, 1]})
    >>> frame, regressors, terms = _adjusted_design(
    ...     work, np.array([[1.0], [3.0], [0.0], [2.0]]), ["x"], np.array([True, True, False,
    ...     False]), "ATT")
    >>> frame["covariate_0"].tolist(), regressors[0], terms
    ([-1.0, 1.0, -2.0, 0.0], 'treated', ['ATT', 'x', 'ATT:x'])
    """
    frame = work.copy()
    weights = frame["weight"].to_numpy()
    treated = frame["treated"].to_numpy()
    centres = np.average(matrix[focal], axis=0, weights=weights[focal])
    regressors, terms = ["treated"], [estimand]
    for position in range(len(names)):
        centred = matrix[:, position] - centres[position]
        frame[f"covariate_{position}"] = centred
        frame[f"interaction_{position}"] = treated * centred
    regressors += [f"covariate_{position}" for position in range(len(names))]
    regressors += [f"interaction_{position}" for position in range(len(names))]
    terms += list(names) + [f"{estimand}:{name}" for name in names]
    return frame, regressors, terms


def nearest_neighbor_match(
    data: pd.DataFrame,
    treatment: str,
    covariates: str | Sequence[str],
    *,
    distance: str = "propensity",
    ratio: int = 1,
    caliper: float | None = None,
    replace: bool = False,
    exact: str | Sequence[str] = (),
    estimand: str = "ATT",
    outcome: str | None = None,
    weights: str | None = None,
    cluster: str | None = None,
    adjust_covariates: bool = False,
) -> MatchResult:
    """Greedy k:1 nearest-neighbour matching, MatchIt-style, with balance and the ATT.

    See the module docstring for the conventions (order, ties, caliper, weights, standard
    errors); they follow MatchIt 4's ``matchit(method = "nearest")``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit; not changed. Rows with a missing value in a used column are dropped.
    treatment : str
        Treatment column coded 0/1.
    covariates : str or sequence of str
        Covariates of the propensity model, or of the Mahalanobis distance.
    distance : {"propensity", "propensity_logit", "mahalanobis"}, default "propensity"
    ratio : int, default 1
        Number of matches per focal unit (k:1).
    caliper : float, optional
        Maximum distance, in standard deviations of the distance measure.
    replace : bool, default False
        Match with replacement (a control may serve several treated units).
    exact : str or sequence of str, optional
        Columns that must be equal within a match (any dtype).
    estimand : {"ATT", "ATC"}, default "ATT"
        ATT matches controls to treated units; ATC matches treated units to controls.
    outcome : str, optional
        When given, the effect is estimated in the matched sample.
    weights : str, optional
        Sampling (survey) weights, as MatchIt's ``s.weights``: they enter the propensity
        model (a weighted logit) but not the matching itself, and multiply the match weights
        in the balance after matching, in ``matched["weight"]`` and in the effect's weighted
        regression, so that the ATT is the sampling-weighted population's. Balance before
        matching is weighted too. Rows with zero weight are dropped.
    cluster : str, optional
        Cluster column for the effect's standard error (instead of subclass).
    adjust_covariates : bool, default False
        Estimate the effect by the weighted regression of the outcome on the treatment, the
        covariates centred at their focal-arm means, and their interactions (see the module
        docstring); the extra terms are reported as ``<covariate>`` and
        ``<estimand>:<covariate>``. Advised: the standard error then reflects the matched
        design, not the noise of covariates that the score balances only on average.

    Returns
    -------
    MatchResult

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(3)
    >>> x = rng.normal(size=600)
    >>> d = (rng.random(600) < 1 / (1 + np.exp(1 - x))).astype(int)
    >>> frame = pd.DataFrame({"x": x, "d": d, "y": 1.0 * d + x + rng.normal(size=600)})
    >>> result = nearest_neighbor_match(frame, "d", ["x"], outcome="y")
    >>> result.effect.term("ATT").estimator, int(result.matched["treated"].sum()) == int(d.sum())
    ('nearest_neighbor_match', True)
    """
    check_frame(data)
    check_choice("distance", distance, DISTANCES)
    check_choice("estimand", estimand, MATCH_ESTIMANDS)
    if isinstance(ratio, bool) or not isinstance(ratio, int | np.integer) or ratio < 1:
        raise ConfigError(f"ratio must be a positive whole number, found {ratio!r}")
    if not isinstance(replace, bool):
        raise ConfigError(f"replace must be True or False, found {replace!r}")
    if not isinstance(adjust_covariates, bool):
        raise ConfigError(f"adjust_covariates must be True or False, found {adjust_covariates!r}")
    if caliper is not None:
        if isinstance(caliper, bool) or not isinstance(caliper, int | float) or caliper <= 0:
            raise ConfigError(f"caliper must be a positive number of SDs, found {caliper!r}")
        if distance == "mahalanobis":
            raise ConfigError(
                "caliper= is in SDs of the propensity score; it is not available with "
                "distance='mahalanobis' (MatchIt allows calipers only on named covariates there)"
            )
    names = as_names("covariates", covariates)
    if not names:
        raise ConfigError("covariates must name at least one column")
    exact_names = as_names("exact", exact)
    for name, value in (("outcome", outcome), ("weights", weights), ("cluster", cluster)):
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{name} must be one column name or None, found {value!r}")
    check_columns(
        data,
        {
            "treatment": (treatment,),
            "covariates": names,
            "exact": exact_names,
            "outcome": as_names("outcome", outcome),
            "weights": as_names("weights", weights),
            "cluster": as_names("cluster", cluster),
        },
    )
    _check_binary_treatment(data, treatment)
    treated = numeric_column(data, treatment, "treatment")
    arrays = {name: numeric_column(data, name, "covariate") for name in names}
    keep = ~np.isnan(treated)
    for values in arrays.values():
        keep &= ~np.isnan(values)
    outcome_values = None
    if outcome is not None:
        outcome_values = numeric_column(data, outcome, "outcome")
        keep &= ~np.isnan(outcome_values)
    cell_codes = np.zeros(len(data), dtype=np.int64)
    if exact_names:
        codes = [factor_codes(data, name) for name in exact_names]
        for code in codes:
            keep &= code >= 0
        cell_codes = np.unique(np.column_stack(codes), axis=0, return_inverse=True)[1].reshape(-1)
    cluster_codes = factor_codes(data, cluster) if cluster is not None else None
    if cluster_codes is not None:
        keep &= cluster_codes >= 0
    weights_column = weights  # the name; ``weights`` below holds the match weights
    sampling = np.ones(len(data))
    if weights_column is not None:
        sampling = numeric_column(data, weights_column, "weights")
        if (sampling[keep & ~np.isnan(sampling)] < 0).any():
            raise EstimationError(f"column {weights_column!r} (weights) has negative values")
        keep &= ~np.isnan(sampling) & (sampling > 0)
    rows = np.nonzero(keep)[0]
    if rows.size == 0:
        raise EstimationError("no rows are left after dropping rows with missing values")
    sampling = sampling[rows]
    d = treated[rows]
    matrix = np.column_stack([arrays[name][rows] for name in names])
    cells = cell_codes[rows]
    focal_arm = 1.0 if estimand == "ATT" else 0.0
    focal = d == focal_arm
    if not focal.any() or focal.all():
        raise EstimationError(
            f"treatment column {treatment!r} needs both treated and control rows with complete "
            "data"
        )

    propensity = None
    if distance == "mahalanobis":
        inverse = _pooled_inverse_covariance(matrix, focal, names)

        def distance_to(unit: int, others: np.ndarray) -> np.ndarray:
            gap = matrix[others] - matrix[unit]
            return np.sqrt(np.einsum("ij,jk,ik->i", gap, inverse, gap))

        tiebreak = np.zeros(rows.size)
        focal_index = np.nonzero(focal)[0]
        order = focal_index  # data order
        caliper_width = None
    else:
        design = np.column_stack([np.ones(rows.size), matrix])
        _check_rank(design, ("intercept", *names), absorbed=False)
        gamma = fit_logit(design, d, sampling)
        linear = design @ gamma
        propensity = special.expit(linear)
        measure = propensity if distance == "propensity" else linear

        def distance_to(unit: int, others: np.ndarray) -> np.ndarray:
            return np.abs(measure[others] - measure[unit])

        tiebreak = measure
        focal_index = np.nonzero(focal)[0]
        descending = estimand == "ATT"
        key = -measure[focal_index] if descending else measure[focal_index]
        order = focal_index[np.argsort(key, kind="stable")]
        caliper_width = None if caliper is None else float(caliper) * float(np.std(measure, ddof=1))
    matches = _greedy(
        focal_order=order,
        candidates=np.nonzero(~focal)[0],
        distance_to=distance_to,
        tiebreak=tiebreak,
        cells=cells,
        ratio=int(ratio),
        replace=replace,
        caliper=caliper_width,
    )

    weights = np.zeros(rows.size)
    subclass = np.full(rows.size, -1, dtype=np.int64)
    next_subclass = 0
    for unit in focal_index:  # subclasses numbered in data order of the focal units
        matched = matches[int(unit)]
        if not matched:
            continue
        weights[unit] = 1.0
        for other in matched:
            weights[other] += 1.0 / len(matched)
        if not replace:
            subclass[unit] = next_subclass
            subclass[matched] = next_subclass
        next_subclass += 1
    n_focal_unmatched = int(sum(1 for unit in focal_index if not matches[int(unit)]))
    if next_subclass == 0:
        raise EstimationError(
            "no unit could be matched (check caliper=, exact= and the overlap of the arms)"
        )
    others = ~focal & (weights > 0)
    weights[others] *= others.sum() / weights[others].sum()

    balance = balance_from_arrays(
        {name: matrix[:, position] for position, name in enumerate(names)},
        d,
        weights,
        sampling_weights=sampling if weights_column is not None else None,
        estimand=estimand,
    )
    weights = weights * sampling  # MatchIt's match.data(): match weights x sampling weights
    in_match = weights > 0
    matched_frame = pd.DataFrame(
        {
            "row": data.index[rows[in_match]],
            "treated": d[in_match].astype(np.int64),
            "subclass": pd.array(
                np.where(subclass[in_match] >= 0, subclass[in_match], 0), dtype="Int64"
            ),
            "weight": weights[in_match],
            "distance": propensity[in_match] if propensity is not None else np.nan,
        }
    )
    if replace:
        matched_frame["subclass"] = pd.array([pd.NA] * int(in_match.sum()), dtype="Int64")

    effect = None
    if outcome_values is not None:
        work = pd.DataFrame(
            {
                "outcome": outcome_values[rows][in_match],
                "treated": d[in_match],
                "weight": weights[in_match],
            }
        )
        regressors = ["treated"]
        terms = [estimand]
        if adjust_covariates:
            work, regressors, terms = _adjusted_design(
                work, matrix[in_match], names, focal[in_match], estimand
            )
        if cluster_codes is not None:
            work["cluster"] = cluster_codes[rows][in_match]
            result = regress(work, "outcome", regressors, weights="weight", cluster="cluster")
            label = result.inference.replace("(cluster)", f"({cluster})")
        elif not replace:
            work["cluster"] = subclass[in_match]
            result = regress(work, "outcome", regressors, weights="weight", cluster="cluster")
            label = result.inference.replace("(cluster)", "(matched subclass)")
        else:
            result = regress(work, "outcome", regressors, weights="weight", vcov="hc1")
            label = result.inference
        if adjust_covariates:
            label += ", covariate-adjusted"
        effect = EstimationResult(
            outcome=outcome,
            estimator="nearest_neighbor_match",
            terms=(*terms, "intercept"),
            coefficients=result.coefficients,
            covariance=result.covariance,
            n_obs=result.n_obs,
            n_clusters=result.n_clusters,
            inference=label,
            df=result.df,
            main_term=estimand,
            extras={
                "n_focal_unmatched": n_focal_unmatched,
                "distance": distance,
                "ratio": int(ratio),
                "replace": replace,
                "caliper": caliper,
                "adjust_covariates": adjust_covariates,
            },
        )
    return MatchResult(
        matched=matched_frame,
        balance=balance,
        effect=effect,
        n_focal_unmatched=n_focal_unmatched,
        estimand=estimand,
    )
