"""Report inputs (``04_report``): what the report draws that no earlier notebook wrote.

Owns the CONSORT sample flow (:func:`sample_flow`, :func:`sample_flow_from_frames`), the
comparison group's baseline SD that standardises effects
(:func:`control_standard_deviation`), the names of the balance table's arms
(:func:`balance_arm_names`), the scales' reliability (:func:`scale_reliability`) and the
simulator's truth (:func:`load_truth`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from doorstep.config import EvaluationConfig
from doorstep.errors import DataError
from doorstep.io import read_table
from doorstep.measures import get_scale, reliability
from doorstep.report.i18n import text
from doorstep.run.stages.common import TIME, applicant_mask, first_round_mask, load_analysis

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


def _rollout_arm_codes(rollout: pd.DataFrame) -> list[str]:
    """Each row's arm code of a roll-out record: ``starts_<cohort>``, or ``never`` (cohort 0 or
    empty)."""
    cohort = pd.to_numeric(rollout["cohort"].replace("", None), errors="coerce")
    return [f"starts_{int(value)}" if pd.notna(value) and value > 0 else "never"
            for value in cohort]


def _village_design(villages: pd.DataFrame, cluster: str) -> pd.Series:
    """Each village's design (``lottery`` or ``open``), indexed by the village id as text."""
    return villages.assign(**{cluster: villages[cluster].astype("string")}).set_index(
        cluster)["design"]


def _unit_arms(config: EvaluationConfig, clean_data: pd.DataFrame,
               design_tables: dict[str, pd.DataFrame]) -> pd.Series:
    """Each surveyed unit's arm code, from its first surveyed round (a unit keeps one arm)."""
    first = clean_data.sort_values(TIME, kind="stable").drop_duplicates(config.unit)
    villages = first[config.cluster].astype("string")
    if config.design == "staggered_rollout":
        rollout = design_tables["rollout"]
        by_village = pd.Series(_rollout_arm_codes(rollout),
                               index=rollout[config.cluster].astype("string"))
        codes = villages.map(by_village).fillna("never").tolist()
    else:
        kind = villages.map(_village_design(design_tables["villages"], config.cluster))
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
        codes = pd.Series(_rollout_arm_codes(design_tables["rollout"]))
        order = _arm_order(config, list(dict.fromkeys([*order, *codes])))
        for arm in order:
            rows.append(_flow_row("assigned", arm, pd.NA, pd.NA, int((codes == arm).sum()),
                                  text("flow_note_rollout", language)))
    else:
        listing = design_tables["applicants"]
        kind = listing[cluster].astype("string").map(
            _village_design(design_tables["villages"], cluster))
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
        control = analysis[first_round_mask(analysis) & (analysis["cohort"] == 0)]
        columns = {outcome: outcome for outcome in config.outcomes}
    else:
        control = analysis[applicant_mask(analysis) & (analysis["won_lottery"] == 0)]
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

