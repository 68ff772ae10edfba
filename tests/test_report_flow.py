"""The CONSORT flow: counts built from a small world whose numbers are known, table and figure."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pandas as pd
import pytest
from matplotlib import font_manager

from doorstep.errors import DataError
from doorstep.report.flow import arm_label, flow_figure, flow_problems, flow_table
from doorstep.run.stages import sample_flow_from_frames


def staggered_world():
    """Villages V1 (starts round 2), V2 (starts round 3), V3 (never); 10 children each.

    Round 1 surveys all 30; round 2 loses 2 children of V1 and 1 of V3, and finds one new
    child in V2; two records are dropped in round 1 and one in round 2.
    """
    config = SimpleNamespace(design="staggered_rollout", unit="child_id", cluster="village_code",
                             language="en")
    rollout = pd.DataFrame({"village_code": ["V1", "V2", "V3", "V4"],
                            "cohort": ["2", "3", "", ""]})
    children = {village: [f"{village}-{number}" for number in range(10)]
                for village in ("V1", "V2", "V3")}
    round1 = [(child, village, 1) for village, ids in children.items() for child in ids]
    lost = {"V1-0", "V1-1", "V3-0"}
    round2 = [(child, village, 2) for child, village, _ in round1 if child not in lost]
    round2.append(("V2-new", "V2", 2))
    clean = pd.DataFrame(round1 + round2, columns=["child_id", "village_code", "round"])
    dropped = pd.DataFrame({"round": [1, 1, 2], "drop_rule": ["duplicate", "short_interview",
                                                              "duplicate"]})
    sources = pd.DataFrame({"round": [1, 2], "rows": [32, 29]})
    cohort = clean["village_code"].map({"V1": 2, "V2": 3, "V3": 0})
    analysis = clean.assign(cohort=cohort)
    return config, sources, dropped, clean, analysis, {"rollout": rollout}


def lottery_world():
    """Two lottery villages and one open village; women listed with their lottery result."""
    config = SimpleNamespace(design="lottery", unit="woman_id", cluster="village_code",
                             language="en")
    villages = pd.DataFrame({"village_code": ["L1", "L2", "O1"],
                             "design": ["lottery", "lottery", "open"]})
    applicants = pd.DataFrame({
        "woman_id": [f"W{number}" for number in range(12)],
        "village_code": ["L1"] * 5 + ["L2"] * 4 + ["O1"] * 3,
        "applied": ["1", "1", "1", "0", "0", "1", "1", "1", "0", "0", "0", "0"],
        "won_lottery": ["1", "0", "1", "", "", "1", "0", "0", "", "", "", ""],
    })
    # arms: won W0 W2 W5; lost W1 W6 W7; not applied W3 W4 W8; open W9 W10 W11
    baseline = applicants[["woman_id", "village_code"]].assign(round=1)
    endline = baseline[~baseline["woman_id"].isin(["W2", "W7", "W10"])].assign(round=2)
    clean = pd.concat([baseline, endline], ignore_index=True)
    listing = applicants.set_index("woman_id")
    analysis = endline.assign(
        design=endline["village_code"].map({"L1": "lottery", "L2": "lottery", "O1": "open"}),
        applied=endline["woman_id"].map(listing["applied"].astype(int)),
        won_lottery=endline["woman_id"].map(listing["won_lottery"].replace("", "0")
                                            .astype(int)))
    dropped = pd.DataFrame({"round": [2], "drop_rule": ["resubmission"]})
    sources = pd.DataFrame({"round": [1, 2], "rows": [12, 10]})
    return config, sources, dropped, clean, analysis, {"villages": villages,
                                                        "applicants": applicants}


def count(flow, step, arm, round_=None, column="n_units"):
    chosen = flow[(flow["step"] == step) & (flow["arm"] == arm)]
    if round_ is not None:
        chosen = chosen[chosen["round"] == round_]
    assert len(chosen) == 1, (step, arm, round_)
    value = chosen[column].iloc[0]
    return None if pd.isna(value) else int(value)


def test_staggered_flow_counts_what_happened():
    flow = sample_flow_from_frames(*staggered_world())
    assert list(flow.columns) == ["step", "arm", "round", "n_units", "n_clusters", "note"]
    assert count(flow, "assigned", "starts_2", column="n_clusters") == 1
    assert count(flow, "assigned", "never", column="n_clusters") == 2  # V3 and V4
    assert count(flow, "records_read", "all", 1) == 32
    assert count(flow, "records_dropped", "all", 1) == 2
    assert count(flow, "records_kept", "all", 1) == 30
    assert flow.loc[(flow["step"] == "records_dropped") & (flow["round"] == 1), "note"].item() \
        == "duplicate 1; short_interview 1"
    assert [count(flow, "surveyed", arm, 1) for arm in ("starts_2", "starts_3", "never")] == [
        10, 10, 10]
    assert [count(flow, "surveyed", arm, 2) for arm in ("starts_2", "starts_3", "never")] == [
        8, 11, 9]
    assert [count(flow, "lost", arm, 2) for arm in ("starts_2", "starts_3", "never")] == [
        2, 0, 1]
    assert count(flow, "joined", "starts_3", 2) == 1
    assert ((flow["step"] == "joined") & (flow["arm"] == "never")).sum() == 0
    assert count(flow, "analysed", "starts_3") == 11
    assert flow_problems(flow) == []


def test_lottery_flow_counts_what_happened():
    flow = sample_flow_from_frames(*lottery_world())
    arms = ["won", "lost", "not_applied", "open"]
    assert [count(flow, "assigned", arm) for arm in arms] == [3, 3, 3, 3]
    assert count(flow, "assigned", "won", column="n_clusters") == 2
    assert [count(flow, "surveyed", arm, 1) for arm in arms] == [3, 3, 3, 3]
    assert [count(flow, "lost", arm, 2) for arm in arms] == [1, 1, 0, 1]
    assert [count(flow, "analysed", arm) for arm in arms] == [2, 2, 3, 2]
    assert count(flow, "records_read", "all", 2) == 10
    assert flow_problems(flow) == []


def test_rows_read_must_equal_kept_plus_dropped():
    config, sources, dropped, clean, analysis, design = staggered_world()
    message = "round 2: sources.csv reads 30 rows but the clean data keeps 28 and dropped.csv"
    with pytest.raises(DataError, match=re.escape(message)):
        sample_flow_from_frames(config, sources.assign(rows=[32, 30]), dropped, clean, analysis,
                                design)


def test_flow_problems_finds_counts_that_do_not_add_up():
    flow = sample_flow_from_frames(*staggered_world())
    broken = flow.copy()
    broken.loc[(broken["step"] == "lost") & (broken["arm"] == "never"), "n_units"] = 5
    assert flow_problems(broken) == [
        "arm never, round 2: 9 surveyed but 10 at baseline - 5 lost + 0 joined = 5"]
    broken = flow.copy()
    broken.loc[(broken["step"] == "records_read") & (broken["round"] == 1), "n_units"] = 40
    assert flow_problems(broken) == ["round 1: 40 records read but 30 kept + 2 dropped"]


def test_flow_table_lays_arms_side_by_side_and_suppresses_small_cells():
    flow = sample_flow_from_frames(*staggered_world())
    table = flow_table(flow, "en", min_cell_size=5)
    assert list(table.columns) == ["starts round 2", "starts round 3", "never in window",
                                   "all arms", "note"]
    assert table.loc["round 1 (baseline): surveyed", "starts round 2"] == \
        "10 people, 1 villages"
    assert table.loc["round 2: lost since baseline", "starts round 2"] == "<5"
    assert table.loc["round 2: lost since baseline", "starts round 3"] == "0"
    assert table.loc["round 1 (baseline): records read", "all arms"] == "32"
    assert table.loc["assigned", "never in window"] == "2 villages"
    assert table.index[0] == "assigned" and table.index[-1] == "analysed"
    zh = flow_table(flow, "zh", min_cell_size=5)
    assert zh.loc["第 2 轮：自基线流失", "第 2 轮开始"] == "<5"


def test_flow_table_rejects_a_frame_that_is_not_a_flow():
    with pytest.raises(DataError, match="missing columns \\['n_clusters', 'note'\\]"):
        flow_table(pd.DataFrame({"step": [], "arm": [], "round": [], "n_units": []}))


def test_flow_figure_draws_one_column_per_arm_in_chinese():
    flow = sample_flow_from_frames(*lottery_world())
    figure = flow_figure(flow, "zh")
    axis = figure.axes[0]
    levels = 4  # assigned, round 1, round 2, analysed
    assert len(axis.patches) == 4 * levels + 1  # one box per arm and level, one of records
    texts = [item.get_text() for item in axis.texts]
    assert arm_label("won", "zh") in texts and "未申请" in texts
    box = next(item for item in axis.texts if item.get_text().startswith("第 2 轮"))
    assert "自基线流失：<5" in box.get_text()
    font = font_manager.findfont(box.get_fontproperties(), fallback_to_default=False)
    assert "NotoSansCJK" in font.replace(" ", "")
