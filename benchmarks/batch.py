"""Batch throughput: runs per minute with 1 and 2 workers, and the kernel start-up share of a run.

Runs a batch of N small evaluations (caring_mothers, simulated at scale 0.2; one run per seed)
twice, with ``--workers 1`` and ``--workers 2``, into a scratch folder that is removed. Prints
runs per minute for each, their ratio, and the time to start a kernel and run an empty cell
(nbclient) over the mean time per notebook. Goals (issue 9): parallel at least 1.7x sequential
on 2 cores; start-up under 20% of a notebook's time.

    python benchmarks/batch.py            # 50 runs
    python benchmarks/batch.py --quick    # 8 runs
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from doorstep.run import find_notebooks_dir
from doorstep.run.batch import run_batch

ROOT = find_notebooks_dir().parent
sys.path.insert(0, str(ROOT))
from tests.conftest import make_project  # noqa: E402

DATA_SEED = 7  # see tests/test_batch_cluster.py: seed 20240301 at scale 0.2 trips the guard


def kernel_start_seconds(repeats: int = 3) -> float:
    """Median seconds to start a kernel, run an empty cell and shut it down (nbclient)."""
    import nbformat
    from nbclient import NotebookClient

    times = []
    for _ in range(repeats):
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("")])
        started = time.perf_counter()
        NotebookClient(notebook, kernel_name="python3").execute()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _batch(folder: Path, name: str, n_runs: int, workers: int) -> tuple[float, list[float]]:
    grid = folder / f"{name}.yaml"
    grid.write_text(yaml.safe_dump({
        "output": f"reports/{name}", "runs": ["surveys/caring_mothers/evaluation.yaml"],
        "seeds": list(range(1, n_runs + 1)), "notebooks": str(ROOT / "notebooks"),
    }), encoding="utf-8")
    started = time.perf_counter()
    result = run_batch(grid, workers=workers, progress=False)
    seconds = time.perf_counter() - started
    failed = [r for r in result.results if r.status != "finished"]
    if failed:
        raise SystemExit(f"{len(failed)} runs failed, e.g. {failed[0].error}")
    per_notebook = []
    for run in result.results:
        manifest = json.loads((result.output / run.run_id / "manifest.json").read_text())
        per_notebook += [entry["seconds"] for entry in manifest["notebooks"].values()]
    return seconds, per_notebook


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="8 runs")
    args = parser.parse_args()
    n_runs = 8 if args.quick else args.runs
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        make_project(folder, "caring_mothers", seed=DATA_SEED, scale=0.2)
        load_before = os.getloadavg()[0]
        sequential, per_notebook = _batch(folder, "sequential", n_runs, 1)
        parallel, _ = _batch(folder, "parallel", n_runs, 2)
        start_up = kernel_start_seconds()
        load_after = os.getloadavg()[0]
    rate_1, rate_2 = n_runs / sequential * 60, n_runs / parallel * 60
    mean_notebook = statistics.mean(per_notebook)
    print(f"runs: {n_runs} (caring_mothers, scale 0.2), cores: {os.cpu_count()}, "
          f"load average {load_before:.1f} before, {load_after:.1f} after")
    print(f"sequential (1 worker):  {sequential:7.1f} s  {rate_1:6.2f} runs/min")
    print(f"parallel   (2 workers): {parallel:7.1f} s  {rate_2:6.2f} runs/min")
    print(f"ratio parallel/sequential: {rate_2 / rate_1:.2f} (goal >= 1.7)")
    print(f"kernel start + empty cell: {start_up:.2f} s; mean per notebook {mean_notebook:.2f} s; "
          f"start-up share {start_up / mean_notebook:.0%} (goal < 20%)")


if __name__ == "__main__":
    main()
