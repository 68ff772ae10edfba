"""Instruments: XLSForm reading (.csv, .xlsx), codebooks and the form linter."""

from __future__ import annotations

import csv
import io

import openpyxl
import pandas as pd
import pytest

from doorstep.errors import DataError
from doorstep.instrument import (
    instrument_codebook,
    lint_instrument,
    read_instrument,
    write_codebook,
)
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "instruments"
HOUSEHOLD = FIXTURES / "household.csv"


def _sections(path):
    """The CSV form's sheets as {sheet: [header, *rows]} (to write them as a workbook)."""
    sheets: dict[str, list[list[str]]] = {}
    current = None
    for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8"))):
        if row[0]:
            current = row[0]
            sheets[current] = []
        if any(row[1:]):
            sheets[current].append(row[1:])
    return sheets


def _write_xlsx(sheets, path):
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append([cell if cell != "" else None for cell in row])
    book.save(path)
    return path


def test_csv_form_types_groups_repeats_and_flags():
    form = read_instrument(HOUSEHOLD)
    assert form.title == "household" and form.version == "2024030101"
    assert form.default_language == "zh" and set(form.languages) == {"zh", "en"}
    assert form.repeats == ("members",)
    age = form.question("member_age")
    assert age.repeat_path == ("members",) and age.group_path == ("members",)
    assert age.constraint == ". >= 0"
    needs = form.question("needs")
    assert (needs.type, needs.list_name, needs.or_other, needs.is_multiple) == (
        "select_multiple", "needs", True, True)
    assert form.question("village").type == "select_one_from_file"
    assert form.question("village").list_name == "villages.csv"
    assert form.question("village_code").choice_filter == "town = ${township}"
    assert form.question("n_needs").calculation == "count-selected(${needs})"
    assert form.question("hh_size").group_path == ("household",)
    assert form.question("hh_size").required
    assert set(form.personal_names) == {"respondent_name", "member_name", "gps"}
    assert form.question("end").type == "end"
    assert form.question("intro").type == "note"
    assert [q.name for q in form.questions_in("members")] == ["member_name", "member_age"]
    assert form.choice_labels("township", "en")["01"] == "Shenjiamen"  # leading zero kept


def test_xlsx_form_reads_like_the_csv_form_and_surveycto_identifier(tmp_path):
    sheets = _sections(HOUSEHOLD)
    sheets["survey"][0] = ["identifier" if c == "pii" else c for c in sheets["survey"][0]]
    form = read_instrument(_write_xlsx(sheets, tmp_path / "household.xlsx"))
    assert form.names == read_instrument(HOUSEHOLD).names
    assert set(form.personal_names) == {"respondent_name", "member_name", "gps"}
    # "None" is a label, not a missing value (pandas would read it as NaN)
    assert form.choice_labels("yesno", "zh") == {"1": "是", "0": "否"}


def test_bad_form_files(tmp_path):
    with pytest.raises(DataError, match="instrument file not found"):
        read_instrument(tmp_path / "missing.xlsx")
    odd = tmp_path / "form.txt"
    odd.write_text("x")
    with pytest.raises(DataError, match=r"expected an XLSForm as \.xlsx, \.xls or \.csv"):
        read_instrument(odd)
    no_name = tmp_path / "no_name.csv"
    no_name.write_text("survey,type,label\n,text,Name\n")
    with pytest.raises(DataError, match="expected a column 'name'"):
        read_instrument(no_name)


def test_codebook_frame_and_files(tmp_path):
    form = read_instrument(HOUSEHOLD)
    codebook = instrument_codebook(form)
    row = codebook.set_index("name").loc["township"]
    assert row["label::zh"] == "乡镇" and row["label::en"] == "Township"
    assert row["value_labels::en"] == "01=Shenjiamen; 02=Donggang"
    assert row["allowed_values"] == "01=沈家门街道; 02=东港街道"
    assert codebook.set_index("name").loc["member_age", "repeat_path"] == "members"
    assert codebook.set_index("name").loc["respondent_name", "personal"]
    assert codebook.set_index("name").loc["needs", "allowed_values"].endswith("other=...")
    for suffix in (".csv", ".xlsx", ".md"):
        written = write_codebook(form, tmp_path / f"codebook{suffix}")
        assert written.is_file()
    back = pd.read_csv(tmp_path / "codebook.csv", dtype=str, encoding="utf-8-sig")
    assert back["name"].tolist() == codebook["name"].tolist()
    assert pd.read_excel(tmp_path / "codebook.xlsx", dtype=str)["name"].tolist() == \
        codebook["name"].tolist()
    markdown = (tmp_path / "codebook.md").read_text(encoding="utf-8")
    assert markdown.startswith("| name | label::zh |") and "| township |" in markdown
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "codebook.csv", "codebook.md", "codebook.xlsx"]  # no temporary files left
    with pytest.raises(DataError, match="expected a codebook suffix"):
        write_codebook(form, tmp_path / "codebook.json")


