"""The data stages: reading the exports, the fieldwork checks, cleaning and the analysis data.

Owns the work of ``01_fieldwork_checks`` (:func:`read_sources`, :func:`fieldwork_checks`,
:func:`save_fieldwork_outputs` -> ``fieldwork/dashboard.html`` and the flag lists) and of
``01_clean`` (:func:`read_sources`, :func:`clean_sources`, :func:`cleaning_counts`,
:func:`build_analysis_data`,
:func:`save_clean_outputs` -> ``analysis.parquet``, ``cleaning_log.csv``, ``dropped.csv``,
``flags.csv``, ``codebook.csv``, ``sources.csv``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from doorstep import checks, clean
from doorstep.clean.privacy import DEFAULT_KEY_ENV, read_key
from doorstep.config import EvaluationConfig
from doorstep.design import lottery_sample, staggered_panel
from doorstep.files import write_csv, write_parquet
from doorstep.instrument import Instrument, read_instrument, write_codebook
from doorstep.io import read_export, read_table
from doorstep.measures import build_measures
from doorstep.run.stages.common import ANALYSIS_FILE, TIME


def read_sources(config: EvaluationConfig) -> tuple[Instrument, pd.DataFrame, pd.DataFrame]:
    """Read the instrument and every round's export.

    Returns
    -------
    (instrument, raw, sources)
        ``raw`` stacks all rounds (answers as text, a ``round`` column); ``sources`` has one row
        per file: round, file, platform, encoding, rows, columns the instrument does not know,
        questions the file lacks, sha256.
    """
    instrument = read_instrument(config.instrument)
    frames, rows = [], []
    for source in config.sources:
        frame = read_export(source.path, instrument, platform=source.platform)
        info = frame.attrs["export"]
        frames.append(frame.assign(**{TIME: source.round}))
        rows.append({
            "round": source.round, "file": source.path.name, "platform": info.platform,
            "encoding": info.encoding or "(workbook)", "rows": info.n_rows,
            "unknown_columns": len(info.unknown_columns),
            "missing_questions": ", ".join(info.missing_questions) or "none",
            "sha256": info.sha256[:12],
        })
    raw = pd.concat(frames, ignore_index=True)
    raw.attrs = {}
    return instrument, raw, pd.DataFrame(rows)


FIELDWORK_KEY_OPTIONS = ("key_file", "key_env", "demo_key")


def fieldwork_checks(config: EvaluationConfig, instrument: Instrument,
                     raw: pd.DataFrame) -> checks.CheckResults:
    """Run the evening fieldwork checks over every round's raw export.

    Settings come from the config's ``fieldwork`` section (the keys of
    :func:`doorstep.checks.check_config`); the unit id and the language default to the
    config's. Phone numbers are compared by a keyed hash whose key is read like the cleaning's
    pseudonymisation key (``key_env``, default DOORSTEP_PII_KEY, or ``key_file``;
    ``demo_key: true`` generates one for simulated data), never written anywhere.
    """
    settings = {key: value for key, value in config.fieldwork.items()
                if key not in FIELDWORK_KEY_OPTIONS}
    settings.setdefault("id_column", config.unit)
    settings.setdefault("language", config.language)
    if "hash_key" not in settings:
        settings["hash_key"] = read_key(
            env=config.fieldwork.get("key_env", DEFAULT_KEY_ENV),
            key_file=config.fieldwork.get("key_file"),
            demo_key=bool(config.fieldwork.get("demo_key", False)),
            needed_for="fieldwork checks",
        ).decode("utf-8")
    exports = {name: frame.drop(columns=[TIME]) for name, frame
               in raw.groupby("_source_file", sort=False)}
    return checks.run_checks(exports, instrument, settings)


def save_fieldwork_outputs(run: Path, results: checks.CheckResults, title: str) -> Path:
    """Write the dashboard and the supervisors' flag lists into ``<run>/fieldwork/``."""
    folder = Path(run) / "fieldwork"
    folder.mkdir(parents=True, exist_ok=True)
    checks.write_dashboard(results, folder / "dashboard.html", title=title)
    checks.write_flag_lists(results, folder)
    return folder


def clean_sources(config: EvaluationConfig, raw: pd.DataFrame,
                  instrument: Instrument) -> clean.CleanResult:
    """Clean the stacked rounds with the programme's cleaning spec (paths relative to it).

    When the spec names ``pii.linking_table``, the pseudonym -> original table of this run is
    merged into that file (outside every run directory), never into the run's outputs.
    """
    spec = clean.load_spec(config.cleaning)
    result = clean.run(raw, spec, instrument=instrument)
    if spec.pii.linking_table is not None and not result.linking.empty:
        clean.write_linking_table(result.linking, spec.pii.linking_table)
    return result


def cleaning_counts(config: EvaluationConfig, result: clean.CleanResult,
                    raw: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The cleaning's counts by variable and, when the exports name one, by enumerator.

    The enumerator column is the fieldwork checks' (``fieldwork.enumerator_column``, default
    ``enumerator``); tables are labelled in the config's language.
    """
    from doorstep import report  # imported where used: the fieldwork notebook never needs it

    enumerator = config.fieldwork.get("enumerator_column", "enumerator")
    tables = {"variable": report.cleaning_counts(result.log, result.flags, result.dropped,
                                                 "variable", language=config.language)}
    if enumerator in raw.columns:
        tables["enumerator"] = report.cleaning_counts(
            result.log, result.flags, result.dropped, enumerator, records=raw,
            language=config.language)
    return tables


def build_analysis_data(config: EvaluationConfig, data: pd.DataFrame) -> pd.DataFrame:
    """Score the measures and attach the design's treatment columns."""
    scored = build_measures(data)
    files = config.design_files
    if config.design == "staggered_rollout":
        rollout, _ = read_table(files["rollout"])
        return staggered_panel(scored, rollout, cluster=config.cluster, time=TIME,
                               start_column="cohort",
                               source=str(files["rollout"]))
    villages, _ = read_table(files["villages"])
    applicants, _ = read_table(files["applicants"])
    attendance, _ = read_table(files["attendance"])
    return lottery_sample(
        scored, villages, applicants, attendance, unit=config.unit, cluster=config.cluster,
        baseline_columns=list(dict.fromkeys([*config.outcomes, *config.covariates])), time=TIME,
    )


def save_clean_outputs(run: Path, result: clean.CleanResult, analysis: pd.DataFrame,
                       sources: pd.DataFrame, instrument: Instrument | None = None,
                       language: str = "en") -> None:
    """Write the analysis data, the clean data (Parquet, Stata), the audit trail and codebooks."""
    write_parquet(analysis, run / ANALYSIS_FILE)
    clean.write_clean_outputs(result, run, instrument=instrument, language=language)
    write_csv(sources, run / "sources.csv")
    if instrument is not None:
        write_codebook(instrument, run / "instrument_codebook.csv")
        write_codebook(instrument, run / "instrument_codebook.xlsx")
