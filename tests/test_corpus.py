"""A corpus of malformed and hostile inputs, each with the Doorstep error it must give.

Every entry of :data:`CASES` names an input (a file in ``tests/corpus/``, or a binary file built
by the ``binary_corpus`` fixture), the entry point it is given to, the exception type and a
fragment of the message that must name the file, row or column, what was expected and what
was found. The exception must be one of Doorstep's own (so the ``doorstep`` command exits with
its documented code, checked on the exception and, for a few, through the command itself), and
the failing call must leave nothing behind: no new file beside the input, no output folder.

A few inputs must be *read* (a 100,000-character cell, formulas kept as text, a workbook with the
wrong suffix); they give ``None`` as the exception and a check of what was read instead.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from doorstep.clean import load_spec
from doorstep.clean import run as clean_run
from doorstep.cli import main as cli_main
from doorstep.config import load_config
from doorstep.errors import ConfigError, DataError, DoorstepError
from doorstep.instrument import lint_instrument, read_instrument
from doorstep.instrument.expressions import evaluate
from doorstep.io import read_export, read_table
from doorstep.run.batch import load_grid
from tests.conftest import ROOT

CORPUS = ROOT / "tests" / "corpus"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


# ----------------------------------------------------------------------------------------------
# Entry points: each takes the input's path (and the project folder for configs and grids)
# ----------------------------------------------------------------------------------------------

def _lint(path: Path, project: Path) -> object:
    """Lint a form; an error finding becomes a ConfigError carrying every error's text."""
    errors = [finding for finding in lint_instrument(path) if finding.severity == "error"]
    if errors:
        raise ConfigError(f"{path}: " + "; ".join(str(finding) for finding in errors))
    return errors


def _clean_with_form(path: Path, project: Path) -> object:
    """Clean a tiny frame with the form's skip logic (where circular relevance must stop)."""
    instrument = read_instrument(path)
    frame = pd.DataFrame({"child_id": ["c1", "c2"], **{q.name: ["1", "0"] for q in
                                                          instrument.questions}})
    return clean_run(frame, {"unit_id": "child_id"}, instrument=instrument)


def _clean_export(path: Path, project: Path) -> object:
    return clean_run(read_export(path), {"unit_id": "child_id"})


def _evaluate(path: Path, project: Path) -> object:
    frame = pd.DataFrame({"a": ["1", "2", None]})
    return evaluate(path.read_text(encoding="utf-8"), frame)


def _config(path: Path, project: Path) -> object:
    target = project / "surveys" / "p" / path.name
    shutil.copy(path, target)
    return load_config(target)


def _grid(path: Path, project: Path) -> object:
    target = project / "surveys" / path.name
    shutil.copy(path, target)
    return load_grid(target)


ENTRY_POINTS: dict[str, Callable[[Path, Path], object]] = {
    "read_export": lambda path, project: read_export(path),
    "read_export_kobo": lambda path, project: read_export(path, platform="kobo"),
    "read_table": lambda path, project: read_table(path),
    "read_instrument": lambda path, project: read_instrument(path),
    "lint": _lint,
    "clean_with_form": _clean_with_form,
    "clean_export": _clean_export,
    "evaluate": _evaluate,
    "load_spec": lambda path, project: load_spec(path),
    "load_config": _config,
    "load_grid": _grid,
}


@dataclass(frozen=True)
class Case:
    """One corpus input: what it is given to and what must come out."""

    name: str
    entry: str
    error: type[DoorstepError] | None
    message: str  # a regular expression searched in the message
    cli: tuple[str, int] | None = None  # (command, exit code) to check through `doorstep`
    check: Callable[[object], bool] | None = None  # for inputs that must be read
    seconds: float = 20.0  # a hostile input must be dealt with quickly, not hang


def _frame_check(test: Callable[[pd.DataFrame], bool]) -> Callable[[object], bool]:
    return lambda result: isinstance(result, pd.DataFrame) and bool(test(result))


