"""Notebook parameters: types from literal defaults, checks before any kernel starts."""

from __future__ import annotations

import argparse

import nbformat
import pytest

from doorstep.errors import ConfigError
from doorstep.run import CHAIN, find_notebooks_dir
from doorstep.run.params import (
    NotebookParameter,
    check_parameters,
    format_parameters,
    notebook_parameters,
    params_main,
)

NOTEBOOKS = find_notebooks_dir()


def _notebook(tmp_path, source, *, tagged=True):
    cell = nbformat.v4.new_code_cell(source)
    if tagged:
        cell.metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_code_cell("print(1)")])
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                       "display_name": "Python 3"}
    path = tmp_path / "example.ipynb"
    nbformat.write(notebook, path)
    return path


def test_chain_notebooks_declare_typed_parameters():
    for name in CHAIN:
        parameters = notebook_parameters(NOTEBOOKS / f"{name}.ipynb")
        assert [(p.name, p.type_name) for p in parameters] == [
            ("config_path", "str"), ("run_dir", "str"), ("seed", "int")], name
        assert isinstance(parameters[2].default, int)


def test_types_come_from_literals_or_annotations(tmp_path):
    path = _notebook(tmp_path, 'label = "x"\nshare: float = 1\nflag = True\nnames = ["a", "b"]\n'
                               "limits = {'low': 1}\nnothing = None\nratio = 0.5")
    types = {p.name: p.type_name for p in notebook_parameters(path)}
    assert types == {"label": "str", "share": "float", "flag": "bool", "names": "list",
                     "limits": "dict", "nothing": "None", "ratio": "float"}


def test_check_parameters_accepts_the_right_types(tmp_path):
    path = _notebook(tmp_path, "seed = 1\nratio = 0.5\nnothing = None\nflag = False")
    check_parameters(path, {"seed": 7, "ratio": 2, "nothing": [1, 2], "flag": True})
    check_parameters(path, {})


@pytest.mark.parametrize(("parameters", "message"), [
    ({"seed": "7"}, r"example.ipynb: parameter 'seed': expected int \(the default is 1\), "
                    r"found '7' \(str\)"),
    ({"seed": True}, r"parameter 'seed': expected int .* found True \(bool\)"),
    ({"ratio": "half"}, r"parameter 'ratio': expected float"),
    ({"flag": 1}, r"parameter 'flag': expected bool"),
    ({"sede": 7}, r"example.ipynb: unknown parameters \['sede'\]; the notebook declares "
                  r"\['flag', 'ratio', 'seed'\]"),
])
def test_check_parameters_refuses_unknown_and_ill_typed(tmp_path, parameters, message):
    path = _notebook(tmp_path, "seed = 1\nratio = 0.5\nflag = False")
    with pytest.raises(ConfigError, match=message):
        check_parameters(path, parameters)


def test_a_notebook_without_a_parameters_cell_accepts_none(tmp_path, capsys):
    path = _notebook(tmp_path, "seed = 1", tagged=False)
    assert notebook_parameters(path) == ()
    with pytest.raises(ConfigError, match=r"unknown parameters \['seed'\]"):
        check_parameters(path, {"seed": 1})
    with pytest.raises(ConfigError, match="expected a code cell tagged 'parameters'"):
        params_main(argparse.Namespace(notebook=str(path)))


def test_a_default_that_is_not_a_literal_is_an_error(tmp_path):
    path = _notebook(tmp_path, "import os\nrun_dir = os.getcwd()")
    with pytest.raises(ConfigError, match=r"parameter 'run_dir': expected a literal default"):
        notebook_parameters(path)


def test_missing_notebook_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="notebook not found"):
        notebook_parameters(tmp_path / "nope.ipynb")


def test_params_command_lists_name_type_default(capsys):
    assert params_main(argparse.Namespace(notebook=str(NOTEBOOKS / "03_impact.ipynb"))) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "type", "default"]
    assert lines[1].split()[:2] == ["config_path", "str"]
    assert lines[3].split() == ["seed", "int", "20240301"]


def test_format_parameters_aligns_columns():
    table = format_parameters((NotebookParameter("seed", "int", 1, "1"),
                               NotebookParameter("config_path", "str", "", '""')))
    assert table.splitlines() == ["name         type  default", "seed         int   1",
                                  'config_path  str   ""']
