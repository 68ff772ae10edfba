"""The ``doorstep`` command: sub-commands, exit codes and messages."""

from __future__ import annotations

import json
import subprocess
import sys

from doorstep.cli import main


def test_simulate_writes_each_programme(tmp_path, capsys):
    assert main(["simulate", "--programme", "skills_workshops", "--scale", "0.2",
                 "--seed", "7", "--out", str(tmp_path)]) == 0
    truth = json.loads((tmp_path / "skills_workshops" / "truth.json").read_text())
    assert truth["seed"] == 7 and truth["programme"] == "skills_workshops"
    assert "skills_workshops:" in capsys.readouterr().out


def test_bad_override_exits_with_the_config_code(demo_projects, capsys):
    code = main(["run", str(demo_projects["caring_mothers"]), "--set", "language=fr"])
    assert code == 2
    assert "language: expected one of ['en', 'zh'], found 'fr'" in capsys.readouterr().err


def test_missing_config_is_a_clear_error_from_the_console_command(tmp_path):
    done = subprocess.run([sys.executable, "-m", "doorstep", "run", str(tmp_path / "x.yaml")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "x.yaml: evaluation config not found" in done.stderr
    assert "Traceback" not in done.stderr
