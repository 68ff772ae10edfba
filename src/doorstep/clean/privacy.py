"""Personal data: keyed pseudonyms, dropped columns, coarsened GPS, and the key.

This module owns what happens to personal columns before analysis: a column is replaced by a
keyed pseudonym (HMAC-SHA256 with a secret key, ``pid_`` and 16 hex digits: the same person
gets the same pseudonym in every round and every run with the same key), or dropped; a GPS
column is coarsened to a declared number of decimals instead of dropped when the spec says
so. The key is read from an environment variable (default ``DOORSTEP_PII_KEY``) or a key file
outside the repository; it is never written to an output or put in a message. The linking
table (pseudonym -> original) is returned apart and written only where the spec points, never
inside a run directory. It must not import ``doorstep.estimate``, ``doorstep.report`` or
``doorstep.run``.

Examples
--------
>>> import pandas as pd
>>> rule = PseudonymRule(columns=("name",), key=b"k" * 32)
>>> pseudonymise_columns(pd.DataFrame({"name": ["王芳"]}), rule).frame["name"].str[:4].tolist()
['pid_']
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from doorstep.clean.steps import StepResult, _entries, _result, map_unique
from doorstep.clean.values import render_value
from doorstep.errors import ConfigError
from doorstep.files import write_atomic, write_csv

__all__ = [
    "DEFAULT_KEY_ENV",
    "LINKING_COLUMNS",
    "GpsRule",
    "PseudonymRule",
    "coarsen_gps",
    "linking_table",
    "pseudonym",
    "pseudonymise_columns",
    "read_key",
    "write_linking_table",
]

DEFAULT_KEY_ENV = "DOORSTEP_PII_KEY"
LINKING_COLUMNS = ("variable", "pseudonym", "original")
_PSEUDONYM = re.compile(r"^pid_[0-9a-f]{16}$")
_MIN_KEY_BYTES = 16


def _create_demo_key(key_file: Path) -> None:
    """Write a random key into ``key_file`` unless another process got there first.

    The key is written to a private temporary file and hard-linked into place, which fails if
    the file exists: two runs started together both end up with the one key that won.
    """
    key_file.parent.mkdir(parents=True, exist_ok=True)
    temporary = write_atomic(key_file.with_name(f".{key_file.name}.{os.getpid()}.new"),
                             secrets.token_hex(32) + "\n", mode=0o600)
    try:
        os.link(temporary, key_file)
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)


def read_key(*, env: str = DEFAULT_KEY_ENV, key_file: Path | None = None,
             demo_key: bool = False, needed_for: str = "pseudonymise") -> bytes:
    """The pseudonymisation key: the environment variable, else the key file.

    With ``demo_key`` and a ``key_file`` that does not exist yet, a random key is generated
    into it (for the simulated demo only; keep that file out of git).

    Raises
    ------
    ConfigError
        No key is available, or it is too short; the message says how to provide one and
        never shows the key.

    Examples
    --------
    >>> import os
    >>> os.environ["DOORSTEP_TEST_KEY"] = "x" * 32
    >>> len(read_key(env="DOORSTEP_TEST_KEY"))
    32
    """
    value = os.environ.get(env)
    source = f"environment variable {env}"
    if not value and key_file is not None:
        key_file = Path(key_file)
        if not key_file.is_file() and demo_key:
            _create_demo_key(key_file)
        if key_file.is_file():
            value = key_file.read_text(encoding="utf-8").strip()
            source = f"key file {key_file}"
    if not value:
        raise ConfigError(
            f"pii.{needed_for}: expected a secret key for the keyed pseudonyms, found none. "
            f"Set the environment variable {env} to a long random text (for example the output "
            "of: python -c \"import secrets; print(secrets.token_hex(32))\"), or write such a "
            "text into a file outside the repository and name it in pii.key_file"
            + ("" if demo_key else "; for the simulated demo only, pii.demo_key: true "
               "generates one into pii.key_file")
        )
    key = value.encode("utf-8")
    if len(key) < _MIN_KEY_BYTES:
        raise ConfigError(f"pii key from the {source}: expected at least {_MIN_KEY_BYTES} "
                          f"characters, found {len(key)} (the key itself is not shown)")
    return key


def pseudonym(value: object, key: bytes) -> str | None:
    """The keyed pseudonym of a value: ``pid_`` and 16 hex digits of HMAC-SHA256.

    Examples
    --------
    >>> pseudonym("王芳", b"k" * 32) == pseudonym("王芳", b"k" * 32)
    True
    """
    text = render_value(value)
    if text is None:
        return None
    digest = hmac.new(key, text.strip().encode("utf-8"), hashlib.sha256).hexdigest()
    return f"pid_{digest[:16]}"


@dataclass(frozen=True)
class PseudonymRule:
    """Columns to replace by keyed pseudonyms, and the key (never printed)."""

    columns: tuple[str, ...]
    key: bytes = b""

    def __repr__(self) -> str:
        return f"PseudonymRule(columns={self.columns!r}, key=<hidden>)"


def pseudonymise_columns(frame: pd.DataFrame, rule: PseudonymRule) -> StepResult:
    """Replace personal values by keyed pseudonyms (rule ``pseudonymise``, logged, masked).

    Values that already are pseudonyms are left alone, so cleaning clean data changes nothing.
    The linking table comes from :func:`linking_table` on the same frame and rule.

    Examples
    --------
    >>> import pandas as pd
    >>> rule = PseudonymRule(("name",), b"k" * 32)
    >>> once = pseudonymise_columns(pd.DataFrame({"name": ["王芳"]}), rule).frame
    >>> pseudonymise_columns(once, rule).log.empty
    True
    """
    if rule.columns and not rule.key:
        raise ConfigError("pii.pseudonymise: expected a key, found none")
    updates, log = {}, []
    for name in [column for column in rule.columns if column in frame.columns]:
        column = frame[name]
        mapped = map_unique(column, lambda value: value if isinstance(value, str) and
                            _PSEUDONYM.match(value) else pseudonym(value, rule.key))
        changed = [old != new for old, new in zip(mapped.uniques, mapped.results, strict=True)]
        if not any(changed):
            continue
        rows = mapped.rows(changed)
        updates[name] = pd.Series(mapped.take(mapped.results), index=column.index,
                                  dtype="str").where(column.notna(), None)
        log.append(_entries(column.index[rows], name, "pseudonymise",
                            "personal value replaced by its keyed pseudonym",
                            old_value="<personal>", new_value="<pseudonym>"))
    return _result(frame.assign(**updates) if updates else frame, log)


def linking_table(frame: pd.DataFrame, rule: PseudonymRule) -> pd.DataFrame:
    """The pseudonym -> original table of a frame: (variable, pseudonym, original).

    Keep it apart: write it only with :func:`write_linking_table`.

    Examples
    --------
    >>> import pandas as pd
    >>> rule = PseudonymRule(("name",), b"k" * 32)
    >>> linking_table(pd.DataFrame({"name": ["王芳"]}), rule).columns.tolist()
    ['variable', 'pseudonym', 'original']
    """
    links = []
    for name in [column for column in rule.columns if column in frame.columns]:
        mapped = map_unique(frame[name], lambda value: pseudonym(value, rule.key))
        links += [{"variable": name, "pseudonym": new, "original": render_value(old)}
                  for old, new in zip(mapped.uniques, mapped.results, strict=True)
                  if not (isinstance(old, str) and _PSEUDONYM.match(old))]
    return pd.DataFrame.from_records(links, columns=list(LINKING_COLUMNS))


@dataclass(frozen=True)
class GpsRule:
    """GPS columns ("lat lon [alt acc]" text, or numbers) and the decimals to keep."""

    decimals: dict[str, int]


def _coarsen(value: object, decimals: int) -> str | None:
    text = render_value(value)
    if text is None:
        return None
    parts = text.replace(",", " ").split()
    try:
        numbers = [float(part) for part in parts[:2]]
    except ValueError:
        return None
    return " ".join(f"{number:.{decimals}f}" for number in numbers)


def coarsen_gps(frame: pd.DataFrame, rule: GpsRule) -> StepResult:
    """Round GPS points to the declared decimals (2 decimals: about 1 km), altitude dropped.

    Unreadable points are set missing; every changed cell is logged (values masked as
    personal by the run).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"gps": ["30.044986 122.113341 4.0 17.4"]})
    >>> coarsen_gps(frame, GpsRule({"gps": 2})).frame["gps"].tolist()
    ['30.04 122.11']
    """
    updates, log = {}, []
    for name, decimals in rule.decimals.items():
        if name not in frame.columns:
            continue
        column = frame[name]
        mapped = map_unique(column, lambda value, d=decimals: _coarsen(value, d))
        changed = [render_value(old) != new for old, new in
                   zip(mapped.uniques, mapped.results, strict=True)]
        if not any(changed):
            continue
        rows = mapped.rows(changed)
        updates[name] = pd.Series(mapped.take(mapped.results), index=column.index,
                                  dtype=object).astype("str").where(
            pd.Series(mapped.take(mapped.results), index=column.index).notna(), None)
        log.append(_entries(column.index[rows], name, "gps_coarsened",
                            f"GPS point rounded to {decimals} decimals",
                            old_value=mapped.take([render_value(v) for v in mapped.uniques])[rows],
                            new_value=mapped.take(mapped.results)[rows]))
    return _result(frame.assign(**updates) if updates else frame, log)


def write_linking_table(linking: pd.DataFrame, path: str | Path) -> Path:
    """Write the pseudonym -> original table where the spec points, atomically.

    Raises
    ------
    ConfigError
        The path is inside a run directory (a folder holding ``manifest.json``) or under a
        ``reports`` folder: the linking table must be kept apart from every output.

    Examples
    --------
    >>> write_linking_table(linking, "/secure/caring_mothers_links.csv")  # doctest: +SKIP
    """
    path = Path(path).resolve()
    for folder in path.parents:
        if (folder / "manifest.json").exists() or folder.name == "reports":
            raise ConfigError(f"pii.linking_table: expected a place outside run directories "
                              f"and reports/, found {path}")
    merged = linking
    if path.is_file():
        merged = pd.concat([pd.read_csv(path, dtype=str, keep_default_na=False), linking])
    merged = merged.drop_duplicates(["variable", "pseudonym"]).sort_values(
        ["variable", "pseudonym"])
    return write_csv(merged, path, mode=0o600)

