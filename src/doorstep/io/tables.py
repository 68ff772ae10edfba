"""Raw cells of an export file as text: file-format sniffing, CSV, Excel, HTML, Stata, SPSS.

This module owns getting cells out of a file without interpreting them: what the file really
is (by its first bytes, not its suffix), its text encoding, where its header row is, and every
cell as text. It reports what it had to notice on the way (identifiers Excel turned into
scientific notation, title rows above the header, value labels of .dta/.sav files) and raises
:class:`~doorstep.errors.DataError` for files it cannot read. It must not import ``clean``,
``estimate``, ``report`` or ``run``.

Why the CSV path is shaped as it is
-----------------------------------
Exports reach a million rows, so the CSV reader must stay close to the fastest bare
``pandas.read_csv`` (see ``benchmarks/read_export.py``). It therefore reads every column as
text *once*, with the multi-threaded pyarrow CSV parser, into pandas' Arrow-backed ``str``
dtype (no Python object per cell), and every later step is a vectorised Arrow compute kernel
over a column (blank-to-missing, the scientific-notation scan). UTF-8 is validated by the
parser itself, so a large file is not decoded in Python first; only if that fails, or the
first 64 KiB are not UTF-8, is the whole file decoded to find GBK/GB18030. The parser first
runs without support for line breaks inside quoted values (which parallelises), and re-reads
with it only if a row comes out ragged. Per-cell Python work is kept to small files: Excel
workbooks (whose cells arrive as Python objects anyway) and the error path.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from doorstep.errors import DataError
from doorstep.io.encoding import detect_encoding, detect_file_encoding

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
SCIENTIFIC = r"^\s*[+-]?\d+(?:\.\d+)?[eE]\+\d+\s*$"
_SCIENTIFIC = re.compile(SCIENTIFIC)
EXACT_FLOAT_LIMIT = 1e15  # Excel keeps 15 significant digits; larger whole numbers are damaged
TITLE_SCAN_ROWS = 10


@dataclass(frozen=True)
class RawTable:
    """Cells of one sheet or CSV file, all text (pandas ``str`` dtype, missing as NA).

    ``header_row`` is the 1-based row of the header in the file (2 when a title row sits
    above it); ``damaged`` maps a column to the 1-based data rows whose value Excel stored as a
    number too long for it (``3.30902E+17``); ``value_labels`` and ``variable_labels`` come
    from .dta/.sav files.
    """

    frame: pd.DataFrame
    file_format: str
    encoding: str | None = None
    sheet: str | None = None
    header_row: int = 1
    title: str | None = None
    damaged: dict[str, tuple[int, ...]] = field(default_factory=dict)
    value_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    variable_labels: dict[str, str] = field(default_factory=dict)


def sniff_format(path: Path) -> str:
    """Say what a file really is from its first bytes, whatever its suffix.

    Returns one of ``"xlsx"``, ``"xls"``, ``"encrypted"`` (a password-protected workbook),
    ``"html"``, ``"dta"``, ``"sav"``, ``"zip"`` (a zip that is not a workbook) or ``"text"``.

    Raises
    ------
    DataError
        For an empty file or a truncated workbook.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> file = pathlib.Path(tempfile.mkdtemp()) / "export.xls"
    >>> _ = file.write_text("<html><table><tr><td>1</td></tr></table></html>")
    >>> sniff_format(file)
    'html'
    """
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if not head.strip():
        raise DataError(f"{path}: the file is empty; expected a header row and data rows")
    if head.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        # zipfile raises BadZipFile for a cut archive, NotImplementedError for a damaged
        # version field and ValueError or OSError for damaged offsets.
        except (zipfile.BadZipFile, NotImplementedError, ValueError, OSError) as error:
            raise DataError(
                f"{path}: expected a complete .xlsx workbook, found a truncated or damaged zip "
                f"({error}); download the export again"
            ) from error
        return "xlsx" if "xl/workbook.xml" in names else "zip"
    if head.startswith(OLE2_MAGIC):
        with open(path, "rb") as handle:
            container = handle.read(1 << 20)
        if "EncryptedPackage".encode("utf-16-le") in container:
            return "encrypted"
        return "xls"
    if head.startswith((b"$FL2", b"$FL3")):
        return "sav"
    if head.startswith(b"<stata_dta>") or (head[:1] in (b"\x71", b"\x72", b"\x73")
                                           and path.suffix.lower() == ".dta"):
        return "dta"
    text = head.lstrip(b"\xef\xbb\xbf\xff\xfe \t\r\n").replace(b"\x00", b"")[:512].lower()
    if text.startswith((b"<html", b"<!doctype html", b"<table", b"<meta", b"<?xml", b"<head")):
        return "html"
    return "text"


PARALLEL_CELLS = 1_000_000  # below this many cells, per-column work runs in the calling thread


def in_threads(work, items: list, cells: int) -> list:
    """``[work(item) for item in items]``, on a thread per core when there are many ``cells``.

    For per-column work that spends its time in Arrow or numpy kernels, which release the GIL.

    Examples
    --------
    >>> in_threads(len, ["ab", "c"], cells=3)
    [2, 1]
    """
    workers = min(os.cpu_count() or 1, len(items))
    if cells < PARALLEL_CELLS or workers < 2:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(work, items))


def _blank_to_missing(frame: pd.DataFrame, *, empty_is_null: bool = False) -> pd.DataFrame:
    """Empty and whitespace-only cells become missing, column by column with Arrow kernels.

    ``utf8_is_space`` is the cheapest Arrow kernel that finds them (literal substring searches
    and regular expressions cost 3-6 times more); when the parser already made empty strings
    null (``empty_is_null``) it is the only one run. Arrow's kernels release the GIL, so large
    frames run their columns on every core (:func:`in_threads`).
    """
    def without_blanks(values: pd.Series) -> pa.ChunkedArray:
        array = getattr(values.array, "_pa_array", None)
        if array is None:
            array = pa.chunked_array([pa.array(values.to_numpy(dtype=object),
                                               type=pa.large_string(), from_pandas=True)])
        blank = pc.utf8_is_space(array)
        if not empty_is_null:
            blank = pc.or_kleene(blank, pc.equal(array, ""))
        if pc.any(blank).as_py():
            array = pc.if_else(blank, pa.scalar(None, array.type), array)
        return array

    series = [frame.iloc[:, position] for position in range(frame.shape[1])]
    columns = in_threads(without_blanks, series, frame.size)
    table = pa.table(columns, names=[str(i) for i in range(len(columns))])
    return table.to_pandas().set_axis(frame.columns, axis=1)


def file_has_exponent(path: Path) -> bool:
    """True when the file's bytes hold ``E+`` or ``e+`` (as ``3.30902E+17`` does).

    A vectorised scan of the memory-mapped file for ``+`` and the byte before it: about ten
    times faster than ``bytes.find``/``mmap.find`` on exports full of ``+08:00`` time zones.
    Valid for ASCII-compatible encodings (UTF-8, GBK, GB18030), not UTF-16.

    Examples
    --------
    >>> import tempfile
    >>> file = Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = file.write_bytes(b"id,3.30902E+17")
    >>> file_has_exponent(file)
    True
    """
    import mmap

    with open(path, "rb") as handle:
        if handle.seek(0, 2) == 0:
            return False
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            data = np.frombuffer(mapped, dtype=np.uint8)
            found = False
            step = 1 << 24
            for begin in range(0, len(data), step):
                chunk = data[max(begin - 1, 0):begin + step]
                if _bytes_hold_exponent(chunk):
                    found = True
                    break
            del data, chunk  # release the buffer before the map closes
    return found


def _may_hold_exponent(array: pa.ChunkedArray) -> bool:
    """True when the bytes of a string column hold ``E+`` or ``e+`` anywhere.

    Reads the chunks' value buffers directly (a memory-speed scan, 20-50 times cheaper than
    the regular expression of :func:`scientific_rows`, which then runs only on the few columns
    this lets through); bytes outside a sliced chunk can only make it answer True needlessly.
    """
    for chunk in array.chunks:
        buffers = chunk.buffers()
        if len(buffers) < 3 or buffers[2] is None:
            continue
        if _bytes_hold_exponent(np.frombuffer(buffers[2], dtype=np.uint8)):
            return True
    return False


def _bytes_hold_exponent(data: np.ndarray) -> bool:
    """True when the bytes ``data`` hold ``E+`` or ``e+``: each ``+`` and the byte before it."""
    before = data[np.flatnonzero(data[1:] == ord("+"))]
    return bool(((before == ord("E")) | (before == ord("e"))).any())


def scientific_rows(frame: pd.DataFrame, columns: list[str] | None = None) -> dict[str, tuple[int,
                                                                                          ...]]:
    """Columns holding numbers in scientific notation (``3.30902E+17``), with 1-based rows.

    Examples
    --------
    >>> scientific_rows(pd.DataFrame({"id": ["330902199001011234", "3.30902E+17"]}))
    {'id': (2,)}
    """
    found = {}
    for name in columns if columns is not None else frame.columns:
        values = frame[name]
        array = getattr(values.array, "_pa_array", None)
        if array is None:
            matches = values.astype("str").str.match(SCIENTIFIC).fillna(False).to_numpy(bool)
        else:
            if not _may_hold_exponent(array):
                continue
            matches = pc.fill_null(pc.match_substring_regex(array, SCIENTIFIC), False)
            matches = matches.to_numpy(zero_copy_only=False)
        if matches.any():
            found[name] = tuple(int(row) + 1 for row in np.flatnonzero(matches))
    return found


def check_headers(headers: list[str], path: Path, header_row: int = 1,
                  sheet: str | None = None) -> None:
    """Raise a :class:`DataError` for a blank or repeated header, naming the column.

    Examples
    --------
    >>> check_headers(["a", "b"], Path("x.csv"))
    """
    where = f"{path}" + (f", sheet {sheet!r}" if sheet else "") + f", row {header_row}"
    seen: dict[str, int] = {}
    for position, header in enumerate(headers, start=1):
        if not header:
            raise DataError(
                f"{where}: column {position} has no header; expected a name in every column "
                "of the header row"
            )
        if header in seen:
            raise DataError(
                f"{where}: column {position} repeats the header {header!r} of column "
                f"{seen[header]}; expected each header once"
            )
        seen[header] = position


def _looks_like_title(rows: list[list[str]]) -> int:
    """How many rows at the top look like a title (one filled cell over a wider header)."""
    filled = [sum(bool(cell.strip()) for cell in row) for row in rows[:TITLE_SCAN_ROWS]]
    if len(filled) < 2 or filled[0] > 1:
        return 0
    widest = max(filled)
    for position, count in enumerate(filled):
        if count >= max(2, widest // 2):
            return position
    return 0


# ----------------------------------------------------------------------------------------------
# CSV
# ----------------------------------------------------------------------------------------------

FIRST_ROWS_LIMIT = 1 << 26
"""How many characters the header sniffing reads at most (64 Mi): a header may be very long."""


def _first_rows(path: Path, encoding: str, count: int) -> tuple[list[list[str]], str]:
    with open(path, encoding=encoding, newline="", errors="replace") as handle:
        sample = handle.read(1 << 16)
        # read on until the sample holds the first rows whole: a header line longer than one
        # chunk must not be cut (its last header would be truncated)
        while sample.count("\n") <= count and len(sample) < FIRST_ROWS_LIMIT:
            more = handle.read(max(len(sample), 1 << 16))
            if not more:
                break
            sample += more
    lines = sample.splitlines()
    try:
        separator = csv.Sniffer().sniff(
            next((line for line in lines if line.count(",") + line.count(";") + line.count(
                "\t") > 0), lines[0] if lines else ""), delimiters=",;\t").delimiter
    except (csv.Error, IndexError):
        separator = ","
    try:
        rows = list(itertools.islice(csv.reader(io.StringIO(sample, newline=""),
                                                delimiter=separator), count))
    except csv.Error as error:
        raise DataError(f"{path}: expected a header row in CSV, cannot parse the first rows: "
                        f"{error}") from error
    return [[cell for cell in row] for row in rows if row], separator


def _ragged_row(path: Path, encoding: str, separator: str, skip: int, width: int) -> tuple[int,
                                                                                          int]:
    """Find the first data row whose field count differs from the header (slow path)."""
    with open(path, encoding=encoding, newline="", errors="replace") as handle:
        reader = csv.reader(handle, delimiter=separator)
        number = 0
        try:
            for number, row in enumerate(reader, start=1):
                if number <= skip or not row:
                    continue
                if len(row) != width:
                    return number, len(row)
        except csv.Error:
            return number + 1, 0
    return 0, width


def _pyarrow_read(path: Path, encoding: str, separator: str, names: list[str], skip: int,
                  newlines: bool) -> pa.Table:
    # pyarrow parses UTF-8 natively (and skips its BOM) only when told "utf8"; any other
    # spelling makes it transcode through Python's codecs, several times slower
    native = encoding.replace("-", "").lower() in {"utf8", "utf8sig"}
    read_options = pa_csv.ReadOptions(column_names=names, skip_rows=skip,
                                      encoding="utf8" if native else encoding)
    parse_options = pa_csv.ParseOptions(delimiter=separator, newlines_in_values=newlines)
    convert_options = pa_csv.ConvertOptions(
        column_types={name: pa.large_string() for name in names},  # pandas' str dtype layout
        strings_can_be_null=True, quoted_strings_can_be_null=True, null_values=[""],
    )
    return pa_csv.read_csv(path, read_options=read_options, parse_options=parse_options,
                           convert_options=convert_options)


def _check_unclosed_quote(table: pa.Table, path: Path, encoding: str, separator: str,
                          header_row: int) -> None:
    """Raise a DataError when a quote opened in the last row is never closed.

    pyarrow reads such a quote to the end of the file, so the rest of the file silently
    becomes one cell of the last row. Only when a cell of the last row holds a line break is
    the file re-read with Python's strict CSV reader to tell the two apart.
    """
    last = table.slice(table.num_rows - 1, 1)
    if not any(value is not None and ("\n" in value or "\r" in value)
               for value in last.to_pylist()[0].values()):
        return
    try:
        with open(path, encoding=encoding, newline="", errors="replace") as handle:
            for _ in csv.reader(handle, delimiter=separator, strict=True):
                pass
    except csv.Error as error:
        row = header_row + table.num_rows
        raise DataError(
            f"{path}, row {row}: expected every quoted value to be closed, found a quote (\") "
            f"opened in this row that is never closed ({error}); the rest of the file would "
            "become one cell. Close the quote or re-export the file"
        ) from error


def read_csv_text(path: Path) -> RawTable:
    """Read a delimited text file (comma, semicolon or tab) as text, detecting its encoding.

    Raises
    ------
    DataError
        For an empty or header-only file, a blank or repeated header, ragged rows (naming the
        first), or bytes no supported encoding decodes.

    Examples
    --------
    >>> read_csv_text(Path("data/caring_mothers/raw/round3_gbk.csv")).encoding  # doctest: +SKIP
    'gbk'
    """
    encoding, certain = detect_file_encoding(path)
    rows, separator = _first_rows(path, encoding, TITLE_SCAN_ROWS)
    if not rows:
        raise DataError(f"{path}: the file is empty; expected a header row and data rows")
    title_rows = _looks_like_title(rows)
    header_row = title_rows + 1
    headers = [header.strip() for header in rows[title_rows]]
    check_headers(headers, path, header_row)
    internal = [f"c{position}" for position in range(len(headers))]
    table = None
    for newlines in (False, True):
        try:
            table = _pyarrow_read(path, encoding, separator, internal, header_row, newlines)
            break
        except UnicodeDecodeError as error:  # raised by Python's codecs when pyarrow transcodes
            raise DataError(
                f"{path}: expected text in {encoding}, found bytes it cannot decode at offset "
                f"{error.start} of a chunk ({error.reason}); the file may be truncated or mix "
                "encodings. Re-export the file as CSV UTF-8"
            ) from error
        except pa.ArrowInvalid as error:
            message = str(error)
            if "UTF8" in message.upper() or "utf-8" in message.lower() or (
                    "decode" in message.lower()):
                if certain:
                    raise DataError(f"{path}: cannot decode as {encoding}: {message}") from error
                encoding = detect_encoding(path.read_bytes(), source=str(path))
                certain = True
                try:
                    table = _pyarrow_read(path, encoding, separator, internal, header_row,
                                          newlines)
                    break
                except pa.ArrowInvalid as second:
                    message = str(second)
            if "columns" not in message or not newlines:
                if "columns" in message:
                    continue
                raise DataError(f"{path}: cannot parse as CSV: {message}") from error
            row, found = _ragged_row(path, encoding, separator, header_row, len(headers))
            raise DataError(
                f"{path}, row {row}: expected {len(headers)} fields like the header (row "
                f"{header_row}), found {found}; the row is ragged (a stray separator or a "
                "missing quote)"
            ) from error
    if table is None or table.num_rows == 0:
        raise DataError(f"{path}: the file has a header row but no data rows")
    _check_unclosed_quote(table, path, encoding, separator, header_row)
    frame = _blank_to_missing(table.to_pandas().set_axis(headers, axis=1), empty_is_null=True)
    title = ", ".join(cell for row in rows[:title_rows] for cell in row if cell.strip()) or None
    return RawTable(frame=frame, file_format="csv", encoding=encoding, header_row=header_row,
                    title=title)


# ----------------------------------------------------------------------------------------------
# Workbooks and HTML tables
# ----------------------------------------------------------------------------------------------

def _cell_text(value: object) -> tuple[str | None, bool]:
    """Text of a workbook cell and whether it is a damaged (too long) number."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None, False
    if isinstance(value, bool):
        return str(value).upper(), False
    if isinstance(value, int | np.integer):
        return str(int(value)), abs(int(value)) >= EXACT_FLOAT_LIMIT
    if isinstance(value, float):
        if value.is_integer() and abs(value) < EXACT_FLOAT_LIMIT:
            return str(int(value)), False
        if value.is_integer():
            return f"{value:.15G}".replace("E+", "E+"), True
        return repr(value), False
    if isinstance(value, pd.Timestamp):
        return (value.isoformat(sep=" ") if value.time() != pd.Timestamp(0).time()
                else value.date().isoformat()), False
    if hasattr(value, "isoformat"):
        return value.isoformat(), False
    text = str(value)
    return (text if text.strip() else None), False


