"""Run one evaluation: validate, execute the chain with papermill, convert, write the manifest.

A run is built in a hidden working directory next to its final place and renamed into place only
when every notebook has succeeded, so a run directory that exists is always complete. A failing
cell stops the run: the working directory is renamed ``<run_id>.failed`` with the partly executed
notebook kept for inspection, and :class:`~doorstep.errors.RunError` names the notebook and cell.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import yaml

from doorstep.config import load_config
from doorstep.errors import ConfigError, RunError
from doorstep.files import cannot_write, write_atomic, write_json
from doorstep.io.encoding import sha256_of
from doorstep.report.guard import PersonalDataError, scan_run_dir
from doorstep.run.locking import run_lock
from doorstep.run.params import check_parameters

CHAIN = ("01_fieldwork_checks", "01_clean", "02_balance", "03_impact", "04_report")
REPORT_NOTEBOOK = "04_report"
_VERSIONED_PACKAGES = ("doorstep", "numpy", "pandas", "scipy", "statsmodels", "matplotlib",
                       "seaborn", "papermill", "nbconvert", "ipykernel", "openpyxl", "pyarrow")


@dataclass(frozen=True)
class RunOutcome:
    """Where a finished run's files are."""

    programme: str
    run_dir: Path
    index_html: Path
    estimates_csv: Path
    manifest: Path


def find_notebooks_dir(start: Path | None = None) -> Path:
    """Find the project's ``notebooks/`` folder, searching upwards from ``start`` and the cwd.

    Raises
    ------
    ConfigError
        If no folder holding the chain's notebooks is found.
    """
    candidates = []
    for origin in filter(None, (start, Path.cwd(), Path(__file__).resolve())):
        origin = origin.resolve()
        candidates += [folder / "notebooks" for folder in (origin, *origin.parents)]
    for folder in candidates:
        if all((folder / f"{name}.ipynb").is_file() for name in CHAIN):
            return folder
    raise ConfigError(
        f"cannot find the notebooks {list(CHAIN)}: looked for a notebooks/ folder above "
        f"{start or Path.cwd()}; run from inside the project or pass --notebooks DIR"
    )


def _project_root(notebooks_dir: Path) -> Path:
    return notebooks_dir.parent


def _git_commit(folder: Path) -> str | None:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=folder, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty.strip() else "")


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in _VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


@lru_cache(maxsize=2)
def _html_exporter(show_code: bool):
    """One HTML exporter per setting for the whole process: building one loads its templates."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = not show_code
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    return exporter


def _to_html(notebook: Path, target: Path, *, show_code: bool) -> None:
    import nbformat

    body, _ = _html_exporter(show_code).from_notebook_node(nbformat.read(notebook, as_version=4))
    target.write_text(body, encoding="utf-8")


def _matplotlib_cache_dir() -> Path | None:
    """A lasting folder for matplotlib's font cache when its default one cannot be written.

    Without a writable config folder (a read-only or missing HOME: CI containers, cluster
    workers), matplotlib builds its font list again in a new temporary folder in every kernel,
    which costs about a second per notebook. Returns None when ``MPLCONFIGDIR`` is set or the
    default folder (``$XDG_CACHE_HOME/matplotlib`` or ``~/.cache/matplotlib``) is writable.
    """
    if os.environ.get("MPLCONFIGDIR"):
        return None
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                    ".cache")
    default = Path(cache_home) / "matplotlib"
    existing = next((folder for folder in (default, *default.parents) if folder.exists()), None)
    if existing is not None and existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
        return None
    user = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"doorstep-matplotlib-{user}"


@contextmanager
def _kernel_environment() -> Iterator[None]:
    """Environment variables the kernels of a run inherit, set for a while and then restored."""
    cache = _matplotlib_cache_dir()
    if cache is None:
        yield
        return
    cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    if hasattr(os, "getuid") and cache.stat().st_uid != os.getuid():  # not ours: leave it
        yield
        return
    os.environ["MPLCONFIGDIR"] = str(cache)
    try:
        yield
    finally:
        os.environ.pop("MPLCONFIGDIR", None)


@contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Send this process's standard error, and so its kernels', to ``path`` for a while.

    Kernels inherit the file descriptor and write start-up warnings there; a run keeps them in
    ``kernels.log`` instead of the user's terminal.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _execute(notebook: Path, executed: Path, parameters: dict[str, object], kernel_name: str,
             *, log: Path) -> None:
    """Run one notebook with papermill (cwd: its folder); a failing cell is a RunError."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    try:
        with _stderr_to(log), _kernel_environment():
            # the executed notebook is written once, at the end or at the failing cell: the
            # same file as papermill's default of writing it before and after every cell,
            # which costs a JSON dump of the whole notebook (figures included) per write
            # and the kernel is stopped at once (SIGKILL) when the last cell has answered: every
            # output has arrived by then, and a graceful shutdown waits ~0.5 s per notebook for
            # the kernel to tear its interpreter down
            papermill.execute_notebook(
                str(notebook), str(executed), parameters=parameters, kernel_name=kernel_name,
                cwd=str(notebook.parent), progress_bar=False, log_output=False,
                report_mode=False, request_save_on_cell_execute=False,
                shutdown_kernel="immediate",
            )
    except PapermillExecutionError as error:
        raise RunError(
            f"{notebook.name} failed in cell {error.cell_index} (execution count "
            f"{error.exec_count}): {error.ename}: {error.evalue}"
        ) from None


