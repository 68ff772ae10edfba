"""Batch runs: the grid file, failure isolation, the summary, resume after SIGKILL, the lock.

Runs here go through the real runner with a stand-in chain of tiny notebooks (same
parameters as the real chain, a few lines each), so that a batch of several runs takes seconds;
test_batch_cluster.py runs the real chain on tiny simulated data, locally and on Dask.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest
import yaml

from doorstep.errors import ConfigError, RunError
from doorstep.run import CHAIN
from doorstep.run.batch import (
    SUMMARY_COLUMNS,
    THREAD_VARIABLES,
    batch_main,
    code_version,
    load_grid,
    run_batch,
    run_id_for,
    stale_reason,
)
from doorstep.run.locking import folder_lock
from tests.conftest import make_project

STAND_IN = {
    "01_fieldwork_checks": "pathlib.Path(run_dir, 'checks.txt').write_text(str(seed))",
    "01_clean": "pathlib.Path(run_dir, 'clean.txt').write_text(str(seed))",
    "02_balance": "pathlib.Path(run_dir, 'balance.txt').write_text(str(seed))",
    "03_impact": ("if seed == 2:\n    raise ValueError('planted failure for seed 2')\n"
                  "pathlib.Path(run_dir, 'estimates.csv')"
                  ".write_text(f'term,estimate\\nx,{seed}\\n')"),
    "04_report": "print('report')",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A tiny simulated project and a stand-in notebook chain beside it."""
    folder = tmp_path_factory.mktemp("batch_project")
    config = make_project(folder, "caring_mothers", scale=0.2)
    notebooks = folder / "notebooks"
    notebooks.mkdir()
    for name, source in STAND_IN.items():
        parameters = nbformat.v4.new_code_cell('config_path = ""\nrun_dir = ""\nseed = 0')
        parameters.metadata["tags"] = ["parameters"]
        notebook = nbformat.v4.new_notebook(cells=[
            parameters, nbformat.v4.new_code_cell(f"import pathlib\n{source}")])
        notebook.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                           "display_name": "Python 3"}
        nbformat.write(notebook, notebooks / f"{name}.ipynb")
    return {"folder": folder, "config": config, "notebooks": notebooks}


def _grid(project, name, **keys):
    content = {"output": f"reports/{name}", "runs": ["surveys/caring_mothers/evaluation.yaml"],
               "notebooks": "notebooks", **keys}
    path = project["folder"] / f"{name}.yaml"
    path.write_text(yaml.safe_dump(content), encoding="utf-8")
    return path


def test_grid_expands_into_runs_with_stable_readable_ids(project):
    path = _grid(project, "expand", vary={"language": ["en", "zh"], "min_cell_size": [5, 10]},
                 seeds=[1, 2])
    grid = load_grid(path)
    assert len(grid.runs) == 8
    first = grid.runs[0]
    assert first.overrides == ("language=en", "min_cell_size=5") and first.seed == 1
    assert first.run_id.startswith("caring_mothers-language-en-min_cell_size-5-s1-")
    assert first.run_dir == project["folder"] / "reports" / "expand" / first.run_id
    assert len({spec.run_id for spec in grid.runs}) == 8
    assert [spec.run_id for spec in load_grid(path).runs] == [s.run_id for s in grid.runs]
    relative = "surveys/caring_mothers/evaluation.yaml"
    assert first.run_id == run_id_for("caring_mothers", relative,
                                      ["language=en", "min_cell_size=5"], 1)
    reordered = run_id_for("caring_mothers", relative, ["min_cell_size=5", "language=en"], 1)
    assert reordered[-8:] == first.run_id[-8:]  # the hash ignores the order of overrides


@pytest.mark.parametrize(("keys", "message"), [
    ({"colour": "red"}, r"unknown keys \['colour'\]; allowed keys"),
    ({"seeds": 1}, r"seeds: expected a non-empty list of integers, found 1"),
    ({"seeds": [1, "2"]}, r"seeds: expected non-negative integers, found '2'"),
    ({"seeds": [1, 1]}, r"seeds: expected distinct seeds"),
    ({"vary": {"language": "zh"}}, r"vary.language: expected a non-empty list of values, "
                                   r"found 'zh'"),
    ({"vary": ["language"]}, r"vary: expected a mapping of config keys to lists of values"),
    ({"runs": []}, r"runs: expected a non-empty list of configs, found \[\]"),
    ({"runs": [{"config": "surveys/caring_mothers/evaluation.yaml", "seed": 1}]},
     r"runs, item 1: unknown keys \['seed'\]"),
    ({"allow_large": "yes"}, r"allow_large: expected true or false, found 'yes'"),
    ({"vary": {"min_cell_size": list(range(501))}},
     r"allow_large: the grid expands to 501 runs, more than 500; expected allow_large: true"),
    ({"vary": {"colour": ["red"]}}, r"runs, item 1 .* with --set \['colour=red'\]: .*"
                                    r"unknown key 'colour'"),
    ({"vary": {"language": ["fr"]}}, r"language: expected one of \['en', 'zh'\], found 'fr'"),
    ({"runs": [{"config": "surveys/caring_mothers/evaluation.yaml", "set": {"language": "zh"}}],
      "vary": {"language": ["en"]}}, r"keys \['language'\] are both in 'set' and in 'vary'"),
    ({"runs": ["surveys/caring_mothers/evaluation.yaml"] * 2},
     r"runs, item 2: the same run as item 1"),
    ({"notebooks": "nowhere"}, r"notebooks: expected a folder with"),
])
def test_bad_grids_are_config_errors_naming_the_file_and_key(project, keys, message):
    path = _grid(project, "bad", **keys)
    with pytest.raises(ConfigError, match=message) as error:
        load_grid(path)
    assert str(error.value).startswith(str(path))


