"""Lint an XLSForm before it goes to the field: each problem as a :class:`Finding`.

This module owns the form checks, at least those of DIME's ``ietestform``: duplicate names,
undefined and unused choice lists, duplicate choice codes, missing labels in a declared language,
unbalanced ``begin``/``end`` group and repeat, invalid XML names, names too long for Stata once
repeats and select_multiple option columns add their suffixes, stray spaces around names, types
and codes, and ``${name}`` references to undefined names. Every finding names the sheet and the
row (as numbered in the file) so that a form author can jump to it.

It works on the raw cells (:class:`~doorstep.instrument.xlsform.FormSheets`), not on the parsed
instrument, because the parser forgives what the linter must report. It must not import
``doorstep.io``, ``clean``, ``estimate``, ``report`` or ``run``.

Rules (``Finding.rule``)
------------------------
``missing-sheet``, ``missing-column``, ``missing-type``, ``missing-name``,
``unknown-type`` (warning),
``duplicate-name``, ``invalid-name``, ``stray-space``, ``name-too-long-for-stata`` (warning),
``unbalanced-group``, ``undefined-choice-list``, ``unused-choice-list`` (warning),
``duplicate-choice-code``, ``space-in-choice-code`` (select_multiple answers are space-joined),
``missing-label`` (a declared language lacks the label), ``undefined-reference``,
``self-reference`` (warning: ``${name}`` in its own relevant), ``circular-relevant`` (the
relevants of two or more questions refer to each other in a cycle, so no order of asking
them is consistent; ODK rejects such a form), ``missing-calculation``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from doorstep.instrument.xlsform import (
    KNOWN_TYPES,
    FormSheets,
    Instrument,
    Sheet,
    language_of,
    read_form_sheets,
    split_type,
)

STATA_NAME_LIMIT = 32
UNKNOWN_REPEAT_DIGITS = 2  # a repeat without a literal repeat_count is assumed to reach _99
_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_EXPRESSION_COLUMNS = ("relevant", "constraint", "calculation", "choice_filter", "required",
                       "repeat_count", "default", "trigger")
_NEEDS_LABEL = frozenset({"integer", "decimal", "text", "select_one", "select_multiple",
                          "select_one_from_file", "select_multiple_from_file", "date",
                          "datetime", "time", "geopoint", "geotrace", "geoshape", "note",
                          "image", "audio", "video", "file", "barcode", "acknowledge", "range",
                          "rank"})

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One problem of a form (or of an export): where it is, how bad, and what to do.

    ``row`` is the row number in the file (the header is row 1), or None for a whole-sheet
    problem; ``column`` the header of the cell; ``name`` the question or choice list concerned.

    Examples
    --------
    >>> Finding("survey", 4, "name", "age", "error", "duplicate-name", "...").severity
    'error'
    """

    sheet: str
    row: int | None
    column: str | None
    name: str | None
    severity: Severity
    rule: str
    message: str

    def __str__(self) -> str:
        where = f"sheet {self.sheet!r}" + (f", row {self.row}" if self.row else "") + (
            f", column {self.column!r}" if self.column else "")
        return f"{self.severity}: {where}: {self.message} [{self.rule}]"


def is_xml_name(name: str) -> bool:
    """True when ``name`` is a valid XML element name (what ODK requires of a field name).

    Examples
    --------
    >>> is_xml_name("child_age"), is_xml_name("2nd_visit"), is_xml_name("a b")
    (True, False, False)
    """
    if not name:
        return False
    first = name[0]
    if not (first == "_" or unicodedata.category(first)[0] == "L"):
        return False
    return all(
        char in "_.-" or unicodedata.category(char)[0] in "LN" or unicodedata.category(char)
        in {"Mn", "Mc"} for char in name[1:]
    )


def _stray(value: str) -> bool:
    return value != value.strip()


class _Collector:
    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def add(self, sheet: str, row: int | None, column: str | None, name: str | None,
            severity: Severity, rule: str, message: str) -> None:
        self.findings.append(Finding(sheet, row, column, name, severity, rule, message))


def _repeat_suffix_length(repeat_counts: Iterable[str | None]) -> int:
    length = 0
    for count in repeat_counts:
        digits = len(count) if count and count.isdigit() else UNKNOWN_REPEAT_DIGITS
        length += 1 + digits
    return length


