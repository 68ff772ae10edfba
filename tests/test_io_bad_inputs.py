"""Bad input gets a DataError naming the file, the row or column, what was expected and found."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest

from doorstep.errors import DataError
from doorstep.io import read_export
from tests.conftest import ROOT

EXPORTS = ROOT / "tests" / "fixtures" / "exports"


def _xlsx_bytes(rows):
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "content", "message"), [
    ("empty.csv", b"", "the file is empty"),
    ("blank.csv", b"\n\n  \n", "the file is empty"),
    ("header_only.csv", "户编号,姓名\n".encode(), "has a header row but no data rows"),
    ("duplicate.csv", b"a,b,a\n1,2,3\n", "row 1: column 3 repeats the header 'a' of column 1"),
    ("blank_header.csv", b"a,,c\n1,2,3\n", "row 1: column 2 has no header"),
    ("not_text.csv", b"\x81\x30\xff\xfe\xfd" * 10 + b"\x00\xff", "none of them decode"),
])
def test_bad_text_files(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as error:
        read_export(path)
    assert str(path) in str(error.value)


def test_ragged_csv_names_the_row():
    with pytest.raises(DataError, match=r"ragged\.csv, row 3: expected 3 fields .* found 4"):
        read_export(EXPORTS / "ragged.csv")


def test_short_row_is_ragged_too(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"row 3: expected 3 fields .* found 2"):
        read_export(path)


def test_quoted_line_breaks_are_not_ragged(tmp_path):
    path = tmp_path / "multiline.csv"
    path.write_text('a,b\n1,"第一行\n第二行"\n2,x\n', encoding="utf-8")
    frame = read_export(path)
    assert frame.loc[0, "b"] == "第一行\n第二行" and frame.loc[1, "a"] == "2"


def test_truncated_workbook(tmp_path):
    path = tmp_path / "truncated.xlsx"
    path.write_bytes(_xlsx_bytes([["a"], ["1"]])[:400])
    with pytest.raises(DataError, match="truncated"):
        read_export(path)


def test_password_protected_workbook(tmp_path):
    # an encrypted .xlsx is an OLE2 container holding an "EncryptedPackage" stream
    container = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1000 + "EncryptedPackage".encode(
        "utf-16-le") + b"\x00" * 1000
    path = tmp_path / "locked.xlsx"
    path.write_bytes(container)
    with pytest.raises(DataError, match="password-protected"):
        read_export(path)


def test_damaged_legacy_xls(tmp_path):
    path = tmp_path / "broken.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with pytest.raises(DataError, match=r"broken\.xls: expected an Excel workbook"):
        read_export(path)


def test_zip_that_is_not_a_workbook(tmp_path):
    path = tmp_path / "export.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data.csv", "a,b\n1,2\n")
    with pytest.raises(DataError, match="found a zip archive"):
        read_export(path)


def test_html_without_a_table(tmp_path):
    path = tmp_path / "wjx.xls"
    path.write_text("<html><body>登录已过期</body></html>", encoding="utf-8")
    with pytest.raises(DataError, match="is an HTML page, not a workbook"):
        read_export(path)


def test_title_row_above_an_unknown_header_is_an_error(tmp_path):
    path = tmp_path / "titled.csv"
    path.write_text("2024年入户调查\nvillage,income\n010305,3000\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"row 1: expected the header row, found what looks "
                                        r"like a title \('2024年入户调查'\)"):
        read_export(path)


def test_duplicate_header_in_a_workbook_names_sheet_and_row(tmp_path):
    path = tmp_path / "dup.xlsx"
    path.write_bytes(_xlsx_bytes([["a", "a"], ["1", "2"]]))
    with pytest.raises(DataError, match="column 2 repeats the header 'a'"):
        read_export(path)


def test_value_outside_the_header_in_a_workbook(tmp_path):
    path = tmp_path / "wide.xlsx"
    path.write_bytes(_xlsx_bytes([["a", "b"], ["1", "2", "stray"]]))
    with pytest.raises(DataError, match=r"row 2: found a value \('stray'\) right of the last"):
        read_export(path)


def test_header_only_workbook(tmp_path):
    path = tmp_path / "header.xlsx"
    path.write_bytes(_xlsx_bytes([["a", "b"]]))
    with pytest.raises(DataError, match="header row but no data rows"):
        read_export(path)
