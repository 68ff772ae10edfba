"""The cleaning spec: a programme's ``cleaning.yaml``, validated into a frozen record.

This module owns the schema of the spec, its defaults and its validation. An unknown key or an
ill-typed value is a :class:`~doorstep.errors.ConfigError` that names the file, the key, what
was expected and what was found, and lists the allowed keys. It must not import
``doorstep.estimate``, ``doorstep.report`` or ``doorstep.run``.

Schema (every key but ``unit_id`` is optional)::

    unit_id: child_id              # the column identifying a unit (child, woman, household)
    round_column: round            # default "round"
    missing_codes:                 # code -> meaning, for every answer column
      "-99": don't know
      "-88": refused
      "-66": not applicable
    missing_texts:                 # whole-cell texts -> meaning (default 不知道/拒答/不适用)
      不知道: don't know
    missing_code_overrides:        # per variable: its own codes, replacing the defaults
      temperature: {}              #   ({} = no codes: -99 is a real value here)
    money:
      unit: yuan                   # the unit of the cleaned amounts (only yuan for now)
      period: monthly              # what the questions ask for
      annual_above: 20000          # a monthly amount above this is read as annual, / 12
      annual_panel_ratio: [5, 30]  # an amount 5-30 times the median of the unit's other rounds
      variables: [inc_wages, inc_business]
    identifiers:                   # codes whose leading zeros Excel drops
      village_code: {width: 6}
    id_cards: [id_card]            # 18-digit resident ID card numbers to validate
    min_duration_minutes: 15       # shorter interviews are dropped
    personal: [caregiver_name]     # personal columns besides those flagged in the instrument
    constraints: true              # apply the instrument's simple constraints
    skip_logic: true               # blank answers that the instrument's relevant hides
    typed_missing: true            # keep each missing code's meaning in <var>__missing
    outliers:                      # per variable; method iqr|sd|mad; action flag|winsorise
      inc_wages: {method: iqr, threshold: 3, by: [township, round], action: flag}
    straight_lining:               # per scale: its items; rule identical|sd_below
      sdq: {items: [sdq_01, sdq_02], rule: identical, min_items: 20}
      who5: {items: [who5_1, who5_2], rule: sd_below, threshold: 0.5, min_items: 5}
    other_specify: other_specify.csv   # variable, text, new_code (text in <variable>_other)
    corrections: corrections.csv   # unit_id, round, variable, old_value, new_value, who, why
    supervisor_resolutions: [flags_S1.xlsx]  # fieldwork flag lists with a resolution filled in
    duplicates:
      unresolved: keep_latest      # or "error": stop on a new unresolved duplicate
      resolutions: duplicates_resolved.csv  # unit_id, round, record_id, action, new_id, ...
      report: duplicates_report.csv         # where the report to fill is written (named in
                                            # the error)
    panel:
      fallback: {name: caregiver_name, age: child_age, village: village_code}
      links: panel_links.csv       # reviewed: round, recorded_id, unit_id, who, why
    pii:
      pseudonymise: [child_name]   # keyed pseudonyms (HMAC-SHA256)
      drop: [phone]                # removed (as `personal` does)
      gps: {gps: 2}                # coarsened to 2 decimals instead of dropped
      key_env: DOORSTEP_PII_KEY    # where the key is read from ...
      key_file: ~/.doorstep_key    # ... or this file, outside the repository
      demo_key: false              # true: generate key_file on first use (simulated demo only)
      linking_table: /secure/links.csv  # pseudonym -> original, never in a run directory

Paths in the spec are relative to the spec file (``load_spec``) or to ``base_dir`` when the
spec is given as a mapping (default: the working directory).

Examples
--------
>>> spec = validate_spec({"unit_id": "child_id", "min_duration_minutes": 15})
>>> spec.min_duration_minutes, spec.missing_codes["-99"]
(15.0, "don't know")
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from doorstep.errors import ConfigError

__all__ = [
    "DEFAULT_MISSING_CODES",
    "DEFAULT_MISSING_TEXTS",
    "CleaningSpec",
    "DuplicatesSpec",
    "MoneyRule",
    "OutlierSpec",
    "PanelSpec",
    "PiiSpec",
    "StraightLineSpec",
    "load_spec",
    "validate_spec",
]

DEFAULT_MISSING_CODES: Mapping[str, str] = MappingProxyType(
    {"-99": "don't know", "-88": "refused", "-66": "not applicable"}
)
DEFAULT_MISSING_TEXTS: Mapping[str, str] = MappingProxyType(
    {"不知道": "don't know", "拒答": "refused", "拒绝回答": "refused", "不适用": "not applicable",
     "(跳过)": "skipped", "（跳过）": "skipped", "(空)": "not shown", "（空）": "not shown"}
)

_TOP_KEYS = (
    "unit_id", "round_column", "missing_codes", "missing_texts", "missing_code_overrides",
    "money", "identifiers", "id_cards", "min_duration_minutes", "personal", "constraints",
    "skip_logic", "typed_missing", "outliers", "straight_lining", "other_specify", "corrections",
    "duplicates", "panel", "pii", "base_dir", "supervisor_resolutions",
)
_OUTLIER_KEYS = ("method", "threshold", "by", "action", "min_group")
_STRAIGHT_KEYS = ("items", "rule", "threshold", "min_items")
_DUPLICATE_KEYS = ("unresolved", "resolutions", "report")
_PANEL_KEYS = ("fallback", "links")
_FALLBACK_KEYS = ("name", "age", "village")
_PII_KEYS = ("pseudonymise", "drop", "gps", "key_env", "key_file", "demo_key", "linking_table")
_MONEY_KEYS = ("unit", "period", "annual_above", "annual_panel_ratio", "variables")
_IDENTIFIER_KEYS = ("width",)
_MONEY_UNITS = ("yuan",)
_MONEY_PERIODS = ("monthly", "annual")


def _expect_ratio(value: object, where: str) -> tuple[float, float] | None:
    """A pair [low, high] with 1 < low < high, or None."""
    if value is None:
        return None
    if (not isinstance(value, list | tuple) or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            or not 1 < value[0] < value[1]):
        raise ConfigError(
            f"{where}: expected a pair [low, high] of numbers with 1 < low < high, "
            f"found {value!r}"
        )
    return float(value[0]), float(value[1])


@dataclass(frozen=True)
class MoneyRule:
    """How to read money amounts: target unit, period asked, the annual threshold, columns."""

    unit: str = "yuan"
    period: str = "monthly"
    annual_above: float | None = None
    variables: tuple[str, ...] = ()
    annual_panel_ratio: tuple[float, float] | None = None


@dataclass(frozen=True)
class OutlierSpec:
    """One variable's outlier rule (see :class:`doorstep.clean.review.OutlierRule`)."""

    variable: str
    method: str = "iqr"
    threshold: float = 3.0
    by: tuple[str, ...] = ()
    action: str = "flag"
    min_group: int = 5


