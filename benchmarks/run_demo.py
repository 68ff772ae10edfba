"""Time the demo pipeline stage by stage: simulation, then each notebook of each programme.

Run with ``make bench``. Prints seconds per stage (simulation, each notebook, the whole run)
for each demo programme; runs go to a scratch folder that is removed.
The goal for the demo (issue 2) is that ``make demo`` finishes in under 5 minutes on 2 cores.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from doorstep.run import find_notebooks_dir, run_evaluation
from doorstep.simulate import PROGRAMMES, simulate

ROOT = find_notebooks_dir().parent


def main() -> None:
    """Run the benchmark and print its table."""
    seed = 20240301
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for programme in PROGRAMMES:
            started = time.perf_counter()
            simulate(programme, ROOT / "data" / programme, seed=seed)
            rows.append((programme, "simulate", time.perf_counter() - started))
            started = time.perf_counter()
            outcome = run_evaluation(ROOT / "surveys" / programme / "evaluation.yaml",
                                     run_dir=Path(scratch) / programme, seed=seed)
            total = time.perf_counter() - started
            manifest = json.loads(outcome.manifest.read_text(encoding="utf-8"))
            for name, entry in manifest["notebooks"].items():
                rows.append((programme, name, entry["seconds"]))
            rows.append((programme, "whole run (with HTML and manifest)", total))
    print(f"{'programme':<18} {'stage':<38} {'seconds':>8}")
    for programme, stage, seconds in rows:
        print(f"{programme:<18} {stage:<38} {seconds:8.2f}")


if __name__ == "__main__":
    main()
