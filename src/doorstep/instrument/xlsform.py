"""Read an XLSForm (.xlsx, .xls or the sectioned .csv pyxform accepts) into an :class:`Instrument`.

This module owns the parsing of the ``survey``, ``choices`` and ``settings`` sheets: question
types (``integer``, ``decimal``, ``text``, ``select_one``/``select_multiple`` with ``or_other``,
``select_one_from_file``, ``date``, ``datetime``, ``geopoint``, ``calculate``, ``note``, groups and
repeats), the metadata types (``start``, ``end``, ``today``, ``deviceid``, ``username``), labels per
language, ``relevant``, ``constraint``, ``required``, ``choice_filter``, ``calculation`` and the
personal-data flag (a ``pii`` column, or SurveyCTO's ``identifier``). The raw cells of every sheet
are kept on the instrument (:class:`FormSheets`) so that :mod:`doorstep.instrument.lint` can
point at the exact sheet, row and column of a problem.

It must not import ``doorstep.io``, ``clean``, ``estimate``, ``report`` or ``run``.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from doorstep.errors import DataError

METADATA_TYPES = frozenset({
    "start", "end", "today", "deviceid", "username", "audit", "subscriberid", "simserial",
    "phonenumber", "email", "start-geopoint", "background-audio",
})
STRUCTURE_TYPES = frozenset({"begin_group", "end_group", "begin_repeat", "end_repeat"})
NON_QUESTION_TYPES = METADATA_TYPES | STRUCTURE_TYPES | {"note", "calculate"}
SELECT_TYPES = frozenset({
    "select_one", "select_multiple", "select_one_from_file", "select_multiple_from_file",
    "rank",
})
KNOWN_TYPES = NON_QUESTION_TYPES | SELECT_TYPES | frozenset({
    "integer", "decimal", "text", "date", "datetime", "time", "geopoint", "geotrace",
    "geoshape", "image", "audio", "video", "file", "barcode", "acknowledge", "range",
    "hidden", "xml-external", "csv-external", "trigger", "begin_table", "end_table",
    "caseid", "comments", "text audit", "speed_violations_count", "speed_violations_list",
    "speed_violations_audit", "sensor_statistic", "sensor_stream",
})
_TYPE_ALIASES = {
    "select one": "select_one", "select all that apply": "select_multiple",
    "select multiple": "select_multiple", "select_all_that_apply": "select_multiple",
    "begin group": "begin_group", "end group": "end_group", "begin repeat": "begin_repeat",
    "end repeat": "end_repeat", "int": "integer", "string": "text", "dateTime": "datetime",
    "datetime": "datetime", "select one from file": "select_one_from_file",
    "select multiple from file": "select_multiple_from_file", "begin_loop": "begin_repeat",
    "end_loop": "end_repeat", "begin loop": "begin_repeat", "end loop": "end_repeat",
}
TRUE_WORDS = frozenset({"yes", "true", "1", "true()", "y"})
_LABEL_COLUMN = re.compile(r"^label(?:\s*::\s*(?P<language>.+))?$", re.IGNORECASE)
_FORM_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".csv"}


# ----------------------------------------------------------------------------------------------
# Raw sheets
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sheet:
    """The raw cells of one XLSForm sheet.

    ``headers`` are the header cells as written (not stripped); ``rows`` pairs each data row's
    1-based row number in the file (the line number for a CSV form) with its cells keyed by
    header. Empty cells are absent from a row's mapping.
    """

    name: str
    headers: tuple[str, ...]
    rows: tuple[tuple[int, dict[str, str]], ...]

    def column(self, wanted: str) -> str | None:
        """The header that matches ``wanted`` ignoring case and surrounding spaces, or None."""
        for header in self.headers:
            if header.strip().lower() == wanted:
                return header
        return None


@dataclass(frozen=True)
class FormSheets:
    """The sheets of an XLSForm file, keyed by their lower-cased, stripped names."""

    path: str
    sheets: dict[str, Sheet]

    def get(self, name: str) -> Sheet | None:
        """Return the sheet called ``name`` (``survey``, ``choices``, ``settings``) or None."""
        return self.sheets.get(name)


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _sheet_from_cells(name: str, cells: list[list[str]], numbers: list[int]) -> Sheet:
    header_at = next((i for i, row in enumerate(cells) if any(c.strip() for c in row)), None)
    if header_at is None:
        return Sheet(name=name, headers=(), rows=())
    headers = tuple(cells[header_at])
    while headers and not headers[-1].strip():
        headers = headers[:-1]
    rows = []
    for row, number in zip(cells[header_at + 1:], numbers[header_at + 1:], strict=True):
        values = {header: value for header, value in zip(headers, row, strict=False)
                  if header.strip() and value.strip()}
        if values:
            rows.append((number, values))
    return Sheet(name=name, headers=headers, rows=tuple(rows))


def _read_csv_form(path: Path) -> dict[str, Sheet]:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DataError(f"{path}: expected a CSV XLSForm in UTF-8 or GB18030; cannot decode it")
    sections: dict[str, tuple[list[list[str]], list[int]]] = {}
    current: str | None = None
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row:
            continue
        section, content = row[0].strip(), row[1:]
        if section:
            current = section.lower()
            sections.setdefault(current, ([], []))
        if current is None:
            if any(cell.strip() for cell in content):
                raise DataError(
                    f"{path}, row {number}: expected the first column to name a sheet "
                    f"('survey', 'choices', 'settings') before any content, found {row[:3]}"
                )
            continue
        if any(cell.strip() for cell in content):
            sections[current][0].append(content)
            sections[current][1].append(number)
    return {name: _sheet_from_cells(name, cells, numbers)
            for name, (cells, numbers) in sections.items()}


def _read_workbook_form(path: Path) -> dict[str, Sheet]:
    engine = "xlrd" if path.suffix.lower() == ".xls" else "openpyxl"
    try:
        with warnings.catch_warnings():  # xlrd is deprecated in pandas, but reads .xls
            warnings.filterwarnings("ignore", message="The xlrd engine is deprecated")
            workbook = pd.read_excel(path, sheet_name=None, header=None, dtype=object,
                                     engine=engine, keep_default_na=False, na_values=[])
    except Exception as error:  # openpyxl/xlrd raise many types for a damaged workbook
        raise DataError(
            f"{path}: expected an XLSForm workbook, found a file {engine} cannot read "
            f"({type(error).__name__}: {error})"
        ) from error
    sheets = {}
    for sheet_name, frame in workbook.items():
        cells = [[_text(value) for value in row] for row in frame.itertuples(index=False)]
        numbers = [int(index) + 1 for index in frame.index]
        key = str(sheet_name).strip().lower()
        sheets[key] = _sheet_from_cells(key, cells, numbers)
    return sheets


def read_form_sheets(path: str | Path) -> FormSheets:
    """Read the raw sheets of an XLSForm file (.xlsx, .xlsm, .xls or sectioned .csv).

    Parameters
    ----------
    path
        The form. A CSV form names each sheet in its first column, then gives that sheet's
        header row and data rows from the second column on (the layout pyxform reads).

    Returns
    -------
    FormSheets
        Every sheet's header and non-empty rows with their row numbers in the file.

    Raises
    ------
    DataError
        If the file is missing, has another suffix, or cannot be read.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> form = pathlib.Path(tempfile.mkdtemp()) / "form.csv"
    >>> _ = form.write_text("survey,type,name,label\\n,integer,age,Age\\n")
    >>> read_form_sheets(form).get("survey").rows
    ((2, {'type': 'integer', 'name': 'age', 'label': 'Age'}),)
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: instrument file not found")
    suffix = path.suffix.lower()
    if suffix not in _FORM_SUFFIXES:
        raise DataError(
            f"{path}: expected an XLSForm as .xlsx, .xls or .csv, found suffix {suffix!r}"
        )
    sheets = _read_csv_form(path) if suffix == ".csv" else _read_workbook_form(path)
    return FormSheets(path=str(path), sheets=sheets)


