"""Formula safety of every cell Doorstep writes for a spreadsheet (CSV or XLSX).

This module owns the one implementation of formula neutralising, shared by the flag lists
(:mod:`doorstep.checks`), the cleaning outputs (:mod:`doorstep.clean.outputs`), the instrument
codebook and the run's CSV files (:mod:`doorstep.files`). It imports nothing from Doorstep,
so that every stage may import it.

Rule
----
A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed
with a single quote, so that Excel, WPS or LibreOffice show it as text instead of running it
(``=HYPERLINK(...)``, ``=cmd|' /C calc'!A0``, ``@SUM(A1)``). Plain numbers are left alone: a cell
is a number when the whole cell matches ``^[+-]?(\\d+(\\.\\d*)?|\\.\\d+)([eE][+-]?\\d+)?$`` (so
``-99``, ``-88.5`` and ``+3`` stay as they are, while ``-2+3`` and ``-cmd|' /C calc'!A0`` get the
quote). Numeric columns are never touched.

Examples
--------
>>> neutralise("=HYPERLINK(\\"http://x\\")"), neutralise("-99")
('\\'=HYPERLINK("http://x")', '-99')
"""

from __future__ import annotations

import re

import pandas as pd

__all__ = ["FORMULA_STARTS", "PLAIN_NUMBER", "neutralise", "neutralise_frame"]

PLAIN_NUMBER = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(PLAIN_NUMBER)


def neutralise(value: object) -> object:
    """Prefix a formula-looking text with a single quote; plain numbers stay as they are.

    Examples
    --------
    >>> neutralise("+8613812345678"), neutralise("@SUM(A1)"), neutralise(-99)
    ('+8613812345678', "'@SUM(A1)", -99)
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if _PLAIN_NUMBER.match(value):
        return value
    return "'" + value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell and header neutralised (numbers untouched).

    Text columns (pandas ``str`` dtype) are handled with vectorised string methods; object
    columns cell by cell. The caller's frame is not changed.

    Examples
    --------
    >>> frame = pd.DataFrame({"=x": ["=1+1", "-99", None], "n": [-1.5, 2.0, 3.0]})
    >>> out = neutralise_frame(frame)
    >>> list(out.columns), out.iloc[:2, 0].tolist(), out["n"].tolist()
    (["'=x", 'n'], ["'=1+1", '-99'], [-1.5, 2.0, 3.0])
    """
    columns = {}
    changed = False
    for position in range(frame.shape[1]):
        values = frame.iloc[:, position]
        if pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
            text = values.astype("str")
            risky = text.str.startswith(FORMULA_STARTS).fillna(False).astype(bool)
            risky &= ~text.str.match(PLAIN_NUMBER).fillna(False).astype(bool)
            if risky.any():
                values = text.mask(risky, "'" + text)
                changed = True
        elif values.dtype == object:
            mapped = values.map(neutralise)
            if not mapped.equals(values):
                values = mapped
                changed = True
        columns[position] = values
    headers = [neutralise(header) for header in frame.columns]
    if not changed and headers == list(frame.columns):
        return frame
    result = pd.DataFrame(columns, index=frame.index)
    result.columns = headers
    result.attrs = dict(frame.attrs)
    return result
