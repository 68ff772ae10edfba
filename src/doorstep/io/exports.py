"""Read one raw export into a frame named by the instrument.

Platforms read here: KoboToolbox CSV (group paths in headers, ``_uuid``), Wenjuanxing (问卷星)
Excel exports (``序号``/``提交答卷时间``/``所用时间`` metadata, ``N、题干`` headers, choices as
labels joined with ``┋``), and plain CSV or Excel with the instrument's names as headers (for
instance a GBK CSV saved by Excel). Every answer is kept as text; identifiers are never parsed
as numbers, so leading zeros survive.

Each returned frame carries reader columns: ``_record_id`` (the platform's submission id, or
the row number), ``_submitted_at``, ``_duration_seconds``, ``_source_file`` and ``_source_row``
(1-based data row in the file), and ``frame.attrs["export"]``, an :class:`ExportInfo`.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from doorstep.errors import DataError
from doorstep.instrument import Instrument
from doorstep.io.encoding import detect_encoding, sha256_of

PLATFORMS = ("auto", "kobo", "wenjuanxing", "csv", "excel")
READER_COLUMNS = ("_record_id", "_submitted_at", "_duration_seconds", "_source_file",
                  "_source_row")
WENJUANXING_METADATA = ("序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自IP")
WENJUANXING_MULTIPLE_SEPARATOR = "┋"
_WENJUANXING_HEADER = re.compile(r"^\s*(?P<number>\d+)\s*[、.．]\s*(?P<text>.*)$", re.S)
_EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}


@dataclass(frozen=True)
class ExportInfo:
    """What the reader found out about a file: platform, encoding, fit to the instrument."""

    path: str
    platform: str
    encoding: str | None
    sha256: str
    n_rows: int
    unknown_columns: tuple[str, ...]
    missing_questions: tuple[str, ...]


def _text_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """Turn every cell into text or NA, keeping what the platform wrote."""
    def as_text(value: object) -> object:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return pd.NA
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        text = str(value)
        return text if text.strip() else pd.NA

    return raw.apply(lambda column: column.map(as_text)).astype("object")


def _check_headers(headers: list[str], path: Path) -> None:
    seen: dict[str, int] = {}
    for position, header in enumerate(headers, start=1):
        if not header:
            raise DataError(
                f"{path}: column {position} has no header; expected a name in every column "
                "of the first row"
            )
        if header in seen:
            raise DataError(
                f"{path}: column {position} repeats the header {header!r} of column "
                f"{seen[header]}; expected each header once"
            )
        seen[header] = position


def read_table(path: str | Path) -> tuple[pd.DataFrame, str | None]:
    """Read a CSV or Excel file as text, detecting the CSV's encoding and separator.

    Returns
    -------
    (frame, encoding)
        Every cell as text or NA; ``encoding`` is None for Excel files.

    Raises
    ------
    DataError
        For a missing, empty or unreadable file, or duplicated headers.

    Examples
    --------
    >>> frame, encoding = read_table("data/caring_mothers/raw/rollout.csv")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.suffix.lower() in _EXCEL_SUFFIXES:
        try:
            cells = pd.read_excel(path, dtype=object, engine="openpyxl", header=None)
        except Exception as error:  # openpyxl raises many types for a damaged workbook
            raise DataError(
                f"{path}: expected an Excel workbook, found a file openpyxl cannot read "
                f"({type(error).__name__}: {error})"
            ) from error
        if cells.empty:
            raise DataError(f"{path}: the workbook's first sheet is empty; expected a header row")
        encoding = None
        headers = ["" if pd.isna(value) else str(value).strip() for value in cells.iloc[0]]
        _check_headers(headers, path)
        raw = cells.iloc[1:].set_axis(headers, axis=1).reset_index(drop=True)
    else:
        data = path.read_bytes()
        if not data.strip():
            raise DataError(f"{path}: the file is empty; expected a header row and data rows")
        encoding = detect_encoding(data, source=str(path))
        text = data.decode(encoding)
        first_line = text.splitlines()[0] if text.splitlines() else ""
        try:
            separator = csv.Sniffer().sniff(first_line, delimiters=",;\t").delimiter
        except csv.Error:
            separator = ","
        headers = [header.strip() for header in
                   next(csv.reader(io.StringIO(first_line), delimiter=separator))]
        _check_headers(headers, path)
        try:
            raw = pd.read_csv(io.StringIO(text), sep=separator, dtype=str, header=0,
                              names=headers, keep_default_na=False, na_values=[""])
        except (pd.errors.ParserError, ValueError) as error:
            raise DataError(f"{path}: cannot parse as CSV: {error}") from error
    if raw.empty:
        raise DataError(f"{path}: the file has a header row but no data rows")
    return _text_frame(raw), encoding


