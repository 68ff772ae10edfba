"""Tables and figures of estimates: effects beside the truth, effect plots, small-cell rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from doorstep.report.i18n import TEXTS, text, use_language_fonts

TRUTH_COLUMNS = ("outcome", "estimand", "value")
INFERENCE_P_COLUMNS = ("p_wild", "p_romano_wolf", "q_sharpened")


def estimand_name(estimand: str, language: str, form: str = "short") -> str:
    """The estimand's name in ``language`` (``form`` "short" or "words"), else its code.

    Examples
    --------
    >>> estimand_name("itt", "en"), estimand_name("custom", "zh")
    ('ITT', 'custom')
    """
    key = f"{estimand}_{form}"
    return text(key, language) if key in TEXTS else estimand


def compare_with_truth(
    headline: pd.DataFrame, truth_effects: list[dict] | pd.DataFrame
) -> pd.DataFrame:
    """Put each headline estimate beside the true effect it estimates; does its CI cover it?

    Parameters
    ----------
    headline
        Tidy estimate rows (the columns of ``EstimationResult.tidy()``) with an added
        ``estimand`` column naming the truth's estimand (``"itt"``, ``"att_simple"``...).
    truth_effects
        Truth records with at least ``outcome``, ``estimand`` and ``value``; records with a
        ``subgroup``, ``group``, ``time`` or ``event_time`` are ignored (overall effects only).

    Returns
    -------
    pandas.DataFrame
        The headline rows with ``true_effect`` and ``covered`` added. Rows without a true
        effect (a family index, an estimand the simulator does not plant) are kept with a
        missing ``true_effect`` and ``covered`` (a nullable boolean, never False).

    Examples
    --------
    >>> est = pd.DataFrame({"outcome": ["y", "index_f"], "estimand": ["itt", "itt"],
    ...                     "estimate": [1.9, 0.2], "conf_low": [1.0, 0.1],
    ...                     "conf_high": [2.8, 0.3]})
    >>> compare_with_truth(est, [{"outcome": "y", "estimand": "itt", "value": 2.0}])[
    ...     "covered"].tolist()
    [True, <NA>]
    """
    truth = pd.DataFrame(truth_effects)
    for column in ("subgroup", "group", "event_time"):
        if column in truth.columns:
            truth = truth[truth[column].isna()]
    truth = truth.loc[:, list(TRUTH_COLUMNS)].rename(columns={"value": "true_effect"})
    out = headline.merge(truth, on=["outcome", "estimand"], how="left", validate="many_to_one")
    covered = (out["conf_low"] <= out["true_effect"]) & (out["true_effect"] <= out["conf_high"])
    out["covered"] = covered.astype("boolean").mask(out["true_effect"].isna())
    return out


def format_p_value(p_value: float) -> str:
    """A p-value with three decimals, or ``<0.001``.

    Examples
    --------
    >>> format_p_value(0.0004), format_p_value(0.0412)
    ('<0.001', '0.041')
    """
    if pd.isna(p_value):
        return ""
    return "<0.001" if p_value < 0.0005 else f"{p_value:.3f}"


def format_effect_table(comparison: pd.DataFrame, labels: dict[str, str],
                        digits: int = 2, language: str = "en") -> pd.DataFrame:
    """A readable table of effects: estimate with its 95% CI, p-value, N, truth, coverage.

    When ``comparison`` has the columns of the primary estimand's inference (``p_wild``,
    ``p_romano_wolf``, ``q_sharpened``, from :func:`doorstep.run.stages.estimate_effects`), the
    table shows four p-value columns (cluster-robust, wild bootstrap, Romano-Wolf, sharpened q;
    empty where not computed) and ``table.attrs["note"]`` holds the sentence saying what each
    is (also :func:`effect_table_note`). Otherwise the table is as before: one p-value column.

    Examples
    --------
    >>> row = pd.DataFrame({"outcome": ["y"], "estimand": ["itt"], "estimate": [1.234],
    ...     "conf_low": [0.5], "conf_high": [2.0], "p_value": [0.01], "n_obs": [100],
    ...     "n_clusters": [10], "true_effect": [1.0], "covered": [True]})
    >>> format_effect_table(row, {"y": "Income"}).iloc[0]["Estimate [95% CI]"]
    '1.23 [0.50, 2.00]'
    """
    def number(value: float) -> str:
        return "" if pd.isna(value) else f"{value:,.{digits}f}"

    def words(key: str) -> str:
        return text(key, language)

    table = pd.DataFrame({
        words("outcome"): comparison["outcome"].map(lambda name: labels.get(name, name)),
        words("estimand"): comparison["estimand"].map(lambda e: estimand_name(e, language)),
        words("estimate_ci"): [
            f"{number(e)} [{number(lo)}, {number(hi)}]" for e, lo, hi in
            zip(comparison["estimate"], comparison["conf_low"], comparison["conf_high"],
                strict=True)
        ],
        words("p_value"): comparison["p_value"].map(format_p_value),
        words("n"): comparison["n_obs"].astype("Int64"),
        words("clusters"): comparison["n_clusters"].astype("Int64"),
    })
    with_inference = set(INFERENCE_P_COLUMNS) <= set(comparison.columns)
    if with_inference:
        table = table.rename(columns={words("p_value"): words("inference_p_cluster")})
        position = table.columns.get_loc(words("inference_p_cluster")) + 1
        for offset, column in enumerate(INFERENCE_P_COLUMNS):
            table.insert(position + offset, words(f"inference_{column}"),
                         comparison[column].map(format_p_value).to_numpy())
    if "true_effect" in comparison.columns:
        table[words("true_effect")] = comparison["true_effect"].map(number)
        table[words("covers")] = [
            "" if pd.isna(value) else words("yes") if value else words("no")
            for value in comparison["covered"]
        ]
    table = table.reset_index(drop=True)
    if with_inference:
        table.attrs["note"] = effect_table_note(comparison, language)
    return table


def effect_table_note(comparison: pd.DataFrame, language: str = "en") -> str:
    """What each p-value column of :func:`format_effect_table` is, in ``language``.

    The number of bootstrap draws is read from a ``reps`` column when there is one.

    Examples
    --------
    >>> effect_table_note(pd.DataFrame({"reps": [9999]}), "en").split(".")[0]
    'p, cluster-robust: analytic, clustered by village'

    A ``caution`` from the wild bootstrap (a cluster-level treatment in fewer than 12 clusters,
    see :func:`doorstep.inference.wild.cluster_level_note`) adds a warning:

    >>> "Caution" in effect_table_note(pd.DataFrame({"caution": ["x"]}), "en")
    True
    """
    reps = comparison["reps"].dropna() if "reps" in comparison.columns else pd.Series(
        dtype=float)
    count = f"{int(reps.max()):,}" if len(reps) else "9,999"
    note = text("inference_note", language, reps=count)
    cautions = (comparison["caution"].fillna("").astype(str) if "caution" in comparison.columns
                else pd.Series(dtype=str))
    if cautions.str.len().gt(0).any():
        note += " " + text("wild_cluster_level_caution", language)
    return note


def effect_figure(comparison: pd.DataFrame, labels: dict[str, str], *,
                  title: str = "", language: str = "en") -> Figure:
    """One small panel per outcome: estimate, 95% CI and the true effect.

    Each outcome keeps its own units and axis; the dashed line marks zero.

    Examples
    --------
    >>> fig = effect_figure(pd.DataFrame({"outcome": ["y"], "estimand": ["itt"],
    ...     "estimate": [1.0], "conf_low": [0.5], "conf_high": [1.5], "true_effect": [1.2]}),
    ...     {"y": "Income"})
    >>> len(fig.axes)
    1
    """
    use_language_fonts(language)
    rows = len(comparison)
    figure = Figure(figsize=(7.5, 0.9 * rows + 0.8), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, 1, squeeze=False)[:, 0])
    for axis, (_, row) in zip(axes, comparison.iterrows(), strict=True):
        axis.hlines(0, row["conf_low"], row["conf_high"], color="#1f5f8b", linewidth=3)
        axis.plot([row["estimate"]], [0], "o", color="#1f5f8b",
                  label=text("legend_estimate", language))
        if pd.notna(row.get("true_effect")):
            axis.plot([row["true_effect"]], [0], "x", color="#c0392b", markersize=10,
                      markeredgewidth=2, label=text("legend_truth", language))
        axis.axvline(0, color="grey", linestyle="--", linewidth=0.8)
        truth = row.get("true_effect")
        truth = [] if truth is None or pd.isna(truth) else [truth]
        low = min(row["conf_low"], *truth, 0)
        high = max(row["conf_high"], *truth, 0)
        margin = 0.08 * (high - low or 1)
        axis.set_xlim(low - margin, high + margin)
        axis.set_yticks([])
        estimand = estimand_name(row["estimand"], language)
        axis.set_ylabel(f"{labels.get(row['outcome'], row['outcome'])}\n({estimand})",
                        rotation=0, ha="right", va="center", fontsize=9)
        axis.spines[["left", "right", "top"]].set_visible(False)
    axes[0].legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2, frameon=False,
                   fontsize=8)
    if title:
        figure.suptitle(title, fontsize=11)
    return figure


def small_cells_suppressed(table: pd.DataFrame, count_columns: list[str],
                           min_cell_size: int = 5) -> pd.DataFrame:
    """Replace counts of fewer than ``min_cell_size`` people (but more than 0) by ``"<n"``.

    Examples
    --------
    >>> small_cells_suppressed(pd.DataFrame({"n": [3, 40]}), ["n"])["n"].tolist()
    ['<5', '40']
    """
    out = table.copy()
    for column in count_columns:
        out[column] = [
            f"<{min_cell_size}" if pd.notna(v) and 0 < v < min_cell_size else
            ("" if pd.isna(v) else f"{int(v)}") for v in table[column]
        ]
    return out
