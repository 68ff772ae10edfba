"""Benchmark of the cleaning engine: quality against planted problems, and speed at scale.

Quality: every programme's simulated rounds are read with :func:`doorstep.io.read_export` and
cleaned with :func:`doorstep.clean.run`, as ``doorstep.run.stages`` does; each log entry, flag
and dropped row is matched to ``data/<programme>/problems.csv`` by source file, row and (for
cell problems) variable, and recall and precision are printed per problem type.

Speed: one simulated round is tiled into a 1,000,000-row file with fresh unit and record ids
(its planted problems tiled with it); the time and peak memory of reading and cleaning it are
printed beside a bare ``pandas.read_csv`` of the same file, each in its own process.

Usage::

    .venv/bin/python benchmarks/cleaning.py            # quality + 1,000,000 rows
    .venv/bin/python benchmarks/cleaning.py --quick    # quality + 100,000 rows
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
PROGRAMMES = ("caring_mothers", "skills_workshops")

# Which entries of a cleaning run detect which planted problem: (table, rules).
DETECTORS = {
    "duplicate_exact": ("dropped", {"duplicate"}),
    "resubmission": ("dropped", {"resubmission"}),
    "fabricator": ("dropped", {"short_interview"}),
    "missing_codes": ("log", {"missing_code"}),
    "na_code": ("log", {"missing_code"}),
    "amount_text": ("log", {"money_parse"}),
    "amount_wan": ("log", {"money_parse"}),
    "monthly_annual": ("log", {"money_annual", "money_annual_panel"}),
    "fullwidth_digits": ("log", {"text_normalisation"}),
    "id_scientific": ("log", {"id_card_invalid"}),
    "leading_zeros": ("log", {"leading_zeros"}),
    "date_formats": ("log", {"type_date"}),
    "skip_logic": ("log", {"skip_logic"}),
    "id_typo": ("flags", {"panel_unmatched"}),
}
ROW_PROBLEMS = {"duplicate_exact", "resubmission", "fabricator"}


def _load_config(programme: str) -> dict:
    path = ROOT / "surveys" / programme / "evaluation.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def clean_programme(programme: str):
    """Read every round of a programme as the pipeline does and clean the stacked rounds."""
    from doorstep.clean import run
    from doorstep.instrument import read_instrument
    from doorstep.io import read_export

    folder = ROOT / "surveys" / programme
    config = _load_config(programme)
    instrument = read_instrument(folder / config["instrument"])
    frames = []
    for source in config["sources"]:
        frame = read_export(folder / source["path"], instrument)
        frames.append(frame.assign(round=source["round"]))
    raw = pd.concat(frames, ignore_index=True)
    raw.attrs = {}
    spec = yaml.safe_load((folder / config["cleaning"]).read_text(encoding="utf-8"))
    spec.pop("pii", None)  # the benchmark measures detection; no key is needed for it
    return run(raw, spec, instrument=instrument)


def _keys(table: pd.DataFrame, rules: set[str], column: str, by_cell: bool) -> set[tuple]:
    if table.empty:
        return set()
    chosen = table[table[column].isin(rules)]
    prefix = "_" if "_source_file" in chosen.columns else ""
    chosen = chosen.rename(columns={f"{prefix}source_file": "file", f"{prefix}source_row": "at"})
    files = chosen["file"].astype(str).map(lambda name: Path(name).name)
    rows = pd.to_numeric(chosen["at"], errors="coerce")
    if by_cell:
        return {(f, int(r), str(v)) for f, r, v in zip(files, rows, chosen["variable"],
                                                        strict=True) if pd.notna(r)}
    return {(f, int(r)) for f, r in zip(files, rows, strict=True) if pd.notna(r)}


def quality(programmes=PROGRAMMES) -> pd.DataFrame:
    """Recall and precision per problem type, pooled over the programmes."""
    counts: dict[str, dict[str, int]] = {
        problem: {"planted": 0, "found": 0, "detections": 0, "false": 0} for problem in DETECTORS
    }
    for programme in programmes:
        result = clean_programme(programme)
        problems = pd.read_csv(ROOT / "data" / programme / "problems.csv", dtype=str,
                               keep_default_na=False)
        problems = problems[problems["file"] != ""]
        problems = problems.assign(file=problems["file"].map(lambda name: Path(name).name),
                                   row=problems["row"].astype(float).astype(int))
        planted_by_type: dict[str, set[tuple]] = {}
        for problem in DETECTORS:
            subset = problems[problems["problem"] == problem]
            by_cell = problem not in ROW_PROBLEMS
            planted_by_type[problem] = (
                set(zip(subset["file"], subset["row"], subset["variable"], strict=True))
                if by_cell else set(zip(subset["file"], subset["row"], strict=True)))
        for problem, (table_name, rules) in DETECTORS.items():
            by_cell = problem not in ROW_PROBLEMS
            table = getattr(result, table_name)
            column = "drop_rule" if table_name == "dropped" else "rule"
            detected = _keys(table, rules, column, by_cell)
            planted = planted_by_type[problem]
            # a detection of another planted type sharing the rule is neither right nor wrong
            others = set().union(*(planted_by_type[other] for other, (t, r) in DETECTORS.items()
                                   if other != problem and t == table_name and r & rules))
            mine = detected - (others - planted)
            if by_cell and planted:
                # precision within the columns the simulator plants this problem into: a
                # Kobo start/end timestamp written 2025/3/3 13:50 in every row of a file is
                # converted and logged too, but it is the export's format, not a planted problem
                columns = {variable for _, _, variable in planted}
                mine = {key for key in mine if key[2] in columns}
            counts[problem]["planted"] += len(planted)
            counts[problem]["found"] += len(planted & detected)
            counts[problem]["detections"] += len(mine)
            counts[problem]["false"] += len(mine - planted)
    rows = []
    for problem, count in counts.items():
        recall = count["found"] / count["planted"] if count["planted"] else float("nan")
        true = count["detections"] - count["false"]
        precision = true / count["detections"] if count["detections"] else float("nan")
        rows.append({"problem": problem, "planted": count["planted"], "found": count["found"],
                     "recall": round(recall, 3), "detections": count["detections"],
                     "false_positives": count["false"], "precision": round(precision, 3)})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# Speed
# ----------------------------------------------------------------------------------------------

TILE_SOURCE = ("caring_mothers", "round1_kobo.csv")


def make_big_round(rows: int, path: Path) -> Path:
    """Tile a simulated Kobo round to ``rows`` rows with fresh unit and record ids."""
    programme, name = TILE_SOURCE
    source = ROOT / "data" / programme / "raw" / name
    base = pd.read_csv(source, dtype=str, keep_default_na=False, sep=";")
    copies = -(-rows // len(base))
    big = pd.concat([base] * copies, ignore_index=True).iloc[:rows]
    tile = (pd.RangeIndex(len(big)) // len(base)).astype(str)
    big["child_id"] = "C" + tile.str.zfill(3) + big["child_id"].str[1:]
    big["_uuid"] = big["_uuid"].str[:-6] + tile.str.zfill(6)
    big["_id"] = (pd.RangeIndex(len(big)) + 1).astype(str)
    big.to_csv(path, sep=";", index=False)
    return path


def _wide_ids(instrument):
    """The instrument with room for the tiled round's 8-digit child ids (C + tile + id).

    The demo form allows ``C`` and 5 digits, too few for a million children; without this every
    row of the big round would be flagged for its id, which measures a round nobody collects.
    """
    from dataclasses import replace

    questions = tuple(
        replace(question, constraint="regex(., '^C[0-9]{8}$')")
        if question.name == "child_id" else question for question in instrument.questions)
    return replace(instrument, questions=questions)


def _measure(mode: str, path: str) -> dict:
    start = time.perf_counter()
    if mode == "read_csv":
        frame = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False)
        rows = len(frame)
        extra = {}
    else:
        from doorstep.clean import run
        from doorstep.instrument import read_instrument
        from doorstep.io import read_export

        folder = ROOT / "surveys" / TILE_SOURCE[0]
        instrument = _wide_ids(read_instrument(folder / "instrument.xlsx"))
        frame = read_export(path, instrument)
        read_seconds = time.perf_counter() - start
        spec = yaml.safe_load((folder / "cleaning.yaml").read_text(encoding="utf-8"))
        spec.pop("pii", None)
        result = run(frame.assign(round=1), spec, instrument=instrument)
        rows = len(frame)
        extra = {"read_seconds": round(read_seconds, 1),
                 "clean_seconds": round(time.perf_counter() - start - read_seconds, 1),
                 "log_entries": len(result.log), "flags": len(result.flags),
                 "dropped": len(result.dropped)}
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024  # KiB -> GiB
    return {"task": mode, "rows": rows, "seconds": round(seconds, 1),
            "peak_memory_gb": round(peak, 2), **extra}


def speed(rows: int) -> pd.DataFrame:
    """Time and peak memory of a bare read_csv and of read_export + clean.run, one process each."""
    with tempfile.TemporaryDirectory() as folder:
        path = make_big_round(rows, Path(folder) / "big_round_kobo.csv")
        results = []
        for mode in ("read_csv", "read_export+clean"):
            output = subprocess.run(
                [sys.executable, __file__, "--measure", mode, str(path)],
                check=True, capture_output=True, text=True)
            results.append(json.loads(output.stdout.strip().splitlines()[-1]))
    return pd.DataFrame(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows instead of 1,000,000")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--measure", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--skip-speed", action="store_true")
    arguments = parser.parse_args()
    if arguments.measure:
        print(json.dumps(_measure(*arguments.measure)))
        return
    pd.set_option("display.width", 160)
    print("Quality: planted problems found by the cleaner (both programmes pooled)")
    print(quality().to_string(index=False))
    if arguments.skip_speed:
        return
    rows = arguments.rows or (100_000 if arguments.quick else 1_000_000)
    print(f"\nSpeed: one round of {rows:,} rows (tiled simulated round, 67 columns)")
    print(speed(rows).to_string(index=False))


if __name__ == "__main__":
    main()
