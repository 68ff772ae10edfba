"""Estimation: treatment effects with the inference researchers expect from Stata and R.

``doorstep.estimate`` owns the estimators (``regress``, ``difference_in_means``, ``ancova``,
``iv``, ``balance_table``, ``did`` and ``did_table``, ``twfe``, ``event_study``,
``staggered_did``, ``ipw``, ``aipw``, ``nearest_neighbor_match``, ``lee_bounds``,
``heterogeneity``), the covariance estimators they share
(``doorstep.estimate.covariance``) and the one result type every estimator returns
(:class:`EstimationResult`, with ``tidy()``). Estimators are pure functions of a frame and
keyword options: they never change the caller's frame and their results never hold it.
This sub-package must not import ``doorstep.io``, ``doorstep.report``, ``doorstep.run`` or
notebook code.
"""

from doorstep.estimate.balance import (
    BalanceTable,
    CovariateBalance,
    balance_table,
    covariate_balance,
)
from doorstep.estimate.bounds import LeeBounds, lee_bounds
from doorstep.estimate.covariance import IMPLEMENTED_VCOV_TYPES, VCOV_TYPES
from doorstep.estimate.heterogeneity import heterogeneity
from doorstep.estimate.iv import iv
from doorstep.estimate.linear import ancova, difference_in_means, regress
from doorstep.estimate.matching import MatchResult, nearest_neighbor_match
from doorstep.estimate.panel import event_study, twfe
from doorstep.estimate.result import TIDY_COLUMNS, EstimationResult, WaldTest
from doorstep.estimate.staggered import StaggeredResult, staggered_did
from doorstep.estimate.two_period import did, did_table
from doorstep.estimate.weighting import Overlap, aipw, ipw, overlap

__all__ = [
    "IMPLEMENTED_VCOV_TYPES",
    "TIDY_COLUMNS",
    "VCOV_TYPES",
    "BalanceTable",
    "CovariateBalance",
    "EstimationResult",
    "LeeBounds",
    "MatchResult",
    "Overlap",
    "StaggeredResult",
    "WaldTest",
    "aipw",
    "ancova",
    "balance_table",
    "covariate_balance",
    "did",
    "did_table",
    "difference_in_means",
    "event_study",
    "heterogeneity",
    "ipw",
    "iv",
    "lee_bounds",
    "nearest_neighbor_match",
    "overlap",
    "regress",
    "staggered_did",
    "twfe",
]
