"""Scale benchmark: read -> clean -> measures -> estimate -> report on 100,000 households.

The caring-mothers programme is simulated once at the demo size; three of its CSV rounds
(Kobo UTF-8, GBK, Kobo) are tiled to ``N`` rows each with fresh unit and record ids (villages,
and so clusters and the roll-out, are kept; the copied form's child id constraint allows the
tiled ids), and the chain of ``doorstep.run.stages`` runs on
them: ``read_sources``, ``clean_sources``, ``build_analysis_data``, ``estimate_effects`` (with
its 9,999-draw village multiplier bootstrap, Romano-Wolf and family indices), then ``report``:
subgroup effects, the standardised effects, the effect table, etable in four formats, the
coefficient, event-study and forest figures and the Word document, as ``04_report`` draws them
(the dose-response section is left out: the tiled rounds have no matching visit log). Each
stage runs in its own process (its input loaded from a pickle written by the stage before), so
the peak memory printed is that stage's own; time excludes loading the input.

Three sizes are run (default 10,000, 30,000 and 100,000 rows per round); a stage whose time
grows faster than linearly (exponent of time on size above 1.2 between the smallest and largest
size) is marked ``SUPERLINEAR``. The goal is under 5 minutes and 8 GB at 100,000 on 2 cores.

Usage::

    .venv/bin/python benchmarks/scale.py                   # 10k, 30k, 100k rows per round
    .venv/bin/python benchmarks/scale.py --sizes 2000 6000 20000   # quicker
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
PROGRAMME = "caring_mothers"
ROUNDS = (("round1_kobo.csv", 1), ("round3_gbk.csv", 2), ("round4_kobo.csv", 3))  # cohorts 2, 3
ID_COLUMNS = ("child_id", "_uuid", "_id", "_index", "meta/instanceID", "KEY", "instanceID")
STAGES = ("read", "clean", "measures", "estimate", "report")


def _read_round(path: Path) -> tuple[pd.DataFrame, str, str]:
    raw = path.read_bytes()
    encoding = "utf-8-sig"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        encoding = "gb18030"
        text = raw.decode(encoding)
    separator = ";" if text.split("\n", 1)[0].count(";") > text.split("\n", 1)[0].count(
        ",") else ","
    frame = pd.read_csv(path, sep=separator, dtype=str, keep_default_na=False,
                        encoding=encoding)
    return frame, separator, encoding


def tile_round(source: Path, target: Path, rows: int) -> None:
    """Write ``rows`` rows tiled from ``source`` with fresh unit and record ids."""
    frame, separator, encoding = _read_round(source)
    copies = math.ceil(rows / len(frame))
    pieces = []
    for copy in range(copies):
        piece = frame.copy()
        for column in ID_COLUMNS:
            if column in piece.columns:
                piece[column] = piece[column].where(piece[column] == "", piece[column]
                                                    + f"x{copy}")
        pieces.append(piece)
    tiled = pd.concat(pieces, ignore_index=True).iloc[:rows]
    tiled.to_csv(target, sep=separator, index=False, encoding=encoding.replace("-sig", ""))


def _allow_tiled_ids(form: Path) -> None:
    """Let the copied form's child id constraint accept the tiled ids (``C00045x3``).

    The demo form allows ``C`` and 5 digits, too few for 100,000 children a round; without
    this every tiled row would be flagged for its id, a round nobody collects.
    """
    import openpyxl

    book = openpyxl.load_workbook(form)
    sheet = book["survey"]
    header = [cell.value for cell in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        if row[header.index("name")].value == "child_id":
            row[header.index("constraint")].value = "regex(., '^C[0-9]{5}(x[0-9]+)?$')"
    book.save(form)


def make_project(folder: Path, base_raw: Path, rows: int) -> Path:
    """A project with three tiled rounds; returns its evaluation.yaml."""
    survey = folder / "surveys" / PROGRAMME
    shutil.copytree(ROOT / "surveys" / PROGRAMME, survey)
    _allow_tiled_ids(survey / "instrument.xlsx")
    raw = folder / "data" / PROGRAMME / "raw"
    raw.mkdir(parents=True)
    for name, _ in ROUNDS:
        tile_round(base_raw / name, raw / name, rows)
    shutil.copy(base_raw / "rollout.csv", raw / "rollout.csv")
    config = yaml.safe_load((survey / "evaluation.yaml").read_text(encoding="utf-8"))
    config["sources"] = [{"path": f"../../data/{PROGRAMME}/raw/{name}", "round": number}
                         for name, number in ROUNDS]
    config["round_labels"] = {number: f"round {number}" for _, number in ROUNDS}
    config.pop("truth", None)
    config.pop("dose", None)
    config["fieldwork"] = {k: v for k, v in (config.get("fieldwork") or {}).items()
                           if k != "key_file"}
    (survey / "evaluation.yaml").write_text(yaml.safe_dump(config, allow_unicode=True),
                                            encoding="utf-8")
    return survey / "evaluation.yaml"


def draw_report(config, analysis: pd.DataFrame, impact, folder: Path) -> None:
    """What ``04_report`` computes and draws from a run's estimates, written to ``folder``."""
    from doorstep import report
    from doorstep.run import stages

    folder.mkdir(exist_ok=True)
    language, labels = config.language, config.labels
    report.use_language_fonts(language)
    headline = impact.headline
    subgroups = stages.subgroup_effects(config, analysis)
    control_sd = stages.control_standard_deviation(
        config, stages.add_family_indices(config, analysis))
    effects_table = report.format_effect_table(headline, labels, language=language)
    effects_etable = report.etable(headline, labels, language)
    report.write_etable(effects_etable, folder / "effects")
    figures = {
        "effects": report.effect_figure(headline, labels, language=language),
        "coefficients": report.coefficient_figure(
            report.standardise_effects(headline, control_sd), None, labels, language),
        "event_study": report.event_study_figure(impact.event_study, labels, language),
        "subgroups": report.forest_figure(subgroups, labels, language),
    }
    report.write_docx(folder / "report.docx", config.title_text, [
        report.Section(name, table=effects_table if name == "effects" else None, figure=figure)
        for name, figure in figures.items()])