def _cells_to_table(cells: pd.DataFrame, path: Path, file_format: str,
                    sheet: str | None) -> RawTable:
    texts = [[_cell_text(value) for value in row] for row in cells.itertuples(index=False)]
    plain = [["" if text is None else text for text, _ in row] for row in texts]
    if not plain or not any(any(cell.strip() for cell in row) for row in plain):
        where = f"sheet {sheet!r}" if sheet else "the first sheet"
        raise DataError(f"{path}: {where} is empty; expected a header row")
    title_rows = _looks_like_title(plain)
    header_row = title_rows + 1
    headers = [cell.strip() for cell in plain[title_rows]]
    while headers and not headers[-1]:
        headers.pop()
    check_headers(headers, path, header_row, sheet)
    body = texts[header_row:]
    while body and all(text is None for text, _ in body[-1]):
        body.pop()
    if not body:
        raise DataError(f"{path}" + (f", sheet {sheet!r}" if sheet else "")
                        + ": the sheet has a header row but no data rows")
    width = len(headers)
    for offset, row in enumerate(body, start=header_row + 1):
        extra = [text for text, _ in row[width:] if text is not None]
        if extra:
            raise DataError(
                f"{path}" + (f", sheet {sheet!r}" if sheet else "") + f", row {offset}: "
                f"found a value ({extra[0]!r}) right of the last header (column {width}); "
                "expected every value under a header"
            )
    damaged: dict[str, list[int]] = {}
    columns = {}
    for position, header in enumerate(headers):
        values = []
        for number, row in enumerate(body, start=1):
            text, is_damaged = row[position] if position < len(row) else (None, False)
            values.append(text)
            if is_damaged:
                damaged.setdefault(header, []).append(number)
        columns[header] = pd.array(values, dtype="str")
    frame = pd.DataFrame(columns)
    for header, rows in scientific_rows(frame).items():
        damaged[header] = sorted(set(damaged.get(header, [])) | set(rows))
    title = ", ".join(cell for row in plain[:title_rows] for cell in row if cell.strip()) or None
    return RawTable(frame=frame, file_format=file_format, sheet=sheet, header_row=header_row,
                    title=title, damaged={k: tuple(v) for k, v in damaged.items()})


