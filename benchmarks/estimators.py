"""Speed of Doorstep's estimators side by side with pyfixest, moderndid and a bare numpy bound.

Run ``.venv/bin/python benchmarks/estimators.py [--quick] [--repeat N]``. Every timing is the
best of ``N`` (default 5) wall-clock runs, taken after one warm-up call (so numba compilation in
the peers is not timed); on a shared, loaded machine the best of several runs is the figure
least disturbed by other work, and the ratios of one run are the ones to compare. The rows are

* OLS with cluster-robust (CR1) standard errors, 5 regressors, clusters of 20 rows: our
  ``regress`` vs pyfixest ``feols(vcov={"CRV1": ...})`` vs numpy (``lstsq`` plus the cluster
  sandwich with ``bincount`` cluster sums), a lower bound for any implementation in numpy;
* two-way fixed effects on a balanced panel of 100k units x 3 rounds clustered by unit: our
  ``twfe`` vs ``feols("y ~ d | unit + time")`` vs numpy (exact two-way demeaning of a balanced
  panel by group means, then the same sandwich);
* staggered DiD (Callaway-Sant'Anna, never-treated comparison, no covariates) on a 100k-unit
  panel of 5 periods: our ``staggered_did`` (without and with the 999-draw bootstrap) vs
  moderndid ``att_gt(boot=False)``.

Ratios above 1 mean we are slower. The data are simulated here (seed 0); nothing is written.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from doorstep.estimate.linear import regress
from doorstep.estimate.panel import twfe
from doorstep.estimate.staggered import staggered_did

REPEAT = 5


def best_of(function: Callable[[], object], repeat: int | None = None) -> float:
    times = []
    for _ in range(repeat or REPEAT):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def cluster_sandwich(x: np.ndarray, y: np.ndarray, clusters: np.ndarray, n_absorbed: int = 0):
    """OLS and CR1 standard errors in bare numpy: the lower bound."""
    coefficients, *_ = np.linalg.lstsq(x, y, rcond=None)
    residuals = y - x @ coefficients
    bread = np.linalg.inv(x.T @ x)
    n_clusters = int(clusters.max()) + 1
    scores = x * residuals[:, None]
    sums = np.column_stack(
        [np.bincount(clusters, weights=column, minlength=n_clusters) for column in scores.T]
    )
    n, k = x.shape[0], x.shape[1] + n_absorbed
    factor = n_clusters / (n_clusters - 1) * (n - 1) / (n - k)
    return coefficients, np.sqrt(np.diag(factor * bread @ sums.T @ sums @ bread))


def ols_data(n_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    x = rng.normal(size=(n_rows, 5))
    frame = pd.DataFrame(x, columns=[f"x{j}" for j in range(1, 6)])
    frame["g"] = np.arange(n_rows) // 20
    frame["y"] = x @ np.arange(1.0, 6.0) + rng.normal(size=n_rows)
    return frame


def panel_data(n_units: int, n_periods: int, rng: np.random.Generator) -> pd.DataFrame:
    unit = np.repeat(np.arange(n_units), n_periods)
    period = np.tile(np.arange(1, n_periods + 1), n_units)
    cohort_choices = np.array([0, *range(3, n_periods + 1)])
    cohort = rng.choice(cohort_choices, size=n_units)[unit]
    treated = ((cohort > 0) & (period >= cohort)).astype(float)
    y = rng.normal(size=n_units)[unit] + 0.3 * period + 2.0 * treated + rng.normal(size=unit.size)
    return pd.DataFrame({"unit": unit, "time": period, "cohort": cohort, "d": treated, "y": y})


def numpy_twfe(frame: pd.DataFrame, n_units: int, n_periods: int):
    """Balanced panel: demean by unit and period means exactly, then OLS with CR1 by unit."""
    unit = frame["unit"].to_numpy()
    period = frame["time"].to_numpy() - 1
    stacked = np.column_stack([frame["y"].to_numpy(), frame["d"].to_numpy()])
    unit_means = np.column_stack(
        [np.bincount(unit, weights=stacked[:, j]) / n_periods for j in range(2)]
    )
    time_means = np.column_stack(
        [np.bincount(period, weights=stacked[:, j]) / n_units for j in range(2)]
    )
    demeaned = stacked - unit_means[unit] - time_means[period] + stacked.mean(axis=0)
    return cluster_sandwich(demeaned[:, 1:], demeaned[:, 0], unit, n_absorbed=n_periods)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about a minute)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (best kept)")
    options = parser.parse_args(argv)
    global REPEAT
    REPEAT = max(1, options.repeat)
    import moderndid
    import pyfixest as pf

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    rows: list[dict[str, object]] = []

    def record(task: str, n_rows: int, ours: float, peer: float | None, bound: float | None,
               peer_name: str) -> None:
        rows.append(
            {
                "task": task,
                "rows": n_rows,
                "doorstep_s": ours,
                "peer": peer_name,
                "peer_s": peer,
                "numpy_s": bound,
                "vs_peer": ours / peer if peer else None,
                "vs_numpy": ours / bound if bound else None,
            }
        )
        print(f"  done: {task} ({n_rows:,} rows)", file=sys.stderr)

    # warm-up (numba compilation in pyfixest and moderndid is not timed)
    small = ols_data(2_000, rng)
    pf.feols("y ~ x1 + x2 + x3 + x4 + x5", data=small, vcov={"CRV1": "g"})
    warm = panel_data(500, 3, rng)
    pf.feols("y ~ d | unit + time", data=warm, vcov={"CRV1": "unit"})

    sizes = [10_000, 100_000] if options.quick else [10_000, 100_000, 1_000_000]
    formula = "y ~ x1 + x2 + x3 + x4 + x5"
    names = ["x1", "x2", "x3", "x4", "x5"]
    for n_rows in sizes:
        frame = ols_data(n_rows, rng)
        x = np.column_stack([frame[names].to_numpy(), np.ones(n_rows)])
        y, groups = frame["y"].to_numpy(), frame["g"].to_numpy()
        ours = best_of(lambda frame=frame: regress(frame, "y", names, cluster="g"))
        peer = best_of(lambda frame=frame: pf.feols(formula, data=frame, vcov={"CRV1": "g"}))
        bound = best_of(lambda x=x, y=y, groups=groups: cluster_sandwich(x, y, groups))
        record("OLS, CR1 (regress)", n_rows, ours, peer, bound, "pyfixest")

    n_units = 20_000 if options.quick else 100_000
    panel = panel_data(n_units, 3, rng)
    ours = best_of(lambda: twfe(panel, "y", "d", "unit", "time", cluster="unit"))
    peer = best_of(lambda: pf.feols("y ~ d | unit + time", data=panel, vcov={"CRV1": "unit"}))
    bound = best_of(lambda: numpy_twfe(panel, n_units, 3))
    record("TWFE unit+time, CR1 (twfe)", len(panel), ours, peer, bound, "pyfixest")

    panel = panel_data(n_units, 5, rng)
    peer_frame = panel.rename(columns={"cohort": "first_treat"})
    moderndid.att_gt(peer_frame.head(500), "y", "time", "unit", "first_treat", boot=False)
    ours = best_of(
        lambda: staggered_did(panel, "y", "unit", "time", "cohort", bootstrap_reps=0).aggregate(
            "dynamic"
        )
    )
    peer = best_of(
        lambda: moderndid.att_gt(
            peer_frame, "y", "time", "unit", "first_treat", est_method="reg", boot=False
        )
    )
    record("staggered DiD, no bootstrap", len(panel), ours, peer, None, "moderndid")
    ours_boot = best_of(
        lambda: staggered_did(panel, "y", "unit", "time", "cohort", bootstrap_reps=999, seed=1)
        .uniform_critical_value()
    )
    record("staggered DiD + 999 bootstrap", len(panel), ours_boot, peer, None, "moderndid")

    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 140, "display.float_format", "{:.3f}".format):
        print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
