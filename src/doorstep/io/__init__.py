"""Reading raw survey exports: file formats, encodings, platforms, mapping onto the instrument.

This sub-package owns getting a field team's file into a frame whose columns carry the
instrument's names, every answer kept as the text the platform wrote (cleaning, not reading,
decides what a value means, so that every change is logged). Raw files are never written to.
It must not import ``clean``, ``estimate``, ``report`` or ``run``.
"""

from doorstep.io.encoding import detect_encoding, detect_file_encoding, sha256_of
from doorstep.io.exports import (
    NOT_SHOWN,
    PLATFORMS,
    SKIPPED,
    ExportInfo,
    detect_platform,
    read_export,
    read_export_tables,
    read_table,
)

__all__ = [
    "NOT_SHOWN",
    "PLATFORMS",
    "SKIPPED",
    "ExportInfo",
    "detect_encoding",
    "detect_file_encoding",
    "detect_platform",
    "read_export",
    "read_export_tables",
    "read_table",
    "sha256_of",
]
