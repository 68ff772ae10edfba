"""Multiple testing over a family of outcomes: p-value adjustments and resampling step-downs.

This module owns :func:`adjust_pvalues` (Bonferroni, Holm, Benjamini-Hochberg,
Benjamini-Yekutieli and Anderson's (2008) sharpened q-values, the two-stage procedure of
Benjamini, Krieger and Yekutieli 2006 run on Anderson's grid of q = 0.001, 0.002, ..., 1) and
the step-down adjustments :func:`romano_wolf` (Romano and Wolf 2005, max-|t|) and
:func:`westfall_young` (Westfall and Young 1993, free step-down min-p) computed from a wild
cluster bootstrap of every outcome with common draws (the same weight for a cluster in every
outcome's regression, so the dependence between outcomes is kept; Clarke, Romano and Wolf
2020). The conventions of the step-downs follow pyfixest's ``rwolf``/``wyoung`` (whose t
statistics are CR1's: ``variance="cr1"``; the default is the CV3 t of
``wild_cluster_bootstrap``): null-imposed (WCR) bootstrap t statistics, Romano-Wolf p-values
``(#{max_b >= |t_s|} + 1) / (B + 1)``, Westfall-Young p-values from t(G-1) p-values with
``#{min_b <= p_s} / B``, and monotonicity enforced down the step-down order. The Romano-Wolf
step-down itself is :func:`romano_wolf_from_draws`, which works on any joint bootstrap draws of
the t statistics: the wild cluster bootstrap above, or :func:`multiplier_bootstrap`, the
clustered multiplier bootstrap of influence functions (estimators without a linear design, such
as Callaway and Sant'Anna's staggered ATT; one weight per cluster shared by every test). It must
not import ``doorstep.io``, ``doorstep.clean``, ``doorstep.report`` or ``doorstep.run``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate._checks import check_choice
from doorstep.estimate.result import EstimationResult
from doorstep.inference._design import linear_design
from doorstep.inference.wild import (
    TIE_TOLERANCE,
    VARIANCE_TYPES,
    WEIGHT_TYPES,
    UnidentifiedJackknifeError,
    _bootstrap_pieces,
    _layout,
    _resolve_variance,
    check_count,
    check_seed,
    draw_weights,
    small_sample_factor,
)

__all__ = [
    "ADJUST_METHODS",
    "MultipleTestingResult",
    "MultiplierBootstrap",
    "adjust_pvalues",
    "multiplier_bootstrap",
    "romano_wolf",
    "romano_wolf_from_draws",
    "westfall_young",
]

ADJUST_METHODS = ("bonferroni", "holm", "bh", "by", "sharpened_q")


def _check_pvalues(pvalues: object) -> np.ndarray:
    values = np.array(pvalues, dtype=float, copy=True).reshape(-1)
    if values.size == 0:
        raise ConfigError("pvalues must hold at least one p-value")
    if np.any(np.isnan(values)) or np.any((values < 0) | (values > 1)):
        raise ConfigError(
            f"pvalues must be numbers between 0 and 1 without missing values, found "
            f"{values[np.isnan(values) | (values < 0) | (values > 1)][:5].tolist()}"
        )
    return values


def _sharpened_q(p: np.ndarray) -> np.ndarray:
    """Anderson (2008) / BKY (2006) sharpened q-values, on Anderson's grid of 0.001 steps."""
    m = p.size
    order = np.argsort(p, kind="stable")
    ranks = np.empty(m, dtype=np.int64)
    ranks[order] = np.arange(1, m + 1)
    q_values = np.ones(m)
    for step in range(1000, 0, -1):
        q = step / 1000
        q_first = q / (1 + q)
        rejected_first = ranks[p <= q_first * ranks / m]
        count_first = int(rejected_first.max()) if rejected_first.size else 0
        if count_first == m:
            count_second = m  # Stata: q/0 is missing, and missing >= p is true
        else:
            q_second = q_first * m / (m - count_first)
            rejected = ranks[p <= q_second * ranks / m]
            count_second = int(rejected.max()) if rejected.size else 0
        q_values[ranks <= count_second] = q
    return q_values