@pytest.mark.parametrize("programme", ["caring_mothers", "skills_workshops"])
def test_demo_instruments_lint_clean(programme):
    findings = lint_instrument(ROOT / "surveys" / programme / "instrument.xlsx")
    assert findings == [], [str(finding) for finding in findings]


def test_fixture_instrument_lints_clean():
    assert lint_instrument(read_instrument(HOUSEHOLD)) == []


BASE = """survey,type,name,label::中文 (zh),label::English (en),relevant,constraint,calculation
,integer,age,年龄,Age,,,
,select_one yesno,married,已婚,Married,,,
{survey}choices,list_name,name,label::中文 (zh),label::English (en)
,yesno,1,是,Yes
,yesno,0,否,No
{choices}"""

BROKEN = {
    "duplicate-name": (",integer,age,年龄,Age again,,,\n", "", 4),
    "undefined-choice-list": (",select_one colours,colour,颜色,Colour,,,\n", "", 4),
    "unused-choice-list": ("", ",spare,1,一,One\n", 7),
    "duplicate-choice-code": ("", ",yesno,1,是的,Yes again\n", 7),
    "missing-label": (",text,nickname,小名,,,,\n", "", 4),
    "unbalanced-group": (",begin group,g1,组,Group,,,\n,integer,n,数,N,,,\n", "", 4),
    "invalid-name": (",integer,2nd_visit,第二次,Second,,,\n", "", 4),
    "name-too-long-for-stata": (
        ",begin repeat,kids,孩子,Kids,,,\n,integer,number_of_school_days_missed_x,天数,Days,,,\n"
        ",end repeat,,,,,,\n", "", 5),
    "stray-space": (",integer, spaced ,空格,Spaced,,,\n", "", 4),
    "undefined-reference": (",integer,kids,孩子数,Kids,${marryed} = 1,,\n", "", 4),
    "missing-calculation": (",calculate,total,,,,,\n", "", 4),
    "space-in-choice-code": ("", ",yesno,not sure,不确定,Not sure\n", 7),
}


@pytest.mark.parametrize("rule", sorted(BROKEN))
def test_each_lint_rule_names_sheet_and_row(tmp_path, rule):
    survey, choices, row = BROKEN[rule]
    path = tmp_path / "form.csv"
    path.write_text(BASE.format(survey=survey, choices=choices), encoding="utf-8")
    findings = lint_instrument(path)
    hits = [finding for finding in findings if finding.rule == rule]
    assert hits, [str(finding) for finding in findings]
    assert hits[0].row == row, str(hits[0])
    assert hits[0].sheet == ("choices" if choices else "survey")
    others = {finding.rule for finding in findings} - {rule}
    if rule == "undefined-choice-list":
        others -= {"unused-choice-list"}
    assert not others, [str(finding) for finding in findings]


def test_lint_select_multiple_option_suffix_and_mismatched_end(tmp_path):
    path = tmp_path / "form.csv"
    path.write_text(
        "survey,type,name,label\n"
        ",begin repeat,r,R\n"
        ",select_multiple things,a_fairly_long_question_name,Q\n"
        ",end group,,\n"
        "choices,list_name,name,label\n"
        ",things,an_option_code_that_is_long,Option\n", encoding="utf-8")
    rules = {(finding.rule, finding.row) for finding in lint_instrument(path)}
    assert ("name-too-long-for-stata", 3) in rules  # a_fairly_long_..._an_option_... > 32
    assert ("unbalanced-group", 4) in rules  # "end group" closes a repeat
