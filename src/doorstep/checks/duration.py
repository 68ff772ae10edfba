"""Interview durations: too short in total, too fast per answered question, time per section.

This module owns the duration checks. The length of an interview is the reader's
``_duration_seconds`` (Kobo/ODK ``end - start``, Wenjuanxing's 所用时间); an interview is flagged
when it lasts less than ``min_duration_minutes`` or when its seconds per answered question fall
below ``min_seconds_per_question``. It must not import ``estimate``, ``report`` or ``run``.

Examples
--------
>>> # exercised through doorstep.checks.run_checks; see check_durations
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from doorstep.checks.config import CheckConfig
from doorstep.checks.flags import concat_flags, make_flags
from doorstep.checks.prepare import Prepared


def interview_durations(prepared: Prepared, answered: pd.DataFrame) -> pd.DataFrame:
    """Seconds, answered questions and seconds per answered question of every interview.

    Examples
    --------
    >>> # see tests/test_checks.py::test_short_interviews_are_flagged
    """
    frame = prepared.frame
    seconds = pd.to_numeric(frame.get("_duration_seconds"), errors="coerce").astype(float)
    n_answered = answered.sum(axis=1).astype(int)
    per_question = seconds / n_answered.replace(0, np.nan)
    return pd.DataFrame({"seconds": seconds, "n_answered": n_answered,
                         "seconds_per_question": per_question}, index=frame.index)


def check_durations(prepared: Prepared, config: CheckConfig, durations: pd.DataFrame
                    ) -> pd.DataFrame:
    """Flag interviews that are too short, too fast per question, or have a negative length.

    Examples
    --------
    >>> # see tests/test_checks.py::test_short_interviews_are_flagged
    """
    frame = prepared.frame
    options = {"enumerator_column": prepared.enumerator_column, "personal": prepared.personal}
    seconds, per_question = durations["seconds"], durations["seconds_per_question"]
    minimum = config.min_duration_minutes * 60
    short = seconds.notna() & (seconds >= 0) & (seconds < minimum)
    fast = per_question.notna() & (per_question >= 0) & (per_question < config
                                                           .min_seconds_per_question) & ~short
    negative = seconds.notna() & (seconds < 0)
    minutes = (seconds / 60).round(1).astype(str)
    rate = per_question.round(1).astype(str)
    answered = durations["n_answered"].astype(str)
    tables = [
        make_flags(frame, frame.index[short], check="duration_short",
                   variable="_duration_seconds", value=seconds.round(0),
                   reason_en=("interview lasted " + minutes + " minutes, under the minimum of "
                              f"{config.min_duration_minutes:g} (" + rate + " s per question)"),
                   reason_zh=("访问仅用时 " + minutes + " 分钟，低于最短时长 "
                              f"{config.min_duration_minutes:g} 分钟（每题 " + rate + " 秒）"),
                   severity="error", **options),
        make_flags(frame, frame.index[fast], check="duration_per_question",
                   variable="_duration_seconds", value=seconds.round(0),
                   reason_en=(rate + " seconds per answered question (" + answered
                              + " answered), under the minimum of "
                              f"{config.min_seconds_per_question:g}"),
                   reason_zh=("每道已答题仅用 " + rate + " 秒（共答 " + answered + " 题），低于 "
                              f"{config.min_seconds_per_question:g} 秒"), **options),
        make_flags(frame, frame.index[negative], check="duration_negative",
                   variable="_duration_seconds", value=seconds,
                   reason_en="end time is before start time", reason_zh="结束时间早于开始时间",
                   **options),
    ]
    return concat_flags(tables)


def section_times(prepared: Prepared, config: CheckConfig) -> pd.DataFrame:
    """Mean and median minutes per section and enumerator, when the platform records them.

    ``config.section_time_columns`` maps a section name to a column holding its seconds.
    Returns an empty frame when none is configured or present.

    Examples
    --------
    >>> # see tests/test_checks.py::test_section_times
    """
    frame = prepared.frame
    rows = []
    for section, column in config.section_time_columns.items():
        if column not in frame:
            continue
        minutes = pd.to_numeric(frame[column], errors="coerce") / 60
        grouped = minutes.groupby(frame[prepared.enumerator_column])
        table = pd.DataFrame({"mean_minutes": grouped.mean(), "median_minutes": grouped.median()})
        table = table.reset_index(names="enumerator")
        table.insert(0, "section", section)
        rows.append(table)
    if not rows:
        return pd.DataFrame(columns=["section", "enumerator", "mean_minutes", "median_minutes"])
    return pd.concat(rows, ignore_index=True)
