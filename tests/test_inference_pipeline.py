"""Inference in the pipeline: family indices, bootstrap p-values and family-wise adjustments.

Issue 6's "done when": every outcome's primary estimate carries the cluster-robust, wild
(multiplier) bootstrap, Romano-Wolf and sharpened-q values, with an ICW index row per family.
The step-down and the multiplier bootstrap are checked against independent computations (a
brute-force Romano-Wolf, the analytic normal p-value with many clusters); the index against
simulated data whose effects all point the good way.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from doorstep.config import load_config
from doorstep.errors import ConfigError
from doorstep.estimate import TIDY_COLUMNS, staggered_did
from doorstep.inference import adjust_pvalues
from doorstep.inference.multiple import multiplier_bootstrap, romano_wolf_from_draws
from doorstep.report import compare_with_truth, format_effect_table
from doorstep.report.i18n import text
from doorstep.run import stages
from tests.conftest import make_project

PROGRAMMES = ("caring_mothers", "skills_workshops")
PRIMARY = {"caring_mothers": "att_simple", "skills_workshops": "itt"}


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    """Both programmes simulated at 60% of the demo size: config, analysis data, estimates."""
    folder = tmp_path_factory.mktemp("inference")
    out = {}
    for programme in PROGRAMMES:
        path = make_project(folder, programme, scale=0.6)
        config = stages.start(path, folder / "run" / programme)[0]
        instrument, raw, _ = stages.read_sources(config)
        analysis = stages.build_analysis_data(
            config, stages.clean_sources(config, raw, instrument).data)
        out[programme] = (config, analysis, stages.estimate_effects(config, analysis, seed=7))
    return out


def _brute_force_romano_wolf(statistics: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Romano-Wolf by its definition, one hypothesis at a time, without sorting tricks."""
    observed, boot = np.abs(statistics), np.abs(draws)
    n_draws, n_tests = boot.shape
    single = np.empty(n_tests)
    for k in range(n_tests):
        # hypotheses not rejected before k: those with |t| no larger than |t_k|
        remaining = [j for j in range(n_tests) if observed[j] <= observed[k]]
        count = sum(1 for b in range(n_draws) if max(boot[b, j] for j in remaining) >= observed[k])
        single[k] = (count + 1) / (n_draws + 1)
    return np.array([max(single[k] for k in range(n_tests) if observed[k] >= observed[j])
                     for j in range(n_tests)])


def test_romano_wolf_from_draws_equals_brute_force():
    rng = np.random.default_rng(11)
    draws = rng.standard_normal((400, 5)) @ np.linalg.cholesky(
        0.5 * np.eye(5) + 0.5).T  # correlated tests, as outcomes of one sample are
    statistics = np.array([2.9, -0.4, 1.7, -2.2, 1.1])
    adjusted = romano_wolf_from_draws(statistics, draws)
    np.testing.assert_array_equal(adjusted, _brute_force_romano_wolf(statistics, draws))
    single = (np.sum(np.abs(draws) >= np.abs(statistics), axis=0) + 1) / (400 + 1)
    assert np.all(adjusted >= single) and np.all(adjusted <= 1)


