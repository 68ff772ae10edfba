"""Read one raw export into a frame named by the instrument.

This module owns platform detection and the mapping of a platform's headers onto the
instrument's names. Cells come from :mod:`doorstep.io.tables` (which owns file formats and
encodings); nothing here parses an answer as a number, so identifiers keep their leading
zeros. It must not import ``clean``, ``estimate``, ``report`` or ``run``.

Platforms
---------
``kobo``
    KoboToolbox CSV or XLSX: group paths with ``/``, ``_uuid``, ``_submission_time``,
    ``__version__``; a select_multiple as one space-joined column and/or one 0/1 column per
    option ``group/name/code`` (the joined column is rebuilt when only 0/1 columns exist);
    repeat groups as extra XLSX sheets linked by ``_index``/``_parent_index``.
``odk``
    ODK Central and Briefcase CSV: ``KEY``, ``SubmissionDate``, group paths with ``-``;
    repeats in sibling files ``<form>-<repeat>.csv`` linked by ``PARENT_KEY``.
``surveycto``
    ``KEY``, ``SubmissionDate``, ``formdef_version``; repeats in wide columns ``name_1``,
    ``name_2`` (or in sibling long files with ``PARENT_KEY``).
``wenjuanxing``
    问卷星 exports: ``序号, 提交答卷时间, 所用时间, 来源, 来源详情, 来自IP`` then ``N、题干``.
    The *text* export gives choices as labels (multiple joined by ``┋``, other-text as
    ``其他〖…〗``), mapped to the instrument's codes; the *code* export gives a single choice as
    its option number and a multiple choice as one ``N(选项)`` column per option, rebuilt into
    space-joined codes. Skipped questions (``(跳过)`` in the text export, ``-3`` in the code
    export) become :data:`SKIPPED`; questions not shown by display logic (``-2``) become
    :data:`NOT_SHOWN`. Other-text goes to a derived column ``<name>_other``.
``dta``, ``sav``
    .dta and .sav via pyreadstat: values as text, value labels in ``ExportInfo.value_labels``.
``csv``, ``excel``
    Plain tables whose headers are the instrument's names.

Reader columns
--------------
``_record_id`` (the platform's submission id, else the data-row number), ``_submitted_at`` (as
written), ``_duration_seconds``, ``_source_file`` and ``_source_row`` (1-based data row, i.e.
counting from the first row under the header). ``frame.attrs["export"]`` is an
:class:`ExportInfo`. Repeat tables (:func:`read_export_tables`) add ``_parent_record_id``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from doorstep.errors import DataError
from doorstep.instrument import Instrument, Question
from doorstep.instrument.lint import Finding
from doorstep.io.encoding import sha256_of
from doorstep.io.tables import RawTable, read_raw

PLATFORMS = ("auto", "kobo", "odk", "surveycto", "wenjuanxing", "csv", "excel", "dta", "sav")
READER_COLUMNS = ("_record_id", "_submitted_at", "_duration_seconds", "_source_file",
                  "_source_row")
SKIPPED = "__skipped__"
"""Marker for an answer the platform says was skipped by jump logic (问卷星 ``(跳过)``/``-3``)."""
NOT_SHOWN = "__not_shown__"
"""Marker for a question the platform did not show (问卷星 code export ``-2``)."""
WENJUANXING_METADATA = ("序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自IP",
                        "总分", "答题序号", "填写设备", "操作系统", "浏览器")
WENJUANXING_MULTIPLE_SEPARATOR = "┋"
WENJUANXING_SKIPPED_TEXT = "(跳过)"
_WENJUANXING_HEADER = re.compile(r"^\s*(?P<number>\d+)\s*[、.．]\s*(?P<text>.*)$", re.S)
_WENJUANXING_OPTION = re.compile(r"^\s*(?P<number>\d+)\s*[(（](?P<option>.*)[)）]\s*$", re.S)
_WENJUANXING_OTHER = re.compile(r"〖(?P<text>.*?)〗")
KOBO_SYSTEM = frozenset({"__version__", "meta/instanceID", "formhub/uuid", "meta/rootUuid",
                         "meta/deprecatedID", "meta/instanceName"})
ODK_SYSTEM = frozenset({"SubmissionDate", "KEY", "PARENT_KEY", "meta-instanceID",
                        "meta-instanceName", "meta-audit", "SubmitterID", "SubmitterName",
                        "AttachmentsPresent", "AttachmentsExpected", "Status", "ReviewState",
                        "DeviceID", "Edits", "FormVersion", "instanceID", "isValidated"})
SURVEYCTO_SYSTEM = frozenset({"SubmissionDate", "CompletionDate", "KEY", "PARENT_KEY",
                              "formdef_version", "review_status", "review_comments",
                              "review_corrections", "review_quality", "instanceID",
                              "instanceName", "SET-OF", "starttime", "endtime", "duration",
                              "simid", "subscriberid", "devicephonenum", "caseid"})
_VERSION_COLUMNS = ("__version__", "_version_", "formdef_version", "FormVersion")
_SEPARATORS = {"kobo": "/", "odk": "-"}


@dataclass(frozen=True)
class ExportInfo:
    """What the reader found out about a file: platform, encoding, fit to the instrument.

    ``damaged_identifiers`` maps a column to the 1-based data rows whose value Excel turned
    into scientific notation (digits lost: never accepted silently); ``form_versions`` lists
    the distinct form versions in the file; ``skip_markers`` counts :data:`SKIPPED` and
    :data:`NOT_SHOWN` cells per column; ``findings`` holds warnings (several form versions,
    damaged identifiers, a title row above the header, rebuilt select_multiple columns).
    """

    path: str
    platform: str
    encoding: str | None
    sha256: str
    n_rows: int
    unknown_columns: tuple[str, ...]
    missing_questions: tuple[str, ...]
    file_format: str = "csv"
    table: str = "main"
    sheet: str | None = None
    header_row: int = 1
    title: str | None = None
    variant: str | None = None
    damaged_identifiers: dict[str, tuple[int, ...]] = field(default_factory=dict)
    form_versions: tuple[str, ...] = ()
    value_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    variable_labels: dict[str, str] = field(default_factory=dict)
    skip_markers: dict[str, int] = field(default_factory=dict)
    rebuilt_multiple: tuple[str, ...] = ()
    derived_columns: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()


def read_table(path: str | Path) -> tuple[pd.DataFrame, str | None]:
    """Read a CSV or Excel file as text, detecting the CSV's encoding and separator.

    Returns
    -------
    (frame, encoding)
        Every cell as text or missing; ``encoding`` is None for workbooks.

    Raises
    ------
    DataError
        For a missing, empty or unreadable file, or blank or duplicated headers.

    Examples
    --------
    >>> frame, encoding = read_table("data/caring_mothers/raw/rollout.csv")  # doctest: +SKIP
    """
    table = read_raw(Path(path))[0]
    return table.frame, table.encoding


# ----------------------------------------------------------------------------------------------
# Platform detection
# ----------------------------------------------------------------------------------------------

def detect_platform(columns: list[str], file_format: str = "csv") -> str:
    """Name the platform that wrote a table from its headers (and its file format).

    Examples
    --------
    >>> detect_platform(["SubmissionDate", "age", "KEY", "formdef_version"])
    'surveycto'
    """
    names = set(columns)
    if {"序号", "提交答卷时间"} <= names or len(names & set(WENJUANXING_METADATA[:6])) >= 3:
        return "wenjuanxing"
    if "KEY" in names and "formdef_version" in names:
        return "surveycto"
    if "KEY" in names and ({"SubmissionDate", "PARENT_KEY", "meta-instanceID"} & names):
        return "odk"
    if {"_uuid", "_submission_time"} & names or {"_index", "_parent_index"} <= names:
        return "kobo"
    if file_format == "dta":
        return "dta"
    if file_format == "sav":
        return "sav"
    return "table"


def _system(platform: str, column: str) -> bool:
    if platform == "kobo":
        return column.startswith("_") or column in KOBO_SYSTEM
    if platform == "odk":
        return column in ODK_SYSTEM
    if platform == "surveycto":
        return column in SURVEYCTO_SYSTEM
    if platform == "wenjuanxing":
        return column in WENJUANXING_METADATA
    return False


# ----------------------------------------------------------------------------------------------
# Column mapping
# ----------------------------------------------------------------------------------------------

@dataclass
class _Mapping:
    answers: dict[str, str] = field(default_factory=dict)  # output name -> raw header
    options: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> code -> header
    wide: dict[str, dict[int, str]] = field(default_factory=dict)  # name -> n -> header
    unknown: list[str] = field(default_factory=list)


def _header_index(questions: tuple[Question, ...]) -> dict[str, Question]:
    index: dict[str, Question] = {}
    for question in questions:
        for separator in ("/", "-", ".", ":"):
            index.setdefault(separator.join((*question.group_path, question.name)), question)
    for question in questions:
        index.setdefault(question.name, question)
    return index


def _map_columns(columns: list[str], platform: str, instrument: Instrument | None,
                 questions: tuple[Question, ...], wide_questions: tuple[Question, ...] = ()
                 ) -> _Mapping:
    mapping = _Mapping()
    present = set(columns)
    if instrument is None:
        separator = _SEPARATORS.get(platform)
        for column in columns:
            if _system(platform, column):
                continue
            prefix = re.split(r"[/\-.]", column)
            if len(prefix) > 1 and prefix[-1] and column.rsplit(prefix[-1], 1)[0][:-1] in present:
                continue  # a 0/1 option column of a select_multiple that is also joined
            name = column.rsplit(separator, 1)[-1] if separator else column
            key = name if name and name not in mapping.answers else column
            if key in mapping.answers:  # this header is another column's short name: both
                earlier = mapping.answers.pop(key)  # keep their full headers, none is lost
                mapping.answers[earlier] = earlier
            mapping.answers[key] = column
        return mapping
    index = _header_index(questions)
    wide_index = {question.name: question for question in wide_questions}
    separator = _SEPARATORS.get(platform, "/")

    def lookup(header: str) -> Question | None:
        # the full path first; then the last segment (a form whose groups were renamed)
        return index.get(header) or index.get(header.rsplit(separator, 1)[-1])

    for column in columns:
        if _system(platform, column):
            continue
        question = lookup(column)
        if question is not None and question.name not in mapping.answers:
            mapping.answers[question.name] = column
            continue
        matched = False
        for separator_ in ("/", "-", ".", "_", ":"):
            if separator_ not in column:
                continue
            prefix, code = column.rsplit(separator_, 1)
            owner = lookup(prefix)
            if owner is not None and owner.is_multiple and owner.list_name and code in {
                    choice.name for choice in instrument.choices.get(owner.list_name, ())}:
                mapping.options.setdefault(owner.name, {})[code] = column
                matched = True
                break
            if separator_ == "_" and code.isdigit() and prefix in wide_index:
                mapping.wide.setdefault(prefix, {})[int(code)] = column
                matched = True
                break
        if not matched:
            mapping.unknown.append(column)
    return mapping


def _rebuild_multiple(raw: pd.DataFrame, options: dict[str, str]) -> pd.Series:
    """Space-joined codes from one 0/1 column per option, vectorised over rows."""
    joined = np.full(len(raw), "", dtype=object)
    answered = np.zeros(len(raw), dtype=bool)
    for code, column in options.items():
        values = raw[column]
        chosen = values.isin(["1", "1.0", "True", "TRUE", "true"]).to_numpy()
        answered |= values.notna().to_numpy()
        joined = np.where(chosen, joined + code + " ", joined)
    result = pd.Series(joined, index=raw.index, dtype="str").str.rstrip()
    return result.where(answered, None)


def _parse_times(values: pd.Series) -> pd.Series:
    """Times as UTC instants; missing where a value cannot be read as a time.

    Arrow's ISO 8601 parser takes the common case, every value with a zone offset as Kobo
    and ODK write them (``2024-09-15T12:41:45.000+08:00``), in a seventh of pandas' time; any
    other column (a value without an offset, or not a time) goes to pandas, as before.
    """
    array = getattr(values.array, "_pa_array", None)
    if array is not None:
        try:
            parsed = pc.cast(array, pa.timestamp("us", tz="UTC"))  # pandas 3's unit
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        else:
            return parsed.to_pandas().set_axis(values.index)
    parsed = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
    retry = parsed.isna() & values.notna()
    if retry.any():
        again = pd.to_datetime(values[retry], errors="coerce", utc=True, format="mixed")
        parsed = parsed.where(~retry, again)
    return parsed


def _duration(raw: pd.DataFrame, start: str, end: str) -> pd.Series:
    if not {start, end} <= set(raw.columns):
        return pd.Series(np.nan, index=raw.index, dtype=float)
    return (_parse_times(raw[end]) - _parse_times(raw[start])).dt.total_seconds()


def _first_present(raw: pd.DataFrame, *columns: str) -> pd.Series | None:
    for column in columns:
        if column in raw.columns:
            return raw[column]
    return None


def _reader_columns(raw: pd.DataFrame, platform: str, answers: dict[str, str]) -> dict:
    rows = pd.Series(np.arange(1, len(raw) + 1), index=raw.index).astype("str")
    missing = pd.Series(None, index=raw.index, dtype="str")
    start = answers.get("start", "start")
    end = answers.get("end", "end")
    if platform == "kobo":
        record = _first_present(raw, "_uuid", "meta/instanceID", "_id")
        submitted = _first_present(raw, "_submission_time")
    elif platform in {"odk", "surveycto"}:
        record = _first_present(raw, "KEY", "meta-instanceID", "instanceID")
        submitted = _first_present(raw, "SubmissionDate")
        if platform == "surveycto":
            start = "starttime" if "starttime" in raw.columns else start
            end = "endtime" if "endtime" in raw.columns else end
    elif platform == "wenjuanxing":
        record = _first_present(raw, "序号")
        submitted = _first_present(raw, "提交答卷时间")
    else:
        record = submitted = None
    if platform == "wenjuanxing" and "所用时间" in raw.columns:
        seconds = raw["所用时间"].str.extract(r"(\d+(?:\.\d+)?)")[0]
        duration = pd.to_numeric(seconds, errors="coerce").astype(float)
    elif platform == "surveycto" and "duration" in raw.columns and "duration" not in answers:
        duration = pd.to_numeric(raw["duration"], errors="coerce").astype(float)
    else:
        duration = _duration(raw, start, end)
    return {"_record_id": rows if record is None else record.fillna(rows),
            "_submitted_at": missing if submitted is None else submitted,
            "_duration_seconds": duration}


def _versions(raw: pd.DataFrame) -> tuple[str, ...]:
    for column in _VERSION_COLUMNS:
        if column in raw.columns:
            return tuple(sorted(str(v) for v in raw[column].dropna().unique()))
    return ()


# ----------------------------------------------------------------------------------------------
# Wenjuanxing
# ----------------------------------------------------------------------------------------------

def _wenjuanxing_question_columns(raw: pd.DataFrame, instrument: Instrument | None):
    """Yield (question or None, header text, single header or {option: header})."""
    numbered = [q for q in (instrument.questions_in(None) if instrument else ()) if q.is_question]
    by_label = {question.labels.get("zh", "").strip(): question for question in numbered}
    grouped: dict[int, dict[str, str]] = {}
    singles: list[tuple[int, str, str]] = []
    unknown = []
    for column in raw.columns:
        if column in WENJUANXING_METADATA:
            continue
        option = _WENJUANXING_OPTION.match(column)
        match = _WENJUANXING_HEADER.match(column)
        if match is not None:
            singles.append((int(match.group("number")), match.group("text").strip(), column))
        elif option is not None:
            grouped.setdefault(int(option.group("number")), {})[
                option.group("option").strip()] = column
        else:
            unknown.append(column)
    items = []
    for number, text, column in singles:
        question = by_label.get(text) or (numbered[number - 1] if 0 < number <= len(numbered)
                                          else None)
        items.append((question, text, column))
    for number, options in grouped.items():
        question = numbered[number - 1] if 0 < number <= len(numbered) else None
        items.append((question, str(number), options))
    return items, unknown


def _map_wenjuanxing(raw: pd.DataFrame, instrument: Instrument | None):
    items, unknown = _wenjuanxing_question_columns(raw, instrument)
    columns: dict[str, pd.Series] = {}
    skip_counts: dict[str, int] = {}
    rebuilt: list[str] = []
    variant = "text"
    for question, text, source in items:
        if question is None:
            if instrument is None and isinstance(source, str):
                columns[text] = raw[source]
            else:
                unknown.extend([source] if isinstance(source, str) else source.values())
            continue
        name = question.name
        labels = instrument.choice_labels(question.list_name, "zh") if (
            instrument and question.list_name) else {}
        codes_in_order = list(labels)
        codes_by_label = {label.strip(): code for code, label in labels.items()}
        if isinstance(source, dict):  # code export: one N(选项) column per option
            variant = "codes"
            options = {}
            for position, (option_label, header) in enumerate(source.items()):
                code = codes_by_label.get(option_label) or (
                    codes_in_order[position] if position < len(codes_in_order)
                    else option_label)
                options[code] = header
            values = _rebuild_multiple(raw, options)
            first = raw[next(iter(source.values()))]
            values = values.mask(first == "-3", SKIPPED).mask(first == "-2", NOT_SHOWN)
            rebuilt.append(name)
        else:
            values = raw[source]
            if question.is_select and labels:
                values, other, is_codes = _wenjuanxing_choices(values, question, labels,
                                                               codes_by_label)
                variant = "codes" if is_codes else variant
                if other is not None:
                    columns[f"{name}_other"] = other
        values = values.mask(values == WENJUANXING_SKIPPED_TEXT, SKIPPED)
        if variant == "codes":
            values = values.mask(values == "-3", SKIPPED).mask(values == "-2", NOT_SHOWN)
        count = int(values.isin([SKIPPED, NOT_SHOWN]).sum())
        if count:
            skip_counts[name] = count
        columns[name] = values
    return columns, unknown, skip_counts, tuple(rebuilt), variant


def _wenjuanxing_choices(values: pd.Series, question: Question, labels: dict[str, str],
                         codes_by_label: dict[str, str]):
    """Labels (or option numbers, in the code export) to codes; other-text split off."""
    present = values.dropna()
    present = present[~present.isin([WENJUANXING_SKIPPED_TEXT, "-2", "-3"])]
    is_codes = bool(len(present)) and present.str.fullmatch(r"\d+").all() and not any(
        label.strip().isdigit() for label in labels.values())
    if is_codes:
        by_position = {str(position): code for position, code in enumerate(labels, start=1)}
        return values.map(lambda v: by_position.get(v, v) if isinstance(v, str) else v,
                          na_action="ignore").astype("str"), None, True
    other = values.str.extract(_WENJUANXING_OTHER)["text"] if values.str.contains(
        "〖", regex=False).any() else None
    stripped = values.str.replace(_WENJUANXING_OTHER, "", regex=True) if other is not None \
        else values
    unique = stripped.dropna().unique()
    converted = {}
    for value in unique:
        if question.is_multiple:
            parts = [part.strip() for part in value.split(WENJUANXING_MULTIPLE_SEPARATOR)]
            converted[value] = " ".join(codes_by_label.get(part, part) for part in parts if part)
        else:
            converted[value] = codes_by_label.get(value.strip(), value)
    return stripped.map(converted, na_action="ignore").astype("str"), other, False


# ----------------------------------------------------------------------------------------------
# One table
# ----------------------------------------------------------------------------------------------

def _map_table(raw: RawTable, platform: str, instrument: Instrument | None,
               questions: tuple[Question, ...], wide_questions: tuple[Question, ...] = ()):
    frame = raw.frame
    if platform == "wenjuanxing":
        columns, unknown, skips, rebuilt, variant = _map_wenjuanxing(frame, instrument)
        return columns, unknown, skips, rebuilt, variant, _Mapping()
    mapping = _map_columns(list(frame.columns), platform, instrument, questions, wide_questions)
    columns = {name: frame[column] for name, column in mapping.answers.items()}
    rebuilt = []
    for name, options in mapping.options.items():
        if name not in columns:
            columns[name] = _rebuild_multiple(frame, options)
            rebuilt.append(name)
    if instrument is not None:  # keep form order
        order = {name: position for position, name in enumerate(instrument.names)}
        columns = dict(sorted(columns.items(), key=lambda item: order.get(item[0], 1 << 30)))
    return columns, mapping.unknown, {}, tuple(rebuilt), None, mapping


def _assemble(raw: RawTable, columns: dict[str, pd.Series], platform: str,
              answers: dict[str, str], path: Path) -> pd.DataFrame:
    frame = pd.DataFrame(columns, index=raw.frame.index, copy=False) if columns else \
        pd.DataFrame(index=raw.frame.index)
    for name, values in _reader_columns(raw.frame, platform, answers).items():
        frame[name] = values
    frame["_source_file"] = path.name
    frame["_source_row"] = np.arange(1, len(frame) + 1)
    return frame.reset_index(drop=True)


def _check_header_row(raw: RawTable, platform: str, instrument: Instrument | None,
                      path: Path) -> None:
    if raw.header_row == 1:
        return
    headers = list(raw.frame.columns)
    known = 0
    if instrument is not None:
        index = _header_index(instrument.questions)
        known = sum(header in index for header in headers)
    if platform != "table" or known * 2 >= len(headers):
        return
    raise DataError(
        f"{path}" + (f", sheet {raw.sheet!r}" if raw.sheet else "") + f", row 1: expected the "
        f"header row, found what looks like a title ({raw.title!r}) above a header at row "
        f"{raw.header_row} that matches no platform or instrument; delete the title row"
    )


def _findings(path: Path, info: dict, platform: str) -> tuple[Finding, ...]:
    sheet = info.get("sheet") or path.name
    findings = []
    if len(info["form_versions"]) > 1:
        findings.append(Finding(sheet, None, None, None, "warning", "form-version-mix",
                                f"the file mixes {len(info['form_versions'])} form versions "
                                f"{list(info['form_versions'])}; check that questions did not "
                                "change meaning between them"))
    for column, rows in info["damaged_identifiers"].items():
        findings.append(Finding(sheet, rows[0] + info["header_row"], column, column, "warning",
                                "damaged-identifier",
                                f"{len(rows)} value(s) of {column!r} were turned into scientific "
                                f"notation by Excel (data rows {list(rows[:5])}...); the digits "
                                "are lost: recover them from the platform's original export"))
    if info["header_row"] > 1:
        findings.append(Finding(sheet, 1, None, None, "warning", "title-row",
                                f"skipped a title row ({info['title']!r}); the header is row "
                                f"{info['header_row']}"))
    for name in info["rebuilt_multiple"]:
        findings.append(Finding(sheet, info["header_row"], None, name, "warning",
                                "rebuilt-select-multiple",
                                f"{name!r} was rebuilt from its 0/1 option columns"))
    return tuple(findings)


def _resolve_platform(raw: RawTable, platform: str, path: Path) -> str:
    if platform not in PLATFORMS:
        raise DataError(f"{path}: platform {platform!r} is not one of {list(PLATFORMS)}")
    detected = detect_platform(list(raw.frame.columns), raw.file_format)
    if platform == "auto":
        if detected != "table":
            return detected
        return "excel" if raw.file_format in {"xlsx", "xls", "html"} else "csv"
    if platform in {"kobo", "odk", "surveycto", "wenjuanxing"} and detected != platform and not (
            {platform, detected} <= {"odk", "surveycto"}):
        raise DataError(
            f"{path}: expected a {platform} export, but its headers look like {detected} "
            f"(first headers: {list(raw.frame.columns)[:6]})"
        )
    return platform


def _info_for(raw: RawTable, path: Path, platform: str, digest: str, frame: pd.DataFrame,
              unknown: list[str], missing: tuple[str, ...], instrument: Instrument | None,
              answers_by_header: dict[str, str], table: str, skips: dict, rebuilt: tuple,
              variant: str | None, derived: tuple[str, ...]) -> ExportInfo:
    numeric = {q.name for q in (instrument.questions if instrument else ())
               if q.type in {"integer", "decimal", "range"}}
    damaged = {}
    for header, rows in raw.damaged.items():
        name = answers_by_header.get(header, header)
        if name not in numeric:
            damaged[name] = rows
    labels_by_name = {answers_by_header.get(h, h): v for h, v in raw.value_labels.items()}
    variable_labels = {answers_by_header.get(h, h): v for h, v in raw.variable_labels.items()}
    details = {"sheet": raw.sheet, "form_versions": _versions(raw.frame),
               "damaged_identifiers": damaged, "header_row": raw.header_row,
               "title": raw.title, "rebuilt_multiple": rebuilt}
    return ExportInfo(
        path=str(path), platform=platform, encoding=raw.encoding, sha256=digest,
        n_rows=len(frame), unknown_columns=tuple(unknown), missing_questions=missing,
        file_format=raw.file_format, table=table, sheet=raw.sheet, header_row=raw.header_row,
        title=raw.title, variant=variant, damaged_identifiers=damaged,
        form_versions=details["form_versions"], value_labels=labels_by_name,
        variable_labels=variable_labels, skip_markers=skips, rebuilt_multiple=rebuilt,
        derived_columns=derived, findings=_findings(path, details, platform),
    )


def _read_one(raw: RawTable, path: Path, platform: str, instrument: Instrument | None,
              digest: str, table: str = "main") -> tuple[pd.DataFrame, _Mapping]:
    repeat = None if table == "main" else table
    questions = instrument.questions_in(repeat) if instrument else ()
    wide = tuple(q for q in (instrument.questions if instrument else ()) if q.repeat_path) if (
        platform in {"surveycto", "csv", "excel"} and table == "main") else ()
    columns, unknown, skips, rebuilt, variant, mapping = _map_table(
        raw, platform, instrument, questions, wide)
    answers = mapping.answers
    frame = _assemble(raw, columns, platform, answers, path)
    derived = tuple(name for name in columns if instrument is not None
                    and name not in instrument.names)
    missing = tuple(
        question.name for question in questions
        if question.name not in frame.columns and question.type != "note"
    )
    info = _info_for(raw, path, platform, digest, frame, unknown, missing, instrument,
                     {header: name for name, header in answers.items()}, table, skips,
                     rebuilt, variant, derived)
    frame.attrs["export"] = info
    return frame, mapping


def read_export(
    path: str | Path, instrument: Instrument | None = None, platform: str = "auto"
) -> pd.DataFrame:
    """Read a raw export's main table and map its columns onto the instrument's names.

    Parameters
    ----------
    path
        The export: Kobo CSV/XLSX, ODK or SurveyCTO CSV, a Wenjuanxing .xlsx/.xls/.csv, a Stata
        .dta or SPSS .sav file, or a plain CSV/Excel file (any of UTF-8, UTF-8 with BOM, GBK,
        GB18030, UTF-16).
    instrument
        The survey instrument; without it, columns keep their (group-stripped) headers.
    platform
        ``"auto"`` (detect from the file) or one of :data:`PLATFORMS`.

    Returns
    -------
    pandas.DataFrame
        Answers as text (pandas ``str`` dtype), the reader columns, and ``attrs["export"]`` (an
        :class:`ExportInfo`). Repeat groups are not in this frame: see
        :func:`read_export_tables`.

    Raises
    ------
    DataError
        When the file cannot be read (empty, header only, truncated, password-protected, blank
        or repeated headers, ragged rows, a title row above an unrecognisable header) or the
        platform given does not match the file.

    Examples
    --------
    >>> from doorstep.instrument import read_instrument
    >>> form = read_instrument("surveys/caring_mothers/instrument.xlsx")  # doctest: +SKIP
    >>> frame = read_export("data/caring_mothers/raw/round1_kobo.csv", form)  # doctest: +SKIP
    >>> frame.attrs["export"].platform  # doctest: +SKIP
    'kobo'
    """
    path = Path(path)
    if platform not in PLATFORMS:
        raise DataError(f"{path}: platform {platform!r} is not one of {list(PLATFORMS)}")
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:  # hashing overlaps parsing (no GIL)
        digest = pool.submit(sha256_of, path) if path.is_file() else None
        raw = read_raw(path)[0]
        resolved = _resolve_platform(raw, platform, path)
        _check_header_row(raw, "table" if resolved in {"csv", "excel"} else resolved,
                          instrument, path)
        frame, _ = _read_one(raw, path, resolved, instrument, digest.result())
    return frame


# ----------------------------------------------------------------------------------------------
# Repeat groups
# ----------------------------------------------------------------------------------------------

def _link(child: pd.DataFrame, parent_ids: pd.Series, repeat: str) -> pd.DataFrame:
    child = child.copy()
    child["_parent_record_id"] = parent_ids.to_numpy()
    ordinal = child.groupby("_parent_record_id", sort=False).cumcount() + 1
    child["_record_id"] = (child["_parent_record_id"].astype("str") + f"/{repeat}["
                           + ordinal.astype("str") + "]")
    return child


def _repeat_name(label: str, instrument: Instrument | None) -> str:
    for repeat in (instrument.repeats if instrument else ()):
        if repeat == label or repeat[:31] == label[:31]:
            return repeat
    return label


def read_export_tables(path: str | Path, instrument: Instrument | None = None,
                       platform: str = "auto") -> dict[str, pd.DataFrame]:
    """Read an export with its repeat groups as long tables linked to their parent.

    Parameters
    ----------
    path, instrument, platform
        As for :func:`read_export`.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``"main"`` (what :func:`read_export` returns) and one frame per repeat group, named by
        the repeat, one row per repetition, with ``_parent_record_id`` (the ``_record_id`` of
        the enclosing submission or repetition) and ``_record_id`` (``<parent>/<repeat>[n]``,
        or ODK's ``KEY``). Sources: Kobo XLSX repeat sheets (``_parent_index`` -> ``_index``),
        ODK/SurveyCTO sibling files ``<stem>-<repeat>.csv`` (``PARENT_KEY``), SurveyCTO wide
        columns ``name_1``, ``name_2``... .

    Examples
    --------
    >>> tables = read_export_tables("household.xlsx", form)  # doctest: +SKIP
    >>> tables["members"][["_parent_record_id", "member_age"]]  # doctest: +SKIP
    """
    path = Path(path)
    raws = read_raw(path, all_sheets=True)
    digest = sha256_of(path)
    resolved = _resolve_platform(raws[0], platform, path)
    main, mapping = _read_one(raws[0], path, resolved, instrument, digest)
    tables = {"main": main}
    if resolved == "kobo" and len(raws) > 1:
        by_table = {"main": (raws[0].frame, main)}
        for raw in raws[1:]:
            name = _repeat_name(raw.sheet or "repeat", instrument)
            child, _ = _read_one(raw, path, resolved, instrument, digest, table=name)
            parent_name = "main"
            if "_parent_table_name" in raw.frame.columns:
                parent_label = raw.frame["_parent_table_name"].dropna()
                if len(parent_label):
                    parent_name = _repeat_name(parent_label.iloc[0], instrument)
                    parent_name = "main" if parent_name not in by_table else parent_name
            parent_raw, parent_frame = by_table[parent_name]
            lookup = pd.Series(parent_frame["_record_id"].to_numpy(),
                               index=parent_raw["_index"].to_numpy()) if (
                "_index" in parent_raw.columns) else pd.Series(dtype="str")
            parent_ids = raw.frame["_parent_index"].map(lookup) if (
                "_parent_index" in raw.frame.columns) else pd.Series(None, index=raw.frame.index)
            child = _link(child, parent_ids, name)
            child.attrs["export"] = _with_table(child, name)
            tables[name] = child
            by_table[name] = (raw.frame, child)
    elif resolved in {"odk", "surveycto"}:
        for sibling in sorted(path.parent.glob(f"{path.stem}-*{path.suffix}")):
            name = _repeat_name(sibling.stem[len(path.stem) + 1:].rsplit("-", 1)[-1],
                                instrument)
            raw = read_raw(sibling)[0]
            child, _ = _read_one(raw, sibling, resolved, instrument, sha256_of(sibling),
                                 table=name)
            child["_parent_record_id"] = raw.frame["PARENT_KEY"].to_numpy() if (
                "PARENT_KEY" in raw.frame.columns) else None
            child.attrs["export"] = _with_table(child, name)
            tables[name] = child
    if mapping.wide and instrument is not None:
        for repeat in instrument.repeats:
            names = [q.name for q in instrument.questions_in(repeat) if q.name in mapping.wide]
            if not names:
                continue
            counts = sorted({n for name in names for n in mapping.wide[name]})
            pieces = []
            for number in counts:
                piece = pd.DataFrame({
                    name: raws[0].frame[mapping.wide[name][number]] if number in mapping.wide[
                        name] else pd.Series(None, index=raws[0].frame.index, dtype="str")
                    for name in names})
                keep = piece.notna().any(axis=1).to_numpy()
                piece = piece[keep].assign(
                    _parent_record_id=main["_record_id"].to_numpy()[keep],
                    _repeat_index=number, _source_row=main["_source_row"].to_numpy()[keep])
                pieces.append(piece)
            long = pd.concat(pieces).sort_values(["_source_row", "_repeat_index"],
                                                 kind="stable").reset_index(drop=True)
            long["_record_id"] = (long["_parent_record_id"].astype("str") + f"/{repeat}["
                                  + long["_repeat_index"].astype("str") + "]")
            long["_source_file"] = path.name
            missing = tuple(q.name for q in instrument.questions_in(repeat)
                            if q.name not in long.columns and q.type != "note")
            long.attrs["export"] = ExportInfo(
                path=str(path), platform=resolved, encoding=raws[0].encoding, sha256=digest,
                n_rows=len(long), unknown_columns=(), missing_questions=missing,
                file_format=raws[0].file_format, table=repeat)
            tables[repeat] = long
    return tables


def _with_table(frame: pd.DataFrame, name: str) -> ExportInfo:
    from dataclasses import replace

    return replace(frame.attrs["export"], table=name, n_rows=len(frame))
