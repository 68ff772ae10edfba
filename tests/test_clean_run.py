"""Tests of the cleaning engine: each step on hand-written cases, the spec, and the invariants
(no mutation, row accounting, idempotence, every change logged, determinism)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from doorstep.clean import PERSONAL_MASK, load_spec, run, validate_spec
from doorstep.clean.values import parse_date, parse_number
from doorstep.errors import ConfigError, DataError
from doorstep.instrument import Choice, Instrument, Question

ROOT = Path(__file__).resolve().parent.parent


def _choices(list_name: str, *codes: str) -> tuple[Choice, ...]:
    return tuple(Choice(list_name, code, {"en": f"label {code}"}) for code in codes)


INSTRUMENT = Instrument(
    path="test_form.xlsx", title="test", version="1",
    questions=(
        Question("interview_date", "date", {"en": "Interview date"}),
        Question("village_code", "text", {"en": "Village"}, constraint="regex(., '^[0-9]{6}$')"),
        Question("child_id", "text", {"en": "Child id"}, constraint="regex(., '^C[0-9]{5}$')"),
        Question("child_name", "text", {"en": "Name", "zh": "姓名"}, personal=True),
        Question("child_age", "integer", {"en": "Age"}, constraint=". >= 6 and . <= 18"),
        Question("child_sex", "select_one", {"en": "Sex"}, list_name="sex"),
        Question("child_category", "select_multiple", {"en": "Category"},
                 list_name="category"),
        Question("school_enrolled", "select_one", {"en": "Enrolled"}, list_name="yesno"),
        Question("school_days_missed", "integer", {"en": "Days missed"},
                 relevant="${school_enrolled} = 1", constraint=". >= 0 and . <= 31"),
        Question("household_size", "integer", {"en": "Household size"},
                 constraint=". <= ${household_cap}"),
        Question("household_cap", "integer", {"en": "Cap"}),
        Question("inc_wages", "integer", {"en": "Wages"}, constraint=". >= 0"),
        Question("id_card", "text", {"en": "ID card"}, personal=True),
        Question("note_field", "text", {"en": "Note"}),
    ),
    choices={
        "sex": _choices("sex", "1", "2"),
        "category": _choices("category", "orphan", "left_behind", "disabled"),
        "yesno": _choices("yesno", "1", "0"),
    },
)

SPEC = {
    "unit_id": "child_id",
    "money": {"unit": "yuan", "period": "monthly", "annual_above": 20000,
              "variables": ["inc_wages"]},
    "identifiers": {"village_code": {"width": 6}},
    "id_cards": ["id_card"],
    "min_duration_minutes": 15,
}

BASE_ROW = {
    "interview_date": "2024-03-05", "village_code": "010305", "child_id": "C00001",
    "child_name": "王小明", "child_age": "10", "child_sex": "1", "child_category": "orphan",
    "school_enrolled": "1", "school_days_missed": "2", "household_size": "4",
    "household_cap": "10", "inc_wages": "3000", "id_card": "11010519491231002X",
    "note_field": "ok", "_submitted_at": "2024-03-05 12:00:00", "_duration_seconds": 2400.0,
    "_source_file": "round1.csv", "round": 1,
}


def make_frame(*changes: dict) -> pd.DataFrame:
    """One row per dict of changes to BASE_ROW, with distinct unit and record ids."""
    rows = []
    for number, change in enumerate(changes, start=1):
        row = {**BASE_ROW, "child_id": f"C{number:05d}", "_record_id": f"r{number}",
               "_source_row": number}
        row.update(change)
        rows.append(row)
    frame = pd.DataFrame(rows)
    text_columns = [c for c in frame.columns
                    if c not in ("_duration_seconds", "_source_row", "round")]
    return frame.astype({column: "str" for column in text_columns})


def clean(*changes: dict, spec=None, instrument=INSTRUMENT):
    return run(make_frame(*changes), spec or SPEC, instrument=instrument)


def only_value(result, column: str):
    return result.data[column].iloc[0]


# ----------------------------------------------------------------------------------------------
# Steps on hand-written cases
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ("三千", 3000.0), ("两千五", 2500.0), ("0.3万", 3000.0), ("1.2万", 12000.0),
    ("一万二", 12000.0), ("３０００", 3000.0), ("3000元", 3000.0), ("0.3万元", 3000.0),
    ("3千", 3000.0), ("3000.0", 3000.0),
])
def test_money(raw, expected):
    result = clean({"inc_wages": raw})
    assert only_value(result, "inc_wages") == expected
    logged = result.log[result.log["variable"] == "inc_wages"]
    assert logged.empty == (raw in ("3000.0",))


def test_annual_amounts_are_divided_by_12_and_logged():
    result = clean({"inc_wages": "36000"}, {"inc_wages": "3.6万"}, {"inc_wages": "900000"})
    assert result.data["inc_wages"].tolist() == [3000.0, 3000.0, 900000.0]
    annual = result.log[result.log["rule"] == "money_annual"]
    assert annual["unit_id"].tolist() == ["C00001", "C00002"]
    assert "divided by 12" in annual["reason"].iloc[0]
    assert result.flags["rule"].tolist() == ["money_implausible"]


def test_unreadable_money_is_missing_logged_and_flagged():
    result = clean({"inc_wages": "很多"})
    assert np.isnan(only_value(result, "inc_wages"))
    assert result.log["rule"].tolist() == ["money_unparseable"]
    assert result.log["old_value"].tolist() == ["很多"]
    assert "money_unparseable" in result.flags["rule"].tolist()


@pytest.mark.parametrize(("raw", "meaning"), [
    ("-99", "don't know"), ("-88", "refused"), ("-66", "not applicable"), ("-99.0", "don't know"),
    ("不知道", "don't know"), ("拒答", "refused"), ("不适用", "not applicable"),
    ("－９９", "don't know"),
])
def test_missing_codes(raw, meaning):
    result = clean({"child_age": raw})
    assert np.isnan(only_value(result, "child_age"))
    entry = result.log[result.log["rule"] == "missing_code"]
    assert len(entry) == 1 and entry["reason"].iloc[0].endswith(meaning)
    assert entry["variable"].iloc[0] == "child_age" and entry["new_value"].isna().all()


def test_missing_code_overrides_replace_the_defaults():
    spec = {**SPEC, "missing_code_overrides": {"household_cap": {}}}
    result = clean({"household_cap": "-99", "child_age": "-99"}, spec=spec)
    assert only_value(result, "household_cap") == -99.0  # kept: no codes for this column
    assert np.isnan(only_value(result, "child_age"))


@pytest.mark.parametrize(("raw", "logged"), [
    ("2024-03-05", False), ("2024-03-05 00:00:00", False), ("2024/3/5", True),
    ("2024年3月5日", True), ("45356", True),
])
def test_dates(raw, logged):
    result = clean({"interview_date": raw})
    assert only_value(result, "interview_date") == pd.Timestamp("2024-03-05")
    assert pd.api.types.is_datetime64_any_dtype(result.data["interview_date"])
    assert (result.log["variable"] == "interview_date").any() == logged


def test_unreadable_date_is_missing_logged_and_flagged():
    result = clean({"interview_date": "last tuesday"})
    assert pd.isna(only_value(result, "interview_date"))
    assert result.log["rule"].tolist() == ["type_date"]
    assert result.flags["rule"].tolist() == ["type_date"]


def test_leading_zeros_restored_and_logged():
    result = clean({"village_code": "10305"})
    assert only_value(result, "village_code") == "010305"
    assert result.log[["old_value", "new_value", "rule"]].values.tolist() == [
        ["10305", "010305", "leading_zeros"]]


@pytest.mark.parametrize(("raw", "fragment"), [
    ("3.30902E+17", "scientific notation"), ("3.309021990010112e+17", "scientific notation"),
    ("110105194912310021", "checksum"), ("1101051949123100", "16 characters"),
])
def test_damaged_id_cards_are_missing_and_masked(raw, fragment):
    result = clean({"id_card": raw})
    entry = result.log[result.log["variable"] == "id_card"]
    assert entry["rule"].tolist() == ["id_card_invalid"]
    assert fragment in entry["reason"].iloc[0]
    assert entry["old_value"].tolist() == [PERSONAL_MASK]
    flag = result.flags[result.flags["variable"] == "id_card"]
    assert flag["value"].tolist() == [PERSONAL_MASK]
    assert "id_card" not in result.data.columns


def test_valid_id_card_passes_silently():
    result = clean({"id_card": "11010519491231002X"})
    assert (result.log["variable"] == "id_card").sum() == 0
    assert result.flags.empty


def test_types_from_the_instrument():
    result = clean({"child_age": "１２", "child_sex": "2", "household_size": "五"})
    data = result.data
    assert data["child_age"].dtype == "float64" and data["child_age"].iloc[0] == 12.0
    assert data["child_sex"].dtype == "float64" and data["child_sex"].iloc[0] == 2.0
    assert data["household_size"].iloc[0] == 5.0
    assert result.log.set_index("variable").loc["household_size", "rule"] == "type_number"


def test_unreadable_number_is_missing_logged_and_flagged():
    result = clean({"child_age": "ten"})
    assert np.isnan(only_value(result, "child_age"))
    assert result.log["rule"].tolist() == ["type_number"]
    assert result.flags["rule"].tolist() == ["type_number"]


def test_code_outside_the_choice_list_is_flagged_and_kept():
    result = clean({"child_sex": "3", "child_category": "orphan alien"})
    assert only_value(result, "child_sex") == 3.0
    assert sorted(result.flags["rule"]) == ["code_not_in_list", "code_not_in_list"]


def test_select_multiple_gets_option_columns():
    result = clean({"child_category": "orphan disabled"}, {"child_category": "-99"})
    data = result.data
    assert data["child_category"].iloc[0] == "orphan disabled"
    assert data["child_category__orphan"].tolist()[0] == 1.0
    assert data["child_category__left_behind"].tolist()[0] == 0.0
    assert data["child_category__disabled"].tolist()[0] == 1.0
    assert data[["child_category__orphan"]].iloc[1].isna().all()
    columns = list(data.columns)
    assert columns.index("child_category__orphan") == columns.index("child_category") + 1


def test_hard_constraints_blank_and_log():
    result = clean({"child_age": "40"}, {"village_code": "01030X"})
    assert np.isnan(result.data["child_age"].iloc[0])
    assert result.data["village_code"].isna().tolist() == [False, True]
    rules = result.log.groupby("variable")["rule"].first().to_dict()
    assert rules == {"child_age": "constraint", "village_code": "constraint"}


def test_constraints_on_other_columns_and_unit_ids_are_only_flagged():
    result = clean({"household_size": "12", "child_id": "X7"})
    assert only_value(result, "household_size") == 12.0
    assert only_value(result, "child_id") == "X7"
    flagged = result.flags[result.flags["rule"] == "constraint_other"]
    assert sorted(flagged["variable"]) == ["child_id", "household_size"]
    reasons = flagged.set_index("variable")["reason"]
    assert "which involves " in reasons["household_size"]
    assert "which involves ;" not in reasons["household_size"]
    assert "identifier, never blanked" in reasons["child_id"]


def test_unsupported_constraints_are_reported_not_applied():
    questions = tuple(
        replace(question, constraint="today() > 1") if question.name == "note_field"
        else question for question in INSTRUMENT.questions
    )
    result = clean({}, instrument=replace(INSTRUMENT, questions=questions))
    not_checked = result.flags[result.flags["rule"] == "rule_not_checked"]
    assert not_checked["variable"].tolist() == ["note_field"]
    assert "today" in not_checked["reason"].iloc[0]


def test_skip_logic():
    result = clean({"school_enrolled": "0", "school_days_missed": "3"},
                   {"school_enrolled": "1", "school_days_missed": "3"},
                   {"school_enrolled": "-99", "school_days_missed": "-66"})
    assert result.data["school_days_missed"].tolist()[:2] == [pytest.approx(np.nan, nan_ok=True),
                                                              3.0]
    skipped = result.log[result.log["rule"] == "skip_logic"]
    assert skipped["unit_id"].tolist() == ["C00001"]
    assert skipped["old_value"].tolist() == ["3"]


def test_exact_duplicates_dropped_keeping_the_first():
    frame = make_frame({}, {})
    frame.loc[1, "child_id"] = "C00001"  # same interview exported twice: only ids differ
    result = run(frame, SPEC, instrument=INSTRUMENT)
    assert len(result.data) == 1 and result.data["child_id"].tolist() == ["C00001"]
    assert result.dropped["drop_rule"].tolist() == ["duplicate"]
    assert "record r1" in result.dropped["drop_reason"].iloc[0]
    assert result.dropped["_record_id"].tolist() == ["r2"]


def test_resubmissions_keep_the_latest():
    frame = make_frame({"_submitted_at": "2024-03-06 09:00:00", "child_age": "11"},
                       {"_submitted_at": "2024-03-07 09:00:00", "child_age": "12"},
                       {"_submitted_at": "2024-03-05 09:00:00", "child_age": "10"})
    frame["child_id"] = "C00001"
    result = run(frame, SPEC, instrument=INSTRUMENT)
    assert result.data["_record_id"].tolist() == ["r2"]
    assert sorted(result.dropped["_record_id"]) == ["r1", "r3"]
    assert set(result.dropped["drop_rule"]) == {"resubmission"}
    assert all("record r2" in reason for reason in result.dropped["drop_reason"])


def test_resubmission_sees_through_full_width_and_lost_zeros():
    frame = make_frame({"_submitted_at": "2024-03-06 09:00:00"},
                       {"_submitted_at": "2024-03-07 09:00:00"})
    frame["child_id"] = ["C00001", "Ｃ00001"]
    result = run(frame, SPEC, instrument=INSTRUMENT)
    assert result.data["_record_id"].tolist() == ["r2"]


def test_same_unit_in_two_rounds_is_not_a_resubmission():
    frame = make_frame({}, {"round": 2})
    frame["child_id"] = "C00001"
    assert len(run(frame, SPEC, instrument=INSTRUMENT).data) == 2


def test_short_interviews_dropped_with_a_reason():
    result = clean({"_duration_seconds": 420.0}, {"_duration_seconds": 2400.0},
                   {"_duration_seconds": np.nan})
    assert result.data["child_id"].tolist() == ["C00002", "C00003"]
    assert result.dropped["drop_reason"].tolist() == [
        "interview took 7.0 minutes, less than the minimum of 15 minutes"]


def test_personal_columns_never_leave():
    frame = make_frame({"child_name": "　王小明", "_duration_seconds": 60.0}, {})
    spec = {**SPEC, "personal": ["village_code"]}
    result = run(frame, spec, instrument=INSTRUMENT)
    assert not {"child_name", "id_card", "village_code"} & set(result.data.columns)
    assert result.dropped["child_name"].tolist() == [PERSONAL_MASK]
    assert result.dropped["id_card"].tolist() == [PERSONAL_MASK]
    outputs = [result.log, result.flags, result.dropped]
    text = " ".join(table.astype(str).to_csv() for table in outputs)
    for secret in ("王小明", "11010519491231002X"):
        assert secret not in text
    codebook = result.codebook.set_index("name")
    assert codebook.loc["child_name", "personal"] and not codebook.loc["child_name", "in_data"]


def test_codebook():
    result = clean({"child_age": "-99"}, {})
    codebook = result.codebook.set_index("name")
    assert codebook.loc["child_age", "n_missing"] == 1
    assert codebook.loc["child_age", "n_nonmissing"] == 1
    assert codebook.loc["child_sex", "allowed_values"] == "1=label 1; 2=label 2"
    assert codebook.loc["school_days_missed", "relevant"] == "${school_enrolled} = 1"
    assert codebook.loc["child_name", "label_zh"] == "姓名"
    assert codebook.loc["child_category__orphan", "type"] == "derived"
    assert codebook.loc["_record_id", "type"] == "reader"


# ----------------------------------------------------------------------------------------------
# Spec
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("programme", ["caring_mothers", "skills_workshops"])
def test_programme_specs_load(programme):
    spec = load_spec(ROOT / "surveys" / programme / "cleaning.yaml")
    assert spec.unit_id in ("child_id", "woman_id")
    assert spec.identifier_widths["village_code"] == 6
    assert spec.min_duration_minutes == 15
    assert "inc_wages" in spec.money.variables


@pytest.mark.parametrize(("raw", "fragment"), [
    ({"unit_id": "a", "colour": 1}, "allowed keys are ['unit_id'"),
    ({"unit_id": "a", "money": {"currency": "usd"}}, "allowed keys are ['unit', 'period'"),
    ({"unit_id": "a", "money": {"unit": "dollar"}}, "expected one of ['yuan']"),
    ({"unit_id": "a", "min_duration_minutes": "15"}, "expected a number"),
    ({"unit_id": "a", "identifiers": {"v": {"width": "6"}}}, "expected a whole number"),
    ({"unit_id": "a", "skip_logic": "yes"}, "expected true or false"),
    ({"unit_id": "a", "personal": 3}, "expected a list of column names"),
    ({"unit_id": "a", "missing_codes": {"-99": ""}}, "expected a meaning"),
    ({"round_column": "round"}, "expected a key 'unit_id'"),
    (["unit_id"], "expected a mapping"),
])
def test_bad_specs(raw, fragment):
    with pytest.raises(ConfigError) as caught:
        validate_spec(raw, source="cleaning.yaml")
    assert fragment in str(caught.value)
    assert "cleaning.yaml" in str(caught.value)


def test_missing_unit_column_is_a_data_error():
    with pytest.raises(DataError, match="child_id"):
        run(pd.DataFrame({"x": ["1"]}), SPEC)


# ----------------------------------------------------------------------------------------------
# Invariants
# ----------------------------------------------------------------------------------------------

MESSY = (
    {"inc_wages": "三千", "interview_date": "2024/3/5", "village_code": "10305"},
    {"inc_wages": "-99", "child_age": "１２", "id_card": "3.30902E+17"},
    {"_duration_seconds": 300.0},
    {"school_enrolled": "0", "school_days_missed": "4", "child_category": "left_behind orphan"},
    {"inc_wages": "48000", "child_age": "不知道", "interview_date": "45356"},
    {"child_age": "99", "household_size": "-88", "child_sex": " 2 "},
)


def messy_frame() -> pd.DataFrame:
    frame = make_frame(*MESSY)
    duplicate = frame.iloc[[0]].assign(_record_id="r99", _source_row=99)
    resubmitted = frame.iloc[[3]].assign(_record_id="r98", _source_row=98, child_age="13",
                                         _submitted_at="2024-03-09 10:00:00")
    return pd.concat([frame, duplicate, resubmitted], ignore_index=True)


def test_input_is_never_mutated():
    frame = messy_frame()
    before = frame.copy(deep=True)
    run(frame, SPEC, instrument=INSTRUMENT)
    pd.testing.assert_frame_equal(frame, before)


def test_rows_in_equal_rows_out_plus_dropped():
    frame = messy_frame()
    result = run(frame, SPEC, instrument=INSTRUMENT)
    assert len(frame) == len(result.data) + len(result.dropped)
    assert sorted(result.dropped["drop_rule"]) == ["duplicate", "resubmission", "short_interview"]
    assert result.dropped["drop_reason"].notna().all()


def test_idempotent():
    first = run(messy_frame(), SPEC, instrument=INSTRUMENT)
    second = run(first.data, SPEC, instrument=INSTRUMENT)
    pd.testing.assert_frame_equal(first.data, second.data)
    assert second.log.empty
    assert second.dropped.empty


def test_deterministic():
    first = run(messy_frame(), SPEC, instrument=INSTRUMENT)
    second = run(messy_frame(), SPEC, instrument=INSTRUMENT)
    for name in ("data", "log", "dropped", "flags", "codebook"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))


def test_log_has_the_contract_columns():
    result = run(messy_frame(), SPEC, instrument=INSTRUMENT)
    assert list(result.log.columns[:7]) == [
        "unit_id", "round", "variable", "old_value", "new_value", "rule", "reason"]
    assert list(result.flags.columns[:6]) == [
        "unit_id", "round", "variable", "value", "rule", "reason"]
    assert result.log["rule"].notna().all() and result.log["reason"].notna().all()


def same_meaning(old: object, new: object) -> bool:
    """The test's own notion of an unchanged cell: equal text, number or ISO date."""
    old_missing = old is None or (not isinstance(old, str) and pd.isna(old))
    new_missing = new is None or (not isinstance(new, str) and pd.isna(new))
    if old_missing or new_missing:
        return old_missing and new_missing
    if isinstance(new, pd.Timestamp):
        return isinstance(old, str) and old[:4].isdigit() and old[4:5] == "-" and (
            parse_date(old) == new.to_pydatetime())
    if isinstance(new, float):
        if not isinstance(old, str):
            return float(old) == new
        number = parse_number(old) if old.strip() == old else None
        return number is not None and number == new
    return str(old) == str(new)