@dataclass(frozen=True)
class StraightLineSpec:
    """One scale's straight-lining rule (see :class:`doorstep.clean.review.StraightLineRule`)."""

    scale: str
    items: tuple[str, ...]
    rule: str = "identical"
    threshold: float = 0.0
    min_items: int = 5


@dataclass(frozen=True)
class DuplicatesSpec:
    """What to do with several different records of one unit and round."""

    unresolved: str = "keep_latest"
    resolutions: Path | None = None
    report: Path | None = None


@dataclass(frozen=True)
class PanelSpec:
    """Columns of the panel fallback (name, age, village) and the reviewed links table."""

    name: str | None = None
    age: str | None = None
    village: str | None = None
    links: Path | None = None


@dataclass(frozen=True)
class PiiSpec:
    """Personal columns to pseudonymise, drop or coarsen, and where the key comes from."""

    pseudonymise: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    gps: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    key_env: str = "DOORSTEP_PII_KEY"
    key_file: Path | None = None
    demo_key: bool = False
    linking_table: Path | None = None


@dataclass(frozen=True)
class CleaningSpec:
    """A validated cleaning spec; build it with :func:`validate_spec` or :func:`load_spec`.

    Examples
    --------
    >>> CleaningSpec(unit_id="woman_id").round_column
    'round'
    """

    unit_id: str
    round_column: str = "round"
    missing_codes: Mapping[str, str] = field(default_factory=lambda: DEFAULT_MISSING_CODES)
    missing_texts: Mapping[str, str] = field(default_factory=lambda: DEFAULT_MISSING_TEXTS)
    missing_code_overrides: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    money: MoneyRule = MoneyRule()
    identifier_widths: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    id_cards: tuple[str, ...] = ()
    min_duration_minutes: float | None = None
    personal: tuple[str, ...] = ()
    constraints: bool = True
    skip_logic: bool = True
    typed_missing: bool = False
    outliers: tuple[OutlierSpec, ...] = ()
    straight_lining: tuple[StraightLineSpec, ...] = ()
    other_specify: Path | None = None
    corrections: Path | None = None
    supervisor_resolutions: tuple[Path, ...] = ()
    duplicates: DuplicatesSpec = DuplicatesSpec()
    panel: PanelSpec = PanelSpec()
    pii: PiiSpec = PiiSpec()
    base_dir: Path | None = None
    source: str = "<spec>"

    def missing_codes_for(self, variable: str) -> Mapping[str, str]:
        """The missing codes that apply to ``variable`` (its override, else the defaults)."""
        return self.missing_code_overrides.get(variable, self.missing_codes)