def run_design(design_path: str | Path, *, output_dir: str | Path | None = None,
               seed: int = 20240301, notebooks_dir: str | Path | None = None,
               kernel_name: str = "python3") -> Path:
    """Run ``00_design`` for a design file; returns the folder with its HTML and tables.

    The folder (default ``reports/design/<timestamp>-seed<seed>``) gets the executed notebook,
    ``00_design.html``, every design table as CSV and ``assignment.csv`` with its procedure
    record ``assignment.json``. Written in a partial folder and renamed when complete.

    Examples
    --------
    >>> folder = run_design("surveys/design_demo.yaml")  # doctest: +SKIP
    """
    from doorstep.design import load_design

    spec = load_design(design_path)
    notebooks = Path(notebooks_dir).resolve() if notebooks_dir else find_notebooks_dir(
        spec.path.parent)
    notebook = notebooks / "00_design.ipynb"
    if output_dir is None:
        output_dir = _free_name(_project_root(notebooks) / "reports" / "design"
                                / f"{time.strftime('%Y%m%d-%H%M%S')}-seed{seed}")
    final = Path(output_dir).resolve()
    if final.exists():
        raise ConfigError(f"{final}: the output folder exists already; choose another")
    work = _partial_folder(final)
    parameters = {"design_path": str(spec.path), "output_dir": str(work), "seed": seed}
    check_parameters(notebook, parameters)
    work.mkdir(parents=True)
    executed = work / "00_design.ipynb"
    _execute(notebook, executed, parameters, kernel_name, log=work / "kernels.log")
    _to_html(executed, work / "00_design.html", show_code=False)
    work.rename(final)
    return final


def _free_name(path: Path) -> Path:
    if not path.exists():
        return path
    for number in range(2, 10_000):
        candidate = path.with_name(f"{path.name}-{number}")
        if not candidate.exists():
            return candidate
    raise RunError(f"{path}: too many runs with this name")


def run_evaluation(
    config_path: str | Path,
    *,
    run_dir: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    seed: int = 20240301,
    show_code: bool = False,
    notebooks_dir: str | Path | None = None,
    kernel_name: str = "python3",
) -> RunOutcome:
    """Run the notebook chain for one evaluation config.

    Parameters
    ----------
    config_path
        ``surveys/<programme>/evaluation.yaml``.
    run_dir
        The run's directory; default ``reports/<programme>/<timestamp>-seed<seed>``.
    overrides
        ``key=value`` overrides of the config (``doorstep run --set``).
    seed
        Passed to every notebook.
    show_code
        Keep code cells in the HTML output.

    Returns
    -------
    RunOutcome

    Raises
    ------
    ConfigError
        Before any kernel starts, for a bad config, override or parameter.
    RunError
        When a notebook cell fails; names the notebook, the cell and the kept notebook.

    Examples
    --------
    >>> outcome = run_evaluation("surveys/caring_mothers/evaluation.yaml")  # doctest: +SKIP
    >>> print(outcome.index_html)  # doctest: +SKIP
    """
    config = load_config(config_path, overrides)
    notebooks = Path(notebooks_dir).resolve() if notebooks_dir else find_notebooks_dir(
        config.path.parent
    )
    if run_dir is None:
        run_dir = (_project_root(notebooks) / "reports" / config.programme
                   / f"{time.strftime('%Y%m%d-%H%M%S')}-seed{seed}")
        run_dir = _free_name(run_dir)
    final = Path(run_dir).resolve()
    if final.exists():
        raise ConfigError(f"{final}: the run directory exists already; choose another --run-dir")
    # the notebooks' parameters are checked before anything is written or any kernel starts
    work = _partial_folder(final)
    for name in CHAIN:
        check_parameters(notebooks / f"{name}.ipynb",
                         {"config_path": str(work / "config.yaml"), "run_dir": str(work),
                          "seed": seed})
    with run_lock(final):  # a second run on the same --run-dir stops here with a RunError
        try:
            return _run_locked(config, notebooks, final, overrides, seed, show_code,
                               kernel_name)
        except OSError as error:  # read-only folder, full disk: name the path, no traceback
            raise cannot_write(Path(error.filename or final), error) from error


