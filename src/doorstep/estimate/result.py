"""The one result type that every Doorstep estimator returns.

This module owns :class:`EstimationResult` (coefficients, their covariance and the inference used,
with ``tidy()`` giving the one-row-per-term frame of the design contract) and :class:`WaldTest`
(a joint test). A result never holds the data frame it was estimated from; changing the inference
gives a new result. This module must not import ``doorstep.io``, ``doorstep.report``,
``doorstep.run`` or notebook code.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from doorstep.errors import ConfigError, EstimationError

__all__ = ["TIDY_COLUMNS", "EstimationResult", "WaldTest"]

TIDY_COLUMNS = (
    "outcome",
    "estimator",
    "term",
    "estimate",
    "std_error",
    "statistic",
    "p_value",
    "conf_low",
    "conf_high",
    "n_obs",
    "n_clusters",
    "inference",
)


def _check_level(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, int | float) or not 0 < level < 1:
        raise ConfigError(f"level must be a number strictly between 0 and 1, found {level!r}")
    return float(level)


@dataclasses.dataclass(frozen=True)
class WaldTest:
    """A joint Wald test of several coefficients being zero.

    Attributes
    ----------
    statistic : float
        The F statistic (``distribution="F"``) or the chi-squared statistic (``"chi2"``).
    df_num : int
        Number of restrictions tested.
    df_denom : float or None
        Denominator degrees of freedom of the F distribution, None for chi-squared.
    p_value : float
        Upper-tail probability of ``statistic``.
    distribution : str
        ``"F"`` or ``"chi2"``.
    terms : tuple of str
        The terms (or group-time cells) tested.

    Examples
    --------
    >>> WaldTest(statistic=4.0, df_num=2, df_denom=None, p_value=0.135, distribution="chi2",
    ...          terms=("a", "b")).df_num
    2
    """

    statistic: float
    df_num: int
    df_denom: float | None
    p_value: float
    distribution: str
    terms: tuple[str, ...] = ()


def wald_test(
    coefficients: np.ndarray,
    covariance: np.ndarray,
    *,
    df_denom: float | None,
    terms: tuple[str, ...] = (),
) -> WaldTest:
    """Wald test that all ``coefficients`` are zero: F = W/q with ``df_denom``, chi2 when None."""
    coefficients = np.asarray(coefficients, dtype=float)
    q = coefficients.size
    if q == 0:
        raise EstimationError("a joint test needs at least one coefficient; none were given")
    try:
        statistic = float(coefficients @ np.linalg.solve(covariance, coefficients))
    except np.linalg.LinAlgError as error:
        raise EstimationError(
            f"the covariance of {', '.join(terms) or 'the tested terms'} is singular; "
            "the joint test cannot be computed"
        ) from error
    if df_denom is None:
        return WaldTest(statistic, q, None, float(stats.chi2.sf(statistic, q)), "chi2", terms)
    f_stat = statistic / q
    return WaldTest(f_stat, q, float(df_denom), float(stats.f.sf(f_stat, q, df_denom)), "F", terms)


@dataclasses.dataclass(frozen=True)
class EstimationResult:
    """Coefficients, their covariance and the inference used, for one estimated model.

    The properties ``estimate``, ``std_error``, ``statistic``, ``p_value`` and ``conf_int``
    describe the main term (the treatment, or the first regressor). ``term(name)`` gives the same
    view for another term, and ``tidy()`` one row per term.

    Attributes
    ----------
    outcome : str
        Name of the outcome column.
    estimator : str
        Label of the estimator (``"ols"``, ``"ancova"``, ``"iv_2sls"``...).
    terms : tuple of str
        Names of the coefficients, in order.
    coefficients : numpy.ndarray
        Point estimates, one per term.
    covariance : numpy.ndarray
        Covariance matrix of the coefficients.
    n_obs : int
        Observations used (after dropping rows with missing values).
    n_clusters : int or None
        Number of clusters, None when the inference is not clustered.
    inference : str
        Short label of the inference, e.g. ``"cluster CR1 (village_code), t(G-1)"``.
    df : float or None
        Degrees of freedom of the t distribution used for p-values and intervals; None means
        the standard normal.
    main_term : str
        The term that ``estimate``, ``std_error``... describe.
    extras : Mapping
        Estimator-specific extras (first-stage F, rows dropped, ...), read-only.

    Examples
    --------
    >>> import numpy as np
    >>> result = EstimationResult(outcome="income", estimator="ols", terms=("treated",),
    ...     coefficients=np.array([2.0]), covariance=np.array([[0.25]]), n_obs=100,
    ...     n_clusters=None, inference="HC1, t(N-K)", df=98, main_term="treated")
    >>> round(result.std_error, 2), round(result.statistic, 2)
    (0.5, 4.0)
    """

    outcome: str
    estimator: str
    terms: tuple[str, ...]
    coefficients: np.ndarray = dataclasses.field(repr=False)
    covariance: np.ndarray = dataclasses.field(repr=False)
    n_obs: int
    n_clusters: int | None
    inference: str
    df: float | None
    main_term: str
    extras: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        coefficients = np.array(self.coefficients, dtype=float).reshape(-1)
        covariance = np.array(self.covariance, dtype=float).reshape(coefficients.size, -1)
        if covariance.shape != (coefficients.size, coefficients.size) or len(self.terms) != (
            coefficients.size
        ):
            raise EstimationError(
                f"{len(self.terms)} terms, {coefficients.size} coefficients and a "
                f"{covariance.shape} covariance do not match"
            )
        if self.main_term not in self.terms:
            raise ConfigError(
                f"main term {self.main_term!r} is not one of the terms {list(self.terms)}"
            )
        coefficients.flags.writeable = False
        covariance.flags.writeable = False
        object.__setattr__(self, "terms", tuple(self.terms))
        object.__setattr__(self, "coefficients", coefficients)
        object.__setattr__(self, "covariance", covariance)
        object.__setattr__(self, "extras", MappingProxyType(dict(self.extras)))

    # -- the main term -----------------------------------------------------------------------
    @property
    def _index(self) -> int:
        return self.terms.index(self.main_term)

    @property
    def estimate(self) -> float:
        """Point estimate of the main term."""
        return float(self.coefficients[self._index])

    @property
    def std_error(self) -> float:
        """Standard error of the main term."""
        variance = self.covariance[self._index, self._index]
        return float(math.sqrt(variance)) if variance >= 0 else math.nan

    @property
    def statistic(self) -> float:
        """t (or z when ``df`` is None) statistic of the main term against zero."""
        std_error = self.std_error
        return self.estimate / std_error if std_error > 0 else math.nan

    @property
    def p_value(self) -> float:
        """Two-sided p-value of the main term, from t(df) or the normal when ``df`` is None."""
        statistic = self.statistic
        if math.isnan(statistic):
            return math.nan
        if self.df is None:
            return float(2 * stats.norm.sf(abs(statistic)))
        return float(2 * stats.t.sf(abs(statistic), self.df))

    def critical_value(self, level: float = 0.95) -> float:
        """Two-sided critical value for ``level`` from the distribution used for inference."""
        level = _check_level(level)
        quantile = 0.5 + level / 2
        if self.df is None:
            return float(stats.norm.ppf(quantile))
        return float(stats.t.ppf(quantile, self.df))

    def conf_int(self, level: float = 0.95) -> tuple[float, float]:
        """Confidence interval ``(low, high)`` for the main term.

        Examples
        --------
        >>> import numpy as np
        >>> result = EstimationResult(outcome="y", estimator="ols", terms=("d",),
        ...     coefficients=np.array([1.0]), covariance=np.array([[1.0]]), n_obs=10,
        ...     n_clusters=None, inference="iid, normal", df=None, main_term="d")
        >>> [round(bound, 2) for bound in result.conf_int()]
        [-0.96, 2.96]
        """
        half_width = self.critical_value(level) * self.std_error
        return (self.estimate - half_width, self.estimate + half_width)

    # -- other terms -------------------------------------------------------------------------
    def term(self, name: str) -> EstimationResult:
        """The same result, describing term ``name`` instead of the main term."""
        if name not in self.terms:
            raise ConfigError(f"term {name!r} is not estimated; the terms are {list(self.terms)}")
        return dataclasses.replace(self, main_term=name)

    def with_inference(
        self,
        *,
        covariance: np.ndarray,
        inference: str,
        df: float | None,
        n_clusters: int | None,
    ) -> EstimationResult:
        """A new result with the same estimates and another covariance and inference label.

        The original result is unchanged (results are immutable).
        """
        return dataclasses.replace(
            self, covariance=covariance, inference=inference, df=df, n_clusters=n_clusters
        )

    def wald_test(self, terms: tuple[str, ...] | list[str]) -> WaldTest:
        """Joint Wald test that all ``terms`` are zero (F with ``df`` denominator, chi2 if None)."""
        terms = tuple(terms)
        unknown = [name for name in terms if name not in self.terms]
        if unknown:
            raise ConfigError(
                f"terms {unknown} are not estimated; the terms are {list(self.terms)}"
            )
        index = [self.terms.index(name) for name in terms]
        return wald_test(
            self.coefficients[index],
            self.covariance[np.ix_(index, index)],
            df_denom=self.df,
            terms=terms,
        )

    def tidy(self, level: float = 0.95) -> pd.DataFrame:
        """One row per term with the columns of the design contract (``TIDY_COLUMNS``).

        Examples
        --------
        >>> import numpy as np
        >>> result = EstimationResult(outcome="y", estimator="ols", terms=("d", "intercept"),
        ...     coefficients=np.array([1.0, 0.5]), covariance=np.eye(2), n_obs=10,
        ...     n_clusters=None, inference="iid, t(N-K)", df=8, main_term="d")
        >>> list(result.tidy()["term"])
        ['d', 'intercept']
        """
        rows = []
        for name in self.terms:
            view = self.term(name)
            low, high = view.conf_int(level)
            rows.append(
                {
                    "outcome": self.outcome,
                    "estimator": self.estimator,
                    "term": name,
                    "estimate": view.estimate,
                    "std_error": view.std_error,
                    "statistic": view.statistic,
                    "p_value": view.p_value,
                    "conf_low": low,
                    "conf_high": high,
                    "n_obs": self.n_obs,
                    "n_clusters": self.n_clusters,
                    "inference": self.inference,
                }
            )
        frame = pd.DataFrame(rows, columns=list(TIDY_COLUMNS))
        frame["n_clusters"] = frame["n_clusters"].astype("Int64")
        return frame