def relevance_cycles(relevant: Iterable[tuple[str, Iterable[str]]]) -> list[tuple[str, ...]]:
    """Cycles of two or more questions whose ``relevant`` refer to each other.

    Parameters
    ----------
    relevant
        Pairs (question name, names its ``relevant`` refers to), in form order.

    Returns
    -------
    list of tuple of str
        Each cycle once, starting at its member that comes first in the form, in the order of
        the references (``a`` refers to ``b``, ..., the last refers back to ``a``).

    Examples
    --------
    >>> relevance_cycles([("a", ["b"]), ("b", ["a"]), ("c", ["a"])])
    [('a', 'b')]
    """
    graph: dict[str, list[str]] = {}
    order: dict[str, int] = {}
    for name, references in relevant:
        order.setdefault(name, len(order))
        graph.setdefault(name, []).extend(r for r in references if r != name)
    cycles: list[tuple[str, ...]] = []
    seen: set[frozenset[str]] = set()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in graph:
        if state.get(start):
            continue
        path: list[str] = []
        stack = [(start, iter(graph.get(start, ())))]
        state[start] = 1
        path.append(start)
        while stack:  # iterative depth-first search: a long chain cannot overflow the stack
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            if state.get(child) == 1:
                cycle = path[path.index(child):]
                key = frozenset(cycle)
                if key not in seen:
                    seen.add(key)
                    first = min(range(len(cycle)), key=lambda i: order.get(cycle[i], 1 << 30))
                    cycles.append(tuple(cycle[first:] + cycle[:first]))
            elif not state.get(child) and child in graph:
                state[child] = 1
                path.append(child)
                stack.append((child, iter(graph[child])))
    return cycles


