"""Preparation shared by every check: one frame from many exports, parsed numbers and times.

This module owns how raw exports are stacked (one row per submitted interview, with an
``_interview`` key ``<source file>#<record id>``), how answers are read as numbers for checking
(full-width digits folded, Chinese amounts through :func:`doorstep.clean.values.parse_money`,
missing codes kept apart), local interview start times, and which columns are personal. Nothing
here changes a caller's frame. It must not import ``estimate``, ``report`` or ``run``.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"x": ["3", "３", "-99"], "_record_id": ["1", "2", "3"],
...                       "_source_file": "a.csv"})
>>> numbers, codes = numeric_answers(frame["x"], ("-99",))
>>> numbers.tolist(), codes.tolist()
([3.0, 3.0, nan], [<NA>, <NA>, '-99'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from doorstep.checks.config import CheckConfig
from doorstep.clean.values import parse_money
from doorstep.errors import DataError
from doorstep.instrument import Instrument

_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_TIME_ZONE = r"(?:Z|[+-]\d{2}:?\d{2})$"
READER_COLUMNS = ("_record_id", "_submitted_at", "_duration_seconds", "_source_file",
                  "_source_row")
PERSONAL_WORDS = ("name", "phone", "id_card", "address", "gps", "姓名", "电话", "身份证", "住址")


@dataclass(frozen=True)
class Prepared:
    """The stacked exports and what the checks need to know about their columns."""

    frame: pd.DataFrame
    questions: tuple[str, ...]
    numeric_questions: tuple[str, ...]
    categorical_questions: tuple[str, ...]
    personal: frozenset[str]
    enumerator_column: str


def stack_exports(exports: pd.DataFrame | Sequence[pd.DataFrame] | Mapping[str, pd.DataFrame]
                  ) -> pd.DataFrame:
    """Stack exports read by ``read_export`` into one new frame with an ``_interview`` key.

    Parameters
    ----------
    exports
        One frame, a list of frames, or a mapping name -> frame (the name is kept in
        ``_export``; otherwise ``_export`` is the source file).

    Returns
    -------
    pandas.DataFrame
        A new frame; the inputs are not changed.

    Raises
    ------
    DataError
        If a frame lacks the reader columns or two rows share a file and record id.

    Examples
    --------
    >>> import pandas as pd
    >>> one = pd.DataFrame({"_record_id": ["7"], "_source_file": ["r1.csv"], "_source_row": [1]})
    >>> stack_exports([one])["_interview"].tolist()
    ['r1.csv#7']
    """
    if isinstance(exports, pd.DataFrame):
        named = [(None, exports)]
    elif isinstance(exports, Mapping):
        named = list(exports.items())
    else:
        named = [(None, frame) for frame in exports]
    if not named:
        raise DataError("checks: expected at least one export frame, found none")
    parts = []
    for position, (name, frame) in enumerate(named, start=1):
        missing = [c for c in ("_record_id", "_source_file") if c not in frame.columns]
        if missing:
            raise DataError(f"checks: export {name or position} has no column(s) {missing}; "
                            "expected a frame read by doorstep.io.read_export")
        part = frame.copy()
        part["_export"] = str(name) if name is not None else part["_source_file"].astype(str)
        parts.append(part)
    stacked = pd.concat(parts, ignore_index=True, sort=False)
    if "_source_row" not in stacked:
        stacked["_source_row"] = np.arange(1, len(stacked) + 1)
    stacked["_interview"] = (stacked["_source_file"].astype(str) + "#"
                             + stacked["_record_id"].astype(str))
    return stacked


def fold_text(values: pd.Series) -> pd.Series:
    """Text with full-width characters folded to ASCII and spaces stripped (NA kept).

    Examples
    --------
    >>> import pandas as pd
    >>> fold_text(pd.Series(["１２", None])).tolist()
    ['12', <NA>]
    """
    text = values.astype("string")
    wide = text.str.contains("[\uff01-\uff5e]", regex=True).fillna(False).astype(bool)
    if wide.any():
        text = text.copy()
        text[wide] = text[wide].str.translate(_FULL_WIDTH)
    return text.str.strip().replace("", pd.NA)


def numeric_answers(values: pd.Series, missing_codes: Sequence[str]
                    ) -> tuple[pd.Series, pd.Series]:
    """Read answers as numbers for checking, with missing codes set apart.

    Returns ``(numbers, codes)``: ``numbers`` is float (NaN for missing, codes and text that is
    no amount); ``codes`` holds the missing code (``"-99"``) where one was written, else NA.
    Text amounts (三千, 0.3万) are read with :func:`doorstep.clean.values.parse_money`.

    Examples
    --------
    >>> import pandas as pd
    >>> numbers, codes = numeric_answers(pd.Series(["三千", "-88"]), ("-88",))
    >>> numbers.tolist()
    [3000.0, nan]
    """
    text = fold_text(values)
    is_code = text.isin(list(missing_codes)).fillna(False).astype(bool)
    codes = text.where(is_code, pd.NA)
    numbers = pd.to_numeric(text.where(~is_code), errors="coerce").astype(float)
    unread = numbers.isna() & text.notna() & ~is_code
    if unread.any():
        numbers = numbers.copy()
        numbers[unread] = [parse_money(value) for value in text[unread]]
        numbers = numbers.astype(float)
    return numbers, codes


def local_times(values: pd.Series) -> pd.Series:
    """Parse platform time stamps as local wall-clock times (the offset is dropped).

    Examples
    --------
    >>> import pandas as pd
    >>> local_times(pd.Series(["2024-03-05T09:55:31.836+08:00", "2025/3/3 9:17"])).dt.hour.tolist()
    [9, 9]
    """
    text = values.astype("string").str.strip().str.replace(_TIME_ZONE, "", regex=True)
    return pd.to_datetime(text, errors="coerce", format="mixed")


def interview_starts(frame: pd.DataFrame) -> pd.Series:
    """Local start time of each interview: ``start``, else submission minus duration.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"_submitted_at": ["2024/9/2 11:46:42"], "_duration_seconds": [60]})
    >>> str(interview_starts(frame)[0])
    '2024-09-02 11:45:42'
    """
    starts = (local_times(frame["start"]) if "start" in frame
              else pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]"))
    if "_submitted_at" in frame:
        seconds = pd.to_numeric(frame.get("_duration_seconds"), errors="coerce").fillna(0)
        ends = local_times(frame["_submitted_at"]) - pd.to_timedelta(seconds, unit="s")
        starts = starts.fillna(ends)
    if "interview_date" in frame:
        dates = local_times(frame["interview_date"])
        starts = starts.fillna(dates)
    return starts


def personal_columns(instrument: Instrument | None, config: CheckConfig,
                     columns: Sequence[str]) -> frozenset[str]:
    """Personal columns: instrument ``pii`` flags, the config's, phones, GPS and name-like ones.

    Examples
    --------
    >>> from doorstep.checks.config import CheckConfig
    >>> sorted(personal_columns(None, CheckConfig("id"), ["child_name", "age", "gps"]))
    ['child_name', 'gps', 'phone']
    """
    personal = set(config.personal_columns) | set(config.phone_columns)
    if config.gps_column:
        personal.add(config.gps_column)
    if instrument is not None:
        personal |= set(instrument.personal_names)
        personal |= {q.name for q in instrument.questions if q.type == "geopoint"}
    personal |= {c for c in columns if any(word in str(c).lower() for word in PERSONAL_WORDS)}
    return frozenset(personal)


def prepare(exports, instrument: Instrument | None, config: CheckConfig) -> Prepared:
    """Stack the exports and classify their question columns.

    Examples
    --------
    >>> # exercised through doorstep.checks.run_checks
    """
    frame = stack_exports(exports)
    enumerator = config.enumerator_column
    if enumerator not in frame and "username" in frame:
        enumerator = "username"
    if enumerator not in frame:
        frame["_enumerator"] = "unknown"
        enumerator = "_enumerator"
    frame[enumerator] = frame[enumerator].astype("string").fillna("unknown")
    if config.id_column not in frame:
        raise DataError(f"checks: column {config.id_column!r} (config id_column) is in none of "
                        f"the exports; found columns {list(frame.columns)[:12]}...")
    reader = set(READER_COLUMNS) | {"_export", "_interview"}
    answer_columns = [c for c in frame.columns if c not in reader]
    personal = personal_columns(instrument, config, answer_columns)
    if instrument is not None:
        by_name = {q.name: q for q in instrument.questions}
        questions = tuple(c for c in answer_columns
                          if c in by_name and by_name[c].is_question)
        numeric = tuple(c for c in questions if by_name[c].type in ("integer", "decimal"))
        categorical = tuple(c for c in questions if by_name[c].type == "select_one")
    else:
        questions = tuple(c for c in answer_columns if not c.startswith("_"))
        numeric = tuple(c for c in questions
                        if pd.to_numeric(fold_text(frame[c]), errors="coerce").notna().mean()
                        > 0.9)
        categorical = tuple(c for c in numeric if frame[c].nunique() <= 10)
    return Prepared(frame=frame, questions=questions, numeric_questions=numeric,
                    categorical_questions=categorical, personal=personal,
                    enumerator_column=enumerator)
