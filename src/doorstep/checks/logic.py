"""Checks from the instrument and the distribution: constraints, skip logic, outliers, versions.

This module owns the constraint and ``relevant`` checks (evaluated with
:func:`doorstep.instrument.expressions.evaluate`, vectorised, never ``eval``), the outlier check
by variable and group, and the form-version mix. It must not import ``estimate``, ``report`` or
``run``.

Outliers
--------
A numeric answer (missing codes excluded) is an outlier when it lies more than
``outlier_multiplier`` interquartile ranges from the median of its variable within its group
(``outlier_groups``, e.g. township); groups with an interquartile range of zero or fewer than
10 answers are not checked.

Examples
--------
>>> # exercised through doorstep.checks.run_checks
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from doorstep.checks.config import CheckConfig
from doorstep.checks.flags import concat_flags, empty_flags, make_flags
from doorstep.checks.prepare import Prepared
from doorstep.errors import ConfigError
from doorstep.instrument import Instrument
from doorstep.instrument.expressions import evaluate

VERSION_COLUMNS = ("__version__", "_version", "version", "formhub_version")


def relevance(prepared: Prepared, instrument: Instrument | None) -> tuple[dict, list[str]]:
    """Evaluate every question's ``relevant``: name -> (expression, bool Series), and notes.

    Examples
    --------
    >>> # see tests/test_checks.py::test_skip_logic_violations_are_flagged
    """
    relevant: dict[str, tuple[str, pd.Series]] = {}
    notes: list[str] = []
    if instrument is None:
        return relevant, notes
    for question in instrument.questions:
        if question.name not in prepared.frame or not question.relevant:
            continue
        try:
            relevant[question.name] = (question.relevant,
                                       evaluate(question.relevant, prepared.frame))
        except ConfigError as error:
            notes.append(f"relevant of {question.name!r} not checked: {error}")
    return relevant, notes


def check_skip_logic(prepared: Prepared, config: CheckConfig, answers: pd.DataFrame,
                     relevant: dict) -> pd.DataFrame:
    """Flag answers that the question's ``relevant`` should have hidden (codes -66 allowed).

    Examples
    --------
    >>> # see tests/test_checks.py::test_skip_logic_violations_are_flagged
    """
    frame = prepared.frame
    not_applicable = [code for code, meaning in config.missing_codes.items()
                      if meaning == "not_applicable"]
    tables = []
    for name, (expression, shown) in relevant.items():
        values = answers[name]
        hidden_answer = ~shown & values.notna() & ~values.isin(not_applicable).fillna(False)
        rows = frame.index[hidden_answer.astype(bool)]
        tables.append(make_flags(
            frame, rows, check="skip_logic", variable=name, value=values,
            reason_en=f"answered although skip logic hides it (relevant: {expression})",
            reason_zh=f"按跳转逻辑不应回答此题，但有回答（条件：{expression}）",
            enumerator_column=prepared.enumerator_column, personal=prepared.personal))
    return concat_flags(tables)


def check_constraints(prepared: Prepared, config: CheckConfig, instrument: Instrument | None,
                      answers: pd.DataFrame, numbers: dict) -> tuple[pd.DataFrame, list[str]]:
    """Flag answers that break their question's ``constraint`` (missing codes are not checked).

    Integer and decimal answers are checked as numbers (text amounts read as numbers), others as
    text with full-width characters folded.

    Examples
    --------
    >>> # see tests/test_checks.py::test_constraints_are_flagged
    """
    frame = prepared.frame
    tables: list[pd.DataFrame] = []
    notes: list[str] = []
    if instrument is None:
        return empty_flags(), notes
    codes = list(config.missing_codes)
    for question in instrument.questions:
        name = question.name
        if not question.constraint or name not in answers:
            continue
        values = answers[name]
        checked = values.notna() & ~values.isin(codes).fillna(False)
        if not checked.any():
            continue
        current = numbers.get(name, values)
        try:
            passes = evaluate(question.constraint, frame, current=current)
        except ConfigError as error:
            notes.append(f"constraint of {name!r} not checked: {error}")
            continue
        broken = checked.astype(bool) & ~passes
        tables.append(make_flags(
            frame, frame.index[broken], check="constraint", variable=name, value=values,
            reason_en=f"breaks the constraint {question.constraint}",
            reason_zh=f"不符合约束条件 {question.constraint}",
            enumerator_column=prepared.enumerator_column, personal=prepared.personal))
    return concat_flags(tables), notes


def check_outliers(prepared: Prepared, config: CheckConfig, numbers: dict
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Flag numeric answers far from their variable's median within a group.

    Returns
    -------
    (flags, summary)
        ``summary`` has one row per variable and group: median, interquartile range, bounds,
        number checked and number of outliers.

    Examples
    --------
    >>> # see tests/test_checks.py::test_outliers_by_group
    """
    frame = prepared.frame
    groups = [g for g in config.outlier_groups if g in frame]
    key = (frame[groups].astype(str).agg(" / ".join, axis=1) if groups
           else pd.Series("all", index=frame.index))
    k = config.outlier_multiplier
    tables, summaries = [], []
    for name in prepared.numeric_questions:
        if name in prepared.personal or name not in numbers:
            continue
        values = numbers[name]
        grouped = values.groupby(key)
        median = key.map(grouped.median())
        iqr = key.map(grouped.quantile(0.75) - grouped.quantile(0.25))
        count = key.map(grouped.count())
        usable = (iqr > 0) & (count >= 10)
        outside = usable & values.notna() & ((values - median).abs() > k * iqr)
        low, high = median - k * iqr, median + k * iqr
        tables.append(make_flags(
            frame, frame.index[outside], check="outlier", variable=name, value=values,
            reason_en=("outside " + low.round(1).astype(str) + " to " + high.round(1).astype(str)
                       + f" (median ± {k:g} IQR within " + key + ")"),
            reason_zh=("超出 " + low.round(1).astype(str) + " 至 " + high.round(1).astype(str)
                       + f" 的范围（组内中位数 ± {k:g} 倍四分位距，组：" + key + "）"),
            enumerator_column=prepared.enumerator_column, personal=prepared.personal))
        summary = pd.DataFrame({"group": key, "median": median, "iqr": iqr, "low": low,
                                "high": high, "checked": values.notna() & usable,
                                "outlier": outside}).groupby("group").agg(
            median=("median", "first"), iqr=("iqr", "first"), low=("low", "first"),
            high=("high", "first"), n_checked=("checked", "sum"), n_outliers=("outlier", "sum"))
        summary.insert(0, "variable", name)
        summaries.append(summary.reset_index())
    summary = (pd.concat(summaries, ignore_index=True) if summaries else pd.DataFrame(
        columns=["group", "variable", "median", "iqr", "low", "high", "n_checked",
                 "n_outliers"]))
    return concat_flags(tables), summary