@pytest.fixture(scope="module")
def killed(project):
    """A batch of four runs (seed 2 fails) killed with SIGKILL after its first run finished,
    then resumed with ``batch_main`` on 2 workers."""
    path = _grid(project, "killed", seeds=[1, 2, 3, 4])
    output = project["folder"] / "reports" / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "doorstep.run.batch", str(path), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list(output.glob("*/manifest.json")):
            assert process.poll() is None, "the batch ended before it was killed"
            time.sleep(0.1)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the batch, its workers and their kernels
        process.wait()
    finished = {manifest.parent.name: manifest.stat().st_mtime_ns
                for manifest in output.glob("*/manifest.json")}
    summary_after_kill = (output / "batch_summary.csv").exists()
    args = argparse.Namespace(grid=str(path), scheduler=None, workers=2, resume=True,
                              quiet=False)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = batch_main(args)
    return {"path": path, "output": output, "finished_before": finished, "code": code,
            "out": out.getvalue(), "err": err.getvalue(),
            "summary_after_kill": summary_after_kill}


def _summary(output):
    with open(output / "batch_summary.csv", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_batch_killed_mid_run_resumes_without_redoing_finished_runs(killed):
    output, finished = killed["output"], killed["finished_before"]
    assert 1 <= len(finished) < 4 and not killed["summary_after_kill"]
    statuses = {row["run_id"]: row["status"] for row in _summary(output)}
    assert {run_id for run_id, status in statuses.items() if status == "skipped"} == set(finished)
    assert sorted(statuses.values()).count("finished") == 3 - len(finished)
    assert all((output / run_id / "manifest.json").stat().st_mtime_ns == mtime
               for run_id, mtime in finished.items())  # finished runs were not redone
    assert not list(output.glob(".*partial*"))
    assert len(list(output.glob("*/manifest.json"))) == 3
    for manifest in output.glob("*/manifest.json"):
        assert set(json.loads(manifest.read_text())["notebooks"]) == set(CHAIN)


def test_a_failing_run_does_not_stop_the_others(killed):
    assert killed["code"] == RunError.exit_code
    table = killed["out"].splitlines()
    assert table[0].split() == ["run_id", "status", "seconds", "error", "report"]
    assert "4 runs: " in killed["out"] and "1 failed" in killed["out"]
    assert killed["err"].count("/4] ") == 4  # one progress line per run
    rows = _summary(killed["output"])
    assert tuple(rows[0]) == SUMMARY_COLUMNS
    assert [row["seed"] for row in rows] == ["1", "2", "3", "4"]
    assert [row["status"] for row in rows][1] == "failed"
    assert all(row["status"] in ("finished", "skipped") for row in rows if row["seed"] != "2")
    assert rows[0]["report"].endswith("index.html") and rows[0]["error"] == ""
    assert rows[1]["error"].startswith("RunError: 03_impact.ipynb failed in cell")
    assert "planted failure for seed 2" in rows[1]["error"]
    assert ".failed" in rows[1]["folder"]
    # the notebook is written once, at the end or at the failing cell: the failure is kept
    kept = nbformat.read(os.path.join(rows[1]["folder"], "notebooks", "03_impact.ipynb"), 4)
    errors = [output for cell in kept.cells for output in cell.get("outputs", [])
              if output.get("output_type") == "error"]
    assert [error["evalue"] for error in errors] == ["planted failure for seed 2"]


def test_stale_reason_names_what_changed(project, killed):
    spec = load_grid(killed["path"]).runs[0]
    code = code_version(spec.notebooks_dir)
    assert stale_reason(spec, code) == ""
    rollout = project["folder"] / "data" / "caring_mothers" / "raw" / "rollout.csv"
    original = rollout.read_bytes()
    try:
        rollout.write_bytes(original + b"\n")
        assert stale_reason(spec, code) == "inputs changed: design_rollout"
    finally:
        rollout.write_bytes(original)
    assert stale_reason(spec, code) == ""
    assert stale_reason(replace(spec, seed=3), code) == "parameters changed"
    assert stale_reason(replace(spec, overrides=("language=zh",)), code) == "parameters changed"
    assert stale_reason(spec, replace(code, doorstep_version="0.0.1")) == (
        "code changed: doorstep version")
    if code.git_commit:
        assert stale_reason(spec, replace(code, git_commit="0" * 40)).startswith("code changed")
    manifest = json.loads((spec.run_dir / "manifest.json").read_text())
    manifest["notebooks"]["03_impact"]["sha256"] = "0" * 64
    (spec.run_dir / "manifest.json").write_text(json.dumps(manifest))
    assert stale_reason(spec, code) == "notebooks changed: 03_impact"

    # resume: the stale run is kept aside and redone, the failed run retried, the rest skipped
    again = run_batch(killed["path"], workers=2, progress=False)
    assert [r.status for r in again.results] == ["finished", "failed", "skipped", "skipped"]
    assert (spec.run_dir.parent / f"{spec.run_id}.superseded" / "manifest.json").is_file()
    assert stale_reason(spec, code) == ""


def test_a_second_batch_on_the_same_folder_is_refused(project):
    path = _grid(project, "locked", seeds=[1])
    with folder_lock(project["folder"] / "reports" / "locked"), \
            pytest.raises(RunError, match="another batch is writing into this folder"):
        run_batch(path, workers=1, progress=False)




def test_kernels_get_a_lasting_matplotlib_cache_only_when_the_default_cannot_be_written(
        project, tmp_path, monkeypatch):
    """Without a writable cache folder each kernel would rebuild matplotlib's font list."""
    from doorstep.run import runner

    monkeypatch.delenv("MPLCONFIGDIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "writable"))
    assert runner._matplotlib_cache_dir() is None
    blocked = tmp_path / "a_file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked / "cache"))
    lasting = runner._matplotlib_cache_dir()
    assert lasting is not None and lasting.parent == Path(tempfile.gettempdir())
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "chosen"))
    assert runner._matplotlib_cache_dir() is None  # the user's choice wins
    monkeypatch.delenv("MPLCONFIGDIR")

    notebook = tmp_path / "environment.ipynb"
    cell = nbformat.v4.new_code_cell(
        "import os, pathlib\n"
        "pathlib.Path('seen.txt').write_text(os.environ.get('MPLCONFIGDIR', 'unset'))")
    content = nbformat.v4.new_notebook(cells=[cell])
    content.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                      "display_name": "Python 3"}
    nbformat.write(content, notebook)
    runner._execute(notebook, tmp_path / "executed.ipynb", {}, "python3",
                    log=tmp_path / "kernels.log")
    assert (tmp_path / "seen.txt").read_text() == str(lasting)
    assert "MPLCONFIGDIR" not in os.environ  # restored after the kernel's run
    assert nbformat.read(tmp_path / "executed.ipynb", 4).cells[0]["execution_count"] == 1


