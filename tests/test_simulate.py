"""Tests of doorstep.simulate: determinism, planted problems, truth, encodings, instruments."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from doorstep.errors import ConfigError
from doorstep.simulate import (
    PROGRAMMES,
    default_rates,
    instrument_definition,
    simulate,
    simulate_frames,
    write_instrument,
)
from doorstep.simulate.people import id_card_is_valid

SCALE = 0.3
SEED = 7
REPO = Path(__file__).resolve().parents[1]
SDQ_REVERSED = (7, 11, 14, 21, 25)
SDQ_DIFFICULTY = (3, 8, 13, 16, 24, 5, 7, 12, 18, 22, 2, 10, 15, 21, 25, 6, 11, 14, 19, 23)


@pytest.fixture(scope="module", params=PROGRAMMES)
def run(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param)
    return simulate(request.param, out, seed=SEED, scale=SCALE)


def read_table(path: Path, encoding: str | None) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a raw export, every cell as text ("" when empty)."""
    if path.suffix == ".xlsx":
        sheet = openpyxl.load_workbook(path, read_only=True)["Sheet1"]
        rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(
            values_only=True)]
        return rows[0], rows[1:]
    text = path.read_bytes().decode(encoding)
    delimiter = ";" if "kobo" in path.name else ","
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    return rows[0], rows[1:]


def file_tables(run):
    tables = {}
    for info in run.truth["design"]["files"].values():
        if "round" in info:
            tables[info["path"]] = read_table(run.out_dir / info["path"], info.get("encoding"))
    return tables


def test_same_seed_gives_identical_bytes_and_other_seed_differs(tmp_path):
    for programme in PROGRAMMES:
        first = simulate(programme, tmp_path / "a" / programme, seed=3, scale=0.2)
        second = simulate(programme, tmp_path / "b" / programme, seed=3, scale=0.2)
        other = simulate(programme, tmp_path / "c" / programme, seed=4, scale=0.2)
        assert set(first.files) == set(second.files)
        for name, path in first.files.items():
            assert path.read_bytes() == second.files[name].read_bytes(), name
        assert first.files["round1"].read_bytes() != other.files["round1"].read_bytes()
        assert first.truth["effects"] != other.truth["effects"]


def test_files_written_and_no_temporary_left(run):
    for path in run.files.values():
        assert path.exists() and path.stat().st_size > 0
    assert not list(run.out_dir.rglob("*.tmp"))
    truth = json.loads((run.out_dir / "truth.json").read_text(encoding="utf-8"))
    assert truth == json.loads(json.dumps(run.truth))
    assert {"programme", "seed", "scale", "rates", "design", "effects", "problems"} <= set(truth)


# Problems whose instances should occur at about their rate among eligible cells or rows.
RATE_CHECKED = ("duplicate_exact", "resubmission", "fabricator", "missing_codes", "na_code",
                "amount_text", "amount_wan", "monthly_annual", "fullwidth_digits",
                "id_scientific", "leading_zeros", "date_formats", "skip_logic", "id_typo")


def test_each_problem_is_planted_at_about_its_rate(run):
    problems = run.truth["problems"]
    for name in RATE_CHECKED:
        entry = problems[name]
        eligible, count, rate = entry["eligible"], entry["count"], entry["rate"]
        expected = eligible * rate
        # Binomial tolerance: 4 standard deviations plus 3 (cells already damaged by an
        # earlier problem are skipped, so counts may fall slightly short).
        tolerance = 4 * np.sqrt(max(expected * (1 - rate), 0)) + 3
        assert abs(count - expected) <= tolerance + 0.05 * expected, (name, count, expected)
        if expected >= 5:
            assert count > 0, name
    assert problems["attrition"]["count"] > 0


def test_every_problem_row_is_found_in_its_file(run):
    problems = pd.read_csv(run.out_dir / "problems.csv", dtype=str, keep_default_na=False)
    tables = file_tables(run)
    assert set(problems["problem"]) >= {"duplicate_exact", "missing_codes", "date_formats"}
    record_column = {"kobo": "_uuid", "wjx": "序号"}
    for row in problems.itertuples(index=False):
        if row.file == "":
            assert row.problem == "attrition"
            continue
        header, rows = tables[row.file]
        cells = rows[int(row.row) - 1]
        if row.column:
            assert cells[header.index(row.column)] == row.raw_value, row
            assert row.raw_value != row.true_value, row
        kind = next(k for k in ("kobo", "wjx", "gbk") if k in row.file)
        id_column = record_column.get(kind) or header[header.index("child_id" if "child_id"
                                                                   in header else "woman_id")]
        assert cells[header.index(id_column)] == row.record_id, row
    duplicates = problems[problems["problem"] == "duplicate_exact"]
    for row in duplicates.itertuples(index=False):
        _, rows = tables[row.file]
        assert rows[int(row.row) - 1] == rows[int(row.row) - 2]


def test_gbk_files_decode_as_gbk_and_not_as_utf8(run):
    legacy = [info for info in run.truth["design"]["files"].values()
              if info.get("encoding") == "gbk"]
    assert legacy
    for info in legacy:
        data = (run.out_dir / info["path"]).read_bytes()
        assert "村" in data.decode("gbk") or "W" in data.decode("gbk")
        if "村" in data.decode("gbk"):
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")


