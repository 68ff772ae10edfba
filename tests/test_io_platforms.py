"""Exports from each platform: hand-written fixtures and files written by pandas/pyreadstat."""

from __future__ import annotations

import openpyxl
import pandas as pd
import pyreadstat

from doorstep.instrument import read_instrument
from doorstep.io import NOT_SHOWN, SKIPPED, read_export, read_export_tables
from tests.conftest import ROOT

EXPORTS = ROOT / "tests" / "fixtures" / "exports"
FORM = read_instrument(ROOT / "tests" / "fixtures" / "instruments" / "household.csv")


def _workbook(path, sheets):
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def test_kobo_csv_groups_select_multiple_and_version_mix():
    frame = read_export(EXPORTS / "kobo_household.csv", FORM)
    info = frame.attrs["export"]
    assert info.platform == "kobo" and info.encoding == "utf-8"
    assert frame["hh_id"].tolist() == ["010305", "000012"]  # leading zeros survive
    assert frame.loc[0, "needs"] == "food care" and frame.loc[0, "hh_size"] == "4"
    assert frame["_record_id"].str.endswith("0a01").iloc[0]
    assert frame["_duration_seconds"].tolist() == [1800.0, 1230.0]
    assert info.form_versions == ("vA", "vB")
    assert [finding.rule for finding in info.findings] == ["form-version-mix"]
    assert info.unknown_columns == ("household/needs_other",)
    assert info.missing_questions == ()  # notes excluded; repeat questions live in tables


def test_kobo_option_columns_alone_rebuild_the_joined_answer(tmp_path):
    raw = pd.read_csv(EXPORTS / "kobo_household.csv", sep=";", dtype=str)
    path = tmp_path / "kobo.csv"
    raw.drop(columns=["household/needs"]).to_csv(path, index=False, sep=";")
    frame = read_export(path, FORM)
    assert frame["needs"].tolist()[0] == "food care"
    assert frame["needs"].tolist()[1] == ""  # answered, nothing chosen
    assert frame.attrs["export"].rebuilt_multiple == ("needs",)


def test_kobo_xlsx_with_repeat_sheet_becomes_linked_tables(tmp_path):
    path = _workbook(tmp_path / "kobo.xlsx", {
        "household": [["hh_id", "household/hh_size", "household/has_children", "_uuid",
                       "_submission_time", "_index"],
                      ["010305", 4, "1", "u-1", "2024-09-12T01:40:00", 1],
                      ["000012", 2, "1", "u-2", "2024-09-13T02:30:00", 2]],
        "members": [["members/member_name", "members/member_age", "_index", "_parent_index",
                     "_parent_table_name", "_submission__uuid"],
                    ["魏小明", 9, 1, 1, "household", "u-1"],
                    ["魏小红", 6, 2, 1, "household", "u-1"],
                    ["张小四", 3, 3, 2, "household", "u-2"]],
    })
    tables = read_export_tables(path, FORM)
    assert set(tables) == {"main", "members"}
    members = tables["members"]
    assert members["_parent_record_id"].tolist() == ["u-1", "u-1", "u-2"]
    assert members["_record_id"].tolist() == ["u-1/members[1]", "u-1/members[2]",
                                              "u-2/members[1]"]
    assert members["member_age"].tolist() == ["9", "6", "3"]
    assert tables["main"]["hh_id"].tolist() == ["010305", "000012"]
    assert read_export(path, FORM).shape[0] == 2


def test_odk_csv_with_repeat_file():
    tables = read_export_tables(EXPORTS / "odk_household.csv", FORM)
    main, members = tables["main"], tables["members"]
    assert main.attrs["export"].platform == "odk"
    assert main["_record_id"].tolist() == ["uuid:aaa-1", "uuid:bbb-2"]
    assert main.loc[0, "hh_size"] == "4"  # household-hh_size
    assert members["_parent_record_id"].tolist() == ["uuid:aaa-1", "uuid:aaa-1", "uuid:bbb-2"]
    assert members["member_age"].tolist() == ["9", "06", "3"]
    assert members.attrs["export"].table == "members"


def test_surveycto_wide_repeats_and_formdef_versions():
    tables = read_export_tables(EXPORTS / "surveycto_household.csv", FORM)
    main, members = tables["main"], tables["members"]
    info = main.attrs["export"]
    assert info.platform == "surveycto"
    assert info.form_versions == ("2409120901", "2409130800")
    assert info.unknown_columns == ()  # option and wide repeat columns are recognised
    assert main["_duration_seconds"].tolist() == [1800.0, 1230.0]
    assert members["_record_id"].tolist() == ["uuid:c-1/members[1]", "uuid:c-1/members[2]",
                                              "uuid:c-2/members[1]"]
    assert members["member_name"].tolist() == ["魏小明", "魏小红", "张小四"]


def _wjx_headers(names):
    numbered = [q for q in FORM.questions_in(None) if q.is_question]
    position = {q.name: number for number, q in enumerate(numbered, start=1)}
    return [f"{position[name]}、{FORM.label(name, 'zh')}" for name in names]


META = ["序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自IP"]


