"""The state of the previous check run, so that each run can say what is new.

This module owns a small JSON file, ``<state_dir>/checks_state.json``, holding the interview
keys (``<source file>#<record id>``) and flag keys seen by the last run. It is written atomically
(a temporary name, then a rename). It must not import ``estimate``, ``report`` or ``run``.

Examples
--------
>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> _ = save_state_keys(folder, ["a.csv#1"], ["f1"])
>>> sorted(load_state(folder)["records"])
['a.csv#1']
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from doorstep.errors import DataError

STATE_FILE = "checks_state.json"
STATE_VERSION = 1


def load_state(state_dir: str | Path | None) -> dict | None:
    """Read the previous run's state: ``{"records": set, "flags": set}``, or None if none.

    Raises
    ------
    DataError
        When the state file exists but is not a state written by :func:`save_state`.

    Examples
    --------
    >>> load_state(None) is None
    True
    """
    if state_dir is None:
        return None
    path = Path(state_dir) / STATE_FILE
    if not path.is_file():
        return None
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
        return {"records": set(content["records"]), "flags": set(content["flags"])}
    except (ValueError, KeyError, TypeError) as error:
        raise DataError(f"{path}: expected a checks state (JSON with 'records' and 'flags'), "
                        f"found unreadable content ({error}); delete it to start afresh") from error


def save_state_keys(state_dir: str | Path, records, flags) -> Path:
    """Write record and flag keys as the new state (atomic).

    Examples
    --------
    >>> # see the module example
    """
    folder = Path(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    content = {"version": STATE_VERSION, "records": sorted(set(records)),
               "flags": sorted(set(flags))}
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".checks_state.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        json.dump(content, file, ensure_ascii=False)
    target = folder / STATE_FILE
    os.replace(temporary, target)
    return target


def save_state(results, state_dir: str | Path) -> Path:
    """Save the interviews and flags of a :class:`~doorstep.checks.CheckResults` as the state.

    Examples
    --------
    >>> save_state(results, "data/caring_mothers/checks_state")  # doctest: +SKIP
    """
    return save_state_keys(state_dir, results.records, results.flags["flag_key"])
