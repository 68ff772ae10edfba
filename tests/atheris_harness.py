"""Coverage-guided fuzzing of the readers and the expression evaluator with atheris.

Hypothesis (``tests/test_fuzz.py``) draws inputs from grammars we wrote; atheris mutates bytes
guided by which branches of Doorstep's own code they reach, so it finds the inputs nobody
thought to describe. Each input's first byte picks the target (a reader under one of the
suffixes it accepts, or the evaluator); the rest is the file or the expression. Anything that
escapes other than a :class:`~doorstep.errors.DoorstepError` is a crash: libFuzzer stops and
writes the input to ``crash-<sha1>`` in the working folder.

Run by ``tests/test_fuzz.py::test_coverage_guided_atheris`` (``make fuzz``) as::

    python tests/atheris_harness.py -max_total_time=60 -rss_limit_mb=4096 <corpus folder>
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["doorstep"]):
    import pandas as pd

    from doorstep.errors import DoorstepError
    from doorstep.instrument.expressions import evaluate
    from doorstep.io import read_export

SUFFIXES = (".csv", ".xlsx", ".xls", ".dta", ".sav", ".txt")
FRAME = pd.DataFrame({"a": ["1", "2 3", None, "-99"], "b": [1.0, 0.0, float("nan"), -1.5]})
FOLDER = Path(tempfile.mkdtemp(prefix="doorstep-atheris-"))


def one_input(data: bytes) -> None:
    """Read ``data`` as an export or evaluate it as an expression; only our errors may escape."""
    if not data:
        return
    choice, body = data[0], data[1:]
    try:
        if choice % (len(SUFFIXES) + 1) == len(SUFFIXES):
            evaluate(body.decode("utf-8", errors="replace"), FRAME, current=FRAME["b"])
            return
        path = FOLDER / f"export{SUFFIXES[choice % (len(SUFFIXES) + 1)]}"
        path.write_bytes(body)
        try:
            read_export(path)
        finally:
            path.unlink()
            leftovers = os.listdir(FOLDER)
            if leftovers:
                raise AssertionError(f"the reader left {leftovers} behind")
    except DoorstepError:
        pass


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
