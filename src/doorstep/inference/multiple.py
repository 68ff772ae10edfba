"""Multiple testing over a family of outcomes: p-value adjustments and resampling step-downs.

This module owns :func:`adjust_pvalues` (Bonferroni, Holm, Benjamini-Hochberg,
Benjamini-Yekutieli and Anderson's (2008) sharpened q-values, the two-stage procedure of
Benjamini, Krieger and Yekutieli 2006 run on Anderson's grid of q = 0.001, 0.002, ..., 1) and
the step-down adjustments :func:`romano_wolf` (Romano and Wolf 2005, max-|t|) and
:func:`westfall_young` (Westfall and Young 1993, free step-down min-p) computed from a wild
cluster bootstrap of every outcome with common draws (the same weight for a cluster in every
outcome's regression, so the dependence between outcomes is kept; Clarke, Romano and Wolf
2020). The conventions of the step-downs follow pyfixest's ``rwolf``/``wyoung``: null-imposed
(WCR) bootstrap t statistics, Romano-Wolf p-values ``(#{max_b >= |t_s|} + 1) / (B + 1)``,
Westfall-Young p-values from t(G-1) p-values with ``#{min_b <= p_s} / B``, and monotonicity
enforced down the step-down order. It must not import ``doorstep.io``, ``doorstep.clean``,
``doorstep.report`` or ``doorstep.run``.
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
    WEIGHT_TYPES,
    _bootstrap_pieces,
    _layout,
    check_count,
    check_seed,
    draw_weights,
)

__all__ = [
    "ADJUST_METHODS",
    "MultipleTestingResult",
    "adjust_pvalues",
    "romano_wolf",
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
):
    """WCR bootstrap t statistics of every result with common cluster weights (B x S)."""
    if isinstance(results, EstimationResult) or not isinstance(results, Sequence):
        raise ConfigError("results must be a list of EstimationResult, one per outcome")
    if len(results) < 2:
        raise ConfigError("a family needs at least two results")
    check_choice("weights", weights, WEIGHT_TYPES)
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
    rows = []
    statistics = []
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
        draws = draws_all[label_of_cluster]
        index = design.terms.index(name)
        pieces, constants = _bootstrap_pieces(
            design, index, draws, layout.cells, layout.n_cells, layout.boot_of_cell,
            layout.dimensions, restricted=True,
        )
        n, k, g = design.n_obs, design.n_params, layout.n_clusters
        ssc = g / (g - 1) * (n - 1) / (n - k)
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
    label = (f"wild cluster bootstrap (WCR, {weights.capitalize()}, "
             f"{boot_matrix.shape[0]} common draws)")
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
        sample_weights=sample_weights,
    )
    observed = np.abs(table["statistic"].to_numpy())
    boot = np.abs(boot)
    n_draws, n_tests = boot.shape
    order = np.argsort(observed, kind="stable")[::-1]
    initial = np.empty(n_tests)
    for position, hypothesis in enumerate(order):
        remaining = order[position:]
        maximum = boot[:, remaining].max(axis=1)
        initial[position] = min(1.0, (np.sum(maximum >= observed[hypothesis]) + 1) / (n_draws + 1))
    adjusted = np.empty(n_tests)
    adjusted[order] = np.maximum.accumulate(initial)
    table = table.drop(columns="df").assign(p_adjusted=adjusted)
    return MultipleTestingResult(table, "romano_wolf", n_draws, label)


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
        sample_weights=sample_weights,
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
