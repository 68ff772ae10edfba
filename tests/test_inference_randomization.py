"""Randomisation inference: exact enumeration against brute force, the vectorised path against
re-estimation, strata and clusters respected, procedure records re-run."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pandas as pd
import pytest

from doorstep.design.randomise import assign_treatment
from doorstep.errors import ConfigError, EstimationError
from doorstep.estimate import ancova, regress
from doorstep.inference import randomization_inference


def _clustered(seed=0, n_clusters=12, size=15, effect=0.0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"village": np.repeat(np.arange(n_clusters), size)})
    frame["county"] = frame.village % 2
    treated = np.zeros(n_clusters)
    for county in (0, 1):
        members = np.arange(county, n_clusters, 2)
        treated[rng.permutation(members)[: members.size // 2]] = 1
    frame["d"] = treated[frame.village]
    frame["x"] = rng.normal(size=len(frame))
    frame["y"] = (effect * frame.d + 0.5 * frame.x + rng.normal(size=len(frame))
                  + rng.normal(size=n_clusters)[frame.village])
    return frame


def test_exact_enumeration_matches_brute_force():
    frame = _clustered()
    call = lambda f: ancova(f, "y", "d", covariates="x", strata="county", cluster="village")  # noqa: E731
    result = randomization_inference(call, data=frame, treatment="d", strata="county",
                                     cluster="village", permutations=1000, seed=1)
    assert result.exact and result.permutations == 20 * 20  # C(6,3)^2
    # Brute force: every assignment within counties, re-estimated.
    estimates = []
    for left in itertools.combinations(range(0, 12, 2), 3):
        for right in itertools.combinations(range(1, 12, 2), 3):
            treated = np.zeros(12)
            treated[list(left + right)] = 1
            estimates.append(call(frame.assign(d=treated[frame.village])).estimate)
    estimates = np.array(estimates)
    np.testing.assert_allclose(np.sort(result.estimates), np.sort(estimates), atol=1e-10)
    observed = call(frame).estimate
    assert result.estimate == pytest.approx(observed, abs=1e-12)
    expected = np.mean(np.abs(estimates) >= abs(observed) * (1 - 1e-9))
    assert result.p_value_estimate == pytest.approx(expected, abs=1e-12)
    assert result.statistic == pytest.approx(call(frame).statistic, rel=1e-10)


@pytest.mark.parametrize("clustered", [True, False])
def test_vectorised_path_equals_re_estimation(clustered):
    frame = _clustered(seed=3, n_clusters=30, size=8)
    cluster = "village" if clustered else None
    call = lambda f: regress(f, "y", ["d", "x"], fixed_effects="county", cluster=cluster)  # noqa: E731
    fast = randomization_inference(call, data=frame, treatment="d", strata="county",
                                   cluster=cluster, permutations=200, seed=5)
    assert "vectorised" in fast.inference

    def slow_call(f):
        return dataclasses.replace(call(f), estimator="custom")  # not recognised: re-run

    slow = randomization_inference(slow_call, data=frame, treatment="d", strata="county",
                                   cluster=cluster, permutations=200, seed=5)
    assert "re-estimated" in slow.inference
    np.testing.assert_allclose(fast.estimates, slow.estimates, atol=1e-10)
    np.testing.assert_allclose(fast.statistics, slow.statistics, rtol=1e-8)
    assert fast.p_value == slow.p_value and fast.p_value_estimate == slow.p_value_estimate


def test_permutations_respect_strata_and_clusters():
    frame = _clustered(seed=2, n_clusters=40, size=3)
    call = lambda f: regress(f, "y", ["d"], cluster="village")  # noqa: E731
    seen = []

    def spy(f):
        seen.append(f)
        return dataclasses.replace(call(f), estimator="custom")

    randomization_inference(spy, data=frame, treatment="d", strata="county", cluster="village",
                            permutations=25, seed=9)
    for permuted in seen[1:]:
        assert (permuted.groupby("village")["d"].nunique() == 1).all()
        pd.testing.assert_series_equal(permuted.groupby("county")["d"].sum(),
                                       frame.groupby("county")["d"].sum())
    assert "d" in frame and frame["d"].equals(_clustered(seed=2, n_clusters=40, size=3)["d"])


def test_assignment_procedure_is_re_run():
    units = pd.DataFrame({"village": np.arange(20), "county": np.arange(20) % 2})
    assignment = assign_treatment(units, unit="village", strata="county", seed=4)
    rng = np.random.default_rng(0)
    frame = units.loc[np.repeat(units.index, 5)].reset_index(drop=True)
    arm = dict(zip(assignment.table["village"], assignment.table["arm"], strict=True))
    frame["d"] = (frame["village"].map(arm) == "treatment").astype(float)
    frame["y"] = rng.normal(size=len(frame))
    call = lambda f: regress(f, "y", ["d"], cluster="village")  # noqa: E731
    result = randomization_inference(call, data=frame, treatment="d", permutations=30, seed=1,
                                     assignment_procedure=assignment.procedure)
    assert "re-running the assignment procedure" in result.inference
    assert result.permutations == 30 and 0 < result.p_value <= 1


def test_errors():
    frame = _clustered()
    call = lambda f: regress(f, "y", ["d"], cluster="village")  # noqa: E731
    with pytest.raises(ConfigError, match="'t', 'estimate'"):
        randomization_inference(call, data=frame, treatment="d", seed=1, statistic="z")
    with pytest.raises(EstimationError, match="varies within clusters"):
        randomization_inference(call, data=frame.assign(d=np.arange(len(frame)) % 2),
                                treatment="d", cluster="village", seed=1)
    with pytest.raises(ConfigError, match="strata"):
        randomization_inference(call, data=frame, treatment="d", strata="nope", seed=1)


def _nested(seed=0, n_clusters=32, size=6, effect=0.0):
    """Villages nested in counties nested in regions; treatment by village within county."""
    frame = _clustered(seed=seed, n_clusters=n_clusters, size=size, effect=effect)
    frame["county"] = frame.village % 4
    frame["region"] = frame.county % 2
    frame["round"] = np.tile(np.arange(size), n_clusters)  # varies within villages
    frame["w"] = np.random.default_rng(seed).uniform(0.5, 2.0, len(frame))
    return frame


@pytest.mark.parametrize(
    ("regressors", "fixed_effects", "cluster_level"),
    [
        (["d", "x"], (), True),  # intercept among the other regressors
        (["d"], ("county",), True),
        (["d", "x"], ("county", "region"), True),  # two factors, both constant in villages
        (["d", "x"], ("county", "round"), False),  # round varies within villages: tensor path
    ],
)
def test_cluster_level_path_equals_re_estimation(monkeypatch, regressors, fixed_effects,
                                                 cluster_level):
    from doorstep.inference import randomization as module

    frame = _nested(seed=7)
    calls = []
    original = module._cluster_level_statistics
    monkeypatch.setattr(module, "_cluster_level_statistics",
                        lambda *args: calls.append(1) or original(*args))

    def call(f):
        return regress(f, "y", regressors, fixed_effects=fixed_effects, cluster="village")

    fast = randomization_inference(call, data=frame, treatment="d", strata="county",
                                   cluster="village", permutations=150, seed=2)
    assert "vectorised" in fast.inference and bool(calls) == cluster_level

    def slow_call(f):
        return dataclasses.replace(call(f), estimator="custom")

    slow = randomization_inference(slow_call, data=frame, treatment="d", strata="county",
                                   cluster="village", permutations=150, seed=2)
    np.testing.assert_allclose(fast.estimates, slow.estimates, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fast.statistics, slow.statistics, rtol=1e-8)
    assert fast.estimate == pytest.approx(call(frame).estimate, rel=1e-10)
    assert fast.statistic == pytest.approx(call(frame).statistic, rel=1e-8)
    assert fast.p_value == slow.p_value and fast.p_value_estimate == slow.p_value_estimate


def test_cluster_level_path_finds_a_known_effect_and_not_a_null_one():
    call = lambda f: regress(f, "y", ["d", "x"], fixed_effects="county", cluster="village")  # noqa: E731
    with_effect = randomization_inference(call, data=_nested(seed=1, n_clusters=40, effect=1.5),
                                          treatment="d", strata="county", cluster="village",
                                          permutations=999, seed=3)
    assert with_effect.p_value < 0.01 and with_effect.p_value_estimate < 0.01
    # Under the sharp null the p-values of many experiments are close to uniform.
    p_values = [
        randomization_inference(call, data=_nested(seed=seed, n_clusters=24), treatment="d",
                                strata="county", cluster="village", permutations=199,
                                seed=seed).p_value
        for seed in range(40)
    ]
    assert 0.0 <= np.mean(np.array(p_values) < 0.1) <= 0.25
    assert 0.35 <= np.mean(p_values) <= 0.65


def test_weighted_fits_are_re_estimated_and_the_weighted_cluster_path_is_exact():
    from doorstep.inference import randomization as module
    from doorstep.inference._design import linear_design

    frame = _nested(seed=4)

    def call(f):
        return regress(f, "y", ["d", "x"], weights="w", fixed_effects="county",
                       cluster="village")

    result = randomization_inference(call, data=frame, treatment="d", strata="county",
                                     cluster="village", permutations=60, seed=8)
    assert "re-estimated" in result.inference  # the result does not record its weights
    # The weighted design through the cluster-level sums, against the re-estimated fits.
    design = linear_design(call(frame), frame, cluster="village", weights="w")
    units = module._units(frame, "d", "county", "village")
    assignments = module._permute(units, 60, np.random.default_rng(8))
    estimates, statistics = module._fast_statistics(
        design, design.terms.index("d"), assignments, units.codes, True)
    np.testing.assert_allclose(estimates, result.estimates, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(statistics, result.statistics, rtol=1e-8)