# ----------------------------------------------------------------------------------------------
# Parsed instrument
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Choice:
    """One option of a choice list: its code (``name``) and its label per language."""

    list_name: str
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    row: int = 0


@dataclass(frozen=True)
class Question:
    """One row of the survey sheet that carries data (metadata, questions, calculations, notes).

    ``group_path`` lists the enclosing groups and repeats, outermost first; ``repeat_path`` only
    the enclosing repeats; ``list_name`` is set for select questions (the file name for
    ``select_one_from_file``); ``row`` is the 1-based row in the ``survey`` sheet.
    """

    name: str
    type: str
    labels: dict[str, str]
    group_path: tuple[str, ...] = ()
    list_name: str | None = None
    relevant: str | None = None
    constraint: str | None = None
    required: bool = False
    personal: bool = False
    row: int = 0
    repeat_path: tuple[str, ...] = ()
    calculation: str | None = None
    choice_filter: str | None = None
    or_other: bool = False

    @property
    def is_question(self) -> bool:
        """True for rows that an enumerator answers (not metadata, notes or calculations)."""
        return self.type not in NON_QUESTION_TYPES

    @property
    def is_select(self) -> bool:
        """True for select_one/select_multiple questions (also ``*_from_file``)."""
        return self.type in SELECT_TYPES

    @property
    def is_multiple(self) -> bool:
        """True for select_multiple questions, whose answer is space-joined codes."""
        return self.type in {"select_multiple", "select_multiple_from_file"}

    @property
    def in_repeat(self) -> bool:
        """True when the question sits inside a repeat group (one answer per repetition)."""
        return bool(self.repeat_path)

    @property
    def path(self) -> str:
        """The Kobo-style header of this question: its groups and its name joined by ``/``."""
        return "/".join((*self.group_path, self.name))