def _partial_folder(final: Path) -> Path:
    """Where a run is built before its rename: hidden, beside it, named by host and pid (two
    cluster nodes sharing a file system may have the same pid)."""
    return final.with_name(f".{final.name}.partial-{socket.gethostname()}-{os.getpid()}")


def _run_locked(config, notebooks: Path, final: Path, overrides, seed: int, show_code: bool,
                kernel_name: str) -> RunOutcome:
    from doorstep.run.batch import code_fingerprint  # batch imports this module

    if final.exists():  # again under the lock: another run may have finished meanwhile
        raise ConfigError(f"{final}: the run directory exists already; choose another --run-dir")
    work = _partial_folder(final)
    resolved_config = work / "config.yaml"
    parameters = {"config_path": str(resolved_config), "run_dir": str(work), "seed": seed}
    if work.exists():
        shutil.rmtree(work)
    (work / "notebooks").mkdir(parents=True)
    write_atomic(resolved_config,
                 yaml.safe_dump(config.as_dict(), allow_unicode=True, sort_keys=True))

    timings: dict[str, float] = {}
    # a notebook's HTML is written by a second thread while the next notebook runs: this
    # process only waits for the kernel meanwhile, and the conversion (~1 s a notebook, mostly
    # nbconvert's BeautifulSoup pass) is the same call with the same bytes as before
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="doorstep-html") as converter:
        conversions: list[Future[None]] = []
        for name in CHAIN:
            executed = work / "notebooks" / f"{name}.ipynb"
            started = time.perf_counter()
            try:
                _execute(notebooks / f"{name}.ipynb", executed, parameters, kernel_name,
                         log=work / "kernels.log")
            except RunError as error:
                wait(conversions)  # nothing may still write into the folder being renamed
                failed = _free_name(final.with_name(f"{final.name}.failed"))
                work.rename(failed)
                kept = failed / "notebooks" / f"{name}.ipynb"
                raise RunError(f"{error}\nThe partly executed notebook is kept at {kept}"
                               ) from None
            timings[name] = round(time.perf_counter() - started, 3)
            html_name = "index.html" if name == REPORT_NOTEBOOK else f"{name}.html"
            conversions.append(converter.submit(_to_html, executed, work / html_name,
                                                show_code=show_code))
        for conversion in conversions:
            conversion.result()  # a failed conversion raises here, as it did in the loop

    if not (work / "estimates.csv").is_file():
        failed = _free_name(final.with_name(f"{final.name}.failed"))
        work.rename(failed)
        raise RunError(f"the chain finished without writing estimates.csv; see {failed}")
    try:
        scan_run_dir(work)
    except PersonalDataError:
        work.rename(_free_name(final.with_name(f"{final.name}.failed")))
        raise

    manifest = {
        "programme": config.programme,
        "run_id": final.name,
        "seed": seed,
        "parameters": {"config": str(config.path), "overrides": list(overrides),
                       "show_code": show_code},
        "config": config.as_dict(),
        "inputs": {key: {"path": str(path), "sha256": sha256_of(path)}
                   for key, path in sorted(config.inputs().items())},
        "notebooks": {name: {"path": str(notebooks / f"{name}.ipynb"),
                             "sha256": sha256_of(notebooks / f"{name}.ipynb"),
                             "seconds": timings[name]} for name in CHAIN},
        "outputs": {path.name: sha256_of(path) for path in sorted(work.glob("*.csv"))},
        "versions": _versions(),
        "git_commit": _git_commit(notebooks),
        "code_sha256": code_fingerprint(),
        "platform": {"system": platform.system(), "machine": platform.machine(),
                     "python_executable": sys.executable},
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_json(manifest, work / "manifest.json")
    final.parent.mkdir(parents=True, exist_ok=True)
    work.rename(final)
    return RunOutcome(config.programme, final, final / "index.html", final / "estimates.csv",
                      final / "manifest.json")