def adjust_pvalues(
    pvalues: Sequence[float] | np.ndarray | pd.Series,
    method: Literal["bonferroni", "holm", "bh", "by", "sharpened_q"] = "holm",
) -> np.ndarray:
    """Adjusted p-values (or q-values) for a family of tests.

    Parameters
    ----------
    pvalues : sequence of float
        Unadjusted p-values, one per hypothesis (not changed).
    method : {"bonferroni", "holm", "bh", "by", "sharpened_q"}, default "holm"
        Family-wise error: ``"bonferroni"``, ``"holm"`` (step-down). False discovery rate:
        ``"bh"`` (Benjamini-Hochberg 1995), ``"by"`` (Benjamini-Yekutieli 2001, any
        dependence), ``"sharpened_q"`` (Anderson 2008's sharpened q-values: the smallest q on
        the grid 0.001, ..., 1 at which the two-stage procedure of Benjamini, Krieger and
        Yekutieli 2006 rejects the hypothesis; a transcription of Anderson's Stata code).

    Returns
    -------
    numpy.ndarray
        Adjusted values in the input order (for a pandas Series, its values).

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.04, 0.03], "holm").round(3).tolist()
    [0.03, 0.06, 0.06]
    >>> adjust_pvalues([0.01, 0.04, 0.03], "bh").round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    check_choice("method", method, ADJUST_METHODS)
    p = _check_pvalues(pvalues)
    m = p.size
    if method == "bonferroni":
        return np.minimum(1.0, p * m)
    if method == "sharpened_q":
        return _sharpened_q(p)
    order = np.argsort(p, kind="stable")
    sorted_p = p[order]
    ranks = np.arange(1, m + 1)
    if method == "holm":
        adjusted = np.maximum.accumulate(np.minimum(1.0, (m - ranks + 1) * sorted_p))
    else:
        factor = np.sum(1.0 / ranks) if method == "by" else 1.0
        raw = np.minimum(1.0, sorted_p * m * factor / ranks)
        adjusted = np.minimum.accumulate(raw[::-1])[::-1]
    result = np.empty(m)
    result[order] = adjusted
    return result


@dataclasses.dataclass(frozen=True)
class MultipleTestingResult:
    """Adjusted p-values for a family of outcomes, one row per outcome in ``table``.

    ``table`` has the columns ``outcome, term, estimate, std_error, statistic, p_value``
    (the unadjusted wild bootstrap p-value) and ``p_adjusted``; ``method``, ``draws`` and
    ``inference`` describe the procedure. Holds no data.
    """

    table: pd.DataFrame
    method: str
    draws: int
    inference: str

    def tidy(self) -> pd.DataFrame:
        """The table (a copy)."""
        return self.table.copy()


def _common_bootstrap(
    results: Sequence[EstimationResult],
    *,
    data: pd.DataFrame,
    term: str | None,
    cluster: str | None,
    reps: int,
    weights: str,
    seed: int,
    sample_weights: str | None,
    variance: str | None = None,
):
    """WCR bootstrap t statistics of every result with common cluster weights (B x S).

    One variance for the whole family: ``variance``, or by default CV3 when it is defined for
    every outcome (as in :func:`doorstep.inference.wild_cluster_bootstrap`), else CR1.
    """
    if isinstance(results, EstimationResult) or not isinstance(results, Sequence):
        raise ConfigError("results must be a list of EstimationResult, one per outcome")
    if len(results) < 2:
        raise ConfigError("a family needs at least two results")
    check_choice("weights", weights, WEIGHT_TYPES)
    if variance is not None:
        check_choice("variance", variance, VARIANCE_TYPES)
    reps = check_count("reps", reps, 1)
    seed = check_seed(seed)
    if cluster is not None and not isinstance(cluster, str):
        raise ConfigError(
            f"cluster must be one column name (two-way clustering is not supported for the "
            f"step-down adjustments), found {cluster!r}"
        )
    labels_all = None
    if cluster is not None:
        if cluster not in data.columns:
            raise ConfigError(f"cluster column {cluster!r} is not in the data")
        labels_all, uniques = pd.factorize(data[cluster], sort=True)
        n_labels = len(uniques)
    draws_all = None
    prepared = []
    for result in results:
        if not isinstance(result, EstimationResult):
            raise ConfigError(f"results must hold EstimationResult, found {type(result).__name__}")
        name = result.main_term if term is None else term
        if name not in result.terms:
            raise ConfigError(f"term {name!r} is not estimated for outcome {result.outcome!r}")
        design = linear_design(result, data, cluster=cluster, weights=sample_weights)
        if len(design.clusters) != 1:
            raise ConfigError("the step-down adjustments support one cluster column")
        layout = _layout(design, None)
        label_of_cluster = np.empty(layout.n_boot, dtype=np.int64)
        label_of_cluster[design.clusters[0]] = design.cluster_labels
        if draws_all is None:
            if labels_all is None:
                n_labels = int(design.cluster_labels.max()) + 1
            rng = np.random.default_rng(seed)
            draws_all, _ = draw_weights(n_labels, reps, weights, rng)
        prepared.append((result, name, design, layout, draws_all[label_of_cluster]))
    chosen = {_resolve_variance(variance, design) for _, _, design, _, _ in prepared}
    family_variance = "cv3" if chosen == {"cv3"} else "cr1"

    def pieces_with(kind: str) -> list:
        return [_bootstrap_pieces(design, design.terms.index(name), draws, layout.cells,
                                  layout.n_cells, layout.boot_of_cell, layout.dimensions,
                                  restricted=True, variance=kind)
                for _, name, design, layout, draws in prepared]

    try:
        computed = pieces_with(family_variance)
    except UnidentifiedJackknifeError:
        if variance == "cv3":
            raise
        family_variance = "cr1"  # the default falls back where the jackknife is not defined
        computed = pieces_with(family_variance)
    rows = []
    statistics = []
    for (result, name, design, layout, _), (pieces, constants) in zip(prepared, computed,
                                                                      strict=True):
        n, k, g = design.n_obs, design.n_params, layout.n_clusters
        ssc = small_sample_factor(family_variance, n, k, g)
        std_error = float(np.sqrt(ssc * constants["meat"]))
        delta = constants["estimate"] / constants["bread_jj"]
        numerator = pieces.numerator0 + delta * pieces.numerator1
        variance = pieces.variance00 + 2 * delta * pieces.variance01 + delta**2 * (
            pieces.variance11
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            boot = np.where(variance > 0, numerator / np.sqrt(ssc * variance), np.nan)
        t_stat = constants["estimate"] / std_error
        statistics.append(boot)
        rows.append(
            {
                "outcome": result.outcome,
                "term": name,
                "estimate": constants["estimate"],
                "std_error": std_error,
                "statistic": t_stat,
                "p_value": float(
                    np.mean(np.abs(boot) >= abs(t_stat) * (1 - TIE_TOLERANCE))
                ),
                "df": g - 1,
            }
        )
    boot_matrix = np.column_stack(statistics)
    if np.isnan(boot_matrix).any():
        raise EstimationError("some bootstrap variances are not positive; the family cannot be "
                              "adjusted")
    label = (f"wild cluster bootstrap (WCR{', CV3' if family_variance == 'cv3' else ''}, "
             f"{weights.capitalize()}, {boot_matrix.shape[0]} common draws)")
    return pd.DataFrame(rows), boot_matrix, label


def romano_wolf(
    results: Sequence[EstimationResult],
    *,
    data: pd.DataFrame,
    term: str | None = None,
    cluster: str | None = None,
    reps: int = 9999,
    weights: Literal["rademacher", "webb", "mammen"] = "rademacher",
    seed: int,
    sample_weights: str | None = None,
    variance: Literal["cr1", "cv3"] | None = None,
) -> MultipleTestingResult:
    """Romano-Wolf step-down adjusted p-values over a family of outcomes (FWER).

    Every result (one per outcome, from a linear estimator of ``doorstep.estimate``) is
    bootstrapped by the wild cluster bootstrap (WCR) with the same weight for a cluster in every
    outcome; the adjusted p-value of the outcome with the s-th largest |t| is the share of draws
    whose largest |t*| over the outcomes not yet rejected is at least |t_s|, ``(count + 1) /
    (B + 1)``, made monotone down the order (pyfixest ``rwolf``'s convention).

    Parameters
    ----------
    results : list of EstimationResult
        One fitted linear model per outcome, estimated on ``data``.
    data : pandas.DataFrame
        The frame the results were estimated on; not changed.
    term : str, optional
        The tested term (default: each result's main term).
    cluster : str, optional
        Cluster column (one), unless recorded by the results.
    reps, weights, seed
        As in :func:`doorstep.inference.wild_cluster_bootstrap`.
    sample_weights : str, optional
        Weights column of WLS results.
    variance : {"cv3", "cr1"}, optional
        Variance of the t statistics, as in :func:`doorstep.inference.wild_cluster_bootstrap`
        (one for the family: CV3 by default when it is defined for every outcome, else CR1).

    Returns
    -------
    MultipleTestingResult
        ``table`` with ``p_adjusted`` per outcome.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from doorstep.estimate import regress
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"v": np.repeat(np.arange(20), 10),
    ...                       "d": np.repeat(np.arange(20) % 2, 10)})
    >>> frame["y1"] = frame.d + rng.normal(size=200)
    >>> frame["y2"] = rng.normal(size=200)
    >>> fits = [regress(frame, y, ["d"], cluster="v") for y in ("y1", "y2")]
    >>> adjusted = romano_wolf(fits, data=frame, cluster="v", reps=999, seed=1)
    >>> bool(adjusted.table["p_adjusted"].iloc[0] < 0.05)
    True
    """
    table, boot, label = _common_bootstrap(
        results, data=data, term=term, cluster=cluster, reps=reps, weights=weights, seed=seed,
        sample_weights=sample_weights, variance=variance,
    )
    adjusted = romano_wolf_from_draws(table["statistic"].to_numpy(), boot)
    table = table.drop(columns="df").assign(p_adjusted=adjusted)
    return MultipleTestingResult(table, "romano_wolf", boot.shape[0], label)


def romano_wolf_from_draws(statistics: Sequence[float] | np.ndarray,
                           draws: np.ndarray) -> np.ndarray:
    """Romano-Wolf step-down adjusted p-values from joint bootstrap draws of the t statistics.

    With the hypotheses ordered by |t| from largest to smallest, the s-th one gets
    ``(#{b: max over the hypotheses from s on of |t*_b| >= |t_s|} + 1) / (B + 1)``, made
    monotone down the order (pyfixest ``rwolf``'s convention). The draws must be centred on the
    null (null-imposed WCR draws, or multiplier draws of ``(theta* - theta) / se``) and drawn
    jointly: row b of every column comes from the same cluster weights.

    Parameters
    ----------
    statistics : sequence of float
        Observed t statistics, one per hypothesis (S).
    draws : numpy.ndarray
        B x S bootstrap t statistics.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the order of ``statistics``.

    Examples
    --------
    >>> draws = np.array([[0.5, -1.0], [2.5, 0.1], [-0.2, 3.0], [1.0, 1.0]])
    >>> romano_wolf_from_draws([2.0, 0.8], draws).tolist()
    [0.6, 0.8]
    """
    observed = np.abs(np.asarray(statistics, dtype=float).reshape(-1))
    boot = np.abs(np.asarray(draws, dtype=float))
    if boot.ndim != 2 or boot.shape[1] != observed.size or boot.shape[0] == 0:
        raise ConfigError(
            f"draws must be a B x {observed.size} array (one column per statistic), found "
            f"shape {boot.shape}"
        )
    if not np.isfinite(observed).all() or not np.isfinite(boot).all():
        raise EstimationError("statistics and draws must be finite to adjust the family")
    n_draws, n_tests = boot.shape
    order = np.argsort(observed, kind="stable")[::-1]
    initial = np.empty(n_tests)
    for position, hypothesis in enumerate(order):
        remaining = order[position:]
        maximum = boot[:, remaining].max(axis=1)
        initial[position] = min(1.0, (np.sum(maximum >= observed[hypothesis]) + 1) / (n_draws + 1))
    adjusted = np.empty(n_tests)
    adjusted[order] = np.maximum.accumulate(initial)
    return adjusted


@dataclasses.dataclass(frozen=True)
class MultiplierBootstrap:
    """Joint multiplier-bootstrap draws of several estimates' t statistics (no data).

    ``estimate``, ``std_error`` (the analytic clustered one, ``sqrt(sum_c s_c^2)``),
    ``statistic`` and ``p_value`` (symmetric: the share of draws with ``|t*| >= |t|``) hold one
    value per column of the scores; ``draws`` is B x S; ``weights`` names the multipliers and
    ``enumerated`` says whether all 2^G sign vectors were used.
    """

    names: tuple[str, ...]
    estimate: np.ndarray
    std_error: np.ndarray
    statistic: np.ndarray
    p_value: np.ndarray
    draws: np.ndarray
    weights: str
    enumerated: bool

    @property
    def reps(self) -> int:
        """Number of draws B."""
        return int(self.draws.shape[0])


def multiplier_bootstrap(
    scores: pd.DataFrame,
    estimates: Sequence[float] | np.ndarray | pd.Series,
    *,
    reps: int = 9999,
    weights: Literal["rademacher", "webb", "mammen"] = "rademacher",
    seed: int,
) -> MultiplierBootstrap:
    """Clustered multiplier (wild) bootstrap of influence functions, jointly over estimates.

    Each column of ``scores`` holds, per cluster, the sum of one estimator's influence function
    over the cluster's units divided by the number of units, so that ``estimate - truth`` is
    approximately the column sum and ``sqrt(sum of squares)`` is the clustered standard error.
    Draw b gives ``t*_b = sum_c v_bc s_c / se`` with one weight ``v_bc`` per cluster, the same for
    every column (R ``did``/Stata ``csdid``'s bootstrap, a wild bootstrap of the score; with
    Rademacher weights ``v^2 = 1``, so re-studentising each draw would give the same t*).

    Parameters
    ----------
    scores : pandas.DataFrame
        One row per cluster (in a fixed order, e.g. sorted labels), one column per estimate;
        a missing value means the cluster is not in that estimate's sample (counted as 0).
    estimates : sequence of float
        The estimates, in the order of the columns.
    reps : int, default 9999
        Draws; Rademacher weights enumerate all 2^G sign vectors when 2^G <= reps.
    weights : {"rademacher", "webb", "mammen"}, default "rademacher"
        Distribution of the cluster weights (as in :func:`wild_cluster_bootstrap`).
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    MultiplierBootstrap

    Examples
    --------
    >>> scores = pd.DataFrame({"y": [0.1, -0.2, 0.15, 0.05, -0.1, 0.2, -0.05, 0.1]})
    >>> boot = multiplier_bootstrap(scores, [0.5], reps=999, seed=1)
    >>> boot.reps, round(float(boot.std_error[0]), 4), bool(boot.p_value[0] < 0.1)
    (256, 0.3708, False)
    """
    if not isinstance(scores, pd.DataFrame) or scores.empty:
        raise ConfigError("scores must be a non-empty DataFrame (clusters x estimates)")
    check_choice("weights", weights, WEIGHT_TYPES)
    reps = check_count("reps", reps, 1)
    seed = check_seed(seed)
    values = scores.to_numpy(dtype=float, na_value=np.nan)
    values = np.where(np.isnan(values), 0.0, values)
    estimate = np.asarray(estimates, dtype=float).reshape(-1)
    if estimate.size != values.shape[1]:
        raise ConfigError(
            f"estimates must give one value per column of scores ({values.shape[1]}), found "
            f"{estimate.size}"
        )
    std_error = np.sqrt((values**2).sum(axis=0))
    if not np.all(std_error > 0):
        bad = [str(name) for name, se in zip(scores.columns, std_error, strict=True) if se <= 0]
        raise EstimationError(f"the scores of {bad} are all zero; no bootstrap is possible")
    multipliers, enumerated = draw_weights(values.shape[0], reps, weights,
                                           np.random.default_rng(seed))
    draws = (multipliers.T @ values) / std_error[None, :]
    statistic = estimate / std_error
    p_value = np.mean(np.abs(draws) >= np.abs(statistic)[None, :] * (1 - TIE_TOLERANCE), axis=0)
    return MultiplierBootstrap(
        names=tuple(str(name) for name in scores.columns), estimate=estimate,
        std_error=std_error, statistic=statistic, p_value=p_value, draws=draws,
        weights=weights, enumerated=enumerated,
    )


def westfall_young(
    results: Sequence[EstimationResult],
    *,
    data: pd.DataFrame,
    term: str | None = None,
    cluster: str | None = None,
    reps: int = 9999,
    weights: Literal["rademacher", "webb", "mammen"] = "rademacher",
    seed: int,
    sample_weights: str | None = None,
    variance: Literal["cr1", "cv3"] | None = None,
) -> MultipleTestingResult:
    """Westfall-Young free step-down (min-p) adjusted p-values over a family of outcomes.

    The bootstrap is that of :func:`romano_wolf`; observed and bootstrap t statistics are turned
    into two-sided p-values with t(G-1), and the adjusted p-value of the s-th smallest p is the
    share of draws in which the smallest bootstrap p over the hypotheses from s on is <= p_s,
    made monotone (pyfixest ``wyoung``'s convention). Parameters as in :func:`romano_wolf`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from doorstep.estimate import regress
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"v": np.repeat(np.arange(20), 10),
    ...                       "d": np.repeat(np.arange(20) % 2, 10)})
    >>> frame["y1"] = frame.d + rng.normal(size=200)
    >>> frame["y2"] = rng.normal(size=200)
    >>> fits = [regress(frame, y, ["d"], cluster="v") for y in ("y1", "y2")]
    >>> westfall_young(fits, data=frame, cluster="v", reps=999, seed=1).method
    'westfall_young'
    """
    table, boot, label = _common_bootstrap(
        results, data=data, term=term, cluster=cluster, reps=reps, weights=weights, seed=seed,
        sample_weights=sample_weights, variance=variance,
    )
    df = table["df"].to_numpy()
    p_observed = 2 * stats.t.sf(np.abs(table["statistic"].to_numpy()), df)
    p_boot = 2 * stats.t.sf(np.abs(boot), df[None, :])
    n_draws = boot.shape[0]
    order = np.argsort(p_observed, kind="stable")
    successive = np.minimum.accumulate(p_boot[:, order[::-1]], axis=1)[:, ::-1]
    initial = (successive <= p_observed[order][None, :]).sum(axis=0) / n_draws
    adjusted = np.empty(order.size)
    adjusted[order] = np.maximum.accumulate(initial)
    table = table.drop(columns="df").assign(p_adjusted=adjusted)
    return MultipleTestingResult(table, "westfall_young", n_draws, label)
