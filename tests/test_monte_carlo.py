"""Monte Carlo checks of coverage and size on simulated clustered data with a known effect.

The slow suite (``make test-slow``; ``pytest -m slow tests/test_monte_carlo.py -s``) runs each
design ``REPLICATIONS[design]`` times (2,000 to 4,000: the Monte Carlo SE of a 5% rejection rate
is 0.49 points at 2,000 and 0.34 at 4,000, so the band below is meaningful), prints (and writes
to the test's tmp dir) the coverage table, and checks each design in its own test: every 95%
interval must cover the truth in 93%-97% of replications and every 5% test of the true value
must reject in 3.5%-6.5%. (Both are read off the same replications: for intervals that are the
acceptance regions of the tests, as here, size = 1 - coverage exactly.) The default run repeats
each design 100 times with a loose band (coverage 85%-100%) so that ``make test`` exercises the
code. Inside the Monte Carlo the wild cluster bootstrap uses 399 draws (at 8 clusters
Rademacher weights are fully enumerated: 2^8 = 256 draws).

Two known departures are asserted as what they are, not hidden by tuning the designs:

* ``wild_wcr_g8``: the WCR bootstrap over-rejects at 8 clusters with a cluster-level
  treatment (4 treated), with the kit's default CV3 t statistic (MacKinnon, Nielsen and Webb
  2023; see ``doorstep.inference.wild``) as with the classic CR1 one. At 4,000 replications
  (seed 20240302, the same data sets and draws for each variant): WCR with CV3 t (the default)
  6.8% (coverage 93.2%), WCR with CR1 t 7.0%; at 12 clusters 5.3% and 5.8%, both inside the
  band. CR1 draws equal ``wildboottest``'s to 1e-14 and CV3 draws equal brute-force refits of
  every leave-one-cluster-out regression to 1e-10 (``tests/test_inference.py``); ties are
  counted (the conservative convention). Measured and not adopted: MNW's jackknife-residual
  DGP (WCR with CV3 t and jackknife residuals) 7.4% at 2,000 replications (7.3% for the
  default on the same data); Webb weights (399 draws) 7.5-7.8%; earlier, with CR1: 6.8-6.9%
  with equal cluster sizes, homoskedastic errors or no village shock in the baseline outcome,
  so it is not the heterogeneity of the design. WCU with CV3 t is inside the band here (5.5%
  at 8 clusters, 4.5% at 12, 4,000 replications) but over-rejects with few treated clusters
  (9.5% with 2 of 8 villages treated, 11.3% with 2 of 10, at 2,000 and 1,000 replications,
  where WCR with CV3 t holds 4.3% and 2.1%), so it is not the default; neither is the analytic
  CV3 with t(G-1) (4.8% here, 9.2% with 2 of 8 treated). The test is an expected failure
  (strict); it asserts the over-rejection stays below 9%. Why: with the treatment constant
  within villages the clusters' score covariances are not proportional, the homogeneity under
  which Canay, Santos and Shaikh (2021) prove the wild bootstrap valid with few clusters; with
  the treatment drawn within villages (the demo's lottery, ``wild_lottery_*``) the same
  bootstrap holds the band at 8 and 12 villages. The kit says so where it matters: a wild
  bootstrap of a term constant within fewer than 12 clusters carries a ``note`` (shown in the
  report's inference table) pointing to randomization inference over the clusters.
* ``matching_unadjusted``: the pair-clustered standard error of the unadjusted matched
  difference ignores that the propensity score was estimated, which makes it conservative when a
  score covariate also drives the outcome (Abadie and Imbens 2016): about 98% coverage. The
  covariate-adjusted estimator (``adjust_covariates=True``) is the one held to the band.

Designs (all with a true effect of 0.3 unless said):
* ``ancova_cr1_g50``: 50 villages of 20 households, half the villages treated, outcome with a
  village effect (ICC ~0.2) and a baseline outcome; ANCOVA with CR1 and t(G-1);
* ``wild_wcr_g8``/``wild_wcr_g12``: 8 / 12 villages of 30 households (cluster sizes 15-45),
  half the villages treated, heteroskedastic errors; WCR Rademacher wild cluster bootstrap of
  the ANCOVA with the kit's defaults (CV3 t statistic);
* ``wild_lottery_g8``/``wild_lottery_g12``: the same villages with the treatment drawn by a
  lottery within each village (half of its households offered), as in the demo's workshop
  lottery; WCR with CV3 t and the weights the demo pipeline uses (Webb below 12 clusters, so
  Webb at 8 and Rademacher at 12);
* ``staggered_did``: 200 units over 5 periods, cohorts 3, 4 and never treated; Callaway and
  Sant'Anna outcome regression, simple aggregate ATT (true 1.0), normal interval;
* ``matching``: 600 units, selection on x1 (about 30% treated), 1:1 propensity-score matching
  on x1 and x2 without replacement (MatchIt-style), covariate-adjusted ATT with pair-clustered
  CR1 and t(G-1) (constant effect 0.5); ``matching_unadjusted``: the same without adjustment.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from doorstep.estimate import ancova, nearest_neighbor_match, staggered_did
from doorstep.inference import wild_cluster_bootstrap
from doorstep.run.stages.effects import bootstrap_weights

BOOT_REPS = 399


def _villages(rng, n_clusters, size, effect, vary_sizes=False, within=False):
    """Half the villages treated; or (``within``) a lottery offering half of each village."""
    sizes = rng.integers(size // 2, size + size // 2 + 1, n_clusters) if vary_sizes else (
        np.full(n_clusters, size))
    village = np.repeat(np.arange(n_clusters), sizes)
    n = village.size
    if within:
        treated = np.zeros(n)
        for start, count in zip(np.cumsum(sizes) - sizes, sizes, strict=True):
            treated[start + rng.permutation(count)[: count // 2]] = 1
    else:
        treated = np.zeros(n_clusters)
        treated[rng.permutation(n_clusters)[: n_clusters // 2]] = 1
        treated = treated[village]
    frame = pd.DataFrame({"village": village, "d": treated})
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


def _wild(n_clusters, within=False):
    # the lottery designs use the weights the demo pipeline uses (Webb below 12 clusters)
    weights = bootstrap_weights(n_clusters) if within else "rademacher"

    def run(rng, truth=0.3):
        frame = _villages(rng, n_clusters, 30, truth, vary_sizes=True, within=within)
        fit = ancova(frame, "y", "d", baseline_outcome="y0", cluster="village")
        boot = wild_cluster_bootstrap(fit, data=frame, cluster="village", reps=BOOT_REPS,
                                      seed=int(rng.integers(2**31)), null=truth,
                                      weights=weights)
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


def _matching(adjust_covariates):
    def run(rng, truth=0.5):
        n = 600
        frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
        frame["d"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-(0.5 * frame["x1"] - 1)))).astype(
            int)
        frame["y"] = frame["x1"] + frame["x2"] + truth * frame["d"] + rng.normal(size=n)
        effect = nearest_neighbor_match(frame, "d", ["x1", "x2"], outcome="y",
                                        adjust_covariates=adjust_covariates).effect
        low, high = effect.conf_int()
        return low <= truth <= high, _p_at(effect, truth)

    return run


DESIGNS = {
    "ancova_cr1_g50": _ancova_cr1,
    "wild_wcr_g8": _wild(8),
    "wild_wcr_g12": _wild(12),
    "wild_lottery_g8": _wild(8, within=True),
    "wild_lottery_g12": _wild(12, within=True),
    "staggered_did": _staggered,
    "matching": _matching(adjust_covariates=True),
    "matching_unadjusted": _matching(adjust_covariates=False),
}
REPLICATIONS = {
    "ancova_cr1_g50": 4000,
    "wild_wcr_g8": 4000,
    "wild_wcr_g12": 4000,
    "wild_lottery_g8": 4000,
    "wild_lottery_g12": 4000,
    "staggered_did": 2000,
    "matching": 2000,
    "matching_unadjusted": 1000,
}
COVERAGE_BAND = (0.93, 0.97)
SIZE_BAND = (0.035, 0.065)
# Designs with a documented departure from the band (see the module docstring): the test
# asserts the departure and is an expected failure on the band.
KNOWN = {
    "wild_wcr_g8": ("WCR over-rejects at 8 clusters with CV3 t (6.8% at 4,000 replications) "
                    "as with CR1 t (7.0%)", (0.035, 0.09)),
    "matching_unadjusted": ("the pair-clustered SE ignores the estimated propensity score "
                            "(Abadie and Imbens 2016): conservative", (0.0, 0.035)),
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
    lines = [f"{'design':<20} {'reps':>5} {'coverage':>9} {'size':>7} {'seconds':>8}"]
    for row in rows:
        lines.append(f"{row['design']:<20} {row['replications']:>5} {row['coverage']:>9.3f} "
                     f"{row['size']:>7.3f} {row['seconds']:>8.1f}")
    return "\n".join(lines)


@pytest.mark.parametrize("name", [name for name in DESIGNS if name != "matching_unadjusted"])
def test_quick_coverage(name):
    row = simulate_design(name, 100, seed=20240301)
    assert 0.85 <= row["coverage"] <= 1.0, _table([row])
    assert row["size"] <= 0.15, _table([row])


@pytest.fixture(scope="module")
def monte_carlo_table(tmp_path_factory):
    rows = {name: simulate_design(name, REPLICATIONS[name], seed=20240302) for name in DESIGNS}
    table = _table(rows.values())
    folder = tmp_path_factory.mktemp("monte_carlo")
    (folder / "coverage.txt").write_text(table + "\n", encoding="utf-8")
    print("\n" + table)
    return rows, table


class OutsideIssueBandError(Exception):
    """A design's coverage or size is outside the band of the issue (93%-97%, 3.5%-6.5%)."""


def _in_band(row) -> bool:
    return (COVERAGE_BAND[0] <= row["coverage"] <= COVERAGE_BAND[1]
            and SIZE_BAND[0] <= row["size"] <= SIZE_BAND[1])


@pytest.mark.slow
@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xfail(reason=KNOWN[name][0], strict=True,
                                               raises=OutsideIssueBandError))
    if name in KNOWN else name
    for name in DESIGNS
])
def test_monte_carlo_coverage_and_size(monte_carlo_table, name):
    rows, table = monte_carlo_table
    row = rows[name]
    if name in KNOWN:
        # The documented departure, within its stated range (else a real failure) ...
        low, high = KNOWN[name][1]
        assert low <= row["size"] <= high, table
        assert abs(row["coverage"] + row["size"] - 1) < 1e-12, table
    # ... and the band of the issue (the expected failure, and only it, for those in KNOWN).
    if not _in_band(row):
        raise OutsideIssueBandError(f"{name} is outside the band\n{table}")