def check_versions(prepared: Prepared, config: CheckConfig, instrument: Instrument | None
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The form-version mix by export and enumerator, and flags for unexpected versions.

    The expected version is ``config.expected_version``, else the instrument's version; a
    version column is ``config.version_column`` or one of :data:`VERSION_COLUMNS`.

    Examples
    --------
    >>> # see tests/test_checks.py::test_version_mix
    """
    frame = prepared.frame
    candidates = ((config.version_column,) if config.version_column else ()) + VERSION_COLUMNS
    column = next((c for c in candidates if c in frame), None)
    if column is None:
        return empty_flags(), pd.DataFrame(columns=["export", "enumerator", "version",
                                                     "n_interviews"])
    versions = frame[column].astype("string").fillna("(none)")
    mix = pd.DataFrame({"export": frame["_export"], "enumerator":
                        frame[prepared.enumerator_column], "version": versions})
    mix = mix.value_counts().rename("n_interviews").reset_index().sort_values(
        ["export", "enumerator", "version"], ignore_index=True)
    expected = config.expected_version or (instrument.version if instrument else None)
    if not expected:
        return empty_flags(), mix
    wrong = versions != expected
    flags = make_flags(frame, frame.index[np.asarray(wrong, dtype=bool)], check="form_version",
                       variable=column, value=versions,
                       reason_en=f"form version differs from the expected {expected}",
                       reason_zh=f"问卷版本与应使用的版本 {expected} 不同",
                       enumerator_column=prepared.enumerator_column, personal=prepared.personal)
    return flags, mix
