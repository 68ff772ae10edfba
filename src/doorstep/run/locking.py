"""An exclusive lock on a folder of runs, so two batches never write into it at once.

This module owns ``<folder>/.doorstep.lock``: an advisory ``fcntl.flock`` held for as long as a
batch runs. The kernel releases it when the process ends, even after ``SIGKILL``, so a killed
batch never leaves a lock behind. The file records the holder (host and process id) so that the
error for a second batch says who holds the folder. POSIX only, like the kernels themselves.
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
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = path.read_text(encoding="utf-8", errors="replace").strip() or "unknown"
            raise RunError(
                f"{folder}: another batch is writing into this folder ({holder}); wait for it "
                f"to finish or choose another output folder"
            ) from None
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"host {socket.gethostname()}, pid {os.getpid()}\n".encode())
        try:
            yield path
        finally:
            os.ftruncate(descriptor, 0)
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)