def read_workbook(path: Path, file_format: str, *, all_sheets: bool = False) -> list[RawTable]:
    """Read the first sheet (or every non-empty sheet) of an .xlsx/.xls workbook as text.

    Examples
    --------
    >>> read_workbook(Path("data/caring_mothers/raw/round2_wjx.xlsx"), "xlsx")  # doctest: +SKIP
    """
    engine = "xlrd" if file_format == "xls" else "openpyxl"
    try:
        with warnings.catch_warnings():  # xlrd is deprecated in pandas, but reads .xls
            warnings.filterwarnings("ignore", message="The xlrd engine is deprecated")
            book = pd.read_excel(path, sheet_name=None if all_sheets else 0, header=None,
                                 dtype=object, engine=engine, keep_default_na=False,
                                 na_values=[])
    except Exception as error:  # openpyxl and xlrd raise many types for a damaged workbook
        if "encrypt" in str(error).lower():
            raise DataError(
                f"{path}: the workbook is password-protected; expected an unprotected export. "
                "Open it in Excel, remove the password (File > Info > Protect Workbook) and save "
                "a copy"
            ) from error
        raise DataError(
            f"{path}: expected an Excel workbook, found a file {engine} cannot read "
            f"({type(error).__name__}: {error}); it may be truncated: download it again"
        ) from error
    sheets = book if isinstance(book, dict) else {None: book}
    tables = []
    for position, (sheet, cells) in enumerate(sheets.items()):
        cells = cells.replace("", None) if len(cells) else cells
        if position > 0 and cells.dropna(how="all").empty:
            continue
        tables.append(_cells_to_table(cells, path, file_format, None if sheet is None
                                      else str(sheet)))
    return tables