def _findings(*rules: str) -> Callable[[object], bool]:
    return _frame_check(lambda frame: set(rules) <= {f.rule for f in
                                                      frame.attrs["export"].findings})


CASES = [
    # --- empty, header-only, headers -----------------------------------------------------
    Case("empty.csv", "read_export", DataError, r"empty\.csv: the file is empty"),
    Case("whitespace_only.csv", "read_export", DataError, "the file is empty"),
    Case("header_only.csv", "read_export", DataError, "has a header row but no data rows"),
    Case("header_only_bom_crlf.csv", "read_table", DataError, "header row but no data rows"),
    Case("duplicate_header.csv", "read_export", DataError,
         r"row 1: column 3 repeats the header 'child_id' of column 1"),
    Case("duplicate_header_after_strip.csv", "read_export", DataError,
         r"row 1: column 3 repeats the header 'child_age' of column 2"),
    Case("blank_header.csv", "read_export", DataError, r"row 1: column 2 has no header"),
    Case("whitespace_header.csv", "read_export", DataError, r"row 1: column 2 has no header"),
    Case("title_row_unknown_header.csv", "read_export", DataError,
         r"row 1: expected the header row, found what looks like a title"),
    # --- structure ---------------------------------------------------------------------------
    Case("ragged_extra_field.csv", "read_export", DataError,
         r"row 3: expected 3 fields like the header \(row 1\), found 4"),
    Case("ragged_short_row.csv", "read_export", DataError, r"row 3: expected 3 fields .* found 2"),
    Case("unclosed_quote.csv", "read_export", DataError,
         r"unclosed_quote\.csv, row 2: expected every quoted value to be closed"),
    Case("many_columns_one_line.csv", "read_export", None, "",
         check=_frame_check(lambda f: "c19999" in f.columns)),
    # --- encodings ---------------------------------------------------------------------------
    Case("binary_garbage.csv", "read_export", DataError,
         r"expected text in UTF-8, UTF-16, GBK or GB18030; found bytes that none"),
    Case("latin1.csv", "read_export", DataError, r"latin1\.csv: expected text in UTF-8"),
    Case("mixed_utf8_gbk.csv", "read_export", DataError, r"first bad byte at offset \d+"),
    Case("utf16_truncated_odd.csv", "read_export", DataError,
         r"utf16_truncated_odd\.csv: expected text in utf-16, found bytes it cannot decode"),
    Case("nul_bytes.csv", "read_export", None, "",
         check=_frame_check(lambda f: f["child_id"].tolist() == ["c1", "c2"])),
    # --- cells -------------------------------------------------------------------------------
    Case("long_cell_100k.csv", "read_export", None, "",
         check=_frame_check(lambda f: len(f.loc[0, "note"]) == 100_000)),
    Case("long_header_100k.csv", "read_export", None, "",
         check=_frame_check(lambda f: "h" * 100_000 in f.columns)),
    Case("formulas.csv", "read_export", None, "",
         check=_frame_check(lambda f: f.loc[0, "note"] == "=cmd|' /C calc'!A0"
                            and f.loc[1, "link"] == "-99")),
    Case("scientific_ids.csv", "read_export", None, "", check=_findings("damaged-identifier")),
    Case("scientific_ids.csv", "clean_export", DataError,
         r"column 'child_id' \(the unit id\): expected ids as the platform wrote them, found 2 "
         r"in scientific notation such as '3\.30902E\+17' \(scientific_ids\.csv row 1"),
    Case("mixed_form_versions.csv", "read_export", None, "", check=_findings("form-version-mix")),
    Case("kobo_label_mismatch.csv", "read_export_kobo", DataError,
         r"expected a kobo export, but its headers look like table"),
    # --- mislabelled and damaged files ---------------------------------------------------------
    Case("html_without_table.xls", "read_export", DataError,
         r"is an HTML page, not a workbook .* no table could be read"),
    Case("text_named_xlsx.xlsx", "read_export", DataError,
         r"expected an Excel workbook as its suffix '\.xlsx' says, found a text file"),
    Case("ole2_not_a_workbook.xls", "read_export", DataError,
         r"expected an Excel workbook, found a file xlrd cannot read"),
    Case("stata_garbage.dta", "read_export", DataError, r"expected a Stata \.dta file"),
    Case("spss_garbage.sav", "read_export", DataError, r"expected a SPSS \.sav file"),
    Case("missing_file.csv", "read_export", DataError, r"missing_file\.csv: file not found"),
    # binary inputs, built by the binary_corpus fixture
    Case("bin:truncated.xlsx", "read_export", DataError, "truncated or damaged zip"),
    Case("bin:damaged_zip_version.xlsx", "read_export", DataError,
         r"truncated or damaged zip \(zip file version 10\.5\)"),
    Case("bin:encrypted.xlsx", "read_export", DataError,
         r"password-protected \(an encrypted OLE2 container\)"),
    Case("bin:zip_not_workbook.xlsx", "read_export", DataError, "found a zip archive"),
    Case("bin:empty_sheet.xlsx", "read_export", DataError, "the first sheet is empty"),
    Case("bin:header_only.xlsx", "read_export", DataError, "header row but no data rows"),
    Case("bin:duplicate_headers.xlsx", "read_export", DataError,
         r"row 1: column 2 repeats the header 'child_id'"),
    Case("bin:value_right_of_header.xlsx", "read_export", DataError,
         r"row 3: found a value \('stray'\) right of the last header \(column 2\)"),
    # formulas are never evaluated: a cell reads as the value Excel cached (none here)
    Case("bin:formulas.xlsx", "read_export", None, "",
         check=_frame_check(lambda f: f["note"].isna().all() and len(f) == 2)),
    Case("bin:long_number_id.xlsx", "read_export", None, "",
         check=_findings("damaged-identifier")),
    # a workbook cell holds at most 32,767 characters (Excel's limit, kept by openpyxl)
    Case("bin:cell_100k.xlsx", "read_export", None, "",
         check=_frame_check(lambda f: len(f.loc[0, "note"]) == 32_767)),
    Case("bin:xlsx_named_xls.xls", "read_export", None, "",
         check=_frame_check(lambda f: f.attrs["export"].file_format == "xlsx")),
    Case("bin:csv_named_xlsx.xlsx", "read_export", None, "",
         check=_frame_check(lambda f: f.attrs["export"].file_format.startswith("csv (named"))),
    # --- instruments ---------------------------------------------------------------------------
    Case("instrument_circular_relevant.csv", "lint", ConfigError,
         r"row 2, column 'relevant': circular skip logic: .*'a' -> 'b' -> 'a'"),
    Case("instrument_circular_three.csv", "lint", ConfigError,
         r"circular skip logic: .*'a' -> 'c' -> 'b' -> 'a'"),
    Case("instrument_circular_relevant.csv", "clean_with_form", ConfigError,
         r"column 'relevant': circular skip logic \('a' -> 'b' -> 'a'\)"),
    Case("instrument_undefined_reference.csv", "lint", ConfigError,
         r"row 3, column 'relevant': \$\{nowhere\} refers to no question"),
    Case("instrument_unbalanced_group.csv", "lint", ConfigError, r"'g' is never closed"),
    Case("instrument_duplicate_name.csv", "lint", ConfigError,
         r"row 3, column 'name': the name 'a' is already used at row 2"),
    Case("instrument_no_survey_sheet.csv", "read_instrument", DataError,
         r"expected an XLSForm sheet named 'survey'"),
    Case("instrument_content_before_sheet.csv", "read_instrument", DataError,
         r"row 1: expected the first column to name a sheet"),
    Case("instrument_undecodable.csv", "read_instrument", DataError,
         r"expected a CSV XLSForm in UTF-8 or GB18030"),
    Case("instrument_wrong_suffix.txt", "read_instrument", DataError,
         r"expected an XLSForm as \.xlsx, \.xls or \.csv, found suffix '\.txt'"),
    Case("bin:encrypted.xlsx", "read_instrument", DataError, "cannot read"),
    # --- expressions ---------------------------------------------------------------------------
    Case("expr_deep_parentheses.txt", "evaluate", ConfigError,
         r"expected at most 40 nested parentheses"),
    Case("expr_deep_minus.txt", "evaluate", ConfigError, r"expected at most 40 nested"),
    Case("expr_deep_not.txt", "evaluate", ConfigError, r"expected at most 40 nested"),
    Case("expr_long_arithmetic_chain.txt", "evaluate", ConfigError,
         r"expected at most 100 levels of operators"),
    Case("expr_unknown_function.txt", "evaluate", ConfigError,
         r"position 0: unknown function 'system'"),
    Case("expr_python_injection.txt", "evaluate", ConfigError, r"unknown function '__import__'"),
    Case("expr_bad_character.txt", "evaluate", ConfigError, r"position 8: expected a name, .* "
                                                            r"found ';'"),
    Case("expr_unterminated_string.txt", "evaluate", ConfigError, r"position 7: expected"),
    Case("expr_invalid_regex.txt", "evaluate", ConfigError, r"regex\(\) expected a valid pattern"),
    Case("expr_missing_column.txt", "evaluate", ConfigError,
         r"refers to \$\{nope\}, expected a column of that name"),
    Case("expr_exponent_literal.txt", "evaluate", ConfigError, r"found 'e400'"),
    Case("expr_blank.txt", "evaluate", ConfigError, r"expected an expression, found the end"),
    Case("expr_current_without_value.txt", "evaluate", ConfigError,
         r"uses '\.', expected a current value"),
    Case("expr_wrong_arity.txt", "evaluate", ConfigError, r"if\(\) takes 3 arguments, found 2"),
    # --- cleaning specs ------------------------------------------------------------------------
    Case("spec_unknown_key.yaml", "load_spec", ConfigError, r"min_duraton_minutes"),
    Case("spec_wrong_type.yaml", "load_spec", ConfigError,
         r"min_duration_minutes.*expected .*found 'fifteen'"),
    Case("spec_not_mapping.yaml", "load_spec", ConfigError, r"spec_not_mapping\.yaml"),
    Case("spec_invalid_yaml.yaml", "load_spec", ConfigError, r"cannot read it"),
    Case("spec_missing_unit_id.yaml", "load_spec", ConfigError, r"expected a key 'unit_id'"),
    Case("spec_bad_outlier_method.yaml", "load_spec", ConfigError, r"zscore"),
    Case("spec_alias_bomb.yaml", "load_spec", ConfigError,
         r"unknown key\(s\) \['a', 'b', 'c', 'd', 'e', 'f'\]"),
    Case("spec_python_tag.yaml", "load_spec", ConfigError, r"cannot read it"),
    Case("spec_not_utf8.yaml", "load_spec", ConfigError, r"cannot read it"),
    # --- evaluation configs ----------------------------------------------------------------------
    Case("config_escape_relative.yaml", "load_config", ConfigError,
         r"sources\[1\]: expected a file inside the project root .*, found "
         r"'(\.\./)+etc/passwd', which leads to /etc/passwd", cli=("run", 2)),
    Case("config_escape_absolute.yaml", "load_config", ConfigError,
         r"instrument: expected a file inside the project root .* found '/etc/passwd'",
         cli=("run", 2)),
    Case("config_escape_symlink.yaml", "load_config", ConfigError,
         r"sources\[1\]: expected a file inside the project root .* which leads to /etc/passwd"),
    Case("config_escape_design_file.yaml", "load_config", ConfigError,
         r"design\.rollout: expected a file inside the project root"),
    Case("config_unknown_key.yaml", "load_config", ConfigError,
         r"unknown keys \['outcome_labels'\]", cli=("run", 2)),
    Case("config_source_not_text.yaml", "load_config", ConfigError,
         r"sources\[1\]: expected a file path \(text\), found 42"),
    Case("config_nul_in_path.yaml", "load_config", ConfigError,
         r"instrument: expected a file path \(text\)"),
    Case("config_allow_outside_not_bool.yaml", "load_config", ConfigError,
         r"allow_outside: expected true/false, found 'yes'"),
    Case("config_not_mapping.yaml", "load_config", ConfigError, r"expected a mapping of keys"),
    Case("config_python_tag.yaml", "load_config", ConfigError, r"not valid YAML"),
    Case("config_allow_outside_true.yaml", "load_config", None, "",
         check=lambda config: config.allow_outside and "outside" in str(config.sources[0].path)),
    # --- batch grids ---------------------------------------------------------------------------
    Case("grid_thousand_runs.yaml", "load_grid", ConfigError,
         r"allow_large: the grid expands to 1000 runs, more than 500", cli=("batch", 2)),
]


