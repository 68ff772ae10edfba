"""Text encodings of CSV exports and checksums of raw files.

Chinese field data arrives as UTF-8 (with or without a byte-order mark), UTF-16 (Excel's
"Unicode text") or GBK/GB18030 (Excel on a Chinese Windows machine). Python's own codecs do the
decoding; this module decides which one applies, in an order that cannot mistake one for another
(a BOM is certain, strict UTF-8 rarely decodes GBK by accident, GB18030 is a superset of GBK).
:func:`detect_file_encoding` looks at a file's first bytes only, so that a large UTF-8 export is
not decoded twice: the CSV reader validates UTF-8 as it parses and falls back to a full
:func:`detect_encoding` if that fails.
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
        One of ``"utf-8-sig"``, ``"utf-16"`` (with a BOM), ``"utf-16-le"``/``"utf-16-be"``
        (without one, recognised by the zero bytes of ASCII characters), ``"utf-8"``, ``"gbk"``,
        ``"gb18030"``.

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
    sample = raw[:4096]
    if len(sample) >= 4 and sample.count(0) > len(sample) // 4:  # UTF-16 without a BOM
        odd_zeros = sample[1::2].count(0)
        return "utf-16-le" if odd_zeros > sample[0::2].count(0) else "utf-16-be"
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


def detect_file_encoding(path: str | Path, *, sample_size: int = 1 << 16) -> tuple[str, bool]:
    """Guess a file's encoding from its first ``sample_size`` bytes.

    Returns
    -------
    (encoding, certain)
        ``certain`` is True for a BOM, UTF-16 and GBK/GB18030 found in the sample (such bytes
        are not valid UTF-8); a UTF-8 guess is only as good as the sample, so the caller must
        read strictly and fall back to :func:`detect_encoding` on the whole file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> file = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = file.write_bytes("村,收入".encode("gbk"))
    >>> detect_file_encoding(file)
    ('gbk', True)
    """
    with open(path, "rb") as handle:
        sample = handle.read(sample_size)
        complete = len(sample) < sample_size
    if complete:
        return detect_encoding(sample, source=str(path)), True
    if sample.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return detect_encoding(sample, source=str(path)), True
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return detect_encoding(Path(path).read_bytes(), source=str(path)), True
    return detect_encoding(sample[:4096], source=str(path)) if sample.count(0) else "utf-8", False