def _detect_platform(columns: list[str]) -> str:
    if {"序号", "提交答卷时间"} <= set(columns):
        return "wenjuanxing"
    if "_uuid" in columns or "_submission_time" in columns:
        return "kobo"
    return "table"


def _duration_from_kobo(frame: pd.DataFrame) -> pd.Series:
    if not {"start", "end"} <= set(frame.columns):
        return pd.Series(np.nan, index=frame.index)
    start = pd.to_datetime(frame["start"], errors="coerce", utc=True, format="mixed")
    end = pd.to_datetime(frame["end"], errors="coerce", utc=True, format="mixed")
    return (end - start).dt.total_seconds()


def _map_kobo(raw: pd.DataFrame, instrument: Instrument | None) -> tuple[pd.DataFrame, list[str]]:
    known = set(instrument.names) if instrument else None
    renamed: dict[str, str] = {}
    unknown: list[str] = []
    for column in raw.columns:
        name = column.rsplit("/", 1)[-1]
        if column.startswith("_") or column == "__version__":
            continue
        if known is None or name in known:
            if name in renamed.values():
                continue
            renamed[column] = name
        elif known is not None and column.rsplit("/", 2)[-2:-1] and (
            column.rsplit("/", 2)[-2] in known
        ):
            continue  # a select_multiple option's 0/1 column; the joined column is kept
        else:
            unknown.append(column)
    frame = raw[list(renamed)].rename(columns=renamed)
    frame["_record_id"] = raw["_uuid"] if "_uuid" in raw else raw.get("_id")
    frame["_submitted_at"] = raw.get("_submission_time", pd.Series(pd.NA, index=raw.index))
    frame["_duration_seconds"] = _duration_from_kobo(raw)
    return frame, unknown


def _wenjuanxing_labels_to_codes(
    values: pd.Series, codes_by_label: dict[str, str], multiple: bool
) -> pd.Series:
    def convert(value: object) -> object:
        if value is pd.NA or not isinstance(value, str):
            return value
        if multiple:
            parts = [part.strip() for part in value.split(WENJUANXING_MULTIPLE_SEPARATOR)]
            return " ".join(codes_by_label.get(part, part) for part in parts if part)
        return codes_by_label.get(value.strip(), value)

    return values.map(convert)


def _map_wenjuanxing(
    raw: pd.DataFrame, instrument: Instrument | None, path: Path
) -> tuple[pd.DataFrame, list[str]]:
    numbered = [question for question in (instrument.questions if instrument else ())
                if question.is_question]
    by_label = {question.labels.get("zh", "").strip(): question for question in numbered}
    frame = pd.DataFrame(index=raw.index)
    unknown: list[str] = []
    for column in raw.columns:
        if column in WENJUANXING_METADATA:
            continue
        match = _WENJUANXING_HEADER.match(column)
        if match is None:
            unknown.append(column)
            continue
        number, text = int(match.group("number")), match.group("text").strip()
        question = by_label.get(text)
        if question is None and 0 < number <= len(numbered):
            question = numbered[number - 1]
        if question is None:
            if instrument is None:
                frame[text] = raw[column]
            else:
                unknown.append(column)
            continue
        values = raw[column]
        if question.list_name and instrument is not None:
            labels = instrument.choice_labels(question.list_name, "zh")
            codes_by_label = {label: code for code, label in labels.items()}
            values = _wenjuanxing_labels_to_codes(
                values, codes_by_label, multiple=question.type == "select_multiple"
            )
        frame[question.name] = values
    frame["_record_id"] = raw["序号"]
    frame["_submitted_at"] = raw["提交答卷时间"]
    if "所用时间" in raw:
        seconds = raw["所用时间"].astype("string").str.extract(r"(\d+(?:\.\d+)?)")[0]
        frame["_duration_seconds"] = pd.to_numeric(seconds, errors="coerce")
    else:
        frame["_duration_seconds"] = np.nan
    return frame, unknown


