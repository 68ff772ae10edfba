"""Tests of the cleaning features of issue 4: typed missing values, outliers, straight-lining,
"other, specify" recodes, corrections, duplicates report and resolutions, personal data,
panel links, written outputs, and the invariants over every step (property-based)."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from doorstep.clean import (
    link_rounds,
    load_spec,
    run,
    summarise,
    validate_spec,
    write_clean_outputs,
)
from doorstep.clean.privacy import write_linking_table
from doorstep.clean.review import PanelRule
from doorstep.clean.values import id_card_problem
from doorstep.errors import ConfigError, DataError

_RUN_TESTS = importlib.util.spec_from_file_location(
    "clean_run_cases", Path(__file__).with_name("test_clean_run.py"))
_cases = importlib.util.module_from_spec(_RUN_TESTS)
_RUN_TESTS.loader.exec_module(_cases)
INSTRUMENT, SPEC = _cases.INSTRUMENT, _cases.SPEC
ROOT = Path(__file__).resolve().parent.parent
changed_cells_without_log, make_frame = _cases.changed_cells_without_log, _cases.make_frame

ITEMS = [f"item_{number}" for number in range(1, 6)]


def _csv(path, rows: list[dict]):
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def test_skip_logic_blank_is_typed_not_applicable():
    # enrolled=0 hides days missed: the given answer 3 is blanked and typed "not applicable";
    # a relevant answer and a relevant don't-know keep theirs; a hidden -99 keeps "don't know"
    frame = make_frame({"school_enrolled": "0", "school_days_missed": "3"},
                       {"school_enrolled": "1", "school_days_missed": "4"},
                       {"school_enrolled": "1", "school_days_missed": "-99"},
                       {"school_enrolled": "0", "school_days_missed": "-99"})
    result = run(frame, {**SPEC, "typed_missing": True}, instrument=INSTRUMENT)
    assert result.data["school_days_missed"].isna().tolist() == [True, False, True, True]
    reasons = result.data["school_days_missed__missing"]
    assert reasons.iloc[0] == "not applicable"
    assert pd.isna(reasons.iloc[1])
    assert reasons.iloc[2:].tolist() == ["don't know", "don't know"]
    skipped = result.log[result.log["rule"] == "skip_logic"]
    assert skipped["unit_id"].tolist() == ["C00001"]
    assert skipped["reason"].str.contains("not relevant").all()
    columns = list(result.data.columns)
    assert columns.index("school_days_missed__missing") == columns.index("school_days_missed") + 1
    again = run(result.data, {**SPEC, "typed_missing": True}, instrument=INSTRUMENT)
    pd.testing.assert_frame_equal(result.data, again.data)
    assert again.log.empty
    without = run(frame, {**SPEC, "typed_missing": False}, instrument=INSTRUMENT)
    assert "school_days_missed__missing" not in without.data.columns


def test_skip_logic_companion_created_when_no_missing_code():
    frame = make_frame({"school_enrolled": "0", "school_days_missed": "3"},
                       {"school_enrolled": "1", "school_days_missed": "4"})
    result = run(frame, {**SPEC, "typed_missing": True}, instrument=INSTRUMENT)
    reasons = result.data["school_days_missed__missing"]
    assert reasons.iloc[0] == "not applicable" and pd.isna(reasons.iloc[1])
    assert str(reasons.dtype) == "str"


def test_typed_missing_keeps_reasons_and_data_sees_nan():
    frame = make_frame({"child_age": "-99"}, {"child_age": "拒答"}, {"child_age": "(跳过)"},
                       {"child_age": "10"})
    result = run(frame, {**SPEC, "typed_missing": True}, instrument=INSTRUMENT)
    assert result.data["child_age"].isna().tolist() == [True, True, True, False]
    assert result.data["child_age__missing"].tolist()[:3] == ["don't know", "refused", "skipped"]
    assert pd.isna(result.data["child_age__missing"].iloc[3])
    columns = list(result.data.columns)
    assert columns.index("child_age__missing") == columns.index("child_age") + 1
    again = run(result.data, {**SPEC, "typed_missing": True}, instrument=INSTRUMENT)
    pd.testing.assert_frame_equal(result.data, again.data)
    assert again.log.empty


def test_outliers_flagged_within_groups_and_winsorised():
    incomes = [2800, 2900, 3000, 3100, 3200, 3000, 7500]
    frame = make_frame(*[{"inc_wages": str(value), "village_code": village} for value, village in
                         [(income, "010305") for income in incomes] + [(2000, "010306")] * 6])
    spec = {**SPEC, "money": {"variables": ["inc_wages"]},
            "outliers": {"inc_wages": {"method": "iqr", "threshold": 3,
                                       "by": ["village_code"], "action": "flag"}}}
    flagged = run(frame, spec, instrument=INSTRUMENT).flags
    assert flagged[flagged["rule"] == "outlier"]["unit_id"].tolist() == ["C00007"]
    spec["outliers"]["inc_wages"]["action"] = "winsorise"
    result = run(frame, spec, instrument=INSTRUMENT)
    assert result.data["inc_wages"].iloc[6] == 3750.0  # Q3 + 3 IQR; 010306 has no spread
    assert result.log[result.log["rule"] == "outlier_winsorised"]["old_value"].tolist() == [
        "7500"]


def test_outlier_spec_is_checked():
    with pytest.raises(ConfigError, match="method"):
        validate_spec({"unit_id": "id", "outliers": {"x": {"method": "zscore"}}})


def test_straight_lining_flagged_with_the_rule():
    rows = [dict.fromkeys(ITEMS, "2"), {**dict.fromkeys(ITEMS, "2"), "item_5": "1"},
            {**dict.fromkeys(ITEMS, "2"), "item_5": None}]
    frame = pd.DataFrame({"id": ["a", "b", "c"], **{item: [row[item] for row in rows]
                                                     for item in ITEMS}})
    spec = {"unit_id": "id", "straight_lining": {"scale": {"items": ITEMS, "min_items": 5}}}
    flags = run(frame, spec).flags
    assert flags["unit_id"].tolist() == ["a"]
    assert "all answered items identical across 5 items" in flags["reason"].iloc[0]
    spec["straight_lining"]["scale"].update(rule="sd_below", threshold=0.5, min_items=4)
    assert run(frame, spec).flags["unit_id"].tolist() == ["a", "b", "c"]


def test_other_specify_recoded_from_table_every_run(tmp_path):
    table = _csv(tmp_path / "other.csv", [{"variable": "job", "text": "卖菜", "new_code": "4"}])
    frame = pd.DataFrame({"id": ["a", "b"], "job": ["96", "1"], "job_other": ["卖菜", None]})
    result = run(frame, {"unit_id": "id", "other_specify": table})
    assert result.data["job"].tolist() == ["4", "1"]
    assert result.log["rule"].tolist() == ["other_specify"]
    assert run(result.data, {"unit_id": "id", "other_specify": table}).log.empty


def test_corrections_applied_logged_and_stale_flagged(tmp_path):
    table = _csv(tmp_path / "corrections.csv", [
        {"unit_id": "C00001", "round": "1", "variable": "child_age", "old_value": "10",
         "new_value": "11", "who": "LW", "why": "paper form"},
        {"unit_id": "C00002", "round": "1", "variable": "child_age", "old_value": "9",
         "new_value": "12", "who": "LW", "why": "paper form"},
        {"unit_id": "C09999", "round": "1", "variable": "child_age", "old_value": "9",
         "new_value": "12", "who": "LW", "why": "paper form"},
    ])
    spec = {**SPEC, "corrections": table}
    result = run(make_frame({}, {}), spec, instrument=INSTRUMENT)
    assert result.data["child_age"].tolist() == [11.0, 10.0]
    corrected = result.log[result.log["rule"] == "correction"]
    assert corrected[["unit_id", "old_value", "new_value"]].values.tolist() == [
        ["C00001", "10", "11"]]
    assert "LW: paper form" in corrected["reason"].iloc[0]
    assert sorted(result.flags["rule"]) == ["correction_not_found", "correction_stale"]
    again = run(result.data, spec, instrument=INSTRUMENT)
    assert again.log.empty


def test_corrections_file_must_have_the_columns(tmp_path):
    table = _csv(tmp_path / "corrections.csv", [{"unit_id": "C00001"}])
    with pytest.raises(ConfigError, match="old_value"):
        run(make_frame({}), {**SPEC, "corrections": table}, instrument=INSTRUMENT)


def _twins() -> pd.DataFrame:
    return make_frame({"child_age": "10"}, {"child_age": "12", "child_id": "C00001",
                                            "_submitted_at": "2024-03-06 12:00:00"}, {})


def test_duplicates_report_names_differing_variables():
    result = run(_twins(), SPEC, instrument=INSTRUMENT)
    report = result.duplicates
    assert report["record_id"].tolist() == ["r1", "r2"]
    assert set(report["differs_in"]) == {"child_age"}
    assert result.dropped["drop_rule"].tolist() == ["resubmission"]


def test_unresolved_duplicates_stop_the_run_naming_ids_and_report(tmp_path):
    spec = {**SPEC, "duplicates": {"unresolved": "error", "report": str(tmp_path / "dup.csv")}}
    with pytest.raises(DataError, match=r"C00001.*dup[.]csv"):
        run(_twins(), spec, instrument=INSTRUMENT)
    assert pd.read_csv(tmp_path / "dup.csv")["record_id"].tolist() == ["r1", "r2"]


def test_duplicate_resolutions_reapplied(tmp_path):
    table = _csv(tmp_path / "resolved.csv", [
        {"unit_id": "C00001", "round": "1", "record_id": "r1", "action": "keep", "new_id": "",
         "initials": "LW", "notes": "first visit"},
        {"unit_id": "C00001", "round": "1", "record_id": "r2", "action": "new_id",
         "new_id": "C00009", "initials": "LW", "notes": "a sibling"},
    ])
    spec = {**SPEC, "duplicates": {"unresolved": "error", "resolutions": table}}
    result = run(_twins(), spec, instrument=INSTRUMENT)
    assert sorted(result.data["child_id"]) == ["C00001", "C00003", "C00009"]
    assert result.log[result.log["rule"] == "duplicate_new_id"]["new_value"].tolist() == [
        "C00009"]
    table_drop = _csv(tmp_path / "drop.csv", [
        {"unit_id": "C00001", "round": "1", "record_id": "r2", "action": "drop", "new_id": "",
         "initials": "LW", "notes": "test interview"}])
    spec["duplicates"]["resolutions"] = table_drop
    dropped = run(_twins(), spec, instrument=INSTRUMENT).dropped
    assert dropped["drop_rule"].tolist() == ["duplicate_resolved"]
    assert "LW" in dropped["drop_reason"].iloc[0]


def test_pseudonyms_keyed_stable_and_key_never_shown(tmp_path, monkeypatch):
    secret = "s3cret-" * 6
    monkeypatch.setenv("DOORSTEP_PII_KEY", secret)
    spec = {**SPEC, "pii": {"pseudonymise": ["child_name"], "gps": {"gps": 2}}}
    frame = make_frame({"child_name": "王小明"}, {"child_name": "王小明"}).assign(
        gps=["30.044986 122.113341 4.0 17.4", None])
    result = run(frame, spec, instrument=INSTRUMENT)
    names = result.data["child_name"].tolist()
    assert names[0] == names[1] and names[0].startswith("pid_")
    assert result.data["gps"].tolist()[0] == "30.04 122.11"
    assert result.linking["original"].tolist() == ["王小明"]
    for table in (result.log, result.flags, result.codebook):
        assert "王小明" not in table.to_csv() and secret not in table.to_csv()
    assert set(result.log.loc[result.log["variable"] == "child_name", "old_value"]) == {
        "<personal>"}
    again = run(result.data, spec, instrument=INSTRUMENT)
    pd.testing.assert_frame_equal(result.data, again.data)
    assert again.log.empty
    monkeypatch.setenv("DOORSTEP_PII_KEY", "other-key-" * 4)
    assert run(frame, spec, instrument=INSTRUMENT).data["child_name"].iloc[0] != names[0]


@pytest.mark.parametrize("programme", ["caring_mothers", "skills_workshops"])
def test_demo_specs_pseudonymise_linking_columns_and_drop_id_cards(programme):
    spec = load_spec(ROOT / "surveys" / programme / "cleaning.yaml")
    names = [name for name in spec.personal if name.endswith("_name")]
    assert names and set(spec.pii.pseudonymise) == {*names, "phone"}
    assert set(spec.pii.drop) == {"id_card", "address"} and dict(spec.pii.gps) == {"gps": 2}
    assert spec.pii.key_file.resolve() == (ROOT / "data" / ".doorstep_demo_key").resolve()
    assert spec.pii.demo_key and spec.pii.key_env == "DOORSTEP_PII_KEY"
    handled = {*spec.pii.pseudonymise, *spec.pii.drop, *spec.pii.gps}
    assert set(spec.personal) <= handled, "a personal column would be dropped unannounced"


def test_demo_spec_pseudonyms_stable_across_runs_and_keyed(tmp_path, monkeypatch):
    monkeypatch.delenv("DOORSTEP_PII_KEY", raising=False)
    demo = load_spec(ROOT / "surveys" / "caring_mothers" / "cleaning.yaml")
    spec = replace(demo, pii=replace(demo.pii, key_file=tmp_path / "key"))
    frame = make_frame(
        {"child_name": "王小明", "caregiver_name": "李红", "phone": "13912345678",
         "id_card": "11010519491231002X", "address": "金丝雀县测试街道99号"},
        {"child_name": "王小明", "caregiver_name": "张丽", "phone": "13812345678"},
    ).assign(gps=["30.044986 122.113341 4.0 17.4", None])
    first = run(frame, spec, instrument=INSTRUMENT)
    key = (tmp_path / "key").read_text()
    second = run(frame, spec, instrument=INSTRUMENT)
    data = first.data
    pd.testing.assert_frame_equal(data, second.data)  # same key file: same pseudonyms
    assert data["child_name"].iloc[0] == data["child_name"].iloc[1]  # links the same child
    assert data["caregiver_name"].iloc[0] != data["caregiver_name"].iloc[1]
    for column in ("child_name", "caregiver_name", "phone"):
        assert data[column].str.fullmatch(r"pid_[0-9a-f]{16}").all()
    assert "id_card" not in data.columns and "address" not in data.columns
    assert data["gps"].iloc[0] == "30.04 122.11"
    written = write_clean_outputs(first, tmp_path / "out")
    text = "".join(path.read_bytes().decode("utf-8", "replace")
                   for path in (tmp_path / "out").rglob("*") if path.is_file())
    for secret in (key.strip(), "王小明", "李红", "13912345678", "11010519491231002X",
                   "金丝雀县", "30.044986"):
        assert secret not in text, secret
    assert written
    monkeypatch.setenv("DOORSTEP_PII_KEY", "another-key-" * 4)  # the variable wins
    keyed = run(frame, spec, instrument=INSTRUMENT).data
    assert keyed["child_name"].iloc[0] != data["child_name"].iloc[0]


def test_missing_key_is_a_clear_config_error(monkeypatch):
    monkeypatch.delenv("DOORSTEP_PII_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"DOORSTEP_PII_KEY.*key_file"):
        run(make_frame({}), {**SPEC, "pii": {"pseudonymise": ["child_name"]}},
            instrument=INSTRUMENT)


def test_demo_key_generated_once_outside_outputs(tmp_path, monkeypatch):
    monkeypatch.delenv("DOORSTEP_PII_KEY", raising=False)
    key_file = tmp_path / "data" / ".doorstep_demo_key"
    spec = {**SPEC, "pii": {"pseudonymise": ["child_name"], "key_file": str(key_file),
                            "demo_key": True}}
    first = run(make_frame({}), spec, instrument=INSTRUMENT)
    key = key_file.read_text()
    second = run(make_frame({}), spec, instrument=INSTRUMENT)
    assert key_file.read_text() == key
    pd.testing.assert_frame_equal(first.data, second.data)
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert sorted(path.name for path in key_file.parent.iterdir()) == [key_file.name]


def test_demo_key_of_a_run_started_alongside_is_kept(tmp_path):
    """Two runs creating the demo key at once end with one key: the second never replaces it."""
    from doorstep.clean.privacy import _create_demo_key

    key_file = tmp_path / ".doorstep_demo_key"
    _create_demo_key(key_file)
    key = key_file.read_text()
    _create_demo_key(key_file)  # the other run, a moment later
    assert key_file.read_text() == key and len(key.strip()) == 64
    assert sorted(path.name for path in tmp_path.iterdir()) == [key_file.name]


def test_linking_table_refused_inside_a_run_directory(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "manifest.json").write_text("{}")
    links = pd.DataFrame({"variable": ["n"], "pseudonym": ["pid_0"], "original": ["x"]})
    with pytest.raises(ConfigError, match="outside run directories"):
        write_linking_table(links, run_dir / "links.csv")
    written = write_linking_table(links, tmp_path / "secure" / "links.csv")
    assert written.stat().st_mode & 0o777 == 0o600
    more = pd.DataFrame({"variable": ["n", "n"], "pseudonym": ["pid_0", "pid_1"],
                         "original": ["x", "y"]})
    write_linking_table(more, written)  # a later run adds its links; nothing is lost
    assert pd.read_csv(written, dtype=str)["pseudonym"].tolist() == ["pid_0", "pid_1"]


def _panel() -> pd.DataFrame:
    rows = [("C00001", 1, "王芳", "10", "010305"), ("C00002", 1, "李娜", "9", "010305"),
            ("C00001", 2, "王芳", "10", "010305"), ("C00092", 2, "李娜", "10", "010305"),
            ("C00777", 2, "赵雷", "8", "010306")]
    return pd.DataFrame(rows, columns=["child_id", "round", "child_name", "child_age",
                                       "village_code"])


def test_link_rounds_reports_candidates_never_applies():
    rule = PanelRule("child_id", "round", "child_name", "child_age", "village_code")
    links = link_rounds(_panel(), rule)
    best = links.drop_duplicates("row")
    assert best[["recorded_id", "candidate_id", "score"]].values.tolist()[0] == [
        "C00092", "C00002", 1.0]
    assert best["status"].tolist() == ["candidate", "no_candidate"]


@pytest.mark.parametrize("age", ["abc", "inf", "-99 years", None])
def test_link_rounds_an_unreadable_age_is_never_consistent(age):
    frame = _panel()
    frame.loc[3, "child_age"] = age  # the mistyped C00092's age cannot be read
    rule = PanelRule("child_id", "round", "child_name", "child_age", "village_code")
    best = link_rounds(frame, rule).drop_duplicates("row").iloc[0]
    assert (best["candidate_id"], best["age_consistent"], best["score"]) == ("C00002", False,
                                                                             0.85)


def test_panel_links_flagged_and_applied_from_reviewed_table(tmp_path):
    frame = _panel().assign(_record_id=[f"r{i}" for i in range(5)])
    spec = {"unit_id": "child_id", "panel": {"fallback": {"name": "child_name",
                                                          "age": "child_age",
                                                          "village": "village_code"}}}
    result = run(frame, spec)
    assert result.flags.set_index("rule")["unit_id"].to_dict() == {
        "panel_unmatched": "C00092", "panel_new_unit": "C00777"}
    assert result.data["child_id"].tolist() == frame["child_id"].tolist()
    links = _csv(tmp_path / "links.csv", [{"round": "2", "recorded_id": "C00092",
                                           "unit_id": "C00002", "who": "LW", "why": "same"}])
    spec["panel"]["links"] = links
    linked = run(frame, spec)
    assert linked.data["child_id"].tolist()[3] == "C00002"
    assert linked.log["rule"].tolist() == ["panel_link"]


def test_id_card_stored_as_float_is_detected():
    assert "15 significant digits" in id_card_problem("330921195811116032")
    assert id_card_problem("11010519491231002X") is None


def test_write_clean_outputs_and_summary(tmp_path):
    frame = make_frame({"child_age": "-99"}, {"inc_wages": "三千"}, {}).assign(
        enumerator=["E1", "E1", "E2"],
        a_very_long_variable_name_that_stata_cannot_hold=["1", "2", "3"])
    result = run(frame, SPEC, instrument=INSTRUMENT)
    written = write_clean_outputs(result, tmp_path / "out", instrument=INSTRUMENT,
                                  language="en")
    for name in ("clean.parquet", "clean.dta", "cleaning_log.csv", "dropped.csv",
                 "flags.csv", "codebook.csv", "stata_names.csv"):
        assert written[name].is_file()
    assert not list((tmp_path / "out").glob(".*.tmp"))
    stata, meta = pyreadstat.read_dta(str(written["clean.dta"]))
    assert all(len(name) <= 32 for name in stata.columns)
    assert meta.column_names_to_labels["child_age"] == "Age"
    assert meta.variable_value_labels["child_sex"] == {1: "label 1", 2: "label 2"}
    pd.testing.assert_frame_equal(pd.read_parquet(written["clean.parquet"]), result.data)
    summary = summarise(result)
    assert set(summary["by_rule"]["rule"]) >= {"missing_code", "money_parse"}
    assert summary["by_enumerator"].set_index("enumerator")["changes"].to_dict()["E1"] >= 2


# ----------------------------------------------------------------------------------------------
# Invariants over every step, the new ones included
# ----------------------------------------------------------------------------------------------

FULL_SPEC = {
    **SPEC, "typed_missing": True,
    "outliers": {"household_size": {"method": "mad", "threshold": 2, "action": "winsorise",
                                     "min_group": 3},
                 "child_age": {"method": "iqr", "threshold": 1, "by": ["village_code"]}},
    "straight_lining": {"items": {"items": ["household_size", "household_cap", "child_sex"],
                                  "min_items": 3}},
    "panel": {"fallback": {"name": "child_name", "age": "child_age",
                           "village": "village_code"}},
    "pii": {"pseudonymise": ["child_name"], "gps": {"gps": 2}},
}

VALUES = {
    "child_age": ["10", "１２", "-99", "(跳过)", "ten", "40", None],
    "inc_wages": ["3000", "三千", "0.3万元", "36000", "-88", None],
    "interview_date": ["2024-03-05", "2024/3/5", "45356", "bad", None],
    "village_code": ["010305", "10305", None],
    "school_enrolled": ["1", "0", None],
    "school_days_missed": ["0", "3", "-66", None],
    "household_size": ["4", "4", "40", "1", None],
    "household_cap": ["4", "10", None],
    "child_sex": ["1", "2", "4"],
    "id_card": ["11010519491231002X", "3.30902E+17", "330921195811116032", None],
    "child_name": ["王小明", "李华", None],
    "gps": ["30.044986 122.113341 4.0 17.4", "30.04 122.11", "bad", None],
}


@st.composite
def full_frames(draw):
    n_rows = draw(st.integers(1, 8))
    changes = []
    for _ in range(n_rows):
        change = {column: draw(st.sampled_from(options)) for column, options in VALUES.items()}
        change["_duration_seconds"] = draw(st.sampled_from([2400.0, 600.0]))
        change["round"] = draw(st.sampled_from([1, 2]))
        changes.append(change)
    frame = make_frame(*changes)
    units = draw(st.lists(st.sampled_from(["C00001", "C00002", "C00012"]), min_size=n_rows,
                          max_size=n_rows))
    return frame.assign(child_id=pd.Series(units, dtype="str"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=full_frames())
def test_property_every_step_logged_balanced_idempotent_deterministic(frame, monkeypatch_key):
    before = frame.copy(deep=True)
    result = run(frame, FULL_SPEC, instrument=INSTRUMENT)
    pd.testing.assert_frame_equal(frame, before)
    assert len(frame) == len(result.data) + len(result.dropped)
    assert changed_cells_without_log(frame, result) == []
    again = run(result.data, FULL_SPEC, instrument=INSTRUMENT)
    pd.testing.assert_frame_equal(result.data, again.data)
    assert again.log.empty and again.dropped.empty
    same = run(frame, FULL_SPEC, instrument=INSTRUMENT)
    for name in ("data", "log", "dropped", "flags", "codebook", "duplicates", "panel_links"):
        pd.testing.assert_frame_equal(getattr(result, name), getattr(same, name))


@pytest.fixture(scope="module")
def monkeypatch_key():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOORSTEP_PII_KEY", "property-test-key-" * 3)
        yield