def test_multiplier_p_value_matches_the_analytic_one_with_many_clusters():
    """400 villages: the bootstrap-t p-value is the normal one up to Monte Carlo error."""
    rng = np.random.default_rng(5)
    rows = [(unit, period, unit // 5, 3 if unit % 3 == 0 else 4 if unit % 3 == 1 else 0)
            for unit in range(2000) for period in (1, 2, 3, 4)]
    frame = pd.DataFrame(rows, columns=["id", "t", "village", "g"])
    village_shock = rng.normal(size=400)[frame["village"]]
    frame["y"] = (rng.normal(size=len(frame)) + village_shock
                  + 0.09 * ((frame["t"] >= frame["g"]) & (frame["g"] > 0)))
    result = staggered_did(frame, "y", "id", "t", "g", cluster="village", bootstrap_reps=0)
    simple = result.aggregate("simple")
    scores = result.cluster_scores("simple").to_frame()
    boot = multiplier_bootstrap(scores, [simple.estimate], reps=19999, seed=3)
    assert boot.std_error[0] == pytest.approx(simple.std_error, rel=1e-10)
    analytic = 2 * stats.norm.sf(abs(simple.estimate / simple.std_error))
    assert 0.01 < analytic < 0.5  # the comparison is informative only away from 0 and 1
    assert boot.p_value[0] == pytest.approx(analytic, abs=0.012)


def test_multiplier_draws_share_village_weights_across_outcomes():
    """The same scores in two columns give the same draws: one weight per village for all."""
    scores = pd.DataFrame({"a": np.linspace(-1, 1, 30), "b": np.linspace(-1, 1, 30)},
                          index=[f"v{i:02d}" for i in range(30)])
    boot = multiplier_bootstrap(scores, [0.3, 0.3], reps=999, seed=1)
    np.testing.assert_array_equal(boot.draws[:, 0], boot.draws[:, 1])
    again = multiplier_bootstrap(scores, [0.3, 0.3], reps=999, seed=1)
    np.testing.assert_array_equal(boot.draws, again.draws)


@pytest.mark.parametrize("programme", PROGRAMMES)
def test_every_primary_estimate_has_its_four_p_values(projects, programme):
    config, _, impact = projects[programme]
    headline = impact.headline
    for column in ("family", "p_wild", "p_romano_wolf", "q_sharpened"):
        assert column in headline.columns
    primary = headline["estimand"] == PRIMARY[programme]
    values = headline.loc[primary, ["p_value", "p_wild", "p_romano_wolf", "q_sharpened"]]
    assert values.notna().all().all() and values.ge(0).all().all() and values.le(1).all().all()
    assert headline.loc[~primary, ["p_wild", "p_romano_wolf", "q_sharpened"]].isna().all().all()
    indices = {family.index_name for family in config.outcome_families}
    assert set(headline.loc[primary, "outcome"]) == set(config.outcomes) | indices
    assert headline["family"].ne("").all()
    assert tuple(impact.estimates.columns) == TIDY_COLUMNS  # estimates.csv keeps its contract
    assert tuple(impact.inference.columns) == stages.INFERENCE_COLUMNS
    assert impact.inference["reps"].eq(9999).all()
    # the demo's treatments vary within villages (lottery) or are bootstrapped by influence
    # functions (staggered): no cluster-level caution, and the report's note has none
    assert impact.inference["caution"].eq("").all()
    assert "caution" in headline.columns and not headline["caution"].fillna("").any()


@pytest.mark.parametrize("programme", PROGRAMMES)
def test_romano_wolf_is_never_below_the_bootstrap_p_value(projects, programme):
    table = projects[programme][2].inference
    assert (table["p_romano_wolf"] >= table["p_wild"]).all(), table


@pytest.mark.parametrize("programme", PROGRAMMES)
def test_sharpened_q_is_anderson_within_each_family(projects, programme):
    config, _, impact = projects[programme]
    table = impact.inference.set_index("outcome")
    groups = [list(family.outcomes) for family in config.outcome_families]
    groups.append([family.index_name for family in config.outcome_families])
    for members in groups:
        p_values = table.loc[members, "p_wild"].to_numpy()
        q_values = table.loc[members, "q_sharpened"].to_numpy()
        np.testing.assert_array_equal(q_values, adjust_pvalues(p_values, "sharpened_q"))
        for first, second in itertools.permutations(range(len(members)), 2):
            if p_values[first] <= p_values[second]:  # q keeps the order of the p-values
                assert q_values[first] <= q_values[second]


def test_staggered_romano_wolf_equals_brute_force_on_the_joint_draws(projects):
    config, analysis, impact = projects["caring_mothers"]
    data = stages.add_family_indices(config, analysis)
    family = config.outcome_families[0]
    fits = [staggered_did(data, name, unit=config.unit, time="round", cohort="cohort",
                          control_group="never", cluster=config.cluster, bootstrap_reps=0)
            for name in family.outcomes]
    scores = pd.concat([fit.cluster_scores().rename(fit.outcome) for fit in fits],
                       axis=1).sort_index()
    estimates = [fit.aggregate("simple").estimate for fit in fits]
    boot = multiplier_bootstrap(scores, estimates, reps=9999, seed=7)
    table = impact.inference.set_index("outcome").loc[list(family.outcomes)]
    np.testing.assert_array_equal(table["p_wild"].to_numpy(), boot.p_value)
    np.testing.assert_array_equal(table["p_romano_wolf"].to_numpy(),
                                  _brute_force_romano_wolf(boot.statistic, boot.draws))


@pytest.mark.parametrize("programme", PROGRAMMES)
def test_index_effect_is_positive_when_every_component_improves(projects, programme):
    """The simulator plants effects that are all good news after signing by direction."""
    config, analysis, impact = projects[programme]
    truth = pd.DataFrame(stages.load_truth(config)["effects"])
    truth = truth[truth["estimand"].eq(PRIMARY[programme]) & truth["subgroup"].isna()
                  & truth["event_time"].isna() & truth["group"].isna()]
    headline = impact.headline.set_index(["outcome", "estimand"])
    for family in config.outcome_families:
        for name, sign in family.signs.items():
            assert sign * truth.loc[truth["outcome"] == name, "value"].iloc[0] > 0, name
        row = headline.loc[(family.index_name, PRIMARY[programme])]
        assert row["estimate"] > 0, (family.name, row)  # direction (power varies by draw)
    # Flipping every direction flips the index's effect: the signs are really applied.
    flipped = dataclasses.replace(config, families={
        family.name: {"label": family.label, "outcomes": list(family.outcomes),
                      "direction": {name: -sign for name, sign in family.signs.items()}}
        for family in config.outcome_families})
    data = stages.add_family_indices(config, analysis)
    data_flipped = stages.add_family_indices(flipped, analysis)
    for family in config.outcome_families:
        index, reversed_index = data[family.index_name], data_flipped[family.index_name]
        assert np.corrcoef(index.dropna(), reversed_index.dropna())[0, 1] == pytest.approx(-1)


def test_index_is_standardised_on_the_control_group_at_baseline(projects):
    config, analysis, _ = projects["caring_mothers"]
    data = stages.add_family_indices(config, analysis)
    family = config.outcome_families[0]
    reference = data[(data["cohort"] == 0) & (data["round"] == data["round"].min())]
    # each signed component has mean 0 in the reference group, so the ICW mean is 0 there when
    # every component is present (weights renormalise only where some are missing)
    complete = reference.dropna(subset=list(family.outcomes))
    assert abs(complete[family.index_name].mean()) < 0.1
    lottery_config, lottery_analysis, _ = projects["skills_workshops"]
    lottery = stages.add_family_indices(lottery_config, lottery_analysis)
    lost = lottery[(lottery["design"] == "lottery") & (lottery["applied"] == 1)
                   & (lottery["won_lottery"] == 0)]
    name = lottery_config.outcome_families[0].index_name
    assert abs(lost[f"{name}_baseline"].mean()) < 0.1
    assert lottery.loc[lottery["design"] == "open", name].isna().all()


def test_same_seed_gives_identical_inference(projects):
    config, analysis, impact = projects["skills_workshops"]
    again = stages.estimate_effects(config, analysis, seed=7)
    assert again.inference.to_csv() == impact.inference.to_csv()
    assert again.headline.to_csv() == impact.headline.to_csv()


def test_effect_table_shows_four_p_values_and_copes_with_index_rows(projects):
    config, _, impact = projects["caring_mothers"]
    comparison = compare_with_truth(impact.headline, stages.load_truth(config)["effects"])
    index_rows = comparison["outcome"].str.startswith("index_")
    assert comparison.loc[index_rows, "true_effect"].isna().all()
    assert comparison.loc[index_rows, "covered"].isna().all()
    assert comparison.loc[~index_rows, "true_effect"].notna().all()
    for language in ("en", "zh"):
        labels = dataclasses.replace(config, language=language).labels
        table = format_effect_table(comparison, labels, language=language)
        headers = [text(key, language) for key in (
            "inference_p_cluster", "inference_p_wild", "inference_p_romano_wolf",
            "inference_q_sharpened")]
        assert set(headers) <= set(table.columns)
        assert text("p_value", language) not in table.columns
        assert table.attrs["note"] == text("inference_note", language, reps="9,999")
        shown = table[text("outcome", language)]
        assert shown.str.contains("ICW").sum() == len(config.outcome_families)
        assert table.loc[index_rows.to_numpy(), text("covers", language)].eq("").all()
    plain = format_effect_table(comparison.drop(columns=["p_wild", "p_romano_wolf",
                                                         "q_sharpened"]), config.labels)
    assert text("p_value", "en") in plain.columns and "note" not in plain.attrs


def _write_config(tmp_path, projects, families) -> str:
    source = projects["caring_mothers"][0].as_dict()
    source["families"] = families
    path = tmp_path / "evaluation.yaml"
    path.write_text(yaml.safe_dump(source, allow_unicode=True), encoding="utf-8")
    return str(path)


def test_families_are_validated_with_errors_naming_file_and_key(tmp_path, projects):
    path = _write_config(tmp_path, projects, {"kids": {"label": "kids",
                                                       "outcomes": ["sdq_total", "sdq_totl"]}})
    with pytest.raises(ConfigError, match=r"evaluation\.yaml: families\.kids\.outcomes: "
                                          r"\['sdq_totl'\] are not in outcomes"):
        load_config(path)
    path = _write_config(tmp_path, projects, {"kids": {
        "outcomes": ["sdq_total", "ucla_total"], "direction": {"sdq_total": 2}}})
    with pytest.raises(ConfigError, match=r"families\.kids\.direction\.sdq_total: expected \+1"):
        load_config(path)
    path = _write_config(tmp_path, projects, {"kids": {"outcomes": ["sdq_total"]}})
    with pytest.raises(ConfigError, match="two or more distinct outcome names"):
        load_config(path)


def test_without_families_all_outcomes_form_one_family(tmp_path, projects):
    config = load_config(_write_config(tmp_path, projects, {}))
    (family,) = config.outcome_families
    assert family.name == "all" and family.outcomes == tuple(config.outcomes)
    assert set(family.signs.values()) == {1}
    assert "index_all" in config.labels
