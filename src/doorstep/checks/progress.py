"""Progress of fieldwork against the sample: completed, refused and pending interviews.

This module owns the progress table by village, township and enumerator for each export
(one export is one round), with the days left until the configured end date. It must not import
``estimate``, ``report`` or ``run``.

Examples
--------
>>> # exercised through doorstep.checks.run_checks; see check_progress
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from doorstep.checks.config import CheckConfig
from doorstep.checks.prepare import Prepared

PROGRESS_COLUMNS = ("export", "level", "group", "target", "completed", "refused", "pending",
                    "share_completed", "days_left", "needed_per_day")


def _statuses(frame: pd.DataFrame, config: CheckConfig) -> pd.Series:
    if config.consent_column and config.consent_column in frame:
        consent = frame[config.consent_column].astype("string").str.strip()
        refused = consent.isin(list(config.consent_refused_values)).fillna(False)
        return pd.Series(np.where(refused, "refused", "completed"), index=frame.index)
    return pd.Series("completed", index=frame.index)


def check_progress(prepared: Prepared, config: CheckConfig, as_of: dt.date | None
                   ) -> pd.DataFrame:
    """Completed, refused and pending units per export, by village, township and enumerator.

    Without a sample, targets and pending counts are missing and only interviews are counted.
    A unit with several interviews in an export counts once, with its latest status.

    Parameters
    ----------
    prepared
        The stacked exports.
    config
        ``sample``, ``id_column``, ``village_column``, ``township_column``, ``consent_column``,
        ``end_date``.
    as_of
        The day of the check (for ``days_left``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PROGRESS_COLUMNS`; ``level`` is ``all``, ``township``, ``village`` or
        ``enumerator``.

    Examples
    --------
    >>> # see tests/test_checks.py::test_progress_counts
    """
    frame = prepared.frame
    id_column, enumerator = config.id_column, prepared.enumerator_column
    interviews = pd.DataFrame({
        "export": frame["_export"].astype(str),
        "unit": frame[id_column].astype("string").str.strip(),
        "status": _statuses(frame, config),
        "enumerator": frame[enumerator].astype(str),
        "village": frame[config.village_column].astype(str) if config.village_column in frame
        else "unknown",
        "township": frame[config.township_column].astype(str)
        if config.township_column in frame else "unknown",
    })
    interviews = interviews.drop_duplicates(["export", "unit"], keep="last")
    days_left = None
    if config.end_date is not None and as_of is not None:
        days_left = max((config.end_date - as_of).days, 0)
    if config.sample is not None:
        sample = config.sample
        units = pd.DataFrame({"unit": sample[id_column].astype("string").str.strip()})
        for column, name in ((config.village_column, "village"),
                             (config.township_column, "township"),
                             (config.enumerator_column, "enumerator")):
            units[name] = sample[column].astype(str) if column in sample else pd.NA
        units = units.drop_duplicates("unit")
        exports = pd.DataFrame({"export": sorted(interviews["export"].unique())})
        merged = exports.merge(units, how="cross").merge(
            interviews[["export", "unit", "status", "enumerator", "village", "township"]],
            on=["export", "unit"], how="left", suffixes=("", "_interview"))
        for name in ("village", "township", "enumerator"):
            merged[name] = merged[name].fillna(merged[f"{name}_interview"]).fillna(
                "unassigned")
        merged["status"] = merged["status"].fillna("pending")
    else:
        merged = interviews
    tables = []
    for level in ("all", "township", "village", "enumerator"):
        keys = (pd.Series("all", index=merged.index) if level == "all"
                else merged[level].astype(str))
        counts = merged.groupby([merged["export"], keys.rename("group"), merged["status"]]
                                ).size().unstack(fill_value=0)
        for status in ("completed", "refused", "pending"):
            if status not in counts:
                counts[status] = 0
        table = counts[["completed", "refused", "pending"]].reset_index()
        table.insert(1, "level", level)
        if config.sample is not None:
            table["target"] = table[["completed", "refused", "pending"]].sum(axis=1)
            table["share_completed"] = table["completed"] / table["target"]
        else:
            table["target"] = pd.NA
            table["pending"] = pd.NA
            table["share_completed"] = np.nan
        table["days_left"] = days_left
        table["needed_per_day"] = (table["pending"].astype(float) / days_left
                                   if days_left else np.nan)
        tables.append(table)
    result = pd.concat(tables, ignore_index=True)
    return result[list(PROGRESS_COLUMNS)].sort_values(["export"], kind="stable",
                                                       ignore_index=True)
