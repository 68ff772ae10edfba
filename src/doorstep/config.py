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

Outcome families
----------------
``families`` groups the outcomes for multiple-testing adjustment and summary indices::

    families:
      child_wellbeing:
        label: {en: "child wellbeing", zh: "儿童福祉"}
        outcomes: [sdq_total, ucla_total, school_days_missed]
        direction: {sdq_total: -1, ucla_total: -1, school_days_missed: -1}

``direction`` gives +1 (higher is better, the default for an outcome not listed) or -1 (lower
is better) per outcome, so that a family's index is higher when things are better. A family
needs two or more outcomes of ``outcomes``, and an outcome belongs to one family at most.
Without ``families`` every outcome is in one family, ``all``, with direction +1
(:data:`DEFAULT_FAMILY`). Each family's index is reported as the outcome ``index_<family>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from doorstep.errors import ConfigError

LANGUAGES = ("en", "zh")
DESIGNS = ("staggered_rollout", "lottery")
DEFAULT_FAMILY = "all"
INDEX_PREFIX = "index_"
# How an index row is labelled, from its family's label (the config owns outcome labels).
INDEX_LABEL = {"en": "Index: {family} (ICW)", "zh": "综合指数：{family}（ICW）"}
_DEFAULT_FAMILY_LABEL = {"en": "all outcomes", "zh": "全部结果变量"}
_FAMILY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_FAMILY_KEYS = ("label", "outcomes", "direction")


@dataclass(frozen=True)
class OutcomeFamily:
    """A family of outcomes: adjusted together for multiple testing, summarised by one index.

    Examples
    --------
    >>> family = OutcomeFamily("work", {"en": "work"}, ("employed", "hours"), {"hours": -1})
    >>> family.index_name, family.signs
    ('index_work', {'employed': 1, 'hours': -1})
    """

    name: str
    label: dict[str, str]
    outcomes: tuple[str, ...]
    direction: dict[str, int] = field(default_factory=dict)

    @property
    def index_name(self) -> str:
        """The outcome name of the family's index, ``index_<family>``."""
        return f"{INDEX_PREFIX}{self.name}"

    @property
    def signs(self) -> dict[str, int]:
        """+1 or -1 for every outcome of the family (+1 unless ``direction`` says -1)."""
        return {name: int(self.direction.get(name, 1)) for name in self.outcomes}

    def label_in(self, language: str) -> str:
        """The family's label in ``language`` (English, then the name, if absent)."""
        return self.label.get(language) or self.label.get("en") or self.name


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
    families: dict[str, dict[str, Any]] = field(default_factory=dict)
    subgroups: tuple[dict[str, Any], ...] = ()
    dose: dict[str, Any] | None = None
    costs: dict[str, Any] | None = None

    @property
    def labels(self) -> dict[str, str]:
        """Each outcome's label in the config's language (English, then the name, if absent).

        Family indices are labelled too (``index_<family>``: "Index: <family label> (ICW)").
        """
        labels = {
            name: (value if isinstance(value, str) else
                   value.get(self.language) or value.get("en") or name)
            for name, value in self.outcomes.items()
        }
        template = INDEX_LABEL.get(self.language, INDEX_LABEL["en"])
        for family in self.outcome_families:
            labels[family.index_name] = template.format(family=family.label_in(self.language))
        return labels

    @property
    def outcome_families(self) -> tuple[OutcomeFamily, ...]:
        """The outcome families, or the documented default: one family ``all``, direction +1."""
        if not self.families:
            return (OutcomeFamily(DEFAULT_FAMILY, dict(_DEFAULT_FAMILY_LABEL),
                                  tuple(self.outcomes)),)
        return tuple(
            OutcomeFamily(name, dict(spec["label"]), tuple(spec["outcomes"]),
                          dict(spec.get("direction", {})))
            for name, spec in self.families.items()
        )

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
        if self.dose is not None:
            files["dose"] = Path(self.dose["path"])
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
            "families": {name: {"label": dict(spec["label"]), "outcomes": list(spec["outcomes"]),
                                "direction": dict(spec.get("direction", {}))}
                         for name, spec in self.families.items()},
            "subgroups": [dict(item) for item in self.subgroups],
            "dose": dict(self.dose) if self.dose is not None else None,
            "costs": dict(self.costs) if self.costs is not None else None,
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
    "families": (dict, False),
    "subgroups": (list, False),
    "dose": ((dict, type(None)), False),
    "costs": ((dict, type(None)), False),
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


