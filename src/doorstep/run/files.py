"""Writing a run's files: atomic and byte-reproducible.

Every file is written to a temporary name in its folder and renamed into place, so a reader
never sees half a file. CSV floats are written with 12 significant digits so that the same
numbers give the same bytes.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd

CSV_FLOAT_FORMAT = "%.12g"
FILE_MODE = 0o644


def write_atomic(path: str | Path, content: str | bytes) -> Path:
    """Write ``content`` to ``path`` through a temporary file and a rename.

    Examples
    --------
    >>> import tempfile
    >>> write_atomic(Path(tempfile.mkdtemp()) / "a.txt", "hello").read_text()
    'hello'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content.encode("utf-8") if isinstance(content, str) else content)
        os.chmod(temporary, FILE_MODE)  # mkstemp makes files private; outputs are shared
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a frame as UTF-8 CSV (no index), atomically and reproducibly."""
    return write_atomic(path, frame.to_csv(index=False, float_format=CSV_FLOAT_FORMAT,
                                           lineterminator="\n"))


def write_parquet(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a frame as Parquet, atomically."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    frame.to_parquet(temporary, index=False)
    os.replace(temporary, path)
    return path


def write_json(data: object, path: str | Path) -> Path:
    """Write JSON (UTF-8, sorted keys), atomically."""
    return write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True,
                                         default=str))
