"""Every table the ``00_design`` notebook shows, from one parameters dict: ``design_tables``.

The notebook's ``parameters`` cell holds literals; this function validates them (an unknown key
or an ill-typed value is a ``ConfigError``) and returns named frames. Simulated power needs two
functions (simulate, estimate) and is passed them as arguments, so this module imports neither
the simulator nor ``estimate``. It must not import ``estimate``, ``report`` or ``run``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from doorstep.design.cost import cost_effectiveness
from doorstep.design.power import power_analysis, simulated_power
from doorstep.errors import ConfigError

DEFAULT_PARAMETERS: dict[str, Any] = {
    "outcome": "standardised outcome",
    "sd": 1.0,
    "alpha": 0.05,
    "power": 0.8,
    "sides": 2,
    "distribution": "normal",
    "n_clusters": 60,
    "cluster_size": 20,
    "cluster_size_cv": 0.0,
    "icc": 0.05,
    "r_squared": 0.0,
    "attrition": 0.0,
    "take_up": 1.0,
    "take_up_control": 0.0,
    "treated_share": 0.5,
    "target_effects": None,
    "n_clusters_grid": [20, 40, 60, 80, 100, 150],
    "icc_grid": [0.01, 0.05, 0.1, 0.2],
    "cluster_size_grid": [5, 10, 15, 20, 30, 50],
    "effect_grid": None,
    "cost": None,
    "simulation": None,
}
_DESIGN_KEYS = ("alpha", "sides", "distribution", "cluster_size_cv", "icc", "r_squared",
                "attrition", "take_up", "take_up_control", "treated_share", "sd")
_COST_KEYS = ("total_cost", "n_participants", "effect", "effect_std_error", "effect_unit",
              "cost_std_error", "level", "method", "annual_income_gain",
              "annual_income_gain_std_error", "horizon_years", "discount_rate", "currency")


def design_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters with defaults filled in, checked for unknown keys and types.

    Examples
    --------
    >>> design_parameters({"icc": 0.1})["icc"]
    0.1
    """
    if not isinstance(parameters, Mapping):
        raise ConfigError(f"design parameters: expected a mapping, found "
                          f"{type(parameters).__name__}")
    unknown = [key for key in parameters if key not in DEFAULT_PARAMETERS]
    if unknown:
        raise ConfigError(f"design parameters, key {unknown[0]!r}: expected one of "
                          f"{sorted(DEFAULT_PARAMETERS)}, found {unknown[0]!r}")
    values = {**DEFAULT_PARAMETERS, **parameters}
    for key in ("n_clusters_grid", "icc_grid", "cluster_size_grid", "effect_grid",
                "target_effects"):
        grid = values[key]
        if grid is not None and (isinstance(grid, str) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in grid)):
            raise ConfigError(f"design parameters, key {key!r}: expected a list of numbers, "
                              f"found {grid!r}")
    for key in ("cost", "simulation"):
        if values[key] is not None and not isinstance(values[key], Mapping):
            raise ConfigError(f"design parameters, key {key!r}: expected a mapping or None, "
                              f"found {values[key]!r}")
    if values["cost"] is not None:
        bad = [key for key in values["cost"] if key not in _COST_KEYS]
        if bad:
            raise ConfigError(f"design parameters, key 'cost.{bad[0]}': expected one of "
                              f"{list(_COST_KEYS)}, found {bad[0]!r}")
    if values["simulation"] is not None:
        bad = [key for key in values["simulation"] if key not in ("replications", "seed",
                                                                  "alpha")]
        if bad:
            raise ConfigError(f"design parameters, key 'simulation.{bad[0]}': expected one of "
                              f"['replications', 'seed', 'alpha'], found {bad[0]!r}")
    return values


