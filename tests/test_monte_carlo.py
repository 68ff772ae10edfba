"""Monte Carlo checks of coverage and size on simulated clustered data with a known effect.

The slow suite (``make test-slow``; ``pytest -m slow tests/test_monte_carlo.py -s``) runs 1,000
replications of each design and prints (and writes to the test's tmp dir) the coverage table;
every 95% interval must cover the truth in 93%-97% of replications and every 5% test of the
true value must reject in 3.5%-6.5%. (Both are read off the same replications: for intervals
that are the acceptance regions of the tests, as here, size = 1 - coverage exactly.) The
default run repeats each design 100 times with a loose band (coverage 85%-100%) so that
``make test`` exercises the code. Inside the Monte Carlo the wild cluster bootstrap uses 399
draws (at 8 clusters Rademacher weights are fully enumerated: 2^8 = 256 draws).

Designs (all with a true effect of 0.3 unless said):
* ``ancova_cr1_g50``: 50 villages of 20 households, half the villages treated, outcome with a
  village effect (ICC ~0.2) and a baseline outcome; ANCOVA with CR1 and t(G-1);
* ``wild_wcr_g8``/``wild_wcr_g12``: 8 / 12 villages of 30 households (cluster sizes 15-45),
  half treated, heteroskedastic errors; WCR Rademacher wild cluster bootstrap of the ANCOVA;
* ``staggered_did``: 200 units over 5 periods, cohorts 3, 4 and never treated; Callaway and
  Sant'Anna outcome regression, simple aggregate ATT (true 1.0), normal interval;
* ``matching``: 600 units, selection on x1 (about 30% treated), 1:1 propensity-score matching
  without replacement (MatchIt-style), ATT with pair-clustered CR1 and t(G-1) (constant effect
  0.5).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from doorstep.estimate import ancova, nearest_neighbor_match, staggered_did
from doorstep.inference import wild_cluster_bootstrap

BOOT_REPS = 399


def _villages(rng, n_clusters, size, effect, vary_sizes=False):
    sizes = rng.integers(size // 2, size + size // 2 + 1, n_clusters) if vary_sizes else (
        np.full(n_clusters, size))
    village = np.repeat(np.arange(n_clusters), sizes)
    treated = np.zeros(n_clusters)
    treated[rng.permutation(n_clusters)[: n_clusters // 2]] = 1
    n = village.size
    frame = pd.DataFrame({"village": village, "d": treated[village]})
    shock = rng.normal(scale=0.5, size=n_clusters)[village]
    frame["y0"] = shock + rng.normal(size=n)
    noise = rng.normal(size=n) * (1 + 0.5 * frame["d"].to_numpy())
    frame["y"] = effect * frame["d"] + 0.5 * frame["y0"] + shock + noise
    return frame


def _ancova_cr1(rng, truth=0.3):
    frame = _villages(rng, 50, 20, truth)
    fit = ancova(frame, "y", "d", baseline_outcome="y0", cluster="village")
    low, high = fit.conf_int()
    return low <= truth <= high, _p_at(fit, truth)


def _p_at(fit, truth):
    t_stat = (fit.estimate - truth) / fit.std_error
    if fit.df is None:
        return 2 * stats.norm.sf(abs(t_stat))
    return 2 * stats.t.sf(abs(t_stat), fit.df)


def _wild(n_clusters):
    def run(rng, truth=0.3):
        frame = _villages(rng, n_clusters, 30, truth, vary_sizes=True)
        fit = ancova(frame, "y", "d", baseline_outcome="y0", cluster="village")
        boot = wild_cluster_bootstrap(fit, data=frame, cluster="village", reps=BOOT_REPS,
                                      seed=int(rng.integers(2**31)), null=truth)
        low, high = boot.conf_int()
        return low <= truth <= high, boot.p_value

    return run


def _staggered(rng, truth=1.0):
    n, periods = 200, 5
    frame = pd.DataFrame({"id": np.repeat(np.arange(n), periods),
                          "t": np.tile(np.arange(1, periods + 1), n)})
    cohort = rng.choice([0, 3, 4], n)
    frame["g"] = cohort[frame["id"]]
    treated = (frame["g"] > 0) & (frame["t"] >= frame["g"])
    frame["y"] = (rng.normal(size=n)[frame["id"]] + 0.5 * frame["t"] + truth * treated
                  + rng.normal(size=len(frame)))
    fit = staggered_did(frame, "y", "id", "t", "g", method="reg", bootstrap_reps=0)
    overall = fit.aggregate("simple")
    low, high = overall.conf_int()
    return low <= truth <= high, _p_at(overall, truth)


def _matching(rng, truth=0.5):
    n = 600
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    frame["d"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-(0.5 * frame["x1"] - 1)))).astype(int)
    frame["y"] = frame["x1"] + frame["x2"] + truth * frame["d"] + rng.normal(size=n)
    effect = nearest_neighbor_match(frame, "d", ["x1", "x2"], outcome="y").effect
    low, high = effect.conf_int()
    return low <= truth <= high, _p_at(effect, truth)


DESIGNS = {
    "ancova_cr1_g50": _ancova_cr1,
    "wild_wcr_g8": _wild(8),
    "wild_wcr_g12": _wild(12),
    "staggered_did": _staggered,
    "matching": _matching,
}


def simulate_design(name: str, replications: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng([seed, len(name)])
    started = time.perf_counter()
    covered = rejected = 0
    for _ in range(replications):
        inside, p_value = DESIGNS[name](rng)
        covered += bool(inside)
        rejected += bool(p_value <= 0.05)
    return {"design": name, "replications": replications, "coverage": covered / replications,
            "size": rejected / replications, "seconds": time.perf_counter() - started}


def _table(rows) -> str:
    lines = [f"{'design':<16} {'reps':>5} {'coverage':>9} {'size':>7} {'seconds':>8}"]
    for row in rows:
        lines.append(f"{row['design']:<16} {row['replications']:>5} {row['coverage']:>9.3f} "
                     f"{row['size']:>7.3f} {row['seconds']:>8.1f}")
    return "\n".join(lines)


@pytest.mark.parametrize("name", list(DESIGNS))
def test_quick_coverage(name):
    row = simulate_design(name, 100, seed=20240301)
    assert 0.85 <= row["coverage"] <= 1.0, _table([row])
    assert row["size"] <= 0.15, _table([row])


@pytest.mark.slow
def test_monte_carlo_coverage_and_size(tmp_path):
    rows = [simulate_design(name, 1000, seed=20240302) for name in DESIGNS]
    table = _table(rows)
    (tmp_path / "coverage.txt").write_text(table + "\n", encoding="utf-8")
    print("\n" + table)
    for row in rows:
        assert 0.93 <= row["coverage"] <= 0.97, table
        assert 0.035 <= row["size"] <= 0.065, table
