"""Inference beyond the analytic covariance: wild cluster bootstrap, randomisation inference,
multiple testing.

``doorstep.inference`` owns :func:`wild_cluster_bootstrap` (Roodman et al.'s fast algorithm,
WCR/WCU, CV3 (cluster-jackknife) or CR1 t statistics, one- and two-way clustering, confidence
intervals by test inversion),
:func:`randomization_inference` (re-randomising the assignment as it was done, vectorised for
linear estimators), :func:`adjust_pvalues` (Bonferroni, Holm, Benjamini-Hochberg,
Benjamini-Yekutieli, Anderson's sharpened q-values) and the resampling step-down adjustments
:func:`romano_wolf` and :func:`westfall_young` over a family of outcomes. It works on the results
of ``doorstep.estimate`` and the caller's frame, and its results never hold the frame. It must
not import ``doorstep.io``, ``doorstep.clean``, ``doorstep.report`` or ``doorstep.run``.
"""

from doorstep.inference.multiple import (
    ADJUST_METHODS,
    MultipleTestingResult,
    MultiplierBootstrap,
    adjust_pvalues,
    multiplier_bootstrap,
    romano_wolf,
    romano_wolf_from_draws,
    westfall_young,
)
from doorstep.inference.randomization import RandomizationResult, randomization_inference
from doorstep.inference.wild import (
    VARIANCE_TYPES,
    WEIGHT_TYPES,
    WildBootstrapResult,
    wild_cluster_bootstrap,
)

__all__ = [
    "ADJUST_METHODS",
    "VARIANCE_TYPES",
    "WEIGHT_TYPES",
    "MultipleTestingResult",
    "MultiplierBootstrap",
    "RandomizationResult",
    "WildBootstrapResult",
    "adjust_pvalues",
    "multiplier_bootstrap",
    "randomization_inference",
    "romano_wolf",
    "romano_wolf_from_draws",
    "westfall_young",
    "wild_cluster_bootstrap",
]
