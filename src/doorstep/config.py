"""The evaluation config: ``surveys/<programme>/evaluation.yaml``, loaded and validated.

This module owns the one place where a run's parameters live. Paths in the file are relative to
the file itself. Unknown keys, wrong types and missing files are errors (``ConfigError``) that
name the key, what was expected and what was found: a typo never passes silently.

Inputs stay inside the project
------------------------------
Every input a config names (``instrument``, ``cleaning``, ``sources``, ``design`` files,
``truth``) must resolve, after ``..`` and symbolic links are followed, to a file inside the
config's *project root*; a path such as ``../../../../etc/passwd`` is a ``ConfigError`` naming
the key, the path written, where it leads and the root. The project root is ``project_root``
if the config sets it (relative to the file), else the folder above the ``surveys/`` folder that
holds the config (``<root>/surveys/<programme>/evaluation.yaml``), else the config's own folder.
A config that really must read data kept elsewhere (a secure drive) says so with
``allow_outside: true``. The resolved config a run writes records its ``project_root`` so that it
loads back from the run directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from doorstep.errors import ConfigError

LANGUAGES = ("en", "zh")
DESIGNS = ("staggered_rollout", "lottery")


@dataclass(frozen=True)
class Source:
    """One raw export of one survey round."""

    path: Path
    round: int
    platform: str = "auto"


@dataclass(frozen=True)
class EvaluationConfig:
    """Everything a run needs, validated; paths are absolute.

    Examples
    --------
    >>> config = load_config("surveys/caring_mothers/evaluation.yaml")  # doctest: +SKIP
    >>> config.programme  # doctest: +SKIP
    'caring_mothers'
    """

    path: Path
    programme: str
    title: dict[str, str]
    language: str
    instrument: Path
    cleaning: Path
    sources: tuple[Source, ...]
    unit: str
    cluster: str
    design: str
    design_files: dict[str, Path]
    outcomes: dict[str, str | dict[str, str]]
    headline: dict[str, str]
    truth: Path | None = None
    covariates: tuple[str, ...] = ()
    fieldwork: dict[str, Any] = field(default_factory=dict)
    round_labels: dict[int, str] = field(default_factory=dict)
    min_cell_size: int = 5
    project_root: Path | None = None
    allow_outside: bool = False

    @property
    def labels(self) -> dict[str, str]:
        """Each outcome's label in the config's language (English, then the name, if absent)."""
        return {
            name: (value if isinstance(value, str) else
                   value.get(self.language) or value.get("en") or name)
            for name, value in self.outcomes.items()
        }

    @property
    def title_text(self) -> str:
        """The report title in the config's language."""
        return self.title.get(self.language) or self.title.get("en") or self.programme

    def inputs(self) -> dict[str, Path]:
        """Every input file of a run, by a readable key (for checksums in the manifest)."""
        files = {"config": self.path, "instrument": self.instrument, "cleaning": self.cleaning}
        files.update({f"source_round{s.round}": s.path for s in self.sources})
        files.update({f"design_{key}": value for key, value in self.design_files.items()})
        if self.truth is not None:
            files["truth"] = self.truth
        return files

    def as_dict(self) -> dict[str, Any]:
        """The config in its file's own schema, with absolute paths and overrides applied.

        Written as ``config.yaml`` into a run directory, it loads back to an equal config.
        """
        return {
            "programme": self.programme,
            "title": dict(self.title),
            "language": self.language,
            "instrument": str(self.instrument),
            "cleaning": str(self.cleaning),
            "sources": [{"path": str(s.path), "round": s.round, "platform": s.platform}
                        for s in self.sources],
            "unit": self.unit,
            "cluster": self.cluster,
            "design": {"type": self.design, **{k: str(v) for k, v in self.design_files.items()}},
            "outcomes": dict(self.outcomes),
            "headline": dict(self.headline),
            "covariates": list(self.covariates),
            "truth": str(self.truth) if self.truth else None,
            "round_labels": dict(self.round_labels),
            "min_cell_size": self.min_cell_size,
            "fieldwork": dict(self.fieldwork),
            "project_root": str(self.project_root) if self.project_root else None,
            "allow_outside": self.allow_outside,
        }


