"""environment.yml must pin the same packages, with the same ranges, as pyproject.toml."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _normalise(requirement: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-\[\]]+)\s*(.*)$", requirement)
    name, spec = match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")
    return name, spec


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    requirements = project["dependencies"] + extras["test"] + extras["fuzz"]
    wanted = dict(map(_normalise, requirements))
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed: dict[str, str] = {}
    for item in environment["dependencies"]:
        entries = item["pip"] if isinstance(item, dict) else [item]
        for entry in entries:
            if entry.startswith("-e") or entry in {"pip"} or entry.startswith("python="):
                continue
            name, spec = _normalise(entry)
            listed[name] = spec
    # conda has no extras: dask[distributed] is the two packages dask and distributed
    spec = wanted.pop("dask[distributed]")
    wanted.update({"dask": spec, "distributed": spec})
    assert listed == wanted