@dataclass(frozen=True)
class Instrument:
    """A parsed XLSForm: questions in form order and choice lists.

    Examples
    --------
    >>> instrument = Instrument(path="form.xlsx", title="demo", version="1", questions=(
    ...     Question(name="age", type="integer", labels={"en": "Age"}),), choices={})
    >>> instrument.names
    ('age',)
    """

    path: str
    title: str
    version: str
    questions: tuple[Question, ...]
    choices: dict[str, tuple[Choice, ...]]
    default_language: str | None = None
    repeats: tuple[str, ...] = ()
    sheets: FormSheets | None = field(default=None, compare=False, repr=False)

    @property
    def names(self) -> tuple[str, ...]:
        """All data-carrying names in form order."""
        return tuple(question.name for question in self.questions)

    @property
    def languages(self) -> tuple[str, ...]:
        """The label languages declared in the survey sheet, in column order."""
        seen: dict[str, None] = {}
        for question in self.questions:
            for language in question.labels:
                seen.setdefault(language, None)
        return tuple(seen)

    @property
    def personal_names(self) -> tuple[str, ...]:
        """Names of the questions flagged as personal data."""
        return tuple(question.name for question in self.questions if question.personal)

    def question(self, name: str) -> Question:
        """Return the question called ``name``; a :class:`KeyError` names the instrument."""
        for question in self.questions:
            if question.name == name:
                return question
        raise KeyError(f"{self.path}: the instrument has no question named {name!r}")

    def questions_in(self, repeat: str | None) -> tuple[Question, ...]:
        """The questions whose innermost repeat is ``repeat`` (None: the main, top-level table)."""
        return tuple(
            question for question in self.questions
            if (question.repeat_path[-1] if question.repeat_path else None) == repeat
        )

    def choice_labels(self, list_name: str, language: str) -> dict[str, str]:
        """Map each code of ``list_name`` to its label in ``language`` (code if no label)."""
        return {
            choice.name: choice.labels.get(language, choice.name)
            for choice in self.choices.get(list_name, ())
        }

    def label(self, name: str, language: str) -> str:
        """The label of question ``name`` in ``language``, falling back to the name."""
        return self.question(name).labels.get(language, name)


def language_of(column: str) -> str | None:
    """The language code of a ``label`` column, ``"default"`` for plain ``label``, else None.

    Examples
    --------
    >>> language_of("label::中文 (zh)"), language_of("label"), language_of("hint::en")
    ('zh', 'default', None)
    """
    match = _LABEL_COLUMN.match(column.strip())
    if match is None:
        return None
    language = match.group("language") or "default"
    code = re.search(r"\(([^)]+)\)\s*$", language)
    return code.group(1).strip() if code else language.strip()


def split_type(raw_type: str) -> tuple[str, str | None, bool]:
    """Split a ``type`` cell into (kind, list or file name, or_other).

    Examples
    --------
    >>> split_type("select_one sex or_other")
    ('select_one', 'sex', True)
    >>> split_type("begin group")
    ('begin_group', None, False)
    """
    text = " ".join(raw_type.split())
    for alias, kind in sorted(_TYPE_ALIASES.items(), key=lambda item: -len(item[0])):
        if text == alias or text.startswith(alias + " "):
            text = kind + text[len(alias):]
            break
    words = text.split(" ")
    kind = words[0]
    if kind == "datetime" or kind.lower() == "datetime":
        kind = "datetime"
    or_other = len(words) > 2 and words[-1] == "or_other"
    list_name = words[1] if kind in SELECT_TYPES and len(words) > 1 else None
    return kind, list_name, or_other


def _cell(row: dict[str, str], sheet: Sheet, column: str) -> str | None:
    header = sheet.column(column)
    if header is None:
        return None
    text = row.get(header, "").strip()
    return text or None


