"""Benchmark of the fieldwork checks: detection rates over seeds, time for 100,000 interviews.

Usage::

    .venv/bin/python benchmarks/checks.py --seeds 20 --scale 0.3 --interviews 100000

For each seed, ``caring_mothers`` is simulated at the simulator's default rates, all four rounds
are read with ``read_export`` and checked together; the script prints the share of seeds where
the fabricating enumerator (``truth.json``) is ranked first, the share of planted
``duplicate_exact`` and ``resubmission`` rows and of fabricated (short) interviews that are
flagged, then tiles one simulated round up to ``--interviews`` rows and times ``run_checks``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from doorstep.checks import run_checks
from tests.test_checks_helpers import detection, simulated_round


def tiled(frame: pd.DataFrame, size: int) -> pd.DataFrame:
    """Repeat a round until it has ``size`` rows, each copy as its own export file."""
    copies = []
    for copy in range(size // len(frame) + 1):
        part = frame.copy()
        part["_source_file"] = f"tile{copy:04d}.csv"  # ids stay valid; duplicates per tile
        copies.append(part)
    return pd.concat(copies, ignore_index=True).iloc[:size].reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--scale", type=float, default=0.3)
    parser.add_argument("--interviews", type=int, default=100_000)
    arguments = parser.parse_args()
    first, duplicates, short, seconds = 0, [0, 0], [0, 0], []
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(1, arguments.seeds + 1):
            start = time.perf_counter()
            outcome = detection(Path(folder) / str(seed), seed=seed, scale=arguments.scale)
            seconds.append(time.perf_counter() - start)
            first += outcome["fabricator_rank"] == 1
            duplicates[0] += outcome["duplicates_flagged"]
            duplicates[1] += outcome["duplicates_planted"]
            short[0] += outcome["short_flagged"]
            short[1] += outcome["short_planted"]
        print(f"seeds: {arguments.seeds} at scale {arguments.scale} (caring_mothers, 4 rounds, "
              "default rates)")
        print(f"fabricator ranked first: {first}/{arguments.seeds} "
              f"= {first / arguments.seeds:.1%}")
        print(f"planted duplicate_exact + resubmission rows flagged: {duplicates[0]}/"
              f"{duplicates[1]} = {duplicates[0] / max(duplicates[1], 1):.1%}")
        print(f"fabricated (short) interviews flagged: {short[0]}/{short[1]} "
              f"= {short[0] / max(short[1], 1):.1%}")
        print(f"mean seconds per seed (simulate + read + check): "
              f"{sum(seconds) / len(seconds):.1f}")
        frame, form = simulated_round(Path(folder) / "tile", seed=1, scale=1.0)
        big = tiled(frame, arguments.interviews)
        start = time.perf_counter()
        results = run_checks(big, form, {"id_column": "child_id", "hash_key": "benchmark"})
        elapsed = time.perf_counter() - start
        print(f"run_checks on {len(big):,} interviews ({big.shape[1]} columns): "
              f"{elapsed:.1f} s, {len(results.flags):,} flags")


if __name__ == "__main__":
    main()
