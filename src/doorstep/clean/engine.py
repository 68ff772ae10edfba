"""The cleaning run: chain the steps in a fixed order and account for every row and change.

This module owns :func:`run` and :class:`CleanResult`: it turns a spec and an instrument into
step rules, chains the steps of :mod:`doorstep.clean.steps` in the order below, adds unit id,
round and source to every log entry, flag and dropped row, masks personal values, checks the
row accounting and builds the codebook. It must not import ``doorstep.estimate``,
``doorstep.report`` or ``doorstep.run``.

Order of steps
--------------
0. ``supervisor_drop`` / ``supervisor_resurvey`` field supervisors' resolutions of the fieldwork
                        flag lists (``supervisor_resolutions``) re-applied;
1. ``duplicate``        exact copies of a row (all columns but record id, source row and
                        submission time) dropped, the first kept;
   ``duplicate_resolved`` / ``duplicate_new_id`` the duplicates resolution file re-applied;
2. ``short_interview``  interviews shorter than ``min_duration_minutes`` dropped;
3. ``text_normalisation`` full-width to half-width, whitespace trimmed (answer columns);
4. ``missing_code``     -99/-88/-66, 不知道/拒答/不适用 and Wenjuanxing's (跳过)/(空) to missing,
                        with their meaning (kept in ``<var>__missing`` with ``typed_missing``);
5. ``leading_zeros`` / ``id_card_*`` identifier repair and ID card validation;
   ``panel_link``       reviewed panel links re-applied from the links table;
6. ``resubmission``     one row per unit and round, the latest submission kept (the duplicates
                        report is built first; ``duplicates.unresolved: error`` stops here);
   ``panel_unmatched`` / ``panel_new_unit`` follow-up ids seen in no other round flagged;
7. ``money_*``          amounts read in yuan, monthly amounts that are annual divided by 12;
8. ``type_*``           types from the instrument (numbers, numeric codes, dates);
9. ``constraint``       the instrument's hard constraints;
10. ``skip_logic``      answers hidden by ``relevant`` set missing (``not applicable`` in
                        ``<var>__missing`` with ``typed_missing``);
11. ``other_specify`` / ``correction`` the recode table and the corrections file re-applied;
12. ``outlier`` / ``outlier_winsorised`` and ``straight_lining`` review rules;
13. option columns      ``<var>__<code>`` 0/1 columns for select_multiple (derived, no log);
14. personal data      GPS coarsened, keyed pseudonyms, other personal columns removed.
Rows are dropped early (0, 1, 2, 6) so that later steps do not log changes to rows that
leave, and in one copy: the row steps up to 6 are told which rows are still in and leave the
frame whole; the cell steps in between run on the dropped rows too, but their log entries,
flags and column changes in those rows alone are undone; the rows go after step 6.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"child_id": ["1", "2"], "inc_wages": ["三千", "-99"],
...                       "_record_id": ["a", "b"], "_source_row": [1, 2], "round": [1, 1]})
>>> result = run(frame, {"unit_id": "child_id", "money": {"variables": ["inc_wages"]}})
>>> result.data["inc_wages"].tolist()
[3000.0, nan]
>>> result.log[["unit_id", "rule"]].values.tolist()
[['2', 'missing_code'], ['1', 'money_parse']]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from doorstep.clean import privacy, records, review, steps
from doorstep.clean.spec import CleaningSpec, validate_spec
from doorstep.clean.values import parse_number, render_value
from doorstep.errors import ConfigError, DataError
from doorstep.instrument import Instrument
from doorstep.spreadsheet import neutralise_frame

__all__ = [
    "FLAG_COLUMNS",
    "LOG_COLUMNS",
    "PERSONAL_MASK",
    "READER_COLUMNS",
    "AccountingError",
    "CleanResult",
    "run",
]

READER_COLUMNS = ("_record_id", "_submitted_at", "_duration_seconds", "_source_file",
                  "_source_row")
PERSONAL_MASK = "<personal>"
_TRACE_COLUMNS = ("record_id", "source_file", "source_row")
LOG_COLUMNS = ("unit_id", "round", "variable", "old_value", "new_value", "rule", "reason",
               *_TRACE_COLUMNS)
FLAG_COLUMNS = ("unit_id", "round", "variable", "value", "rule", "reason", *_TRACE_COLUMNS)
_NUMBER_TYPES = frozenset({"integer", "decimal", "range"})
_DATE_TYPES = frozenset({"date", "datetime", "start", "end", "today"})
# Row steps run on the whole frame, each told which rows earlier ones dropped; their rows
# leave in one copy once the last of them has run.
_ROW_STEPS_IN_ONE_COPY = ("supervisor", "duplicate", "duplicate_resolutions", "short_interview",
                          "resubmission")


class AccountingError(RuntimeError):
    """An internal inconsistency: rows in differ from rows out plus rows dropped."""


@dataclass(frozen=True)
class CleanResult:
    """The outcome of a cleaning run.

    Attributes
    ----------
    data
        The clean frame, one row per kept interview, personal columns removed.
    log
        One row per changed cell: ``unit_id, round, variable, old_value, new_value, rule,
        reason`` (old and new as text) plus ``record_id, source_file, source_row``.
    dropped
        The dropped input rows as they came in, with ``drop_rule`` and ``drop_reason``.
    flags
        Values to review, unchanged: ``unit_id, round, variable, value, rule, reason`` plus
        the trace columns.
    codebook
        One row per variable: name, ``label_<language>``, type, allowed values, relevant,
        constraint, personal, in_data, n_nonmissing, n_missing.
    duplicates
        The duplicates report (:func:`doorstep.clean.records.duplicates_report`): records
        sharing a unit id and round with the variables on which they differ, to resolve.
    panel_links
        Candidate links for follow-up rows whose unit id is in no other round, for review
        (:func:`doorstep.clean.review.link_rounds`); never applied without a links table.
    linking
        Personal: pseudonym -> original. Never written by :func:`write_clean_outputs`; write it
        with :func:`doorstep.clean.privacy.write_linking_table` to where the spec points.

    Examples
    --------
    >>> import pandas as pd
    >>> result = run(pd.DataFrame({"woman_id": ["w1"]}), {"unit_id": "woman_id"})
    >>> len(result.data), len(result.dropped), len(result.log)
    (1, 0, 0)
    """

    data: pd.DataFrame
    log: pd.DataFrame
    dropped: pd.DataFrame
    flags: pd.DataFrame
    codebook: pd.DataFrame
    duplicates: pd.DataFrame = field(default_factory=pd.DataFrame)
    panel_links: pd.DataFrame = field(default_factory=pd.DataFrame)
    linking: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)


@dataclass(frozen=True)
class _Plan:
    """What the run knows about the columns before it starts."""

    answer_columns: tuple[str, ...]
    personal: tuple[str, ...]
    pseudonym_rule: privacy.PseudonymRule = field(
        default_factory=lambda: privacy.PseudonymRule(()))


def _decisions(spec: CleaningSpec) -> dict[str, Any]:
    """The decision tables named in the spec, read (they are re-applied on every run)."""
    decided: dict[str, Any] = {"resolutions": {}, "links": {}, "other_specify": {},
                               "corrections": (), "supervisor": {}}
    if spec.supervisor_resolutions:
        from doorstep.checks import read_resolutions  # checks imports clean's parsers

        for path in spec.supervisor_resolutions:
            table = read_resolutions(path)
            for row in table.itertuples(index=False):
                if row.resolution:
                    decided["supervisor"][row.interview] = (
                        row.resolution, getattr(row, "resolved_by", ""), row.check,
                        getattr(row, "notes", ""))
    if spec.duplicates.resolutions is not None:
        table = records.read_decision_table(spec.duplicates.resolutions,
                                            records.RESOLUTION_COLUMNS, "duplicates.resolutions")
        bad = sorted(set(table["action"]) - set(records.RESOLUTION_ACTIONS) - {""})
        if bad:
            raise ConfigError(f"{spec.duplicates.resolutions}, column action: expected one of "
                              f"{list(records.RESOLUTION_ACTIONS)}, found {bad}")
        decided["resolutions"] = {
            row.record_id: (row.action, row.new_id, row.initials, row.notes)
            for row in table.itertuples(index=False) if row.action}
    if spec.panel.links is not None:
        table = records.read_decision_table(
            spec.panel.links, ("round", "recorded_id", "unit_id", "who", "why"), "panel.links")
        decided["links"] = {(row.round, row.recorded_id): (row.unit_id, f"{row.who}: {row.why}")
                            for row in table.itertuples(index=False) if row.unit_id}
    if spec.other_specify is not None:
        table = records.read_decision_table(spec.other_specify, records.OTHER_SPECIFY_COLUMNS,
                                            "other_specify")
        decided["other_specify"] = {(row.variable, row.text): row.new_code
                                    for row in table.itertuples(index=False)}
    if spec.corrections is not None:
        table = records.read_decision_table(spec.corrections, records.CORRECTION_COLUMNS,
                                            "corrections")
        decided["corrections"] = tuple(
            tuple(row) for row in table[list(records.CORRECTION_COLUMNS)].itertuples(index=False))
    return decided


def _answer_columns(frame: pd.DataFrame, spec: CleaningSpec) -> tuple[str, ...]:
    skipped = {*READER_COLUMNS, spec.round_column}
    return tuple(column for column in frame.columns if column not in skipped)


def _all_numeric(codes: tuple[str, ...]) -> bool:
    """True when every code is a plain number that reads back the same ("01" is a label)."""
    return bool(codes) and all(
        parse_number(code) is not None and render_value(parse_number(code)) == code
        for code in codes
    )


def _choice_codes(instrument: Instrument, list_name: str | None) -> tuple[str, ...]:
    if list_name is None:
        return ()
    return tuple(choice.name for choice in instrument.choices.get(list_name, ()))


def _type_rule(instrument: Instrument | None, money: tuple[str, ...]) -> steps.TypeRule:
    if instrument is None:
        return steps.TypeRule({})
    kinds, choices, whole = {}, {}, []
    for question in instrument.questions:
        if question.name in money:
            continue
        codes = _choice_codes(instrument, question.list_name)
        if question.type in _NUMBER_TYPES:
            kinds[question.name] = "number"
            if question.type == "integer":
                whole.append(question.name)
        elif question.type in _DATE_TYPES:
            kinds[question.name] = "date"
        elif question.type == "select_one":
            kinds[question.name] = "code_number" if _all_numeric(codes) else "code_text"
        elif question.type == "select_multiple":
            kinds[question.name] = "multiple"
        if codes:
            choices[question.name] = codes
    return steps.TypeRule(kinds, choices, tuple(whole))


def _steps(spec: CleaningSpec, instrument: Instrument | None, plan: _Plan,
           ) -> list[tuple[str, Callable[..., steps.StepResult]]]:
    """The steps of a run, in order, each bound to its rule."""
    unit_and_answers = (spec.unit_id, *plan.answer_columns)
    codes_columns = [name for name in plan.answer_columns if name != spec.unit_id]
    missing = steps.MissingCodesRule(
        {name: spec.missing_codes_for(name) for name in codes_columns}, spec.missing_texts,
        companion=spec.typed_missing,
    )
    questions = instrument.questions if instrument is not None else ()
    constraints = tuple((q.name, q.constraint) for q in questions if q.constraint)
    relevant = tuple((q.name, q.relevant) for q in questions if q.relevant)
    options = {
        q.name: _choice_codes(instrument, q.list_name) for q in questions
        if q.type == "select_multiple" and instrument is not None
    }
    decisions = _decisions(spec)
    panel_rule = review.PanelRule(spec.unit_id, spec.round_column, spec.panel.name,
                                  spec.panel.age, spec.panel.village)
    plan_steps: list[tuple[str, Callable[..., steps.StepResult]]] = [
        # the row steps (_ROW_STEPS_IN_ONE_COPY) are given the rows still in as ``alive``
        ("supervisor", lambda f, alive: records.apply_supervisor_resolutions(
            f, records.SupervisorRule(decisions["supervisor"]), alive=alive)),
        ("duplicate", lambda f, alive: steps.drop_exact_duplicates(
            f, steps.DuplicateRule(), alive=alive)),
        ("duplicate_resolutions", lambda f, alive: records.apply_duplicate_resolutions(
            f, records.ResolutionRule(spec.unit_id, decisions["resolutions"]), alive=alive)),
        ("short_interview", lambda f, alive: steps.drop_short_interviews(
            f, steps.DurationRule(spec.min_duration_minutes), alive=alive)),
        ("text", lambda f: steps.normalise_text_columns(f, steps.TextRule(unit_and_answers))),
        ("missing_codes", lambda f: steps.apply_missing_codes(f, missing)),
        ("identifiers", lambda f: steps.repair_identifiers(
            f, steps.IdentifierRule(spec.identifier_widths, spec.id_cards))),
        ("panel_links", lambda f: review.apply_panel_links(f, review.LinksRule(
            spec.unit_id, spec.round_column, decisions["links"]))),
        ("resubmission", lambda f, alive: steps.drop_resubmissions(
            f, steps.ResubmissionRule(spec.unit_id, spec.round_column), alive=alive)),
        ("panel_unmatched", lambda f: review.flag_unmatched_units(f, panel_rule)),
        # Amounts are parsed first; whether one is an annual figure is then judged against the
        # unit's other rounds, with the fixed threshold only for units the panel cannot judge.
        ("money", lambda f: steps.parse_money_columns(f, steps.MoneyStepRule(
            spec.money.variables,
            None if spec.money.annual_panel_ratio else spec.money.annual_above,
            spec.money.unit))),
        ("money_panel", lambda f: steps.rescale_annual_in_panel(f, steps.PanelAnnualRule(
            spec.unit_id, spec.round_column, spec.money.variables,
            spec.money.annual_panel_ratio, spec.money.annual_above))
         if spec.money.annual_panel_ratio else steps.StepResult(f, *steps.empty_tables())),
        ("types", lambda f: steps.convert_types(f, _type_rule(instrument, spec.money.variables))),
    ]
    if spec.constraints:
        plan_steps.append(
            ("constraints", lambda f: steps.apply_constraints(
                f, steps.ConstraintRule(constraints, flag_only=(spec.unit_id,))))
        )
    if spec.skip_logic:
        plan_steps.append(
            ("skip_logic", lambda f: steps.apply_skip_logic(
                f, steps.SkipLogicRule(relevant, companion=spec.typed_missing)))
        )
    plan_steps += [
        ("other_specify", lambda f: records.recode_other_specify(
            f, records.OtherSpecifyRule(decisions["other_specify"]))),
        ("corrections", lambda f: records.apply_corrections(f, records.CorrectionsRule(
            spec.unit_id, spec.round_column, decisions["corrections"]))),
    ]
    plan_steps += [
        (f"outliers_{rule.variable}", lambda f, r=rule: review.flag_outliers(f, review.OutlierRule(
            r.variable, r.method, r.threshold, r.by, r.action, r.min_group)))
        for rule in spec.outliers
    ]
    plan_steps += [
        (f"straight_lining_{rule.scale}", lambda f, r=rule: review.flag_straight_lining(
            f, review.StraightLineRule(r.scale, r.items, r.rule, r.threshold, r.min_items)))
        for rule in spec.straight_lining
    ]
    kept_personal = set(spec.pii.pseudonymise) | set(spec.pii.gps)
    plan_steps += [
        ("options", lambda f: steps.derive_option_columns(f, steps.OptionColumnsRule(options))),
        ("gps", lambda f: privacy.coarsen_gps(f, privacy.GpsRule(dict(spec.pii.gps)))),
        ("pseudonymise", lambda f: privacy.pseudonymise_columns(f, plan.pseudonym_rule)),
        ("personal", lambda f: steps.drop_personal_columns(f, steps.PersonalRule(tuple(
            name for name in plan.personal if name not in kept_personal)))),
    ]
    return plan_steps


def _trace(frame: pd.DataFrame, spec: CleaningSpec) -> pd.DataFrame:
    """Per row label: unit id, round, record id, source file and row, as the frame has them."""
    def column(name: str) -> pd.Series:
        if name in frame.columns:
            values = frame[name].astype(object)
            return values.where(~steps.missing_mask(frame[name]), None)
        return pd.Series(None, index=frame.index, dtype=object)

    def rendered(name: str) -> pd.Series:
        if name in frame.columns:
            return steps._render_series(frame[name])
        return pd.Series(None, index=frame.index, dtype=object)

    return pd.DataFrame({
        "unit_id": rendered(spec.unit_id),
        "round": column(spec.round_column),
        "record_id": rendered("_record_id"),
        "source_file": column("_source_file"),
        "source_row": column("_source_row"),
    }, index=frame.index)


def _concat_emptying(pieces: list[pd.DataFrame], **options: Any) -> pd.DataFrame:
    """``pd.concat(pieces)``, the list emptied so that the pieces can be freed at once."""
    joined = pd.concat(pieces, **options)
    pieces.clear()
    return joined


def _attach(entries: pd.DataFrame, trace: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    if entries.empty:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in columns})
    # one lookup of the row labels serves every trace column; unknown labels read None
    # (integer labels held as objects are looked up as integers: twice as fast)
    labels = pd.Index(entries["row"].to_numpy(dtype=object)).infer_objects()
    positions = trace.index.get_indexer(labels)
    attached = {}
    for name in trace.columns:
        values = np.append(trace[name].to_numpy(dtype=object), None)
        attached[name] = pd.Series(values[positions], dtype=object)
    merged = pd.DataFrame({**attached, **{name: entries[name].reset_index(drop=True)
                                          for name in entries.columns if name != "row"}})
    return merged[list(columns)]


def _mask(table: pd.DataFrame, personal: set[str], value_columns: tuple[str, ...]) -> pd.DataFrame:
    if table.empty:
        return table
    is_personal = table["variable"].isin(personal)
    updates = {}
    for name in value_columns:
        values = table[name]
        updates[name] = values.where(~(is_personal & values.notna()), PERSONAL_MASK)
    return table.assign(**updates)


def _codebook(source: pd.DataFrame, data: pd.DataFrame, instrument: Instrument | None,
              personal: tuple[str, ...]) -> pd.DataFrame:
    languages = instrument.languages if instrument is not None else ()
    rows: list[dict[str, Any]] = []
    described: set[str] = set()

    def counts(name: str) -> tuple[int, int]:
        frame = data if name in data.columns else source
        if name not in frame.columns:
            return 0, 0
        missing = int(steps.missing_mask(frame[name]).sum())
        return len(frame) - missing, missing

    if instrument is not None:
        for question in instrument.questions:
            if question.name not in source.columns and question.name not in data.columns:
                continue
            language = instrument.default_language or (languages[0] if languages else None)
            allowed = ""
            if question.list_name:
                labels = instrument.choice_labels(question.list_name, language or "")
                allowed = "; ".join(f"{code}={label}" for code, label in labels.items())
            n_nonmissing, n_missing = counts(question.name)
            rows.append({
                "name": question.name,
                **{f"label_{lang}": question.labels.get(lang) for lang in languages},
                "type": question.type, "allowed_values": allowed,
                "relevant": question.relevant, "constraint": question.constraint,
                "personal": question.name in personal, "in_data": question.name in data.columns,
                "n_nonmissing": n_nonmissing, "n_missing": n_missing,
            })
            described.add(question.name)
    for name in [*source.columns, *data.columns]:
        if name in described:
            continue
        described.add(name)
        kind = "reader" if name in READER_COLUMNS else (
            "derived" if "__" in name and name.rsplit("__", 1)[0] in data.columns
            else str((data if name in data.columns else source)[name].dtype)
        )
        n_nonmissing, n_missing = counts(name)
        rows.append({
            "name": name, **{f"label_{lang}": None for lang in languages}, "type": kind,
            "allowed_values": "", "relevant": None, "constraint": None,
            "personal": name in personal, "in_data": name in data.columns,
            "n_nonmissing": n_nonmissing, "n_missing": n_missing,
        })
    columns = ["name", *(f"label_{lang}" for lang in languages), "type", "allowed_values",
               "relevant", "constraint", "personal", "in_data", "n_nonmissing", "n_missing"]
    return pd.DataFrame(rows, columns=columns)


_SCIENTIFIC_ID = r"^\s*[+-]?\d+(?:\.\d+)?[eE]\+\d+\s*$"  # as Excel writes them


def _refuse_damaged_unit_ids(frame: pd.DataFrame, unit_id: str) -> None:
    """Raise a DataError for unit ids that a spreadsheet turned into scientific notation.

    ``3.30902E+17`` has lost the id's last digits: two units written so would be merged as
    duplicates, silently. The message names the source file and rows when the reader gave them.
    """
    values = frame[unit_id]
    if pd.api.types.is_numeric_dtype(values):
        return
    text = values.astype("str")
    damaged = text.str.match(_SCIENTIFIC_ID).fillna(False).to_numpy(dtype=bool)
    if not damaged.any():
        return
    rows = frame.loc[damaged]
    if {"_source_file", "_source_row"} <= set(frame.columns):
        where = ", ".join(f"{file} row {row}" for file, row in zip(
            rows["_source_file"].head(5), rows["_source_row"].head(5), strict=True))
    else:
        where = "rows " + ", ".join(str(position + 1) for position in
                                    np.flatnonzero(damaged)[:5])
    raise DataError(
        f"column {unit_id!r} (the unit id): expected ids as the platform wrote them, found "
        f"{int(damaged.sum())} in scientific notation such as {text[damaged].iloc[0]!r} "
        f"({where}); a spreadsheet dropped their last digits, so different units would be "
        "merged. Recover the ids from the platform's original export"
    )


def run(
    frame: pd.DataFrame,
    spec: Mapping[str, Any] | CleaningSpec,
    *,
    instrument: Instrument | None = None,
) -> CleanResult:
    """Clean one export (or several rounds stacked) with a full audit trail.

    Parameters
    ----------
    frame
        The reader's frame: answers as text named by the instrument, the reader columns
        (``_record_id``, ``_submitted_at``, ``_duration_seconds``, ``_source_file``,
        ``_source_row``) and ``round``. It is never modified.
    spec
        The cleaning spec as loaded from YAML (validated here) or a :class:`CleaningSpec`.
    instrument
        The questionnaire; gives types, choice lists, constraints, skip logic and personal
        flags. Without it only the spec's rules apply.

    Returns
    -------
    CleanResult
        Clean data, log, dropped rows, flags and codebook. Rows in = rows out + rows dropped.

    Raises
    ------
    ConfigError
        The spec is invalid.
    DataError
        The frame lacks the unit id column or has duplicate column names.
    AccountingError
        Internal: the row accounting does not balance.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"woman_id": ["w1", "w1"], "earnings_month": ["两千五", "3000"],
    ...                       "_submitted_at": ["2024-03-05", "2024-03-06"]})
    >>> result = run(frame, {"unit_id": "woman_id", "money": {"variables": ["earnings_month"]}})
    >>> result.data["earnings_month"].tolist(), result.dropped["drop_rule"].tolist()
    ([3000.0], ['resubmission'])
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame to clean, found {type(frame).__name__}")
    spec = validate_spec(spec)
    if frame.columns.duplicated().any():
        duplicated = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise DataError(f"expected unique column names, found repeated columns {duplicated}")
    if spec.unit_id not in frame.columns:
        raise DataError(
            f"column {spec.unit_id!r} (unit_id in {spec.source}): expected in the data, found "
            f"only {list(frame.columns)[:20]}"
        )
    _refuse_damaged_unit_ids(frame, spec.unit_id)
    source = frame.reset_index(drop=True)
    source.attrs = {}  # pandas deep-copies attrs on every operation: costly on large frames
    personal = tuple(dict.fromkeys([
        *(instrument.personal_names if instrument is not None else ()), *spec.personal
    ]))
    personal = tuple(dict.fromkeys([*personal, *spec.pii.pseudonymise, *spec.pii.drop,
                                    *spec.pii.gps]))
    pseudonym_rule = privacy.PseudonymRule(())
    if spec.pii.pseudonymise:
        pseudonym_rule = privacy.PseudonymRule(spec.pii.pseudonymise, privacy.read_key(
            env=spec.pii.key_env, key_file=spec.pii.key_file, demo_key=spec.pii.demo_key))
    plan = _Plan(_answer_columns(source, spec), personal, pseudonym_rule)

    working = source
    traces = [_trace(working, spec)]
    logs, flags, drops = [], [], []
    duplicates = pd.DataFrame(columns=list(records.DUPLICATE_REPORT_COLUMNS))
    panel_links = pd.DataFrame(columns=list(review.PANEL_LINK_COLUMNS))
    linking = pd.DataFrame(columns=list(privacy.LINKING_COLUMNS))
    # Rows dropped by the row steps up to the re-submissions stay in ``working``, marked dead
    # in ``alive``, and leave in one copy after the re-submissions; the cell steps in between
    # run on them too, but what they log or change only in those rows is undone.
    alive = np.ones(len(working), dtype=bool)
    for name, step in _steps(spec, instrument, plan):
        if name == "resubmission":
            duplicates = _duplicates(working, spec, alive)
        elif name == "panel_unmatched":
            panel_links = _with_trace(review.link_rounds(working, review.PanelRule(
                spec.unit_id, spec.round_column, spec.panel.name, spec.panel.age,
                spec.panel.village)), working)
        elif name == "pseudonymise" and plan.pseudonym_rule.columns:
            linking = privacy.linking_table(working, plan.pseudonym_rule)
        if name in _ROW_STEPS_IN_ONE_COPY:
            result = step(working, alive)
            alive[working.index.get_indexer(result.dropped["row"].to_numpy(dtype=object))] = False
        elif not alive.all():
            result = _only_alive(working, step(working), alive)
        else:
            result = step(working)
        logs.append(result.log)
        flags.append(result.flags)
        drops.append(result.dropped)
        working = result.frame
        # a row's trace changes only when its unit id or round does; a dead row keeps the
        # trace it had when it left
        if result.log["variable"].isin([spec.unit_id, spec.round_column]).any():
            traces.append(_trace(working, spec)[alive])
        if name == _ROW_STEPS_IN_ONE_COPY[-1]:
            working = steps.keep_rows(working, alive)
            alive = np.ones(len(working), dtype=bool)
    working = steps.keep_rows(working, alive)
    traces.append(_trace(working, spec))

    # The latest trace of a row wins: kept rows show their clean unit id, dropped rows the one
    # they had when they left.
    trace = _concat_emptying(traces)
    trace = trace[~trace.index.duplicated(keep="last")]

    # each table is assembled with the steps' pieces freed as soon as they are joined: at a
    # million rows they are hundreds of megabytes
    personal_set = set(personal)
    log = _mask(_attach(_concat_emptying(logs, ignore_index=True), trace, LOG_COLUMNS),
                personal_set, ("old_value", "new_value"))
    flag_table = _mask(_attach(_concat_emptying(flags, ignore_index=True), trace, FLAG_COLUMNS),
                       personal_set, ("value",))
    dropped_reasons = pd.concat(drops, ignore_index=True)
    dropped_labels = dropped_reasons["row"].tolist()
    dropped = source.loc[dropped_labels]
    masked_columns = [name for name in personal if name in dropped.columns]
    if masked_columns:
        dropped = dropped.assign(**{
            name: dropped[name].astype(object).where(dropped[name].isna(), PERSONAL_MASK)
            for name in masked_columns
        })
    dropped = dropped.assign(
        drop_rule=dropped_reasons["drop_rule"].to_numpy(dtype=object),
        drop_reason=dropped_reasons["drop_reason"].to_numpy(dtype=object),
    ).reset_index(drop=True)

    kept_labels = set(working.index)
    if (len(working) + len(dropped) != len(source) or len(set(dropped_labels)) != len(dropped)
            or kept_labels & set(dropped_labels)):
        raise AccountingError(
            f"row accounting does not balance: {len(source)} rows in, {len(working)} out, "
            f"{len(dropped)} dropped"
        )
    data = working.reset_index(drop=True)
    codebook = _codebook(source, data, instrument, personal)
    return CleanResult(data=data, log=log, dropped=dropped, flags=flag_table, codebook=codebook,
                       duplicates=duplicates, panel_links=panel_links, linking=linking)


