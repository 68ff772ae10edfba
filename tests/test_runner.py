"""The runner: a complete run directory, reproducible estimates, clear failures, no leftovers."""

from __future__ import annotations

import json
import shutil

import nbformat
import pandas as pd
import pytest

from doorstep.config import load_config
from doorstep.errors import ConfigError, RunError
from doorstep.estimate import TIDY_COLUMNS
from doorstep.io import sha256_of
from doorstep.report import scan_run_dir, text
from doorstep.run import CHAIN, find_notebooks_dir, run_evaluation
from tests.conftest import ROOT

NOTEBOOKS = find_notebooks_dir()


@pytest.fixture(scope="module")
def runs(demo_runs):
    """Each programme run once through the whole chain on the demo data (conftest.py)."""
    return demo_runs


def test_run_directory_is_complete(runs):
    """Both demo programmes: every output is there, in the config's language (zh and en)."""
    for name, outcome in runs.items():
        files = {path.name for path in outcome.run_dir.iterdir()}
        assert (outcome.run_dir / "fieldwork" / "dashboard.html").is_file()
        assert {"index.html", "01_fieldwork_checks.html", "01_clean.html", "02_balance.html",
                "03_impact.html",
                "estimates.csv", "manifest.json", "cleaning_log.csv", "codebook.csv",
                "config.yaml", "truth_comparison.csv", "notebooks", "report.docx",
                "instrument_codebook.csv", "instrument_codebook.xlsx"} <= files, name
        assert not list(outcome.run_dir.parent.glob(".*partial*"))
        estimates = pd.read_csv(outcome.estimates_csv)
        assert tuple(estimates.columns) == TIDY_COLUMNS
        assert estimates["std_error"].gt(0).all()
        html = outcome.index_html.read_text(encoding="utf-8")
        language = load_config(outcome.run_dir / "config.yaml").language
        assert text("report_title", language) in html and "data:image/png;base64" in html
        assert "import pandas" not in html  # code is hidden by default
        scan_run_dir(outcome.run_dir)  # raises if personal data reached any output


def test_manifest_records_inputs_versions_and_timings(runs, demo_projects):
    outcome = runs["caring_mothers"]
    manifest = json.loads(outcome.manifest.read_text(encoding="utf-8"))
    for key, entry in manifest["inputs"].items():
        assert entry["sha256"] == sha256_of(entry["path"]), key
    assert {"config", "instrument", "cleaning", "source_round1", "source_round4",
            "design_rollout", "truth"} <= set(manifest["inputs"])
    assert set(manifest["notebooks"]) == set(CHAIN)
    assert all(entry["seconds"] > 0 for entry in manifest["notebooks"].values())
    assert manifest["versions"]["pandas"] == pd.__version__
    assert manifest["seed"] == 20240301
    assert manifest["outputs"]["estimates.csv"] == sha256_of(outcome.estimates_csv)


def test_every_estimate_is_compared_with_a_truth_it_is_near(runs, demo_projects):
    """On the demo data every estimate has its true effect, none is grossly off (|z| < 4).

    Whether 95% intervals cover the truth 95% of the time is a property over many draws,
    tested in test_coverage.py; one fixed draw can miss by chance (at the demo seed, the
    caring-mothers household-income interval misses: the estimate on the simulator's
    error-free data is already 1.7 standard errors above the truth).
    """
    for name, outcome in runs.items():
        headline = set(load_config(demo_projects[name]).headline.values())
        comparison = pd.read_csv(outcome.run_dir / "truth_comparison.csv")
        comparison = comparison[~comparison["outcome"].str.startswith("index_")]  # no truth
        assert comparison["true_effect"].notna().all(), name
        assert headline <= set(comparison["outcome"]), name
        z = (comparison["estimate"] - comparison["true_effect"]) / comparison["std_error"]
        assert z.abs().lt(4).all(), comparison.assign(z=z)
        assert comparison["covered"].mean() >= 0.75, comparison


def test_same_seed_gives_byte_identical_estimates(runs, demo_projects, tmp_path):
    again = run_evaluation(demo_projects["caring_mothers"], run_dir=tmp_path / "again",
                           notebooks_dir=NOTEBOOKS)
    assert again.estimates_csv.read_bytes() == runs["caring_mothers"].estimates_csv.read_bytes()


def _notebooks_with(tmp_path, name, source, *, parameters=None):
    folder = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    notebook = nbformat.read(folder / f"{name}.ipynb", as_version=4)
    if parameters is not None:
        cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
        cell.source = parameters
    if source:
        notebook.cells.append(nbformat.v4.new_code_cell(source))
    nbformat.write(notebook, folder / f"{name}.ipynb")
    return folder


def test_failing_cell_stops_the_run_and_keeps_the_notebook(demo_projects, tmp_path):
    notebooks = _notebooks_with(tmp_path, "02_balance", "raise ValueError('planted failure')")
    target = tmp_path / "reports" / "run1"
    with pytest.raises(RunError, match=r"02_balance\.ipynb failed in cell \d+") as error:
        run_evaluation(demo_projects["caring_mothers"], run_dir=target, notebooks_dir=notebooks)
    assert "planted failure" in str(error.value)
    assert not target.exists()
    kept = tmp_path / "reports" / "run1.failed" / "notebooks" / "02_balance.ipynb"
    assert kept.is_file() and str(kept) in str(error.value)
    assert not (kept.parent / "03_impact.ipynb").exists()
    assert not list((tmp_path / "reports").glob(".*partial*"))


def test_unknown_parameter_fails_before_any_kernel_starts(demo_projects, tmp_path):
    notebooks = _notebooks_with(tmp_path, "03_impact", None,
                                parameters='config_path = ""\nrun_dir = ""')
    target = tmp_path / "reports" / "run2"
    with pytest.raises(ConfigError, match=r"03_impact.ipynb: unknown parameters \['seed'\]"):
        run_evaluation(demo_projects["caring_mothers"], run_dir=target, notebooks_dir=notebooks)
    assert not (tmp_path / "reports").exists()


def test_existing_run_directory_is_refused(demo_projects, tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(ConfigError, match="exists already"):
        run_evaluation(demo_projects["caring_mothers"], run_dir=tmp_path / "taken",
                       notebooks_dir=NOTEBOOKS)


def test_design_notebook_writes_power_tables_and_a_reproducible_assignment(demo_projects,
                                                                           tmp_path):
    import shutil as copier

    from doorstep.design import read_procedure, reassign
    from doorstep.io import read_table
    from doorstep.run import run_design

    surveys = demo_projects["caring_mothers"].parents[1]
    copier.copy(ROOT / "surveys" / "design_demo.yaml", surveys / "design_demo.yaml")
    folder = run_design(surveys / "design_demo.yaml", output_dir=tmp_path / "design", seed=7,
                        notebooks_dir=NOTEBOOKS)
    assert {"00_design.html", "mde.csv", "clusters_needed.csv", "power_curve.csv",
            "assignment.csv", "assignment.json"} <= {p.name for p in folder.iterdir()}
    assignment = pd.read_csv(folder / "assignment.csv", dtype=str)
    assert assignment["arm"].value_counts().to_dict() == {"control": 30, "treatment": 30}
    listing, _ = read_table(surveys.parent / "data" / "caring_mothers" / "raw" / "rollout.csv")
    again = reassign(read_procedure(folder / "assignment.json"), listing)
    assert again.table["arm"].tolist() == assignment["arm"].tolist()
    mde = pd.read_csv(folder / "mde.csv")
    assert mde.notna().any(axis=None)