# ----------------------------------------------------------------------------------------------
# Fixtures: binary inputs and a small project for configs and grids
# ----------------------------------------------------------------------------------------------

def _xlsx(rows: list[list[object]], *, sheet_rows: bool = True) -> bytes:
    book = openpyxl.Workbook()
    if sheet_rows:
        for row in rows:
            book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _encrypted_ole2() -> bytes:
    """A minimal OLE2 compound file whose directory names an ``EncryptedPackage`` stream."""
    header = bytearray(512)
    header[:8] = OLE2
    header[0x18:0x1C] = b"\x3e\x00\x03\x00"  # minor/major version 3
    header[0x1C:0x1E] = b"\xfe\xff"  # little-endian marker
    header[0x1E:0x20] = b"\x09\x00"  # 512-byte sectors
    directory = bytearray(512)
    name = "EncryptedPackage".encode("utf-16-le") + b"\x00\x00"
    directory[:len(name)] = name
    directory[0x40:0x42] = len(name).to_bytes(2, "little")
    directory[0x42] = 2  # a stream
    return bytes(header) + bytes(directory) + b"\x00" * 1024


@pytest.fixture(scope="session")
def binary_corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("binary_corpus")
    good = _xlsx([["child_id", "note"], ["c1", "x"], ["c2", "y"]])
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("round1.csv", "child_id\nc1\n")
    damaged_version = bytearray(good)  # "version needed to extract" 10.5 in the directory
    entry = damaged_version.index(b"PK\x01\x02")
    damaged_version[entry + 6:entry + 8] = (105).to_bytes(2, "little")
    files = {
        "truncated.xlsx": good[: len(good) // 3],
        "damaged_zip_version.xlsx": bytes(damaged_version),
        "encrypted.xlsx": _encrypted_ole2(),
        "zip_not_workbook.xlsx": zipped.getvalue(),
        "empty_sheet.xlsx": _xlsx([]),
        "header_only.xlsx": _xlsx([["child_id", "note"]]),
        "duplicate_headers.xlsx": _xlsx([["child_id", "child_id"], ["c1", "c2"]]),
        "value_right_of_header.xlsx": _xlsx([["child_id", "note"], ["c1", "x"],
                                             ["c2", "y", "stray"]]),
        "formulas.xlsx": _xlsx([["child_id", "note"],
                                ["c1", '=HYPERLINK("http://evil.example","click")'],
                                ["c2", "=cmd|' /C calc'!A0"]]),
        "long_number_id.xlsx": _xlsx([["child_id", "id_card"], ["c1", 330902199001011234],
                                      ["c2", 330902199001015678]]),
        "cell_100k.xlsx": _xlsx([["child_id", "note"], ["c1", "长" * 100_000]]),
        "xlsx_named_xls.xls": good,
        "csv_named_xlsx.xlsx": b"child_id,note\nc1,x\nc2,y\n",
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


@pytest.fixture(scope="session")
def corpus_project(tmp_path_factory) -> Path:
    """``<tmp>/proj/surveys/p/`` with a tiny form and spec, ``data/p/raw/`` beside it, and an
    ``outside/`` folder and a symbolic link that lead out of the project."""
    base = tmp_path_factory.mktemp("corpus_project")
    project = base / "proj"
    survey = project / "surveys" / "p"
    raw = project / "data" / "p" / "raw"
    survey.mkdir(parents=True)
    raw.mkdir(parents=True)
    (survey / "instrument.csv").write_text(
        "survey,type,name,label\n,text,child_id,Child\n,integer,sdq_total,SDQ\n",
        encoding="utf-8")
    (survey / "cleaning.yaml").write_text("unit_id: child_id\n", encoding="utf-8")
    (raw / "round1.csv").write_text("child_id,sdq_total\nc1,3\n", encoding="utf-8")
    (raw / "rollout.csv").write_text("village_code,start_round\nv1,2\n", encoding="utf-8")
    (base / "outside").mkdir()
    (base / "outside" / "round1.csv").write_text("child_id\nc1\n", encoding="utf-8")
    os.symlink("/etc/passwd", raw / "innocent.csv")
    shutil.copy(CORPUS / "config_allow_outside_true.yaml", survey / "evaluation.yaml")
    return project


def _input(case: Case, binary_corpus: Path) -> Path:
    if case.name.startswith("bin:"):
        return binary_corpus / case.name[4:]
    return CORPUS / case.name


def _listing(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")}


# ----------------------------------------------------------------------------------------------
# The test
# ----------------------------------------------------------------------------------------------

def test_corpus_is_large_enough():
    assert len(CASES) >= 50
    on_disk = {path.name for path in CORPUS.iterdir()}
    named = {case.name for case in CASES if not case.name.startswith("bin:")}
    assert on_disk - named == set(), "every corpus file has a case"
    assert named - on_disk == {"missing_file.csv"}


@pytest.mark.parametrize("case", CASES, ids=[f"{c.entry}:{c.name}" for c in CASES])
def test_corpus_input(case: Case, binary_corpus: Path, corpus_project: Path):
    path = _input(case, binary_corpus)
    watched = [path.parent, corpus_project]
    before = {folder: _listing(folder) for folder in watched}
    started = time.perf_counter()
    if case.error is None:
        result = ENTRY_POINTS[case.entry](path, corpus_project)
        assert case.check is not None and case.check(result), f"{case.name}: unexpected read"
    else:
        with pytest.raises(DoorstepError) as raised:
            ENTRY_POINTS[case.entry](path, corpus_project)
        error = raised.value
        assert type(error) is case.error, f"{case.name}: {type(error).__name__}: {error}"
        assert re.search(case.message, str(error)), f"{case.name}: message was: {error}"
        assert error.exit_code == case.error.exit_code in (2, 3)
        assert path.name in str(error) or case.entry in {"evaluate", "clean_with_form",
                                                          "clean_export", "lint"}
    assert time.perf_counter() - started < case.seconds, f"{case.name} took too long"
    for folder in watched:  # nothing written beside the input or into the project
        new = _listing(folder) - before[folder]
        new = {name for name in new if not name.startswith(("surveys/p/config_", "surveys/grid_"))
               or name.endswith(".tmp")}
        assert new == set(), f"{case.name}: left {sorted(new)} in {folder}"


CLI_CASES = [case for case in CASES if case.cli]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c.name for c in CLI_CASES])
def test_corpus_through_the_command(case: Case, corpus_project: Path, tmp_path: Path, capsys):
    """The ``doorstep`` command exits with the error's code, says why, and writes nothing."""
    command, code = case.cli
    if command == "run":
        target = corpus_project / "surveys" / "p" / case.name
        shutil.copy(CORPUS / case.name, target)
        out = tmp_path / "reports"
        argv = ["run", str(target), "--run-dir", str(out / "run1")]
    else:
        target = corpus_project / "surveys" / case.name
        shutil.copy(CORPUS / case.name, target)
        out = corpus_project / "reports"
        argv = ["batch", str(target), "--workers", "1", "--quiet"]
    assert cli_main(argv) == code
    stderr = capsys.readouterr().err
    assert stderr.startswith(f"doorstep {command}: error: ") and re.search(case.message, stderr)
    assert not out.exists() or not any(out.iterdir()), f"left {list(out.iterdir())}"


# ----------------------------------------------------------------------------------------------
# Regressions found by fuzzing (tests/test_fuzz.py): the minimal inputs, kept as fast checks
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "content", "message"), [
    ("empty_table.csv", b"<html><table>", r"first <table> has no cells"),  # max() of nothing
    ("broken_page.csv", b"<html", r"no table could be read"),  # lxml ParserError
    ("bom_utf16_page.csv", b"\xff\xfe<meta", r"expected an HTML page in utf-16"),
    ("carriage_return.csv", b"\ra,b\n1,2\n", None),  # csv.Error in the header sniffing
    ("cut_in_a_character.csv", b"\xef\xbb\xbf;;a,b\n1,2\n3,\xe6", r"cannot decode as utf-8-sig"),
])
def test_fuzz_regressions(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    if message is None:
        with contextlib.suppress(DoorstepError):
            read_export(path)
        return
    with pytest.raises(DataError, match=message):
        read_export(path)


def test_header_slash_alone_is_a_column(tmp_path):
    """A header '/' once made the Kobo-less mapping split on an empty separator."""
    path = tmp_path / "slash.csv"
    path.write_text("_uuid,g/a,a,/\nu1,1,2,3\n", encoding="utf-8")
    frame = read_export(path)
    assert {"g/a", "a", "/"} <= set(frame.columns)  # no column is lost to another's short name
    assert frame.loc[0, "a"] == "2" and frame.loc[0, "g/a"] == "1"


def test_round_labels_with_bad_keys(corpus_project):
    config = corpus_project / "surveys" / "p" / "round_labels.yaml"
    text = (CORPUS / "config_allow_outside_true.yaml").read_text(encoding="utf-8")
    config.write_text(text + "round_labels: {method: null}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"round_labels: expected round numbers mapped to "
                                          r"labels \(text\), found 'method': None"):
        load_config(config)
    config.unlink()


def test_panel_links_scale_with_many_lonely_rows():
    """link_rounds compared every lonely row with every unit by scanning the frame: cubic.

    3,000 units seen only in round 2 against 3,000 only in round 1 took minutes; now the
    candidates come from indexes (one-character id typos, names, village and age).
    """
    from doorstep.clean.review import PanelRule, link_rounds

    n = 3000
    frame = pd.DataFrame({
        "id": [f"A{i:05d}" for i in range(n)] + [f"B{i:05d}" for i in range(n)] + ["A0O007"],
        "round": [1] * n + [2] * n + [2],
        "name": [f"name{i % 500}" for i in range(2 * n)] + ["name7"],
        "age": [str(5 + i % 10) for i in range(2 * n)] + ["12"],
        "village": [f"v{i % 30}" for i in range(2 * n)] + ["v7"],
    })
    started = time.perf_counter()
    links = link_rounds(frame, PanelRule("id", name="name", age="age", village="village"))
    assert time.perf_counter() - started < 30
    typo = links[links["recorded_id"] == "A0O007"]
    assert typo["candidate_id"].iloc[0] == "A00007" and typo["score"].iloc[0] == 1.0
