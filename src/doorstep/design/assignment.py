"""Attach assignment records to clean survey data.

``staggered_panel`` gives each unit-round the cohort of its village (the round in which the
programme started there, 0 if never in the window) and whether it was treated; ``lottery_sample``
gives each woman surveyed at endline her village's design, her application, lottery result and
take-up, and her baseline values of the outcomes (for ANCOVA).
"""

from __future__ import annotations

import pandas as pd

from doorstep.errors import DataError

NEVER_TREATED = 0


def _require(frame: pd.DataFrame, columns: list[str], source: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataError(
            f"{source}: expected columns {missing}, found {list(frame.columns)}"
        )


def _as_int(values: pd.Series, source: str, column: str, default: int | None = None) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & numbers.isna()
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0]) + 1
        raise DataError(
            f"{source}, row {row}, column {column!r}: expected a whole number, "
            f"found {values[bad].iloc[0]!r}"
        )
    if default is not None:
        numbers = numbers.fillna(default)
    return numbers.astype("Int64" if default is None else "int64")


def staggered_panel(clean: pd.DataFrame, rollout: pd.DataFrame, *, cluster: str,
                    time: str = "round", start_column: str = "start_round",
                    source: str = "rollout") -> pd.DataFrame:
    """Add ``cohort`` (first treated round, 0 if never) and ``treated`` to a unit-round panel.

    Parameters
    ----------
    clean
        One row per unit and round, with the cluster (village) column.
    rollout
        The roll-out record: one row per village with ``start_column`` (empty if never).

    Raises
    ------
    DataError
        If a village of the survey is missing from the roll-out record, or appears twice.

    Examples
    --------
    >>> panel = pd.DataFrame({"village_code": ["01", "02"], "round": [2, 2]})
    >>> rollout = pd.DataFrame({"village_code": ["01", "02"], "start_round": ["2", None]})
    >>> staggered_panel(panel, rollout, cluster="village_code")["treated"].tolist()
    [1, 0]
    """
    _require(rollout, [cluster, start_column], source)
    duplicated = rollout[cluster].duplicated()
    if duplicated.any():
        raise DataError(f"{source}: village {rollout[cluster][duplicated].iloc[0]!r} appears "
                        "more than once; expected one row per village")
    schedule = pd.DataFrame({
        cluster: rollout[cluster].astype("string"),
        "cohort": _as_int(rollout[start_column], source, start_column, default=NEVER_TREATED),
    })
    panel = clean.assign(**{cluster: clean[cluster].astype("string")})
    panel = panel.merge(schedule, on=cluster, how="left", validate="many_to_one")
    unknown = panel["cohort"].isna()
    if unknown.any():
        raise DataError(
            f"{source}: village {panel.loc[unknown, cluster].iloc[0]!r} is in the survey but "
            "not in the roll-out record"
        )
    panel["cohort"] = panel["cohort"].astype("int64")
    panel["treated"] = ((panel["cohort"] > 0) & (panel[time] >= panel["cohort"])).astype("int64")
    return panel


def lottery_sample(
    clean: pd.DataFrame,
    villages: pd.DataFrame,
    applicants: pd.DataFrame,
    attendance: pd.DataFrame,
    *,
    unit: str,
    cluster: str,
    baseline_columns: list[str],
    baseline_round: int = 1,
    endline_round: int = 2,
    time: str = "round",
) -> pd.DataFrame:
    """One row per unit surveyed at endline, with design, assignment, take-up and baselines.

    Adds ``design`` (``"lottery"`` or ``"open"``), ``applied``, ``won_lottery``,
    ``participated`` (0/1) and, for each of ``baseline_columns``, its baseline value as
    ``<name>_baseline``.

    Examples
    --------
    >>> clean = pd.DataFrame({"woman_id": ["W1", "W1"], "village_code": ["01", "01"],
    ...                       "round": [1, 2], "y": [1.0, 3.0]})
    >>> out = lottery_sample(clean, pd.DataFrame({"village_code": ["01"], "design": ["lottery"]}),
    ...     pd.DataFrame({"woman_id": ["W1"], "applied": ["1"], "won_lottery": ["1"]}),
    ...     pd.DataFrame({"woman_id": ["W1"], "participated": ["1"]}),
    ...     unit="woman_id", cluster="village_code", baseline_columns=["y"])
    >>> out["y_baseline"].tolist(), out["won_lottery"].tolist(), out["participated"].tolist()
    ([1.0], [1], [1])
    """
    _require(villages, [cluster, "design"], "villages")
    _require(applicants, [unit, "applied", "won_lottery"], "applicants")
    _require(attendance, [unit, "participated"], "attendance")
    endline = clean[clean[time] == endline_round]
    baseline = clean.loc[clean[time] == baseline_round, [unit, *baseline_columns]]
    baseline = baseline.rename(columns={name: f"{name}_baseline" for name in baseline_columns})
    sample = endline.merge(baseline, on=unit, how="left", validate="one_to_one")
    design = villages[[cluster, "design"]].astype({cluster: "string"})
    sample = sample.assign(**{cluster: sample[cluster].astype("string")}).merge(
        design, on=cluster, how="left", validate="many_to_one")
    assignment = pd.DataFrame({
        unit: applicants[unit],
        "applied": _as_int(applicants["applied"], "applicants", "applied", default=0),
        "won_lottery": _as_int(applicants["won_lottery"], "applicants", "won_lottery", default=0),
    })
    takeup = pd.DataFrame({
        unit: attendance[unit],
        "participated": _as_int(attendance["participated"], "attendance", "participated",
                                default=0),
    })
    sample = sample.merge(assignment, on=unit, how="left", validate="one_to_one")
    sample = sample.merge(takeup, on=unit, how="left", validate="one_to_one")
    for column in ("applied", "won_lottery", "participated"):
        sample[column] = sample[column].fillna(0).astype("int64")
    return sample.reset_index(drop=True)
