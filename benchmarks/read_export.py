"""Benchmark ``doorstep.io.read_export`` against bare ``pandas.read_csv`` on a large Kobo CSV.

Usage: ``.venv/bin/python benchmarks/read_export.py [--rows N] [--repeats R]``

Generates once, into a temporary folder, an N-row (default 1,000,000), 60-column Kobo CSV
(semicolon-separated, UTF-8, Chinese free text, identifiers with leading zeros, a
select_multiple with its 0/1 option columns, ``_uuid``/``_submission_time``/``__version__``)
and a matching CSV XLSForm. Each reader then runs in its own subprocess, so that its peak
memory (``resource.getrusage`` maxrss, minus the process's resident size after imports) is
its own; time is the best wall-clock of R runs. Ratios are to the fastest bare pandas read.
Goal: read_export within 1.5x of the fastest bare read in time and 2x in memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

READERS = {
    "pandas.read_csv (default engine)":
        lambda pd, path, form: pd.read_csv(path, sep=";"),
    "pandas.read_csv (default engine, dtype=str)":
        lambda pd, path, form: pd.read_csv(path, sep=";", dtype=str),
    "pandas.read_csv (pyarrow engine)":
        lambda pd, path, form: pd.read_csv(path, sep=";", engine="pyarrow"),
    "pandas.read_csv (pyarrow engine, dtype=str)":
        lambda pd, path, form: pd.read_csv(path, sep=";", engine="pyarrow", dtype=str),
    "read_export(path)":
        lambda pd, path, form: _doorstep()[1](path),
    "read_export(path, instrument)":
        lambda pd, path, form: _doorstep()[1](path, _doorstep()[0](form)),
}
BARE = tuple(name for name in READERS if name.startswith("pandas"))
SURNAMES = np.array(list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"))
WORDS = np.array(["家门口就业", "烘焙培训", "电商直播", "照顾孩子", "收入增加", "身体健康",
                  "村里工坊", "计件工资", "留守儿童", "心理辅导", "没有", "其他"])


def generate(folder: Path, rows: int, seed: int = 1) -> tuple[Path, Path]:
    """Write the Kobo CSV and its CSV XLSForm; return their paths."""
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {}
    form = ["survey,type,name,label", ",start,start,", ",end,end,"]
    base = np.datetime64("2024-09-01T08:00:00")
    starts = base + rng.integers(0, 86400 * 30, rows).astype("timedelta64[s]")
    ends = starts + rng.integers(300, 3600, rows).astype("timedelta64[s]")
    columns["start"] = np.char.add(np.datetime_as_string(starts, unit="ms"), "+08:00")
    columns["end"] = np.char.add(np.datetime_as_string(ends, unit="ms"), "+08:00")
    columns["household/village_code"] = np.char.zfill(
        rng.integers(10000, 99999, rows).astype(str), 6)
    columns["household/woman_id"] = np.char.add("W", np.char.zfill(
        np.arange(rows).astype(str), 7))
    columns["household/woman_name"] = np.char.add(SURNAMES[rng.integers(0, 20, rows)],
                                                  SURNAMES[rng.integers(0, 20, rows)])
    form += [",text,village_code,村编码", ",text,woman_id,妇女编号", ",text,woman_name,姓名"]
    for number in range(1, 21):
        columns[f"scales/item_{number:02d}"] = rng.integers(0, 5, rows).astype(str)
        form.append(f",select_one five,item_{number:02d},题{number}")
    for number in range(1, 11):
        amounts = rng.integers(0, 20000, rows).astype(str)
        amounts[rng.random(rows) < 0.1] = ""
        columns[f"income/inc_{number:02d}"] = amounts
        form.append(f",integer,inc_{number:02d},收入{number}")
    for number in range(1, 11):
        columns[f"open/comment_{number:02d}"] = np.char.add(
            WORDS[rng.integers(0, len(WORDS), rows)], WORDS[rng.integers(0, len(WORDS), rows)])
        form.append(f",text,comment_{number:02d},意见{number}")
    chosen = rng.random((rows, 6)) < 0.3
    joined = np.full(rows, "", dtype=object)
    for option in range(6):
        joined = np.where(chosen[:, option], joined + f"c{option} ", joined)
    columns["needs/needs"] = np.array([text.strip() for text in joined])
    form.append(",select_multiple needs,needs,需要")
    for option in range(6):
        columns[f"needs/needs/c{option}"] = chosen[:, option].astype(int).astype(str)
    columns["_id"] = (300000000 + np.arange(rows)).astype(str)
    columns["_uuid"] = np.array([f"{value:032x}" for value in rng.integers(
        0, 2**62, rows, dtype=np.int64)])
    columns["_submission_time"] = columns["end"]
    columns["_index"] = np.arange(1, rows + 1).astype(str)
    columns["_status"] = np.full(rows, "submitted_via_web")
    columns["__version__"] = np.full(rows, "vKq3Wz8PdLr2Ns5XyGh7Te")
    columns["_submitted_by"] = np.full(rows, "")
    while len(columns) < 60:
        columns[f"extra/note_{len(columns)}"] = WORDS[rng.integers(0, len(WORDS), rows)]
    form += ["choices,list_name,name,label"]
    form += [f",five,{code},{code}" for code in range(5)]
    form += [f",needs,c{option},需要{option}" for option in range(6)]
    table = pa.table({name: pa.array(values.astype(str)) for name, values in columns.items()})
    data = folder / "kobo_export.csv"
    pa_csv.write_csv(table, data, write_options=pa_csv.WriteOptions(
        delimiter=";", quoting_style="needed"))
    instrument = folder / "form.csv"
    instrument.write_text("\n".join(form) + "\n", encoding="utf-8")
    return data, instrument


def _doorstep():
    from doorstep.instrument import read_instrument
    from doorstep.io import read_export

    return read_instrument, read_export


def child(reader: str, path: str, form: str, repeats: int) -> None:
    """Run one reader in this process and print its time and memory as JSON."""
    import pandas as pd

    _doorstep()  # import before the baseline, like pandas
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    best = float("inf")
    shape = None
    for _ in range(repeats):
        began = time.perf_counter()
        frame = READERS[reader](pd, path, form)
        best = min(best, time.perf_counter() - began)
        shape = frame.shape
        del frame
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": best, "peak_mb": (peak - baseline) / 1024, "shape": shape}))


def main() -> None:
    """Generate the export once, run every reader in a subprocess, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--generate", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(*arguments.child[:1], arguments.child[1], arguments.child[2], arguments.repeats)
        return
    if arguments.generate:
        generate(Path(arguments.generate), arguments.rows)
        return
    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        # generate in a subprocess: Linux children inherit the parent's maxrss high-water mark,
        # so the parent must stay small for the readers' peaks to be their own
        subprocess.run([sys.executable, __file__, "--rows", str(arguments.rows), "--generate",
                        folder], check=True)
        data, form = Path(folder) / "kobo_export.csv", Path(folder) / "form.csv"
        size = data.stat().st_size / 2**20
        print(f"generated {arguments.rows:,} rows x 60 columns, {size:,.0f} MiB "
              f"in {time.perf_counter() - began:.1f}s")
        results = {}
        for reader in READERS:
            output = subprocess.run(
                [sys.executable, __file__, "--repeats", str(arguments.repeats), "--child",
                 reader, str(data), str(form)],
                capture_output=True, text=True, check=True)
            results[reader] = json.loads(output.stdout.strip().splitlines()[-1])
    fastest = min(results[name]["seconds"] for name in BARE)
    leanest = max(min(results[name]["peak_mb"] for name in BARE), 1e-9)
    print(f"{'reader':<46} {'seconds':>8} {'x time':>7} {'peak MiB':>9} {'x mem':>6}  shape")
    for reader, result in results.items():
        print(f"{reader:<46} {result['seconds']:>8.2f} {result['seconds'] / fastest:>7.2f} "
              f"{result['peak_mb']:>9.0f} {result['peak_mb'] / leanest:>6.2f}  "
              f"{tuple(result['shape'])}")


if __name__ == "__main__":
    main()
