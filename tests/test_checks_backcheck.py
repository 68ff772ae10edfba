"""Tests of back-check comparisons (ipabcstats-style) on a simulated back-check round."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from doorstep.checks import compare_backcheck, make_backcheck, run_checks
from doorstep.errors import ConfigError, DataError
from tests.test_checks_helpers import base_config, simulated_exports

TYPE1 = ["child_sex", "household_size"]
TYPE2 = ["inc_wages", "school_days_missed"]
TYPE3 = ["who5_1", "who5_2", "sdq_01"]


@pytest.fixture(scope="module")
def round_with_backcheck(tmp_path_factory):
    frames, form, result = simulated_exports(tmp_path_factory.mktemp("bc"), seed=7)
    survey = frames["round1"]
    fabricator = result.truth["problems"]["fabricator"]["enumerator"]
    backcheck, changes = make_backcheck(
        survey, id_column="child_id", type1=TYPE1, type2=TYPE2, type3=TYPE3, seed=3,
        share=0.10, fabricator=fabricator, fabricator_error=0.6)
    return {"frames": frames, "form": form, "survey": survey, "backcheck": backcheck,
            "changes": changes, "fabricator": fabricator}


def _spec(**extra):
    return {"id_column": "child_id", "type1": TYPE1, "type2": TYPE2, "type3": TYPE3,
            "continuous": ["inc_wages"], "ordinal": ["who5_1", "household_size"], **extra}


def test_backcheck_sample_is_ten_percent(round_with_backcheck):
    survey, backcheck = round_with_backcheck["survey"], round_with_backcheck["backcheck"]
    assert len(backcheck) == round(0.1 * survey["child_id"].nunique())
    assert backcheck["child_id"].is_unique


def test_discrepancies_match_the_error_process(round_with_backcheck):
    data = round_with_backcheck
    results = compare_backcheck(data["survey"], data["backcheck"], _spec())
    found = results.comparisons[results.comparisons["discrepancy"]]
    found_cells = set(zip(found["id"], found["variable"], strict=True))
    planted = set(zip(data["changes"]["id"], data["changes"]["variable"], strict=True))
    assert found_cells == planted
    by_variable = results.by_variable.set_index("variable")
    assert by_variable.loc["household_size", "type"] == "type1"
    assert {"enumerator", "type", "discrepancy_rate"} <= set(results.by_enumerator.columns)
    assert {"backchecker", "discrepancy_rate"} <= set(results.by_backchecker.columns)


def test_tolerances_absorb_small_differences(round_with_backcheck):
    data = round_with_backcheck
    strict = compare_backcheck(data["survey"], data["backcheck"], _spec())
    loose = compare_backcheck(data["survey"], data["backcheck"],
                              _spec(tolerances={"inc_wages": {"relative": 0.5}}))
    rate = {name: r.by_variable.set_index("variable").loc["inc_wages", "n_discrepancies"]
            for name, r in (("strict", strict), ("loose", loose))}
    assert rate["loose"] == 0 <= rate["strict"]


def test_tests_and_reliability(round_with_backcheck):
    data = round_with_backcheck
    results = compare_backcheck(data["survey"], data["backcheck"], _spec())
    assert set(results.tests["test"]) == {"t-test", "signrank"}
    assert results.tests["p_value"].dropna().between(0, 1).all()
    ratio = results.reliability.set_index("variable").loc["inc_wages", "reliability_ratio"]
    assert 0.5 < ratio <= 1


def test_reliability_ratio_formula():
    survey = pd.DataFrame({"id": list("abcd"), "enumerator": "E1", "x": ["1", "2", "3", "4"]})
    back = pd.DataFrame({"id": list("abcd"), "backchecker": "B", "x": ["1", "2", "3", "6"]})
    results = compare_backcheck(survey, back, {"id_column": "id", "type2": ["x"],
                                               "continuous": ["x"]})
    pooled = np.array([1, 2, 3, 4, 1, 2, 3, 6.0])
    expected = 1 - np.var([0, 0, 0, -2.0], ddof=1) / 2 / np.var(pooled, ddof=1)
    assert results.reliability["reliability_ratio"].iloc[0] == pytest.approx(expected)


def test_fabricator_has_the_most_type3_discrepancies(round_with_backcheck):
    data = round_with_backcheck
    results = compare_backcheck(data["survey"], data["backcheck"], _spec())
    table = results.by_enumerator[results.by_enumerator["type"] == "type3"]
    top = table.sort_values("discrepancy_rate", ascending=False)["enumerator"].iloc[0]
    if data["fabricator"] in set(table["enumerator"]):
        assert top == data["fabricator"]


def test_backcheck_through_run_checks(round_with_backcheck):
    data = round_with_backcheck
    config = base_config(data["frames"], backcheck={"data": data["backcheck"], **_spec()})
    results = run_checks({"round1": data["survey"]}, data["form"], config)
    assert results.backcheck is not None
    assert not results.backcheck.by_variable.empty


def test_backcheck_errors(round_with_backcheck):
    data = round_with_backcheck
    with pytest.raises(ConfigError, match="unknown key"):
        compare_backcheck(data["survey"], data["backcheck"], _spec(typo=1))
    with pytest.raises(DataError, match="not_a_column"):
        compare_backcheck(data["survey"], data["backcheck"], _spec(type1=["not_a_column"]))
