"""Words and small tables of the report: the executive summary, cleaning summary, appendices."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from doorstep.report.i18n import text, use_language_fonts
from doorstep.report.tables import estimand_name, format_p_value

APPENDICES = (
    ("01_fieldwork_checks.html", "appendix_fieldwork"),
    ("fieldwork/dashboard.html", "appendix_dashboard"),
    ("01_clean.html", "appendix_clean"),
    ("02_balance.html", "appendix_balance"),
    ("03_impact.html", "appendix_impact"),
    ("report.docx", "appendix_docx"),
    ("estimates.csv", "appendix_estimates"),
    ("effects.xlsx", "appendix_etable_xlsx"),
    ("effects.tex", "appendix_etable_tex"),
    ("effects.csv", "appendix_etable_csv"),
    ("inference.csv", "appendix_inference"),
    ("balance_table.xlsx", "appendix_balance_xlsx"),
    ("sample_flow.csv", "appendix_flow"),
    ("subgroups.csv", "appendix_subgroups"),
    ("dose_response.csv", "appendix_dose"),
    ("cost_effectiveness.csv", "appendix_costs"),
    ("cleaning_log.csv", "appendix_log"),
    ("dropped.csv", "appendix_dropped"),
    ("instrument_codebook.csv", "appendix_codebook"),
    ("instrument_codebook.xlsx", "appendix_codebook_xlsx"),
    ("codebook.csv", "appendix_clean_codebook"),
    ("manifest.json", "appendix_manifest"),
)
# Cleaning rules that change every row of a personal column, whoever did the interview.
PRIVACY_RULES = ("pseudonymise", "gps_coarsened")
_EVENT_TIME = re.compile(r"(-?\d+)\s*$")


def summary_markdown(comparison: pd.DataFrame, labels: dict[str, str],
                     headline: dict[str, str], language: str = "en") -> str:
    """State each headline effect in plain words with its 95% interval.

    Family indices in ``comparison`` (outcomes named ``index_<family>``, from
    :func:`doorstep.run.stages.estimate_effects`) follow the headline outcomes, one line each.

    Examples
    --------
    >>> row = pd.DataFrame({"outcome": ["y"], "estimand": ["itt"], "estimate": [120.0],
    ...     "conf_low": [20.0], "conf_high": [220.0], "p_value": [0.02]})
    >>> text = summary_markdown(row, {"y": "Earnings"}, {"income": "y"})
    >>> text.endswith("+120.00 (95% CI +20.00 to +220.00; p = 0.020).")
    True
    """
    lines = []
    indices = [name for name in dict.fromkeys(comparison["outcome"])
               if str(name).startswith("index_") and name not in headline.values()]
    for outcome in [*headline.values(), *indices]:
        for _, row in comparison[comparison["outcome"] == outcome].iterrows():
            line = "- " + text("summary_line", language,
                               outcome=labels.get(outcome, outcome),
                               words=estimand_name(row["estimand"], language, "words"),
                               estimate=f"{row['estimate']:+,.2f}",
                               low=f"{row['conf_low']:+,.2f}", high=f"{row['conf_high']:+,.2f}",
                               p=_p_text(row["p_value"]))
            if "true_effect" in row and pd.notna(row["true_effect"]):
                key = "truth_inside" if row["covered"] else "truth_outside"
                line += text(key, language, truth=f"{row['true_effect']:+,.2f}")
            lines.append(line + ("。" if language == "zh" else "."))
    return "\n".join(lines)


def _p_text(p_value: float) -> str:
    text = format_p_value(p_value)
    return text.replace("<", "< ") if text.startswith("<") else f"= {text}"


def cleaning_summary(log: pd.DataFrame, dropped: pd.DataFrame,
                     language: str = "en") -> pd.DataFrame:
    """Counts of changed cells and dropped rows by rule.

    Examples
    --------
    >>> cleaning_summary(pd.DataFrame({"rule": ["a", "a"]}), pd.DataFrame({"drop_rule": ["b"]}))
      rule  cells changed  rows dropped
    0    a              2             0
    1    b              0             1
    """
    changed = log.groupby("rule").size().rename(text("cells_changed", language))
    removed = dropped.groupby("drop_rule").size().rename(text("rows_dropped", language))
    table = pd.concat([changed, removed], axis=1).fillna(0).astype("int64")
    table.index.name = text("rule", language)
    return table.sort_index().reset_index()


def cleaning_counts(log: pd.DataFrame, flags: pd.DataFrame, dropped: pd.DataFrame, by: str,
                    *, records: pd.DataFrame | None = None, record_column: str = "_record_id",
                    exclude_rules: tuple[str, ...] = PRIVACY_RULES,
                    language: str = "en") -> pd.DataFrame:
    """Cells changed, flags raised and rows dropped per variable or per interview attribute.

    ``by="variable"`` counts the log and the flags per variable (a dropped row belongs to no
    variable). Any other ``by`` is a column of the raw interviews ``records`` (for example the
    enumerator): each log entry and flag is traced to its interview through ``record_id`` and
    each dropped row is counted where its own ``by`` says; ``interviews`` counts the records
    and ``changes per interview`` lets a supervisor compare enumerators of unequal workloads.
    Rows are sorted by cells changed, most first. Log entries of ``exclude_rules`` (by default
    the pseudonyms and GPS coarsening, which touch every interview alike) are left out.

    Raises
    ------
    ValueError
        ``by`` is neither ``"variable"`` nor a column of ``records``.

    Examples
    --------
    >>> log = pd.DataFrame({"variable": ["age", "age", "income"], "record_id": ["r1", "r2", "r2"]})
    >>> flags = pd.DataFrame({"variable": ["income"], "record_id": ["r1"]})
    >>> dropped = pd.DataFrame({"enumerator": ["E2"]})
    >>> cleaning_counts(log, flags, dropped, "variable")
      variable  cells changed  flags for review
    0      age              2                 0
    1   income              1                 1
    >>> records = pd.DataFrame({"_record_id": ["r1", "r2"], "enumerator": ["E1", "E2"]})
    >>> by_enumerator = cleaning_counts(log, flags, dropped, "enumerator", records=records)
    >>> by_enumerator.columns.tolist()[1:]
    ['interviews', 'cells changed', 'flags for review', 'rows dropped', 'changes per interview']
    >>> by_enumerator.iloc[:, [0, 2, 3, 4]]
      enumerator  cells changed  flags for review  rows dropped
    0         E2              2                 0             1
    1         E1              1                 1             0
    """
    log = log[~log["rule"].isin(exclude_rules)] if "rule" in log.columns else log
    changed, raised = text("cells_changed", language), text("flags", language)
    if by == "variable":
        table = pd.concat([log.groupby("variable").size().rename(changed),
                           flags.groupby("variable").size().rename(raised)], axis=1)
        table = table.fillna(0).astype("int64").sort_values(changed, ascending=False,
                                                            kind="stable")
        table.index.name = text("balance_variable", language)
        return table.reset_index()
    if records is None or by not in records.columns or record_column not in records.columns:
        raise ValueError(f"cleaning_counts: expected by='variable' or a column of the raw "
                         f"records beside {record_column!r}, found by={by!r}")
    owner = records.drop_duplicates(record_column).set_index(record_column)[by]
    read = text("interviews", language)
    table = pd.concat([
        records.groupby(by).size().rename(read),
        log["record_id"].map(owner).value_counts().rename(changed),
        flags["record_id"].map(owner).value_counts().rename(raised),
        (dropped[by] if by in dropped.columns else pd.Series(dtype=object)).value_counts()
        .rename(text("rows_dropped", language)),
    ], axis=1).fillna(0).astype("int64")
    table[text("changes_per_interview", language)] = (
        table[changed] / table[read].where(table[read] > 0)).round(2)
    table = table.sort_values(changed, ascending=False, kind="stable")
    try:  # the column's name in the report's language where the report has one
        table.index.name = text(by, language)
    except KeyError:
        table.index.name = by
    return table.reset_index()


def codebook_table(path, language: str = "en") -> pd.DataFrame:
    """The instrument's codebook for the report: name, label, type, values, skip logic.

    ``path`` is the CSV written by :func:`doorstep.instrument.write_codebook`; labels and value
    labels are taken in ``language``.

    Examples
    --------
    >>> import io
    >>> csv = io.StringIO("name,label::en,type,value_labels::en,relevant,personal\\n"
    ...                   "age,Age,integer,,,False\\n")
    >>> codebook_table(csv, "en").columns.tolist()
    ['name', 'label', 'type', 'values', 'relevant', 'personal']
    """
    codebook = pd.read_csv(path, dtype=str, keep_default_na=False)
    columns = {"name": "name", f"label::{language}": "label", "type": "type",
               f"value_labels::{language}": "values", "relevant": "relevant",
               "personal": "personal"}
    present = {old: new for old, new in columns.items() if old in codebook.columns}
    table = codebook[list(present)].rename(columns=present)
    return table.rename(columns=lambda name: text(f"codebook_{name}", language))


def variable_labels(codebook_path, language: str = "en",
                    labels: dict[str, str] | None = None) -> dict[str, str]:
    """Each variable's label in ``language``: the instrument codebook's, then ``labels`` over it.

    ``codebook_path`` is the CSV written by :func:`doorstep.instrument.write_codebook`;
    ``labels`` (the config's outcome labels) win where both name a variable.

    Examples
    --------
    >>> import io
    >>> csv = io.StringIO("name,label::en\\nage,Age in years\\nvillage,\\n")
    >>> variable_labels(csv, "en", {"income": "Income"})
    {'age': 'Age in years', 'income': 'Income'}
    """
    codebook = pd.read_csv(codebook_path, dtype=str, keep_default_na=False)
    column = f"label::{language}"
    found = {} if column not in codebook.columns else {
        name: label for name, label in zip(codebook["name"], codebook[column], strict=True)
        if label}
    return {**found, **(labels or {})}


def appendix_links(language: str = "en",
                   appendices: tuple[tuple[str, str], ...] = APPENDICES) -> str:
    """An HTML list of links to the run's other files (relative to ``index.html``).

    Examples
    --------
    >>> appendix_links("en", (("a.csv", "appendix_codebook"),))
    '<ul><li><a href="a.csv">Codebook of the instrument (CSV)</a> (<code>a.csv</code>)</li></ul>'
    """
    items = "".join(f'<li><a href="{name}">{text(key, language)}</a> (<code>{name}</code>)</li>'
                    for name, key in appendices)
    return f"<ul>{items}</ul>"


def event_study_figure(event_study: pd.DataFrame, labels: dict[str, str],
                       language: str = "en") -> Figure:
    """Effects by event time (rounds since start) per outcome, with 95% intervals.

    ``event_study`` holds tidy rows of dynamic aggregations; terms ending in an integer are the
    event times, other terms (the overall effect) are left out.

    Examples
    --------
    >>> rows = pd.DataFrame({"outcome": ["y"] * 2, "term": ["event_time=-1", "event_time=0"],
    ...     "estimate": [0.1, 1.0], "conf_low": [-0.2, 0.6], "conf_high": [0.4, 1.4]})
    >>> len(event_study_figure(rows, {"y": "Y"}).axes)
    1
    """
    use_language_fonts(language)
    event_time = event_study["term"].astype(str).str.extract(_EVENT_TIME)[0]
    rows = event_study.assign(event_time=pd.to_numeric(event_time)).dropna(
        subset=["event_time"])
    outcomes = list(dict.fromkeys(rows["outcome"]))
    columns = min(3, len(outcomes))
    figure = Figure(figsize=(4 * columns, 3.0 * int(np.ceil(len(outcomes) / columns))),
                    layout="constrained")
    axes = figure.subplots(int(np.ceil(len(outcomes) / columns)), columns, squeeze=False)
    for axis, outcome in zip(axes.flat, outcomes, strict=False):
        part = rows[rows["outcome"] == outcome].sort_values("event_time")
        axis.errorbar(part["event_time"], part["estimate"],
                      yerr=[part["estimate"] - part["conf_low"],
                            part["conf_high"] - part["estimate"]],
                      fmt="o", color="#1f5f8b", capsize=3)
        axis.axhline(0, color="grey", linestyle="--", linewidth=0.8)
        axis.axvline(-0.5, color="#c0392b", linestyle=":", linewidth=0.8)
        axis.set_title(labels.get(outcome, outcome), fontsize=9)
        axis.set_xlabel(text("rounds_since_start", language), fontsize=8)
        axis.set_xticks(sorted(part["event_time"].unique()))
    for axis in list(axes.flat)[len(outcomes):]:
        axis.set_visible(False)
    return figure