def read_html_table(path: Path) -> RawTable:
    """Read the first table of an HTML file (Wenjuanxing's old ".xls" downloads).

    Examples
    --------
    >>> read_html_table(Path("wjx_old.xls"))  # doctest: +SKIP
    """
    data = path.read_bytes()
    encoding = detect_encoding(data, source=str(path))
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:  # a byte-order mark promised more than the bytes hold
        raise DataError(
            f"{path}: expected an HTML page in {encoding}, found bytes it cannot decode at "
            f"offset {error.start} ({error.reason}); the file may be truncated"
        ) from error
    try:
        from lxml import etree
        from lxml import html as lxml_html

        tables = lxml_html.fromstring(text).xpath("//table")
    except (ImportError, ValueError, etree.LxmlError) as error:  # an empty or broken page
        tables, reason = [], str(error) or type(error).__name__
    else:
        reason = "the page holds no <table>"
    if not tables:
        raise DataError(
            f"{path}: the file is an HTML page, not a workbook (Wenjuanxing's old .xls "
            f"downloads are), and no table could be read from it ({reason}); download the "
            "export again as .xlsx or CSV"
        )
    # lxml, not pandas.read_html: read_html parses "010305" as the number 10305
    rows = [[cell.text_content() for cell in row.xpath("./th|./td")]
            for row in tables[0].xpath(".//tr")]
    width = max((len(row) for row in rows), default=0)
    if width == 0:
        raise DataError(f"{path}: the file is an HTML page whose first <table> has no cells; "
                        "expected a header row and data rows. Download the export again")
    cells = pd.DataFrame([[(cell if cell.strip() else None) for cell in row]
                          + [None] * (width - len(row)) for row in rows], dtype=object)
    raw = _cells_to_table(cells, path, "html", None)
    return RawTable(frame=raw.frame, file_format="html", encoding=encoding,
                    header_row=raw.header_row, title=raw.title, damaged=raw.damaged)


