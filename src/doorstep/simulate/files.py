"""Atomic, byte-reproducible file writing for the simulator.

This module owns how simulated files reach the disk: every file is written to a temporary name
in its own folder and then renamed with ``os.replace``, and xlsx workbooks are normalised (fixed
zip timestamps and document dates) so that the same content gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

from openpyxl import Workbook

from doorstep.files import write_atomic

FIXED_ZIP_TIME = (2024, 3, 1, 0, 0, 0)
FIXED_DOCUMENT_TIME = "2024-03-01T00:00:00Z"


def write_bytes_atomic(path, data: bytes) -> Path:
    """Write bytes to ``path`` through a temporary file in the same folder.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> write_bytes_atomic(target, b"ok").read_bytes()
    b'ok'
    """
    return write_atomic(path, data)


def csv_bytes(header, rows, *, encoding: str, delimiter: str = ",", line_end: str = "\n") -> bytes:
    """Render rows as CSV text in the given encoding (``None`` cells become empty).

    Examples
    --------
    >>> csv_bytes(["a", "b"], [[1, None]], encoding="utf-8")
    b'a,b\\n1,\\n'
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=line_end)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return buffer.getvalue().encode(encoding)


def write_csv_atomic(path, header, rows, *, encoding="utf-8", delimiter=",", line_end="\n"):
    """Write a CSV file atomically; see :func:`csv_bytes` for the arguments.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
    >>> write_csv_atomic(target, ["x"], [[1]]).read_text()
    'x\\n1\\n'
    """
    data = csv_bytes(header, rows, encoding=encoding, delimiter=delimiter, line_end=line_end)
    return write_bytes_atomic(path, data)


def _normalised_zip(data: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = content.decode("utf-8")
                text = re.sub(
                    r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                    rf"\g<1>{FIXED_DOCUMENT_TIME}\g<3>",
                    text,
                )
                content = text.encode("utf-8")
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            target.writestr(entry, content)
    return output.getvalue()


def write_xlsx_atomic(path, sheets: dict[str, list[list]]) -> Path:
    """Write a workbook whose sheets are lists of rows (first row = header), reproducibly.

    Cell values are written as given: ``int``/``float`` as numbers, ``str`` as text, ``None`` as
    an empty cell.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.xlsx"
    >>> write_xlsx_atomic(target, {"Sheet1": [["x"], [1]]}).suffix
    '.xlsx'
    """
    workbook = Workbook(write_only=True)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(title=name)
        for row in rows:
            sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return write_bytes_atomic(path, _normalised_zip(buffer.getvalue()))
