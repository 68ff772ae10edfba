"""Faults: killed runs, concurrent runs, read-only folders and full disks.

The contract (DESIGN.md): partial outputs are never left where a later run would trust them. A
run directory that exists is complete (its manifest is there and every output it lists has the
listed checksum); anything else is a hidden ``.<run>.partial-<host>-<pid>`` folder. A folder
the system refuses to write gives a Doorstep error naming the path, not a traceback.

Runs are real: ``python -m doorstep run`` on a tiny simulated programme (about 20 s each), killed
with SIGKILL (the whole process group, kernels included) after a delay or when a file appears.
The full kill matrix and the concurrent runs are marked ``slow``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from doorstep import files
from doorstep.clean import run as clean_run
from doorstep.clean import write_clean_outputs
from doorstep.errors import DoorstepError, RunError
from doorstep.files import write_atomic, write_csv
from doorstep.run.locking import run_lock
from tests.conftest import ROOT, make_project

RUN_SECONDS_LIMIT = 240


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory) -> Path:
    """The caring-mothers programme at a fifth of the demo size; returns its config."""
    return make_project(tmp_path_factory.mktemp("faults"), "caring_mothers", scale=0.2)


def _start(config: Path, run_dir: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "doorstep", "run", str(config), "--run-dir", str(run_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # its own process group: the kill reaches the kernels too
    )


def _kill(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):  # it may have finished already
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_trustworthy(run_dir: Path) -> str:
    """The run directory is absent or complete; beside it only hidden partial folders, the
    run's lock file (it names the last holder; the lock itself is released on SIGKILL) and
    ``<run>.failed`` folders (a failed run kept for inspection, without a manifest) may be left.

    Returns ``"absent"`` or ``"complete"``.
    """
    siblings = [p for p in run_dir.parent.iterdir() if p != run_dir] if (
        run_dir.parent.exists()) else []
    for sibling in siblings:
        failed = sibling.name.startswith(f"{run_dir.name}.failed")  # kept for inspection,
        assert not (failed and (sibling / "manifest.json").exists())  # never trusted
        assert failed or sibling.name.startswith(f".{run_dir.name}.partial-") or (
            sibling.name == f".{run_dir.name}.lock"), (
            f"a killed run left {sibling.name}, which is not a hidden partial folder")
    if not run_dir.exists():
        return "absent"
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["outputs"], "a manifest lists the outputs"
    for name, digest in manifest["outputs"].items():
        assert _sha256(run_dir / name) == digest, f"{name} differs from its manifest"
    assert (run_dir / "index.html").is_file() and (run_dir / "estimates.csv").is_file()
    return "complete"


def _wait_for(pattern: str, folder: Path, process: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if any(folder.glob(pattern)):
            return True
        time.sleep(0.01)
    return False


def _complete_run(config: Path, run_dir: Path) -> None:
    process = _start(config, run_dir)
    _out, err = process.communicate(timeout=RUN_SECONDS_LIMIT)
    assert process.returncode == 0, err[-2000:]
    assert assert_trustworthy(run_dir) == "complete"


def _clear_error(stderr: str, code: int) -> bool:
    return code in (2, 3, 4, 5) and "Traceback" not in stderr and "error:" in stderr


# ----------------------------------------------------------------------------------------------
# Killed runs
# ----------------------------------------------------------------------------------------------

def test_run_killed_after_three_seconds_leaves_nothing_trusted(tiny_project, tmp_path):
    run_dir = tmp_path / "reports" / "run1"
    process = _start(tiny_project, run_dir)
    time.sleep(3)
    _kill(process)
    assert assert_trustworthy(run_dir) == "absent"
    _complete_run(tiny_project, run_dir)  # a later run on the same directory succeeds


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["1s", "6s", "10s", "first notebook written",
                                    "manifest written"])
def test_run_killed_at_any_moment(tiny_project, tmp_path, moment):
    run_dir = tmp_path / "reports" / "run1"
    run_dir.parent.mkdir(parents=True)
    process = _start(tiny_project, run_dir)
    if moment.endswith("s") and moment[:-1].isdigit():
        time.sleep(float(moment[:-1]))
    elif moment == "first notebook written":
        assert _wait_for(".run1.partial-*/notebooks/01_fieldwork_checks.ipynb", run_dir.parent,
                         process, RUN_SECONDS_LIMIT)
    else:  # between the manifest and the rename: the narrowest window
        _wait_for(".run1.partial-*/manifest.json", run_dir.parent, process, RUN_SECONDS_LIMIT)
    _kill(process)
    state = assert_trustworthy(run_dir)
    if state == "complete":  # the rename won the race: a later run must refuse to overwrite
        assert subprocess.run([sys.executable, "-m", "doorstep", "run", str(tiny_project),
                               "--run-dir", str(run_dir)], cwd=ROOT, capture_output=True,
                              text=True, timeout=120).returncode == 2
    else:
        _complete_run(tiny_project, run_dir)
    assert assert_trustworthy(run_dir) == "complete"


# ----------------------------------------------------------------------------------------------
# Two runs on one run directory
# ----------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_two_runs_on_one_run_directory(tiny_project, tmp_path):
    run_dir = tmp_path / "reports" / "run1"
    first, second = _start(tiny_project, run_dir), _start(tiny_project, run_dir)
    results = [process.communicate(timeout=2 * RUN_SECONDS_LIMIT) for process in (first,
                                                                                    second)]
    codes = [first.returncode, second.returncode]
    # never corrupted: exactly one complete run, whatever the other did
    assert assert_trustworthy(run_dir) == "complete" or not run_dir.exists()
    assert assert_trustworthy(run_dir) == "complete"
    assert codes.count(0) >= 1
    loser = [(code, err) for code, (_, err) in zip(codes, results, strict=True) if code != 0]
    if not loser:
        pytest.fail("both runs claim to have written the same run directory")
    code, stderr = loser[0]
    assert _clear_error(stderr, code), stderr
    assert str(run_dir) in stderr


def test_run_lock_refuses_a_second_run(tmp_path):
    run_dir = tmp_path / "reports" / "run1"
    with run_lock(run_dir) as lock:
        assert lock == tmp_path / "reports" / ".run1.lock"
        message = rf"{run_dir}: another run is building this run directory \(host .*, pid "
        with pytest.raises(RunError, match=message), run_lock(run_dir):
            pass
    with run_lock(run_dir):  # released: the next run may take it
        pass


# ----------------------------------------------------------------------------------------------
# Read-only folders and full disks
# ----------------------------------------------------------------------------------------------

@pytest.fixture
def mounted(tmp_path):
    """Mount a tmpfs (read-only or tiny) when the tests run as root; skip otherwise."""
    points = []

    def mount(options: str) -> Path:
        point = tmp_path / f"mount{len(points)}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                              capture_output=True, text=True) if os.geteuid() == 0 else None
        if done is None or done.returncode != 0:
            pytest.skip("mounting a tmpfs needs root")
        points.append(point)
        return point

    yield mount
    for point in points:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def test_write_atomic_full_disk_names_the_path(tmp_path, monkeypatch):
    target = tmp_path / "estimates.csv"
    target.write_text("old, complete\n")

    real_fdopen = os.fdopen

    class Full:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fdopen", lambda fd, mode: Full(real_fdopen(fd, mode)))
    with pytest.raises(RunError, match=r"estimates\.csv: cannot write the output file \(No space"):
        write_atomic(target, "new")
    assert target.read_text() == "old, complete\n"  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["estimates.csv"]  # no temporary left


def test_write_csv_read_only_folder_names_the_path(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(files.tempfile, "mkstemp", refuse)
    with pytest.raises(RunError, match=r"out/a\.csv: cannot write the output file \(Read-only"):
        write_csv(pd.DataFrame({"a": [1]}), tmp_path / "out" / "a.csv")


def test_real_full_disk_and_read_only_mount(mounted):
    tiny = mounted("size=64k")
    with pytest.raises(RunError, match="No space left on device") as raised:
        write_atomic(tiny / "big.bin", b"x" * 1_000_000)
    assert str(tiny / "big.bin") in str(raised.value)
    assert list(tiny.iterdir()) == []
    read_only = mounted("size=64k,ro")
    with pytest.raises(RunError, match="Read-only file system"):
        write_csv(pd.DataFrame({"a": ["x"]}), read_only / "run" / "a.csv")


def test_clean_outputs_on_a_full_disk(tmp_path, monkeypatch):
    result = clean_run(pd.DataFrame({"child_id": ["c1", "c2"], "x": ["=1+1", "-99"]}),
                       {"unit_id": "child_id"})

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    with pytest.raises(RunError, match=r"cleaning_log\.csv: cannot write the output file"):
        write_clean_outputs(result, tmp_path / "clean")
    assert not [p for p in (tmp_path / "clean").iterdir() if p.name.endswith(".tmp")]


def test_run_into_a_read_only_folder(tiny_project, mounted):
    read_only = mounted("size=64k,ro")
    run_dir = read_only / "run1"
    done = subprocess.run([sys.executable, "-m", "doorstep", "run", str(tiny_project),
                           "--run-dir", str(run_dir)], cwd=ROOT, capture_output=True, text=True,
                          timeout=RUN_SECONDS_LIMIT)
    assert done.returncode != 0 and not run_dir.exists()
    assert _clear_error(done.stderr, done.returncode), done.stderr
    assert str(read_only) in done.stderr


@pytest.mark.slow
def test_run_onto_a_full_disk(tiny_project, mounted):
    tiny = mounted("size=1m")
    run_dir = tiny / "run1"
    done = subprocess.run([sys.executable, "-m", "doorstep", "run", str(tiny_project),
                           "--run-dir", str(run_dir)], cwd=ROOT, capture_output=True, text=True,
                          timeout=RUN_SECONDS_LIMIT)
    assert done.returncode != 0
    assert assert_trustworthy(run_dir) == "absent"
    assert _clear_error(done.stderr, done.returncode), done.stderr
    assert "No space left on device" in done.stderr


# ----------------------------------------------------------------------------------------------
# Formula neutralising of what the kit writes
# ----------------------------------------------------------------------------------------------

HOSTILE = ["=HYPERLINK(\"http://evil.example\",\"click\")", "=cmd|' /C calc'!A0", "+1+1",
           "-2+3", "@SUM(A1)", "\t=1", "-99", "-1.5", "+3", "1e5", "正常", ""]


def test_write_csv_neutralises_formulas_but_keeps_numbers(tmp_path):
    frame = pd.DataFrame({"text": HOSTILE, "number": [-99.0] * len(HOSTILE),
                          "=header": range(len(HOSTILE))})
    path = write_csv(frame, tmp_path / "a.csv")
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(back.columns) == ["text", "number", "'=header"]
    assert back["text"].tolist() == [
        "'=HYPERLINK(\"http://evil.example\",\"click\")", "'=cmd|' /C calc'!A0", "'+1+1",
        "'-2+3", "'@SUM(A1)", "'\t=1", "-99", "-1.5", "+3", "1e5", "正常", ""]
    assert set(back["number"]) == {"-99"}
    assert frame["text"].tolist() == HOSTILE  # the caller's frame is not changed


def test_clean_outputs_neutralise_formulas(tmp_path):
    frame = pd.DataFrame({"child_id": ["c1", "c2", "c3"],
                          "note": ["=cmd|' /C calc'!A0", "@SUM(A1)", "-99"]})
    result = clean_run(frame, {"unit_id": "child_id", "missing_codes": {}})
    result = dataclasses.replace(result, log=pd.DataFrame(
        {"unit_id": ["c1"], "old_value": ["=HYPERLINK(\"x\")"], "new_value": ["-1.5"]}))
    written = write_clean_outputs(result, tmp_path / "clean")
    for name in ("cleaning_log.csv", "codebook.csv", "flags.csv", "dropped.csv"):
        text = written[name].read_text(encoding="utf-8")
        for line in text.splitlines()[1:]:
            for cell in line.split(","):
                cell = cell.strip('"')
                assert not cell.startswith(("=", "@")), f"{name}: {cell!r} would run in Excel"
    log = pd.read_csv(written["cleaning_log.csv"], dtype=str)
    assert log["old_value"].iloc[0] == "'=HYPERLINK(\"x\")"
    assert log["new_value"].iloc[0] == "-1.5"
    assert issubclass(RunError, DoorstepError) and RunError.exit_code == 5
