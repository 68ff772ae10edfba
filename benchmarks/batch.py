"""Batch throughput: runs per minute with 1 and 2 workers, and the kernel start-up share of a run.

Runs N small evaluations (caring_mothers, simulated at scale 0.2; one run per seed) with
``--workers 1`` and with ``--workers 2``, into a scratch folder that is removed. So that the
load of other processes falls on both alike, the runs are split into rounds and the two modes
alternate within each round (sequential first in odd rounds, parallel first in even ones); the
load average is printed beside every batch. Prints runs per minute for each mode, the ratio
over all rounds and per round, and where a run's time goes, read from the executed notebooks'
papermill timestamps:

- kernel start-up: from papermill's start of a notebook to the start of its first cell (kernel
  launch, connection, ready), summed over a run's notebooks, as a share of the run's seconds;
- imports: the first cell after the parameters (pandas, matplotlib, doorstep), same share;
- cells: every other cell; the rest is the runner's own work (HTML, guard, manifest, shutdown).

Goals (issue 9): parallel at least 1.7x sequential on 2 cores; start-up under 20% of a run.

    python benchmarks/batch.py               # 50 runs per mode, 5 rounds
    python benchmarks/batch.py --quick       # 8 runs per mode, 2 rounds
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml

from doorstep.run import find_notebooks_dir
from doorstep.run.batch import run_batch

ROOT = find_notebooks_dir().parent
sys.path.insert(0, str(ROOT))
from tests.conftest import make_project  # noqa: E402

DATA_SEED = 7  # see tests/test_batch_cluster.py: seed 20240301 at scale 0.2 trips the guard
PARAMETER_TAGS = {"parameters", "injected-parameters"}


def _moment(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def notebook_parts(notebook: Path) -> dict[str, float]:
    """Seconds of an executed notebook: kernel start-up, the imports cell, the other cells.

    Start-up runs from papermill's notebook start to the first cell's start (papermill stamps
    the notebook before it launches the kernel, and a cell when it sends it to the kernel).
    """
    content = json.loads(notebook.read_text(encoding="utf-8"))
    cells = [cell for cell in content["cells"] if cell["cell_type"] == "code"]
    stamps = [cell["metadata"].get("papermill", {}) for cell in cells]
    start_up = _moment(stamps[0]["start_time"]) - _moment(
        content["metadata"]["papermill"]["start_time"])
    code = [(cell, stamp) for cell, stamp in zip(cells, stamps, strict=True)
            if not PARAMETER_TAGS & set(cell["metadata"].get("tags", []))]
    imports = code[0][1]["duration"] if code else 0.0
    others = sum(stamp["duration"] or 0.0 for _, stamp in code[1:])
    return {"start_up": start_up, "imports": imports, "cells": others}


def _batch(folder: Path, name: str, seeds: list[int], workers: int) -> dict[str, object]:
    grid = folder / f"{name}.yaml"
    grid.write_text(yaml.safe_dump({
        "output": f"reports/{name}", "runs": ["surveys/caring_mothers/evaluation.yaml"],
        "seeds": seeds, "notebooks": str(ROOT / "notebooks"),
    }), encoding="utf-8")
    load = os.getloadavg()[0]
    started = time.perf_counter()
    result = run_batch(grid, workers=workers, progress=False)
    seconds = time.perf_counter() - started
    failed = [r for r in result.results if r.status != "finished"]
    if failed:
        raise SystemExit(f"{len(failed)} runs failed, e.g. {failed[0].error}")
    parts = {"start_up": 0.0, "imports": 0.0, "cells": 0.0, "run": 0.0}
    for run in result.results:
        parts["run"] += run.seconds
        for notebook in sorted((result.output / run.run_id / "notebooks").glob("*.ipynb")):
            for key, value in notebook_parts(notebook).items():
                parts[key] += value
    return {"seconds": seconds, "runs": len(seeds), "load": load, "parts": parts}


def _share(batches: list[dict], key: str) -> float:
    return sum(b["parts"][key] for b in batches) / sum(b["parts"]["run"] for b in batches)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="runs per mode (default 50)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--quick", action="store_true", help="8 runs per mode in 2 rounds")
    args = parser.parse_args()
    n_runs, n_rounds = (8, 2) if args.quick else (args.runs, args.rounds)
    n_rounds = max(1, min(n_rounds, n_runs))
    sizes = [n_runs // n_rounds + (number < n_runs % n_rounds) for number in range(n_rounds)]
    batches: dict[int, list[dict]] = {1: [], 2: []}
    print(f"runs: {n_runs} per mode in {n_rounds} rounds (caring_mothers, scale 0.2), "
          f"cores: {os.cpu_count()}, load average at start {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        make_project(folder, "caring_mothers", seed=DATA_SEED, scale=0.2)
        next_seed = 1
        for number, size in enumerate(sizes, start=1):
            order = (1, 2) if number % 2 else (2, 1)
            line = []
            for workers in order:
                seeds = list(range(next_seed, next_seed + size))
                next_seed += size
                batch = _batch(folder, f"round{number}-w{workers}", seeds, workers)
                batches[workers].append(batch)
                line.append(f"{workers} worker{'s' * (workers > 1)}: {batch['seconds']:6.1f} s "
                            f"(load {batch['load']:.1f})")
            ratio = batches[1][-1]["seconds"] / batches[2][-1]["seconds"]
            print(f"round {number} ({size} runs each): " + ", ".join(line)
                  + f"; ratio {ratio:.2f}", flush=True)
    rates = {workers: sum(b["runs"] for b in done) / sum(b["seconds"] for b in done) * 60
             for workers, done in batches.items()}
    ratios = [one["seconds"] / two["seconds"] for one, two in zip(batches[1], batches[2],
                                                                   strict=True)]
    print(f"sequential (1 worker):  {rates[1]:6.2f} runs/min")
    print(f"parallel   (2 workers): {rates[2]:6.2f} runs/min")
    print(f"ratio parallel/sequential: {rates[2] / rates[1]:.2f} overall, median of rounds "
          f"{statistics.median(ratios):.2f} (goal >= 1.7); load average at end "
          f"{os.getloadavg()[0]:.1f}")
    for workers, label in ((1, "sequential"), (2, "parallel")):
        done = batches[workers]
        mean_run = sum(b["parts"]["run"] for b in done) / sum(b["runs"] for b in done)
        print(f"{label:<10} mean run {mean_run:5.1f} s: kernel start-up "
              f"{_share(done, 'start_up'):.0%} (goal < 20%), imports cell "
              f"{_share(done, 'imports'):.0%}, other cells {_share(done, 'cells'):.0%}, "
              f"runner (HTML, guard, manifest, shutdown) "
              f"{1 - sum(_share(done, key) for key in ('start_up', 'imports', 'cells')):.0%}")


if __name__ == "__main__":
    main()
