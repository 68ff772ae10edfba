"""A new programme's design file: ``surveys/<name>/design.yaml``, loaded and validated.

It holds the power parameters (the keys of :func:`doorstep.design.tables.design_parameters`)
and the assignment procedure (the village listing to randomise and the options of
:func:`doorstep.design.randomise.assign_treatment`). Paths are relative to the file. Unknown
keys and missing files are ``ConfigError``s naming the key or the path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from doorstep.design.tables import design_parameters
from doorstep.errors import ConfigError

_TOP_KEYS = ("title", "power", "assignment")
_ASSIGNMENT_KEYS = ("listing", "unit", "strata", "cluster", "arms", "shares", "balance",
                    "threshold", "covariates", "max_draws")


@dataclass(frozen=True)
class DesignSpec:
    """A validated design file: title, power parameters, listing path, assignment options."""

    path: Path
    title: str
    power: dict[str, Any]
    listing: Path
    assignment: dict[str, Any]


def load_design(path: str | Path) -> DesignSpec:
    """Load and validate a design file.

    Examples
    --------
    >>> spec = load_design("surveys/design_demo.yaml")  # doctest: +SKIP
    >>> spec.assignment["unit"]  # doctest: +SKIP
    'village_code'
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise ConfigError(f"{path}: design file not found")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys, found {type(raw).__name__}")
    unknown = sorted(set(raw) - set(_TOP_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown keys {unknown}; allowed keys: {list(_TOP_KEYS)}")
    assignment = raw.get("assignment")
    if not isinstance(assignment, dict) or not {"listing", "unit"} <= set(assignment):
        raise ConfigError(f"{path}: assignment: expected a mapping with at least 'listing' and "
                          f"'unit', found {assignment!r}")
    unknown = sorted(set(assignment) - set(_ASSIGNMENT_KEYS))
    if unknown:
        raise ConfigError(f"{path}: assignment: unknown keys {unknown}; allowed keys: "
                          f"{list(_ASSIGNMENT_KEYS)}")
    options = dict(assignment)
    listing = (path.parent / options.pop("listing")).resolve()
    if not listing.is_file():
        raise ConfigError(f"{path}: assignment.listing: file not found ({listing}); for the "
                          "demo listing run `doorstep simulate` first")
    try:
        power = design_parameters(raw.get("power") or {})
    except ConfigError as error:
        raise ConfigError(f"{path}: power: {error}") from error
    return DesignSpec(path, str(raw.get("title", path.parent.name)), power, listing, options)
