"""Rows dropped in one copy: the row steps told which rows are still in (``alive``) give what
they give on those rows alone, and a cleaning run whose dropped rows hold values that later
steps would change neither logs nor changes anything for them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from doorstep.clean import run
from doorstep.clean.records import (
    ResolutionRule,
    SupervisorRule,
    apply_duplicate_resolutions,
    apply_supervisor_resolutions,
    duplicates_report,
)
from doorstep.clean.steps import (
    DuplicateRule,
    DurationRule,
    ResubmissionRule,
    drop_exact_duplicates,
    drop_resubmissions,
    drop_short_interviews,
    without_dropped,
)


def _rows() -> pd.DataFrame:
    return pd.DataFrame({
        "child_id": ["C1", "C1", "C2", "C2", "C3", "C3", "C4"],
        "answer": ["1", "1", "2", "9", "3", "3", "4"],
        "_record_id": [f"r{number}" for number in range(1, 8)],
        "_source_file": ["f.csv"] * 7,
        "_submitted_at": [f"2024-03-0{day} 10:00" for day in (1, 2, 3, 4, 5, 6, 7)],
        "_duration_seconds": [1800.0, 1800.0, 100.0, 1800.0, 1800.0, 1800.0, 1800.0],
        "round": [1] * 7,
    })


STEPS = {
    "duplicate": lambda frame, **alive: drop_exact_duplicates(frame, DuplicateRule(), **alive),
    "short_interview": lambda frame, **alive: drop_short_interviews(
        frame, DurationRule(15), **alive),
    "resubmission": lambda frame, **alive: drop_resubmissions(
        frame, ResubmissionRule("child_id"), **alive),
    "supervisor": lambda frame, **alive: apply_supervisor_resolutions(
        frame, SupervisorRule({"f.csv#r5": ("drop", "LW", "duration_short", "made up")}),
        **alive),
    "duplicate_resolutions": lambda frame, **alive: apply_duplicate_resolutions(
        frame, ResolutionRule("child_id", {"r4": ("drop", "LW", "", "twin"),
                                           "r7": ("new_id", "C9", "LW", "new child")}), **alive),
}


@pytest.mark.parametrize("name", list(STEPS))
@pytest.mark.parametrize("dead", [(), (0,), (1,), (0, 2), (3, 4, 6)])
def test_alive_rows_give_what_the_rows_alone_give(name, dead):
    frame = _rows()
    alive = np.ones(len(frame), dtype=bool)
    alive[list(dead)] = False
    step = STEPS[name]
    whole = step(frame, alive=alive)
    alone = step(frame.loc[alive])
    assert len(whole.frame) == len(frame)  # rows are left for the caller to drop
    for table in ("log", "flags", "dropped"):
        pd.testing.assert_frame_equal(getattr(whole, table), getattr(alone, table))
    kept = without_dropped(whole).frame.loc[alive[without_dropped(whole).frame.index]]
    pd.testing.assert_frame_equal(kept, alone.frame)


def test_a_duplicate_whose_first_copy_is_dead_is_kept():
    frame = _rows()
    alive = np.array([False, True, True, True, True, True, True])
    result = drop_exact_duplicates(frame, DuplicateRule(), alive=alive)
    # rows 0 and 1 are copies; row 0 left earlier, so row 1 is the first of its group now
    assert result.dropped["row"].tolist() == [5]
    assert result.dropped["drop_reason"].tolist() == ["exact copy of an earlier row (record r5)"]


def test_duplicates_report_on_alive_rows_only():
    frame = _rows()
    alive = np.array([True, True, False, True, True, True, True])
    report = duplicates_report(frame, "child_id", "round", alive=alive)
    alone = duplicates_report(frame.loc[alive], "child_id", "round")
    pd.testing.assert_frame_equal(report, alone)
    assert "C2" not in set(report["unit_id"])  # its other record left as a short interview


def test_alive_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="one flag per row"):
        drop_short_interviews(_rows(), DurationRule(15), alive=np.ones(3, dtype=bool))


def test_values_only_in_dropped_rows_are_not_logged_or_changed():
    # Row 2 is a short interview holding a missing code, a full-width number and a padded unit
    # id that nothing else holds: in the run it leaves before the text and missing-code steps,
    # so neither may log it, change its column or add a companion column for it.
    frame = pd.DataFrame({
        "child_id": ["C1", "C2", " C3 ", "C2"],
        "coded": ["1", "2", "-99", "2"],
        "wide": ["5", "6", "７", "6"],
        "_record_id": ["r1", "r2", "r3", "r4"],
        "_submitted_at": ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04"],
        "_duration_seconds": [1800.0, 1800.0, 60.0, 1700.0],
        "_source_file": ["f.csv"] * 4,
        "_source_row": [2, 3, 4, 5],
        "round": [1, 1, 1, 1],
    })
    spec = {"unit_id": "child_id", "min_duration_minutes": 15, "typed_missing": True}
    result = run(frame, spec)
    assert result.dropped["drop_rule"].tolist() == ["short_interview", "resubmission"]
    assert result.dropped["_record_id"].tolist() == ["r3", "r2"]
    assert result.dropped["child_id"].tolist() == [" C3 ", "C2"]  # as they came in
    assert result.log.empty
    assert list(result.data.columns) == list(frame.columns)  # no coded__missing
    assert result.data["coded"].tolist() == ["1", "2"]
    assert result.data["wide"].tolist() == ["5", "6"]
    assert len(result.data) + len(result.dropped) == len(frame)
    # the same rows cleaned without the short interview give the same clean data
    alone = run(frame.drop(index=2), spec)
    pd.testing.assert_frame_equal(result.data, alone.data)


def test_a_value_in_kept_and_dropped_rows_is_logged_for_the_kept_row_only():
    frame = pd.DataFrame({
        "child_id": ["C1", "C2", "C3"],
        "coded": ["-99", "1", "-99"],
        "_record_id": ["r1", "r2", "r3"],
        "_duration_seconds": [1800.0, 1800.0, 60.0],
        "round": [1, 1, 1],
    })
    result = run(frame, {"unit_id": "child_id", "min_duration_minutes": 15,
                         "typed_missing": True})
    assert result.log[["unit_id", "variable", "rule"]].values.tolist() == [
        ["C1", "coded", "missing_code"]]
    assert pd.isna(result.data["coded__missing"].iloc[1])
    assert not pd.isna(result.data["coded__missing"].iloc[0])
    assert result.data["coded"].isna().tolist() == [True, False]