def changed_cells_without_log(frame: pd.DataFrame, result) -> list[tuple]:
    data = result.data.set_index("_source_row")
    source = frame.set_index("_source_row").loc[data.index]
    logged = {(int(row), variable) for row, variable in
              zip(result.log["source_row"], result.log["variable"], strict=True)
              if row is not None and not pd.isna(row)}
    missing = []
    for column in [c for c in source.columns if c in data.columns]:
        for row, old, new in zip(source.index, source[column], data[column], strict=True):
            if not same_meaning(old, new) and (int(row), column) not in logged:
                missing.append((row, column, old, new))
    return missing


def test_every_change_is_logged_on_messy_data():
    frame = messy_frame()
    assert changed_cells_without_log(frame, run(frame, SPEC, instrument=INSTRUMENT)) == []


CELL_VALUES = {
    "child_age": ["10", "１２", "-99", "不知道", "ten", " 7 ", "40", None],
    "inc_wages": ["3000", "三千", "0.3万元", "36000", "-88", "很多", "３０００", None],
    "interview_date": ["2024-03-05", "2024/3/5", "45356", "2024年3月5日", "bad", None],
    "village_code": ["010305", "10305", "1030", "01030X", None],
    "school_enrolled": ["1", "0", "-99", None],
    "school_days_missed": ["0", "3", "-66", "40", None],
    "child_sex": ["1", "2", "3", "x", None],
    "child_category": ["orphan", "orphan disabled", "-99", None],
    "id_card": ["11010519491231002X", "3.30902E+17", "110105194912310021", None],
    "child_name": ["王小明", "　李华", None],
}