# ----------------------------------------------------------------------------------------------
# Stata and SPSS
# ----------------------------------------------------------------------------------------------

def _numbers_as_text(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("str")
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        whole = np.isfinite(numbers) & (numbers == np.round(numbers)) & (
            np.abs(numbers) < EXACT_FLOAT_LIMIT)
        text = pd.Series(values.astype("str"), index=values.index, dtype="str")
        if whole.any():
            text[whole] = pd.Series(numbers[whole].astype(np.int64)).astype("str").to_numpy()
        return text.where(~np.isnan(numbers), None)
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.strftime("%Y-%m-%d %H:%M:%S").str.replace(" 00:00:00", "",
                                                                    regex=False)
    text = values.astype(object).map(lambda v: None if v is None or v != v else str(v))
    return text.astype("str")


def read_statistical(path: Path, file_format: str) -> RawTable:
    """Read a Stata .dta or SPSS .sav file with pyreadstat; values as text, labels kept aside.

    Examples
    --------
    >>> read_statistical(Path("round1.dta"), "dta").value_labels  # doctest: +SKIP
    """
    import pyreadstat

    reader = pyreadstat.read_dta if file_format == "dta" else pyreadstat.read_sav
    try:
        data, meta = reader(str(path), apply_value_formats=False)
    except Exception as error:  # pyreadstat raises ReadstatError and others
        raise DataError(
            f"{path}: expected a {'Stata .dta' if file_format == 'dta' else 'SPSS .sav'} file, "
            f"found one pyreadstat cannot read ({type(error).__name__}: {error})"
        ) from error
    if data.empty:
        raise DataError(f"{path}: the file has variables but no observations")
    frame = pd.DataFrame({name: _numbers_as_text(data[name]) for name in data.columns})
    frame = _blank_to_missing(frame)

    def label_key(value: object) -> str:
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    value_labels = {
        name: {label_key(value): str(label) for value, label in labels.items()}
        for name, labels in (meta.variable_value_labels or {}).items()
    }
    variable_labels = {name: label for name, label in
                       (meta.column_names_to_labels or {}).items() if label}
    return RawTable(frame=frame, file_format=file_format, encoding=getattr(
        meta, "file_encoding", None), value_labels=value_labels, variable_labels=variable_labels)


def read_raw(path: Path, *, all_sheets: bool = False) -> list[RawTable]:
    """Read any supported export file into raw text tables (one per sheet when asked).

    Raises
    ------
    DataError
        For a missing, empty, truncated, encrypted or unrecognised file.

    Examples
    --------
    >>> [table.file_format for table in read_raw(Path("round1_kobo.csv"))]  # doctest: +SKIP
    ['csv']
    """
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    file_format = sniff_format(path)
    suffix = path.suffix.lower()
    if file_format == "encrypted":
        raise DataError(
            f"{path}: the workbook is password-protected (an encrypted OLE2 container); expected "
            "an unprotected export. Open it in Excel, remove the password and save a copy"
        )
    if file_format == "zip":
        raise DataError(f"{path}: expected a workbook or a CSV file, found a zip archive; "
                        "unzip it and read the CSV files inside")
    if file_format in {"xlsx", "xls"}:
        return read_workbook(path, file_format, all_sheets=all_sheets)
    if file_format == "html":
        return [read_html_table(path)]
    if file_format in {"dta", "sav"}:
        return [read_statistical(path, file_format)]
    if suffix in {".xlsx", ".xlsm", ".xls", ".dta", ".sav"}:
        kind = {".dta": "a Stata file", ".sav": "an SPSS file"}.get(suffix, "an Excel workbook")
        # an .xlsx/.xls that is really CSV text: read it as such if it is a real table
        try:
            table = read_csv_text(path)
        except DataError as error:
            table = None
            reason = str(error)
        if table is None or table.frame.shape[1] < 2:
            with open(path, "rb") as handle:
                first_line = handle.readline(80)
            raise DataError(
                f"{path}: expected {kind} as its suffix {suffix!r} says, found a text file "
                f"that is not a readable table either (first bytes {first_line!r}"
                + (f"; {reason}" if table is None else "") + ")"
            )
        return [RawTable(frame=table.frame, file_format=f"csv (named {suffix}, not {kind})",
                         encoding=table.encoding, header_row=table.header_row,
                         title=table.title)]
    # Excel writes "3.30902E+17", Python "3.30902e+17": one vectorised scan of the bytes rules
    # out the per-column regular expression for almost every file; it runs beside the parser
    with ThreadPoolExecutor(max_workers=1) as pool:
        exponent = pool.submit(file_has_exponent, path)
        table = read_csv_text(path)
        utf16 = (table.encoding or "").startswith("utf-16")
        damaged = scientific_rows(table.frame) if utf16 or exponent.result() else {}
    return [RawTable(frame=table.frame, file_format="csv", encoding=table.encoding,
                     header_row=table.header_row, title=table.title, damaged=damaged)]
