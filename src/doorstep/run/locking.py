"""Exclusive locks on folders of runs and on run directories, so two writers never collide.

This module owns ``<folder>/.doorstep.lock``: an advisory ``fcntl.flock`` held for as long as a
batch runs, and ``<parent>/.<run>.lock`` (:func:`run_lock`), held by one run for its run
directory so that two runs started on the same ``--run-dir`` cannot both build it. The kernel
releases a lock when the process ends, even after ``SIGKILL``, so a killed run never leaves a
lock behind. A lock file records its holder (host and process id) so that the error for a
second writer says who holds it. POSIX only, like the kernels themselves.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from doorstep.errors import RunError

LOCK_NAME = ".doorstep.lock"


@contextmanager
def _exclusive(path: Path, refused: str) -> Iterator[Path]:
    """Hold an exclusive flock on ``path`` (created if missing); RunError if another holds it."""
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise RunError(f"{path}: cannot create the lock file ({error.strerror or error}); "
                       "expected a writable output folder") from error
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = path.read_text(encoding="utf-8", errors="replace").strip() or "unknown"
            raise RunError(refused.format(holder=holder)) from None
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"host {socket.gethostname()}, pid {os.getpid()}\n".encode())
        try:
            yield path
        finally:
            os.ftruncate(descriptor, 0)
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


@contextmanager
def folder_lock(folder: str | Path) -> Iterator[Path]:
    """Hold the exclusive lock of ``folder`` (created if missing) for the ``with`` block.

    Raises
    ------
    RunError
        If another process holds the lock; the message names its host and process id.

    Examples
    --------
    >>> import tempfile
    >>> with folder_lock(tempfile.mkdtemp()) as lock:
    ...     print(lock.name)
    .doorstep.lock
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunError(f"{folder}: cannot create the output folder ({error.strerror or error}); "
                       "expected a writable place: choose another output folder") from error
    with _exclusive(folder / LOCK_NAME,
                    f"{folder}: another batch is writing into this folder ({{holder}}); wait for "
                    "it to finish or choose another output folder") as path:
        yield path


@contextmanager
def run_lock(run_dir: str | Path) -> Iterator[Path]:
    """Hold the lock of one run directory, ``<parent>/.<name>.lock``, for the ``with`` block.

    The run directory itself is built elsewhere and renamed into place, so the lock sits beside
    it; the kernel releases it when the process ends, even after ``SIGKILL``.

    Raises
    ------
    RunError
        If another run holds it (the message names the run directory, host and process id),
        or if the parent folder cannot be written.

    Examples
    --------
    >>> import tempfile
    >>> with run_lock(Path(tempfile.mkdtemp()) / "run1") as lock:
    ...     print(lock.name)
    .run1.lock
    """
    run_dir = Path(run_dir)
    try:
        run_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunError(f"{run_dir.parent}: cannot create the output folder "
                       f"({error.strerror or error}); expected a writable place: choose "
                       "another --run-dir") from error
    with _exclusive(run_dir.parent / f".{run_dir.name}.lock",
                    f"{run_dir}: another run is building this run directory ({{holder}}); wait "
                    "for it to finish or choose another --run-dir") as path:
        yield path
