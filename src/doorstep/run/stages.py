"""The work of each notebook of the chain, as functions a test can call.

Notebooks stay thin: a parameters cell, then one call per step into this module, and displays.
Each stage reads what the previous one wrote into the run directory and writes its own
outputs there (atomically, see :mod:`doorstep.files`):

- ``01_fieldwork_checks``: :func:`read_sources`, :func:`fieldwork_checks`,
  :func:`save_fieldwork_outputs` -> ``fieldwork/dashboard.html`` and the flag lists;
- ``01_clean``: :func:`read_sources`, :func:`clean_sources`, :func:`build_analysis_data`,
  :func:`save_clean_outputs` -> ``analysis.parquet``, ``cleaning_log.csv``, ``dropped.csv``,
  ``flags.csv``, ``codebook.csv``, ``sources.csv``;
- ``02_balance``: :func:`balance_and_attrition` -> ``balance.csv``, ``attrition.csv``;
- ``03_impact``: :func:`estimate_effects` -> ``estimates.csv``, ``headline.csv``,
  ``inference.csv`` (the primary estimand's wild/multiplier bootstrap, Romano-Wolf and
  sharpened-q values per outcome and family index);
- ``04_report``: :func:`load_truth` and :mod:`doorstep.report`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from doorstep import checks, clean, estimate
from doorstep.clean.privacy import DEFAULT_KEY_ENV, read_key
from doorstep.config import INDEX_PREFIX, EvaluationConfig, load_config
from doorstep.design import lottery_sample, staggered_panel
from doorstep.errors import ConfigError, DataError, EstimationError
from doorstep.estimate.result import wald_test
from doorstep.files import write_csv, write_parquet
from doorstep.inference import adjust_pvalues, romano_wolf, wild_cluster_bootstrap
from doorstep.inference.multiple import multiplier_bootstrap, romano_wolf_from_draws
from doorstep.instrument import Instrument, read_instrument, write_codebook
from doorstep.io import read_export, read_table
from doorstep.measures import build_measures, get_scale, reliability
from doorstep.measures.indices import icw_index
from doorstep.report.i18n import text

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


def load_output(run: Path, name: str) -> pd.DataFrame:
    """A table an earlier notebook wrote to the run directory; empty if it had no rows or columns.

    Raises
    ------
    DataError
        If the file is not there (the notebook that writes it has not run).
    """
    path = Path(run) / name
    if not path.is_file():
        raise DataError(f"{path}: not found; run the notebook that writes it first")
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


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
    """All estimates of a run: every term, the headline rows, the event-study terms, and the
    primary estimand's bootstrap and multiple-testing inference (``inference``, one row per
    outcome and family index; see :func:`primary_inference`)."""

    estimates: pd.DataFrame
    headline: pd.DataFrame
    event_study: pd.DataFrame
    pre_trend: pd.DataFrame
    inference: pd.DataFrame = field(default_factory=pd.DataFrame)


def _headline(result: estimate.EstimationResult, estimand: str) -> pd.DataFrame:
    row = result.tidy().iloc[[0]].copy()
    row["estimand"] = estimand
    return row


def estimate_effects(config: EvaluationConfig, analysis: pd.DataFrame,
                     seed: int = 20240301, *, reps: int | None = None) -> ImpactEstimates:
    """Estimate every outcome's effect with the design's estimators, and each family's index.

    Staggered roll-out: Callaway-Sant'Anna group-time effects against never-treated villages,
    aggregated to the overall ATT ("simple") and by event time ("dynamic"), clustered by
    village, with uniform bands from 999 multiplier-bootstrap draws seeded by ``seed``.
    Lottery: in lottery villages, among applicants, ANCOVA of the endline outcome on
    winning with the baseline outcome and village (stratum) fixed effects (ITT), and 2SLS of
    the outcome on participation instrumented by winning (LATE); in open villages, where women
    join by choice, the doubly robust AIPW effect on participants (ATT) given the baseline
    outcome and covariates; clustered by village.

    Each outcome family of the config also gets an Anderson ICW index
    (:func:`add_family_indices`), outcome ``index_<family>``, estimated with the primary
    estimator only (staggered: the simple ATT; lottery: the ANCOVA ITT with the baseline
    index). For the primary estimand of every outcome and index, :func:`primary_inference`
    adds the wild (multiplier) bootstrap p-value, the Romano-Wolf p-value and the sharpened
    q-value within the family; ``headline`` gets the columns ``family, p_wild,
    p_romano_wolf, q_sharpened`` (NaN for the LATE and observational ATT, which keep their
    cluster-robust ``p_value`` only). ``reps`` (default 9,999) sets the bootstrap draws.
    """
    reps = BOOTSTRAP_REPS if reps is None else reps
    data = add_family_indices(config, analysis)
    index_names = [family.index_name for family in config.outcome_families
                   if family.index_name in data.columns]
    tidy, headline, dynamic, pre_trend = [], [], [], []
    primary: dict[str, object] = {}
    for outcome in [*config.outcomes, *index_names]:
        if config.design == "staggered_rollout":
            result = estimate.staggered_did(
                data, outcome, unit=config.unit, time=TIME, cohort="cohort",
                control_group="never", cluster=config.cluster, seed=seed,
            )
            simple = result.aggregate("simple")
            primary[outcome] = (result, simple)
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
            sample = _applicants(data).dropna(subset=[outcome, f"{outcome}_baseline"])
            itt = estimate.ancova(sample, outcome, "won_lottery",
                                  baseline_outcome=f"{outcome}_baseline",
                                  strata=config.cluster, cluster=config.cluster)
            primary[outcome] = itt
            tidy.append(itt.tidy())
            headline.append(_headline(itt, "itt"))
            if outcome in index_names:
                continue
            late = estimate.iv(sample, outcome, "participated", "won_lottery",
                               covariates=[f"{outcome}_baseline"], strata=config.cluster,
                               cluster=config.cluster)
            open_sample = data[data["design"] == "open"]
            confounders = list(dict.fromkeys(
                f"{name}_baseline" for name in (outcome, *config.covariates)))
            open_sample = open_sample.dropna(subset=[outcome, *confounders])
            observational = estimate.aipw(open_sample, outcome, "participated", confounders,
                                          estimand="ATT", cluster=config.cluster)
            tidy += [late.tidy(), observational.tidy()]
            headline += [_headline(late, "late"),
                         _headline(observational, "att_observational")]
    estimates = pd.concat(tidy, ignore_index=True)
    inference = primary_inference(config, data, primary, seed=seed, reps=reps)
    return ImpactEstimates(
        estimates=estimates,
        headline=_with_inference(pd.concat(headline, ignore_index=True), inference),
        event_study=pd.concat(dynamic, ignore_index=True) if dynamic else pd.DataFrame(),
        pre_trend=pd.DataFrame(pre_trend),
        inference=inference,
    )


# -- family indices and the primary estimand's inference (issue 6) ---------------------------
BOOTSTRAP_REPS = 9999
FEW_CLUSTERS = 12
INDEX_FAMILY = "indices"
PRIMARY_ESTIMAND = {"staggered_rollout": "att_simple", "lottery": "itt"}
INFERENCE_COLUMNS = ("outcome", "family", "estimand", "estimate", "std_error", "p_cluster",
                     "p_wild", "p_romano_wolf", "q_sharpened", "reps", "weights", "method")
P_COLUMNS = ("p_wild", "p_romano_wolf", "q_sharpened")


def _applicants(analysis: pd.DataFrame) -> pd.DataFrame:
    """Applicants in lottery villages: the sample of the ITT and LATE."""
    return analysis[(analysis["design"] == "lottery") & (analysis["applied"] == 1)]


def bootstrap_weights(n_clusters: int) -> str:
    """The bootstrap weights for ``n_clusters`` clusters: Webb's below 12, else Rademacher.

    With few clusters Rademacher signs have few distinct draws (2^G) and coarse p-values;
    Webb's six-point weights are advised there (Webb 2023; MacKinnon, Nielsen and Webb 2023).

    Examples
    --------
    >>> bootstrap_weights(8), bootstrap_weights(40)
    ('webb', 'rademacher')
    """
    return "webb" if n_clusters < FEW_CLUSTERS else "rademacher"


def add_family_indices(config: EvaluationConfig, analysis: pd.DataFrame) -> pd.DataFrame:
    """The analysis data with an Anderson (2008) ICW index of every outcome family.

    For each family of two or more outcomes (``config.outcome_families``), adds the column
    ``index_<family>`` (:func:`doorstep.measures.indices.icw_index`): components signed by the
    family's ``direction`` so that higher is better, standardised by the mean and SD of the
    control group at baseline, weighted by the inverse covariance of the standardised
    components (over the rows with every component present); a row missing some components
    gets the weighted mean of the ones it has (Anderson's rule), and a missing index only
    when all are missing. Staggered roll-out: every row of the panel, the reference being the
    never-treated villages in the first round. Lottery: applicants in lottery villages, at
    endline (``index_<family>``) and baseline (``index_<family>_baseline``, from the
    ``<outcome>_baseline`` columns, so that the ANCOVA can control for it), the reference being
    the baseline values of the applicants who lost the lottery; other rows get a missing index.
    The input is not changed.

    Raises
    ------
    DataError
        If a component cannot be standardised (no variation in the reference group), naming
        the family.
    """
    out = analysis.copy()
    for family in config.outcome_families:
        if len(family.outcomes) < 2:
            continue
        components = list(family.outcomes)
        try:
            if config.design == "staggered_rollout":
                reference = (analysis["cohort"] == 0) & (analysis[TIME] == analysis[TIME].min())
                out[family.index_name] = icw_index(
                    analysis, components, reference=reference, direction=family.signs,
                    name=family.index_name).to_numpy()
                continue
            chosen = ((analysis["design"] == "lottery") & (analysis["applied"] == 1)).to_numpy()
            sample = analysis[chosen]
            baseline = sample[[f"{name}_baseline" for name in components]].set_axis(
                components, axis=1)
            stacked = pd.concat([sample[components], baseline], ignore_index=True)
            reference = pd.Series(np.concatenate([
                np.zeros(len(sample), dtype=bool), (sample["won_lottery"] == 0).to_numpy()]))
            index = icw_index(stacked, components, reference=reference,
                              direction=family.signs).to_numpy()
        except (DataError, ConfigError) as error:
            raise DataError(f"{config.path}: families.{family.name}: the ICW index of "
                            f"{components} cannot be built: {error}") from error
        for column, values in ((family.index_name, index[:len(sample)]),
                               (f"{family.index_name}_baseline", index[len(sample):])):
            full = np.full(len(analysis), np.nan)
            full[chosen] = values
            out[column] = full
    return out


def _family_of(config: EvaluationConfig) -> dict[str, str]:
    """Each outcome's family name, and each index's own family name."""
    owner = {}
    for family in config.outcome_families:
        owner.update({name: family.name for name in family.outcomes})
        owner[family.index_name] = family.name
    return owner


def _test_groups(config: EvaluationConfig, names: list[str]) -> list[tuple[str, list[str]]]:
    """The sets adjusted together: each family's outcomes, and the family indices together."""
    groups = [(family.name, [name for name in family.outcomes if name in names])
              for family in config.outcome_families]
    groups.append((INDEX_FAMILY, [name for name in names if name.startswith(INDEX_PREFIX)
                                  and name not in config.outcomes]))
    return [(label, members) for label, members in groups if members]


def primary_inference(config: EvaluationConfig, data: pd.DataFrame, primary: dict[str, object],
                      *, seed: int, reps: int = BOOTSTRAP_REPS) -> pd.DataFrame:
    """Bootstrap and multiple-testing p-values of the primary estimand of every outcome.

    Lottery (ITT): ``p_wild`` from :func:`doorstep.inference.wild_cluster_bootstrap` (WCR,
    null imposed, clustered by village); ``p_romano_wolf`` from
    :func:`doorstep.inference.romano_wolf` over the family with the same weights for a
    village in every outcome. Each outcome keeps its own complete cases (outcome and its
    baseline): the step-down rebuilds every outcome's sample from the applicants' frame, and
    the common village weights carry the dependence across outcomes. Staggered roll-out
    (simple ATT): Callaway-Sant'Anna has no linear design for the wild cluster bootstrap, so
    ``p_wild`` comes from the clustered multiplier bootstrap of the influence functions
    (:func:`doorstep.inference.multiple.multiplier_bootstrap`: one weight per village, the same
    for all outcomes and indices, as R ``did`` and Stata ``csdid``), a symmetric bootstrap-t
    p-value, and ``p_romano_wolf`` is the step-down
    (:func:`doorstep.inference.multiple.romano_wolf_from_draws`) on those joint draws.

    Both: ``reps`` draws, Rademacher weights (Webb's below 12 villages, see
    :func:`bootstrap_weights`), seeded by ``seed``; ``q_sharpened`` is Anderson's (2008)
    sharpened q-value of ``p_wild`` within the family. Outcomes are adjusted within their
    family; the family indices are adjusted together as a family of their own
    (``"indices"``); a family of one test keeps its bootstrap p-value as its Romano-Wolf value.

    Returns
    -------
    pandas.DataFrame
        One row per outcome and index, the columns of :data:`INFERENCE_COLUMNS`.
    """
    names = list(primary)
    estimand = PRIMARY_ESTIMAND[config.design]
    owner = _family_of(config)
    rows = {}
    if config.design == "staggered_rollout":
        scores = pd.concat([result.cluster_scores("simple").rename(name)
                            for name, (result, _) in primary.items()], axis=1).sort_index()
        estimates = [simple.estimate for _, simple in primary.values()]
        weights = bootstrap_weights(len(scores))
        boot = multiplier_bootstrap(scores, estimates, reps=reps, weights=weights, seed=seed)
        note = (f"{estimand}: Callaway-Sant'Anna, influence-function SE clustered by "
                f"{config.cluster}; p_wild: multiplier bootstrap of the influence functions "
                f"({weights}, {boot.reps} draws, common village weights), symmetric")
        for position, (name, (_, simple)) in enumerate(primary.items()):
            rows[name] = {"outcome": name, "estimand": estimand, "estimate": simple.estimate,
                          "std_error": simple.std_error, "p_cluster": simple.p_value,
                          "p_wild": float(boot.p_value[position]), "reps": boot.reps,
                          "weights": weights, "method": note}
        for _, members in _test_groups(config, names):
            columns = [names.index(name) for name in members]
            adjusted = (romano_wolf_from_draws(boot.statistic[columns], boot.draws[:, columns])
                        if len(members) > 1 else [rows[members[0]]["p_wild"]])
            for name, value in zip(members, adjusted, strict=True):
                rows[name]["p_romano_wolf"] = float(value)
    else:
        sample = _applicants(data)
        weights = bootstrap_weights(min(result.n_clusters for result in primary.values()))
        for name, result in primary.items():
            boot = wild_cluster_bootstrap(result, "won_lottery", data=sample,
                                          cluster=config.cluster, reps=reps, weights=weights,
                                          seed=seed)
            rows[name] = {"outcome": name, "estimand": estimand, "estimate": result.estimate,
                          "std_error": result.std_error, "p_cluster": result.p_value,
                          "p_wild": float(boot.p_value), "reps": int(boot.draws),
                          "weights": weights,
                          "method": f"{estimand}: ANCOVA, CR1 clustered by {config.cluster}; "
                                    f"p_wild: {boot.inference}"}
        for _, members in _test_groups(config, names):
            if len(members) == 1:
                rows[members[0]]["p_romano_wolf"] = rows[members[0]]["p_wild"]
                continue
            adjusted = romano_wolf([primary[name] for name in members], data=sample,
                                   term="won_lottery", cluster=config.cluster, reps=reps,
                                   weights=weights, seed=seed)
            for name, value in zip(members, adjusted.table["p_adjusted"], strict=True):
                rows[name]["p_romano_wolf"] = float(value)
    for label, members in _test_groups(config, names):
        q_values = adjust_pvalues([rows[name]["p_wild"] for name in members], "sharpened_q")
        for name, value in zip(members, q_values, strict=True):
            rows[name]["q_sharpened"] = float(value)
            rows[name]["family"] = owner.get(name, "")
            rows[name]["method"] += (f"; Romano-Wolf and sharpened q over {label} "
                                     f"({len(members)} tests)")
    table = pd.DataFrame([rows[name] for name in names])
    table["family"] = table["family"].fillna("") if "family" in table else ""
    return table.loc[:, list(INFERENCE_COLUMNS)]


def _with_inference(headline: pd.DataFrame, inference: pd.DataFrame) -> pd.DataFrame:
    """The headline rows with ``family`` and the primary estimand's bootstrap p-values."""
    family = dict(zip(inference["outcome"], inference["family"], strict=True))
    out = headline.merge(inference[["outcome", "estimand", *P_COLUMNS]],
                         on=["outcome", "estimand"], how="left", validate="one_to_one")
    out.insert(out.columns.get_loc("estimand"), "family",
               out["outcome"].map(family).fillna(""))
    return out


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


# --- report inputs: sample flow, standardisation ---

FLOW_COLUMNS = ("step", "arm", "round", "n_units", "n_clusters", "note")
_LOTTERY_ARMS = ("won", "lost", "not_applied", "open")


def _flow_row(step: str, arm: str, round_: object, n_units: object, n_clusters: object,
              note: str = "") -> dict[str, object]:
    return {"step": step, "arm": arm, "round": round_, "n_units": n_units,
            "n_clusters": n_clusters, "note": note}


def _lottery_arm_codes(design: pd.Series, applied: pd.Series, won: pd.Series) -> list[str]:
    return ["open" if kind != "lottery" else "won" if int(w) == 1 else
            "lost" if int(a) == 1 else "not_applied"
            for kind, a, w in zip(design, applied.fillna(0), won.fillna(0), strict=True)]


def _flag(frame: pd.DataFrame, column: str, source: str) -> pd.Series:
    """A 0/1 column of a design table as integers (empty cells are 0)."""
    values = pd.to_numeric(frame[column].replace("", None), errors="coerce")
    bad = values.notna() & ~values.isin([0, 1])
    if bad.any():
        raise DataError(f"{source}: column {column!r} holds {frame.loc[bad, column].iloc[0]!r}; "
                        "expected 0, 1 or empty")
    return values.fillna(0).astype("int64")


def _unit_arms(config: EvaluationConfig, clean_data: pd.DataFrame,
               design_tables: dict[str, pd.DataFrame]) -> pd.Series:
    """Each surveyed unit's arm code, from its first surveyed round (a unit keeps one arm)."""
    first = clean_data.sort_values(TIME, kind="stable").drop_duplicates(config.unit)
    villages = first[config.cluster].astype("string")
    if config.design == "staggered_rollout":
        rollout = design_tables["rollout"]
        cohort = pd.to_numeric(rollout["cohort"].replace("", None), errors="coerce")
        by_village = pd.Series(cohort.to_numpy(), index=rollout[config.cluster].astype("string"))
        cohorts = villages.map(by_village)
        codes = [f"starts_{int(value)}" if pd.notna(value) and value > 0 else "never"
                 for value in cohorts]
    else:
        kind = villages.map(design_tables["villages"].assign(
            **{config.cluster: design_tables["villages"][config.cluster].astype("string")}
        ).set_index(config.cluster)["design"])
        applicants = design_tables["applicants"]
        flags = {column: pd.Series(_flag(applicants, column, "applicants").to_numpy(),
                                   index=applicants[config.unit])
                 for column in ("applied", "won_lottery")}
        codes = _lottery_arm_codes(kind, first[config.unit].map(flags["applied"]),
                                   first[config.unit].map(flags["won_lottery"]))
    return pd.Series(codes, index=first[config.unit].to_numpy(), name="arm")


def _arm_order(config: EvaluationConfig, arms: list[str]) -> list[str]:
    if config.design == "staggered_rollout":
        starts = sorted((arm for arm in arms if arm.startswith("starts_")),
                        key=lambda arm: int(arm.split("_")[1]))
        return [*starts, *(["never"] if "never" in arms else [])]
    return [arm for arm in _LOTTERY_ARMS if arm in arms]


def sample_flow_from_frames(config: EvaluationConfig, sources: pd.DataFrame,
                            dropped: pd.DataFrame, clean_data: pd.DataFrame,
                            analysis: pd.DataFrame,
                            design_tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The CONSORT flow of the sample from assignment to analysis, by arm (pure).

    Steps, in order: ``assigned`` (staggered roll-out: villages of each start round in the
    roll-out record; lottery: women of the listing by arm), then for every round
    ``records_read``, ``records_dropped`` (with the reasons in ``note``) and ``records_kept``
    (arm ``all``), ``surveyed`` (units by arm), and after the baseline ``lost`` (units of the
    baseline not surveyed this round) and, when there are any, ``joined`` (units surveyed
    this round but not at baseline); finally ``analysed`` (units of the analysis data by arm).
    A unit's arm is that of its first surveyed round. Arms are codes: ``starts_<round>``,
    ``never`` (staggered); ``won``, ``lost``, ``not_applied``, ``open`` (lottery); ``all``.

    Parameters
    ----------
    sources, dropped, clean_data, analysis
        ``sources.csv``, ``dropped.csv``, the clean data and the analysis data of a run.
    design_tables
        The design files as read: ``rollout`` (staggered) or ``villages`` and ``applicants``
        (lottery).

    Returns
    -------
    pandas.DataFrame
        Columns ``step, arm, round, n_units, n_clusters, note`` (counts as ``Int64``).

    Raises
    ------
    DataError
        If the files do not add up: rows read in a round differ from rows kept plus rows
        dropped (the files come from different runs), or a column is missing.
    """
    language = config.language
    unit, cluster = config.unit, config.cluster
    for name, frame, needed in (("sources.csv", sources, ("round", "rows")),
                                ("dropped.csv", dropped, ("round",)),
                                ("clean data", clean_data, (unit, cluster, TIME))):
        missing = [column for column in needed if column not in frame.columns]
        if missing:
            raise DataError(f"{name}: missing columns {missing}; expected {list(needed)}")
    arms = _unit_arms(config, clean_data, design_tables)
    data = clean_data[[unit, cluster, TIME]].assign(arm=clean_data[unit].map(arms).to_numpy())
    order = _arm_order(config, list(dict.fromkeys(arms)))
    rows = []
    if config.design == "staggered_rollout":
        rollout = design_tables["rollout"]
        cohort = pd.to_numeric(rollout["cohort"].replace("", None), errors="coerce")
        codes = pd.Series([f"starts_{int(c)}" if pd.notna(c) and c > 0 else "never"
                           for c in cohort])
        order = _arm_order(config, list(dict.fromkeys([*order, *codes])))
        for arm in order:
            rows.append(_flow_row("assigned", arm, pd.NA, pd.NA, int((codes == arm).sum()),
                                  text("flow_note_rollout", language)))
    else:
        listing = design_tables["applicants"]
        villages = design_tables["villages"]
        kind = listing[cluster].astype("string").map(
            villages.assign(**{cluster: villages[cluster].astype("string")})
            .set_index(cluster)["design"])
        codes = pd.Series(_lottery_arm_codes(kind, _flag(listing, "applied", "applicants"),
                                             _flag(listing, "won_lottery", "applicants")))
        order = _arm_order(config, list(dict.fromkeys([*order, *codes])))
        for arm in order:
            chosen = listing[(codes == arm).to_numpy()]
            rows.append(_flow_row("assigned", arm, pd.NA, chosen[unit].nunique(),
                                  chosen[cluster].nunique(), text("flow_note_listing", language)))
    rounds = sorted(set(sources["round"]) | set(data[TIME]))
    baseline_round = rounds[0]
    baseline_units = {arm: set(data.loc[(data[TIME] == baseline_round) & (data["arm"] == arm),
                                        unit]) for arm in order}
    for round_ in rounds:
        read = int(sources.loc[sources["round"] == round_, "rows"].sum())
        dropped_here = dropped[dropped["round"] == round_]
        kept = int((data[TIME] == round_).sum())
        if read != kept + len(dropped_here):
            raise DataError(
                f"round {round_}: sources.csv reads {read} rows but the clean data keeps {kept} "
                f"and dropped.csv drops {len(dropped_here)}; expected rows read = kept + "
                "dropped: are the files from the same run?")
        reasons = (dropped_here["drop_rule"].value_counts().sort_index()
                   if "drop_rule" in dropped_here.columns else pd.Series(dtype="int64"))
        rows += [
            _flow_row("records_read", "all", round_, read, pd.NA),
            _flow_row("records_dropped", "all", round_, len(dropped_here), pd.NA,
                      "; ".join(f"{rule} {count}" for rule, count in reasons.items())),
            _flow_row("records_kept", "all", round_, kept, pd.NA),
        ]
        here = data[data[TIME] == round_]
        for arm in order:
            in_arm = here[here["arm"] == arm]
            rows.append(_flow_row("surveyed", arm, round_, in_arm[unit].nunique(),
                                  in_arm[cluster].nunique()))
            if round_ == baseline_round:
                continue
            units = set(in_arm[unit])
            lost = baseline_units[arm] - units
            joined = units - baseline_units[arm]
            rows.append(_flow_row("lost", arm, round_, len(lost), pd.NA))
            if joined:
                rows.append(_flow_row("joined", arm, round_, len(joined), pd.NA))
    if config.design == "staggered_rollout":
        analysed = analysis.assign(arm=analysis[unit].map(arms).to_numpy())
        note = text("flow_note_analysed_panel", language)
    else:
        analysed = analysis.assign(arm=_lottery_arm_codes(
            analysis["design"], analysis["applied"], analysis["won_lottery"]))
        note = text("flow_note_analysed_endline", language)
    for arm in order:
        in_arm = analysed[analysed["arm"] == arm]
        rows.append(_flow_row("analysed", arm, pd.NA, in_arm[unit].nunique(),
                              in_arm[cluster].nunique(), note))
    flow = pd.DataFrame(rows, columns=list(FLOW_COLUMNS))
    for column in ("round", "n_units", "n_clusters"):
        flow[column] = flow[column].astype("Int64")
    return flow


def sample_flow(config: EvaluationConfig, run: Path) -> pd.DataFrame:
    """The CONSORT flow of a run's sample, from the files ``01_clean`` wrote.

    Reads ``sources.csv``, ``dropped.csv``, the clean and analysis data of ``run`` and the
    design files of the config; see :func:`sample_flow_from_frames` for the steps.

    Examples
    --------
    >>> flow = sample_flow(config, run)  # doctest: +SKIP
    >>> flow.columns.tolist()  # doctest: +SKIP
    ['step', 'arm', 'round', 'n_units', 'n_clusters', 'note']
    """
    run = Path(run)
    for name in ("sources.csv", "dropped.csv"):
        if not (run / name).is_file():
            raise DataError(f"{run / name}: not found; run the 01_clean notebook first")
    sources = pd.read_csv(run / "sources.csv")
    dropped = pd.read_csv(run / "dropped.csv", dtype={config.unit: "string",
                                                      config.cluster: "string"},
                          low_memory=False)
    design_tables = {key: read_table(path)[0] for key, path in config.design_files.items()
                     if key in ("rollout", "villages", "applicants")}
    return sample_flow_from_frames(config, sources, dropped, load_analysis(run, which="clean"),
                                   load_analysis(run), design_tables)


def balance_arm_names(config: EvaluationConfig) -> dict[int, str]:
    """The names of the two arms of the balance table (0 = comparison, 1 = treated).

    Staggered roll-out: never-treated against ever-treated villages; lottery: losers against
    winners.

    Examples
    --------
    >>> balance_arm_names(config)  # doctest: +SKIP
    {0: 'lottery lost', 1: 'lottery won'}
    """
    language = config.language
    if config.design == "staggered_rollout":
        return {0: text("arm_never", language), 1: text("arm_ever", language)}
    return {0: text("arm_lost", language), 1: text("arm_won", language)}


def control_standard_deviation(config: EvaluationConfig,
                               analysis: pd.DataFrame) -> pd.DataFrame:
    """Each outcome's standard deviation in the comparison group at baseline.

    Staggered roll-out: units of never-treated villages in the first round. Lottery: losers
    of the lottery (applicants in lottery villages), on the ``<outcome>_baseline`` columns;
    the same SD scales every estimand of an outcome, so that they stay comparable. The SD is
    the sample SD (ddof=1) of the observed values; it is missing with fewer than two values
    or no variation. The family indices (``index_<family>``) the analysis data carries are
    included the same way.

    Returns
    -------
    pandas.DataFrame
        One row per outcome: ``outcome``, ``control_sd``, ``n_obs``.

    Examples
    --------
    >>> control_standard_deviation(config, analysis)  # doctest: +SKIP
    """
    indices = [family.index_name for family in getattr(config, "outcome_families", ())]
    if config.design == "staggered_rollout":
        control = analysis[(analysis[TIME] == analysis[TIME].min()) & (analysis["cohort"] == 0)]
        columns = {outcome: outcome for outcome in config.outcomes}
    else:
        control = analysis[(analysis["design"] == "lottery") & (analysis["applied"] == 1)
                           & (analysis["won_lottery"] == 0)]
        columns = {outcome: f"{outcome}_baseline" for outcome in config.outcomes}
    columns.update({index: columns_name for index in indices
                    if (columns_name := index if config.design == "staggered_rollout"
                        else f"{index}_baseline") in control.columns})
    rows = []
    for outcome, column in columns.items():
        if column not in control.columns:
            raise DataError(f"analysis data: no column {column!r} for outcome {outcome!r}; "
                            "expected the outcome (staggered) or its baseline (lottery)")
        values = pd.to_numeric(control[column], errors="coerce").dropna()
        sd = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
        rows.append({"outcome": outcome, "control_sd": sd if sd > 0 else float("nan"),
                     "n_obs": len(values)})
    return pd.DataFrame(rows, columns=["outcome", "control_sd", "n_obs"])


# --- subgroups, dose and cost ---
# Stages of the report's forest plot (effects by subgroup), dose-response plot (effects by the
# number of home visits or sessions) and cost-effectiveness table; the figures and the table are
# drawn by doorstep.report.forest and doorstep.report.cost.

SUBGROUP_COLUMNS = (
    "outcome", "subgroup", "subgroup_label", "level", "level_label", "n_units", "estimator",
    "estimate",
    "std_error", "p_value", "conf_low", "conf_high", "n_obs", "n_clusters", "equality_statistic",
    "equality_df", "equality_p_value", "equality_test", "note",
)
DOSE_COLUMNS = (
    "outcome", "band", "band_label", "dose_low", "dose_high", "mean_dose", "n_units",
    "estimator", "estimate", "std_error", "p_value", "conf_low", "conf_high", "n_obs",
    "n_clusters", "note",
)
OVERALL = "overall"


def _number_text(value: float) -> str:
    return f"{value:g}"


def subgroup_levels(spec: dict, values: pd.Series, language: str = "en") -> tuple[pd.Series,
                                                                                    dict]:
    """Each unit's level of one configured subgroup, and the levels' labels in order.

    ``bins`` edges give levels ``[a, b)`` (the last bin closed); ``levels`` map values to
    labels (values not listed are left out); otherwise every distinct value is a level.

    Examples
    --------
    >>> codes, names = subgroup_levels({"column": "age", "bins": [6, 12, 19]},
    ...                                pd.Series([6, 11, 12, 19, 20]))
    >>> codes.tolist(), names
    ([0, 0, 1, 1, None], {0: '[6, 12)', 1: '[12, 19]'})
    """
    numbers = pd.to_numeric(values, errors="coerce")
    if "bins" in spec:
        edges = spec["bins"]
        codes = [None if pd.isna(v) or v < edges[0] or v > edges[-1] else
                 min(int(np.searchsorted(edges, v, side="right")) - 1, len(edges) - 2)
                 for v in numbers]
        names = {k: f"[{_number_text(edges[k])}, {_number_text(edges[k + 1])}"
                    f"{']' if k == len(edges) - 2 else ')'}" for k in range(len(edges) - 1)}
        return pd.Series(codes, index=values.index, dtype=object), names
    if "levels" in spec:
        keys = list(spec["levels"])
        lookup = {}
        for position, key in enumerate(keys):
            lookup[str(key)] = position
            number = pd.to_numeric(pd.Series([key]), errors="coerce").iloc[0]
            if pd.notna(number):
                lookup[float(number)] = position
        codes = [lookup.get(float(n)) if pd.notna(n) else lookup.get(str(v)) if pd.notna(v)
                 else None for v, n in zip(values, numbers, strict=True)]
        names = {position: spec["levels"][key][language] for position, key in enumerate(keys)}
        return pd.Series(codes, index=values.index, dtype=object), names
    present = sorted(values.dropna().unique(), key=lambda v: (str(type(v)), v))
    names = {position: (_number_text(v) if isinstance(v, int | float | np.number) else str(v))
             for position, v in enumerate(present)}
    codes = values.map({v: position for position, v in enumerate(present)})
    return codes.astype(object).where(codes.notna(), None), names


def _unit_values(config: EvaluationConfig, analysis: pd.DataFrame, column: str) -> pd.Series:
    """One value of ``column`` per unit: its value in the unit's first observed round."""
    if column not in analysis.columns:
        raise DataError(f"analysis data: subgroup column {column!r} not found; expected one of "
                        f"the analysis columns (e.g. {sorted(analysis.columns)[:8]}...)")
    if TIME in analysis.columns and analysis[config.unit].duplicated().any():
        first = analysis.sort_values(TIME, kind="stable").drop_duplicates(config.unit)
    else:
        first = analysis
    return first.set_index(config.unit)[column]


def _balanced_units(config: EvaluationConfig, panel: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """The rows of the units :func:`estimate.staggered_did` keeps (complete panel, not treated
    in the first round), so that its units are exactly these, in sorted order."""
    wide = panel.pivot(index=config.unit, columns=TIME, values=outcome)
    info = panel.groupby(config.unit)[["cohort", config.cluster]].first().reindex(wide.index)
    keep = wide.notna().all(axis=1) & info["cohort"].notna() & info[config.cluster].notna()
    keep &= ~((info["cohort"] > 0) & (info["cohort"] <= wide.columns.min()))
    return panel[panel[config.unit].isin(wide.index[keep])]


def simple_att_influence(result: estimate.StaggeredResult) -> np.ndarray:
    """Each unit's influence function of the simple (cohort-size weighted) ATT.

    The same function as ``result.aggregate("simple")`` uses (R ``did``'s ``aggte``, with the
    term for the estimated cohort shares), so that ``(cluster sums)' (cluster sums) / n^2`` is
    that aggregation's variance; kept here because the aggregation does not return it.

    Examples
    --------
    >>> rows = [(i, t, 3 if i < 20 else 0) for i in range(40) for t in (1, 2, 3, 4)]
    >>> frame = pd.DataFrame(rows, columns=["id", "t", "g"])
    >>> frame["y"] = np.arange(len(frame)) % 5 + 2.0 * (frame.t >= frame.g) * (frame.g > 0)
    >>> fit = estimate.staggered_did(frame, "y", "id", "t", "g", bootstrap_reps=0)
    >>> function = simple_att_influence(fit)
    >>> bool(np.isclose(np.sqrt((function ** 2).sum()) / 40, fit.aggregate("simple").std_error))
    True
    """
    groups, times = result.groups, result.times
    keepers = np.flatnonzero(groups <= times)
    cohort_list = np.unique(groups)
    shares = np.array([np.mean(result.unit_cohorts == g) for g in cohort_list])
    pg = shares[np.searchsorted(cohort_list, groups)][keepers]
    weights = pg / pg.sum()
    indicators = (result.unit_cohorts[:, None] == groups[keepers][None, :]).astype(float)
    centred = indicators - pg[None, :]
    weight_influence = centred / pg.sum() - np.outer(centred.sum(axis=1), pg / pg.sum() ** 2)
    return result.influence[:, keepers] @ weights + weight_influence @ result.estimates[keepers]


def _staggered_fit(config: EvaluationConfig, panel: pd.DataFrame, outcome: str,
                   seed: int) -> tuple[estimate.EstimationResult, pd.Series]:
    """Simple ATT on ``panel`` and the cluster sums of its influence function / n."""
    panel = _balanced_units(config, panel, outcome)
    fit = estimate.staggered_did(panel, outcome, unit=config.unit, time=TIME, cohort="cohort",
                                 control_group="never", cluster=config.cluster,
                                 bootstrap_reps=0, seed=seed)
    simple = fit.aggregate("simple")
    units = panel.groupby(config.unit)[config.cluster].first().sort_index()
    codes, names = pd.factorize(units.to_numpy())
    if fit.n_units != len(units) or not np.array_equal(codes, fit.cluster_codes):
        raise EstimationError(f"{outcome}: the staggered estimator kept {fit.n_units} units, "
                              f"expected the {len(units)} of the balanced panel")
    function = simple_att_influence(fit) / fit.n_units
    sums = pd.Series(np.bincount(codes, weights=function, minlength=len(names)), index=names)
    if not np.isclose(np.sqrt((sums**2).sum()), simple.std_error, rtol=1e-8, atol=1e-12):
        raise EstimationError(f"{outcome}: the simple ATT's influence function does not "
                              "reproduce its standard error")
    return simple, sums


def _row(result: estimate.EstimationResult) -> dict:
    tidy = result.tidy().iloc[0]
    return {key: tidy[key] for key in ("estimator", "estimate", "std_error", "p_value",
                                       "conf_low", "conf_high", "n_obs", "n_clusters")}


def _lottery_sample(analysis: pd.DataFrame) -> pd.DataFrame:
    return analysis[(analysis["design"] == "lottery") & (analysis["applied"] == 1)]


def subgroup_effects(config: EvaluationConfig, analysis: pd.DataFrame,
                     seed: int = 20240301) -> pd.DataFrame:
    """Headline effects within each level of every configured subgroup, and a test of equality.

    Subgroups are baseline characteristics (a unit's value in its first round). Each level's
    effect uses the design's primary estimator on the units of that level:

    - staggered roll-out: the Callaway-Sant'Anna simple ATT against never-treated villages
      (as :func:`estimate_effects`). Levels share villages, so their estimates are correlated
      through village shocks and a Wald test that treats them as independent would be wrong.
      The test stacks the levels' influence functions (each unit contributes to its own level's
      function only), sums them within villages and takes ``V = S'S`` over villages as the
      joint covariance, which is each estimate's clustered variance on the diagonal and the
      covariance through shared villages off it; the Wald chi2 test of ``effect_k - effect_1 =
      0`` (k > 1) uses that V.
    - lottery: the ANCOVA ITT (winning, baseline outcome, village fixed effects) among the
      applicants of each level; the equality test is the interaction test of
      :func:`doorstep.estimate.heterogeneity` (one regression with an effect per level, a
      common baseline slope, village fixed effects), F with the cluster degrees of freedom.

    Returns a tidy frame, columns :data:`SUBGROUP_COLUMNS`; each outcome also has an
    ``overall`` row (all units). A level whose effect cannot be estimated has a ``note``.

    Examples
    --------
    >>> effects = subgroup_effects(config, analysis, seed=1)  # doctest: +SKIP
    """
    rows = []
    for outcome in dict.fromkeys(config.headline.values()):
        if config.design == "staggered_rollout":
            overall, _ = _staggered_fit(config, analysis, outcome, seed)
        else:
            sample = _lottery_sample(analysis).dropna(subset=[outcome, f"{outcome}_baseline"])
            overall = estimate.ancova(sample, outcome, "won_lottery",
                                      baseline_outcome=f"{outcome}_baseline",
                                      strata=config.cluster, cluster=config.cluster)
        units = analysis if config.design == "staggered_rollout" else _lottery_sample(analysis)
        rows.append({"outcome": outcome, "subgroup": OVERALL,
                     "subgroup_label": text("subgroup_overall", config.language),
                     "level": OVERALL, "level_label": text("subgroup_overall", config.language),
                     "n_units": int(units[config.unit].nunique()), **_row(overall),
                     "note": ""})
        for spec in config.subgroups:
            rows += _subgroup_rows(config, analysis, outcome, spec, seed)
    return pd.DataFrame(rows, columns=list(SUBGROUP_COLUMNS))


def _subgroup_rows(config: EvaluationConfig, analysis: pd.DataFrame, outcome: str,
                   spec: dict, seed: int) -> list[dict]:
    column = spec["column"]
    values = _unit_values(config, analysis, column)
    codes, names = subgroup_levels(spec, values, config.language)
    level_of = analysis[config.unit].map(codes)
    rows, estimates, sums = [], {}, {}
    for level, name in names.items():
        part = analysis[level_of == level]
        if config.design != "staggered_rollout":
            part = _lottery_sample(part)
        base = {"outcome": outcome, "subgroup": column,
                "subgroup_label": spec["label"][config.language], "level": level,
                "level_label": name,
                "n_units": int(part[config.unit].nunique()), "note": ""}
        try:
            if config.design == "staggered_rollout":
                result, sums[level] = _staggered_fit(config, part, outcome, seed)
            else:
                sample = part.dropna(subset=[outcome, f"{outcome}_baseline"])
                result = estimate.ancova(sample, outcome, "won_lottery",
                                         baseline_outcome=f"{outcome}_baseline",
                                         strata=config.cluster, cluster=config.cluster)
        except (EstimationError, ValueError) as error:
            rows.append({**base, "note": f"not estimable: {error}"})
            continue
        estimates[level] = result.estimate
        rows.append({**base, **_row(result)})
    test = _equality_test(config, analysis, outcome, level_of, estimates, sums)
    for row in rows:
        row.update(test)
    return rows


def _equality_test(config: EvaluationConfig, analysis: pd.DataFrame, outcome: str,
                   level_of: pd.Series, estimates: dict, sums: dict) -> dict:
    empty = {"equality_statistic": np.nan, "equality_df": np.nan, "equality_p_value": np.nan,
             "equality_test": "not possible: fewer than two levels estimated"}
    if len(estimates) < 2:
        return empty
    if config.design == "staggered_rollout":
        levels = list(estimates)
        matrix = pd.concat([sums[level] for level in levels], axis=1).fillna(0.0).to_numpy()
        covariance = matrix.T @ matrix
        contrast = np.zeros((len(levels) - 1, len(levels)))
        contrast[:, 0] = -1.0
        contrast[np.arange(len(levels) - 1), np.arange(1, len(levels))] = 1.0
        values = np.array([estimates[level] for level in levels])
        wald = wald_test(contrast @ values, contrast @ covariance @ contrast.T, df_denom=None)
        kind = "Wald chi2, stacked influence functions clustered by " + config.cluster
    else:
        sample = _lottery_sample(analysis.assign(__level=level_of))
        sample = sample.dropna(subset=[outcome, f"{outcome}_baseline", "__level"])
        sample = sample[sample["__level"].isin(list(estimates))]
        try:
            fit = estimate.heterogeneity(sample.assign(__level=sample["__level"].astype(int)),
                                         outcome, "won_lottery", "__level",
                                         covariates=[f"{outcome}_baseline"],
                                         strata=config.cluster, cluster=config.cluster)
        except EstimationError as error:
            return {**empty, "equality_test": f"not possible: {error}"}
        wald = fit.extras["equality_test"]
        kind = f"Wald {wald.distribution}, interaction (heterogeneity) clustered by " + \
            config.cluster
    return {"equality_statistic": wald.statistic, "equality_df": wald.df_num,
            "equality_p_value": wald.p_value, "equality_test": kind}


def _dose_by_unit(config: EvaluationConfig, analysis: pd.DataFrame) -> pd.Series:
    """Each unit's dose from the configured file: rows (or the count column) per unit; with a
    ``date`` column, only rows dated on or before the unit's last interview date."""
    spec = config.dose
    records, _ = read_table(spec["path"])
    source = Path(spec["path"]).name
    needed = [spec["unit"]] + ([spec["count"]] if spec["count"] != "rows" else []) + (
        [spec["date"]] if spec.get("date") else [])
    missing = [name for name in needed if name not in records.columns]
    if missing:
        raise DataError(f"{source}: columns {missing} (from the config's dose section) not "
                        f"found; the file has {list(records.columns)}")
    if spec.get("date"):
        if "interview_date" not in analysis.columns:
            raise DataError(f"{source}: dose.date is set but the analysis data has no "
                            "'interview_date' column to count visits up to")
        dates = pd.to_datetime(records[spec["date"]], errors="coerce")
        if dates.isna().any():
            first = records.loc[dates.isna(), spec["date"]].iloc[0]
            raise DataError(f"{source}: column {spec['date']!r}: expected dates, found "
                            f"{first!r} ({int(dates.isna().sum())} rows)")
        last = pd.to_datetime(analysis.groupby(config.unit)["interview_date"].max())
        records = records[dates.to_numpy() <= records[spec["unit"]].map(last).to_numpy()]
    if spec["count"] == "rows":
        return records.groupby(spec["unit"]).size().astype(float)
    counts = pd.to_numeric(records[spec["count"]], errors="coerce")
    if counts.isna().any() or (counts < 0).any():
        bad = records.loc[counts.isna() | (counts < 0), spec["count"]].iloc[0]
        raise DataError(f"{source}: column {spec['count']!r}: expected counts >= 0, found "
                        f"{bad!r}")
    return counts.groupby(records[spec["unit"]]).sum().astype(float)


def dose_bands(doses: pd.Series, bands: list[float] | str) -> tuple[pd.Series, pd.DataFrame]:
    """Each unit's band of dose, and the bands (label, lower and upper dose).

    ``bands`` are cut points (a dose d is in band k = number of cut points <= d) or
    ``"tertiles"`` (cut points at the 1/3 and 2/3 quantiles of ``doses``). Labels are "lo-hi"
    ranges of whole numbers ("12+" for the last band) when the doses and cut points are whole.

    Examples
    --------
    >>> band, table = dose_bands(pd.Series([0, 3, 6, 7, 12, 20]), [6, 12])
    >>> band.tolist(), table["band_label"].tolist()
    ([0, 0, 1, 1, 2, 2], ['0–5', '6–11', '12+'])
    """
    cuts = (sorted(set(np.quantile(doses, [1 / 3, 2 / 3], method="inverted_cdf")))
            if bands == "tertiles" else list(bands))
    band = pd.Series(np.searchsorted(np.array(cuts, dtype=float), doses.to_numpy(dtype=float),
                                     side="right"), index=doses.index)
    whole = bool(np.all(np.mod(doses, 1) == 0) and np.all(np.mod(cuts, 1) == 0))
    low_edges = [min(float(doses.min()), cuts[0] - 1 if whole else cuts[0]), *cuts]
    table = []
    for k in range(len(cuts) + 1):
        low, high = low_edges[k], (cuts[k] if k < len(cuts) else np.inf)
        if whole:
            label = f"{low:g}+" if k == len(cuts) else f"{low:g}–{high - 1:g}"
        else:
            label = f"≥ {low:g}" if k == len(cuts) else f"< {high:g}" if k == 0 else \
                f"{low:g}–{high:g}"
        table.append({"band": k, "band_label": label, "dose_low": low, "dose_high": high})
    return band, pd.DataFrame(table)


def dose_response(config: EvaluationConfig, analysis: pd.DataFrame,
                  seed: int = 20240301) -> pd.DataFrame:
    """Headline effects by band of dose (home visits, sessions): descriptive, not causal.

    The dose is chosen by families and volunteers, not randomised, so units in a band differ
    from those in another in more than their dose; each band is compared with the same
    comparison group the design gives, which keeps the comparison of like with like as far as
    the design allows but does not make the gradient causal:

    - staggered roll-out: children of treated villages at the last round, banded by the home
      visits logged up to their last interview, against children of never-treated villages;
      the estimate is the change from the first round (before any village started) to the last
      round, band minus never-treated, i.e. :func:`estimate.staggered_did` on that two-period
      panel (clustered by village). Children of earlier cohorts had more time to be visited,
      so bands also differ in time since start.
    - lottery: winners in each band of attendance against all losers, ANCOVA with the baseline
      outcome and village fixed effects, clustered by village (winners missing from the
      attendance file attended 0 sessions).

    Returns a tidy frame, columns :data:`DOSE_COLUMNS`.

    Examples
    --------
    >>> bands = dose_response(config, analysis, seed=1)  # doctest: +SKIP
    """
    if config.dose is None:
        raise DataError(f"{config.path}: no dose section in the config")
    doses = _dose_by_unit(config, analysis)
    rows = []
    if config.design == "staggered_rollout":
        first, last = analysis[TIME].min(), analysis[TIME].max()
        units = analysis.groupby(config.unit)["cohort"].first()
        treated = units[(units > first) & (units <= last)].index
        control = units[units == 0].index
        dose = doses.reindex(treated).fillna(0.0)
        panel = analysis[analysis[TIME].isin([first, last])]
        estimator_panel = panel.assign(cohort=np.where(panel["cohort"] > 0, last, 0))
    else:
        sample = _lottery_sample(analysis)
        treated = sample.loc[sample["won_lottery"] == 1, config.unit]
        dose = doses.reindex(treated).fillna(0.0)
    band, table = dose_bands(dose, config.dose["bands"])
    for outcome in dict.fromkeys(config.headline.values()):
        for _, info in table.iterrows():
            members = band.index[band == info["band"]]
            base = {"outcome": outcome, **info.to_dict(),
                    "mean_dose": float(dose[members].mean()) if len(members) else np.nan,
                    "n_units": len(members), "note": ""}
            try:
                if config.design == "staggered_rollout":
                    keep = estimator_panel[config.unit].isin(members.union(control))
                    result, _ = _staggered_fit(config, estimator_panel[keep], outcome, seed)
                else:
                    keep = (sample["won_lottery"] == 0) | sample[config.unit].isin(members)
                    part = sample[keep].dropna(subset=[outcome, f"{outcome}_baseline"])
                    result = estimate.ancova(part, outcome, "won_lottery",
                                             baseline_outcome=f"{outcome}_baseline",
                                             strata=config.cluster, cluster=config.cluster)
            except (EstimationError, ValueError) as error:
                rows.append({**base, "note": f"not estimable: {error}"})
                continue
            rows.append({**base, **_row(result)})
    return pd.DataFrame(rows, columns=list(DOSE_COLUMNS))

