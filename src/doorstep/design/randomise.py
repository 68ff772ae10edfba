"""Stratified and clustered random assignment, re-randomisation, and its record.

The procedure (written into the JSON sidecar so that it can be re-run exactly):

1. The randomisation units are the clusters (``cluster`` given) or the units; a stratum must be
   constant within a randomisation unit.
2. Draw d (1, 2, ...) uses ``numpy.random.default_rng([seed, d])``. Within each stratum (in
   sorted order), the randomisation units are sorted by id; arm k gets floor(share_k x n)
   units, and the r units left over go to r different arms drawn without replacement with
   probability proportional to the fractional parts share_k x n - floor(share_k x n) (so, with
   equal shares, arm counts in a stratum differ by at most 1, and no arm is favoured across
   strata); then the arm labels are laid on a random permutation of the units.
3. Re-randomisation (Morgan and Rubin 2012): with a ``balance`` criterion, draws are made until
   one meets it, up to ``max_draws``; the accepted draw number is recorded. Criteria over the
   given covariates, computed at the level of the randomisation unit (cluster means when
   clustered), comparing each arm with the first:
   ``"max_abs_std_diff"`` -- max over covariates and arms of |mean difference| /
   sqrt((var_arm + var_first) / 2) must be <= ``threshold``;
   ``"joint_f_p_value"`` -- the p-value of the F test that the covariates jointly do not
   predict the arm (OLS of the arm indicator on the covariates and stratum dummies, against
   stratum dummies alone) must be >= ``threshold`` for every arm.
   Randomisation inference after re-randomisation must use the same criterion.

Because units are sorted by id before drawing, the row order of the frame does not matter. The
record carries a checksum of the randomisation units and strata, and ``reassign`` refuses a
frame whose units differ. This module must not import ``estimate``, ``report`` or ``run``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from doorstep.errors import ConfigError, DataError

CRITERIA = ("max_abs_std_diff", "joint_f_p_value")
PROCEDURE_VERSION = "doorstep.design.randomise/1"


@dataclass(frozen=True)
class AssignmentProcedure:
    """Everything needed to re-run an assignment exactly (see the module notes)."""

    unit: str
    strata: str | None
    cluster: str | None
    arms: tuple[str, ...]
    shares: tuple[float, ...]
    seed: int
    balance: str | None
    threshold: float | None
    covariates: tuple[str, ...]
    max_draws: int
    draw: int
    balance_statistic: float | None
    n_randomised: int
    units_checksum: str
    procedure: str = PROCEDURE_VERSION

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self) | {"arms": list(self.arms), "shares": list(self.shares),
                               "covariates": list(self.covariates)}

    @classmethod
    def from_dict(cls, values: Mapping) -> AssignmentProcedure:
        """The record back from :meth:`to_dict` (unknown keys are an error)."""
        known = set(cls.__dataclass_fields__)
        unknown = [key for key in values if key not in known]
        if unknown:
            raise ConfigError(f"assignment record, key {unknown[0]!r}: expected one of "
                              f"{sorted(known)}, found {unknown[0]!r}")
        return cls(**{**values, "arms": tuple(values["arms"]),
                      "shares": tuple(values["shares"]),
                      "covariates": tuple(values.get("covariates", ()))})


@dataclass(frozen=True)
class Assignment:
    """The assignment table (one row per unit: unit, cluster, stratum, ``arm``) and its record."""

    table: pd.DataFrame
    procedure: AssignmentProcedure


def _randomisation_units(frame: pd.DataFrame, unit: str, strata: str | None,
                         cluster: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    columns = [column for column in (unit, cluster, strata) if column is not None]
    absent = [column for column in columns if column not in frame.columns]
    if absent:
        raise DataError(f"assignment: expected columns {absent}, not in the data")
    units = frame[list(dict.fromkeys(columns))].drop_duplicates()
    if units[unit].duplicated().any():
        bad = units.loc[units[unit].duplicated(), unit].iloc[0]
        raise DataError(f"assignment: unit {bad!r} has more than one cluster or stratum; "
                        "expected one per unit")
    level = cluster or unit
    randomised = units[[level, *([strata] if strata else [])]].drop_duplicates()
    if randomised[level].duplicated().any():
        bad = randomised.loc[randomised[level].duplicated(), level].iloc[0]
        raise DataError(f"assignment: cluster {bad!r} spans more than one stratum; expected "
                        "strata constant within clusters")
    randomised = randomised.assign(_id=randomised[level].astype(str),
                                   _stratum=randomised[strata].astype(str) if strata else "")
    return units, randomised.sort_values(["_stratum", "_id"], kind="stable")


def _checksum(randomised: pd.DataFrame) -> str:
    text = "\n".join(f"{stratum}\t{identifier}" for stratum, identifier in
                     zip(randomised["_stratum"], randomised["_id"], strict=True))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _draw(randomised: pd.DataFrame, arms: Sequence[str], shares: np.ndarray, seed: int,
          draw: int) -> pd.Series:
    rng = np.random.default_rng([seed, draw])
    labels = pd.Series("", index=randomised.index, dtype="object")
    for _, part in randomised.groupby("_stratum", sort=True):
        count = len(part)
        exact = shares * count
        counts = np.floor(exact + 1e-9).astype(int)
        left = count - counts.sum()
        if left > 0:
            fractions = np.clip(exact - counts, 0, None)
            extra = rng.choice(len(arms), size=left, replace=False, p=fractions / fractions.sum())
            counts[extra] += 1
        laid = np.repeat(np.asarray(arms, dtype=object), counts)
        order = rng.permutation(count)
        labels.loc[part.index[order]] = laid
    return labels


def _covariate_means(frame: pd.DataFrame, level: str, covariates: Sequence[str]) -> pd.DataFrame:
    absent = [column for column in covariates if column not in frame.columns]
    if absent:
        raise DataError(f"assignment: expected balance covariates {absent}, not in the data")
    values = frame[list(covariates)].apply(pd.to_numeric, errors="coerce").astype("float64")
    return values.groupby(frame[level].astype(str)).mean()


def balance_statistic(covariates: pd.DataFrame, arm: pd.Series, arms: Sequence[str],
                      criterion: str, strata: pd.Series | None = None) -> float:
    """The re-randomisation criterion of one draw (see the module notes).

    ``covariates``, ``arm`` and ``strata`` share one index (the randomisation units).

    Examples
    --------
    >>> x = pd.DataFrame({"age": [1.0, 2.0, 3.0, 4.0]})
    >>> arm = pd.Series(["c", "t", "c", "t"])
    >>> round(balance_statistic(x, arm, ["c", "t"], "max_abs_std_diff"), 4)
    0.7071
    """
    first = arms[0]
    values = []
    for other in arms[1:]:
        rows = arm.isin([first, other])
        if criterion == "max_abs_std_diff":
            a = covariates[arm == other]
            b = covariates[arm == first]
            pooled = np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
            difference = (a.mean() - b.mean()).abs()
            ratio = np.where(pooled > 0, difference / pooled.where(pooled > 0, 1.0),
                             np.where(difference > 0, np.inf, 0.0))
            values.append(float(np.nanmax(ratio)))
        else:
            data = covariates[rows]
            complete = data.notna().all(axis=1)
            outcome = (arm[rows][complete] == other).to_numpy(dtype=float)
            base = np.ones((int(complete.sum()), 1))
            if strata is not None:
                dummies = pd.get_dummies(strata[rows][complete], drop_first=True, dtype=float)
                base = np.column_stack([base, dummies.to_numpy()])
            full = np.column_stack([base, data[complete].to_numpy()])
            residual_restricted = _rss(base, outcome)
            residual_full = _rss(full, outcome)
            rank_full = np.linalg.matrix_rank(full)
            extra = rank_full - np.linalg.matrix_rank(base)
            freedom = len(outcome) - rank_full
            if extra <= 0 or freedom <= 0 or residual_full <= 0:
                values.append(float("nan"))
                continue
            statistic = ((residual_restricted - residual_full) / extra) / (residual_full / freedom)
            values.append(float(stats.f.sf(statistic, extra, freedom)))
    if criterion == "max_abs_std_diff":
        return max(values)
    return min(values)


def _rss(design: np.ndarray, outcome: np.ndarray) -> float:
    coefficients, *_ = np.linalg.lstsq(design, outcome, rcond=None)
    return float(((outcome - design @ coefficients) ** 2).sum())


def _accepts(statistic: float, criterion: str, threshold: float) -> bool:
    if np.isnan(statistic):
        return False
    return statistic <= threshold if criterion == "max_abs_std_diff" else statistic >= threshold


def _validated_shares(arms: Sequence[str], shares: Sequence[float] | None) -> np.ndarray:
    if len(arms) < 2 or len(set(arms)) != len(arms):
        raise ConfigError(f"assignment, key 'arms': expected two or more distinct names, "
                          f"found {list(arms)}")
    values = np.full(len(arms), 1 / len(arms)) if shares is None else np.asarray(shares, float)
    if values.shape != (len(arms),) or np.any(values <= 0) or abs(values.sum() - 1) > 1e-9:
        raise ConfigError(f"assignment, key 'shares': expected {len(arms)} positive shares "
                          f"summing to 1, found {None if shares is None else list(shares)}")
    return values


def _run(frame: pd.DataFrame, procedure: AssignmentProcedure, draws: Sequence[int]
         ) -> tuple[pd.DataFrame, int, float | None, str, int]:
    units, randomised = _randomisation_units(frame, procedure.unit, procedure.strata,
                                             procedure.cluster)
    shares = _validated_shares(procedure.arms, procedure.shares)
    level = procedure.cluster or procedure.unit
    covariates = strata = None
    if procedure.balance is not None:
        covariates = _covariate_means(frame, level, procedure.covariates).loc[
            randomised["_id"]].set_axis(randomised.index)
        strata = randomised["_stratum"] if procedure.strata else None
    statistic = None
    for draw in draws:
        labels = _draw(randomised, procedure.arms, shares, procedure.seed, draw)
        if procedure.balance is None:
            break
        statistic = balance_statistic(covariates, labels, procedure.arms, procedure.balance,
                                      strata)
        if _accepts(statistic, procedure.balance, procedure.threshold):
            break
    else:
        raise ConfigError(
            f"assignment, key 'max_draws': expected a draw meeting {procedure.balance} "
            f"{'<=' if procedure.balance == 'max_abs_std_diff' else '>='} "
            f"{procedure.threshold} within {procedure.max_draws} draws, found none (last "
            f"statistic {statistic:.4g}); raise max_draws or relax the threshold")
    arm_of = dict(zip(randomised["_id"], labels, strict=True))
    table = units.assign(arm=units[level].astype(str).map(arm_of)).reset_index(drop=True)
    return table, draw, statistic, _checksum(randomised), len(randomised)


def assign_treatment(frame: pd.DataFrame, *, unit: str, seed: int, strata: str | None = None,
                     cluster: str | None = None,
                     arms: Sequence[str] = ("control", "treatment"),
                     shares: Sequence[float] | None = None,
                     balance: Literal["max_abs_std_diff", "joint_f_p_value"] | None = None,
                     threshold: float | None = None, covariates: Sequence[str] = (),
                     max_draws: int = 1000) -> Assignment:
    """Stratified (and clustered) random assignment, with optional re-randomisation.

    Parameters
    ----------
    frame
        One row per unit (or unit-round; cluster and stratum must be constant per unit); not
        changed.
    unit, strata, cluster
        Columns of the unit id, stratum and cluster (the unit of randomisation when given).
    arms, shares
        Arm names (the first is the comparison arm) and their shares (default equal).
    seed
        Seed of the assignment; recorded.
    balance, threshold, covariates, max_draws
        Re-randomisation criterion, its threshold, the covariates it is computed on and the
        largest number of draws (see the module notes).

    Returns
    -------
    Assignment
        ``table`` (one row per unit with ``arm``) and ``procedure`` (the record).

    Examples
    --------
    >>> frame = pd.DataFrame({"id": range(8), "county": ["A"] * 4 + ["B"] * 4})
    >>> result = assign_treatment(frame, unit="id", strata="county", seed=7)
    >>> result.table.groupby(["county", "arm"]).size().tolist()
    [2, 2, 2, 2]
    """
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
        raise ConfigError(f"assignment, key 'seed': expected a whole number, found {seed!r}")
    shares_values = _validated_shares(tuple(arms), shares)
    if balance is not None:
        if balance not in CRITERIA:
            raise ConfigError(f"assignment, key 'balance': expected one of {list(CRITERIA)}, "
                              f"found {balance!r}")
        if threshold is None or not covariates:
            raise ConfigError("assignment, keys 'threshold' and 'covariates': expected a "
                              f"threshold and covariates for balance={balance!r}, found "
                              f"threshold={threshold!r}, covariates={list(covariates)}")
        if not isinstance(max_draws, int) or max_draws < 1:
            raise ConfigError(f"assignment, key 'max_draws': expected a whole number >= 1, "
                              f"found {max_draws!r}")
    draws_allowed = max_draws if balance is not None else 1
    provisional = AssignmentProcedure(
        unit=unit, strata=strata, cluster=cluster, arms=tuple(arms),
        shares=tuple(float(value) for value in shares_values), seed=int(seed), balance=balance,
        threshold=None if threshold is None else float(threshold),
        covariates=tuple(covariates) if balance is not None else (),
        max_draws=draws_allowed, draw=0, balance_statistic=None, n_randomised=0,
        units_checksum="")
    table, draw, statistic, checksum, count = _run(frame, provisional,
                                                   range(1, draws_allowed + 1))
    procedure = AssignmentProcedure(**{
        **asdict(provisional), "arms": provisional.arms, "shares": provisional.shares,
        "covariates": provisional.covariates, "draw": draw, "balance_statistic": statistic,
        "n_randomised": count, "units_checksum": checksum})
    return Assignment(table=table, procedure=procedure)


def reassign(procedure: AssignmentProcedure | Mapping | str | os.PathLike,
             frame: pd.DataFrame) -> Assignment:
    """Re-run a recorded assignment on the same units: the same arms, draw for draw.

    ``procedure`` is the record, its dict, or the path of the JSON sidecar.

    Raises
    ------
    DataError
        If the frame's randomisation units or strata differ from those recorded.

    Examples
    --------
    >>> frame = pd.DataFrame({"id": range(6)})
    >>> first = assign_treatment(frame, unit="id", seed=11)
    >>> reassign(first.procedure, frame).table.equals(first.table)
    True
    """
    if isinstance(procedure, str | os.PathLike):
        procedure = read_procedure(procedure)
    elif isinstance(procedure, Mapping):
        procedure = AssignmentProcedure.from_dict(procedure)
    table, _, _, checksum, _ = _run(frame, procedure, [procedure.draw])
    if checksum != procedure.units_checksum:
        raise DataError("assignment: the frame's randomisation units or strata differ from "
                        f"those recorded (checksum {checksum[:12]} found, "
                        f"{procedure.units_checksum[:12]} expected)")
    return Assignment(table=table, procedure=procedure)


def _atomic_write(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_assignment(assignment: Assignment, path: str | os.PathLike) -> tuple[Path, Path]:
    """Write the assignment table as CSV and its procedure as a JSON sidecar (``.json``).

    The sidecar also holds the CSV's sha256. Both files are written atomically.

    Examples
    --------
    >>> folder = Path(tempfile.mkdtemp())
    >>> result = assign_treatment(pd.DataFrame({"id": range(4)}), unit="id", seed=2)
    >>> [p.name for p in write_assignment(result, folder / "assignment.csv")]
    ['assignment.csv', 'assignment.json']
    """
    target = Path(path)
    sidecar = target.with_suffix(".json")
    text = assignment.table.to_csv(index=False)
    record = assignment.procedure.to_dict() | {
        "assignment_file": target.name,
        "assignment_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
    _atomic_write(target, text)
    _atomic_write(sidecar, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return target, sidecar


def read_procedure(path: str | os.PathLike) -> AssignmentProcedure:
    """The procedure record from a JSON sidecar written by :func:`write_assignment`."""
    values = json.loads(Path(path).read_text(encoding="utf-8"))
    values.pop("assignment_file", None)
    values.pop("assignment_sha256", None)
    return AssignmentProcedure.from_dict(values)
