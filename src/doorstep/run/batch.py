"""Batch runs: one evaluation over a grid of configs x overrides x seeds, locally or on Dask.

This module owns the grid file (``doorstep batch GRID``), its expansion into runs with stable
run ids, the choice of executor (local processes, or a Dask distributed cluster with
``--scheduler``), the resume check against finished manifests, and the batch summary
(``batch_summary.csv``). Each run is one call of :func:`~doorstep.run.runner.run_evaluation`
in its own run directory ``<output>/<run_id>/``, with its own manifest; the runner builds the
directory in a hidden partial folder and renames it into place, so a run directory holding a
``manifest.json`` is a finished run and anything else is redone.

The grid file (paths relative to the file)::

    output: ../reports/grid_demo          # required: the batch's folder
    runs:                                 # required: base configs, each a path or a mapping
      - caring_mothers/evaluation.yaml
      - {config: skills_workshops/evaluation.yaml, set: {min_cell_size: 10}}
    vary:                                 # optional: config keys -> values, Cartesian product
      language: [en, zh]
    seeds: [20240301, 20240302]           # optional, default [20240301]
    allow_large: false                    # optional: required true for more than 500 runs
    show_code: false                      # optional: keep code cells in the HTML
    notebooks: ../notebooks               # optional: default, the project's notebooks/

It imports the runner and the config loader, nothing of the estimation code.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import yaml

from doorstep.config import load_config
from doorstep.errors import ConfigError, DoorstepError, RunError
from doorstep.files import write_atomic
from doorstep.run.locking import folder_lock
from doorstep.run.params import check_parameters
from doorstep.run.runner import CHAIN, _git_commit, find_notebooks_dir, run_evaluation

MAX_RUNS = 500
DEFAULT_SEED = 20240301
SUMMARY_FILE = "batch_summary.csv"
SUMMARY_COLUMNS = ("run_id", "status", "seconds", "error", "report", "folder", "config",
                   "overrides", "seed")
STATUSES = ("finished", "skipped", "failed")
_GRID_KEYS: dict[str, tuple[type | tuple[type, ...], bool, str]] = {
    # key: (allowed types, required, what is expected, in words)
    "output": (str, True, "a folder path (text)"),
    "runs": (list, True, "a non-empty list of configs"),
    "vary": (dict, False, "a mapping of config keys to lists of values"),
    "seeds": (list, False, "a non-empty list of integers"),
    "allow_large": (bool, False, "true or false"),
    "show_code": (bool, False, "true or false"),
    "notebooks": (str, False, "a folder path (text)"),
}
_RUN_KEYS = ("config", "set")
_PARTIAL = re.compile(r"^\..+\.partial-[\w.-]+$")  # .<run_id>.partial-<pid> (or -<host>-<pid>)


@dataclass(frozen=True)
class RunSpec:
    """One run of a batch: what :func:`run_evaluation` is called with, and where it writes.

    Examples
    --------
    >>> spec = load_grid("surveys/grid_demo.yaml").runs[0]  # doctest: +SKIP
    >>> spec.run_id  # doctest: +SKIP
    'caring_mothers-language-en-s20240301-0c5f1e2a'
    """

    run_id: str
    config_path: Path
    overrides: tuple[str, ...]
    seed: int
    run_dir: Path
    notebooks_dir: Path
    show_code: bool = False


@dataclass(frozen=True)
class BatchGrid:
    """A validated grid file, expanded into its runs (in file order)."""

    path: Path
    output: Path
    notebooks_dir: Path
    runs: tuple[RunSpec, ...]


@dataclass(frozen=True)
class RunResult:
    """What became of one run: ``finished``, ``skipped`` (up to date) or ``failed``.

    ``error`` is the first line of the error; ``folder`` is the run directory, or for a failed
    run the ``<run_id>.failed`` folder that keeps the partly executed notebooks (if any).
    """

    run_id: str
    status: str
    seconds: float
    error: str = ""
    report: str = ""
    folder: str = ""
    note: str = ""


@dataclass(frozen=True)
class BatchResult:
    """The outcome of a batch, one result per run in grid order.

    Examples
    --------
    >>> result = run_batch("surveys/grid_demo.yaml", workers=2)  # doctest: +SKIP
    >>> result.exit_code, result.summary_csv.name  # doctest: +SKIP
    (0, 'batch_summary.csv')
    """

    grid: Path
    output: Path
    results: tuple[RunResult, ...]
    summary_csv: Path

    @property
    def failed(self) -> tuple[RunResult, ...]:
        """The runs that failed."""
        return tuple(result for result in self.results if result.status == "failed")

    @property
    def exit_code(self) -> int:
        """0 when no run failed, else the exit code of :class:`~doorstep.errors.RunError`."""
        return RunError.exit_code if self.failed else 0


# --- the grid file ---------------------------------------------------------------------------


def _override_text(grid: Path, where: str, key: str, value: Any) -> str:
    """``key=value`` with the value written so that ``yaml.safe_load`` gives it back."""
    if not isinstance(value, str | int | float | bool | list | dict | type(None)):
        raise ConfigError(f"{grid}: {where}: expected a YAML value, found {value!r}")
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000)
    text = text.removesuffix("\n").removesuffix("\n...").strip()
    if yaml.safe_load(text) != value:
        text = json.dumps(value, ensure_ascii=False)
    return f"{key}={text}"


def _slug(text: str) -> str:
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9_.]+", "-", text.lower())).strip("-.")


def run_id_for(programme: str, config: str, overrides: Iterable[str], seed: int) -> str:
    """A stable, readable run id: a slug of the programme and override values, seed, short hash.

    The hash covers the config path (as given relative to the grid file), every override and
    the seed, so two different runs never share an id and the same run always gets it again.

    Examples
    --------
    >>> run_id_for("caring_mothers", "caring_mothers/evaluation.yaml", ["language=zh"], 7)
    'caring_mothers-language-zh-s7-a5da2b95'
    """
    overrides = list(overrides)
    key = json.dumps({"config": config, "overrides": sorted(overrides), "seed": seed},
                     sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]
    readable = "-".join([programme, *(f"{k.split('.')[-1]}-{v}" for k, v in
                                      (item.split("=", 1) for item in overrides))])
    return f"{_slug(readable)[:60].rstrip('-.')}-s{seed}-{digest}"


def _check_type(grid: Path, raw: dict[str, Any]) -> None:
    unknown = sorted(set(raw) - set(_GRID_KEYS))
    if unknown:
        raise ConfigError(f"{grid}: unknown keys {unknown}; allowed keys: {sorted(_GRID_KEYS)}")
    for key, (kind, required, expected) in _GRID_KEYS.items():
        if key not in raw:
            if required:
                raise ConfigError(f"{grid}: {key}: expected {expected}, found nothing (required)")
            continue
        value = raw[key]
        wrong = not isinstance(value, kind) or (kind is not bool and isinstance(value, bool))
        if wrong or (kind in (list, str) and not value):
            raise ConfigError(f"{grid}: {key}: expected {expected}, found {value!r}")


def _base_runs(grid: Path, items: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    bases = []
    for position, item in enumerate(items, start=1):
        where = f"{grid}: runs, item {position}"
        if isinstance(item, str):
            item = {"config": item}
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: expected a config path or a mapping with 'config' and "
                              f"'set', found {item!r}")
        unknown = sorted(set(item) - set(_RUN_KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown keys {unknown}; allowed keys: {list(_RUN_KEYS)}")
        if not isinstance(item.get("config"), str) or not item["config"]:
            raise ConfigError(f"{where}: config: expected a config path (text), "
                              f"found {item.get('config')!r}")
        fixed = item.get("set", {})
        if not isinstance(fixed, dict) or not all(isinstance(k, str) for k in fixed):
            raise ConfigError(f"{where}: set: expected a mapping of config keys to values, "
                              f"found {fixed!r}")
        bases.append((item["config"], fixed))
    return bases


def _vary(grid: Path, raw: dict[str, Any]) -> dict[str, list[Any]]:
    vary = raw.get("vary", {})
    for key, values in vary.items():
        if not isinstance(key, str) or not key:
            raise ConfigError(f"{grid}: vary: expected config keys (text), found {key!r}")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{grid}: vary.{key}: expected a non-empty list of values, "
                              f"found {values!r}")
        if len({json.dumps(v, sort_keys=True, default=str) for v in values}) != len(values):
            raise ConfigError(f"{grid}: vary.{key}: expected distinct values, found {values!r}")
    return vary


def _seeds(grid: Path, raw: dict[str, Any]) -> list[int]:
    seeds = raw.get("seeds", [DEFAULT_SEED])
    for seed in seeds:
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ConfigError(f"{grid}: seeds: expected non-negative integers, found {seed!r}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"{grid}: seeds: expected distinct seeds, found {seeds!r}")
    return seeds


def load_grid(path: str | Path) -> BatchGrid:
    """Load, validate and expand a grid file into its runs.

    Every run's config is loaded with its overrides (:func:`~doorstep.config.load_config`),
    so a bad key, value or missing input fails here, before any kernel starts.

    Parameters
    ----------
    path
        The grid file (YAML); see the module docstring for its keys.

    Returns
    -------
    BatchGrid
        Runs in order: for each base config, each combination of ``vary``, each seed.

    Raises
    ------
    ConfigError
        Naming the grid file, the key, what was expected and what was found: unknown keys,
        wrong types, more than 500 runs without ``allow_large: true``, a key both in a run's
        ``set`` and in ``vary``, two runs with the same id, or a run whose config fails.

    Examples
    --------
    >>> grid = load_grid("surveys/grid_demo.yaml")  # doctest: +SKIP
    >>> len(grid.runs), grid.runs[0].overrides  # doctest: +SKIP
    (8, ('language=en',))
    """
    grid = Path(path).resolve()
    if not grid.is_file():
        raise ConfigError(f"{grid}: grid file not found")
    try:
        raw = yaml.safe_load(grid.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{grid}: not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{grid}: expected a mapping of keys at the top, found {raw!r}")
    _check_type(grid, raw)
    bases, vary, seeds = _base_runs(grid, raw["runs"]), _vary(grid, raw), _seeds(grid, raw)
    n_runs = len(bases) * len(seeds) * len(list(itertools.product(*vary.values())))
    if n_runs > MAX_RUNS and not raw.get("allow_large", False):
        raise ConfigError(
            f"{grid}: allow_large: the grid expands to {n_runs} runs, more than {MAX_RUNS}; "
            f"expected allow_large: true to run it, found {raw.get('allow_large', 'nothing')}"
        )
    base_folder = grid.parent
    output = (base_folder / raw["output"]).resolve()
    if "notebooks" in raw:
        notebooks = (base_folder / raw["notebooks"]).resolve()
        missing = [name for name in CHAIN if not (notebooks / f"{name}.ipynb").is_file()]
        if missing:
            raise ConfigError(f"{grid}: notebooks: expected a folder with {list(CHAIN)}, "
                              f"found {notebooks} without {missing}")
    else:
        notebooks = find_notebooks_dir(base_folder)
    runs, seen = [], {}
    for position, (config_text, fixed) in enumerate(bases, start=1):
        clash = sorted(set(fixed) & set(vary))
        if clash:
            raise ConfigError(f"{grid}: runs, item {position}: keys {clash} are both in 'set' "
                              f"and in 'vary'; expected each key in one place")
        config_path = (base_folder / config_text).resolve()
        relative = Path(os.path.relpath(config_path, base_folder)).as_posix()
        for combination in itertools.product(*vary.values()):
            overrides = tuple(
                [_override_text(grid, f"runs, item {position}, set.{k}", k, v)
                 for k, v in fixed.items()]
                + [_override_text(grid, f"vary.{k}", k, v)
                   for k, v in zip(vary, combination, strict=True)]
            )
            try:
                config = load_config(config_path, overrides)
            except ConfigError as error:
                raise ConfigError(f"{grid}: runs, item {position} ({config_text}) with "
                                  f"--set {list(overrides)}: {error}") from error
            for seed in seeds:
                run_id = run_id_for(config.programme, relative, overrides, seed)
                if run_id in seen:
                    raise ConfigError(f"{grid}: runs, item {position}: the same run as item "
                                      f"{seen[run_id]} ({run_id}); expected each run once")
                seen[run_id] = position
                runs.append(RunSpec(run_id, config.path, overrides, seed, output / run_id,
                                    notebooks, bool(raw.get("show_code", False))))
    return BatchGrid(grid, output, notebooks, tuple(runs))


# --- resume: is a run finished, with the same inputs, parameters and code? -------------------


@lru_cache(maxsize=4096)
def _sha256_cached(path: str, modified_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sha256(path: str | Path) -> str:
    status = os.stat(path)
    return _sha256_cached(str(path), status.st_mtime_ns, status.st_size)


@dataclass(frozen=True)
class CodeVersion:
    """The code a run was made with: the git commit (if any) and the package version."""

    git_commit: str | None
    doorstep_version: str


def code_version(notebooks_dir: str | Path) -> CodeVersion:
    """The current code version, as the runner records it in a manifest.

    Examples
    --------
    >>> code_version("notebooks").doorstep_version  # doctest: +SKIP
    '0.1.0'
    """
    try:
        version = metadata.version("doorstep")
    except metadata.PackageNotFoundError:
        version = "not installed"
    return CodeVersion(_git_commit(Path(notebooks_dir)), version)


def stale_reason(spec: RunSpec, code: CodeVersion) -> str:
    """Why the run must be (re)done, or ``""`` if a finished run matches it exactly.

    A run is finished when ``<run_dir>/manifest.json`` exists (the runner writes it last and
    renames the whole folder into place). It matches when its parameters (config, overrides,
    seed), the sha256 of every input file, the sha256 of every notebook, and the code version
    (git commit where both have one, and the package version) are the same as now.

    Examples
    --------
    >>> stale_reason(spec, code_version("notebooks"))  # doctest: +SKIP
    'inputs changed: source_round1'
    """
    manifest_path = spec.run_dir / "manifest.json"
    if not manifest_path.is_file():
        return "not run yet" if not spec.run_dir.exists() else "no manifest"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        recorded = manifest["parameters"]
        if (recorded["config"], recorded["overrides"], manifest["seed"],
                recorded.get("show_code", False)) != (str(spec.config_path),
                                                      list(spec.overrides), spec.seed,
                                                      spec.show_code):
            return "parameters changed"
        config = load_config(spec.config_path, spec.overrides)
        if manifest["config"] != json.loads(json.dumps(config.as_dict(), default=str)):
            return "config changed"
        now = {key: path for key, path in config.inputs().items()}
        inputs = manifest["inputs"]
        changed = sorted(set(now) ^ set(inputs))
        changed += sorted(key for key in set(now) & set(inputs)
                          if inputs[key]["sha256"] != _sha256(now[key]))
        if changed:
            return f"inputs changed: {', '.join(changed)}"
        notebooks = manifest["notebooks"]
        changed = sorted(name for name in CHAIN if name not in notebooks or
                         notebooks[name]["sha256"] != _sha256(spec.notebooks_dir /
                                                              f"{name}.ipynb"))
        if changed:
            return f"notebooks changed: {', '.join(changed)}"
        if code.git_commit and manifest.get("git_commit") and \
                manifest["git_commit"] != code.git_commit:
            return f"code changed: git {manifest['git_commit'][:12]} -> {code.git_commit[:12]}"
        if manifest["versions"].get("doorstep") != code.doorstep_version:
            return "code changed: doorstep version"
        if "code_sha256" in manifest and manifest["code_sha256"] != code_fingerprint():
            return "code changed: package source"
    except (KeyError, TypeError, ValueError, OSError, ConfigError) as error:
        return f"manifest does not match ({type(error).__name__}: {error})"
    return ""


def code_fingerprint() -> str:
    """sha256 over the ``doorstep`` package's source files (paths and contents).

    Unlike a git commit marked ``-dirty``, it changes whenever the code does. The resume check
    compares it when a manifest records ``code_sha256`` (see the runner patch in the report).

    Examples
    --------
    >>> len(code_fingerprint())
    64
    """
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in {".py", ".yaml", ".css"} and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode("utf-8") + b"\0")
            digest.update(_sha256(path).encode("ascii"))
    return digest.hexdigest()


def _set_aside(folder: Path, label: str) -> Path:
    for number in itertools.count(1):
        target = folder.with_name(f"{folder.name}.{label}" + (f"-{number}" if number > 1 else ""))
        if not target.exists():
            folder.rename(target)
            return target
    raise AssertionError("unreachable")  # pragma: no cover


def remove_partial_folders(output: str | Path) -> list[Path]:
    """Remove the hidden ``.<run_id>.partial-<pid>`` folders of interrupted runs in ``output``.

    Call it only while holding the folder's lock (:func:`~doorstep.run.locking.folder_lock`):
    then no run of this batch folder is in progress, and every partial folder is stale.
    """
    output = Path(output)
    removed = [path for path in sorted(output.glob(".*.partial-*"))
               if path.is_dir() and _PARTIAL.match(path.name)]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


# --- executing runs --------------------------------------------------------------------------


def _first_line(text: str) -> str:
    """The error's first line, and the next one too when the first ends with a colon."""
    lines = [line.strip() for line in text.splitlines() if line.strip()] or [""]
    if lines[0].endswith(":") and len(lines) > 1:
        return f"{lines[0]} {lines[1]}"
    return lines[0]


