"""Canaries: personal values planted in every personal column never reach a run's outputs."""

from __future__ import annotations

import pandas as pd

from doorstep.report import scan_run_dir
from doorstep.run import find_notebooks_dir, run_evaluation
from tests.conftest import make_project

CANARIES = {
    "caregiver_name": "金丝雀甲",
    "child_name": "金丝雀乙",
    "phone": "13912345678",
    "id_card": "11010519491231002X",  # checksum-valid
    "address": "浙江省金丝雀县测试街道99号",
    "gps": "30.123456 122.654321 5.0 3.0",
}


def _plant(kobo_csv) -> None:
    frame = pd.read_csv(kobo_csv, sep=";", dtype=str, keep_default_na=False)
    for column in frame.columns:
        name = column.rsplit("/", 1)[-1]
        if name in CANARIES:
            frame.loc[:9, column] = CANARIES[name]
    frame.to_csv(kobo_csv, sep=";", index=False)


def test_no_planted_personal_value_reaches_any_output(tmp_path):
    config = make_project(tmp_path, "caring_mothers", scale=0.3)
    _plant(tmp_path / "data" / "caring_mothers" / "raw" / "round1_kobo.csv")
    outcome = run_evaluation(config, run_dir=tmp_path / "run", notebooks_dir=find_notebooks_dir())
    scan_run_dir(outcome.run_dir, extra_values=tuple(CANARIES.values()))
    for table in outcome.run_dir.rglob("*.parquet"):
        cells = pd.read_parquet(table).astype(str).to_numpy().ravel().tolist()
        leaked = {value for value in CANARIES.values() if value in cells}
        assert not leaked, f"{table.name} holds planted personal values {leaked}"
    everything = b"".join(path.read_bytes() for path in outcome.run_dir.rglob("*")
                          if path.is_file())
    for value in CANARIES.values():
        assert value.encode("utf-8") not in everything, value
