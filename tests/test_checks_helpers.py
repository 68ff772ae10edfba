"""Helpers shared by the checks tests and ``benchmarks/checks.py`` (no tests here).

``detection`` simulates one ``caring_mothers`` survey at the simulator's default rates, reads its
four rounds with ``read_export``, runs the checks and compares them with ``truth.json`` and
``problems.csv``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from doorstep.checks import run_checks
from doorstep.instrument import read_instrument
from doorstep.io import read_export
from doorstep.simulate import simulate, write_instrument

ROUNDS = ("round1", "round2", "round3", "round4")
DUPLICATE_CHECKS = ("duplicate_id", "duplicate_exact")
SHORT_CHECKS = ("duration_short", "duration_per_question")


def simulated_exports(folder: Path, *, seed: int, scale: float = 0.1, **rates):
    """Simulate and read every round: (frames by round, instrument, simulation result)."""
    result = simulate("caring_mothers", folder, seed=seed, scale=scale, **rates)
    form = read_instrument(write_instrument("caring_mothers", Path(folder) / "instrument.xlsx"))
    frames = {name: read_export(result.files[name], form) for name in ROUNDS}
    return frames, form, result


def simulated_round(folder: Path, *, seed: int, scale: float = 0.1):
    """One simulated Kobo round and the instrument (for tiling in the benchmark)."""
    result = simulate("caring_mothers", folder, seed=seed, scale=scale)
    form = read_instrument(write_instrument("caring_mothers", Path(folder) / "instrument.xlsx"))
    return read_export(result.files["round1"], form), form


def base_config(frames: dict, **extra) -> dict:
    """The config the tests use: the round-1 ids as the sample, a hash key."""
    sample = pd.DataFrame({"child_id": frames["round1"]["child_id"].dropna().unique()})
    return {"id_column": "child_id", "hash_key": "test-key", "sample": sample, **extra}


def planted_rows(result, problems: tuple[str, ...]) -> set[tuple[str, int]]:
    """(file name, data row) of every planted instance of the given problems."""
    table = pd.read_csv(result.files["problems"], dtype=str, keep_default_na=False)
    table = table[table["problem"].isin(problems)]
    return {(Path(file).name, int(row)) for file, row in zip(table["file"], table["row"],
                                                             strict=True)}


def flagged_rows(flags: pd.DataFrame, checks: tuple[str, ...]) -> set[tuple[str, int]]:
    """(file name, data row) of every flag of the given checks."""
    part = flags[flags["check"].isin(checks)]
    return {(file, int(row)) for file, row in zip(part["source_file"], part["source_row"],
                                                  strict=True)}


def detection(folder: Path, *, seed: int, scale: float = 0.1) -> dict:
    """Simulate one survey, run the checks and measure what was caught."""
    frames, form, result = simulated_exports(folder, seed=seed, scale=scale)
    results = run_checks(frames, form, base_config(frames))
    fabricator = result.truth["problems"]["fabricator"]["enumerator"]
    ranking = results.ranking.set_index("enumerator")
    duplicates = planted_rows(result, ("duplicate_exact", "resubmission"))
    short = planted_rows(result, ("fabricator",))
    return {
        "seed": seed,
        "fabricator": fabricator,
        "fabricator_rank": int(ranking.loc[fabricator, "rank"]),
        "duplicates_planted": len(duplicates),
        "duplicates_flagged": len(duplicates & flagged_rows(results.flags, DUPLICATE_CHECKS)),
        "short_planted": len(short),
        "short_flagged": len(short & flagged_rows(results.flags, SHORT_CHECKS)),
        "results": results,
    }
