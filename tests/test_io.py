"""Readers: instruments, platform detection, encodings, mapping onto the instrument's names."""

from __future__ import annotations

import codecs

import openpyxl
import pandas as pd
import pytest

from doorstep.errors import DataError
from doorstep.instrument import read_instrument
from doorstep.io import detect_encoding, read_export, read_table
from tests.conftest import ROOT

CARING = read_instrument(ROOT / "surveys" / "caring_mothers" / "instrument.xlsx")


def test_instrument_groups_labels_choices_and_personal_flags():
    question = CARING.question("sdq_07")
    assert question.group_path == ("sdq",) and question.path == "sdq/sdq_07"
    assert question.type == "select_one" and question.list_name
    assert set(CARING.languages) >= {"zh", "en"}
    assert CARING.question("end").type == "end"  # metadata "end" is not an end of group
    assert CARING.question("school_days_missed").relevant == "${school_enrolled} = 1"
    assert {"child_name", "caregiver_name", "id_card", "phone", "address", "gps"} <= set(
        CARING.personal_names)
    assert "child_age" not in CARING.personal_names
    labels = CARING.choice_labels(CARING.question("child_sex").list_name, "en")
    assert labels["1"].lower().startswith("m") and labels["2"].lower().startswith("f")


def test_simulated_exports_map_onto_the_instrument(demo_projects):
    raw = demo_projects["caring_mothers"].parents[2] / "data" / "caring_mothers" / "raw"
    frames = {name: read_export(raw / name, CARING) for name in
              ("round1_kobo.csv", "round2_wjx.xlsx", "round3_gbk.csv")}
    expected_platform = {"round1_kobo.csv": "kobo", "round2_wjx.xlsx": "wenjuanxing",
                         "round3_gbk.csv": "csv"}
    for name, frame in frames.items():
        info = frame.attrs["export"]
        assert info.platform == expected_platform[name]
        assert info.unknown_columns == ()
        assert {"child_id", "village_code", "sdq_25", "inc_transfers"} <= set(frame.columns)
        assert frame["_source_row"].tolist() == list(range(1, len(frame) + 1))
        assert frame["_duration_seconds"].notna().all(), name
        # identifiers stay text: the zero of "010305" survives (some were dropped in the field)
        assert frame["village_code"].str.startswith("0").mean() > 0.8
    assert frames["round3_gbk.csv"].attrs["export"].encoding == "gbk"
    wjx = frames["round2_wjx.xlsx"]
    assert set(wjx["child_sex"].dropna()) <= {"1", "2"}  # Chinese labels became codes
    codes = {choice.name for choice in CARING.choices[CARING.question("child_category").list_name]}
    assert {code for value in wjx["child_category"].dropna() for code in value.split()} <= codes
    kobo = frames["round1_kobo.csv"]
    assert kobo["_record_id"].str.fullmatch(r"[0-9a-f\-]{36}").all()


def _write_wjx(path, headers, rows):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    book.save(path)


def test_hand_written_wenjuanxing_export(tmp_path):
    instrument = CARING
    numbered = [q for q in instrument.questions if q.is_question]
    position = {q.name: number for number, q in enumerate(numbered, start=1)}
    sex_labels = instrument.choice_labels(instrument.question("child_sex").list_name, "zh")
    category = instrument.choice_labels(instrument.question("child_category").list_name, "zh")
    headers = ["序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自IP",
               f"{position['child_id']}、{instrument.label('child_id', 'zh')}",
               f"{position['child_sex']}、{instrument.label('child_sex', 'zh')}",
               f"{position['child_category']}、{instrument.label('child_category', 'zh')}",
               f"{position['village_code']}、题目文字改过了"]  # matched by number
    rows = [[1, "2024/9/12 14:03:22", "1834秒", "手机提交", "直接访问", "1.2.3.4", "C00001",
             sex_labels["2"], f"{category['orphan']}┋{category['left_behind']}", "010305"]]
    path = tmp_path / "wjx.xlsx"
    _write_wjx(path, headers, rows)
    frame = read_export(path, instrument)
    assert frame.attrs["export"].platform == "wenjuanxing"
    row = frame.iloc[0]
    assert (row["child_id"], row["child_sex"], row["child_category"], row["village_code"]) == (
        "C00001", "2", "orphan left_behind", "010305")
    assert row["_duration_seconds"] == 1834 and row["_record_id"] == "1"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_encodings_are_detected_and_text_survives(tmp_path, encoding):
    text = "child_id;village_code;caregiver_name;_uuid\nC00001;010305;魏欣丽;u1\n"
    path = tmp_path / f"export-{encoding}.csv"
    path.write_bytes(text.encode(encoding))
    frame = read_export(path)
    assert frame.attrs["export"].platform == "kobo"
    assert frame.loc[0, "caregiver_name"] == "魏欣丽"
    assert frame.loc[0, "village_code"] == "010305"
    detected = frame.attrs["export"].encoding
    assert detected == {"utf-8-sig": "utf-8-sig", "utf-16": "utf-16"}.get(
        encoding, "utf-8" if encoding == "utf-8" else "gbk")