def run_stage(stage: str, config_path: str, work: str) -> dict:
    """Run one stage in this process; returns seconds and peak memory in MB."""
    from doorstep.config import load_config
    from doorstep.run import stages

    config = load_config(config_path)
    folder = Path(work)
    inputs = {"clean": "read.pkl", "measures": "clean.pkl", "estimate": "measures.pkl",
              "report": "estimate.pkl"}
    loaded = pickle.loads((folder / inputs[stage]).read_bytes()) if stage in inputs else None
    started = time.perf_counter()
    if stage == "read":
        instrument, raw, _ = stages.read_sources(config)
        output, rows = (instrument, raw), len(raw)
    elif stage == "clean":
        instrument, raw = loaded
        result = stages.clean_sources(config, raw, instrument)
        output, rows = result.data, len(result.data)
    elif stage == "measures":
        output = stages.build_analysis_data(config, loaded)
        rows = len(output)
    elif stage == "estimate":
        output = (loaded, stages.estimate_effects(config, loaded))
        rows = len(loaded)
    else:
        analysis, impact = loaded
        rows = len(analysis)
        draw_report(config, analysis, impact, folder / "report")
    seconds = time.perf_counter() - started
    if stage != "report":
        (folder / f"{stage}.pkl").write_bytes(pickle.dumps(output))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"stage": stage, "seconds": round(seconds, 2), "peak_mb": round(peak_mb), "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs=3, default=[10_000, 30_000, 100_000],
                        help="rows per round at the three sizes")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stage:  # a child process: one stage
        print(json.dumps(run_stage(args.stage, args.config, args.work)))
        return 0
    from doorstep.simulate import simulate

    results: dict[int, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="doorstep-scale-") as temporary:
        base = Path(temporary) / "base"
        simulate(PROGRAMME, base, seed=20240301, scale=1.0)
        for size in args.sizes:
            folder = Path(temporary) / f"n{size}"
            config = make_project(folder, base / "raw", size)
            results[size] = {}
            for stage in STAGES:
                done = subprocess.run(
                    [sys.executable, __file__, "--stage", stage, "--config", str(config),
                     "--work", str(folder)], capture_output=True, text=True, cwd=ROOT)
                if done.returncode != 0:
                    print(f"{size} rows/round, {stage}: failed\n{done.stderr[-3000:]}")
                    return 1
                record = json.loads(done.stdout.strip().splitlines()[-1])
                results[size][stage] = record
                print(f"{size:>8} rows/round  {stage:<9} {record['seconds']:>8.1f} s  "
                      f"{record['peak_mb']:>7} MB peak  ({record['rows']} rows)", flush=True)
    small, large = args.sizes[0], args.sizes[-1]
    print("\nstage      " + "".join(f"{s:>12}" for s in args.sizes) + "   exponent")
    for stage in STAGES:
        times = [results[s][stage]["seconds"] for s in args.sizes]
        exponent = (math.log(max(times[-1], 0.01) / max(times[0], 0.01))
                    / math.log(large / small))
        mark = "  SUPERLINEAR" if exponent > 1.2 else ""
        print(f"{stage:<10} " + "".join(f"{t:>11.1f}s" for t in times)
              + f"   {exponent:5.2f}{mark}")
    total = sum(results[large][stage]["seconds"] for stage in STAGES)
    peak = max(results[large][stage]["peak_mb"] for stage in STAGES)
    print(f"\nat {large} rows per round: {total:.0f} s in all, peak {peak} MB "
          f"(goal: under 300 s and 8192 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