def _map_table(raw: pd.DataFrame, instrument: Instrument | None) -> tuple[pd.DataFrame, list[str]]:
    if instrument is None:
        frame = raw.copy()
        unknown: list[str] = []
    else:
        known = set(instrument.names)
        frame = raw[[column for column in raw.columns if column in known]].copy()
        unknown = [column for column in raw.columns if column not in known]
    frame["_record_id"] = [str(row) for row in range(1, len(raw) + 1)]
    frame["_submitted_at"] = pd.NA
    frame["_duration_seconds"] = _duration_from_kobo(raw)
    return frame, unknown


def read_export(
    path: str | Path, instrument: Instrument | None = None, platform: str = "auto"
) -> pd.DataFrame:
    """Read a raw export and map its columns onto the instrument's names.

    Parameters
    ----------
    path
        The export: a Kobo CSV, a Wenjuanxing .xlsx, or a plain CSV/Excel file.
    instrument
        The survey instrument; without it, columns keep their (group-stripped) headers.
    platform
        ``"auto"`` (detect from the headers) or one of ``"kobo"``, ``"wenjuanxing"``,
        ``"csv"``, ``"excel"``.

    Returns
    -------
    pandas.DataFrame
        Answers as text, the reader columns, and ``attrs["export"]`` (an :class:`ExportInfo`).

    Raises
    ------
    DataError
        When the file cannot be read or the platform given does not match the file.

    Examples
    --------
    >>> from doorstep.instrument import read_instrument
    >>> form = read_instrument("surveys/caring_mothers/instrument.xlsx")  # doctest: +SKIP
    >>> frame = read_export("data/caring_mothers/raw/round1_kobo.csv", form)  # doctest: +SKIP
    >>> frame.attrs["export"].platform  # doctest: +SKIP
    'kobo'
    """
    if platform not in PLATFORMS:
        raise DataError(f"{path}: platform {platform!r} is not one of {list(PLATFORMS)}")
    path = Path(path)
    raw, encoding = read_table(path)
    detected = _detect_platform(list(raw.columns))
    if platform == "auto":
        platform = detected if detected != "table" else (
            "excel" if path.suffix.lower() in _EXCEL_SUFFIXES else "csv"
        )
    elif platform in {"kobo", "wenjuanxing"} and detected != platform:
        raise DataError(
            f"{path}: expected a {platform} export, but its headers look like {detected} "
            f"(first headers: {list(raw.columns)[:6]})"
        )
    if platform == "kobo":
        frame, unknown = _map_kobo(raw, instrument)
    elif platform == "wenjuanxing":
        frame, unknown = _map_wenjuanxing(raw, instrument, path)
    else:
        frame, unknown = _map_table(raw, instrument)
    frame["_source_file"] = path.name
    frame["_source_row"] = np.arange(1, len(frame) + 1)
    missing = tuple(
        question.name for question in (instrument.questions if instrument else ())
        if question.name not in frame.columns and question.type != "note"
    )
    frame = frame.reset_index(drop=True)
    frame.attrs["export"] = ExportInfo(
        path=str(path), platform=platform, encoding=encoding, sha256=sha256_of(path),
        n_rows=len(frame), unknown_columns=tuple(unknown), missing_questions=missing,
    )
    return frame