def _only_alive(before: pd.DataFrame, result: steps.StepResult,
                alive: np.ndarray) -> steps.StepResult:
    """A cell step's result as if the rows not ``alive`` had not been there.

    Its log entries and flags on those rows are removed; a column it changed only in those
    rows is restored (and a ``<var>__missing`` companion it added for it removed), so that
    the outcome is the step's outcome on the alive rows alone. The dead rows' cells of the
    other columns may differ, but those rows are about to leave.
    """
    def on_alive_rows(table: pd.DataFrame) -> pd.DataFrame:
        if table.empty:
            return table
        positions = before.index.get_indexer(table["row"].to_numpy(dtype=object))
        keep = (positions < 0) | alive[positions]
        return table if keep.all() else table[keep].reset_index(drop=True)

    log = on_alive_rows(result.log)
    frame = result.frame
    changed_only_in_dead = set(result.log["variable"]) - set(log["variable"])
    restore, remove = {}, []
    for variable in changed_only_in_dead:
        for name in (variable, f"{variable}{steps.MISSING_SUFFIX}"):
            if name not in frame.columns:
                continue
            if name in before.columns:
                restore[name] = before[name]
            elif name != variable:
                remove.append(name)
    if restore or remove:
        frame = frame.assign(**restore).drop(columns=remove)
    return steps.StepResult(frame, log, on_alive_rows(result.flags),
                            on_alive_rows(result.dropped))


def _duplicates(frame: pd.DataFrame, spec: CleaningSpec, alive: np.ndarray) -> pd.DataFrame:
    """The duplicates report before re-submissions are resolved; stop if the spec says so."""
    report = records.duplicates_report(frame, spec.unit_id, spec.round_column, alive=alive)
    if spec.duplicates.unresolved == "error":
        unresolved = records.unresolved_duplicates(report, _decisions(spec)["resolutions"])
        if not unresolved.empty:
            where = spec.duplicates.report
            if where is not None:
                where.parent.mkdir(parents=True, exist_ok=True)
                temporary = where.with_name(f".{where.name}.tmp")
                neutralise_frame(unresolved).to_csv(temporary, index=False)
                temporary.replace(where)
            records.stop_on_unresolved(unresolved, str(where) if where else
                                       "(set duplicates.report to have it written)")
    return report


def _with_trace(links: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """Panel links with the source file and row of each reviewed row, instead of its label."""
    if links.empty:
        return links
    labels = links["row"]
    extra = {name.lstrip("_"): frame[name].reindex(labels).to_numpy(dtype=object)
             for name in ("_source_file", "_source_row", "_record_id") if name in frame.columns}
    return links.drop(columns="row").assign(**extra).reset_index(drop=True)
