"""``run_checks``: every fieldwork check over the raw exports, in one call, as frozen results.

This module owns the order of the checks and the :class:`CheckResults` record. It reads the
previous run's state (when ``state_dir`` is configured) to mark what is new, but writes nothing;
:func:`doorstep.checks.save_state` and the writers do. It must not import ``estimate``,
``report`` or ``run``.

Examples
--------
>>> # see run_checks
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from doorstep.checks.backcheck import BackcheckResults, compare_backcheck
from doorstep.checks.config import CheckConfig, check_config
from doorstep.checks.duration import check_durations, interview_durations, section_times
from doorstep.checks.enumerators import (
    default_scales,
    enumerator_dashboard,
    enumerator_distances,
    rank_enumerators,
    ranking_questions,
    straightlining,
)
from doorstep.checks.flags import concat_flags, make_flags
from doorstep.checks.identity import check_identity
from doorstep.checks.logic import (
    check_constraints,
    check_outliers,
    check_skip_logic,
    check_versions,
    relevance,
)
from doorstep.checks.prepare import fold_text, interview_starts, numeric_answers, prepare
from doorstep.checks.progress import check_progress
from doorstep.checks.state import load_state
from doorstep.instrument import Instrument


@dataclass(frozen=True)
class CheckResults:
    """Everything one check run found; tables as frames, no personal data, no raw frame.

    Attributes
    ----------
    flags : one row per issue (see :data:`doorstep.checks.FLAG_COLUMNS`), ``is_new`` against
        the previous run's state.
    summary : ``metric, total, new`` (interviews, flags by check).
    progress, duplicates, durations, section_times, enumerators, ranking, distances,
    outliers, versions, per_day, by_hour : the check tables.
    backcheck : :class:`BackcheckResults` or None.
    records : the interview keys checked (for the incremental state).
    notes : checks that could not run, and why.
    language : the configured language of the flag lists.

    Examples
    --------
    >>> results = run_checks(frames, form, {"id_column": "child_id"})  # doctest: +SKIP
    >>> results.ranking.iloc[0]["enumerator"]  # doctest: +SKIP
    'E10'
    """

    flags: pd.DataFrame
    summary: pd.DataFrame
    progress: pd.DataFrame
    duplicates: pd.DataFrame
    durations: pd.DataFrame
    section_times: pd.DataFrame
    enumerators: pd.DataFrame
    ranking: pd.DataFrame
    distances: pd.DataFrame
    outliers: pd.DataFrame
    versions: pd.DataFrame
    per_day: pd.DataFrame
    by_hour: pd.DataFrame
    backcheck: BackcheckResults | None
    records: tuple[str, ...]
    notes: tuple[str, ...]
    language: str
    supervisors: dict


def _other_answers(prepared, instrument: Instrument | None, answers: pd.DataFrame,
                   config: CheckConfig) -> pd.DataFrame:
    other = {}
    by_name = {q.name: q for q in instrument.questions} if instrument else {}
    for name in answers.columns:
        question = by_name.get(name)
        if question is None or not question.is_select or not question.list_name:
            continue
        codes = set(config.other_codes)
        for choice in instrument.choices.get(question.list_name, ()):
            labels = " ".join(choice.labels.values()).lower()
            if labels.startswith("other") or "其他" in labels or " other" in labels:
                codes.add(choice.name)
        if question.is_multiple:
            tokens = answers[name].str.split()
            other[name] = tokens.map(lambda t, codes=codes: bool(set(t) & codes),
                                     na_action="ignore").fillna(False).astype(bool)
        else:
            other[name] = answers[name].isin(list(codes)).fillna(False).astype(bool)
    return pd.DataFrame(other, index=answers.index)


def run_checks(exports, instrument: Instrument | None, config: dict | CheckConfig
               ) -> CheckResults:
    """Run every fieldwork check over raw exports and return the results.

    Parameters
    ----------
    exports
        Frames read by :func:`doorstep.io.read_export`: one frame, a list, or a mapping
        name -> frame (one per round or per export file). They are not changed.
    instrument
        The XLSForm instrument (skip logic, constraints, question types, personal flags); None
        runs the checks that need no instrument.
    config
        A dict (see :mod:`doorstep.checks.config` for every key) or a :class:`CheckConfig`.

    Returns
    -------
    CheckResults

    Raises
    ------
    ConfigError
        For an unknown or ill-typed config key, or a phone column without ``hash_key``.
    DataError
        When an export lacks the reader columns or the id column.

    Examples
    --------
    >>> from doorstep.checks import run_checks
    >>> results = run_checks({"round1": frame}, form,
    ...                      {"id_column": "child_id", "hash_key": "s3cret"})  # doctest: +SKIP
    >>> results.summary  # doctest: +SKIP
    """
    config = check_config(config)
    prepared = prepare(exports, instrument, config)
    frame = prepared.frame
    codes = tuple(config.missing_codes)
    answers = pd.DataFrame({q: fold_text(frame[q]) for q in prepared.questions},
                           index=frame.index)
    numbers = {q: numeric_answers(frame[q], codes)[0] for q in prepared.numeric_questions}
    relevant, notes = relevance(prepared, instrument)
    applicable = pd.DataFrame(
        {q: (relevant[q][1] if q in relevant else pd.Series(True, index=frame.index))
         for q in prepared.questions}, index=frame.index).astype(bool)
    starts = interview_starts(frame)
    as_of = config.as_of
    if as_of is None and starts.notna().any():
        as_of = starts.max().date()

    identity_flags, duplicates = check_identity(prepared, config)
    answered = answers.notna() & ~answers.isin(
        [c for c, m in config.missing_codes.items() if m == "not_applicable"])
    durations = interview_durations(prepared, answered)
    duration_flags = check_durations(prepared, config, durations)
    skip_flags = check_skip_logic(prepared, config, answers, relevant)
    constraint_flags, constraint_notes = check_constraints(prepared, config, instrument,
                                                           answers, numbers)
    outlier_flags, outliers = check_outliers(prepared, config, numbers)
    version_flags, versions = check_versions(prepared, config, instrument)
    flags = concat_flags([identity_flags, duration_flags, skip_flags, constraint_flags,
                          outlier_flags, version_flags])

    scales = dict(config.scales) if config.scales is not None else default_scales(
        instrument, answers.columns)
    straight = straightlining(answers, scales, codes)
    if not straight.empty:
        lined = straight.any(axis=1)
        names = pd.Series([", ".join(straight.columns[row]) for row in
                           straight[lined].to_numpy()], index=frame.index[lined], dtype=object)
        flags = concat_flags([flags, make_flags(
            frame, frame.index[lined], check="straightlining", variable=names, value="",
            reason_en="every item of the scale answered with the same value",
            reason_zh="量表所有题目选择了同一个答案",
            enumerator_column=prepared.enumerator_column, personal=prepared.personal)])
    dashboard, patterns = enumerator_dashboard(
        prepared, config, answers=answers, applicable=applicable, durations=durations,
        straight=straight, scales=scales, starts=starts, flags=flags,
        other_answers=_other_answers(prepared, instrument, answers, config))
    distances = enumerator_distances(prepared, answers,
                                     ranking_questions(prepared, config, answers))
    ranking = rank_enumerators(distances, dashboard, config)
    progress = check_progress(prepared, config, as_of)

    previous = load_state(config.state_dir)
    records = tuple(frame["_interview"].astype(str))
    if previous is not None:
        flags = flags.assign(is_new=~flags["flag_key"].isin(previous["flags"]))
        new_records = sum(1 for r in set(records) if r not in previous["records"])
    else:
        new_records = len(set(records))
    summary_rows = [{"metric": "interviews", "total": len(set(records)), "new": new_records},
                    {"metric": "flags", "total": len(flags), "new": int(flags["is_new"].sum())}]
    for check, group in flags.groupby("check", sort=True):
        summary_rows.append({"metric": f"flags: {check}", "total": len(group),
                             "new": int(group["is_new"].sum())})

    backcheck = None
    if config.backcheck is not None:
        spec = dict(config.backcheck)
        data = spec.pop("data", None)
        if data is not None:
            spec.setdefault("id_column", config.id_column)
            spec.setdefault("enumerator_column", prepared.enumerator_column)
            backcheck = compare_backcheck(frame, data, spec)

    interview_table = pd.DataFrame({
        "interview": frame["_interview"], "record_id": frame["_record_id"].astype(str),
        "source_file": frame["_source_file"].astype(str), "enumerator":
        frame[prepared.enumerator_column].astype(str), "start": starts, **durations,
    })
    supervisors = {e: config.supervisors.get(e, "all") for e in dashboard.index}
    return CheckResults(
        flags=flags, summary=pd.DataFrame(summary_rows), progress=progress,
        duplicates=duplicates, durations=interview_table,
        section_times=section_times(prepared, config), enumerators=dashboard.reset_index(),
        ranking=ranking, distances=distances.reset_index(), outliers=outliers,
        versions=versions, per_day=patterns["per_day"], by_hour=patterns["by_hour"],
        backcheck=backcheck, records=records, notes=tuple(notes + constraint_notes),
        language=config.language, supervisors=supervisors)