def _families(section: dict[str, Any], outcomes: dict[str, Any],
               source: Path) -> dict[str, dict[str, Any]]:
    """The ``families`` section checked and normalised (see the module docstring)."""
    families: dict[str, dict[str, Any]] = {}
    owner: dict[str, str] = {}
    for name, spec in section.items():
        key = f"families.{name}"
        if not isinstance(name, str) or not _FAMILY_NAME.match(name):
            raise ConfigError(
                f"{source}: families: expected family names of lower-case letters, digits and "
                f"'_' (starting with a letter), found {name!r}"
            )
        if f"{INDEX_PREFIX}{name}" in outcomes:
            raise ConfigError(
                f"{source}: {key}: the family's index would be named {INDEX_PREFIX}{name}, "
                "which is already an outcome; rename the family"
            )
        if not isinstance(spec, dict):
            raise ConfigError(
                f"{source}: {key}: expected a mapping with {list(_FAMILY_KEYS)}, found {spec!r}"
            )
        unknown = sorted(set(spec) - set(_FAMILY_KEYS))
        if unknown:
            raise ConfigError(f"{source}: {key}: unknown keys {unknown}; allowed keys: "
                              f"{list(_FAMILY_KEYS)}")
        label = spec.get("label", name)
        label = label if isinstance(label, dict) else {"en": label}
        if not label or not all(isinstance(v, str) and k in LANGUAGES for k, v in label.items()):
            raise ConfigError(
                f"{source}: {key}.label: expected a label (text) or labels per language "
                f"({list(LANGUAGES)}), found {spec.get('label')!r}"
            )
        members = spec.get("outcomes")
        if not isinstance(members, list) or len(members) < 2 or not all(
                isinstance(member, str) for member in members) or len(set(members)) != len(
                members):
            raise ConfigError(
                f"{source}: {key}.outcomes: expected a list of two or more distinct outcome "
                f"names, found {members!r}"
            )
        unknown = [member for member in members if member not in outcomes]
        if unknown:
            raise ConfigError(
                f"{source}: {key}.outcomes: {unknown} are not in outcomes {sorted(outcomes)}"
            )
        for member in members:
            if member in owner:
                raise ConfigError(
                    f"{source}: {key}.outcomes: {member!r} is already in the family "
                    f"{owner[member]!r}; an outcome belongs to one family at most"
                )
            owner[member] = name
        direction = spec.get("direction", {})
        if not isinstance(direction, dict):
            raise ConfigError(
                f"{source}: {key}.direction: expected a mapping of outcome to +1 or -1, found "
                f"{direction!r}"
            )
        for member, sign in direction.items():
            if member not in members:
                raise ConfigError(
                    f"{source}: {key}.direction: {member!r} is not one of the family's outcomes "
                    f"{members}"
                )
            if isinstance(sign, bool) or sign not in (1, -1):
                raise ConfigError(
                    f"{source}: {key}.direction.{member}: expected +1 (higher is better) or -1 "
                    f"(lower is better), found {sign!r}"
                )
        families[name] = {"label": dict(label), "outcomes": list(members),
                          "direction": {member: int(sign) for member, sign in direction.items()}}
    return families


# --- subgroups, dose and cost (the report's forest plot, dose-response and cost table) ---
SUBGROUP_KEYS = ("column", "label", "bins", "levels")
DOSE_KEYS = ("path", "unit", "count", "date", "bands", "label")
COST_KEYS = ("total_cost", "n_participants", "currency", "horizon_years", "discount_rate",
             "income_outcome", "periods_per_year", "estimand", "note")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _increasing(values: list[float]) -> bool:
    return all(values[k] < values[k + 1] for k in range(len(values) - 1))


def _label(value: Any, key: str, source: Path) -> dict[str, str]:
    """A label given as text (used for every language) or per language."""
    if isinstance(value, str):
        return {language: value for language in LANGUAGES}
    if isinstance(value, dict) and value and all(
            k in LANGUAGES and isinstance(v, str) for k, v in value.items()):
        return {language: value.get(language) or value.get("en") or next(iter(value.values()))
                for language in LANGUAGES}
    raise ConfigError(f"{source}: {key}: expected a label (text) or labels per language "
                      f"({list(LANGUAGES)}), found {value!r}")


def _unknown(section: dict[str, Any], allowed: tuple[str, ...], key: str, source: Path) -> None:
    extra = sorted(set(section) - set(allowed))
    if extra:
        raise ConfigError(f"{source}: {key}: unknown keys {extra}; allowed keys: {list(allowed)}")


