"""Shared fixtures: the simulated demo programmes laid out like a project (surveys/, data/)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from doorstep.simulate import simulate

ROOT = Path(__file__).resolve().parent.parent
DEMO_SCALE = 1.0
TEST_SEED = 20240301

# The atheris harness is a script libFuzzer runs (``make fuzz``), not a test module; with
# ``--doctest-modules`` pytest would import it, and atheris is only in the ``fuzz`` extra.
collect_ignore = ["atheris_harness.py"]


def make_project(folder: Path, programme: str, *, seed: int = TEST_SEED,
                 scale: float = DEMO_SCALE) -> Path:
    """Copy ``surveys/<programme>`` into ``folder`` and simulate its data beside it.

    Returns the path of the copied ``evaluation.yaml``.
    """
    shutil.copytree(ROOT / "surveys" / programme, folder / "surveys" / programme)
    simulate(programme, folder / "data" / programme, seed=seed, scale=scale)
    return folder / "surveys" / programme / "evaluation.yaml"


@pytest.fixture(scope="session")
def demo_projects(tmp_path_factory) -> dict[str, Path]:
    """Both demo programmes at the demo size and seed, simulated once per session (read only)."""
    folder = tmp_path_factory.mktemp("project")
    return {name: make_project(folder, name) for name in ("caring_mothers", "skills_workshops")}


@pytest.fixture(scope="session")
def demo_runs(demo_projects, tmp_path_factory):
    """Each demo programme run once through the whole chain (read only; shared by the runner
    and browser tests so the pipeline runs once per session)."""
    from doorstep.run import find_notebooks_dir, run_evaluation

    folder = tmp_path_factory.mktemp("runs")
    notebooks = find_notebooks_dir()
    return {name: run_evaluation(path, run_dir=folder / name, notebooks_dir=notebooks)
            for name, path in demo_projects.items()}
