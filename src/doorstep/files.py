"""Writing Doorstep's output files: atomic and byte-reproducible.

Every module that writes an output (the runner, the report's tables, the simulator) writes
through this one module, which imports nothing of Doorstep beyond its errors and the spreadsheet
guard, so that any layer may use it.

Every file is written to a temporary name in its folder and renamed into place, so a reader
never sees half a file. CSV floats are written with 12 significant digits so that the same
numbers give the same bytes. A write that the system refuses (a read-only folder, a full disk,
no permission) is a :class:`~doorstep.errors.RunError` naming the path and the reason, and leaves
no temporary file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from doorstep.errors import RunError
from doorstep.spreadsheet import neutralise_frame

CSV_FLOAT_FORMAT = "%.12g"
FILE_MODE = 0o644


def cannot_write(path: Path, error: OSError) -> RunError:
    """The RunError for an output the system refused to write, naming the path and reason.

    Examples
    --------
    >>> import errno
    >>> error = cannot_write(Path("/r/a.csv"), OSError(errno.ENOSPC, "No space left on device"))
    >>> str(error)[:60]
    '/r/a.csv: cannot write the output file (No space left on dev'
    """
    reason = error.strerror or str(error)
    return RunError(
        f"{path}: cannot write the output file ({reason}); expected a writable folder with free "
        "space: free some space or choose another output folder"
    )


def write_atomic(path: str | Path, content: str | bytes, *, mode: int = FILE_MODE) -> Path:
    """Write ``content`` to ``path`` through a temporary file and a rename.

    ``mode`` is the file's permission bits (shared outputs by default; ``0o600`` for a file only
    its owner may read, such as the personal linking table).

    Raises
    ------
    RunError
        When the folder cannot be created or written (read-only, full, no permission).

    Examples
    --------
    >>> import tempfile
    >>> write_atomic(Path(tempfile.mkdtemp()) / "a.txt", "hello").read_text()
    'hello'
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                                 suffix=".tmp")
    except OSError as error:
        raise cannot_write(path, error) from error
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content.encode("utf-8") if isinstance(content, str) else content)
        os.chmod(temporary, mode)  # mkstemp makes files private; outputs are shared
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise cannot_write(path, error) from error
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_csv(frame: pd.DataFrame, path: str | Path, *, mode: int = FILE_MODE) -> Path:
    """Write a frame as UTF-8 CSV (no index), atomically and reproducibly.

    Text cells that a spreadsheet would run as a formula are neutralised first (see
    :mod:`doorstep.spreadsheet`); numbers are written as they are.

    Examples
    --------
    >>> import tempfile
    >>> frame = pd.DataFrame({"term": ["=HYPERLINK(1)"], "estimate": [-1.5]})
    >>> print(write_csv(frame, Path(tempfile.mkdtemp()) / "a.csv").read_text().strip())
    term,estimate
    '=HYPERLINK(1),-1.5
    """
    return write_atomic(path, neutralise_frame(frame).to_csv(
        index=False, float_format=CSV_FLOAT_FORMAT, lineterminator="\n"), mode=mode)


def write_parquet(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a frame as Parquet, atomically."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        frame.to_parquet(temporary, index=False)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise cannot_write(path, error) from error
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def write_json(data: object, path: str | Path) -> Path:
    """Write JSON (UTF-8, sorted keys), atomically."""
    return write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True,
                                         default=str))