def test_detect_encoding_prefers_certain_answers():
    assert detect_encoding(codecs.BOM_UTF8 + "村".encode()) == "utf-8-sig"
    assert detect_encoding("村".encode()) == "utf-8"
    assert detect_encoding("村".encode("gbk")) == "gbk"
    assert detect_encoding("𠀀".encode("gb18030")) == "gb18030"  # outside GBK


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"a,b\n", "has a header row but no data rows"),
        (b"a,b,a\n1,2,3\n", "column 3 repeats the header 'a' of column 1"),
    ],
)
def test_bad_csv_files_give_errors_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as error:
        read_table(path)
    assert str(path) in str(error.value)


def test_file_that_is_not_what_its_extension_says(tmp_path):
    path = tmp_path / "export.xlsx"
    path.write_text("this is not a workbook")
    with pytest.raises(DataError, match="expected an Excel workbook"):
        read_export(path)


def test_platform_given_must_match_the_file(tmp_path):
    path = tmp_path / "plain.csv"
    pd.DataFrame({"child_id": ["C1"]}).to_csv(path, index=False)
    with pytest.raises(DataError, match="expected a wenjuanxing export"):
        read_export(path, platform="wenjuanxing")
    with pytest.raises(DataError, match="platform 'stata' is not one of"):
        read_export(path, platform="stata")
    with pytest.raises(DataError, match="file not found"):
        read_export(tmp_path / "missing.csv")


def test_blank_header_and_empty_workbook(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("a,,c\n1,2,3\n")
    with pytest.raises(DataError, match="column 2 has no header"):
        read_table(path)
    book = tmp_path / "empty.xlsx"
    openpyxl.Workbook().save(book)
    with pytest.raises(DataError, match="first sheet is empty"):
        read_table(book)


def test_blank_cells_and_the_exponent_scan_give_the_same_answer_in_threads(tmp_path,
                                                                           monkeypatch):
    """Large files run the per-column blank detection on every core and the file's exponent
    scan beside the parser: the frame (and the damaged ids found) must be those of one
    thread."""
    from doorstep.io import tables

    rows = ["id;name;note;when"]
    for number in range(400):
        note = ["", " ", "\u3000", "a b", "x"][number % 5]
        ident = "3.30902E+17" if number == 7 else f"{number:06d}"
        rows.append(f"{ident};名字{number};{note};2024-09-15T12:41:45.000+08:00")
    path = tmp_path / "export.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    serial = tables.read_raw(path)[0]
    monkeypatch.setattr(tables, "PARALLEL_CELLS", 0)
    threaded = tables.read_raw(path)[0]
    pd.testing.assert_frame_equal(serial.frame, threaded.frame)
    assert serial.damaged == threaded.damaged == {"id": (8,)}
    assert threaded.frame["note"].isna().sum() == 240  # "", " " and the ideographic space


def test_offset_times_take_arrow_and_other_times_take_pandas():
    """Kobo/ODK times with a zone offset are parsed by Arrow; the same instants as pandas'
    ISO 8601 parser. Values without an offset (or not times) fall back to pandas."""
    from doorstep.io.exports import _parse_times

    with_offset = pd.Series(["2024-09-15T12:41:45.000+08:00", None, "2024-09-15T04:41:45Z",
                             "2024-09-15T12:41:45.123456+05:30"], dtype="str", index=[3, 4, 5, 6])
    expected = pd.to_datetime(with_offset, utc=True, format="ISO8601")
    pd.testing.assert_series_equal(_parse_times(with_offset), expected)
    naive = pd.Series(["2024-09-15 12:41:45", "not a time", None], dtype="str")
    parsed = _parse_times(naive)
    assert parsed.iloc[0] == pd.Timestamp("2024-09-15 12:41:45", tz="UTC")
    assert parsed.iloc[1:].isna().all()