def _lint_survey(survey: Sheet, choices: Sheet | None, out: _Collector) -> None:
    type_column = survey.column("type")
    name_column = survey.column("name")
    label_columns = [c for c in survey.headers if language_of(c)]
    languages = {column: language_of(column) for column in label_columns}
    choice_codes: dict[str, list[str]] = {}
    if choices is not None and choices.column("list_name") and choices.column("name"):
        for _, row in choices.rows:
            list_name = row.get(choices.column("list_name"), "").strip()
            if list_name:
                choice_codes.setdefault(list_name, []).append(
                    row.get(choices.column("name"), "").strip())
    defined: dict[str, int] = {}
    lower_defined: dict[str, tuple[str, int]] = {}
    stack: list[tuple[str, str, int, str | None]] = []  # kind, name, row, repeat_count
    references: list[tuple[int, str, str, str]] = []  # row, column, owner, referenced name
    used_lists: set[str] = set()
    for number, row in survey.rows:
        raw_type = row.get(type_column, "") if type_column else ""
        raw_name = row.get(name_column, "") if name_column else ""
        name = raw_name.strip()
        if not raw_type.strip():
            if name:
                out.add("survey", number, "type", name, "error", "missing-type",
                        f"{name!r} has no type; expected a question type such as 'text'")
            continue
        if _stray(raw_type):
            out.add("survey", number, type_column, name or None, "error", "stray-space",
                    f"the type {raw_type!r} has leading or trailing spaces")
        kind, list_name, _ = split_type(raw_type)
        if kind not in KNOWN_TYPES and not kind.startswith(("begin", "end")):
            out.add("survey", number, type_column, name or None, "warning", "unknown-type",
                    f"the type {raw_type.strip()!r} is not an XLSForm type Doorstep knows")
        if kind in {"end_group", "end_repeat"}:
            wanted = "begin_group" if kind == "end_group" else "begin_repeat"
            if not stack:
                out.add("survey", number, type_column, name or None, "error", "unbalanced-group",
                        f"{raw_type.strip()!r} closes nothing; no group or repeat is open")
            else:
                open_kind, open_name, open_row, _ = stack.pop()
                if open_kind != wanted:
                    out.add("survey", number, type_column, open_name, "error",
                            "unbalanced-group",
                            f"{raw_type.strip()!r} closes the {open_kind.replace('_', ' ')} "
                            f"{open_name!r} opened at row {open_row}")
            continue
        if not name:
            if kind not in {"begin_table", "end_table"}:
                out.add("survey", number, "name", None, "error", "missing-name",
                        f"a {raw_type.strip()!r} row has no name")
            continue
        if _stray(raw_name):
            out.add("survey", number, name_column, name, "error", "stray-space",
                    f"the name {raw_name!r} has leading or trailing spaces")
        if not is_xml_name(name):
            out.add("survey", number, name_column, name, "error", "invalid-name",
                    f"{name!r} is not a valid XML name: it must start with a letter or '_' "
                    "and hold only letters, digits, '_', '-' and '.'")
        elif re.search(r"[.\-]", name) or not name.isascii():
            out.add("survey", number, name_column, name, "warning", "invalid-name",
                    f"{name!r} is valid in XLSForm but not in Stata (use ASCII letters, "
                    "digits and '_' only)")
        if name in defined:
            out.add("survey", number, name_column, name, "error", "duplicate-name",
                    f"the name {name!r} is already used at row {defined[name]}")
        elif name.lower() in lower_defined:
            other, other_row = lower_defined[name.lower()]
            out.add("survey", number, name_column, name, "warning", "duplicate-name",
                    f"{name!r} differs only in case from {other!r} at row {other_row}; "
                    "Stata and SPSS exports will clash")
        defined.setdefault(name, number)
        lower_defined.setdefault(name.lower(), (name, number))
        suffix = _repeat_suffix_length(count for kind_, _, _, count in stack
                                       if kind_ == "begin_repeat")
        if kind in {"begin_group", "begin_repeat"}:
            repeat_count = (row.get(survey.column("repeat_count") or "", "").strip() or None)
            stack.append((kind, name, number, repeat_count))
        longest, longest_name = len(name) + suffix, name + "_1" * bool(suffix)
        if kind in {"select_multiple"} and list_name in choice_codes and choice_codes[list_name]:
            code = max(choice_codes[list_name], key=len)
            if len(name) + 1 + len(code) + suffix > longest:
                longest, longest_name = len(name) + 1 + len(code) + suffix, f"{name}_{code}"
        if longest > STATA_NAME_LIMIT:
            out.add("survey", number, name_column, name, "warning", "name-too-long-for-stata",
                    f"{name!r} becomes a {longest}-character variable (e.g. {longest_name!r}) "
                    f"once repeat and option suffixes are added; Stata allows "
                    f"{STATA_NAME_LIMIT}")
        if kind.startswith(("select_one", "select_multiple", "rank")) and \
                not kind.endswith("_from_file"):
            if not list_name:
                out.add("survey", number, type_column, name, "error", "undefined-choice-list",
                        f"{raw_type.strip()!r} names no choice list")
            else:
                used_lists.add(list_name)
                if list_name not in choice_codes:
                    out.add("survey", number, type_column, name, "error",
                            "undefined-choice-list",
                            f"the choice list {list_name!r} is not defined in the choices sheet")
        if kind == "calculate" and not (survey.column("calculation") and row.get(
                survey.column("calculation"), "").strip()):
            out.add("survey", number, "calculation", name, "error", "missing-calculation",
                    f"the calculate {name!r} has no calculation")
        if kind in _NEEDS_LABEL and label_columns:
            missing = [column for column in label_columns if not row.get(column, "").strip()]
            if len(missing) == len(label_columns):
                out.add("survey", number, label_columns[0], name, "error", "missing-label",
                        f"{name!r} has no label in any language")
            else:
                for column in missing:
                    out.add("survey", number, column, name, "error", "missing-label",
                            f"{name!r} has no label in the declared language "
                            f"{languages[column]!r}")
        for column in _EXPRESSION_COLUMNS + tuple(label_columns):
            header = survey.column(column) if column in _EXPRESSION_COLUMNS else column
            if header is None:
                continue
            for reference in _REFERENCE.findall(row.get(header, "")):
                references.append((number, header, name, reference.strip()))
    for open_kind, open_name, open_row, _ in stack:
        out.add("survey", open_row, type_column, open_name, "error", "unbalanced-group",
                f"the {open_kind.replace('_', ' ')} {open_name!r} is never closed")
    for number, column, owner, reference in references:
        if reference not in defined:
            out.add("survey", number, column, owner, "error", "undefined-reference",
                    f"${{{reference}}} refers to no question of the form")
        elif reference == owner and column.strip().lower() == "relevant":
            out.add("survey", number, column, owner, "warning", "self-reference",
                    f"{owner!r} is relevant on its own answer")
    relevant_of: dict[str, list[str]] = {}
    rows_of: dict[str, tuple[int, str]] = {}
    for number, column, owner, reference in references:
        if column.strip().lower() == "relevant" and owner:
            relevant_of.setdefault(owner, []).append(reference)
            rows_of.setdefault(owner, (number, column))
    for cycle in relevance_cycles(relevant_of.items()):
        number, column = rows_of[cycle[0]]
        chain = " -> ".join(f"{name!r}" for name in (*cycle, cycle[0]))
        out.add("survey", number, column, cycle[0], "error", "circular-relevant",
                f"circular skip logic: each relevant refers to the next ({chain}); expected "
                "a question's relevant to depend only on questions asked before it")
    if choices is not None:
        _lint_choices(choices, used_lists, out)