def _latest_failed(run_dir: Path) -> str:
    kept = sorted(run_dir.parent.glob(f"{run_dir.name}.failed*"), key=lambda p: p.stat().st_mtime)
    return str(kept[-1]) if kept else ""


def execute_run(spec: RunSpec) -> RunResult:
    """Run one evaluation of a batch; never raises, so one failure never stops the others.

    This is the function sent to each worker: a local process or a Dask worker.

    Examples
    --------
    >>> execute_run(load_grid("surveys/grid_demo.yaml").runs[0]).status  # doctest: +SKIP
    'finished'
    """
    started = time.perf_counter()
    try:
        outcome = run_evaluation(spec.config_path, run_dir=spec.run_dir,
                                 overrides=list(spec.overrides), seed=spec.seed,
                                 show_code=spec.show_code, notebooks_dir=spec.notebooks_dir)
    except Exception as error:  # isolation: report the failure, keep the batch going
        return RunResult(spec.run_id, "failed", round(time.perf_counter() - started, 3),
                         error=_first_line(f"{type(error).__name__}: {error}"),
                         folder=_latest_failed(spec.run_dir))
    return RunResult(spec.run_id, "finished", round(time.perf_counter() - started, 3),
                     report=str(outcome.index_html), folder=str(outcome.run_dir))


