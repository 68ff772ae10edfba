"""Doorstep's own exception types.

Every error a user can cause is one of these, with a message that names the file, the row or
column, what was expected and what was found, so that a field coordinator can act on it. Each
type carries the exit code that the ``doorstep`` command returns for it.
"""

from __future__ import annotations


class DoorstepError(Exception):
    """Base class of every error Doorstep raises on purpose.

    Examples
    --------
    >>> try:
    ...     raise DataError("round1.csv, column 'child_age': expected an integer, found 'abc'")
    ... except DoorstepError as error:
    ...     print(error.exit_code)
    3
    """

    exit_code = 1


class ConfigError(DoorstepError):
    """A configuration file, parameter or command-line option is unknown or ill-typed."""

    exit_code = 2


class DataError(DoorstepError):
    """An input file cannot be read or does not hold what the instrument or spec expects."""

    exit_code = 3


class EstimationError(DoorstepError):
    """An estimator cannot be computed on the data given (no variation, too few clusters...)."""

    exit_code = 4


class RunError(DoorstepError):
    """A notebook of a run failed; the message names the notebook and the cell."""

    exit_code = 5
