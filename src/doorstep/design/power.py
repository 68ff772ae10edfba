"""Power and minimum detectable effects, in closed form and by simulation.

The analytic model (Bloom 1995; Duflo, Glennerster and Kremer 2007, eq. 6-9; Eldridge, Ashby
and Kerry 2006 for unequal cluster sizes) compares two arms on a continuous outcome with
standard deviation ``sd``:

- ``n_clusters`` J clusters (villages) of mean size m, a share P of clusters treated. An
  individually randomised design is the special case ``cluster_size=1`` with ``icc=0`` and J
  the number of people.
- Attrition a leaves m' = m (1 - a) respondents per cluster (clusters are not lost).
- Design effect DEFF = 1 + ((cv^2 + 1) m' - 1) ICC, with cv the coefficient of variation of
  cluster size.
- ANCOVA on a baseline covariate explaining a share R^2 of the outcome variance at both
  levels: SE = sd x sqrt((1 - R^2) DEFF / (P (1 - P) J m')).
- Take-up: the intention-to-treat difference is the effect on participants times the take-up
  difference (``take_up - take_up_control``); the MDE reported as ``effect`` is the effect on
  participants (MDE of the ITT / take-up difference), ``effect_itt`` the ITT one.
- Power counts both rejection tails for two-sided tests. ``distribution="normal"`` uses z
  (the textbook closed form: MDE = (z_{1-alpha/2} + z_{power}) SE, up to the negligible far
  tail); ``"t"`` uses the noncentral t with J - 2 degrees of freedom for cluster designs and
  J (1 - a) - 2 for individual ones (with ``cluster_size=1`` and no attrition this is exactly
  statsmodels' ``TTestIndPower``).

Any one of ``effect``, ``n_clusters``, ``cluster_size`` and ``power`` is solved for (by
Brent's method on the power function) given the others; the solution is continuous (round
clusters and cluster sizes up).

``simulated_power`` estimates power for designs without a closed form (a staggered roll-out)
from a function that simulates a data set and one that estimates. This module must not import
``estimate``, ``report`` or ``run``: those functions are passed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

from doorstep.errors import ConfigError, DoorstepError

SOLVABLE = ("effect", "n_clusters", "cluster_size", "power")


@dataclass(frozen=True)
class PowerCalculation:
    """Every input and output of one power calculation; ``solved_for`` names the unknown."""

    solved_for: str
    effect: float
    effect_itt: float
    n_clusters: float
    cluster_size: float
    power: float
    alpha: float
    sides: int
    icc: float
    cluster_size_cv: float
    r_squared: float
    attrition: float
    take_up: float
    take_up_control: float
    treated_share: float
    sd: float
    distribution: str
    design_effect: float
    std_error: float
    degrees_of_freedom: float
    n_obs: float

    def effect_in_sd(self) -> float:
        """The effect on participants in outcome standard deviations."""
        return self.effect / self.sd

    def tidy(self) -> pd.DataFrame:
        """One-row frame of every field."""
        return pd.DataFrame([asdict(self)])


def design_effect(cluster_size: float, icc: float, cluster_size_cv: float = 0.0) -> float:
    """Eldridge et al. (2006) design effect: 1 + ((cv^2 + 1) m - 1) ICC.

    Examples
    --------
    >>> design_effect(20, 0.05, 0.5)
    2.2
    """
    return float(1 + ((cluster_size_cv**2 + 1) * cluster_size - 1) * icc)


def _check(name: str, value: float, low: float, high: float, *, closed_low: bool = True,
           closed_high: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"power, key {name!r}: expected a number, found {value!r}") from None
    ok_low = number >= low if closed_low else number > low
    ok_high = number <= high if closed_high else number < high
    if not (ok_low and ok_high) or math.isnan(number):
        left, right = "[" if closed_low else "(", "]" if closed_high else ")"
        raise ConfigError(f"power, key {name!r}: expected a number in {left}{low:g}, {high:g}"
                          f"{right}, found {value!r}")
    return number


def _power(effect, n_clusters, cluster_size, settings) -> tuple[float, dict[str, float]]:
    observed = cluster_size * (1 - settings["attrition"])
    deff = design_effect(observed, settings["icc"], settings["cluster_size_cv"])
    share = settings["treated_share"]
    n_obs = n_clusters * observed
    std_error = settings["sd"] * math.sqrt(
        (1 - settings["r_squared"]) * deff / (share * (1 - share) * n_obs))
    effect_itt = effect * (settings["take_up"] - settings["take_up_control"])
    centre = abs(effect_itt) / std_error
    alpha, sides = settings["alpha"], settings["sides"]
    clustered = cluster_size > 1 or settings["icc"] > 0
    freedom = n_clusters - 2 if clustered else n_obs - 2
    if settings["distribution"] == "normal":
        critical = stats.norm.ppf(1 - alpha / sides)
        power = stats.norm.sf(critical - centre)
        if sides == 2:
            power += stats.norm.cdf(-critical - centre)
    else:
        if freedom <= 0:
            power = float("nan")
        else:
            critical = stats.t.ppf(1 - alpha / sides, freedom)
            power = stats.nct.sf(critical, freedom, centre)
            if sides == 2:
                power += stats.nct.cdf(-critical, freedom, centre)
    return float(power), {"design_effect": deff, "std_error": std_error,
                          "effect_itt": effect_itt, "degrees_of_freedom": float(freedom),
                          "n_obs": n_obs}


def power_analysis(*, effect: float | None = None, n_clusters: float | None = None,
                   cluster_size: float | None = 1, power: float | None = 0.8,
                   alpha: float = 0.05, sides: Literal[1, 2] = 2, icc: float = 0.0,
                   cluster_size_cv: float = 0.0, r_squared: float = 0.0,
                   attrition: float = 0.0, take_up: float = 1.0, take_up_control: float = 0.0,
                   treated_share: float = 0.5, sd: float = 1.0,
                   distribution: Literal["normal", "t"] = "normal") -> PowerCalculation:
    """Solve for whichever one of effect, n_clusters, cluster_size and power is ``None``.

    Parameters
    ----------
    effect
        Effect on participants in outcome units (``sd=1``: in standard deviations).
    n_clusters
        Clusters in both arms together (people, for an individual design).
    cluster_size
        Mean number of people surveyed per cluster before attrition; 1 for an individual
        design.
    power, alpha, sides
        Target power, test size, one- or two-sided test.
    icc, cluster_size_cv, r_squared, attrition, take_up, take_up_control, treated_share, sd
        See the module notes.
    distribution
        ``"normal"`` (z) or ``"t"`` (noncentral t).

    Raises
    ------
    ConfigError
        If not exactly one quantity is ``None``, an input is out of range, or no cluster size
        reaches the power asked for (the ICC sets a floor to the MDE with J clusters).

    Examples
    --------
    >>> result = power_analysis(n_clusters=128, cluster_size=1)
    >>> round(result.effect, 4)
    0.4953
    """
    given = {"effect": effect, "n_clusters": n_clusters, "cluster_size": cluster_size,
             "power": power}
    unknown = [name for name, value in given.items() if value is None]
    if len(unknown) != 1:
        raise ConfigError(f"power: expected exactly one of {list(SOLVABLE)} to be None "
                          f"(the unknown), found {unknown or 'none'}")
    if sides not in (1, 2):
        raise ConfigError(f"power, key 'sides': expected 1 or 2, found {sides!r}")
    if distribution not in ("normal", "t"):
        raise ConfigError(f"power, key 'distribution': expected one of ['normal', 't'], "
                          f"found {distribution!r}")
    settings: dict[str, Any] = {
        "alpha": _check("alpha", alpha, 0, 1, closed_low=False),
        "sides": sides,
        "icc": _check("icc", icc, 0, 1),
        "cluster_size_cv": _check("cluster_size_cv", cluster_size_cv, 0, math.inf),
        "r_squared": _check("r_squared", r_squared, 0, 1),
        "attrition": _check("attrition", attrition, 0, 1),
        "take_up": _check("take_up", take_up, 0, 1, closed_low=False, closed_high=True),
        "take_up_control": _check("take_up_control", take_up_control, 0, 1),
        "treated_share": _check("treated_share", treated_share, 0, 1, closed_low=False),
        "sd": _check("sd", sd, 0, math.inf, closed_low=False),
        "distribution": distribution,
    }
    if settings["take_up"] <= settings["take_up_control"]:
        raise ConfigError(f"power, key 'take_up': expected more than take_up_control "
                          f"({take_up_control!r}), found {take_up!r}")
    if effect is not None:
        effect = _check("effect", effect, 0, math.inf, closed_low=False)
    if power is not None:
        power = _check("power", power, 0, 1, closed_low=False)
    if n_clusters is not None:
        n_clusters = _check("n_clusters", n_clusters, 0, math.inf, closed_low=False)
    if cluster_size is not None:
        cluster_size = _check("cluster_size", cluster_size, 0, math.inf, closed_low=False)
    target = unknown[0]
    if target == "power":
        solved = dict(given)
    else:
        solved = dict(given, **{target: _solve(target, given, settings)})
    value, details = _power(solved["effect"], solved["n_clusters"], solved["cluster_size"],
                            settings)
    return PowerCalculation(
        solved_for=target, effect=float(solved["effect"]), n_clusters=float(solved["n_clusters"]),
        cluster_size=float(solved["cluster_size"]), power=value,
        **{key: settings[key] for key in ("alpha", "sides", "icc", "cluster_size_cv",
                                          "r_squared", "attrition", "take_up",
                                          "take_up_control", "treated_share", "sd",
                                          "distribution")},
        **details)


def _solve(target: str, given: Mapping[str, float | None], settings) -> float:
    goal = given["power"]

    def gap(value: float) -> float:
        arguments = dict(given, **{target: value})
        reached = _power(arguments["effect"], arguments["n_clusters"], arguments["cluster_size"],
                         settings)[0]
        return -goal if math.isnan(reached) else reached - goal

    if target == "effect":
        low, high = 1e-12, 1.0
        while gap(high) < 0:
            high *= 2
            if high > 1e12:
                raise ConfigError("power: no effect size reaches the power asked for")
        return optimize.brentq(gap, low, high, xtol=1e-12, rtol=1e-12)
    clustered = settings["icc"] > 0 or target == "cluster_size" or (given["cluster_size"] or 1) > 1
    low = 1e-9
    if target == "n_clusters" and settings["distribution"] == "t":
        low = 3.0 if clustered else 3.0 / (  # at least one degree of freedom
            (given["cluster_size"] or 1) * (1 - settings["attrition"]))
    high = 10.0
    while gap(high) < 0:
        high *= 2
        if high > 1e12:
            floor = ""
            if target == "cluster_size":
                floor = (" with this number of clusters the ICC alone sets a floor to the "
                         "detectable effect; add clusters instead")
            raise ConfigError(f"power, key {target!r}: expected a design that reaches power "
                              f"{goal:g}, found none up to 1e12;{floor}")
    if gap(low) > 0:
        return low
    return optimize.brentq(gap, low, high, xtol=1e-10, rtol=1e-12)


def minimum_detectable_effect(**settings: Any) -> float:
    """The MDE on participants (``power_analysis(effect=None, ...)``); keywords as there.

    Examples
    --------
    >>> round(minimum_detectable_effect(n_clusters=60, cluster_size=20, icc=0.05), 3)
    0.226
    """
    return power_analysis(effect=None, **settings).effect


@dataclass(frozen=True)
class SimulatedPower:
    """Share of replications rejecting at ``alpha``, with its Monte Carlo standard error."""

    power: float
    mc_std_error: float
    rejections: int
    replications: int
    failed: int
    alpha: float
    seed: int
    mean_estimate: float

    def tidy(self) -> pd.DataFrame:
        """One-row frame of every field."""
        return pd.DataFrame([asdict(self)])


def _p_value_and_estimate(result: Any) -> tuple[float, float]:
    if isinstance(result, int | float | np.floating):
        return float(result), float("nan")
    if isinstance(result, Mapping):
        return float(result["p_value"]), float(result.get("estimate", float("nan")))
    if hasattr(result, "p_value"):
        return float(result.p_value), float(getattr(result, "estimate", float("nan")))
    raise ConfigError(f"simulated_power, key 'estimate': expected a function returning a "
                      f"p-value, a mapping with 'p_value' or a result with .p_value, found "
                      f"{type(result).__name__}")


def simulated_power(simulate: Callable[[int], Any], estimate: Callable[[Any], Any], *,
                    replications: int = 200, alpha: float = 0.05, seed: int) -> SimulatedPower:
    """Power by simulation: the share of simulated data sets where the test rejects.

    Parameters
    ----------
    simulate
        ``simulate(seed) -> data``; called with a different seed per replication, drawn
        from ``numpy.random.SeedSequence(seed)``, so the whole run is reproducible.
    estimate
        ``estimate(data) ->`` a p-value, a mapping with ``"p_value"`` (and optionally
        ``"estimate"``), or a result object with ``.p_value`` (and ``.estimate``), such as
        the project's estimators' results.
    replications, alpha, seed
        Number of data sets, test size and the master seed.

    Returns
    -------
    SimulatedPower
        ``power`` = rejections / successful replications and its Monte Carlo SE
        sqrt(p (1 - p) / R). Replications whose estimator raises a Doorstep error (e.g. too
        few clusters) are counted in ``failed`` and left out.

    Examples
    --------
    >>> from scipy import stats
    >>> result = simulated_power(
    ...     lambda s: np.random.default_rng(s).normal(0.5, 1, 50),
    ...     lambda y: stats.ttest_1samp(y, 0).pvalue, replications=100, seed=1)
    >>> result.power > 0.8
    True
    """
    if not isinstance(replications, int) or replications < 1:
        raise ConfigError(f"simulated_power, key 'replications': expected a whole number >= 1, "
                          f"found {replications!r}")
    _check("alpha", alpha, 0, 1, closed_low=False)
    seeds = np.random.SeedSequence(seed).generate_state(replications)
    rejections, failed, estimates = 0, 0, []
    for replication_seed in seeds:
        try:
            p_value, estimate_value = _p_value_and_estimate(estimate(simulate(
                int(replication_seed))))
        except DoorstepError:
            failed += 1
            continue
        rejections += int(p_value < alpha)
        estimates.append(estimate_value)
    done = replications - failed
    share = rejections / done if done else float("nan")
    return SimulatedPower(
        power=share, mc_std_error=math.sqrt(share * (1 - share) / done) if done else math.nan,
        rejections=rejections, replications=done, failed=failed, alpha=alpha, seed=seed,
        mean_estimate=float(np.nanmean(estimates)) if estimates and not np.all(
            np.isnan(estimates)) else float("nan"))