@st.composite
def raw_frames(draw):
    n_rows = draw(st.integers(1, 8))
    changes = []
    for _ in range(n_rows):
        change = {column: draw(st.sampled_from(options))
                  for column, options in CELL_VALUES.items()}
        change["_duration_seconds"] = draw(st.sampled_from([2400.0, 600.0, np.nan]))
        change["_submitted_at"] = draw(st.sampled_from(
            ["2024-03-05 10:00:00", "2024-03-06 10:00:00", None]))
        changes.append(change)
    frame = make_frame(*changes)
    units = draw(st.lists(st.sampled_from(["C00001", "C00002", "C00003"]), min_size=n_rows,
                          max_size=n_rows))
    return frame.assign(child_id=pd.Series(units, dtype="str"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=raw_frames())
def test_property_changes_logged_rows_balanced_idempotent(frame):
    before = frame.copy(deep=True)
    result = run(frame, SPEC, instrument=INSTRUMENT)
    pd.testing.assert_frame_equal(frame, before)
    assert len(frame) == len(result.data) + len(result.dropped)
    assert changed_cells_without_log(frame, result) == []
    again = run(result.data, SPEC, instrument=INSTRUMENT)
    pd.testing.assert_frame_equal(result.data, again.data)
    assert again.log.empty and again.dropped.empty