def _lost(spec: RunSpec, error: BaseException) -> RunResult:
    return RunResult(spec.run_id, "failed", 0.0,
                     error=_first_line(f"worker lost: {type(error).__name__}: {error}"))


# the thread pools of numpy's BLAS (OpenBLAS, MKL) and of OpenMP code
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _one_thread_each() -> None:
    """Start-up of a worker process when several share the cores: one BLAS thread per kernel.

    The kernels of a run inherit the worker's environment. With two runs on two cores, each
    kernel's BLAS would start a thread per core and the four would spin against each other.
    The demo run's outputs are byte-identical with one BLAS thread and with two (checked for
    issue 9). A value the user has set is kept.
    """
    for variable in THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")


def _run_local(specs: list[RunSpec], workers: int,
               done: Callable[[RunResult], None]) -> None:
    workers = max(1, min(workers, len(specs)))
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                             initializer=_one_thread_each if workers > 1 else None) as pool:
        futures = {pool.submit(execute_run, spec): spec for spec in specs}
        try:
            for future in as_completed(futures):
                try:
                    done(future.result())
                except Exception as error:  # a worker process died (BrokenProcessPool)
                    done(_lost(futures[future], error))
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _run_dask(specs: list[RunSpec], scheduler: str,
              done: Callable[[RunResult], None]) -> None:
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError as error:
        raise ConfigError(f"--scheduler {scheduler}: expected dask[distributed] installed, "
                          f"found {error}; pip install 'dask[distributed]'") from error
    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as error:
        raise ConfigError(f"--scheduler {scheduler}: cannot connect to a Dask scheduler there: "
                          f"{error}") from error
    with client:
        token = uuid.uuid4().hex[:8]
        futures = {client.submit(execute_run, spec, key=f"doorstep-{spec.run_id}-{token}",
                                 pure=False): spec for spec in specs}
        for future in dask_completed(list(futures)):
            try:
                done(future.result())
            except Exception as error:  # the task could not run (worker died too often)
                done(_lost(futures[future], error))


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (not Linux)
        return os.cpu_count() or 1