def test_id_cards_have_valid_checksums_except_damaged(run):
    problems = pd.read_csv(run.out_dir / "problems.csv", dtype=str, keep_default_na=False)
    damaged = problems[problems["problem"] == "id_scientific"]
    damaged_cells = set(zip(damaged["file"], damaged["row"].astype(int), strict=True))
    assert damaged_cells
    copies = problems[problems["problem"] == "duplicate_exact"]
    for path, row in zip(copies["file"], copies["row"].astype(int), strict=True):
        if (path, row - 1) in damaged_cells:  # an exact duplicate repeats its source's damage
            damaged_cells.add((path, row))
    for path, (header, rows) in file_tables(run).items():
        column = next(h for h in header if h.endswith("id_card") or "身份证" in h)
        index = header.index(column)
        for number, cells in enumerate(rows, start=1):
            valid = id_card_is_valid(cells[index])
            assert valid != ((path, number) in damaged_cells), (path, number, cells[index])


def test_caring_mothers_truth_matches_potential_outcomes():
    frames = simulate_frames("caring_mothers", seed=SEED, scale=SCALE)
    panel = frames["panel"]
    truth = simulate("caring_mothers", Path(pytest.importorskip("tempfile").mkdtemp()),
                     seed=SEED, scale=SCALE).truth
    effects = pd.DataFrame(truth["effects"])
    complete = panel[panel["complete"]]
    post = complete[(complete["cohort"] > 0) & (complete["round"] >= complete["cohort"])]
    for outcome in ("sdq_total", "who5_score", "hh_income", "ucla_total"):
        expected = (post[outcome + "_y1"] - post[outcome + "_y0"]).mean()
        record = effects[(effects["outcome"] == outcome) & (effects["estimand"] == "att_simple")
                         & effects["subgroup"].isna()].iloc[0]
        assert record["value"] == pytest.approx(expected, abs=1e-12)
        assert record["n"] == len(post)
    pre = effects[(effects["estimand"] == "att_gt") & (effects["event_time"] < 0)]
    assert (pre["value"] == 0).all()
    sdq = effects[(effects["outcome"] == "sdq_total") & (effects["estimand"] == "att_dynamic")
                  & effects["subgroup"].isna()].set_index("event_time")["value"]
    assert sdq[0] < 0 and sdq[2] < sdq[0]
    # realised answers in the true round frame score to the potential outcome of the arm
    first = frames["rounds"][2].set_index("child_id")
    items = np.array([[first.at[c, f"sdq_{i:02d}"] for i in range(1, 26)] for c in first.index])
    scored = sum(2 - items[:, i - 1] if i in SDQ_REVERSED else items[:, i - 1]
                 for i in SDQ_DIFFICULTY)
    observed = panel[panel["round"] == 2].set_index("child_id").loc[first.index]
    arm = np.where(observed["treated"], observed["sdq_total_y1"], observed["sdq_total_y0"])
    np.testing.assert_array_equal(scored, arm)


def test_skills_truth_matches_potential_outcomes(tmp_path):
    units = simulate_frames("skills_workshops", seed=SEED, scale=SCALE)["units"]
    truth = simulate("skills_workshops", tmp_path, seed=SEED, scale=SCALE).truth
    effects = {(r["outcome"], r["estimand"]): r for r in truth["effects"]}
    seen = units[units["observed_endline"]]
    applicants = seen[(seen["design"] == "lottery") & (seen["applied"] == 1)]
    for outcome in ("employed", "earnings_month", "hh_income", "who5_score"):
        individual = applicants[outcome + "_y1"] - applicants[outcome + "_y0"]
        itt = (individual * applicants["complier"]).mean()
        late = individual[applicants["complier"]].mean()
        assert effects[(outcome, "itt")]["value"] == pytest.approx(itt, abs=1e-12)
        assert effects[(outcome, "late")]["value"] == pytest.approx(late, abs=1e-12)
    # one-sided non-compliance: losers never take part
    lottery = units[units["design"] == "lottery"]
    assert lottery.loc[lottery["won_lottery"] == 0, "participated"].sum() == 0
    assert effects[("employed", "late")]["value"] > 0.05


def test_unknown_rate_name_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"allowed: .*duplicate_exact"):
        simulate("caring_mothers", tmp_path, scale=0.2, duplicates=0.5)
    with pytest.raises(ConfigError):
        simulate("unknown_programme", tmp_path)
    with pytest.raises(ConfigError):
        simulate("caring_mothers", tmp_path, scale=0.2, missing_codes=2.0)
    assert "legacy_encoding" in default_rates("skills_workshops")


def test_zero_rates_plant_nothing(tmp_path):
    zero = {name: 0.0 for name in RATE_CHECKED}
    result = simulate("skills_workshops", tmp_path, seed=1, scale=0.2, **zero)
    assert all(result.truth["problems"][name]["count"] == 0 for name in RATE_CHECKED)


@pytest.mark.parametrize("programme", PROGRAMMES)
def test_committed_instrument_equals_definition(programme, tmp_path):
    committed = REPO / "surveys" / programme / "instrument.xlsx"
    assert committed.exists(), "regenerate with doorstep.simulate.write_instrument"
    workbook = openpyxl.load_workbook(committed)
    for sheet_name, frame in zip(("survey", "choices", "settings"),
                                 instrument_definition(programme), strict=True):
        rows = [["" if value is None else value for value in row]
                for row in workbook[sheet_name].iter_rows(values_only=True)]
        assert rows[0] == list(frame.columns)
        assert rows[1:] == frame.to_numpy().tolist()
    # byte-for-byte, two fresh writes agree (the committed file may come from another openpyxl)
    first = write_instrument(programme, tmp_path / "one.xlsx").read_bytes()
    assert write_instrument(programme, tmp_path / "two.xlsx").read_bytes() == first