def design_tables(parameters: Mapping[str, Any], *,
                  simulate: Callable[[int], Any] | None = None,
                  estimate: Callable[[Any], Any] | None = None) -> dict[str, pd.DataFrame]:
    """All tables of the design notebook.

    Returns
    -------
    dict of pandas.DataFrame
        ``assumptions`` (parameter, value); ``mde`` (the design's MDE, ITT and on
        participants, in outcome units and SDs, with design effect, SE and expected
        respondents); ``mde_by_clusters_and_icc`` and ``mde_by_cluster_size_and_icc`` (grids);
        ``clusters_needed`` (clusters for each target effect and ICC, continuous and rounded
        up to an even number); ``power_curve`` (power by effect); ``cost_effectiveness`` when
        ``parameters["cost"]`` is given; ``simulated_power`` when ``simulate`` and
        ``estimate`` are given.

    Examples
    --------
    >>> tables = design_tables({"n_clusters": 40, "cluster_size": 15, "icc": 0.1})
    >>> sorted(tables)[:3]
    ['assumptions', 'clusters_needed', 'mde']
    """
    values = design_parameters(parameters)
    design = {key: values[key] for key in _DESIGN_KEYS}
    power = values["power"]
    at_design = power_analysis(effect=None, n_clusters=values["n_clusters"],
                               cluster_size=values["cluster_size"], power=power, **design)
    tables: dict[str, pd.DataFrame] = {}
    tables["assumptions"] = pd.DataFrame(
        [{"parameter": key, "value": str(values[key])} for key in DEFAULT_PARAMETERS
         if key not in ("cost", "simulation") and not key.endswith("_grid")])
    tables["mde"] = pd.DataFrame([{
        "outcome": values["outcome"], "n_clusters": at_design.n_clusters,
        "cluster_size": at_design.cluster_size, "expected_respondents": at_design.n_obs,
        "design_effect": at_design.design_effect, "std_error": at_design.std_error,
        "mde_itt": at_design.effect_itt, "mde_participants": at_design.effect,
        "mde_participants_sd": at_design.effect_in_sd(), "power": at_design.power,
    }])

    def mde(**changes) -> float:
        settings = {**design, "n_clusters": values["n_clusters"],
                    "cluster_size": values["cluster_size"], **changes}
        return power_analysis(effect=None, power=power, **settings).effect

    tables["mde_by_clusters_and_icc"] = pd.DataFrame(
        [{"n_clusters": clusters, "icc": icc, "mde_participants": mde(n_clusters=clusters,
                                                                      icc=icc)}
         for clusters in values["n_clusters_grid"] for icc in values["icc_grid"]])
    tables["mde_by_cluster_size_and_icc"] = pd.DataFrame(
        [{"cluster_size": size, "icc": icc, "mde_participants": mde(cluster_size=size, icc=icc)}
         for size in values["cluster_size_grid"] for icc in values["icc_grid"]])
    targets = values["target_effects"] or [at_design.effect]
    rows = []
    for target in targets:
        for icc in values["icc_grid"]:
            try:
                clusters = power_analysis(effect=target, n_clusters=None,
                                          cluster_size=values["cluster_size"], power=power,
                                          **{**design, "icc": icc}).n_clusters
            except ConfigError:
                clusters = math.inf
            rows.append({"effect": target, "icc": icc, "n_clusters": clusters,
                         "n_clusters_rounded": 2 * math.ceil(clusters / 2 - 1e-9)
                         if math.isfinite(clusters) else math.inf})
    tables["clusters_needed"] = pd.DataFrame(rows)
    effects = values["effect_grid"] or list(np.round(at_design.effect * np.array(
        [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0]), 6))
    tables["power_curve"] = pd.DataFrame(
        [{"effect": effect, "power": power_analysis(
            effect=effect, n_clusters=values["n_clusters"], cluster_size=values["cluster_size"],
            power=None, **design).power} for effect in effects])
    if values["cost"] is not None:
        tables["cost_effectiveness"] = cost_effectiveness(**values["cost"])
    if simulate is not None and estimate is not None:
        settings = dict(values["simulation"] or {})
        result = simulated_power(simulate, estimate,
                                 replications=settings.get("replications", 200),
                                 alpha=settings.get("alpha", values["alpha"]),
                                 seed=settings.get("seed", 1))
        tables["simulated_power"] = result.tidy()
    return tables
