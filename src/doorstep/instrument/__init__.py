"""Survey instruments: reading XLSForm files, linting them and writing their codebook.

This sub-package owns what a questionnaire declares: question names, types, labels per
language, choice lists, group and repeat paths, skip logic (``relevant``), constraints,
calculations and personal-data flags. It reads the ``survey``, ``choices`` and ``settings``
sheets of an XLSForm (.xlsx, .xls or sectioned .csv), lints forms (:func:`lint_instrument`) and
writes codebooks (:func:`write_codebook`). It knows nothing of exports, cleaning or estimation
and must not import ``doorstep.io``, ``clean``, ``estimate``, ``report`` or ``run``.

Examples
--------
>>> from doorstep.instrument import read_instrument
>>> instrument = read_instrument("surveys/caring_mothers/instrument.xlsx")  # doctest: +SKIP
>>> instrument.question("child_age").type  # doctest: +SKIP
'integer'
"""

from doorstep.instrument.codebook import instrument_codebook, write_codebook
from doorstep.instrument.lint import Finding, lint_instrument
from doorstep.instrument.xlsform import (
    Choice,
    FormSheets,
    Instrument,
    Question,
    read_form_sheets,
    read_instrument,
)

__all__ = [
    "Choice",
    "Finding",
    "FormSheets",
    "Instrument",
    "Question",
    "instrument_codebook",
    "lint_instrument",
    "read_form_sheets",
    "read_instrument",
    "write_codebook",
]
