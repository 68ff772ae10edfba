"""Reading raw survey exports: platform detection, encodings, mapping onto the instrument.

This sub-package owns getting a field team's file into a frame whose columns carry the
instrument's names, every answer kept as the text the platform wrote (cleaning, not reading,
decides what a value means, so that every change is logged). Raw files are never written to.
It must not import ``clean``, ``estimate``, ``report`` or ``run``.
"""

from doorstep.io.encoding import detect_encoding, sha256_of
from doorstep.io.exports import PLATFORMS, ExportInfo, read_export, read_table

__all__ = ["PLATFORMS", "ExportInfo", "detect_encoding", "read_export", "read_table", "sha256_of"]