_SCHEMA: dict[str, tuple[type | tuple[type, ...], bool]] = {
    # key: (allowed types, required)
    "programme": (str, True),
    "title": (dict, True),
    "language": (str, False),
    "instrument": (str, True),
    "cleaning": (str, True),
    "sources": (list, True),
    "unit": (str, True),
    "cluster": (str, True),
    "design": (dict, True),
    "outcomes": (dict, True),
    "covariates": (list, False),
    "headline": (dict, True),
    "truth": ((str, type(None)), False),
    "round_labels": (dict, False),
    "min_cell_size": (int, False),
    "fieldwork": (dict, False),
    "project_root": ((str, type(None)), False),
    "allow_outside": (bool, False),
}


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "text", dict: "a mapping", list: "a list", int: "an integer",
             type(None): "empty", bool: "true/false"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _parse_override(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value, found no '='")
    key, value = text.split("=", 1)
    return key.strip(), yaml.safe_load(value)


def _apply_override(raw: dict[str, Any], key: str, value: Any, source: Path) -> None:
    parts = key.split(".")
    target = raw
    for part in parts[:-1]:
        if not isinstance(target.get(part), dict):
            raise ConfigError(f"{source}: --set {key}: {part!r} is not a mapping in the config")
        target = target[part]
    if parts[0] not in _SCHEMA:
        raise ConfigError(
            f"{source}: --set {key}: unknown key {parts[0]!r}; allowed keys: {sorted(_SCHEMA)}"
        )
    target[parts[-1]] = value


def _existing(base: Path, text: str, key: str, source: Path,
              root: Path | None = None) -> Path:
    if not isinstance(text, str) or not text.strip() or "\x00" in text:
        raise ConfigError(f"{source}: {key}: expected a file path (text), found {text!r}")
    path = (base / text).resolve()
    if not path.exists():
        raise ConfigError(
            f"{source}: {key}: file {text!r} not found (looked for {path}). "
            "For the demo data, run `doorstep simulate` first."
        )
    if root is not None and not path.is_relative_to(root):
        raise ConfigError(
            f"{source}: {key}: expected a file inside the project root {root}, found {text!r}, "
            f"which leads to {path}. Move the file into the project, or set "
            "`allow_outside: true` in the config if it must stay where it is."
        )
    return path


def project_root_of(config_path: Path, declared: str | None = None) -> Path:
    """The project root a config's inputs must stay inside (see the module docstring).

    Examples
    --------
    >>> str(project_root_of(Path("/p/surveys/caring_mothers/evaluation.yaml")))
    '/p'
    >>> str(project_root_of(Path("/elsewhere/evaluation.yaml")))
    '/elsewhere'
    """
    folder = config_path.parent
    if declared:
        return (folder / declared).resolve()
    for ancestor in (folder, *folder.parents):
        if ancestor.name == "surveys" and ancestor.parent != ancestor:
            return ancestor.parent.resolve()
    return folder.resolve()


def _fieldwork(section: dict[str, Any], base: Path) -> dict[str, Any]:
    """The fieldwork-check settings with the key file's path made absolute."""
    settings = dict(section)
    if isinstance(settings.get("key_file"), str):
        settings["key_file"] = str((base / settings["key_file"]).resolve())
    return settings


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> EvaluationConfig:
    """Load and validate an evaluation config.

    Parameters
    ----------
    path
        The ``evaluation.yaml`` file.
    overrides
        ``key=value`` strings (as given to ``doorstep run --set``), values parsed as YAML;
        dotted keys reach into mappings, e.g. ``headline.income=hh_income``.

    Raises
    ------
    ConfigError
        For a missing file, unknown or missing keys, ill-typed values, or missing inputs.

    Examples
    --------
    >>> load_config("surveys/caring_mothers/evaluation.yaml", ["language=zh"])  # doctest: +SKIP
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise ConfigError(f"{path}: evaluation config not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top, found {type(raw)}")
    for text in overrides:
        _apply_override(raw, *_parse_override(text), source=path)
    unknown = sorted(set(raw) - set(_SCHEMA))
    if unknown:
        raise ConfigError(f"{path}: unknown keys {unknown}; allowed keys: {sorted(_SCHEMA)}")
    for key, (kind, required) in _SCHEMA.items():
        if key not in raw:
            if required:
                raise ConfigError(f"{path}: the key {key!r} is required and missing")
            continue
        if not isinstance(raw[key], kind) or (kind is int and isinstance(raw[key], bool)):
            raise ConfigError(
                f"{path}: {key}: expected {_type_name(kind)}, found {raw[key]!r}"
            )
    language = raw.get("language", "en")
    if language not in LANGUAGES:
        raise ConfigError(
            f"{path}: language: expected one of {list(LANGUAGES)}, found {language!r}"
        )
    base = path.parent
    root = project_root_of(path, raw.get("project_root"))
    allow_outside = bool(raw.get("allow_outside", False))
    fence = None if allow_outside else root
    sources = []
    for position, item in enumerate(raw["sources"], start=1):
        if not isinstance(item, dict) or not {"path", "round"} <= set(item):
            raise ConfigError(
                f"{path}: sources, item {position}: expected a mapping with 'path' and 'round', "
                f"found {item!r}"
            )
        extra = set(item) - {"path", "round", "platform"}
        if extra:
            raise ConfigError(f"{path}: sources, item {position}: unknown keys {sorted(extra)}")
        if not isinstance(item["round"], int):
            raise ConfigError(
                f"{path}: sources, item {position}: round: expected an integer, "
                f"found {item['round']!r}"
            )
        sources.append(Source(_existing(base, item["path"], f"sources[{position}]", path,
                                        fence),
                              item["round"], item.get("platform", "auto")))
    design = dict(raw["design"])
    design_type = design.pop("type", None)
    if design_type not in DESIGNS:
        raise ConfigError(
            f"{path}: design.type: expected one of {list(DESIGNS)}, found {design_type!r}"
        )
    design_files = {key: _existing(base, value, f"design.{key}", path, fence)
                    for key, value in design.items()}
    for key in ("headline", "title"):
        for name, value in raw[key].items():
            if not isinstance(value, str):
                raise ConfigError(f"{path}: {key}.{name}: expected text, found {value!r}")
    for name, value in raw["outcomes"].items():
        labels = value if isinstance(value, dict) else {"en": value}
        if not all(isinstance(v, str) and k in LANGUAGES for k, v in labels.items()):
            raise ConfigError(
                f"{path}: outcomes.{name}: expected a label (text) or labels per language "
                f"({list(LANGUAGES)}), found {value!r}"
            )
    for key, value in raw.get("round_labels", {}).items():
        if isinstance(key, bool) or not isinstance(key, int | str) or not str(key).isdigit() or (
                not isinstance(value, str | int | float)) or isinstance(value, bool):
            raise ConfigError(
                f"{path}: round_labels: expected round numbers mapped to labels (text), found "
                f"{key!r}: {value!r}"
            )
    missing_headline = sorted(set(raw["headline"].values()) - set(raw["outcomes"]))
    if missing_headline:
        raise ConfigError(
            f"{path}: headline names outcomes {missing_headline} that are not in outcomes "
            f"{sorted(raw['outcomes'])}"
        )
    return EvaluationConfig(
        path=path,
        programme=raw["programme"],
        title=dict(raw["title"]),
        language=language,
        instrument=_existing(base, raw["instrument"], "instrument", path, fence),
        cleaning=_existing(base, raw["cleaning"], "cleaning", path, fence),
        sources=tuple(sources),
        unit=raw["unit"],
        cluster=raw["cluster"],
        design=design_type,
        design_files=design_files,
        outcomes=dict(raw["outcomes"]),
        headline=dict(raw["headline"]),
        covariates=tuple(str(name) for name in raw.get("covariates", [])),
        truth=_existing(base, raw["truth"], "truth", path, fence) if raw.get("truth") else None,
        round_labels={int(k): str(v) for k, v in raw.get("round_labels", {}).items()},
        min_cell_size=raw.get("min_cell_size", 5),
        fieldwork=_fieldwork(raw.get("fieldwork") or {}, base),
        project_root=root,
        allow_outside=allow_outside,
    )
