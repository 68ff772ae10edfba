"""The work of each notebook of the chain, as functions a test can call.

Notebooks stay thin: a parameters cell, then one call per step into this module, and displays.
Each stage reads what the previous one wrote into the run directory and writes its own
outputs there (atomically, see :mod:`doorstep.run.files`):

- ``01_fieldwork_checks``: :func:`read_sources`, :func:`fieldwork_checks`,
  :func:`save_fieldwork_outputs` -> ``fieldwork/dashboard.html`` and the flag lists;
- ``01_clean``: :func:`read_sources`, :func:`clean_sources`, :func:`build_analysis_data`,
  :func:`save_clean_outputs` -> ``analysis.parquet``, ``cleaning_log.csv``, ``dropped.csv``,
  ``flags.csv``, ``codebook.csv``, ``sources.csv``;
- ``02_balance``: :func:`balance_and_attrition` -> ``balance.csv``, ``attrition.csv``;
- ``03_impact``: :func:`estimate_effects` -> ``estimates.csv``, ``headline.csv``;
- ``04_report``: :func:`load_truth` and :mod:`doorstep.report`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from doorstep import checks, clean, estimate
from doorstep.clean.privacy import DEFAULT_KEY_ENV, read_key
from doorstep.config import EvaluationConfig, load_config
from doorstep.design import lottery_sample, staggered_panel
from doorstep.errors import DataError, EstimationError
from doorstep.instrument import Instrument, read_instrument, write_codebook
from doorstep.io import read_export, read_table
from doorstep.measures import build_measures, get_scale, reliability
from doorstep.report.i18n import text
from doorstep.run.files import write_csv, write_parquet

TIME = "round"
ANALYSIS_FILE = "analysis.parquet"
CLEAN_FILE = "clean.parquet"


def start(config_path: str, run_dir: str) -> tuple[EvaluationConfig, Path]:
    """Load and validate the config; make sure the run directory exists.

    Examples
    --------
    >>> config, run = start("../surveys/caring_mothers/evaluation.yaml", "/tmp/r")  # doctest: +SKIP
    """
    config = load_config(config_path)
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    return config, run


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
    """Clean the stacked rounds with the programme's cleaning spec (paths relative to it)."""
    return clean.run(raw, clean.load_spec(config.cleaning), instrument=instrument)


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


def load_analysis(run: Path, *, which: str = "analysis") -> pd.DataFrame:
    """Read the analysis data (or, with ``which="clean"``, the clean data) of ``01_clean``.

    Raises
    ------
    DataError
        If ``01_clean`` has not run in this run directory.
    """
    path = Path(run) / (ANALYSIS_FILE if which == "analysis" else CLEAN_FILE)
    if not path.is_file():
        raise DataError(f"{path}: not found; run the 01_clean notebook first")
    return pd.read_parquet(path)


def _arm(config: EvaluationConfig, analysis: pd.DataFrame) -> pd.Series:
    """Each row's arm, named in the report's language."""
    language = config.language
    if config.design == "staggered_rollout":
        return analysis["cohort"].map(
            lambda cohort: text("arm_starts", language, round=cohort) if cohort else
            text("arm_never", language))
    keys = ["arm_open" if design != "lottery" else "arm_won" if won else
            "arm_lost" if applied else "arm_not_applied"
            for design, applied, won in zip(analysis["design"], analysis["applied"],
                                            analysis["won_lottery"], strict=True)]
    return pd.Series([text(key, language) for key in keys], index=analysis.index)


def balance_sample(config: EvaluationConfig, analysis: pd.DataFrame) -> tuple[pd.DataFrame, str,
                                                                              list[str]]:
    """The baseline sample, treatment column and variables to compare for balance.

    Staggered roll-out: ever-treated versus never-treated villages at baseline. Lottery:
    winners versus losers among applicants in lottery villages, on baseline values.
    """
    if config.design == "staggered_rollout":
        baseline = analysis[analysis[TIME] == analysis[TIME].min()]
        sample = baseline.assign(ever_treated=(baseline["cohort"] > 0).astype("int64"))
        variables = [name for name in (*config.covariates, *config.outcomes)
                     if name in sample.columns]
        return sample, "ever_treated", variables
    sample = analysis[(analysis["design"] == "lottery") & (analysis["applied"] == 1)]
    variables = list(dict.fromkeys(
        f"{name}_baseline" for name in (*config.covariates, *config.outcomes)))
    return sample, "won_lottery", variables


def attrition_table(config: EvaluationConfig, clean_data: pd.DataFrame,
                    analysis: pd.DataFrame) -> pd.DataFrame:
    """Units surveyed by arm and round, and the share of the baseline still surveyed."""
    if config.design == "staggered_rollout":
        frame = analysis
    else:
        arms = analysis[[config.unit, "design", "applied", "won_lottery"]]
        frame = clean_data[[config.unit, TIME]].merge(arms, on=config.unit, how="inner")
    frame = frame.assign(arm=_arm(config, frame))
    counts = frame.groupby(["arm", TIME])[config.unit].nunique().unstack(TIME)
    baseline = counts[counts.columns.min()]
    table = counts.copy()
    for column in counts.columns:
        table[f"share_round{column}"] = (counts[column] / baseline).round(3)
    table.columns = [f"n_round{c}" if not str(c).startswith("share") else c
                     for c in table.columns]
    return table.reset_index()


