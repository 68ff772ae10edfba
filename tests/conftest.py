"""Shared fixtures: small simulated programmes laid out like a project (surveys/ and data/)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from doorstep.simulate import simulate

ROOT = Path(__file__).resolve().parent.parent
SMALL_SCALE = 0.5
TEST_SEED = 20240301


def make_project(folder: Path, programme: str, *, seed: int = TEST_SEED,
                 scale: float = SMALL_SCALE) -> Path:
    """Copy ``surveys/<programme>`` into ``folder`` and simulate its data beside it.

    Returns the path of the copied ``evaluation.yaml``.
    """
    shutil.copytree(ROOT / "surveys" / programme, folder / "surveys" / programme)
    simulate(programme, folder / "data" / programme, seed=seed, scale=scale)
    return folder / "surveys" / programme / "evaluation.yaml"


@pytest.fixture(scope="session")
def small_projects(tmp_path_factory) -> dict[str, Path]:
    """Both demo programmes, small, simulated once per session (do not modify them)."""
    folder = tmp_path_factory.mktemp("project")
    return {name: make_project(folder, name) for name in ("caring_mothers", "skills_workshops")}
