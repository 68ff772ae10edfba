"""Measures scored by their published rules, design records attached, report pieces."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from doorstep.design import lottery_sample, staggered_panel
from doorstep.errors import DataError
from doorstep.measures import build_measures, household_income, sdq_scores, who5_score
from doorstep.report import (
    PersonalDataError,
    compare_with_truth,
    scan_for_personal_data,
    scan_run_dir,
    small_cells_suppressed,
)


def _sdq(answers: dict[int, float]) -> pd.DataFrame:
    return pd.DataFrame({f"sdq_{i:02d}": [answers.get(i, 0)] for i in range(1, 26)})


def test_sdq_hand_worked_example():
    # All "certainly true" (2): reversed items 7, 11, 14, 21, 25 score 0.
    scores = sdq_scores(_sdq(dict.fromkeys(range(1, 26), 2))).iloc[0]
    assert scores["sdq_emotional"] == 10
    assert scores["sdq_conduct"] == 8 and scores["sdq_hyperactivity"] == 6
    assert scores["sdq_peer"] == 6 and scores["sdq_prosocial"] == 10
    assert scores["sdq_total"] == 30


def test_sdq_prorating_needs_three_of_five_items():
    answers = dict.fromkeys(range(1, 26), 1)
    answers.update({3: np.nan, 8: np.nan})  # emotional: 3 of 5 answered, mean 1 -> 5
    assert sdq_scores(_sdq(answers)).iloc[0]["sdq_emotional"] == 5
    answers[13] = np.nan  # only 2 answered: emotional and total are missing
    scores = sdq_scores(_sdq(answers)).iloc[0]
    assert np.isnan(scores["sdq_emotional"]) and np.isnan(scores["sdq_total"])


def test_who5_and_income_missing_rules():
    items = pd.DataFrame({f"who5_{i}": [5, 5] for i in range(1, 6)}).astype(float)
    items.loc[1, "who5_3"] = np.nan
    assert who5_score(items).tolist()[0] == 100 and np.isnan(who5_score(items).tolist()[1])
    income = pd.DataFrame({"inc_wages": [3000, 3000], "inc_business": [0, np.nan],
                           "inc_farming": [200, 200], "inc_transfers": [100, 100]})
    assert household_income(income).tolist()[0] == 3300
    assert np.isnan(household_income(income).tolist()[1])
    out = build_measures(pd.DataFrame({"employed": [0, 1], "earnings_month": [np.nan, 900]}))
    assert out["earnings_month"].tolist() == [0.0, 900.0]


def test_staggered_panel_cohorts_and_missing_village():
    panel = pd.DataFrame({"village_code": ["01", "01", "02", "03"], "round": [1, 2, 3, 2]})
    rollout = pd.DataFrame({"village_code": ["01", "02", "03"], "cohort": ["2", "3", None]})
    out = staggered_panel(panel, rollout, cluster="village_code", start_column="cohort")
    assert out["cohort"].tolist() == [2, 2, 3, 0]
    assert out["treated"].tolist() == [0, 1, 1, 0]
    with pytest.raises(DataError, match="village '09' is in the survey but not in the roll-out"):
        staggered_panel(pd.DataFrame({"village_code": ["09"], "round": [1]}), rollout,
                        cluster="village_code", start_column="cohort")
    with pytest.raises(DataError, match="row 1, column 'cohort': expected a whole number"):
        staggered_panel(panel, rollout.assign(cohort=["two", "3", None]),
                        cluster="village_code", start_column="cohort")


def test_lottery_sample_keeps_endline_and_baseline():
    clean = pd.DataFrame({"woman_id": ["W1", "W1", "W2", "W2", "W3"],
                          "village_code": ["01"] * 5, "round": [1, 2, 1, 2, 1],
                          "y": [1.0, 2.0, 3.0, 5.0, 9.0]})
    out = lottery_sample(
        clean, pd.DataFrame({"village_code": ["01"], "design": ["lottery"]}),
        pd.DataFrame({"woman_id": ["W1", "W2"], "applied": ["1", "1"],
                      "won_lottery": ["1", "0"]}),
        pd.DataFrame({"woman_id": ["W1"], "participated": ["1"]}),
        unit="woman_id", cluster="village_code", baseline_columns=["y"])
    assert out["woman_id"].tolist() == ["W1", "W2"]  # W3 left before endline
    assert out["y_baseline"].tolist() == [1.0, 3.0]
    assert out["participated"].tolist() == [1, 0] and out["won_lottery"].tolist() == [1, 0]


def test_truth_comparison_uses_overall_effects_only():
    headline = pd.DataFrame({"outcome": ["y"], "estimand": ["att_simple"], "estimate": [1.0],
                             "conf_low": [0.5], "conf_high": [1.5]})
    truth = [{"outcome": "y", "estimand": "att_simple", "value": 1.2, "subgroup": None},
             {"outcome": "y", "estimand": "att_simple", "value": 9.0, "subgroup": "left_behind"}]
    out = compare_with_truth(headline, truth)
    assert out["true_effect"].tolist() == [1.2] and out["covered"].tolist() == [True]


def test_personal_data_guard(tmp_path):
    valid_id = "11010519491231002X"  # a checksum-valid example number
    found = scan_for_personal_data(f"name,id\nx,{valid_id}\nphone 13912345678\n",
                                   source="f.csv")
    assert found == ["f.csv, line 2: ID card number '1101**********002X'",
                     "f.csv, line 3: mobile phone number '139******78'"]
    # numbers inside longer tokens are not people: fractions, UUIDs, invalid checksums
    assert scan_for_personal_data("0.13912345678,b13912345678,110105194912310021") == []
    assert scan_for_personal_data("at 30.044986 122.113341 4.0") == ["<text>, line 1: "
                                                                     "exact GPS point"]
    (tmp_path / "ok.csv").write_text("estimate\n0.5\n")
    scan_run_dir(tmp_path)
    (tmp_path / "leak.html").write_text(f"<td>{valid_id}</td>")
    with pytest.raises(PersonalDataError, match=r"leak\.html, line 1: ID card number"):
        scan_run_dir(tmp_path)


def test_small_cells_are_suppressed():
    out = small_cells_suppressed(pd.DataFrame({"n": [0, 3, 5, np.nan]}), ["n"], 5)
    assert out["n"].tolist() == ["0", "<5", "5", ""]


def test_report_words_and_word_document(tmp_path):
    import zipfile

    from doorstep.report import Section, format_effect_table, text, write_docx
    from doorstep.report.i18n import TEXTS, localise

    assert all(set(entry) == {"en", "zh"} for entry in TEXTS.values())
    row = pd.DataFrame({"outcome": ["y"], "estimand": ["itt"], "estimate": [1.5],
                        "conf_low": [0.5], "conf_high": [2.5], "p_value": [0.0001],
                        "n_obs": [100], "n_clusters": [10], "true_effect": [1.0],
                        "covered": [True]})
    chinese = format_effect_table(row, {"y": "收入"}, language="zh")
    assert list(chinese.columns)[:3] == ["结果变量", "估计对象", "估计值 [95% 置信区间]"]
    assert chinese.iloc[0].tolist()[-1] == "是" and chinese.iloc[0, 3] == "<0.001"
    assert list(localise(pd.DataFrame({"n_round2": [1]}), "zh").columns) == ["第 2 轮样本数"]
    with pytest.raises(Exception, match="language"):
        text("yes", "fr")
    path = write_docx(tmp_path / "r.docx", "影响评估报告",
                      [Section("主要发现", ("- **收入**：+1.50",), table=chinese)])
    body = zipfile.ZipFile(path).read("word/document.xml").decode()
    assert "影响评估报告" in body and "收入" in body and "估计值 [95% 置信区间]" in body
    valid_id = "11010519491231002X"
    write_docx(tmp_path / "leak.docx", "t", [Section("s", (valid_id,))])
    with pytest.raises(PersonalDataError, match=r"leak\.docx, line \d+: ID card number"):
        scan_run_dir(tmp_path)


def test_chinese_figures_use_the_shipped_cjk_font():
    from matplotlib import font_manager

    from doorstep.report import effect_figure
    from doorstep.report.i18n import CJK_FONT_FAMILY, cjk_font_path

    row = pd.DataFrame({"outcome": ["y"], "estimand": ["itt"], "estimate": [1.0],
                        "conf_low": [0.5], "conf_high": [1.5], "true_effect": [1.2]})
    figure = effect_figure(row, {"y": "家庭月收入（元）"}, language="zh")
    label = figure.axes[0].yaxis.label
    found = font_manager.findfont(label.get_fontproperties(), fallback_to_default=False)
    assert found == cjk_font_path()
    assert font_manager.FontProperties(fname=found).get_name() == CJK_FONT_FAMILY