def _type_name(value: object) -> str:
    return type(value).__name__


def _check_keys(mapping: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = [key for key in mapping if key not in allowed]
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {unknown}; allowed keys are {list(allowed)}"
        )


def _expect_mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping, found {_type_name(value)} {value!r}")
    return value


def _expect_name(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a column name (text), found {value!r}")
    return value.strip()


def _expect_names(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list | tuple):
        raise ConfigError(
            f"{where}: expected a list of column names, found {_type_name(value)} {value!r}"
        )
    return tuple(_expect_name(item, f"{where}[{index}]") for index, item in enumerate(value))


def _expect_number(value: object, where: str, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ConfigError(f"{where}: expected a number >= {minimum:g}, found {value!r}")
    return float(value)


def _expect_bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, found {value!r}")
    return value


def _expect_codes(value: object, where: str) -> Mapping[str, str]:
    mapping = _expect_mapping(value, where)
    codes: dict[str, str] = {}
    for code, meaning in mapping.items():
        if isinstance(code, bool) or not isinstance(code, str | int | float):
            raise ConfigError(f"{where}: expected codes as text or numbers, found {code!r}")
        if not isinstance(meaning, str) or not meaning.strip():
            raise ConfigError(
                f"{where}[{code!r}]: expected a meaning such as \"don't know\", found {meaning!r}"
            )
        key = str(int(code)) if isinstance(code, float) and code.is_integer() else str(code)
        codes[key.strip()] = meaning.strip()
    return MappingProxyType(codes)


def _expect_choice(value: object, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise ConfigError(f"{where}: expected one of {list(allowed)}, found {value!r}")
    return str(value)


def validate_spec(raw: Mapping[str, Any] | CleaningSpec, source: str = "<spec>") -> CleaningSpec:
    """Check a spec loaded from YAML and turn it into a :class:`CleaningSpec`.

    Parameters
    ----------
    raw
        The mapping read from ``cleaning.yaml`` (a :class:`CleaningSpec` is returned as is).
    source
        The file name used in error messages.

    Returns
    -------
    CleaningSpec

    Raises
    ------
    ConfigError
        An unknown key (the message lists the allowed keys), a missing ``unit_id`` or a value
        of the wrong type.

    Examples
    --------
    >>> validate_spec({"unit_id": "woman_id", "money": {"variables": ["earnings_month"]}}).money
    ... # doctest: +NORMALIZE_WHITESPACE
    MoneyRule(unit='yuan', period='monthly', annual_above=None, variables=('earnings_month',),
              annual_panel_ratio=None)
    """
    if isinstance(raw, CleaningSpec):
        return raw
    spec = _expect_mapping(raw, source)
    _check_keys(spec, _TOP_KEYS, source)
    if "unit_id" not in spec:
        raise ConfigError(f"{source}: expected a key 'unit_id' naming the unit column, found none")
    options: dict[str, Any] = {"source": source}
    options["unit_id"] = _expect_name(spec["unit_id"], f"{source}, unit_id")
    if "round_column" in spec:
        options["round_column"] = _expect_name(spec["round_column"], f"{source}, round_column")
    if "missing_codes" in spec:
        options["missing_codes"] = _expect_codes(spec["missing_codes"], f"{source}, missing_codes")
    if "missing_texts" in spec:
        options["missing_texts"] = _expect_codes(spec["missing_texts"], f"{source}, missing_texts")
    if "missing_code_overrides" in spec:
        where = f"{source}, missing_code_overrides"
        overrides = _expect_mapping(spec["missing_code_overrides"], where)
        options["missing_code_overrides"] = MappingProxyType({
            _expect_name(name, where): _expect_codes(codes or {}, f"{where}, {name}")
            for name, codes in overrides.items()
        })
    if "money" in spec:
        where = f"{source}, money"
        money = _expect_mapping(spec["money"], where)
        _check_keys(money, _MONEY_KEYS, where)
        annual_above = money.get("annual_above")
        options["money"] = MoneyRule(
            unit=_expect_choice(money.get("unit", "yuan"), _MONEY_UNITS, f"{where}, unit"),
            period=_expect_choice(
                money.get("period", "monthly"), _MONEY_PERIODS, f"{where}, period"
            ),
            annual_above=None if annual_above is None else _expect_number(
                annual_above, f"{where}, annual_above", minimum=1.0
            ),
            variables=_expect_names(money.get("variables", []), f"{where}, variables"),
            annual_panel_ratio=_expect_ratio(money.get("annual_panel_ratio"),
                                             f"{where}, annual_panel_ratio"),
        )
        if options["money"].period == "annual" and annual_above is not None:
            raise ConfigError(
                f"{where}, annual_above: expected no threshold when period is 'annual' "
                f"(only monthly amounts are rescaled), found {annual_above!r}"
            )
    if "identifiers" in spec:
        where = f"{source}, identifiers"
        widths: dict[str, int] = {}
        for name, rule in _expect_mapping(spec["identifiers"], where).items():
            rule_where = f"{where}, {name}"
            rule = _expect_mapping(rule, rule_where)
            _check_keys(rule, _IDENTIFIER_KEYS, rule_where)
            width = rule.get("width")
            if isinstance(width, bool) or not isinstance(width, int) or width < 1:
                raise ConfigError(f"{rule_where}, width: expected a whole number >= 1, found "
                                  f"{width!r}")
            widths[_expect_name(name, where)] = width
        options["identifier_widths"] = MappingProxyType(widths)
    if "id_cards" in spec:
        options["id_cards"] = _expect_names(spec["id_cards"], f"{source}, id_cards")
    if spec.get("min_duration_minutes") is not None:
        options["min_duration_minutes"] = _expect_number(
            spec["min_duration_minutes"], f"{source}, min_duration_minutes"
        )
    if "personal" in spec:
        options["personal"] = _expect_names(spec["personal"], f"{source}, personal")
    for key in ("constraints", "skip_logic", "typed_missing"):
        if key in spec:
            options[key] = _expect_bool(spec[key], f"{source}, {key}")
    base = Path(spec["base_dir"]) if spec.get("base_dir") else (
        Path(source).parent if source != "<spec>" else None)
    if base is not None:
        options["base_dir"] = base
    options.update(_extended(spec, source, base))
    return CleaningSpec(**options)


def _expect_path(value: object, where: str, base: Path | None) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a file path, found {value!r}")
    path = Path(value.strip()).expanduser()
    return path if path.is_absolute() or base is None else base / path


def _extended(spec: Mapping[str, Any], source: str, base: Path | None) -> dict[str, Any]:
    """The keys added by issue 4: outliers, straight-lining, decision files, panel, pii."""
    options: dict[str, Any] = {}
    if "outliers" in spec:
        where = f"{source}, outliers"
        rules = []
        for name, rule in _expect_mapping(spec["outliers"], where).items():
            rule_where = f"{where}, {name}"
            rule = _expect_mapping(rule or {}, rule_where)
            _check_keys(rule, _OUTLIER_KEYS, rule_where)
            rules.append(OutlierSpec(
                variable=_expect_name(name, where),
                method=_expect_choice(rule.get("method", "iqr"), ("iqr", "sd", "mad"),
                                      f"{rule_where}, method"),
                threshold=_expect_number(rule.get("threshold", 3.0), f"{rule_where}, threshold",
                                         minimum=0.0),
                by=_expect_names(rule.get("by", []), f"{rule_where}, by"),
                action=_expect_choice(rule.get("action", "flag"), ("flag", "winsorise"),
                                      f"{rule_where}, action"),
                min_group=int(_expect_number(rule.get("min_group", 5), f"{rule_where}, min_group",
                                             minimum=2)),
            ))
        options["outliers"] = tuple(rules)
    if "straight_lining" in spec:
        where = f"{source}, straight_lining"
        rules = []
        for name, rule in _expect_mapping(spec["straight_lining"], where).items():
            rule_where = f"{where}, {name}"
            rule = _expect_mapping(rule, rule_where)
            _check_keys(rule, _STRAIGHT_KEYS, rule_where)
            if "items" not in rule:
                raise ConfigError(f"{rule_where}: expected a key 'items' listing the scale's "
                                  "item columns, found none")
            items = _expect_names(rule["items"], f"{rule_where}, items")
            rules.append(StraightLineSpec(
                scale=_expect_name(name, where), items=items,
                rule=_expect_choice(rule.get("rule", "identical"), ("identical", "sd_below"),
                                    f"{rule_where}, rule"),
                threshold=_expect_number(rule.get("threshold", 0.0), f"{rule_where}, threshold"),
                min_items=int(_expect_number(rule.get("min_items", min(5, len(items))),
                                             f"{rule_where}, min_items", minimum=2)),
            ))
        options["straight_lining"] = tuple(rules)
    for key in ("other_specify", "corrections"):
        if spec.get(key) is not None:
            options[key] = _expect_path(spec[key], f"{source}, {key}", base)
    if spec.get("supervisor_resolutions") is not None:
        where = f"{source}, supervisor_resolutions"
        files = spec["supervisor_resolutions"]
        if not isinstance(files, list):
            raise ConfigError(f"{where}: expected a list of flag-list files, found {files!r}")
        options["supervisor_resolutions"] = tuple(
            _expect_path(item, f"{where}[{number}]", base)
            for number, item in enumerate(files, start=1))
    if "duplicates" in spec:
        where = f"{source}, duplicates"
        rule = _expect_mapping(spec["duplicates"], where)
        _check_keys(rule, _DUPLICATE_KEYS, where)
        options["duplicates"] = DuplicatesSpec(
            unresolved=_expect_choice(rule.get("unresolved", "keep_latest"),
                                      ("keep_latest", "error"), f"{where}, unresolved"),
            resolutions=None if rule.get("resolutions") is None else _expect_path(
                rule["resolutions"], f"{where}, resolutions", base),
            report=None if rule.get("report") is None else _expect_path(
                rule["report"], f"{where}, report", base),
        )
    if "panel" in spec:
        where = f"{source}, panel"
        rule = _expect_mapping(spec["panel"], where)
        _check_keys(rule, _PANEL_KEYS, where)
        fallback = _expect_mapping(rule.get("fallback", {}) or {}, f"{where}, fallback")
        _check_keys(fallback, _FALLBACK_KEYS, f"{where}, fallback")
        options["panel"] = PanelSpec(
            **{key: _expect_name(fallback[key], f"{where}, fallback, {key}")
               for key in _FALLBACK_KEYS if fallback.get(key) is not None},
            links=None if rule.get("links") is None else _expect_path(
                rule["links"], f"{where}, links", base),
        )
    if "pii" in spec:
        where = f"{source}, pii"
        rule = _expect_mapping(spec["pii"], where)
        _check_keys(rule, _PII_KEYS, where)
        gps = {}
        for name, decimals in _expect_mapping(rule.get("gps", {}) or {}, f"{where}, gps").items():
            if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals \
                    <= 4:
                raise ConfigError(f"{where}, gps, {name}: expected a whole number of decimals "
                                  f"0-4, found {decimals!r}")
            gps[_expect_name(name, f"{where}, gps")] = decimals
        options["pii"] = PiiSpec(
            pseudonymise=_expect_names(rule.get("pseudonymise", []), f"{where}, pseudonymise"),
            drop=_expect_names(rule.get("drop", []), f"{where}, drop"),
            gps=MappingProxyType(gps),
            key_env=_expect_name(rule.get("key_env", "DOORSTEP_PII_KEY"), f"{where}, key_env"),
            key_file=None if rule.get("key_file") is None else _expect_path(
                rule["key_file"], f"{where}, key_file", base),
            demo_key=_expect_bool(rule.get("demo_key", False), f"{where}, demo_key"),
            linking_table=None if rule.get("linking_table") is None else _expect_path(
                rule["linking_table"], f"{where}, linking_table", base),
        )
    return options


def load_spec(path: str | Path) -> CleaningSpec:
    """Read and validate a ``cleaning.yaml`` file.

    Raises
    ------
    ConfigError
        If the file is missing, is not YAML, or does not follow the schema.

    Examples
    --------
    >>> load_spec("surveys/caring_mothers/cleaning.yaml").unit_id  # doctest: +SKIP
    'child_id'
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: cleaning spec not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: expected a YAML cleaning spec, cannot read it: {error}") from (
            error
        )
    return validate_spec(raw if raw is not None else {}, source=str(path))
