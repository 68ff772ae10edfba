"""Tests of doorstep.checks on simulated fieldwork: detection, flags, outputs, incremental runs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from doorstep.checks import (
    FLAG_COLUMNS,
    CheckResults,
    check_config,
    neutralise,
    read_resolutions,
    run_checks,
    save_state,
    write_dashboard,
    write_flag_lists,
)
from doorstep.checks.enumerators import jensen_shannon, straightlining
from doorstep.errors import ConfigError, DataError
from tests.test_checks_helpers import (
    DUPLICATE_CHECKS,
    SHORT_CHECKS,
    base_config,
    detection,
    flagged_rows,
    planted_rows,
    simulated_exports,
)

FAST_SEEDS = range(1, 6)  # 20 seeds: benchmarks/checks.py; 100: the slow test


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    """One simulated caring_mothers survey (4 rounds, scale 0.1) and its check results."""
    folder = tmp_path_factory.mktemp("checks")
    frames, form, result = simulated_exports(folder, seed=20240301)
    config = base_config(frames, end_date="2025-09-30", outlier_groups=["township"],
                         supervisors={"E01": "S1", "E02": "S1"}, language="zh")
    snapshot = {name: frame.copy() for name, frame in frames.items()}
    results = run_checks(frames, form, config)
    return {"frames": frames, "snapshot": snapshot, "form": form, "result": result,
            "config": config, "results": results, "folder": folder}


def _detection_rates(seeds) -> list[dict]:
    import tempfile

    outcomes = []
    for seed in seeds:
        with tempfile.TemporaryDirectory() as folder:
            outcome = detection(Path(folder), seed=seed)
        outcome.pop("results")
        outcomes.append(outcome)
    return outcomes


def _assert_detection(outcomes: list[dict], minimum_share: float) -> None:
    first = sum(o["fabricator_rank"] == 1 for o in outcomes)
    assert first >= minimum_share * len(outcomes), [(o["seed"], o["fabricator_rank"])
                                                    for o in outcomes]
    for outcome in outcomes:
        assert outcome["duplicates_flagged"] == outcome["duplicates_planted"], outcome
        assert outcome["short_flagged"] == outcome["short_planted"], outcome


def test_fabricator_ranks_first_and_planted_problems_are_flagged():
    outcomes = _detection_rates(FAST_SEEDS)
    _assert_detection(outcomes, 0.95)
    assert sum(o["duplicates_planted"] for o in outcomes) > 0
    assert sum(o["short_planted"] for o in outcomes) > 0


@pytest.mark.slow
def test_fabricator_ranks_first_over_100_seeds(request):
    marks = request.config.getoption("-m") or ""
    if "slow" not in marks or "not slow" in marks:
        pytest.skip("100 seeds take minutes; run with -m slow (make test-slow)")
    _assert_detection(_detection_rates(range(1, 101)), 0.95)


def test_results_are_frozen_and_inputs_unchanged(survey):
    results = survey["results"]
    assert isinstance(results, CheckResults)
    with pytest.raises(AttributeError):
        results.flags = None
    for name, frame in survey["frames"].items():
        pd.testing.assert_frame_equal(frame, survey["snapshot"][name])
    assert list(results.flags.columns) == list(FLAG_COLUMNS)


def test_planted_duplicates_are_flagged(survey):
    planted = planted_rows(survey["result"], ("duplicate_exact",))
    exact = flagged_rows(survey["results"].flags, ("duplicate_exact",))
    assert planted and planted <= exact
    resubmitted = planted_rows(survey["result"], ("resubmission",))
    assert resubmitted <= flagged_rows(survey["results"].flags, DUPLICATE_CHECKS)


def test_short_interviews_are_flagged(survey):
    fabricated = planted_rows(survey["result"], ("fabricator",))
    assert fabricated <= flagged_rows(survey["results"].flags, SHORT_CHECKS)
    durations = survey["results"].durations
    assert {"seconds", "n_answered", "seconds_per_question"} <= set(durations.columns)


def test_skip_logic_and_constraints_are_flagged(survey):
    flags = survey["results"].flags
    planted = planted_rows(survey["result"], ("skip_logic",))
    assert planted <= flagged_rows(flags, ("skip_logic",))
    zeros = planted_rows(survey["result"], ("leading_zeros",))
    assert zeros and zeros <= flagged_rows(flags[flags["variable"] == "village_code"],
                                           ("constraint",))
    typos = planted_rows(survey["result"], ("id_typo",))
    assert typos <= flagged_rows(flags, ("id_not_in_sample",))


def test_outliers_by_group(survey):
    flags = survey["results"].flags
    annual = planted_rows(survey["result"], ("monthly_annual",))
    caught = annual & flagged_rows(flags, ("outlier",))
    assert len(caught) >= 0.5 * len(annual)
    assert (survey["results"].outliers["n_checked"] > 0).any()


def test_no_personal_data_in_outputs(survey, tmp_path):
    results = survey["results"]
    write_dashboard(results, tmp_path / "dashboard.html")
    written = write_flag_lists(results, tmp_path / "lists")
    assert set(written) == {"S1", "all"}
    texts = [(tmp_path / "dashboard.html").read_text(encoding="utf-8")]
    texts += [path.read_text(encoding="utf-8-sig") for path in
              (tmp_path / "lists").glob("*.csv")]
    texts += [pd.read_excel(path, dtype=str).to_csv() for path in
              (tmp_path / "lists").glob("*.xlsx")]
    personal = set()
    for frame in survey["frames"].values():
        for column in ("child_name", "caregiver_name", "id_card", "phone", "address", "gps"):
            personal |= {v for v in frame[column].dropna().astype(str) if len(v) >= 2}
    personal |= {v.split()[0] for v in survey["frames"]["round1"]["gps"].dropna()}
    for text in texts:
        leaked = [value for value in personal if value in text]
        assert not leaked, leaked[:5]


def test_dashboard_is_phone_readable(survey, tmp_path):
    path = write_dashboard(survey["results"], tmp_path / "dashboard.html")
    text = path.read_text(encoding="utf-8")
    assert "name='viewport'" in text and "data:image/png;base64," in text
    assert "http://" not in text and "<script" not in text


def test_flag_lists_round_trip_and_chinese_headers(survey, tmp_path):
    written = write_flag_lists(survey["results"], tmp_path)
    csv_path, xlsx_path = written["S1"]
    table = pd.read_csv(csv_path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(table.columns)[:3] == ["访问编号", "记录号", "来源文件"]
    assert {"处理结果", "处理人", "备注"} <= set(table.columns)
    table["处理结果"] = "确认无误"
    table.to_csv(csv_path, index=False, encoding="utf-8-sig")
    resolutions = read_resolutions(csv_path)
    assert set(resolutions["resolution"]) == {"confirmed"}
    assert "interview" in resolutions.columns
    assert not read_resolutions(xlsx_path).empty


def test_unknown_resolution_names_the_row(tmp_path):
    path = tmp_path / "flags.csv"
    pd.DataFrame({"interview": ["a#1", "a#2"], "check": ["x", "x"], "variable": ["v", "v"],
                  "resolution": ["confirmed", "maybe"]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"row 3.*'maybe'"):
        read_resolutions(path)


@pytest.mark.parametrize(("value", "expected"), [
    ("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("-99", "-99"), ("-88.5", "-88.5"), ("+3", "+3"), ("abc", "abc"), (-99, -99),
    ("\t=1", "'\t=1"),
])
def test_neutralise(value, expected):
    assert neutralise(value) == expected


def test_formula_values_are_neutralised_in_lists(tmp_path):
    frame = pd.DataFrame({"child_id": ["C00001", "C00001"], "enumerator": ["E01", "E01"],
                          "note": ["=HYPERLINK(\"x\")", "-99"], "_record_id": ["1", "2"],
                          "_source_file": "f.csv", "_source_row": [1, 2],
                          "_duration_seconds": [60.0, 60.0]})
    results = run_checks(frame, None, {"id_column": "child_id", "phone_columns": []})
    flags = results.flags.copy()
    flags.loc[0, "value"] = "=HYPERLINK(\"x\")"
    results = CheckResults(**{**results.__dict__, "flags": flags})
    paths = write_flag_lists(results, tmp_path)["all"]
    table = pd.read_csv(paths[0], dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert table.loc[0, "value"].startswith("'=")
    workbook = pd.read_excel(paths[1], dtype=str)
    assert workbook.loc[0, "value"].startswith("'=")


def test_incremental_state(survey, tmp_path):
    frames, form = survey["frames"], survey["form"]
    config = {**survey["config"], "state_dir": str(tmp_path / "state")}
    first = run_checks({"round1": frames["round1"]}, form, config)
    assert first.summary.set_index("metric").loc["interviews", "new"] == len(
        set(first.records))
    save_state(first, tmp_path / "state")
    second = run_checks({"round1": frames["round1"], "round2": frames["round2"]}, form, config)
    summary = second.summary.set_index("metric")
    assert summary.loc["interviews", "new"] == len(set(second.records) - set(first.records))
    new_flags = second.flags[second.flags["is_new"]]
    assert set(new_flags["source_file"]) <= {frames["round2"]["_source_file"].iloc[0]}
    assert summary.loc["flags", "total"] == len(second.flags)


def test_progress_counts(survey):
    progress = survey["results"].progress
    overall = progress[progress["level"] == "all"].set_index("export")
    n_sample = len(survey["config"]["sample"])
    assert (overall["target"] == n_sample).all()
    assert (overall["completed"] + overall["refused"] + overall["pending"] == n_sample).all()
    assert overall.loc["round4", "pending"] > 0  # attrition
    assert {"village", "township", "enumerator"} <= set(progress["level"])
    assert overall["days_left"].notna().all()


def test_consent_refusals_count_as_refused():
    frame = pd.DataFrame({"child_id": ["C1", "C2", "C3"], "consent": ["1", "0", "1"],
                          "enumerator": ["E1", "E1", "E2"], "_record_id": ["1", "2", "3"],
                          "_source_file": "r.csv", "_source_row": [1, 2, 3],
                          "_duration_seconds": [1800.0] * 3})
    sample = pd.DataFrame({"child_id": ["C1", "C2", "C3", "C4"]})
    results = run_checks(frame, None, {"id_column": "child_id", "sample": sample,
                                       "consent_column": "consent", "phone_columns": []})
    overall = results.progress[results.progress["level"] == "all"].iloc[0]
    assert (overall["completed"], overall["refused"], overall["pending"]) == (2, 1, 1)
    assert results.enumerators.set_index("enumerator").loc["E1", "consent_refusal_rate"] == 0.5


def test_dashboard_indicators(survey):
    dashboard = survey["results"].enumerators.set_index("enumerator")
    for column in ("interviews_per_day", "mean_duration_minutes", "dont_know_rate",
                   "refusal_rate", "other_rate", "missing_rate", "skip_violations_per_interview",
                   "outlier_share", "straightlining_share", "gps_spread_km",
                   "share_outside_7_to_21"):
        assert column in dashboard
    assert dashboard["dont_know_rate"].between(0.001, 0.05).all()
    assert dashboard["gps_spread_km"].lt(50).all()


def test_ranking_statistic_is_documented(survey):
    ranking = survey["results"].ranking
    expected = (ranking["distance_z"] + ranking["duration_z"] + ranking["straightlining_z"]) / 3
    pd.testing.assert_series_equal(ranking["composite"], expected, check_names=False)
    assert ranking["composite"].is_monotonic_decreasing
    assert ranking["distance"].between(0, 1).all()


def test_jensen_shannon_and_straightlining():
    import numpy as np

    assert jensen_shannon(np.array([[1.0, 1.0]]), np.array([[2.0, 2.0]]))[0] == 0
    assert jensen_shannon(np.array([[1.0, 0.0]]), np.array([[0.0, 3.0]]))[0] == pytest.approx(1)
    answers = pd.DataFrame({"a": ["1", "1", "-99"], "b": ["1", "2", "-99"]})
    assert straightlining(answers, {"s": ("a", "b")}, ("-99",))["s"].tolist() == [
        True, False, False]


def test_phone_hash_needs_a_key_and_hides_phones(survey):
    frames = survey["frames"]
    with pytest.raises(ConfigError, match="hash_key"):
        run_checks(frames["round1"], survey["form"], {"id_column": "child_id"})
    phones = set(frames["round1"]["phone"].dropna())
    assert not any(phone in " ".join(survey["results"].flags["reason_en"]) for phone in phones)
    digest = hashlib.sha256(next(iter(phones)).encode()).hexdigest()[:12]
    assert digest not in " ".join(survey["results"].flags["reason_en"])


def test_config_errors():
    with pytest.raises(ConfigError, match="unknown key"):
        check_config({"id_column": "x", "min_duraton_minutes": 5})
    with pytest.raises(ConfigError, match="id_column"):
        check_config({})
    with pytest.raises(ConfigError, match="language"):
        check_config({"id_column": "x", "language": "fr"})
    with pytest.raises(ConfigError, match="min_duration_minutes"):
        check_config({"id_column": "x", "min_duration_minutes": -1})


def test_missing_id_column_is_a_data_error(survey):
    with pytest.raises(DataError, match="id_column"):
        run_checks(survey["frames"]["round1"], survey["form"],
                   {"id_column": "woman_id", "hash_key": "k"})


def test_version_mix_and_section_times():
    frame = pd.DataFrame({"child_id": ["C1", "C2"], "enumerator": ["E1", "E2"],
                          "__version__": ["v1", "v2"], "sdq_seconds": ["120", "300"],
                          "_record_id": ["1", "2"], "_source_file": "r.csv",
                          "_source_row": [1, 2], "_duration_seconds": [1800.0, 1800.0]})
    results = run_checks(frame, None, {"id_column": "child_id", "phone_columns": [],
                                       "expected_version": "v2",
                                       "section_time_columns": {"sdq": "sdq_seconds"}})
    assert set(results.versions["version"]) == {"v1", "v2"}
    wrong = results.flags[results.flags["check"] == "form_version"]
    assert wrong["record_id"].tolist() == ["1"]
    assert results.section_times.set_index("enumerator").loc["E2", "mean_minutes"] == 5
