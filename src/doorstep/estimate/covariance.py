"""Covariance estimators for linear estimators, kept apart from the estimators themselves.

This module owns the table of covariance types (``VCOV_TYPES``), the choice of the default
(``"cluster"`` when ``cluster=`` is given, else ``"hc1"``) and the sandwich formulas with their
small-sample conventions, written in the weighted, within-transformed space that every linear
estimator of ``doorstep.estimate`` hands over:

============  ==============================================================  ============
``vcov``      covariance                                                      t df
============  ==============================================================  ============
``iid``       s^2 (X'X)^-1, s^2 = e'e / (N - K)                               N - K
``hc1``       N/(N-K) * bread * sum x_i x_i' e_i^2 * bread                    N - K
``hc2``       bread * sum x_i x_i' e_i^2 / (1 - h_ii) * bread                 N - K
``hc3``       bread * sum x_i x_i' e_i^2 / (1 - h_ii)^2 * bread               N - K
``cluster``   G/(G-1) * (N-1)/(N-K) * bread * sum_g s_g s_g' * bread (CR1)    G - 1
``cr2``       Bell-McCaffrey CR2: not implemented yet (raises)                --
============  ==============================================================  ============

These are Stata's conventions (``regress, vce(robust|hc2|hc3|cluster)``); K counts every
estimated parameter including absorbed fixed-effect levels as decided by the estimator.
This module must not import ``doorstep.io``, ``doorstep.report``, ``doorstep.run`` or notebook code.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate._checks import check_choice

__all__ = ["IMPLEMENTED_VCOV_TYPES", "VCOV_TYPES", "CovarianceFit", "VcovType", "resolve_vcov"]

VcovType = Literal["iid", "hc1", "hc2", "hc3", "cluster", "cr2"]
VCOV_TYPES: tuple[str, ...] = ("iid", "hc1", "hc2", "hc3", "cluster", "cr2")
IMPLEMENTED_VCOV_TYPES: tuple[str, ...] = ("iid", "hc1", "hc2", "hc3", "cluster")
CLUSTERED_VCOV_TYPES: tuple[str, ...] = ("cluster", "cr2")


def resolve_vcov(vcov: str | None, cluster: str | None) -> str:
    """Check ``vcov`` against the table and apply the default.

    Examples
    --------
    >>> resolve_vcov(None, "village_code"), resolve_vcov(None, None)
    ('cluster', 'hc1')
    """
    if cluster is not None and not isinstance(cluster, str):
        raise ConfigError(f"cluster must be one column name, found {cluster!r}")
    if vcov is None:
        return "cluster" if cluster is not None else "hc1"
    check_choice("vcov", vcov, VCOV_TYPES)
    if vcov not in IMPLEMENTED_VCOV_TYPES:
        raise EstimationError(
            f"vcov={vcov!r} is not implemented yet; the implemented covariance types are "
            f"{', '.join(map(repr, IMPLEMENTED_VCOV_TYPES))}"
        )
    if vcov in CLUSTERED_VCOV_TYPES and cluster is None:
        raise ConfigError(f"vcov={vcov!r} needs cluster= (the column identifying the clusters)")
    if vcov not in CLUSTERED_VCOV_TYPES and cluster is not None:
        raise ConfigError(
            f"cluster={cluster!r} is given but vcov={vcov!r} does not cluster; use "
            "vcov='cluster' or leave vcov out"
        )
    return vcov


@dataclasses.dataclass(frozen=True)
class CovarianceFit:
    """A covariance matrix with the inference that goes with it."""

    covariance: np.ndarray
    df: float
    n_clusters: int | None
    label: str


def sandwich(
    scores_x: np.ndarray,
    residuals: np.ndarray,
    bread: np.ndarray,
    *,
    kind: str,
    n_params: int,
    clusters: np.ndarray | None = None,
    cluster_name: str | None = None,
    leverage: np.ndarray | None = None,
) -> CovarianceFit:
    """Covariance of a linear estimator, ``bread @ meat @ bread`` with Stata's conventions.

    Parameters
    ----------
    scores_x : numpy.ndarray
        N x k regressors in the weighted, within-transformed space (for 2SLS, the fitted
        regressors); the score of observation i is ``scores_x[i] * residuals[i]``.
    residuals : numpy.ndarray
        Residuals in the same space.
    bread : numpy.ndarray
        ``inv(scores_x' scores_x)``.
    kind : str
        One of ``IMPLEMENTED_VCOV_TYPES``.
    n_params : int
        K: every estimated parameter, absorbed ones included as the estimator counts them.
    clusters : numpy.ndarray, optional
        Integer cluster codes 0..G-1, required when ``kind="cluster"``.
    cluster_name : str, optional
        Column name used in the label.
    leverage : numpy.ndarray, optional
        Diagonal of the hat matrix, required for hc2/hc3.
    """
    n_obs = residuals.shape[0]
    df_resid = n_obs - n_params
    if df_resid <= 0:
        raise EstimationError(
            f"{n_obs} observations are not enough for {n_params} parameters "
            "(including absorbed fixed effects)"
        )
    if kind == "iid":
        sigma2 = float(residuals @ residuals) / df_resid
        return CovarianceFit(sigma2 * bread, df_resid, None, "iid, t(N-K)")
    if kind in ("hc1", "hc2", "hc3"):
        if kind == "hc1":
            squared = residuals**2 * (n_obs / df_resid)
        else:
            if leverage is None:
                raise EstimationError(f"vcov={kind!r} needs the leverage of each observation")
            one_minus = 1.0 - leverage
            if np.any(one_minus <= 1e-12):
                raise EstimationError(
                    f"vcov={kind!r} is undefined: some observations have leverage 1 "
                    "(e.g. a fixed-effect level with one observation); use vcov='hc1'"
                )
            squared = residuals**2 / (one_minus if kind == "hc2" else one_minus**2)
        meat = scores_x.T @ (scores_x * squared[:, None])
        return CovarianceFit(bread @ meat @ bread, df_resid, None, f"{kind.upper()}, t(N-K)")
    if kind == "cluster":
        if clusters is None:
            raise ConfigError("vcov='cluster' needs cluster=")
        n_clusters = int(clusters.max()) + 1
        if n_clusters < 2:
            raise EstimationError(
                f"cluster-robust inference needs at least 2 clusters in {cluster_name!r}, found "
                f"{n_clusters}"
            )
        scores = scores_x * residuals[:, None]
        cluster_sums = np.zeros((n_clusters, scores.shape[1]))
        np.add.at(cluster_sums, clusters, scores)
        meat = cluster_sums.T @ cluster_sums
        factor = n_clusters / (n_clusters - 1) * (n_obs - 1) / df_resid
        return CovarianceFit(
            factor * (bread @ meat @ bread),
            n_clusters - 1,
            n_clusters,
            f"cluster CR1 ({cluster_name}), t(G-1)",
        )
    raise EstimationError(f"vcov={kind!r} is not implemented yet")