# --- per-run overhead (issue 9): what the runner and a notebook's first cell import -----------


def test_the_runner_and_report_package_load_no_heavy_library_until_used():
    """``from doorstep import report`` and ``doorstep.run`` leave scipy.stats, matplotlib and
    Word files unloaded; the names still work and are the sub-modules' objects."""
    code = (
        "import sys\n"
        "import doorstep.run, doorstep.report, doorstep.design\n"
        "from doorstep.report import scan_run_dir, text\n"
        "from doorstep.design import lottery_sample, staggered_panel\n"
        "heavy = ('scipy.stats', 'scipy.optimize', 'matplotlib', 'docx', 'openpyxl')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == "[]"


def test_every_lazy_public_name_is_the_sub_modules_object():
    import importlib

    from doorstep import design, report

    for package in (report, design):
        assert sorted(package.__all__) == sorted(package._EXPORTS)
        for name, module in package._EXPORTS.items():
            source = importlib.import_module(f"{package.__name__}.{module}")
            assert getattr(package, name) is getattr(source, name), name
    # the sub-module etable shares its name with the function: the package keeps the function
    importlib.import_module("doorstep.report.etable")
    assert callable(report.etable) and report.etable.__module__ == "doorstep.report.etable"
    with pytest.raises(AttributeError, match="no_such_name"):
        report.no_such_name  # noqa: B018


def test_parallel_workers_give_each_kernel_one_blas_thread(project, tmp_path, monkeypatch):
    for variable in THREAD_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    seen = "pathlib.Path(run_dir, 'threads.txt').write_text(str(os.environ.get('{}')))"
    for name in CHAIN:
        source = seen.format("OPENBLAS_NUM_THREADS") if name == "01_clean" else "pass"
        if name == "03_impact":
            source = "pathlib.Path(run_dir, 'estimates.csv').write_text('term,estimate\\nx,1\\n')"
        parameters = nbformat.v4.new_code_cell('config_path = ""\nrun_dir = ""\nseed = 0')
        parameters.metadata["tags"] = ["parameters"]
        notebook = nbformat.v4.new_notebook(cells=[
            parameters, nbformat.v4.new_code_cell(f"import os, pathlib\n{source}")])
        notebook.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                           "display_name": "Python 3"}
        nbformat.write(notebook, notebooks / f"{name}.ipynb")
    grid = _grid(project, "threads", seeds=[1, 3], notebooks=str(notebooks))
    result = run_batch(grid, workers=2, progress=False)
    assert [run.status for run in result.results] == ["finished", "finished"]
    assert [(result.output / run.run_id / "threads.txt").read_text()
            for run in result.results] == ["1", "1"]
    assert "OPENBLAS_NUM_THREADS" not in os.environ  # set in the workers only
