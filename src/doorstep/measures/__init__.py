"""Scored outcomes: wellbeing scales, their reliability and household income aggregates.

This sub-package owns turning item answers into the measures users name: a registry of
published scales (WHO-5, Kessler K6, SDQ parent and self-report, UCLA 3-item loneliness,
Rosenberg self-esteem, Cantril ladder) scored by ``score_scale`` with their published rules for
reverse-coded and missing items and their cut-offs; user-defined scales from a spec dict;
Cronbach's alpha and McDonald's omega; household income by component, per capita and per adult
equivalent; outcome-family indices (Anderson's inverse-covariance-weighted index and the
Kling-Liebman-Katz mean of z-scores). ``build_measures`` and the functions of ``scales`` are
what the pipeline calls and keep their results. It must not import ``estimate``, ``report``
or ``run``.
"""

from doorstep.measures.income import (
    adult_equivalents,
    income_components_total,
    income_measures,
    inverse_hyperbolic_sine,
    winsorise,
)
from doorstep.measures.indices import icw_index, zscore_index
from doorstep.measures.registry import (
    SCALES,
    Band,
    Composite,
    CutOffs,
    Scale,
    Subscale,
    cut_off_table,
    get_scale,
    keyed_items,
    scale_from_spec,
    score_scale,
)
from doorstep.measures.reliability import (
    cronbach_alpha,
    mcdonald_omega,
    one_factor_ml,
    reliability,
)
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
    "SCALES",
    "SDQ_REVERSED_ITEMS",
    "SDQ_SUBSCALES",
    "Band",
    "Composite",
    "CutOffs",
    "Scale",
    "Subscale",
    "adult_equivalents",
    "build_measures",
    "cronbach_alpha",
    "cut_off_table",
    "earnings_including_zeros",
    "get_scale",
    "household_income",
    "icw_index",
    "income_components_total",
    "income_measures",
    "inverse_hyperbolic_sine",
    "keyed_items",
    "mcdonald_omega",
    "one_factor_ml",
    "reliability",
    "scale_from_spec",
    "score_scale",
    "sdq_scores",
    "ucla_total",
    "who5_score",
    "winsorise",
    "zscore_index",
]
