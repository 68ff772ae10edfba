"""Survey instruments: reading XLSForm files into an :class:`Instrument`.

This sub-package owns what a questionnaire declares: question names, types, labels per
language, choice lists, skip logic (``relevant``), constraints and personal-data flags. It reads
the ``survey``, ``choices`` and ``settings`` sheets of an XLSForm workbook (.xlsx). It knows
nothing of exports, cleaning or estimation and must not import them.

Examples
--------
>>> from doorstep.instrument import read_instrument
>>> instrument = read_instrument("surveys/caring_mothers/instrument.xlsx")  # doctest: +SKIP
>>> instrument.question("child_age").type  # doctest: +SKIP
'integer'
"""

from doorstep.instrument.xlsform import Choice, Instrument, Question, read_instrument

__all__ = ["Choice", "Instrument", "Question", "read_instrument"]