def balance_and_attrition(config: EvaluationConfig, clean_data: pd.DataFrame,
                          analysis: pd.DataFrame) -> tuple[estimate.BalanceTable, pd.DataFrame]:
    """Baseline balance between arms and the attrition table."""
    sample, treatment, variables = balance_sample(config, analysis)
    balance = estimate.balance_table(sample, treatment, variables, cluster=config.cluster)
    return balance, attrition_table(config, clean_data, analysis)


@dataclass(frozen=True)
class ImpactEstimates:
    """All estimates of a run: every term, the headline rows, and the event-study terms."""

    estimates: pd.DataFrame
    headline: pd.DataFrame
    event_study: pd.DataFrame
    pre_trend: pd.DataFrame


def _headline(result: estimate.EstimationResult, estimand: str) -> pd.DataFrame:
    row = result.tidy().iloc[[0]].copy()
    row["estimand"] = estimand
    return row


def estimate_effects(config: EvaluationConfig, analysis: pd.DataFrame,
                     seed: int = 20240301) -> ImpactEstimates:
    """Estimate every outcome's effect with the design's estimators.

    Staggered roll-out: Callaway-Sant'Anna group-time effects against never-treated villages,
    aggregated to the overall ATT ("simple") and by event time ("dynamic"), clustered by
    village, with uniform bands from 999 multiplier-bootstrap draws seeded by ``seed``.
    Lottery: in lottery villages, among applicants, ANCOVA of the endline outcome on
    winning with the baseline outcome and village (stratum) fixed effects (ITT), and 2SLS of
    the outcome on participation instrumented by winning (LATE); in open villages, where women
    join by choice, the doubly robust AIPW effect on participants (ATT) given the baseline
    outcome and covariates; clustered by village.
    """
    tidy, headline, dynamic, pre_trend = [], [], [], []
    for outcome in config.outcomes:
        if config.design == "staggered_rollout":
            result = estimate.staggered_did(
                analysis, outcome, unit=config.unit, time=TIME, cohort="cohort",
                control_group="never", cluster=config.cluster, seed=seed,
            )
            simple = result.aggregate("simple")
            by_event_time = result.aggregate("dynamic")
            tidy += [simple.tidy(), by_event_time.tidy()]
            headline.append(_headline(simple, "att_simple"))
            dynamic.append(by_event_time.tidy())
            try:
                test = result.pre_trend_test()
            except EstimationError as error:  # no cohort has a pre-period to test
                pre_trend.append({"outcome": outcome, "test": f"not possible: {error}",
                                  "statistic": float("nan"), "restrictions": 0,
                                  "p_value": float("nan")})
                continue
            pre_trend.append({"outcome": outcome, "test": f"Wald {test.distribution}",
                              "statistic": test.statistic, "restrictions": test.df_num,
                              "p_value": test.p_value})
        else:
            sample = analysis[(analysis["design"] == "lottery") & (analysis["applied"] == 1)]
            sample = sample.dropna(subset=[outcome, f"{outcome}_baseline"])
            itt = estimate.ancova(sample, outcome, "won_lottery",
                                  baseline_outcome=f"{outcome}_baseline",
                                  strata=config.cluster, cluster=config.cluster)
            late = estimate.iv(sample, outcome, "participated", "won_lottery",
                               covariates=[f"{outcome}_baseline"], strata=config.cluster,
                               cluster=config.cluster)
            open_sample = analysis[analysis["design"] == "open"]
            confounders = list(dict.fromkeys(
                f"{name}_baseline" for name in (outcome, *config.covariates)))
            open_sample = open_sample.dropna(subset=[outcome, *confounders])
            observational = estimate.aipw(open_sample, outcome, "participated", confounders,
                                          estimand="ATT", cluster=config.cluster)
            tidy += [itt.tidy(), late.tidy(), observational.tidy()]
            headline += [_headline(itt, "itt"), _headline(late, "late"),
                         _headline(observational, "att_observational")]
    estimates = pd.concat(tidy, ignore_index=True)
    return ImpactEstimates(
        estimates=estimates,
        headline=pd.concat(headline, ignore_index=True),
        event_study=pd.concat(dynamic, ignore_index=True) if dynamic else pd.DataFrame(),
        pre_trend=pd.DataFrame(pre_trend),
    )


RELIABILITY_SCALES = ("sdq_parent", "who5", "ucla3", "k6", "rosenberg")


def scale_reliability(clean_data: pd.DataFrame) -> pd.DataFrame:
    """Cronbach's alpha and McDonald's omega of every registered scale the data carries, by round.

    One row per scale (or subscale) and round: ``scale, round, n_items, n_obs,
    cronbach_alpha, omega_total``.
    """
    tables = []
    for name in RELIABILITY_SCALES:
        if set(get_scale(name).items) <= set(clean_data.columns):
            tables.append(reliability(clean_data, name, by=TIME))
    if not tables:
        return pd.DataFrame(columns=["scale", TIME, "n_items", "n_obs", "cronbach_alpha",
                                     "omega_total"])
    table = pd.concat(tables, ignore_index=True)
    return table[["scale", TIME, "n_items", "n_obs", "cronbach_alpha", "omega_total"]]


def load_truth(config: EvaluationConfig) -> dict | None:
    """The simulator's truth file named in the config, or None for real data."""
    if config.truth is None:
        return None
    return json.loads(Path(config.truth).read_text(encoding="utf-8"))
