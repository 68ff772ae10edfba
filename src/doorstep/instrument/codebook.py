"""The codebook of an instrument: one row per data-carrying question, written as CSV, XLSX or
Markdown.

This module owns the codebook's columns: ``name``, ``label::<language>`` for each language of
the form, ``type``, ``list_name``, ``allowed_values`` (``code=label`` pairs joined by ``; `` in
the default language, then the first one), ``value_labels::<language>`` per language,
``constraint``, ``relevant``, ``calculation``, ``required``, ``personal``, ``group_path`` and
``repeat_path`` (joined by ``/``) and ``row`` (the survey-sheet row). Files are written to a
temporary name and renamed, so a failed write leaves nothing behind. It must not import
``doorstep.io``, ``clean``, ``estimate``, ``report`` or ``run``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from doorstep.errors import DataError
from doorstep.instrument.xlsform import Instrument
from doorstep.spreadsheet import neutralise_frame

CODEBOOK_SUFFIXES = (".csv", ".xlsx", ".md")


def _pairs(instrument: Instrument, list_name: str | None, language: str) -> str:
    if not list_name or list_name not in instrument.choices:
        return ""
    return "; ".join(f"{code}={label}" for code, label in
                     instrument.choice_labels(list_name, language).items())


def instrument_codebook(instrument: Instrument) -> pd.DataFrame:
    """Tabulate the instrument's questions, one row each, metadata and calculations included.

    Examples
    --------
    >>> from doorstep.instrument import Question
    >>> form = Instrument("f.xlsx", "demo", "1", (Question("age", "integer", {"en": "Age"},
    ...     constraint=". >= 0"),), {})
    >>> instrument_codebook(form).loc[0, ["name", "label::en", "constraint"]].tolist()
    ['age', 'Age', '. >= 0']
    """
    languages = instrument.languages
    preferred = instrument.default_language if instrument.default_language in languages else (
        languages[0] if languages else "default")
    records = []
    for question in instrument.questions:
        record: dict[str, object] = {"name": question.name}
        for language in languages:
            record[f"label::{language}"] = question.labels.get(language, "")
        record.update({
            "type": question.type,
            "list_name": question.list_name or "",
            "allowed_values": _pairs(instrument, question.list_name, preferred)
            + ("; other=..." if question.or_other else ""),
        })
        for language in languages:
            record[f"value_labels::{language}"] = _pairs(instrument, question.list_name, language)
        record.update({
            "constraint": question.constraint or "",
            "relevant": question.relevant or "",
            "calculation": question.calculation or "",
            "required": question.required,
            "personal": question.personal,
            "group_path": "/".join(question.group_path),
            "repeat_path": "/".join(question.repeat_path),
            "row": question.row,
        })
        records.append(record)
    columns = ["name", *(f"label::{language}" for language in languages), "type", "list_name",
               "allowed_values", *(f"value_labels::{language}" for language in languages),
               "constraint", "relevant", "calculation", "required", "personal", "group_path",
               "repeat_path", "row"]
    return pd.DataFrame(records, columns=columns)


def codebook_markdown(codebook: pd.DataFrame) -> str:
    """Render a codebook frame as a GitHub-flavoured Markdown table (``|`` escaped).

    Examples
    --------
    >>> print(codebook_markdown(pd.DataFrame({"name": ["a|b"]})))
    | name |
    | --- |
    | a\\|b |
    """
    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in codebook.columns) + " |",
             "| " + " | ".join("---" for _ in codebook.columns) + " |"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |"
              for row in codebook.itertuples(index=False)]
    return "\n".join(lines)


def write_codebook(instrument: Instrument, path: str | Path) -> Path:
    """Write the codebook to ``path``, the format chosen by its suffix (.csv, .xlsx, .md).

    CSV is written as UTF-8 with a byte-order mark so that Excel on a Chinese Windows machine
    shows the labels.

    Raises
    ------
    DataError
        For an unsupported suffix.

    Examples
    --------
    >>> write_codebook(read_instrument("surveys/caring_mothers/instrument.xlsx"),
    ...                "codebook.md")  # doctest: +SKIP
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in CODEBOOK_SUFFIXES:
        raise DataError(f"{path}: expected a codebook suffix in {list(CODEBOOK_SUFFIXES)}, "
                        f"found {suffix!r}")
    codebook = instrument_codebook(instrument)
    if suffix in {".csv", ".xlsx"}:  # a label such as "=..." must not run in Excel
        codebook = neutralise_frame(codebook)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(handle)
    try:
        if suffix == ".csv":
            codebook.to_csv(temporary, index=False, encoding="utf-8-sig")
        elif suffix == ".xlsx":
            codebook.to_excel(temporary, index=False, sheet_name="codebook", engine="openpyxl")
        else:
            Path(temporary).write_text(codebook_markdown(codebook) + "\n", encoding="utf-8")
        os.chmod(temporary, 0o644)  # mkstemp makes files private; a codebook is shared
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
