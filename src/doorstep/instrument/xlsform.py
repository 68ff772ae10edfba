"""Read an XLSForm workbook into an immutable :class:`Instrument`.

Only what the readers and the cleaning engine need is parsed here: question types, group
paths, labels per language, choice lists, ``relevant``, ``constraint``, ``required`` and the
personal-data flag (``pii``, or SurveyCTO's ``identifier``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from doorstep.errors import DataError

METADATA_TYPES = frozenset({"start", "end", "today", "deviceid", "username", "audit"})
STRUCTURE_TYPES = frozenset({"begin_group", "end_group", "begin_repeat", "end_repeat"})
NON_QUESTION_TYPES = METADATA_TYPES | STRUCTURE_TYPES | {"note", "calculate"}
_TRUE_WORDS = frozenset({"yes", "true", "1", "true()", "y"})
_LABEL_COLUMN = re.compile(r"^label(?:::(?P<language>.+))?$")


@dataclass(frozen=True)
class Choice:
    """One option of a choice list: its code (``name``) and its label per language."""

    list_name: str
    name: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Question:
    """One row of the survey sheet that carries data (metadata and questions).

    ``group_path`` lists the enclosing groups, outermost first; ``list_name`` is set for
    select questions; ``row`` is the 1-based row in the ``survey`` sheet.
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

    @property
    def is_question(self) -> bool:
        """True for rows that an enumerator answers (not metadata, notes or calculations)."""
        return self.type not in NON_QUESTION_TYPES

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

    def choice_labels(self, list_name: str, language: str) -> dict[str, str]:
        """Map each code of ``list_name`` to its label in ``language`` (code if no label)."""
        return {
            choice.name: choice.labels.get(language, choice.name)
            for choice in self.choices.get(list_name, ())
        }

    def label(self, name: str, language: str) -> str:
        """The label of question ``name`` in ``language``, falling back to the name."""
        return self.question(name).labels.get(language, name)


def _language_of(column: str) -> str | None:
    match = _LABEL_COLUMN.match(column.strip())
    if match is None:
        return None
    language = match.group("language") or "default"
    code = re.search(r"\(([^)]+)\)\s*$", language)
    return code.group(1).strip() if code else language.strip()


def _cell(row: pd.Series, column: str) -> str | None:
    if column not in row.index:
        return None
    value = row[column]
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def _read_sheet(path: Path, sheet: str, required: bool) -> pd.DataFrame | None:
    try:
        return pd.read_excel(path, sheet_name=sheet, dtype=str, engine="openpyxl")
    except ValueError as error:
        if required:
            raise DataError(
                f"{path}: expected an XLSForm sheet named {sheet!r}, found none ({error})"
            ) from error
        return None


def read_instrument(path: str | Path) -> Instrument:
    """Read an XLSForm workbook.

    Parameters
    ----------
    path
        An .xlsx file with ``survey`` and ``choices`` sheets (``settings`` optional).

    Returns
    -------
    Instrument
        Questions in form order with their group paths, labels per language and flags.

    Raises
    ------
    DataError
        If the file is missing, is not a workbook, or lacks the ``type``/``name`` columns.

    Examples
    --------
    >>> read_instrument("surveys/skills_workshops/instrument.xlsx").title  # doctest: +SKIP
    'skills_workshops'
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: instrument file not found")
    try:
        survey = _read_sheet(path, "survey", required=True)
    except (OSError, KeyError, ValueError) as error:
        raise DataError(f"{path}: cannot read as an XLSForm workbook: {error}") from error
    choices_sheet = _read_sheet(path, "choices", required=False)
    settings = _read_sheet(path, "settings", required=False)
    for column in ("type", "name"):
        if column not in survey.columns:
            raise DataError(
                f"{path}, sheet 'survey': expected a column {column!r}, "
                f"found columns {list(survey.columns)}"
            )
    label_columns = {c: _language_of(c) for c in survey.columns if _language_of(c)}
    personal_column = "pii" if "pii" in survey.columns else (
        "identifier" if "identifier" in survey.columns else None
    )

    questions: list[Question] = []
    groups: list[str] = []
    for index, row in survey.iterrows():
        raw_type = _cell(row, "type")
        if raw_type is None:
            continue
        type_words = raw_type.split()
        kind = type_words[0]
        if len(type_words) > 1 and kind in {"begin", "end"}:  # "begin group", "end repeat"
            kind = f"{kind}_{type_words[1]}"
        name = _cell(row, "name")
        if kind in {"begin_group", "begin_repeat"}:
            groups.append(name or f"group_{index + 2}")
            continue
        if kind in {"end_group", "end_repeat"}:
            if groups:
                groups.pop()
            continue
        if name is None:
            raise DataError(f"{path}, sheet 'survey', row {index + 2}: a {raw_type!r} has no name")
        labels = {
            language: text
            for column, language in label_columns.items()
            if (text := _cell(row, column)) is not None
        }
        personal_text = _cell(row, personal_column) if personal_column else None
        questions.append(
            Question(
                name=name,
                type=kind,
                labels=labels,
                group_path=tuple(groups),
                list_name=type_words[1] if kind.startswith("select_") and len(type_words) > 1
                else None,
                relevant=_cell(row, "relevant"),
                constraint=_cell(row, "constraint"),
                required=(_cell(row, "required") or "").lower() in _TRUE_WORDS,
                personal=(personal_text or "").lower() in _TRUE_WORDS,
                row=index + 2,
            )
        )

    choices: dict[str, list[Choice]] = {}
    if choices_sheet is not None and "list_name" in choices_sheet.columns:
        choice_labels = {
            c: _language_of(c) for c in choices_sheet.columns if _language_of(c)
        }
        for _, row in choices_sheet.iterrows():
            list_name, name = _cell(row, "list_name"), _cell(row, "name")
            if list_name is None or name is None:
                continue
            labels = {
                language: text
                for column, language in choice_labels.items()
                if (text := _cell(row, column)) is not None
            }
            choices.setdefault(list_name, []).append(Choice(list_name, name, labels))

    title = version = ""
    default_language = None
    if settings is not None and len(settings):
        first = settings.iloc[0]
        title = _cell(first, "form_id") or _cell(first, "form_title") or ""
        version = _cell(first, "version") or ""
        default_language = _language_of(f"label::{_cell(first, 'default_language')}") if (
            _cell(first, "default_language")
        ) else None
    return Instrument(
        path=str(path),
        title=title or path.stem,
        version=version,
        questions=tuple(questions),
        choices={key: tuple(value) for key, value in choices.items()},
        default_language=default_language,
    )