def test_wenjuanxing_text_export_with_title_row_other_text_and_skips(tmp_path):
    headers = META + _wjx_headers(["hh_id", "has_children", "needs", "income"])
    rows = [[1, "2024/9/12 14:03:22", "1834秒", "手机提交", "直接访问", "1.2.3.4", "010305",
             "是", "食物┋其他〖修房子〗", "3000"],
            [2, "2024/9/12 15:00:00", "600秒", "手机提交", "直接访问", "1.2.3.5", "000012",
             "否", "(跳过)", "(跳过)"]]
    path = _workbook(tmp_path / "wjx.xlsx", {"Sheet1": [["家庭调查问卷"], headers, *rows]})
    frame = read_export(path, FORM)
    info = frame.attrs["export"]
    assert info.platform == "wenjuanxing" and info.header_row == 2 and info.variant == "text"
    assert "title-row" in {finding.rule for finding in info.findings}
    assert frame["has_children"].tolist() == ["1", "0"]
    assert frame.loc[0, "needs"] == "food 其他" and frame.loc[0, "needs_other"] == "修房子"
    assert frame.loc[1, "needs"] == SKIPPED and frame.loc[1, "income"] == SKIPPED
    assert info.skip_markers == {"needs": 1, "income": 1}
    assert frame["_duration_seconds"].tolist() == [1834.0, 600.0]


def test_wenjuanxing_code_export_options_and_minus_codes(tmp_path):
    numbered = [q for q in FORM.questions_in(None) if q.is_question]
    needs = next(n for n, q in enumerate(numbered, start=1) if q.name == "needs")
    headers = META + _wjx_headers(["has_children", "hh_size"]) + [
        f"{needs}(食物)", f"{needs}(上学)", f"{needs}(照料)"]
    rows = [[1, "2024/9/12 14:03:22", "100秒", "", "", "", "2", "4", "1", "0", "1"],
            [2, "2024/9/12 14:03:22", "100秒", "", "", "", "1", "-3", "-3", "-3", "-3"],
            [3, "2024/9/12 14:03:22", "100秒", "", "", "", "-2", "3", "-2", "-2", "-2"]]
    path = _workbook(tmp_path / "wjx_codes.xlsx", {"Sheet1": [headers, *rows]})
    frame = read_export(path, FORM)
    assert frame.attrs["export"].variant == "codes"
    assert frame["has_children"].tolist() == ["0", "1", NOT_SHOWN]  # option 2 of (1=是, 0=否)
    assert frame["needs"].tolist() == ["food care", SKIPPED, NOT_SHOWN]
    assert frame["hh_size"].tolist() == ["4", SKIPPED, "3"]


def test_wenjuanxing_old_xls_that_is_html(tmp_path):
    headers = META + _wjx_headers(["hh_id", "has_children"])
    cells = "".join(f"<th>{h}</th>" for h in headers)
    row = "".join(f"<td>{v}</td>" for v in ["1", "2024/9/12 14:03", "60秒", "", "", "",
                                             "010305", "是"])
    path = tmp_path / "wjx_old.xls"
    path.write_text(f"<html><body><table><tr>{cells}</tr><tr>{row}</tr></table></body></html>",
                    encoding="utf-8")
    frame = read_export(path, FORM)
    assert frame.attrs["export"].file_format == "html"
    assert frame.loc[0, "hh_id"] == "010305" and frame.loc[0, "has_children"] == "1"


def test_stata_and_spss_round_trip_with_value_labels(tmp_path):
    data = pd.DataFrame({"hh_id": ["010305", "000012"], "has_children": [1.0, 0.0],
                         "income": [3000.5, float("nan")]})
    labels = {"has_children": {1.0: "是", 0.0: "否"}}
    dta, sav = tmp_path / "round.dta", tmp_path / "round.sav"
    pyreadstat.write_dta(data, dta, variable_value_labels=labels)
    pyreadstat.write_sav(data, sav, variable_value_labels=labels,
                         column_labels=["户编号", "是否有孩子", "收入"])
    for path, platform in ((dta, "dta"), (sav, "sav")):
        frame = read_export(path, FORM)
        info = frame.attrs["export"]
        assert info.platform == platform
        assert frame["hh_id"].tolist() == ["010305", "000012"]
        assert frame["has_children"].tolist() == ["1", "0"]
        assert frame.loc[0, "income"] == "3000.5" and pd.isna(frame.loc[1, "income"])
        assert info.value_labels["has_children"] == {"1": "是", "0": "否"}
    assert read_export(sav).attrs["export"].variable_labels["hh_id"] == "户编号"


def test_plain_excel_keeps_text_and_flags_float_identifiers(tmp_path):
    path = _workbook(tmp_path / "plain.xlsx", {"Sheet1": [
        ["hh_id", "respondent_name", "hh_size", "id_card"],
        ["010305", "魏欣丽", 4, "330902199001011234"],
        ["000012", "张三", 2.0, 330902199001011234.0]]})
    frame = read_export(path, FORM)
    info = frame.attrs["export"]
    assert info.platform == "excel"
    assert frame["hh_size"].tolist() == ["4", "2"]
    assert info.damaged_identifiers == {"id_card": (2,)}
    assert "damaged-identifier" in {finding.rule for finding in info.findings}


def test_plain_csv_scientific_notation_is_reported():
    frame = read_export(EXPORTS / "plain_damaged_ids.csv", FORM)
    info = frame.attrs["export"]
    assert info.damaged_identifiers == {"id_card": (2,)}
    assert frame.loc[1, "hh_id"] == "000012"


def test_xlsx_that_is_really_csv_is_read_as_csv(tmp_path):
    path = tmp_path / "export.xlsx"
    path.write_text("hh_id,hh_size\n010305,4\n", encoding="utf-8")
    frame = read_export(path, FORM)
    assert frame.attrs["export"].file_format.startswith("csv (named .xlsx")
    assert frame.loc[0, "hh_id"] == "010305"


def test_input_frame_is_not_written_and_raw_file_untouched(tmp_path):
    path = EXPORTS / "kobo_household.csv"
    before = path.read_bytes()
    read_export_tables(path, FORM)
    assert path.read_bytes() == before
