"""The Word (.docx) version of a report, because that is what federations and foundations file.

The document is assembled from what the report notebook already shows: a title, the summary
sentences, tables (data frames) and figures (matplotlib figures, embedded as PNG). Chinese text
is set in a CJK font name Word understands (the east-Asian font of each run). The file is
written atomically.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

WORD_CJK_FONT = "Noto Sans CJK SC"
_BOLD = re.compile(r"\*\*(.+?)\*\*")


@dataclass(frozen=True)
class Section:
    """One part of the document: a heading, then paragraphs, a table and/or a figure."""

    heading: str
    paragraphs: tuple[str, ...] = ()
    table: pd.DataFrame | None = None
    figure: Figure | None = None


def _add_markdown_paragraph(document, line: str) -> None:
    """A paragraph from one line of the report's simple Markdown (bullets and **bold**)."""
    style = "List Bullet" if line.startswith("- ") else None
    paragraph = document.add_paragraph(style=style)
    text = line[2:] if style else line
    position = 0
    for match in _BOLD.finditer(text):
        paragraph.add_run(text[position:match.start()])
        paragraph.add_run(match.group(1)).bold = True
        position = match.end()
    paragraph.add_run(text[position:])


def _add_table(document, table: pd.DataFrame) -> None:
    frame = table.reset_index(drop=True)
    grid = document.add_table(rows=1, cols=len(frame.columns))
    grid.style = "Light Grid Accent 1"
    for cell, name in zip(grid.rows[0].cells, frame.columns, strict=True):
        cell.text = str(name)
    for values in frame.itertuples(index=False):
        cells = grid.add_row().cells
        for cell, value in zip(cells, values, strict=True):
            cell.text = "" if pd.isna(value) else (
                f"{value:,.3f}" if isinstance(value, float) else str(value))


def write_docx(path: str | Path, title: str, sections: Sequence[Section]) -> Path:
    """Write a Word document with a title and sections; returns the path.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "report.docx"
    >>> write_docx(target, "Impact report", [Section("Summary", ("- **Income**: +120",))]).name
    'report.docx'
    """
    import docx
    from docx.oxml.ns import qn
    from docx.shared import Inches

    document = docx.Document()
    fonts = document.styles["Normal"].element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), WORD_CJK_FONT)
    document.core_properties.created = datetime(2000, 1, 1)
    document.core_properties.modified = datetime(2000, 1, 1)
    document.add_heading(title, level=0)
    for section in sections:
        document.add_heading(section.heading, level=1)
        for line in section.paragraphs:
            for part in line.splitlines():
                if part.strip():
                    _add_markdown_paragraph(document, part)
        if section.table is not None:
            _add_table(document, section.table)
        if section.figure is not None:
            image = io.BytesIO()
            section.figure.savefig(image, format="png", dpi=150)
            image.seek(0)
            document.add_picture(image, width=Inches(6.3))
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(descriptor)
    try:
        document.save(temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
