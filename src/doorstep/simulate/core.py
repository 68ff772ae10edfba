"""The ``simulate`` entry point: true frames -> planted problems -> raw exports and truth.

This module owns the orchestration of a simulated programme: which round goes to which export,
the fabricating enumerator, the ``truth.json`` and ``problems.csv`` files and the
:class:`SimulationResult`. The data itself comes from the programme modules, the damage from
:mod:`doorstep.simulate.problems`, the layouts from :mod:`doorstep.simulate.exports`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from doorstep.errors import ConfigError
from doorstep.simulate import caring_mothers, skills_workshops
from doorstep.simulate.common import stream
from doorstep.simulate.exports import cell_text, render_round, write_round
from doorstep.simulate.files import write_bytes_atomic, write_csv_atomic
from doorstep.simulate.instruments import PROGRAMMES, question_table
from doorstep.simulate.problems import RoundSpec, plant
from doorstep.simulate.rates import resolve_rates

ROUND_FILES = {
    "caring_mothers": {
        1: ("round1", "raw/round1_kobo.csv", "kobo"),
        2: ("round2", "raw/round2_wjx.xlsx", "wjx"),
        3: ("round3", "raw/round3_gbk.csv", "gbk"),
        4: ("round4", "raw/round4_kobo.csv", "kobo"),
    },
    "skills_workshops": {
        1: ("round1", "raw/round1_wjx.xlsx", "wjx"),
        2: ("round2", "raw/round2_kobo.csv", "kobo"),
    },
}
FILE_FORMATS = {
    "kobo": {"format": "kobo_csv", "encoding": "utf-8", "delimiter": ";"},
    "wjx": {"format": "wenjuanxing_xlsx", "encoding": None, "sheet": "Sheet1"},
    "gbk": {"format": "legacy_csv", "delimiter": ","},
}
PROBLEM_COLUMNS = ("problem", "file", "row", "record_id", "unit_id", "variable", "column",
                   "true_value", "raw_value")
PROBLEM_NAMES = ("duplicate_exact", "resubmission", "fabricator", "missing_codes", "na_code",
                 "amount_text", "amount_wan", "monthly_annual", "fullwidth_digits",
                 "id_scientific", "leading_zeros", "date_formats", "skip_logic", "id_typo")


@dataclass(frozen=True)
class SimulationResult:
    """What :func:`simulate` wrote.

    Attributes
    ----------
    programme : str
    out_dir : pathlib.Path
    files : dict
        Logical name (``round1`` ... , ``rollout``, ``truth``, ``problems`` ...) -> path.
    truth : dict
        The content of ``truth.json``.

    Examples
    --------
    >>> SimulationResult("caring_mothers", Path("."), {}, {}).programme
    'caring_mothers'
    """

    programme: str
    out_dir: Path
    files: dict
    truth: dict


def _check(programme, seed, scale):
    if programme not in PROGRAMMES:
        raise ConfigError(
            f"unknown programme {programme!r}; expected one of: {', '.join(PROGRAMMES)}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed: expected a non-negative integer, found {seed!r}")
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 < scale <= 10:
        raise ConfigError(f"scale: expected a number in (0, 10], found {scale!r}")


def simulate_frames(programme: str, seed: int = 20240301, scale: float = 1.0, **rates) -> dict:
    """Return the true frames of a programme before any field problem is planted.

    For ``caring_mothers``: ``villages``, ``children``, ``panel`` (child x round with
    ``<outcome>_y0``, ``_y1`` and ``_effect`` for the scored outcomes, ``treated``, ``exposure``,
    ``observed``, ``complete``), ``visit_log``, ``rollout``, ``rounds``. For
    ``skills_workshops``: ``villages``, ``women``, ``units``, ``applicants``, ``attendance``,
    ``rounds``. Rates only matter through attrition.

    Examples
    --------
    >>> frames = simulate_frames("skills_workshops", seed=3, scale=0.2)
    >>> {"units", "rounds"} <= set(frames)
    True
    """
    _check(programme, seed, scale)
    resolved = resolve_rates(programme, rates)
    module = caring_mothers if programme == "caring_mothers" else skills_workshops
    return module.generate(int(seed), float(scale), resolved)


def _round_spec(programme: str) -> RoundSpec:
    table = question_table(programme)
    integers = tuple(table.loc[table["base_type"] == "integer", "name"])
    items = tuple(table.loc[table["list_name"].isin(["sdq", "ucla", "who5"]), "name"])
    incomes = ("inc_wages", "inc_business", "inc_farming", "inc_transfers")
    who5 = (tuple(f"who5_{i}" for i in range(1, 6)), (0, 1, 2, 3, 4, 5))
    income_ranges = (("inc_wages", 1000, 6000, 1000), ("inc_business", 0, 3000, 1000),
                     ("inc_farming", 0, 2000, 500), ("inc_transfers", 100, 1000, 100))
    if programme == "caring_mothers":
        return RoundSpec(
            unit_column="child_id",
            integer_columns=integers,
            item_columns=items,
            income_columns=incomes,
            straight_line_groups=(
                (tuple(f"sdq_{i:02d}" for i in range(1, 26)), (0, 1, 2)),
                (tuple(f"ucla_{i}" for i in range(1, 4)), (1, 2, 3)),
                who5,
            ),
            skip_rules=(("school_enrolled", "school_days_missed"),),
            fabricated_ranges=(*income_ranges, ("school_days_missed", 0, 3, 1)),
        )
    return RoundSpec(
        unit_column="woman_id",
        integer_columns=integers,
        item_columns=items,
        income_columns=incomes,
        straight_line_groups=(who5,),
        skip_rules=(("employed", "earnings_month"),),
        fabricated_ranges=(*income_ranges, ("earnings_month", 1000, 4000, 500),
                           ("hours_paid", 20, 60, 10), ("hours_unpaid", 10, 40, 5),
                           ("life_satisfaction", 5, 10, 1)),
    )


def simulate(programme: str, out_dir, *, seed: int = 20240301, scale: float = 1.0,
             **rates) -> SimulationResult:
    """Simulate a programme and write its raw exports, ``truth.json`` and ``problems.csv``.

    Parameters
    ----------
    programme : {"caring_mothers", "skills_workshops"}
    out_dir : str or pathlib.Path
        Folder to write into (``raw/`` is created inside it).
    seed : int, default 20240301
        Seed of every random stream; the same seed gives byte-identical files.
    scale : float, default 1.0
        Multiplies the number of villages (at least one per township).
    **rates
        Overrides of :func:`default_rates` (problem rates, attrition, legacy encoding).

    Returns
    -------
    SimulationResult

    Raises
    ------
    ConfigError
        For an unknown programme or rate name, or a value out of range.

    Examples
    --------
    >>> import tempfile
    >>> result = simulate("skills_workshops", tempfile.mkdtemp(), scale=0.2)
    >>> sorted(result.files)[:2]
    ['applicants', 'attendance']
    """
    _check(programme, seed, scale)
    resolved = resolve_rates(programme, rates)
    seed = int(seed)
    module = caring_mothers if programme == "caring_mothers" else skills_workshops
    frames = module.generate(seed, float(scale), resolved)
    out_dir = Path(out_dir)
    (out_dir / "raw").mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    design_files: dict[str, dict] = {}

    def write_table(name, relative, table, encoding="utf-8"):
        rows = [[cell_text(v) if not isinstance(v, float) or not np.isnan(v) else "" for v in row]
                for row in table.itertuples(index=False)]
        files[name] = write_csv_atomic(out_dir / relative, list(table.columns), rows,
                                       encoding=encoding)
        design_files[name] = {"path": relative, "format": "csv", "encoding": encoding,
                              "delimiter": ","}

    unit_column = "child_id" if programme == "caring_mothers" else "woman_id"
    if programme == "caring_mothers":
        write_table("rollout", "raw/rollout.csv", frames["rollout"])
        write_table("visit_log", "raw/visit_log.csv", frames["visit_log"])
        all_ids = set(frames["children"]["child_id"])
    else:
        write_table("villages", "raw/villages.csv", frames["villages"][
            ["village_code", "township", "design"]])
        write_table("applicants", "raw/applicants.csv", frames["applicants"],
                    encoding=str(resolved["legacy_encoding"]))
        write_table("attendance", "raw/attendance.csv", frames["attendance"])
        all_ids = set(frames["women"]["woman_id"])

    enumerators = sorted(frames["villages"]["enumerator"].unique())
    fabricator = enumerators[int(stream(seed, "fabricator").integers(0, len(enumerators)))]
    spec = _round_spec(programme)
    problem_rows: list[dict] = []
    eligible: dict[str, int] = {}
    instances: dict[str, set] = {}
    for round_number, (name, relative, kind) in ROUND_FILES[programme].items():
        rng = stream(seed, f"problems.{programme}.{round_number}")
        planted_frame, planted = plant(
            frames["rounds"][round_number], spec=spec, kind=kind, rates=resolved, rng=rng,
            follow_up=round_number > 1, fabricator=fabricator, all_unit_ids=all_ids)
        header, rows, record_ids, columns = render_round(planted_frame, programme, kind)
        files[name] = write_round(out_dir / relative, header, rows, kind,
                                  legacy_encoding=str(resolved["legacy_encoding"]))
        design_files[name] = {"path": relative, "round": round_number, **FILE_FORMATS[kind]}
        if kind == "gbk":
            design_files[name]["encoding"] = str(resolved["legacy_encoding"])
        position_of = {int(key): index for index, key in enumerate(planted_frame["_key"])}
        for problem, count in planted.eligible.items():
            eligible[problem] = eligible.get(problem, 0) + count
        for record in planted.records:
            index = position_of[record["key"]]
            column = columns.get(record["variable"], "") if record["variable"] else ""
            raw = cell_text(rows[index][header.index(column)]) if column else ""
            instance = (relative, record["key"])
            if record["problem"] != "resubmission":
                instance += (record["variable"],)
            instances.setdefault(record["problem"], set()).add(instance)
            problem_rows.append({
                "problem": record["problem"], "file": relative, "row": index + 1,
                "record_id": record_ids[index], "unit_id": record["unit_id"],
                "variable": record["variable"], "column": column,
                "true_value": record["true_value"], "raw_value": raw,
            })
    attrition = _attrition_rows(programme, frames, unit_column)
    problem_rows += attrition
    problem_rows.sort(key=lambda r: (r["file"] == "", r["file"], r["row"] or 0, r["problem"],
                                     r["variable"]))

    problems = {
        name: {"rate": resolved[name], "count": len(instances.get(name, ())),
               "cells": sum(1 for r in problem_rows if r["problem"] == name),
               "eligible": eligible.get(name, 0)}
        for name in PROBLEM_NAMES
    }
    problems["fabricator"]["enumerator"] = fabricator
    problems["attrition"] = {"rate": resolved["attrition"],
                             "migrant_ratio": resolved["attrition_migrant_ratio"],
                             "count": len(attrition),
                             "eligible": len(all_ids)}
    effects = (caring_mothers.true_effects(frames["panel"]) if programme == "caring_mothers"
               else skills_workshops.true_effects(frames["units"]))
    truth = {
        "programme": programme,
        "seed": seed,
        "scale": float(scale),
        "rates": resolved,
        "design": _design(programme, frames, design_files),
        "effects": effects,
        "problems": problems,
    }
    files["truth"] = write_bytes_atomic(
        out_dir / "truth.json",
        (json.dumps(truth, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
    files["problems"] = write_csv_atomic(
        out_dir / "problems.csv", list(PROBLEM_COLUMNS),
        [[cell_text(row[c]) for c in PROBLEM_COLUMNS] for row in problem_rows])
    return SimulationResult(programme=programme, out_dir=out_dir, files=files, truth=truth)


def _attrition_rows(programme, frames, unit_column):
    if programme == "caring_mothers":
        child = frames["children"]
        left = child[child["attrited_from_round"] > 0]
        pairs = zip(left["child_id"], left["attrited_from_round"], strict=True)
    else:
        units = frames["units"]
        pairs = ((woman, 2) for woman in units.loc[~units["observed_endline"], "woman_id"])
    return [{"problem": "attrition", "file": "", "row": None, "record_id": "",
             "unit_id": unit, "variable": "", "column": "", "true_value": "",
             "raw_value": f"absent from round {int(first)}"} for unit, first in pairs]


def _design(programme, frames, design_files):
    villages = frames["villages"]
    design = {
        "n_townships": int(villages["township"].nunique()),
        "n_villages": len(villages),
        "files": design_files,
    }
    if programme == "caring_mothers":
        child = frames["children"]
        design.update({
            "n_children": len(child),
            "rounds": {str(r): d.isoformat() for r, d in caring_mothers.ROUND_WINDOWS.items()},
            "villages_by_cohort": {str(k): int(v) for k, v in
                                   villages["cohort"].value_counts().sort_index().items()},
            "children_by_cohort": {str(k): int(v) for k, v in
                                   child["cohort"].value_counts().sort_index().items()},
            "cohort_meaning": "first round treated; 0 = never treated in the window",
            "n_left_behind": int(child["left_behind"].sum()),
            "n_complete": int((child["attrited_from_round"] == 0).sum()),
            "interviews_by_round": {str(r): len(f) for r, f in frames["rounds"].items()},
            "n_visits": len(frames["visit_log"]),
            "n_volunteers": int(frames["visit_log"]["volunteer_id"].nunique()),
        })
    else:
        units = frames["units"]
        lottery = units["design"] == "lottery"
        design.update({
            "n_women": len(units),
            "rounds": {str(r): d.isoformat() for r, d in skills_workshops.ROUND_WINDOWS.items()},
            "villages_by_design": {k: int(v) for k, v in
                                   villages["design"].value_counts().sort_index().items()},
            "n_applicants": int(units.loc[lottery, "applied"].sum()),
            "n_winners": int(units.loc[lottery, "won_lottery"].sum()),
            "n_participants_lottery": int(units.loc[lottery, "participated"].sum()),
            "n_participants_open": int(units.loc[~lottery, "participated"].sum()),
            "n_observed_endline": int(units["observed_endline"].sum()),
            "interviews_by_round": {str(r): len(f) for r, f in frames["rounds"].items()},
        })
    return design


