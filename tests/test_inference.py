"""Wild cluster bootstrap: against wildboottest/pyfixest on real data, and its contract.

Peers (test-only): ``wildboottest==0.3.2`` (through ``pyfixest==0.60.0``'s
``Feols.wildboottest``). Data: statsmodels' Grunfeld investment panel (11 firms, 20 years;
full enumeration of 2^11 = 2048 sign vectors) and pyfixest's ``get_data()`` (19 clusters; 9,999
random draws with the same seed give the same draws). Tolerances: bootstrap t statistics
(scaled by the small-sample factor, which differs by the count of absorbed dummies) 1e-8; the
p-values equal exactly, up to draws tying with the sample's |t| (see
``doorstep.inference.wild``): we count ties, the peer counts them as rounding falls, so we check
peer p-value lies between our strict and our tie-counting share, and equals ours when no tie.
These peer comparisons use ``variance="cr1"`` (the peer's "11" bootstrap). The default CV3 t
statistic (MacKinnon, Nielsen and Webb 2023) is checked against a brute-force reference that
refits the full and every leave-one-cluster-out regression for every draw (explicit dummies,
WLS, WCR and WCU; 1e-10), and its standard error against pyfixest's CRV3 in
``tests/test_estimate_cv3.py``; wildboottest 0.3.2's CV3 bootstrap (``bootstrap_type="13"``)
fails under NumPy 2, so it is not a peer here.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate import ancova, did, event_study, regress, twfe
from doorstep.estimate.result import TIDY_COLUMNS
from doorstep.inference import wild_cluster_bootstrap
from doorstep.inference.wild import draw_weights

pf = pytest.importorskip("pyfixest")
pytest.importorskip("wildboottest")
sm = pytest.importorskip("statsmodels.api")


@pytest.fixture(scope="module")
def grunfeld() -> pd.DataFrame:
    frame = sm.datasets.grunfeld.load_pandas().data
    # wildboottest's numba kernel needs numeric cluster ids (sorted order, as our codes).
    return frame.assign(firm_id=pd.factorize(frame["firm"], sort=True)[0])


@pytest.fixture(scope="module")
def pf_data() -> pd.DataFrame:
    frame = pf.get_data()
    return frame.dropna(subset=["Y", "Y2", "X1", "X2", "f1", "group_id"]).reset_index(drop=True)


def _peer(frame, formula, term, cluster, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(formula, data=frame, vcov={"CRV1": cluster})
        table, draws = fit.wildboottest(param=term, return_bootstrapped_t_stats=True, **options)
    return float(table["Pr(>|t|)"]), np.asarray(draws, dtype=float).ravel(), float(table["ssc"])


def _compare(boot, peer_p, peer_draws, peer_ssc):
    ours = boot.bootstrap_statistics() * np.sqrt(boot._ssc)
    theirs = peer_draws * np.sqrt(peer_ssc)
    assert ours.size == theirs.size
    assert np.max(np.abs(np.sort(np.abs(ours)) - np.sort(np.abs(theirs)))) < 1e-8
    observed = abs(boot.statistic)
    strict = np.mean(np.abs(boot.bootstrap_statistics()) > observed * (1 + 1e-9))
    assert strict - 1e-12 <= peer_p <= boot.p_value + 1e-12
    if strict == boot.p_value:
        assert boot.p_value == peer_p


@pytest.mark.parametrize("restricted", [True, False])
@pytest.mark.parametrize("fixed", [(), ("year",)])
def test_grunfeld_full_enumeration_matches_wildboottest(grunfeld, restricted, fixed):
    fit = regress(grunfeld, "invest", ["value", "capital"], fixed_effects=fixed, cluster="firm")
    boot = wild_cluster_bootstrap(fit, "capital", data=grunfeld, cluster="firm", reps=9999,
                                  seed=1, restricted=restricted, variance="cr1")
    assert boot.enumerated and boot.draws == 2**11
    formula = "invest ~ value + capital" + (" | year" if fixed else "")
    _compare(boot, *_peer(grunfeld, formula, "capital", "firm_id", reps=9999, seed=1,
                          impose_null=restricted))
    assert boot.statistic == pytest.approx(fit.term("capital").statistic, rel=1e-10)


@pytest.mark.parametrize("kind", ["rademacher", "webb", "mammen"])
def test_random_draws_match_wildboottest_with_same_seed(pf_data, kind):
    fit = regress(pf_data, "Y", ["X1", "X2"], fixed_effects="f1", cluster="group_id")
    boot = wild_cluster_bootstrap(fit, "X2", data=pf_data, cluster="group_id", reps=1999,
                                  seed=11, weights=kind, variance="cr1")
    _compare(boot, *_peer(pf_data, "Y ~ X1 + X2 | f1", "X2", "group_id", reps=1999, seed=11,
                          weights_type=kind))


def test_label_tidy_and_interval(pf_data):
    fit = regress(pf_data, "Y", ["X1", "X2"], cluster="group_id")
    boot = wild_cluster_bootstrap(fit, "X2", data=pf_data, cluster="group_id", reps=999, seed=3)
    assert boot.inference == "wild cluster bootstrap (WCR, CV3, Rademacher, 999 draws)"
    assert boot.variance == "cv3"
    classic = wild_cluster_bootstrap(fit, "X2", data=pf_data, cluster="group_id", reps=999,
                                     seed=3, variance="cr1")
    assert classic.inference == "wild cluster bootstrap (WCR, Rademacher, 999 draws)"
    tidy = boot.tidy()
    assert list(tidy.columns) == list(TIDY_COLUMNS) and len(tidy) == 1
    low, high = boot.conf_int()
    assert low < boot.estimate < high
    # The interval is the set of nulls not rejected: p at the bounds crosses 0.05.
    width = high - low
    assert boot.p_value_at(low + 1e-6 * width) > 0.05 >= boot.p_value_at(low - 1e-6 * width)
    assert boot.p_value_at(high - 1e-6 * width) > 0.05 >= boot.p_value_at(high + 1e-6 * width)
    narrower = boot.conf_int(0.8)
    assert low < narrower[0] < narrower[1] < high
    # A different null: the p-value of the null at the estimate is 1.
    assert boot.p_value_at(boot.estimate) == 1.0


def _panel(seed=0, n_units=40, n_periods=4):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"unit": np.repeat(np.arange(n_units), n_periods),
                          "t": np.tile(np.arange(1, n_periods + 1), n_units)})
    frame["village"] = frame.unit // 4
    frame["cohort"] = np.where(frame.village % 2 == 0, 0, 3)
    frame["treated"] = ((frame.cohort > 0) & (frame.t >= frame.cohort)).astype(float)
    frame["arm"] = (frame.cohort > 0).astype(float)
    frame["post"] = (frame.t >= 3).astype(float)
    frame["w"] = rng.uniform(0.5, 2, len(frame))
    frame["x"] = rng.normal(size=len(frame))
    frame["y"] = (frame.unit * 0.1 + frame.t + 0.5 * frame.treated + frame.x
                  + rng.normal(size=len(frame)) + rng.normal(size=n_units // 4)[frame.village])
    frame["y0"] = rng.normal(size=len(frame))
    frame["stratum"] = frame.village % 3
    return frame


def _dummies_reference(frame, outcome, columns, fixed, cluster, term, weights=None):
    """The same bootstrap on explicit dummies (no absorption): the algebra must agree."""
    design = frame[list(columns)].astype(float)
    for factor in fixed:
        design = design.join(pd.get_dummies(frame[factor], prefix=factor, drop_first=True,
                                            dtype=float))
    explicit = pd.concat([frame[[outcome, cluster]], design], axis=1)
    if weights is not None:
        explicit[weights] = frame[weights]
    return regress(explicit, outcome, list(design.columns), cluster=cluster, weights=weights), \
        explicit


@pytest.mark.parametrize("weighted", [False, True])
def test_absorbed_non_nested_effects_equal_explicit_dummies(weighted):
    frame = _panel()
    weights = "w" if weighted else None
    fit = twfe(frame, "y", "treated", "unit", "t", covariates="x", cluster="village",
               weights=weights)
    boot = wild_cluster_bootstrap(fit, data=frame, cluster="village", reps=1024, seed=4,
                                  sample_weights=weights, variance="cr1")
    reference, explicit = _dummies_reference(frame, "y", ["treated", "x"], ["unit", "t"],
                                             "village", "treated", weights)
    check = wild_cluster_bootstrap(reference, "treated", data=explicit, cluster="village",
                                   reps=1024, seed=4, sample_weights=weights, variance="cr1")
    assert boot.enumerated and check.enumerated
    # Same draws; K differs (nested unit dummies are not counted), so scale by the factor.
    np.testing.assert_allclose(boot.bootstrap_statistics() * np.sqrt(boot._ssc),
                               check.bootstrap_statistics() * np.sqrt(check._ssc),
                               rtol=1e-7, atol=1e-9)
    assert boot.p_value == check.p_value
    np.testing.assert_allclose(boot.conf_int(), check.conf_int(), rtol=1e-7)


def test_works_on_ancova_did_and_event_study():
    frame = _panel()
    base = frame[frame.t == 4].reset_index(drop=True)
    fits = {
        "ancova": ancova(base, "y", "arm", baseline_outcome="y0", strata="stratum",
                         cluster="village"),
        "lin": ancova(base, "y", "arm", covariates="x", interacted=True, cluster="village"),
        "did": did(frame, "y", "arm", "post", cluster="village"),
    }
    for name, fit in fits.items():
        data = frame if name == "did" else base
        boot = wild_cluster_bootstrap(fit, data=data, cluster="village", reps=499, seed=1)
        assert 0 <= boot.p_value <= 1 and boot.estimate == pytest.approx(fit.estimate)
    study = event_study(frame, "y", "unit", "t", "cohort", cluster="village")
    boot = wild_cluster_bootstrap(study, "event_time=0", data=frame, cluster="village",
                                  cohort="cohort", reps=499, seed=1)
    assert boot.estimate == pytest.approx(study.term("event_time=0").estimate)
    with pytest.raises(ConfigError, match="cohort"):
        wild_cluster_bootstrap(study, data=frame, cluster="village", seed=1)


def test_two_way_clustering_runs_and_uses_the_coarser_dimension():
    frame = _panel(n_units=60)
    fit = regress(frame, "y", ["treated", "x"], cluster=("village", "t"))
    boot = wild_cluster_bootstrap(fit, data=frame, cluster=("village", "t"), reps=999, seed=2)
    assert "two-way" in boot.inference and "weights by t" in boot.inference
    assert boot.variance == "cr1" and "CV3" not in boot.inference  # CV3 is one-way only
    assert boot.std_error == pytest.approx(fit.std_error, rel=1e-10)
    assert 0 <= boot.p_value <= 1
    with pytest.raises(ConfigError, match="two-way clustering"):
        wild_cluster_bootstrap(fit, data=frame, cluster=("village", "t"), reps=99, seed=2,
                               variance="cv3")


def test_errors_are_clear_and_inputs_unchanged(pf_data):
    frame = pf_data.copy()
    fit = regress(frame, "Y", ["X1"], cluster="group_id")
    with pytest.raises(ConfigError, match="cluster="):
        wild_cluster_bootstrap(fit, data=frame, seed=1)
    with pytest.raises(ConfigError, match="'rademacher', 'webb', 'mammen'"):
        wild_cluster_bootstrap(fit, data=frame, cluster="group_id", seed=1, weights="normal")
    with pytest.raises(ConfigError, match="seed"):
        wild_cluster_bootstrap(fit, data=frame, cluster="group_id", seed=-1)
    with pytest.raises(EstimationError, match=r"reproduce|complete rows"):
        wild_cluster_bootstrap(fit, data=frame.iloc[10:], cluster="group_id", seed=1)
    with pytest.raises(EstimationError, match="does not reproduce"):
        wild_cluster_bootstrap(fit, data=frame.assign(Y=frame.Y * 2), cluster="group_id",
                               seed=1)
    pd.testing.assert_frame_equal(frame, pf_data)


def _brute_force_wcr(frame, outcome, columns, clusters, boot_cluster, term, draws, null):
    """WCR by refitting every bootstrap sample (no algebra shared with the fast algorithm)."""
    x = np.column_stack([frame[c].to_numpy(float) for c in columns] + [np.ones(len(frame))])
    y = frame[outcome].to_numpy(float)
    j = columns.index(term)
    keep = [i for i in range(x.shape[1]) if i != j]
    y_null = y - null * x[:, j]
    restricted = np.linalg.lstsq(x[:, keep], y_null, rcond=None)[0]
    fitted = x[:, keep] @ restricted + null * x[:, j]
    residuals = y - fitted
    codes = {name: pd.factorize(frame[name], sort=True)[0] for name in clusters}
    if len(clusters) == 2:
        codes["cells"] = codes[clusters[0]] * (codes[clusters[1]].max() + 1) + codes[
            clusters[1]]
    signs = {clusters[0]: 1.0} if len(clusters) == 1 else {
        clusters[0]: 1.0, clusters[1]: 1.0, "cells": -1.0}
    n_groups = min(codes[name].max() + 1 for name in clusters)
    n, k = x.shape
    ssc = n_groups / (n_groups - 1) * (n - 1) / (n - k)
    bread = np.linalg.inv(x.T @ x)
    out = []
    for v in draws.T:
        y_star = fitted + residuals * v[codes[boot_cluster]]
        beta = bread @ x.T @ y_star
        u_star = y_star - x @ beta
        score = (x @ bread[:, j]) * u_star
        variance = sum(sign * np.sum(np.bincount(codes[name], weights=score) ** 2)
                       for name, sign in signs.items())
        # Two-way (CGM) variances can be negative: such draws are left out (NaN) by both.
        out.append((beta[j] - null) / np.sqrt(ssc * variance) if variance > 0 else np.nan)
    return np.array(out)


@pytest.mark.parametrize("clusters", [("village",), ("village", "t")])
def test_statistics_equal_refitting_every_draw(clusters):
    frame = _panel(seed=3, n_units=36)
    cluster = clusters[0] if len(clusters) == 1 else clusters
    fit = regress(frame, "y", ["treated", "x"], cluster=cluster)
    boot = wild_cluster_bootstrap(fit, data=frame, cluster=cluster, reps=199, seed=5,
                                  weights="webb", null=0.2, variance="cr1")
    # With two-way clustering the weights go by the dimension with fewer clusters (t: 4).
    boot_cluster = "t" if len(clusters) == 2 else "village"
    n_boot = frame[boot_cluster].nunique()
    draws, _ = draw_weights(n_boot, 199, "webb", np.random.default_rng(5))
    reference = _brute_force_wcr(frame, "y", ["treated", "x"], clusters, boot_cluster,
                                 "treated", draws, 0.2)
    np.testing.assert_allclose(boot.bootstrap_statistics(), reference, rtol=1e-9, atol=1e-12)


# -- the CV3 (cluster-jackknife) bootstrap t of MacKinnon, Nielsen and Webb (2023) ---------------
def _brute_force_cv3(frame, outcome, columns, fixed, cluster, term, draws, null, weights,
                     restricted):
    """WCR/WCU with CV3 t by refitting every leave-one-cluster-out regression of every draw.

    Explicit fixed-effect dummies, WLS by scaling rows with the root weights, least squares by
    ``np.linalg.lstsq`` (a dummy of a dropped cluster is an all-zero column: minimum norm).
    """
    parts = [frame[c].to_numpy(float) for c in columns]
    for factor in fixed:
        parts += list(pd.get_dummies(frame[factor], dtype=float).to_numpy().T)
    if not fixed:
        parts.append(np.ones(len(frame)))
    root = np.sqrt(frame[weights].to_numpy(float)) if weights else np.ones(len(frame))
    x = np.column_stack(parts) * root[:, None]
    y = frame[outcome].to_numpy(float) * root
    j = columns.index(term)
    codes = pd.factorize(frame[cluster], sort=True)[0]
    n_groups = codes.max() + 1

    def fit(target, rows=slice(None)):
        return np.linalg.lstsq(x[rows], target[rows], rcond=None)[0]

    if restricted:
        keep = [i for i in range(x.shape[1]) if i != j]
        shifted = y - null * x[:, j]
        fitted = x[:, keep] @ np.linalg.lstsq(x[:, keep], shifted, rcond=None)[0] + null * x[:, j]
        centre = null
    else:
        full = fit(y)
        fitted, centre = x @ full, full[j]
    residuals = y - fitted
    out = []
    for v in draws.T:
        y_star = fitted + residuals * v[codes]
        beta = fit(y_star)[j]
        left_out = np.array([fit(y_star, codes != g)[j] for g in range(n_groups)])
        variance = (n_groups - 1) / n_groups * np.sum((left_out - beta) ** 2)
        out.append((beta - centre) / np.sqrt(variance))
    return np.array(out)


@pytest.mark.parametrize(("fixed", "weights", "restricted"), [
    ((), None, True), ((), "w", True), (("unit",), None, True), (("unit",), "w", False)])
def test_cv3_statistics_equal_refitting_every_leave_one_out_of_every_draw(fixed, weights,
                                                                          restricted):
    frame = _panel(seed=3, n_units=36)  # 9 villages of 4 units over 4 periods
    fit = regress(frame, "y", ["treated", "x"], fixed_effects=fixed, cluster="village",
                  weights=weights)
    boot = wild_cluster_bootstrap(fit, data=frame, cluster="village", reps=199, seed=5,
                                  weights="webb", null=0.2, restricted=restricted,
                                  sample_weights=weights)
    assert boot.variance == "cv3" and "CV3" in boot.inference  # units nest in villages
    draws, _ = draw_weights(9, 199, "webb", np.random.default_rng(5))
    reference = _brute_force_cv3(frame, "y", ["treated", "x"], fixed, "village", "treated",
                                 draws, 0.2, weights, restricted)
    np.testing.assert_allclose(boot.bootstrap_statistics(), reference, rtol=1e-10, atol=1e-10)
    # The sample's CV3 statistic: under WCR the draw with all weights 1 is the sample itself.
    sample = _brute_force_cv3(frame, "y", ["treated", "x"], fixed, "village", "treated",
                              np.ones((9, 1)), 0.2, weights, restricted=True)
    assert boot.statistic == pytest.approx(sample[0], rel=1e-10)


@pytest.mark.parametrize("fixed", [(), ("firm",)])
def test_cv3_standard_error_equals_pyfixest_crv3(grunfeld, fixed):
    """pyfixest's CRV3 (leave-one-firm-out refits, fixed effects refitted) centres on the
    estimate, as we do; its default small-sample factor is CR1's, ours (G-1)/G (MacKinnon,
    Nielsen and Webb 2023, and ``wildboottest``): compare with pyfixest's factor switched off.
    """
    fit = regress(grunfeld, "invest", ["value", "capital"], fixed_effects=fixed, cluster="firm")
    boot = wild_cluster_bootstrap(fit, "capital", data=grunfeld, cluster="firm", reps=99,
                                  seed=1)
    formula = "invest ~ value + capital" + (" | firm_id" if fixed else "")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = pf.feols(formula, data=grunfeld, vcov={"CRV3": "firm_id"},
                        ssc=pf.ssc(k_adj=False, G_adj=False))
    n_firms = 11
    assert boot.variance == "cv3"
    assert boot.std_error**2 == pytest.approx(
        (n_firms - 1) / n_firms * float(peer.se()["capital"]) ** 2, rel=1e-10)


def test_cv3_default_falls_back_and_explicit_cv3_explains(pf_data):
    # f1 is not nested in group_id: the within-transformed jackknife would not be the model's.
    fit = regress(pf_data, "Y", ["X1", "X2"], fixed_effects="f1", cluster="group_id")
    boot = wild_cluster_bootstrap(fit, "X2", data=pf_data, cluster="group_id", reps=99, seed=1)
    assert boot.variance == "cr1" and "CV3" not in boot.inference
    with pytest.raises(ConfigError, match="not nested in the clusters"):
        wild_cluster_bootstrap(fit, "X2", data=pf_data, cluster="group_id", reps=99, seed=1,
                               variance="cv3")
    with pytest.raises(ConfigError, match="'cr1', 'cv3'"):
        wild_cluster_bootstrap(fit, "X2", data=pf_data, cluster="group_id", seed=1,
                               variance="cr3")
    # One treated village: without it the effect is not identified, so CV3 is undefined.
    frame = _panel(seed=1).assign(one=lambda f: (f.village == 0).astype(float))
    single = regress(frame, "y", ["one", "x"], cluster="village")
    with pytest.raises(EstimationError, match="without cluster 1 of 10"):
        wild_cluster_bootstrap(single, data=frame, cluster="village", reps=99, seed=1,
                               variance="cv3")
    fallback = wild_cluster_bootstrap(single, data=frame, cluster="village", reps=99, seed=1)
    assert fallback.variance == "cr1"
    # A control dummy of one village only: the effect stays identified (Moore-Penrose inverse).
    frame["only_seven"] = (frame.village == 7).astype(float)
    kept = regress(frame, "y", ["treated", "x", "only_seven"], cluster="village")
    assert wild_cluster_bootstrap(kept, data=frame, cluster="village", reps=99, seed=1,
                                  variance="cv3").variance == "cv3"


def test_cv3_bootstrap_finds_a_known_effect():
    rng = np.random.default_rng(12)
    villages = np.repeat(np.arange(10), rng.integers(15, 45, 10))
    frame = pd.DataFrame({"village": villages, "d": (villages % 2).astype(float)})
    frame["y"] = (0.8 * frame.d + rng.normal(scale=0.3, size=10)[villages]
                  + rng.normal(size=len(frame)))
    fit = ancova(frame, "y", "d", cluster="village")
    boot = wild_cluster_bootstrap(fit, data=frame, cluster="village", seed=3)
    low, high = boot.conf_int()
    assert boot.enumerated and boot.variance == "cv3"
    assert boot.p_value < 0.01 and low < 0.8 < high
    assert boot.p_value_at(0.8) > 0.05 and boot.p_value_at(low) == pytest.approx(0.05, abs=0.01)


def _few_villages(n_villages, within):
    rng = np.random.default_rng(n_villages)
    villages = np.repeat(np.arange(n_villages), 20)
    treated = ((np.arange(villages.size) % 2) if within else (villages % 2)).astype(float)
    frame = pd.DataFrame({"village": villages, "d": treated, "w": rng.uniform(1, 2, 20 *
                                                                               n_villages)})
    frame["y"] = frame.d + rng.normal(size=len(frame)) + rng.normal(size=n_villages)[villages]
    return frame


@pytest.mark.parametrize(("n_villages", "within", "weighted", "noted"), [
    (8, False, False, True), (8, False, True, True), (11, False, False, True),
    (12, False, False, False), (8, True, False, False), (8, True, True, False)])
def test_note_on_a_cluster_level_term_with_few_clusters(n_villages, within, weighted, noted):
    """The bootstrap says when it is less reliable: a cluster-level treatment, < 12 clusters."""
    frame = _few_villages(n_villages, within)
    fit = ancova(frame, "y", "d", cluster="village", weights="w" if weighted else None)
    boot = wild_cluster_bootstrap(fit, data=frame, cluster="village", reps=199, seed=1,
                                  sample_weights="w" if weighted else None)
    assert bool(boot.note) is noted
    if noted:
        assert f"within any of the {n_villages} clusters" in boot.note
        assert "randomization" in boot.note


# -- the design re-derived from the frame (inference._design) ------------------------------------
def _messy_frame(seed=11, n=2_000):
    """Rows dropped for every reason: missing x, missing cluster label, zero weight."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"village": rng.integers(0, 40, n) * 3 + 1_000,
                          "x": rng.normal(size=n), "stratum": rng.integers(0, 5, n),
                          "w": rng.uniform(0.5, 2.0, n)})
    frame["treated"] = (frame.village % 2).astype(float)
    frame["y"] = 0.4 * frame.treated + frame.x + rng.normal(size=n)
    frame.loc[rng.choice(n, 60, replace=False), "x"] = np.nan
    frame.loc[rng.choice(n, 30, replace=False), "w"] = 0.0
    frame["village_float"] = frame.village.astype(float)
    frame.loc[rng.choice(n, 25, replace=False), "village_float"] = np.nan
    frame["village_name"] = frame.village_float.map(
        lambda v: None if np.isnan(v) else f"v{int(v):05d}")
    frame["village_wide"] = frame.village_float.fillna(-1).astype(np.int64) * 10**9
    return frame