def instrument_from_sheets(form: FormSheets) -> Instrument:
    """Build an :class:`Instrument` from raw sheets (see :func:`read_form_sheets`).

    Unbalanced groups are tolerated here (an extra ``end group`` is ignored); the linter
    reports them.

    Examples
    --------
    >>> sheet = Sheet("survey", ("type", "name"), ((2, {"type": "integer", "name": "age"}),))
    >>> instrument_from_sheets(FormSheets("f.csv", {"survey": sheet})).names
    ('age',)
    """
    path = form.path
    survey = form.get("survey")
    if survey is None:
        raise DataError(f"{path}: expected an XLSForm sheet named 'survey', found sheets "
                        f"{sorted(form.sheets)}")
    for column in ("type", "name"):
        if survey.column(column) is None:
            raise DataError(
                f"{path}, sheet 'survey': expected a column {column!r}, "
                f"found columns {list(survey.headers)}"
            )
    label_columns = {c: language_of(c) for c in survey.headers if language_of(c)}
    personal_column = "pii" if survey.column("pii") else (
        "identifier" if survey.column("identifier") else None
    )
    questions: list[Question] = []
    stack: list[tuple[str, str]] = []  # (kind, name) of open groups and repeats
    repeats: list[str] = []
    for number, row in survey.rows:
        raw_type = _cell(row, survey, "type")
        if raw_type is None:
            continue
        kind, list_name, or_other = split_type(raw_type)
        name = _cell(row, survey, "name")
        if kind in {"begin_group", "begin_repeat"}:
            group_name = name or f"group_{number}"
            stack.append((kind, group_name))
            if kind == "begin_repeat":
                repeats.append(group_name)
            continue
        if kind in {"end_group", "end_repeat"}:
            if stack:
                stack.pop()
            continue
        if kind in {"begin_table", "end_table"}:
            continue
        if name is None:
            raise DataError(f"{path}, sheet 'survey', row {number}: a {raw_type!r} has no name")
        labels = {
            language: text
            for column, language in label_columns.items()
            if (text := row.get(column, "").strip())
        }
        personal_text = _cell(row, survey, personal_column) if personal_column else None
        questions.append(
            Question(
                name=name,
                type=kind,
                labels=labels,
                group_path=tuple(group for _, group in stack),
                list_name=list_name,
                relevant=_cell(row, survey, "relevant"),
                constraint=_cell(row, survey, "constraint"),
                required=(_cell(row, survey, "required") or "").lower() in TRUE_WORDS,
                personal=(personal_text or "").lower() in TRUE_WORDS,
                row=number,
                repeat_path=tuple(group for kind_, group in stack if kind_ == "begin_repeat"),
                calculation=_cell(row, survey, "calculation"),
                choice_filter=_cell(row, survey, "choice_filter"),
                or_other=or_other,
            )
        )

    choices: dict[str, list[Choice]] = {}
    choices_sheet = form.get("choices")
    if choices_sheet is not None and choices_sheet.column("list_name") is not None:
        choice_labels = {c: language_of(c) for c in choices_sheet.headers if language_of(c)}
        for number, row in choices_sheet.rows:
            list_name = _cell(row, choices_sheet, "list_name")
            name = _cell(row, choices_sheet, "name") or _cell(row, choices_sheet, "value")
            if list_name is None or name is None:
                continue
            labels = {
                language: text
                for column, language in choice_labels.items()
                if (text := row.get(column, "").strip())
            }
            choices.setdefault(list_name, []).append(Choice(list_name, name, labels, number))

    title = version = ""
    default_language = None
    settings = form.get("settings")
    if settings is not None and settings.rows:
        first = settings.rows[0][1]
        title = _cell(first, settings, "form_id") or _cell(first, settings, "form_title") or ""
        version = _cell(first, settings, "version") or ""
        declared = _cell(first, settings, "default_language")
        default_language = language_of(f"label::{declared}") if declared else None
    return Instrument(
        path=path,
        title=title or Path(path).stem,
        version=version,
        questions=tuple(questions),
        choices={key: tuple(value) for key, value in choices.items()},
        default_language=default_language,
        repeats=tuple(repeats),
        sheets=form,
    )


def read_instrument(path: str | Path) -> Instrument:
    """Read an XLSForm from .xlsx, .xls or a sectioned .csv.

    Parameters
    ----------
    path
        A form with ``survey`` and ``choices`` sheets (``settings`` optional).

    Returns
    -------
    Instrument
        Questions in form order with their group and repeat paths, labels per language and
        flags; the raw sheets are kept in ``instrument.sheets`` for the linter.

    Raises
    ------
    DataError
        If the file is missing, is not a form, or lacks the ``type``/``name`` columns.

    Examples
    --------
    >>> read_instrument("surveys/skills_workshops/instrument.xlsx").title  # doctest: +SKIP
    'skills_workshops'
    """
    return instrument_from_sheets(read_form_sheets(path))
