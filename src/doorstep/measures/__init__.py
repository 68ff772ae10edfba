"""Scored outcomes: wellbeing scales and household income aggregates.

This sub-package owns turning item answers into the measures users name: the Strengths and
Difficulties Questionnaire (SDQ), WHO-5, UCLA 3-item loneliness and household income. Scoring
follows each instrument's published rules, including its rule for missing items. It must not
import ``estimate``, ``report`` or ``run``.
"""

from doorstep.measures.scales import (
    SDQ_REVERSED_ITEMS,
    SDQ_SUBSCALES,
    build_measures,
    earnings_including_zeros,
    household_income,
    sdq_scores,
    ucla_total,
    who5_score,
)

__all__ = [
    "SDQ_REVERSED_ITEMS",
    "SDQ_SUBSCALES",
    "build_measures",
    "earnings_including_zeros",
    "household_income",
    "sdq_scores",
    "ucla_total",
    "who5_score",
]
