"""What every stage of the chain shares: the run directory, its data files, and the samples.

Owns :func:`start` (config and run directory), :func:`load_analysis` and :func:`load_output`
(reading what an earlier notebook wrote), the name of the time column (:data:`TIME`) and the
data files, and the selections and fits the stage modules all need: the lottery applicants
(:func:`applicant_mask`, :func:`applicants`), the first round (:func:`first_round_mask`) and
the lottery's ANCOVA ITT (:func:`lottery_itt`). It imports no other stage module.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from doorstep import estimate
from doorstep.config import EvaluationConfig, load_config
from doorstep.errors import DataError

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


def applicant_mask(analysis: pd.DataFrame) -> pd.Series:
    """The rows of applicants in lottery villages: the sample of the ITT and LATE.

    Examples
    --------
    >>> frame = pd.DataFrame({"design": ["lottery", "lottery", "open"], "applied": [1, 0, 1]})
    >>> applicant_mask(frame).tolist()
    [True, False, False]
    """
    return (analysis["design"] == "lottery") & (analysis["applied"] == 1)


def applicants(analysis: pd.DataFrame) -> pd.DataFrame:
    """The rows of applicants in lottery villages (see :func:`applicant_mask`).

    Examples
    --------
    >>> frame = pd.DataFrame({"design": ["lottery", "lottery", "open"], "applied": [1, 0, 1]})
    >>> applicants(frame).index.tolist()
    [0]
    """
    return analysis[applicant_mask(analysis)]


def first_round_mask(analysis: pd.DataFrame) -> pd.Series:
    """The rows of the first round of a panel (the baseline of a staggered roll-out).

    Examples
    --------
    >>> first_round_mask(pd.DataFrame({TIME: [2, 1, 3, 1]})).tolist()
    [False, True, False, True]
    """
    return analysis[TIME] == analysis[TIME].min()


def lottery_itt(config: EvaluationConfig, sample: pd.DataFrame,
                outcome: str) -> estimate.EstimationResult:
    """The lottery's ITT: ANCOVA of ``outcome`` on winning, with the baseline outcome and
    village (stratum) fixed effects, clustered by village, on the rows of ``sample`` where the
    outcome and its baseline (``<outcome>_baseline``) are both present.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"village": np.repeat(np.arange(20), 10),
    ...                       "won_lottery": np.tile([0, 1], 100),
    ...                       "y_baseline": rng.normal(size=200)})
    >>> frame["y"] = frame["y_baseline"] + 2.0 * frame["won_lottery"]
    >>> result = lottery_itt(SimpleNamespace(cluster="village"), frame, "y")
    >>> round(result.estimate, 6)
    2.0
    """
    complete = sample.dropna(subset=[outcome, f"{outcome}_baseline"])
    return estimate.ancova(complete, outcome, "won_lottery",
                           baseline_outcome=f"{outcome}_baseline",
                           strata=config.cluster, cluster=config.cluster)
