"""Text in every supported encoding round-trips through encode -> detect -> read."""

from __future__ import annotations

import codecs
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from doorstep.io import detect_encoding, read_export

ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16")
# common Chinese characters (all in GBK), ASCII letters and digits; no separators or quotes
CHINESE = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
ASCII = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-")
CELL = st.text(st.one_of(CHINESE, ASCII), min_size=1, max_size=12).filter(
    lambda text: text.strip() == text and text != "")
ROWS = st.lists(st.tuples(CELL, CELL), min_size=1, max_size=6)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ROWS, encoding=st.sampled_from(ENCODINGS))
def test_random_text_round_trips(rows, encoding):
    text = "name,village\n" + "".join(f"{a},{b}\n" for a, b in rows)
    try:
        raw = text.encode(encoding)
    except UnicodeEncodeError:  # pragma: no cover - the alphabet is inside GBK
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.csv"
        path.write_bytes(raw)
        frame = read_export(path)
    expected_encoding = {"utf-8-sig": "utf-8-sig", "utf-16": "utf-16"}.get(encoding)
    detected = frame.attrs["export"].encoding
    if expected_encoding:
        assert detected == expected_encoding
    assert raw.decode(detected) == text.encode(encoding).decode(encoding)
    assert list(zip(frame["name"], frame["village"], strict=True)) == rows


def test_gb18030_only_characters_and_utf16_without_bom():
    assert detect_encoding("𠀀村".encode("gb18030")) == "gb18030"
    assert detect_encoding("name,村\n".encode("utf-16-le")) == "utf-16-le"
    assert detect_encoding(codecs.BOM_UTF16_LE + "村".encode("utf-16-le")) == "utf-16"


def test_large_gbk_file_whose_first_bytes_are_ascii(tmp_path):
    # the first 64 KiB are ASCII (valid UTF-8), the GBK bytes come later: the full check runs
    rows = ["id,name"] + [f"{number:06d},abc" for number in range(12000)] + ["999999,魏欣丽"]
    path = tmp_path / "late_gbk.csv"
    path.write_bytes(("\n".join(rows) + "\n").encode("gbk"))
    frame = read_export(path)
    assert frame.attrs["export"].encoding == "gbk"
    assert frame["name"].iloc[-1] == "魏欣丽" and frame["id"].iloc[0] == "000000"


def test_utf8_bom_is_not_part_of_the_first_header(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(codecs.BOM_UTF8 + "户编号,姓名\n010305,魏欣丽\n".encode())
    frame = read_export(path)
    assert "户编号" in frame.columns and frame.loc[0, "户编号"] == "010305"
    assert pd.api.types.is_string_dtype(frame["户编号"])


@settings(max_examples=200, deadline=None)
@given(cells=st.lists(st.one_of(st.none(), st.sampled_from(
    ["3.30902E+17", " 1e+5 ", "+08:00", "E+", "e+x", "330902199001011234", "x E+17", "张三"]),
    st.text(alphabet="0123456789.eE+- 张", max_size=14)), min_size=1, max_size=30),
    start=st.integers(0, 5))
def test_scientific_rows_prefilter_finds_what_the_regular_expression_finds(cells, start):
    """The byte scan that skips columns without "E+" never hides a scientific-notation cell."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from doorstep.io.tables import SCIENTIFIC, scientific_rows

    array = pa.chunked_array([pa.array(cells, type=pa.large_string())[start:],
                              pa.array(cells, type=pa.large_string())])
    frame = pd.DataFrame({"id": pd.arrays.ArrowStringArray(array)})
    expected = pc.fill_null(pc.match_substring_regex(array, SCIENTIFIC), False).to_numpy(
        zero_copy_only=False)
    rows = tuple(int(row) + 1 for row in np.flatnonzero(expected))
    assert scientific_rows(frame) == ({"id": rows} if rows else {})
