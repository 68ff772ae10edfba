"""Cost-effectiveness table: every number against a hand computation."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest
from scipy import stats

from doorstep.config import OutcomeFamily, load_config
from doorstep.errors import ConfigError, DataError
from doorstep.report.cost import cost_effectiveness_table, format_cost_table

Z = stats.norm.ppf(0.975)


def _config(**costs):
    base = {"total_cost": 100_000.0, "n_participants": 200.0, "estimand": None,
            "income_outcome": None, "horizon_years": None, "discount_rate": 0.05,
            "periods_per_year": 12}
    base.update(costs)
    families = (OutcomeFamily("f", {"en": "f"}, ("score", "difficulty", "income"),
                              {"difficulty": -1}),)
    return SimpleNamespace(costs=base, design="lottery", outcome_families=families,
                           headline={"a": "score", "b": "difficulty"}, path="cfg.yaml")


HEADLINE = pd.DataFrame({
    "outcome": ["score", "difficulty", "income", "score"],
    "estimand": ["late", "late", "late", "itt"],
    "estimate": [5.0, -2.0, 10.0, 3.0],
    "std_error": [2.0, 0.5, 2.0, 1.0],
})


def test_cost_per_participant_unit_and_sd_match_hand_computation():
    table = cost_effectiveness_table(_config(), HEADLINE, {"score": 4.0, "difficulty": 8.0})
    rows = table.set_index(["outcome", "quantity"])
    per_person = 100_000 / 200
    assert rows.loc[("", "cost_per_participant"), "estimate"] == pytest.approx(500.0)
    # known cost: Fieller's interval is cost / (effect -+ z se)
    score = rows.loc[("score", "cost_per_unit_effect")]
    assert score["estimate"] == pytest.approx(per_person / 5.0, rel=1e-12)
    assert score["conf_low"] == pytest.approx(per_person / (5.0 + Z * 2.0), rel=1e-9)
    assert score["conf_high"] == pytest.approx(per_person / (5.0 - Z * 2.0), rel=1e-9)
    score_sd = rows.loc[("score", "cost_per_sd")]
    assert score_sd["estimate"] == pytest.approx(per_person / (5.0 / 4.0), rel=1e-12)
    assert score_sd["conf_low"] == pytest.approx(per_person / ((5.0 + Z * 2.0) / 4), rel=1e-9)
    # difficulty: lower is better, so the improvement is +2 points
    difficulty = rows.loc[("difficulty", "cost_per_unit_effect")]
    assert difficulty["estimate"] == pytest.approx(250.0, rel=1e-12)
    assert difficulty["conf_high"] == pytest.approx(per_person / (2.0 - Z * 0.5), rel=1e-9)
    assert rows.loc[("difficulty", "cost_per_sd"), "estimate"] == pytest.approx(
        per_person / (2.0 / 8.0))


def test_harmful_and_insignificant_effects_get_no_ratio():
    headline = HEADLINE.assign(estimate=[1.0, 2.0, 10.0, 3.0])  # difficulty rises: harmful
    table = cost_effectiveness_table(_config(), headline).set_index(["outcome", "quantity"])
    assert table.loc[("difficulty", "cost_per_unit_effect"), "note"] == "harmful"
    assert math.isnan(table.loc[("difficulty", "cost_per_unit_effect"), "estimate"])
    score = table.loc[("score", "cost_per_unit_effect")]  # 1.0 with se 2: not significant
    assert score["note"] == "unbounded" and math.isnan(score["conf_low"])
    assert score["estimate"] == pytest.approx(500.0)
    assert ("score", "cost_per_sd") not in table.index  # no SD given


def test_benefits_present_value_and_ratio_match_hand_computation():
    config = _config(income_outcome="income", horizon_years=3, discount_rate=0.05)
    table = cost_effectiveness_table(config, HEADLINE).set_index("quantity")
    factor = 1 / 1.05 + 1 / 1.05**2 + 1 / 1.05**3
    value = 10.0 * 12 * factor
    value_se = 2.0 * 12 * factor
    assert table.loc["present_value_benefits", "estimate"] == pytest.approx(value, rel=1e-12)
    assert table.loc["present_value_benefits", "conf_low"] == pytest.approx(
        value - Z * value_se, rel=1e-9)
    assert table.loc["net_present_value", "estimate"] == pytest.approx(value - 500.0)
    assert table.loc["benefit_cost_ratio", "estimate"] == pytest.approx(value / 500.0)
    assert table.loc["benefit_cost_ratio", "conf_high"] == pytest.approx(
        (value + Z * value_se) / 500.0, rel=1e-9)


def test_estimand_choice_and_missing_rows():
    config = _config(estimand="itt")
    config.headline = {"a": "score"}
    rows = cost_effectiveness_table(config, HEADLINE).set_index(["outcome", "quantity"])
    assert rows.loc[("score", "cost_per_unit_effect"), "estimate"] == pytest.approx(500 / 3.0)
    with pytest.raises(DataError, match="estimand 'itt'"):
        cost_effectiveness_table(_config(estimand="itt"), HEADLINE)
    with pytest.raises(ConfigError, match="horizon_years"):
        cost_effectiveness_table(_config(income_outcome="income"), HEADLINE)


def test_format_cost_table_in_both_languages():
    table = cost_effectiveness_table(_config(), HEADLINE, {"score": 4.0})
    english = format_cost_table(table, {"score": "Score"}, "en", "yuan")
    assert english.columns.tolist() == ["Quantity", "Outcome", "Estimate", "95% CI", "Unit",
                                        "Note"]
    assert english.iloc[1].tolist()[:3] == ["Cost per unit of improvement", "Score", "100"]
    chinese = format_cost_table(table, {"score": "得分"}, "zh", "元")
    assert chinese.iloc[0, 0] == "人均成本" and chinese.iloc[0, 4] == "元/人"


def test_config_costs_section_is_validated():
    config = load_config("surveys/skills_workshops/evaluation.yaml")
    assert config.costs["total_cost"] == 1032500.0 and config.costs["estimand"] == "late"
    with pytest.raises(ConfigError, match=r"costs\.total_cost"):
        load_config("surveys/skills_workshops/evaluation.yaml", ["costs.total_cost=-5"])
    with pytest.raises(ConfigError, match="unknown keys"):
        load_config("surveys/skills_workshops/evaluation.yaml", ["costs.budget=5"])
