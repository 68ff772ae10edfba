"""The balance stage (``02_balance``): baseline balance between arms and attrition.

Owns :func:`balance_sample` (the baseline sample and the variables compared),
:func:`attrition_table` and :func:`balance_and_attrition` -> ``balance.csv``,
``attrition.csv``.
"""

from __future__ import annotations

import pandas as pd

from doorstep import estimate
from doorstep.config import EvaluationConfig
from doorstep.report.i18n import text
from doorstep.run.stages.common import TIME, applicants, first_round_mask


def _arm(config: EvaluationConfig, analysis: pd.DataFrame) -> pd.Series:
    """Each row's arm, named in the report's language."""
    language = config.language
    if config.design == "staggered_rollout":
        return analysis["cohort"].map(
            lambda cohort: text("arm_starts", language, round=cohort) if cohort else
            text("arm_never", language))
    keys = ["arm_open" if design != "lottery" else "arm_won" if won else
            "arm_lost" if applied else "arm_not_applied"
            for design, applied, won in zip(analysis["design"], analysis["applied"],
                                            analysis["won_lottery"], strict=True)]
    return pd.Series([text(key, language) for key in keys], index=analysis.index)


def balance_sample(config: EvaluationConfig, analysis: pd.DataFrame) -> tuple[pd.DataFrame, str,
                                                                              list[str]]:
    """The baseline sample, treatment column and variables to compare for balance.

    Staggered roll-out: ever-treated versus never-treated villages at baseline. Lottery:
    winners versus losers among applicants in lottery villages, on baseline values.
    """
    if config.design == "staggered_rollout":
        baseline = analysis[first_round_mask(analysis)]
        sample = baseline.assign(ever_treated=(baseline["cohort"] > 0).astype("int64"))
        variables = [name for name in (*config.covariates, *config.outcomes)
                     if name in sample.columns]
        return sample, "ever_treated", variables
    sample = applicants(analysis)
    variables = list(dict.fromkeys(
        f"{name}_baseline" for name in (*config.covariates, *config.outcomes)))
    return sample, "won_lottery", variables


def attrition_table(config: EvaluationConfig, clean_data: pd.DataFrame,
                    analysis: pd.DataFrame) -> pd.DataFrame:
    """Units surveyed by arm and round, and the share of the baseline still surveyed."""
    if config.design == "staggered_rollout":
        frame = analysis
    else:
        arms = analysis[[config.unit, "design", "applied", "won_lottery"]]
        frame = clean_data[[config.unit, TIME]].merge(arms, on=config.unit, how="inner")
    frame = frame.assign(arm=_arm(config, frame))
    counts = frame.groupby(["arm", TIME])[config.unit].nunique().unstack(TIME)
    baseline = counts[counts.columns.min()]
    table = counts.copy()
    for column in counts.columns:
        table[f"share_round{column}"] = (counts[column] / baseline).round(3)
    table.columns = [f"n_round{c}" if not str(c).startswith("share") else c
                     for c in table.columns]
    return table.reset_index()


def balance_and_attrition(config: EvaluationConfig, clean_data: pd.DataFrame,
                          analysis: pd.DataFrame) -> tuple[estimate.BalanceTable, pd.DataFrame]:
    """Baseline balance between arms and the attrition table."""
    sample, treatment, variables = balance_sample(config, analysis)
    balance = estimate.balance_table(sample, treatment, variables, cluster=config.cluster)
    return balance, attrition_table(config, clean_data, analysis)
