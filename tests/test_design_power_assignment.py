"""Power, sampling, assignment and cost-effectiveness against peers and hand computations."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower, TTestIndPower

from doorstep.design import (
    assign_treatment,
    cost_effectiveness,
    design_effect,
    design_tables,
    inclusion_probabilities,
    power_analysis,
    reassign,
    select_households,
    select_villages,
    simulated_power,
    write_assignment,
    write_sample,
)
from doorstep.errors import ConfigError, DataError

Z_975, Z_80 = stats.norm.ppf(0.975), stats.norm.ppf(0.8)


def test_individual_design_matches_statsmodels():
    for alternative, sides in (("two-sided", 2), ("larger", 1)):
        peer = TTestIndPower().power(effect_size=0.3, nobs1=90, alpha=0.05,
                                     alternative=alternative)
        ours = power_analysis(effect=0.3, n_clusters=180, power=None, sides=sides,
                              distribution="t")
        assert ours.power == pytest.approx(peer, abs=1e-10)
        peer = NormalIndPower().power(effect_size=0.3, nobs1=90, alpha=0.05,
                                      alternative=alternative)
        assert power_analysis(effect=0.3, n_clusters=180, power=None, sides=sides
                              ).power == pytest.approx(peer, abs=1e-10)
    peer_effect = TTestIndPower().solve_power(nobs1=64, alpha=0.05, power=0.8)
    assert power_analysis(n_clusters=128, distribution="t").effect == pytest.approx(
        peer_effect, rel=1e-6)
    peer_n = TTestIndPower().solve_power(effect_size=0.25, alpha=0.05, power=0.9)
    assert power_analysis(effect=0.25, n_clusters=None, power=0.9,
                          distribution="t").n_clusters == pytest.approx(2 * peer_n, rel=1e-6)


def test_cluster_mde_matches_the_closed_form():
    # Eldridge et al. 2006 design effect and the DGK (2007) / Bloom MDE formula, by hand.
    assert design_effect(20, 0.05, 0.5) == pytest.approx(1 + (1.25 * 20 - 1) * 0.05)
    result = power_analysis(n_clusters=60, cluster_size=25, icc=0.08, cluster_size_cv=0.4,
                            r_squared=0.3, attrition=0.2, take_up=0.6, take_up_control=0.1,
                            treated_share=0.4, sd=2.0)
    m = 25 * 0.8
    deff = 1 + ((0.4**2 + 1) * m - 1) * 0.08
    std_error = 2.0 * np.sqrt(0.7 * deff / (0.4 * 0.6 * 60 * m))
    assert result.design_effect == pytest.approx(deff)
    # The closed form ignores the far rejection tail (about 1e-6 of power): rel. 1e-5.
    assert result.effect_itt == pytest.approx((Z_975 + Z_80) * std_error, rel=1e-5)
    assert result.effect == pytest.approx((Z_975 + Z_80) * std_error / 0.5, rel=1e-5)
    one_sided = power_analysis(n_clusters=60, cluster_size=25, icc=0.08, sides=1)
    assert one_sided.effect == pytest.approx((stats.norm.ppf(0.95) + Z_80)
                                             * one_sided.std_error, rel=1e-9)
    # Solving for the number of clusters or the cluster size returns the same design.
    back = power_analysis(effect=result.effect, n_clusters=None, cluster_size=25, icc=0.08,
                          cluster_size_cv=0.4, r_squared=0.3, attrition=0.2, take_up=0.6,
                          take_up_control=0.1, treated_share=0.4, sd=2.0)
    assert back.n_clusters == pytest.approx(60, rel=1e-6)
    size = power_analysis(effect=result.effect, n_clusters=60, cluster_size=None, icc=0.08,
                          cluster_size_cv=0.4, r_squared=0.3, attrition=0.2, take_up=0.6,
                          take_up_control=0.1, treated_share=0.4, sd=2.0)
    assert size.cluster_size == pytest.approx(25, rel=1e-6)
    with pytest.raises(ConfigError, match=r"key 'cluster_size'.*add clusters"):
        power_analysis(effect=0.1, n_clusters=10, cluster_size=None, icc=0.2)
    with pytest.raises(ConfigError, match="exactly one of"):
        power_analysis(effect=0.2, n_clusters=10, cluster_size=5, power=0.8)
    with pytest.raises(ConfigError, match="key 'icc': expected a number in \\[0, 1\\)"):
        power_analysis(n_clusters=10, cluster_size=5, icc=1.5)


def test_published_example_stata_sampsi_sampclus():
    # Stata `sampsi 12 16, sd(5) power(.8)` then `sampclus, obsclus(10) rho(0.3)`, as
    # reproduced in pwrcalc's tests (vikjam/pwrcalc, test_clustered_results.r): 25 per arm
    # unclustered, 93 per arm after the design effect 1 + 9 x 0.3 = 3.7, 19 clusters.
    unclustered = power_analysis(effect=4, sd=5, n_clusters=None)
    assert int(np.ceil(unclustered.n_clusters / 2)) == 25
    clustered = power_analysis(effect=4, sd=5, n_clusters=None, cluster_size=10, icc=0.3)
    assert clustered.design_effect == pytest.approx(3.7)
    assert int(np.ceil(25 * clustered.design_effect)) == 93
    assert int(np.ceil(clustered.n_clusters)) == 19


def test_simulated_power_agrees_with_the_analytic_power():
    def simulate(seed):
        rng = np.random.default_rng(seed)
        return rng.normal(0, 1, 40), rng.normal(0.5, 1, 40)

    def estimate(data):
        return {"p_value": stats.ttest_ind(*data).pvalue, "estimate": data[1].mean()
                - data[0].mean()}

    result = simulated_power(simulate, estimate, replications=400, seed=3)
    analytic = TTestIndPower().power(effect_size=0.5, nobs1=40, alpha=0.05)
    assert abs(result.power - analytic) < 3 * result.mc_std_error
    assert result.mc_std_error == pytest.approx(np.sqrt(result.power * (1 - result.power)
                                                        / 400))
    again = simulated_power(simulate, estimate, replications=400, seed=3)
    assert again == result
    null = simulated_power(lambda s: np.random.default_rng(s).normal(0, 1, 30),
                           lambda y: stats.ttest_1samp(y, 0).pvalue, replications=400, seed=4)
    assert abs(null.power - 0.05) < 3 * np.sqrt(0.05 * 0.95 / 400)


def _villages() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"village": [f"V{i:02d}" for i in range(30)],
                         "county": ["A"] * 12 + ["B"] * 18,
                         "households": rng.integers(20, 300, 30).tolist()})


def test_pps_probabilities_sum_to_the_sample_and_match_frequencies():
    frame = _villages().assign(households=lambda f: f["households"].where(f.index != 3, 2000))
    probabilities = inclusion_probabilities(frame, size="households", n={"A": 4, "B": 5},
                                            strata="county")
    assert probabilities[frame["county"] == "A"].sum() == pytest.approx(4)
    assert probabilities[frame["county"] == "B"].sum() == pytest.approx(5)
    assert probabilities.iloc[3] == 1.0  # a certainty village
    counts = pd.Series(0, index=frame["village"])
    for seed in range(200):
        sample = select_villages(frame, n={"A": 4, "B": 5}, size="households", strata="county",
                                 seed=seed)
        assert sample.groupby("county").size().tolist() == [4, 5]
        counts[sample["village"]] += 1
    assert np.abs(counts.to_numpy() / 200 - probabilities.to_numpy()).max() < 0.1
    first = select_villages(frame, n=3, size="households", strata="county", seed=9)
    assert first.equals(select_villages(frame, n=3, size="households", strata="county", seed=9))
    assert (first["design_weight"] == 1 / first["inclusion_probability"]).all()
    replaced = select_villages(frame, n=5, size="households", seed=1, method="with_replacement")
    assert replaced["hits"].sum() == 5
    shares = frame["households"] / frame["households"].sum()
    assert (5 * shares).sum() == pytest.approx(5)
    simple = select_villages(frame, n=6, seed=2, method="simple")
    assert simple["inclusion_probability"].tolist() == [0.2] * 6


def test_households_and_written_sample(tmp_path):
    villages = select_villages(_villages(), n=4, size="households", seed=5)
    listing = pd.DataFrame({"village": np.repeat(villages["village"], 12),
                            "household": range(48)}).merge(
        villages[["village", "inclusion_probability"]], on="village")
    households = select_households(listing, cluster="village", n=5, seed=5,
                                   cluster_probability="inclusion_probability")
    assert len(households) == 20
    probability = households["village"].map(villages.set_index("village")[
        "inclusion_probability"])
    assert households["inclusion_probability"].to_numpy() == pytest.approx(
        (probability * 5 / 12).to_numpy())
    assert (households["probability_within_cluster"] == 5 / 12).all()
    path = write_sample(households, tmp_path / "out" / "households.csv")
    back = pd.read_csv(path)
    assert back["design_weight"].round(9).tolist() == households["design_weight"].round(9).tolist()
    assert not list(path.parent.glob(".*"))  # no temporary files left


def _people() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({"woman_id": [f"W{i:03d}" for i in range(121)],
                         "village": [f"V{i % 20:02d}" for i in range(121)],
                         "township": [f"T{(i % 20) // 7}" for i in range(121)],
                         "age": rng.normal(40, 8, 121), "income": rng.lognormal(8, 1, 121)})


def test_assignment_is_balanced_within_strata_and_reproducible(tmp_path):
    frame = _people()
    result = assign_treatment(frame, unit="woman_id", strata="township", seed=42)
    counts = result.table.groupby(["township", "arm"]).size().unstack()
    assert (counts.max(axis=1) - counts.min(axis=1)).max() <= 1
    shuffled = frame.sample(frac=1, random_state=3)
    again = assign_treatment(shuffled, unit="woman_id", strata="township", seed=42)
    pd.testing.assert_series_equal(
        result.table.set_index("woman_id")["arm"].sort_index(),
        again.table.set_index("woman_id")["arm"].sort_index())
    three = assign_treatment(frame, unit="woman_id", strata="township", seed=1,
                             arms=("control", "workshop", "workshop_loan"),
                             shares=(0.5, 0.25, 0.25))
    for township, part in three.table.groupby("township"):
        size = len(part)
        for arm, share in (("control", 0.5), ("workshop", 0.25), ("workshop_loan", 0.25)):
            assert abs((part["arm"] == arm).sum() - share * size) < 1, township
    clustered = assign_treatment(frame, unit="woman_id", cluster="village", strata="township",
                                 seed=8)
    assert (clustered.table.groupby("village")["arm"].nunique() == 1).all()
    village_counts = clustered.table.drop_duplicates("village").groupby(
        ["township", "arm"]).size().unstack()
    assert (village_counts.max(axis=1) - village_counts.min(axis=1)).max() <= 1
    csv, sidecar = write_assignment(clustered, tmp_path / "assignment.csv")
    record = json.loads(sidecar.read_text())
    assert record["seed"] == 8 and record["draw"] == 1 and record["cluster"] == "village"
    assert reassign(sidecar, frame).table.equals(clustered.table)
    assert pd.read_csv(csv)["arm"].tolist() == clustered.table["arm"].tolist()
    with pytest.raises(DataError, match="differ from those recorded"):
        reassign(clustered.procedure, frame[frame["village"] != "V00"])


def test_rerandomisation_meets_its_criterion_and_replays():
    frame = _people()
    result = assign_treatment(frame, unit="woman_id", strata="township", seed=5,
                              balance="max_abs_std_diff", threshold=0.05,
                              covariates=["age", "income"], max_draws=2000)
    procedure = result.procedure
    assert procedure.draw >= 1 and procedure.balance_statistic <= 0.05
    table = result.table.merge(frame[["woman_id", "age", "income"]], on="woman_id")
    for column in ("age", "income"):
        treated = table.loc[table["arm"] == "treatment", column]
        control = table.loc[table["arm"] == "control", column]
        difference = abs(treated.mean() - control.mean()) / np.sqrt(
            (treated.var() + control.var()) / 2)
        assert difference <= 0.05 + 1e-12
    assert reassign(procedure.to_dict(), frame).table.equals(result.table)
    joint = assign_treatment(frame, unit="woman_id", strata="township", seed=5,
                             balance="joint_f_p_value", threshold=0.5,
                             covariates=["age", "income"], max_draws=200)
    assert joint.procedure.balance_statistic >= 0.5
    with pytest.raises(ConfigError, match="key 'max_draws'"):
        assign_treatment(frame, unit="woman_id", seed=5, balance="max_abs_std_diff",
                         threshold=1e-6, covariates=["age"], max_draws=3)


def test_cost_effectiveness_hand_computation():
    out = cost_effectiveness(total_cost=600_000, n_participants=300, effect=4.0,
                             effect_std_error=1.5, effect_unit="WHO-5 point",
                             annual_income_gain=1200, annual_income_gain_std_error=300,
                             horizon_years=3, discount_rate=0.05).set_index("quantity")
    cost = 2000.0
    assert out.loc["cost_per_participant", "estimate"] == cost
    assert out.loc["cost_per_unit_effect", "estimate"] == 500.0
    # Fieller with a known cost: cost / (effect -+ z se).
    assert out.loc["cost_per_unit_effect", "conf_low"] == pytest.approx(cost / (4 + Z_975 * 1.5))
    assert out.loc["cost_per_unit_effect", "conf_high"] == pytest.approx(
        cost / (4 - Z_975 * 1.5))
    factor = 1 / 1.05 + 1 / 1.05**2 + 1 / 1.05**3
    assert out.loc["present_value_benefits", "estimate"] == pytest.approx(1200 * factor)
    assert out.loc["benefit_cost_ratio", "estimate"] == pytest.approx(1200 * factor / cost)
    assert out.loc["benefit_cost_ratio", "conf_low"] == pytest.approx(
        (1200 - Z_975 * 300) * factor / cost)
    delta = cost_effectiveness(total_cost=600_000, n_participants=300, effect=4.0,
                               effect_std_error=1.5, method="delta").set_index("quantity")
    half = Z_975 * 500 * 1.5 / 4
    assert delta.loc["cost_per_unit_effect", "conf_low"] == pytest.approx(500 - half)
    weak = cost_effectiveness(total_cost=1000, n_participants=10, effect=1.0,
                              effect_std_error=1.0).set_index("quantity")
    assert np.isnan(weak.loc["cost_per_unit_effect", "conf_low"])
    assert weak.loc["cost_per_unit_effect", "note"].startswith("unbounded")


def test_design_tables_from_parameters():
    tables = design_tables({"n_clusters": 40, "cluster_size": 15, "icc": 0.1,
                            "icc_grid": [0.05, 0.1], "n_clusters_grid": [20, 40],
                            "cost": {"total_cost": 1e6, "n_participants": 500, "effect": 0.2,
                                     "effect_std_error": 0.08}})
    assert set(tables) == {"assumptions", "mde", "mde_by_clusters_and_icc",
                           "mde_by_cluster_size_and_icc", "clusters_needed", "power_curve",
                           "cost_effectiveness"}
    mde = tables["mde"].iloc[0]
    assert mde["mde_participants"] == pytest.approx(
        power_analysis(n_clusters=40, cluster_size=15, icc=0.1).effect)
    grid = tables["mde_by_clusters_and_icc"].set_index(["n_clusters", "icc"])
    assert grid.loc[(40, 0.1), "mde_participants"] == pytest.approx(mde["mde_participants"])
    needed = tables["clusters_needed"].set_index("icc")
    assert needed.loc[0.1, "n_clusters"] == pytest.approx(40, rel=1e-6)
    curve = tables["power_curve"].set_index("effect")["power"]
    assert curve.is_monotonic_increasing
    with pytest.raises(ConfigError, match="key 'iccs'"):
        design_tables({"iccs": [0.1]})