@pytest.mark.parametrize("column", ["village", "village_float", "village_name", "village_wide",
                                    "stratum"])
def test_sorted_codes_equal_factorize_sorted(column):
    from doorstep.inference._design import sorted_codes

    frame = _messy_frame()
    frame["stratum"] = frame.stratum.astype(np.uint8)
    expected = pd.factorize(frame[column], sort=True, use_na_sentinel=True)[0]
    if column == "village_wide":  # -10**9 stands for the missing labels here: a real label
        expected = pd.factorize(frame[column], sort=True)[0]
    np.testing.assert_array_equal(sorted_codes(frame, column), expected)
    nullable = frame[[column]].astype("Int64") if column in ("village", "stratum") else None
    if nullable is not None:
        np.testing.assert_array_equal(sorted_codes(nullable, column), expected)


@pytest.mark.parametrize("cluster", ["village_float", "village_name"])
@pytest.mark.parametrize("fixed", [(), ("stratum",)])
def test_design_arrays_match_an_independent_rebuild(cluster, fixed):
    from doorstep.inference._design import linear_design

    frame = _messy_frame()
    fit = regress(frame, "y", ["treated", "x"], fixed_effects=fixed, weights="w",
                  cluster=cluster)
    design = linear_design(fit, frame, cluster=cluster, weights="w")
    keep = (frame.x.notna() & frame[cluster].notna() & (frame.w > 0)).to_numpy()
    kept = frame[keep]
    assert design.n_obs == fit.n_obs == keep.sum()
    root = np.sqrt(kept.w.to_numpy())
    columns = [kept.treated.to_numpy(), kept.x.to_numpy()]
    if not fixed:
        columns.append(np.ones(len(kept)))
    x = np.column_stack(columns)
    y = kept.y.to_numpy().copy()
    if fixed:  # one factor: subtract weighted stratum means (exact)
        groups = kept.stratum.to_numpy()
        for matrix in (x, y[:, None]):
            for level in np.unique(groups):
                rows = groups == level
                matrix[rows] -= np.average(matrix[rows], axis=0, weights=kept.w.to_numpy()[rows])
    np.testing.assert_allclose(design.regressors, x * root[:, None], rtol=0, atol=1e-12)
    np.testing.assert_allclose(design.outcome, y * root, rtol=0, atol=1e-12)
    assert design.regressors.flags.c_contiguous and design.outcome.flags.c_contiguous
    x_w, y_w = x * root[:, None], y * root
    reference = np.column_stack([x_w.T @ x_w, x_w.T @ y_w])
    np.testing.assert_allclose(design.cross, reference, rtol=1e-10, atol=1e-8)
    labels = kept[cluster].to_numpy()
    np.testing.assert_array_equal(design.clusters[0], np.unique(labels, return_inverse=True)[1])
    all_codes = pd.factorize(frame[cluster], sort=True)[0]
    np.testing.assert_array_equal(design.cluster_labels, all_codes[keep])
    # K: two slopes and the intercept, or the five stratum levels (not nested in the villages).
    assert design.n_params == fit.extras["n_params"] == (7 if fixed else 3)