def _progress(total: int, show: bool) -> Callable[[RunResult], None]:
    counter = itertools.count(1)
    width = len(str(total))

    def report(result: RunResult) -> None:
        if not show:
            return
        detail = result.error or result.note
        print(f"[{next(counter):>{width}}/{total}] {result.status:<8} {result.run_id}  "
              f"{result.seconds:7.1f} s{'  ' + detail if detail else ''}",
              file=sys.stderr, flush=True)

    return report


def summary_rows(grid: BatchGrid, results: Iterable[RunResult]) -> list[dict[str, Any]]:
    """One row per run in grid order, with the columns of ``batch_summary.csv``."""
    by_id = {result.run_id: result for result in results}
    rows = []
    for spec in grid.runs:
        result = by_id[spec.run_id]
        rows.append({"run_id": spec.run_id, "status": result.status,
                     "seconds": result.seconds, "error": result.error, "report": result.report,
                     "folder": result.folder, "config": str(spec.config_path),
                     "overrides": " ".join(spec.overrides), "seed": spec.seed})
    return rows


def format_summary(results: Iterable[RunResult]) -> str:
    """The summary table printed at the end of a batch: run id, status, seconds, error, report.

    Examples
    --------
    >>> print(format_summary([RunResult("a-s1-0000", "failed", 2.0, error="RunError: boom")]))
    run_id     status  seconds  error           report
    a-s1-0000  failed      2.0  RunError: boom
    """
    table = [("run_id", "status", "seconds", "error", "report")]
    table += [(result.run_id, result.status, f"{result.seconds:.1f}", result.error[:70],
               result.report) for result in results]
    widths = [max(len(line[column]) for line in table) for column in range(4)]
    lines = []
    for run_id, status, seconds, error, report in table:
        lines.append(f"{run_id:<{widths[0]}}  {status:<{widths[1]}}  {seconds:>{widths[2]}}  "
                     f"{error:<{widths[3]}}  {report}".rstrip())
    return "\n".join(lines)