def _lint_choices(choices: Sheet, used_lists: set[str], out: _Collector) -> None:
    list_column, name_column = choices.column("list_name"), choices.column("name")
    if list_column is None or name_column is None:
        out.add("choices", 1, None, None, "error", "missing-column",
                "the choices sheet needs the columns 'list_name' and 'name'")
        return
    label_columns = [c for c in choices.headers if language_of(c)]
    seen: dict[tuple[str, str], int] = {}
    first_row: dict[str, int] = {}
    for number, row in choices.rows:
        raw_list, raw_code = row.get(list_column, ""), row.get(name_column, "")
        list_name, code = raw_list.strip(), raw_code.strip()
        if not list_name:
            continue
        first_row.setdefault(list_name, number)
        if _stray(raw_list):
            out.add("choices", number, list_column, list_name, "error", "stray-space",
                    f"the list name {raw_list!r} has leading or trailing spaces")
        if not code:
            out.add("choices", number, name_column, list_name, "error", "missing-name",
                    f"a choice of {list_name!r} has no code")
            continue
        if _stray(raw_code):
            out.add("choices", number, name_column, list_name, "error", "stray-space",
                    f"the choice code {raw_code!r} has leading or trailing spaces")
        if " " in code:
            out.add("choices", number, name_column, list_name, "error", "space-in-choice-code",
                    f"the choice code {code!r} holds a space; select_multiple answers are "
                    "space-joined codes")
        if (list_name, code) in seen:
            out.add("choices", number, name_column, list_name, "error", "duplicate-choice-code",
                    f"the code {code!r} is already used in {list_name!r} at row "
                    f"{seen[(list_name, code)]}")
        seen.setdefault((list_name, code), number)
        missing = [column for column in label_columns if not row.get(column, "").strip()]
        for column in missing:
            out.add("choices", number, column, list_name, "error", "missing-label",
                    f"the choice {code!r} of {list_name!r} has no label in the declared "
                    f"language {language_of(column)!r}")
    for list_name, number in first_row.items():
        if list_name not in used_lists:
            out.add("choices", number, list_column, list_name, "warning", "unused-choice-list",
                    f"the choice list {list_name!r} is used by no question")


def lint_form_sheets(form: FormSheets) -> list[Finding]:
    """Lint raw XLSForm sheets; see :func:`lint_instrument`.

    Examples
    --------
    >>> from doorstep.instrument.xlsform import Sheet
    >>> survey = Sheet("survey", ("type", "name", "label"), ((2, {"type": "text"}),))
    >>> [finding.rule for finding in lint_form_sheets(FormSheets("f.csv", {"survey": survey}))]
    ['missing-name']
    """
    out = _Collector()
    survey = form.get("survey")
    if survey is None:
        out.add("survey", None, None, None, "error", "missing-sheet",
                f"expected a sheet named 'survey', found {sorted(form.sheets)}")
        return out.findings
    missing_columns = [c for c in ("type", "name") if survey.column(c) is None]
    for column in missing_columns:
        out.add("survey", 1, column, None, "error", "missing-column",
                f"expected a column {column!r}, found {list(survey.headers)}")
    if missing_columns:
        return out.findings
    if not any(language_of(c) for c in survey.headers):
        out.add("survey", 1, "label", None, "error", "missing-column",
                "expected a 'label' column (or 'label::<language>')")
    _lint_survey(survey, form.get("choices"), out)
    return sorted(out.findings, key=lambda f: (f.sheet != "survey", f.sheet, f.row or 0))


def lint_instrument(path_or_instrument: str | Path | Instrument) -> list[Finding]:
    """Check an XLSForm for the mistakes that break data collection or analysis.

    Parameters
    ----------
    path_or_instrument
        A form file (.xlsx, .xls, .csv) or an :class:`Instrument` read from one.

    Returns
    -------
    list of Finding
        Sorted by sheet and row; empty for a clean form. Severity ``"error"`` breaks the form or
        the data; ``"warning"`` deserves a look (Stata name length, unused lists).

    Examples
    --------
    >>> findings = lint_instrument("surveys/caring_mothers/instrument.xlsx")  # doctest: +SKIP
    >>> [str(finding) for finding in findings if finding.severity == "error"]  # doctest: +SKIP
    []
    """
    if isinstance(path_or_instrument, Instrument):
        form = path_or_instrument.sheets or read_form_sheets(path_or_instrument.path)
    else:
        form = read_form_sheets(path_or_instrument)
    return lint_form_sheets(form)

