"""Fuzzing of every reader and of the expression evaluator: only Doorstep's errors may escape.

Run with ``pytest -m fuzz tests/test_fuzz.py`` (``make fuzz``); about three minutes. Any
exception other than a :class:`~doorstep.errors.DoorstepError` is a bug in Doorstep: a user
would see a traceback instead of a message naming the file, row or column. The tests are
skipped unless ``-m`` selects ``fuzz``, so the default test run stays fast.

Inputs: random bytes under every suffix a reader accepts; near-valid CSV derived from a valid
export (separators dropped or added, quotes and line breaks inserted, truncation, re-encoding in
a random encoding); near-valid XLSX (truncated or with bytes changed); random sectioned-CSV
forms; random cleaning specs and evaluation configs; random token strings for the evaluator.
Then coverage-guided fuzzing with atheris (``tests/atheris_harness.py``, the ``fuzz`` extra) over
the readers and the evaluator for DOORSTEP_ATHERIS_SECONDS (default 90).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from doorstep.clean import validate_spec
from doorstep.config import load_config
from doorstep.errors import DoorstepError
from doorstep.instrument import lint_instrument, read_instrument
from doorstep.instrument.expressions import FUNCTIONS, evaluate
from doorstep.io import read_export

try:  # the marker is registered in pyproject.toml; until then the module still imports
    pytestmark = pytest.mark.fuzz
except pytest.fail.Exception:  # pragma: no cover - only without the registration
    pytestmark = pytest.mark.skip(reason="register the 'fuzz' marker in pyproject.toml")

EXAMPLES = int(os.environ.get("DOORSTEP_FUZZ_EXAMPLES", "6000"))  # about 3 minutes in all


def fuzz(weight: float = 1.0) -> settings:
    """Hypothesis settings: ``weight`` x EXAMPLES examples, no deadline, no example database."""
    return settings(max_examples=max(10, int(EXAMPLES * weight)), deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
SUFFIXES = (".csv", ".xlsx", ".xls", ".dta", ".sav", ".txt")
ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16", "utf-16-le", "utf-16-be",
             "latin-1", "big5", "shift_jis")
VALID_ROWS = [
    ["_uuid", "_submission_time", "__version__", "child_id", "child_age", "village_code",
     "caregiver_name", "inc_wages", "sports"],
    ["u1", "2024-03-01T10:00:00+08:00", "v1", "C0001", "7", "330902", "张三", "3000", "1 3"],
    ["u2", "2024-03-01T11:00:00+08:00", "v1", "C0002", "-99", "330902", "李四", "0.3万元", ""],
    ["u3", "2024-03-02T09:30:00+08:00", "v2", "C0003", "12", "010305", "王五, 小", "不知道",
     "2"],
]
VALID_CSV = "\n".join(",".join(f'"{c}"' if "," in c else c for c in row)
                      for row in VALID_ROWS) + "\n"


@pytest.fixture(autouse=True)
def _only_when_selected(request):
    if "fuzz" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("fuzzing runs only with -m fuzz (make fuzz)")


def _read_any(content: bytes, suffix: str) -> None:
    """Write ``content`` to a fresh file and read it: a frame or a DoorstepError, nothing else."""
    folder = tempfile.mkdtemp(prefix="doorstep-fuzz-")
    path = Path(folder) / f"export{suffix}"
    path.write_bytes(content)
    try:
        frame = read_export(path)
    except DoorstepError as error:
        assert str(error), "an error must say something"
    else:
        assert isinstance(frame, pd.DataFrame) and "_source_row" in frame.columns
    finally:
        leftovers = set(os.listdir(folder)) - {path.name}
        path.unlink()
        os.rmdir(folder)
    assert not leftovers, f"the reader wrote {leftovers}"


def _xlsx_bytes(rows: list[list[str]]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


VALID_XLSX = _xlsx_bytes(VALID_ROWS)


# ----------------------------------------------------------------------------------------------
# Readers
# ----------------------------------------------------------------------------------------------

@fuzz(3)
@given(content=st.binary(max_size=4096), suffix=st.sampled_from(SUFFIXES),
       magic=st.sampled_from([b"", b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
                              b"$FL2", b"<stata_dta>", b"<html><table>", b"\xef\xbb\xbf",
                              b"\xff\xfe"]))
def test_random_bytes(content, suffix, magic):
    _read_any(magic + content, suffix)


@st.composite
def near_valid_csv(draw) -> bytes:
    text = VALID_CSV
    for _ in range(draw(st.integers(0, 6))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.sampled_from([",", ";", "\t", '"', "\n", "\r\n", "\r", "'", "\x00",
                                      "3.30902E+17", "=cmd|' /C calc'!A0", "┋", "〖", "",
                                      "(跳过)", "-3", "序号,提交答卷时间", " "]))
        if action == "insert":
            text = text[:position] + piece + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + draw(st.integers(1, 20)):]
        else:
            text = text[:position] + piece + text[position + 1:]
    encoding = draw(st.sampled_from(ENCODINGS))
    data = text.encode(encoding, errors="replace")
    if draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data)))]
    return data


@fuzz(1)
@given(content=near_valid_csv(), suffix=st.sampled_from([".csv", ".csv", ".xlsx", ".txt"]))
def test_near_valid_csv(content, suffix):
    _read_any(content, suffix)


@st.composite
def near_valid_xlsx(draw) -> bytes:
    data = bytearray(VALID_XLSX)
    for _ in range(draw(st.integers(0, 4))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data)))]
    return bytes(data)


@fuzz(0.7)
@given(content=near_valid_xlsx(), suffix=st.sampled_from([".xlsx", ".xls", ".csv"]))
def test_near_valid_xlsx(content, suffix):
    _read_any(content, suffix)


@fuzz(0.3)
@given(rows=st.lists(st.lists(st.text(st.characters(blacklist_categories=("Cc", "Cs")),
                                      max_size=12), min_size=0, max_size=5), max_size=6))
def test_random_workbook_cells(rows):
    _read_any(_xlsx_bytes(rows), ".xlsx")


# ----------------------------------------------------------------------------------------------
# Instruments, cleaning specs, configs
# ----------------------------------------------------------------------------------------------

FORM_CELLS = st.sampled_from(["survey", "choices", "settings", "type", "name", "label",
                              "relevant", "constraint", "list_name", "integer", "text",
                              "select_one yn", "select_multiple yn", "begin_group",
                              "end_group", "begin_repeat", "end_repeat", "a", "b", "yn", "1",
                              "${a} = 1", "${b} > 0", ". > 0", "((", "", " ", "label::zh",
                              "calculate", "calculation"]) | st.text(max_size=6)


@fuzz(1)
@given(rows=st.lists(st.lists(FORM_CELLS, min_size=1, max_size=6), max_size=10))
def test_random_forms(rows):
    folder = tempfile.mkdtemp(prefix="doorstep-fuzz-")
    path = Path(folder) / "form.csv"
    import csv

    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    try:
        try:
            instrument = read_instrument(path)
        except DoorstepError:
            instrument = None
        with contextlib.suppress(DoorstepError):
            lint_instrument(path)
        if instrument is not None:
            for question in instrument.questions:
                for expression in (question.relevant, question.constraint):
                    if expression:
                        with contextlib.suppress(DoorstepError):
                            evaluate(expression, pd.DataFrame({"a": ["1"], "b": ["2"]}),
                                     current=pd.Series([1.0]))
    finally:
        path.unlink()
        os.rmdir(folder)


YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True)
    | st.text(max_size=10) | st.sampled_from(["child_id", "iqr", "flag", "yuan", "monthly",
                                             "../../etc/passwd", "a.csv"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["method", "threshold", "by", "action", "items", "rule", "variables",
                         "unit", "period", "width", "fallback", "links", "gps", "drop", "x"]),
        children, max_size=4),
    max_leaves=12,
)
SPEC_KEYS = st.sampled_from(["unit_id", "round_column", "missing_codes", "missing_texts",
                             "missing_code_overrides", "money", "identifiers", "id_cards",
                             "min_duration_minutes", "personal", "constraints", "skip_logic",
                             "typed_missing", "outliers", "straight_lining", "duplicates",
                             "panel", "pii", "corrections", "other_specify", "unknown"])


@fuzz(1)
@given(spec=st.dictionaries(SPEC_KEYS, YAML_VALUES, max_size=6))
def test_random_cleaning_specs(spec):
    with contextlib.suppress(DoorstepError):
        validate_spec({"unit_id": "child_id", **spec}, source="fuzz.yaml")


CONFIG_KEYS = st.sampled_from(["programme", "title", "language", "instrument", "cleaning",
                               "sources", "unit", "cluster", "design", "outcomes", "headline",
                               "covariates", "truth", "round_labels", "min_cell_size",
                               "fieldwork", "project_root", "allow_outside"])


@fuzz(0.4)
@given(changes=st.dictionaries(CONFIG_KEYS, YAML_VALUES, max_size=3))
def test_random_config_values(changes, tmp_path_factory):
    folder = tmp_path_factory.mktemp("config")
    survey = folder / "surveys" / "p"
    survey.mkdir(parents=True)
    for name in ("instrument.csv", "cleaning.yaml", "a.csv"):
        (survey / name).write_text("x\n", encoding="utf-8")
    raw = {"programme": "p", "title": {"en": "t"}, "instrument": "instrument.csv",
           "cleaning": "cleaning.yaml", "sources": [{"path": "a.csv", "round": 1}],
           "unit": "u", "cluster": "c", "design": {"type": "lottery"},
           "outcomes": {"y": "Y"}, "headline": {"main": "y"}, **changes}
    path = survey / "evaluation.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with contextlib.suppress(DoorstepError):
        load_config(path)


# ----------------------------------------------------------------------------------------------
# The expression evaluator
# ----------------------------------------------------------------------------------------------

TOKENS = st.sampled_from([
    "${a}", "${b}", "${missing}", "${ a }", "${", "}", ".", "..", "1", "0", "-1", "2.5", ".5",
    "1e5", "'x'", "'1 3'", '"3"', "''", "'", '"', "=", "!=", "<", "<=", ">", ">=", "+", "-",
    "*", "div", "mod", "and", "or", "(", ")", ",", " ", "not", "true()", "false()",
    "today()", "${a}=", "9" * 40, "\u4e2d", "\t", "\n", "$", "@", "#", "\\",
    *sorted(FUNCTIONS),
])
FRAME = pd.DataFrame({"a": ["1", "2 3", None, "-99", "abc", "2024-03-01"],
                      "b": [1.0, 0.0, float("nan"), -1.5, 1e300, 3.0]})


@fuzz(3)
@given(tokens=st.lists(TOKENS, max_size=25), current=st.sampled_from([None, 1, "x"]))
def test_random_token_strings(tokens, current):
    expression = "".join(tokens)
    try:
        result = evaluate(expression, FRAME, current=current)
    except DoorstepError:
        return
    assert result.dtype == bool and len(result) == len(FRAME)


@fuzz(3)
@given(text=st.text(max_size=60))
def test_random_text_expressions(text):
    try:
        result = evaluate(text, FRAME, current=pd.Series(range(len(FRAME)), dtype=float))
    except DoorstepError:
        return
    assert result.dtype == bool and len(result) == len(FRAME)


# ----------------------------------------------------------------------------------------------
# Coverage-guided (atheris)
# ----------------------------------------------------------------------------------------------

ATHERIS_SECONDS = int(os.environ.get("DOORSTEP_ATHERIS_SECONDS", "90"))


def test_coverage_guided_atheris(tmp_path):
    """libFuzzer, guided by Doorstep's branches, over the readers and the evaluator.

    ``make fuzz`` installs atheris (the ``fuzz`` extra) and sets DOORSTEP_REQUIRE_ATHERIS=1, so
    the test fails rather than skips without it. A crash leaves its input in ``tmp_path``.
    """
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec("atheris") is None:
        if os.environ.get("DOORSTEP_REQUIRE_ATHERIS") == "1":
            pytest.fail("atheris is not installed: pip install -e '.[fuzz]'")
        pytest.skip("atheris is not installed (pip install -e '.[fuzz]')")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    seeds = {"csv": bytes([0]) + VALID_CSV.encode("utf-8"), "xlsx": bytes([1]) + VALID_XLSX,
             "gbk": bytes([0]) + VALID_CSV.encode("gbk"),
             "expression": bytes([6]) + b"${a} > 1 and selected(${a}, '3') or . <= 2"}
    for name, content in seeds.items():
        (corpus / name).write_bytes(content)
    harness = Path(__file__).with_name("atheris_harness.py")
    completed = subprocess.run(
        [sys.executable, str(harness), f"-max_total_time={ATHERIS_SECONDS}",
         "-rss_limit_mb=4096", "-timeout=20", f"-artifact_prefix={tmp_path}/", str(corpus)],
        capture_output=True, text=True, cwd=tmp_path, timeout=ATHERIS_SECONDS + 120)
    crashes = sorted(path.name for path in tmp_path.glob("crash-*"))
    tail = "\n".join(completed.stderr.splitlines()[-40:])
    assert completed.returncode == 0 and not crashes, f"atheris found {crashes}:\n{tail}"
    runs = [line for line in completed.stderr.splitlines() if line.startswith("Done ")]
    assert runs, f"atheris did not report its runs:\n{tail}"
    print(runs[-1])