def _write_summary(path: Path, rows: list[dict[str, Any]]) -> Path:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write_atomic(path, buffer.getvalue())


def run_batch(
    grid_path: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = True,
    progress: bool = True,
) -> BatchResult:
    """Run every run of a grid file, skipping the finished ones, and write the summary.

    Parameters
    ----------
    grid_path
        The grid file.
    workers
        Local worker processes (spawned); default, the number of cores. Ignored with
        ``scheduler``.
    scheduler
        The address of a Dask distributed scheduler (``tcp://host:8786``); the same runs are
        sent there with ``client.submit``. Workers must import ``doorstep`` and see the same
        paths (a shared file system); run them with one thread each (``--nthreads 1``), since
        each run starts its own kernels and sends the process's stderr to ``kernels.log``.
    resume
        Skip runs whose finished manifest matches (see :func:`stale_reason`). Without it every
        run is redone. A finished run that no longer matches is renamed
        ``<run_id>.superseded`` and redone; it is never deleted.
    progress
        Print one line per run to stderr as runs end.

    Returns
    -------
    BatchResult
        Also written as ``<output>/batch_summary.csv``. A failed run does not stop the others.

    Raises
    ------
    ConfigError
        For a bad grid, config, override or notebook parameter: before any kernel starts.
    RunError
        If another batch holds the output folder.

    Examples
    --------
    >>> result = run_batch("surveys/grid_demo.yaml", workers=2)  # doctest: +SKIP
    >>> [r.status for r in result.results]  # doctest: +SKIP
    ['finished', 'finished', ...]
    """
    grid = load_grid(grid_path)
    for name in CHAIN:  # every run passes the same names and types: check each notebook once
        check_parameters(grid.notebooks_dir / f"{name}.ipynb",
                         {"config_path": "", "run_dir": "", "seed": grid.runs[0].seed})
    with folder_lock(grid.output):
        remove_partial_folders(grid.output)
        code = code_version(grid.notebooks_dir)
        results: list[RunResult] = []
        to_run: list[RunSpec] = []
        for spec in grid.runs:
            reason = stale_reason(spec, code) if resume else "--no-resume"
            if not reason:
                results.append(RunResult(spec.run_id, "skipped", 0.0,
                                         report=str(spec.run_dir / "index.html"),
                                         folder=str(spec.run_dir), note="up to date"))
                continue
            if spec.run_dir.exists():
                _set_aside(spec.run_dir, "superseded")
            to_run.append(spec)
        show = _progress(len(grid.runs), progress)
        for result in results:
            show(result)

        def done(result: RunResult) -> None:
            results.append(result)
            show(result)

        if to_run and scheduler:
            _run_dask(to_run, scheduler, done)
        elif to_run:
            _run_local(to_run, workers or default_workers(), done)
        rows = summary_rows(grid, results)
        summary = _write_summary(grid.output / SUMMARY_FILE, rows)
    order = {spec.run_id: position for position, spec in enumerate(grid.runs)}
    return BatchResult(grid.path, grid.output,
                       tuple(sorted(results, key=lambda result: order[result.run_id])), summary)