def test_unweighted_design_shares_one_read_only_array_of_ones():
    from doorstep.inference._design import linear_design

    frame = _messy_frame()
    fit = regress(frame, "y", ["treated", "x"], cluster="village")
    design = linear_design(fit, frame, cluster="village", weights=None)
    assert np.all(design.root_weights == 1.0) and np.all(design.weights == 1.0)
    with pytest.raises(ValueError, match="read-only"):
        design.root_weights[0] = 2.0


def test_refit_check_falls_back_to_least_squares_and_still_catches_other_data():
    from doorstep.inference._design import _check_refit

    frame = _messy_frame().dropna(subset=["x"])
    fit = regress(frame, "y", ["treated", "x"], vcov="iid")
    x = np.column_stack([frame.treated, frame.x, np.ones(len(frame))])
    y = frame.y.to_numpy()
    good = np.column_stack([x.T @ x, x.T @ y])
    _check_refit(fit, good, x, y)  # the k x k solve agrees
    wrong = good.copy()
    wrong[:, -1] *= 1.5  # a Gram matrix that does not fit: least squares on the rows decides
    _check_refit(fit, wrong, x, y)
    with pytest.raises(EstimationError, match=r"coefficient of '(treated|x|intercept)'"):
        _check_refit(fit, np.column_stack([x.T @ x, x.T @ (2 * y)]), x, 2 * y)


def test_cell_sums_equal_bincount_sums():
    from doorstep.inference.wild import _cell_sums

    rng = np.random.default_rng(4)
    cells = rng.integers(0, 37, 10_000)
    matrix = rng.normal(size=(10_000, 3))
    weights = rng.normal(size=(10_000, 2))[:, 1]  # a strided column, as the fitted values are
    reference = np.column_stack([np.bincount(cells, weights=weights * matrix[:, j],
                                             minlength=40) for j in range(3)])
    np.testing.assert_allclose(_cell_sums(cells, 40, weights, matrix), reference,
                               rtol=1e-12, atol=1e-12)
