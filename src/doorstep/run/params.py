"""Notebook parameters: what each notebook declares, with types, and checks before a kernel starts.

This module owns the reading of a notebook's ``parameters`` cell (through
``papermill.inspect_notebook``, which reads the file and starts no kernel) and the check of the
parameters a run passes to it. The cell holds literals only; a parameter's type is its
annotation (``seed: int = 1``) when there is one, otherwise the type of its literal default.
An unknown or ill-typed parameter is a :class:`~doorstep.errors.ConfigError`, never
papermill's warning. It imports nothing of the estimation code.
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from doorstep.errors import ConfigError

#: Types a ``parameters`` cell may declare, by the name papermill or ``type()`` gives them.
PARAMETER_TYPES: dict[str, type | None] = {
    "str": str, "int": int, "float": float, "bool": bool, "list": list, "dict": dict,
    "tuple": tuple, "None": None,
}


@dataclass(frozen=True)
class NotebookParameter:
    """One parameter of a notebook's ``parameters`` cell.

    ``type_name`` is one of :data:`PARAMETER_TYPES`; ``"None"`` (a default of ``None`` with no
    annotation) accepts any literal.

    Examples
    --------
    >>> NotebookParameter("seed", "int", 20240301, "20240301").accepts(7)
    True
    """

    name: str
    type_name: str
    default: object
    default_text: str
    help: str = ""

    def accepts(self, value: object) -> bool:
        """Whether ``value`` has this parameter's type (``bool`` is not an ``int``).

        Examples
        --------
        >>> NotebookParameter("share", "float", 0.5, "0.5").accepts(1)
        True
        """
        expected = PARAMETER_TYPES[self.type_name]
        if expected is None:
            return True
        if isinstance(value, bool):
            return expected is bool
        if expected is float:
            return isinstance(value, int | float)
        return isinstance(value, expected)


def _type_of_literal(notebook: Path, name: str, text: str, annotation: str) -> tuple[str, object]:
    try:
        default = ast.literal_eval(text)
    except (ValueError, SyntaxError) as error:
        raise ConfigError(
            f"{notebook}: parameter {name!r}: expected a literal default in the parameters cell "
            f"(a number, text, true/false, a list or mapping of literals), found {text!r}"
        ) from error
    if annotation in PARAMETER_TYPES and annotation != "None":
        return annotation, default
    type_name = "None" if default is None else type(default).__name__
    if type_name not in PARAMETER_TYPES:
        raise ConfigError(
            f"{notebook}: parameter {name!r}: expected a default of type "
            f"{sorted(k for k in PARAMETER_TYPES if k != 'None')}, found {text!r} ({type_name})"
        )
    return type_name, default


def notebook_parameters(notebook: str | Path) -> tuple[NotebookParameter, ...]:
    """The parameters a notebook declares, in the order of its ``parameters`` cell.

    Parameters
    ----------
    notebook
        An ``.ipynb`` file. No kernel is started.

    Returns
    -------
    tuple of NotebookParameter

    Raises
    ------
    ConfigError
        If the file cannot be read as a notebook, or a default is not a literal.

    Examples
    --------
    >>> [p.type_name for p in notebook_parameters("notebooks/01_clean.ipynb")]  # doctest: +SKIP
    ['str', 'str', 'int']
    """
    import papermill

    notebook = Path(notebook)
    if not notebook.is_file():
        raise ConfigError(f"{notebook}: notebook not found")
    try:
        declared = papermill.inspect_notebook(str(notebook))
    except Exception as error:  # papermill raises assorted errors for a broken file
        raise ConfigError(f"{notebook}: cannot read the notebook's parameters: {error}") from error
    parameters = []
    for name, entry in declared.items():
        text = str(entry.get("default", ""))
        type_name, default = _type_of_literal(notebook, name, text,
                                              str(entry.get("inferred_type_name", "None")))
        parameters.append(NotebookParameter(name, type_name, default, text,
                                            str(entry.get("help", ""))))
    return tuple(parameters)


def check_parameters(notebook: str | Path, parameters: Mapping[str, object]) -> None:
    """Fail, before any kernel starts, on a parameter unknown to the notebook or of the wrong type.

    Parameters
    ----------
    notebook
        The ``.ipynb`` file whose ``parameters`` cell declares the names and types.
    parameters
        What a run will pass to papermill. A declared parameter left out keeps its default.

    Raises
    ------
    ConfigError
        Naming the notebook, the parameter, the expected type (from the literal default or
        annotation) and the value found.

    Examples
    --------
    >>> check_parameters("notebooks/03_impact.ipynb", {"seed": "7"})  # doctest: +SKIP
    Traceback (most recent call last):
    doorstep.errors.ConfigError: 03_impact.ipynb: parameter 'seed': expected int (the default
    is 20240301), found '7' (str)
    """
    notebook = Path(notebook)
    declared = {parameter.name: parameter for parameter in notebook_parameters(notebook)}
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise ConfigError(
            f"{notebook.name}: unknown parameters {unknown}; the notebook declares "
            f"{sorted(declared)} (in {notebook})"
        )
    for name, value in parameters.items():
        parameter = declared[name]
        if not parameter.accepts(value):
            raise ConfigError(
                f"{notebook.name}: parameter {name!r}: expected {parameter.type_name} (the "
                f"default is {parameter.default_text}), found {value!r} ({type(value).__name__})"
            )


def format_parameters(parameters: tuple[NotebookParameter, ...]) -> str:
    """A plain-text table of name, type and default, one parameter per line.

    Examples
    --------
    >>> print(format_parameters((NotebookParameter("seed", "int", 1, "1"),)))
    name  type  default
    seed  int   1
    """
    rows = [("name", "type", "default")]
    rows += [(p.name, p.type_name, p.default_text) for p in parameters]
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    return "\n".join(f"{name:<{widths[0]}}  {kind:<{widths[1]}}  {default}".rstrip()
                     for name, kind, default in rows)


def add_params_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the arguments of ``doorstep params`` to ``parser`` and set its handler.

    Examples
    --------
    >>> add_params_arguments(argparse.ArgumentParser()).parse_args(["a.ipynb"]).notebook
    'a.ipynb'
    """
    parser.add_argument("notebook", help="an .ipynb file with a cell tagged 'parameters'")
    parser.set_defaults(handler=params_main)
    return parser


def params_main(args: argparse.Namespace) -> int:
    """``doorstep params NOTEBOOK``: print the notebook's parameters with types and defaults.

    Examples
    --------
    >>> params_main(argparse.Namespace(notebook="notebooks/01_clean.ipynb"))  # doctest: +SKIP
    name         type  default
    config_path  str   "../surveys/caring_mothers/evaluation.yaml"
    ...
    0
    """
    parameters = notebook_parameters(args.notebook)
    if not parameters:
        raise ConfigError(
            f"{args.notebook}: no parameters: expected a code cell tagged 'parameters', found none"
        )
    print(format_parameters(parameters))
    return 0