# --- the command -----------------------------------------------------------------------------


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number of workers, found {text}")
    return value


def add_batch_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the arguments of ``doorstep batch`` to ``parser`` and set its handler.

    Examples
    --------
    >>> args = add_batch_arguments(argparse.ArgumentParser()).parse_args(["g.yaml", "--no-resume"])
    >>> args.grid, args.resume, args.scheduler
    ('g.yaml', False, None)
    """
    parser.add_argument("grid", help="a grid file: runs x vary x seeds (see doorstep.run.batch)")
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="send the runs to this Dask scheduler (tcp://host:8786)")
    parser.add_argument("--workers", type=_positive, default=None,
                        help="local worker processes (default: the number of cores)")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                        help="skip runs whose finished manifest matches (default: --resume)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.set_defaults(handler=batch_main)
    return parser


def batch_main(args: argparse.Namespace) -> int:
    """``doorstep batch GRID``: run the grid, print the summary table, return the exit code.

    Returns 0 when every run finished or was up to date, and the exit code of
    :class:`~doorstep.errors.RunError` (5) when any failed.

    Examples
    --------
    >>> batch_main(argparse.Namespace(grid="surveys/grid_demo.yaml", scheduler=None,
    ...                               workers=2, resume=True, quiet=False))  # doctest: +SKIP
    0
    """
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers: expected a positive number of workers, found {args.workers}")
    result = run_batch(args.grid, workers=args.workers, scheduler=args.scheduler,
                       resume=args.resume, progress=not getattr(args, "quiet", False))
    print(format_summary(result.results))
    counts = {status: sum(r.status == status for r in result.results) for status in STATUSES}
    print(f"{len(result.results)} runs: " + ", ".join(f"{n} {s}" for s, n in counts.items())
          + f"; summary in {result.summary_csv}")
    return result.exit_code


def main(argv: list[str] | None = None) -> int:
    """``python -m doorstep.run.batch GRID ...`` until ``doorstep batch`` is wired into the CLI."""
    parser = add_batch_arguments(argparse.ArgumentParser(prog="doorstep batch"))
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except DoorstepError as error:
        print(f"doorstep batch: error: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":  # pragma: no cover
    from doorstep.run import batch  # so that workers unpickle doorstep.run.batch.execute_run

    sys.exit(batch.main())
