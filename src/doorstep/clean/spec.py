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
    "MoneyRule",
    "load_spec",
    "validate_spec",
]

DEFAULT_MISSING_CODES: Mapping[str, str] = MappingProxyType(
    {"-99": "don't know", "-88": "refused", "-66": "not applicable"}
)
DEFAULT_MISSING_TEXTS: Mapping[str, str] = MappingProxyType(
    {"不知道": "don't know", "拒答": "refused", "拒绝回答": "refused", "不适用": "not applicable"}
)

_TOP_KEYS = (
    "unit_id", "round_column", "missing_codes", "missing_texts", "missing_code_overrides",
    "money", "identifiers", "id_cards", "min_duration_minutes", "personal", "constraints",
    "skip_logic",
)
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
    for key in ("constraints", "skip_logic"):
        if key in spec:
            options[key] = _expect_bool(spec[key], f"{source}, {key}")
    return CleaningSpec(**options)


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