def _subgroups(items: list[Any], source: Path) -> tuple[dict[str, Any], ...]:
    """The ``subgroups`` list checked: ``column``, ``label`` and optional ``bins`` or ``levels``.

    ``bins`` are increasing edges; a value v falls in the bin [edge_k, edge_k+1) (the last bin
    also holds its upper edge). ``levels`` maps each value to its label.
    """
    out = []
    for position, item in enumerate(items, start=1):
        key = f"subgroups, item {position}"
        if not isinstance(item, dict) or not isinstance(item.get("column"), str):
            raise ConfigError(f"{source}: {key}: expected a mapping with a 'column' (text), "
                              f"found {item!r}")
        _unknown(item, SUBGROUP_KEYS, key, source)
        spec: dict[str, Any] = {"column": item["column"],
                                "label": _label(item.get("label", item["column"]),
                                                f"{key}.label", source)}
        if "bins" in item and "levels" in item:
            raise ConfigError(f"{source}: {key}: expected 'bins' or 'levels', found both")
        if "bins" in item:
            bins = item["bins"]
            if (not isinstance(bins, list) or len(bins) < 3 or not all(map(_is_number, bins))
                    or not _increasing(bins)):
                raise ConfigError(f"{source}: {key}.bins: expected at least three increasing "
                                  f"numbers (edges of two or more bins), found {bins!r}")
            spec["bins"] = [float(b) for b in bins]
        if "levels" in item:
            levels = item["levels"]
            if not isinstance(levels, dict) or len(levels) < 2:
                raise ConfigError(f"{source}: {key}.levels: expected a mapping of two or more "
                                  f"values to labels, found {levels!r}")
            spec["levels"] = {value: _label(label, f"{key}.levels.{value}", source)
                              for value, label in levels.items()}
        out.append(spec)
    columns = [spec["column"] for spec in out]
    if len(set(columns)) < len(columns):
        raise ConfigError(f"{source}: subgroups: a column is listed twice: {columns}")
    return tuple(out)


def _dose(section: dict[str, Any], base: Path, source: Path,
          fence: Path | None) -> dict[str, Any]:
    """The ``dose`` section checked; ``path`` made absolute.

    ``count`` is ``"rows"`` (one row per visit or session) or the column holding the count;
    ``date`` (optional) is the column of each row's date, so that only rows dated before the
    unit's last interview are counted; ``bands`` is ``"tertiles"`` or increasing cut points
    (a unit with dose d is in the first band whose cut point exceeds d).
    """
    _unknown(section, DOSE_KEYS, "dose", source)
    for key in ("path", "unit", "count"):
        if not isinstance(section.get(key), str) or not section[key].strip():
            raise ConfigError(f"{source}: dose.{key}: expected text, found "
                              f"{section.get(key)!r}")
    if section.get("date") is not None and not isinstance(section["date"], str):
        raise ConfigError(f"{source}: dose.date: expected a column name (text), found "
                          f"{section['date']!r}")
    bands = section.get("bands", "tertiles")
    if bands != "tertiles" and (
            not isinstance(bands, list) or not bands or not all(map(_is_number, bands))
            or not _increasing(bands)):
        raise ConfigError(f"{source}: dose.bands: expected 'tertiles' or increasing cut points "
                          f"(numbers), found {bands!r}")
    spec = {key: section[key] for key in ("unit", "count")}
    spec["path"] = str(_existing(base, section["path"], "dose.path", source, fence))
    spec["date"] = section.get("date")
    spec["bands"] = bands if bands == "tertiles" else [float(b) for b in bands]
    spec["label"] = _label(section.get("label", section["count"]), "dose.label", source)
    return spec


def _costs(section: dict[str, Any], source: Path) -> dict[str, Any]:
    """The ``costs`` section checked (numbers positive, horizon whole, rate above -1)."""
    _unknown(section, COST_KEYS, "costs", source)
    for key in ("total_cost", "n_participants"):
        value = section.get(key)
        if not _is_number(value) or value < 0 or (key == "n_participants" and value == 0):
            raise ConfigError(f"{source}: costs.{key}: expected a "
                              f"{'positive' if key == 'n_participants' else 'non-negative'} "
                              f"number, found {value!r}")
    horizon = section.get("horizon_years")
    if horizon is not None and (not isinstance(horizon, int) or isinstance(horizon, bool)
                                or horizon < 1):
        raise ConfigError(f"{source}: costs.horizon_years: expected a whole number >= 1, "
                          f"found {horizon!r}")
    rate = section.get("discount_rate", 0.05)
    if not _is_number(rate) or rate <= -1:
        raise ConfigError(f"{source}: costs.discount_rate: expected a number above -1 (0.05 "
                          f"for 5%), found {rate!r}")
    periods = section.get("periods_per_year", 12)
    if not isinstance(periods, int) or isinstance(periods, bool) or periods < 1:
        raise ConfigError(f"{source}: costs.periods_per_year: expected a whole number >= 1, "
                          f"found {periods!r}")
    for key in ("income_outcome", "estimand"):
        if section.get(key) is not None and not isinstance(section[key], str):
            raise ConfigError(f"{source}: costs.{key}: expected text, found {section[key]!r}")
    return {
        "total_cost": float(section["total_cost"]),
        "n_participants": float(section["n_participants"]),
        "currency": _label(section.get("currency", "yuan"), "costs.currency", source),
        "horizon_years": horizon,
        "discount_rate": float(rate),
        "income_outcome": section.get("income_outcome"),
        "periods_per_year": periods,
        "estimand": section.get("estimand"),
        "note": _label(section.get("note", ""), "costs.note", source),
    }


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
        families=_families(raw.get("families") or {}, raw["outcomes"], path),
        subgroups=_subgroups(raw.get("subgroups") or [], path),
        dose=_dose(raw["dose"], base, path, fence) if raw.get("dose") else None,
        costs=_costs(raw["costs"], path) if raw.get("costs") else None,
    )
