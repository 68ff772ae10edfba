"""Text encodings of CSV exports and checksums of raw files.

Chinese field data arrives as UTF-8 (with or without a byte-order mark), UTF-16 (Excel's
"Unicode text") or GBK/GB18030 (Excel on a Chinese Windows machine). Python's own codecs do the
decoding; this module decides which one applies, in an order that cannot mistake one for another
(a BOM is certain, strict UTF-8 rarely decodes GBK by accident, GB18030 is a superset of GBK).
"""

from __future__ import annotations

import codecs
import hashlib
from pathlib import Path

from doorstep.errors import DataError

_CANDIDATES = ("utf-8", "gbk", "gb18030")


def sha256_of(path: str | Path) -> str:
    """Return the hex sha256 of a file, read in chunks.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> file = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> _ = file.write_bytes(b"abc")
    >>> sha256_of(file)[:12]
    'ba7816bf8f01'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def detect_encoding(raw: bytes, *, source: str = "<bytes>") -> str:
    """Name the encoding of a text export.

    Parameters
    ----------
    raw
        The file's bytes (all of them: a GBK character can hide deep in a file).
    source
        The file name, for the error message.

    Returns
    -------
    str
        One of ``"utf-8-sig"``, ``"utf-16"``, ``"utf-8"``, ``"gbk"``, ``"gb18030"``.

    Raises
    ------
    DataError
        If no supported encoding decodes the bytes.

    Examples
    --------
    >>> detect_encoding("村,收入".encode("gbk"))
    'gbk'
    >>> detect_encoding(codecs.BOM_UTF8 + "村".encode())
    'utf-8-sig'
    """
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in _CANDIDATES:
        try:
            raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(
            f"{source}: expected text in UTF-8, UTF-16, GBK or GB18030; found bytes that none "
            f"of them decode (first bad byte at offset {error.start}). Re-export the file as "
            "CSV UTF-8."
        ) from error
    return "utf-8"  # pragma: no cover - unreachable, utf-8 is tried first
