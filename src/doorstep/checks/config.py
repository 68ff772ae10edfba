"""The configuration of the fieldwork checks: a plain dict, validated into a frozen record.

This module owns the names, types and defaults of every key :func:`run_checks` accepts.
An unknown key or an ill-typed value is a :class:`~doorstep.errors.ConfigError` that names the
key, what was expected and what was found. It must not import ``estimate``, ``report`` or ``run``.

Schema (every key optional except ``id_column``)
-------------------------------------------------
id_column : str
    The interviewed unit's id (``child_id``).
enumerator_column : str, default "enumerator"
    Enumerator id; falls back to ``username`` when the column is absent.
village_column, township_column : str, default "village_code", "township"
sample : DataFrame or str or None
    Target list (a frame or a CSV path) with ``id_column`` and optionally the village,
    township and enumerator columns; needed for progress and "id not in sample".
end_date, as_of : str (ISO date) or None
    Last day of fieldwork and the day of the check (default: the latest interview date).
consent_column : str or None; consent_refused_values : list of str, default ["0"]
phone_columns : list of str, default ["phone"]; gps_column : str or None, default "gps"
hash_key : str or None
    Secret key of the HMAC-SHA256 phone hash; required when a phone column is present.
personal_columns : list of str
    Extra personal columns on top of the instrument's ``pii`` flags (always masked).
missing_codes : dict, default {"-99": "dont_know", "-88": "refused", "-66": "not_applicable"}
other_codes : list of str, default ["other", "96", "-96"]
min_duration_minutes : float, default 15; min_seconds_per_question : float, default 15
outlier_multiplier : float, default 3.0 (distance from the median in interquartile ranges)
outlier_groups : list of str, default [] (e.g. ["township"]: outliers within each group)
scales : dict name -> list of columns; default: every choice list with at least 3 items
    named ``sdq``, ``who5``, ``ucla``, ``k6`` ... in the instrument.
ranking_exclude : list of str; default: id, enumerator, village, township and personal columns
ranking_weights : dict, default {"distance": 1, "duration": 1, "straightlining": 1}
version_column : str or None; expected_version : str or None
section_time_columns : dict section -> column holding that section's seconds
supervisors : dict enumerator -> supervisor (default: every enumerator -> "all")
language : "en" or "zh", default "en"
state_dir : str or None; folder of the previous run's state (incremental reports)
duplicate_scope : "file" or "all", default "file" (a unit appears once per export/round)
backcheck : dict or None; see :func:`doorstep.checks.backcheck.compare_backcheck`.

Examples
--------
>>> config = check_config({"id_column": "child_id", "language": "zh"})
>>> config.language, config.min_duration_minutes
('zh', 15.0)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd

from doorstep.errors import ConfigError

LANGUAGES = ("en", "zh")
DUPLICATE_SCOPES = ("file", "all")
DEFAULT_MISSING_CODES = MappingProxyType(
    {"-99": "dont_know", "-88": "refused", "-66": "not_applicable"}
)
RANKING_COMPONENTS = ("distance", "duration", "straightlining")


@dataclass(frozen=True)
class CheckConfig:
    """The validated configuration of :func:`run_checks`; see the module docstring.

    Examples
    --------
    >>> CheckConfig(id_column="woman_id").enumerator_column
    'enumerator'
    """

    id_column: str
    enumerator_column: str = "enumerator"
    village_column: str = "village_code"
    township_column: str = "township"
    sample: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    end_date: dt.date | None = None
    as_of: dt.date | None = None
    consent_column: str | None = None
    consent_refused_values: tuple[str, ...] = ("0",)
    phone_columns: tuple[str, ...] = ("phone",)
    gps_column: str | None = "gps"
    hash_key: str | None = field(default=None, repr=False)
    personal_columns: tuple[str, ...] = ()
    missing_codes: MappingProxyType = field(default_factory=lambda: DEFAULT_MISSING_CODES)
    other_codes: tuple[str, ...] = ("other", "96", "-96")
    min_duration_minutes: float = 15.0
    min_seconds_per_question: float = 15.0
    outlier_multiplier: float = 3.0
    outlier_groups: tuple[str, ...] = ()
    scales: MappingProxyType | None = None
    ranking_exclude: tuple[str, ...] | None = None
    ranking_weights: MappingProxyType = field(default_factory=lambda: MappingProxyType(
        {"distance": 1.0, "duration": 1.0, "straightlining": 1.0}))
    version_column: str | None = None
    expected_version: str | None = None
    section_time_columns: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    supervisors: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    language: str = "en"
    state_dir: Path | None = None
    duplicate_scope: str = "file"
    backcheck: MappingProxyType | None = field(default=None, compare=False, repr=False)


def _expect(key: str, value: Any, kind: type | tuple, what: str) -> Any:
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise ConfigError(f"checks config key {key!r}: expected {what}, found {value!r}")
    if not isinstance(value, kind):
        raise ConfigError(f"checks config key {key!r}: expected {what}, found {value!r}")
    return value


def _strings(key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    _expect(key, value, (list, tuple), "a list of column names")
    for item in value:
        _expect(key, item, str, "a list of strings")
    return tuple(value)


def _date(key: str, value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value.date() if isinstance(value, dt.datetime) else value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as error:
        raise ConfigError(
            f"checks config key {key!r}: expected an ISO date (2024-03-20), found {value!r}"
        ) from error


def _sample(value: Any) -> pd.DataFrame | None:
    if value is None or isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, str | Path):
        path = Path(value)
        if not path.is_file():
            raise ConfigError(f"checks config key 'sample': file {path} not found")
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    raise ConfigError(f"checks config key 'sample': expected a DataFrame or a CSV path, "
                      f"found {type(value).__name__}")


def check_config(config: dict | CheckConfig) -> CheckConfig:
    """Validate a checks config dict into a :class:`CheckConfig`.

    Parameters
    ----------
    config
        The dict (see the module docstring for the keys) or an already validated config.

    Returns
    -------
    CheckConfig

    Raises
    ------
    ConfigError
        For an unknown key (the message lists the allowed ones) or an ill-typed value.

    Examples
    --------
    >>> check_config({"id_column": "child_id", "outlier_groups": ["township"]}).outlier_groups
    ('township',)
    """
    if isinstance(config, CheckConfig):
        return config
    _expect("config", config, dict, "a dict")
    allowed = {item.name for item in fields(CheckConfig)}
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise ConfigError(f"checks config: unknown key(s) {', '.join(unknown)}; "
                          f"allowed: {', '.join(sorted(allowed))}")
    if "id_column" not in config:
        raise ConfigError("checks config: key 'id_column' is required (the unit id column)")
    values: dict[str, Any] = {}
    for key, value in config.items():
        if key in {"id_column", "enumerator_column", "village_column", "township_column"}:
            values[key] = _expect(key, value, str, "a column name")
        elif key in {"consent_column", "gps_column", "version_column", "expected_version",
                     "hash_key"}:
            values[key] = None if value is None else _expect(key, value, str, "a string")
        elif key in {"consent_refused_values", "phone_columns", "personal_columns",
                     "other_codes", "outlier_groups"}:
            values[key] = _strings(key, value)
        elif key == "ranking_exclude":
            values[key] = None if value is None else _strings(key, value)
        elif key in {"min_duration_minutes", "min_seconds_per_question", "outlier_multiplier"}:
            number = _expect(key, value, (int, float), "a positive number")
            if number <= 0:
                raise ConfigError(f"checks config key {key!r}: expected a positive number, "
                                  f"found {value!r}")
            values[key] = float(number)
        elif key in {"end_date", "as_of"}:
            values[key] = _date(key, value)
        elif key == "sample":
            values[key] = _sample(value)
        elif key == "missing_codes":
            _expect(key, value, dict, "a dict code -> meaning")
            values[key] = MappingProxyType({str(code): str(m) for code, m in value.items()})
        elif key == "scales":
            if value is not None:
                _expect(key, value, dict, "a dict scale name -> list of columns")
                value = MappingProxyType({str(n): _strings(f"scales.{n}", c)
                                          for n, c in value.items()})
            values[key] = value
        elif key == "ranking_weights":
            _expect(key, value, dict, f"a dict with keys among {RANKING_COMPONENTS}")
            extra = sorted(set(value) - set(RANKING_COMPONENTS))
            if extra:
                raise ConfigError(f"checks config key 'ranking_weights': unknown component(s) "
                                  f"{extra}; allowed: {list(RANKING_COMPONENTS)}")
            weights = {"distance": 1.0, "duration": 1.0, "straightlining": 1.0}
            for name, weight in value.items():
                weights[name] = float(_expect(f"ranking_weights.{name}", weight, (int, float),
                                              "a number"))
            values[key] = MappingProxyType(weights)
        elif key in {"section_time_columns", "supervisors"}:
            _expect(key, value, dict, "a dict of strings")
            values[key] = MappingProxyType({str(k): str(v) for k, v in value.items()})
        elif key == "language":
            if value not in LANGUAGES:
                raise ConfigError(f"checks config key 'language': expected one of "
                                  f"{list(LANGUAGES)}, found {value!r}")
            values[key] = value
        elif key == "duplicate_scope":
            if value not in DUPLICATE_SCOPES:
                raise ConfigError(f"checks config key 'duplicate_scope': expected one of "
                                  f"{list(DUPLICATE_SCOPES)}, found {value!r}")
            values[key] = value
        elif key == "state_dir":
            values[key] = None if value is None else Path(_expect(key, value, (str, Path),
                                                                   "a folder path"))
        elif key == "backcheck":
            if value is not None:
                _expect(key, value, dict, "a dict (see compare_backcheck)")
                value = MappingProxyType(dict(value))
            values[key] = value
    return CheckConfig(**values)
