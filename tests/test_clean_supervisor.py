"""A supervisor's filled-in flag list changes the next cleaning run as its resolutions say."""

from __future__ import annotations

import pandas as pd
import pytest

from doorstep.checks import read_resolutions
from doorstep.checks.flags import HEADERS_ZH
from doorstep.clean import load_spec, run
from doorstep.errors import DataError
from doorstep.run import stages


def test_filled_flag_list_drops_and_flags_interviews(demo_projects, tmp_path):
    config, run_dir = stages.start(demo_projects["caring_mothers"], tmp_path / "run")
    instrument, raw, _ = stages.read_sources(config)
    checked = stages.fieldwork_checks(config, instrument, raw)
    folder = stages.save_fieldwork_outputs(run_dir, checked, "checks")
    flag_list = sorted(folder.glob("flags_*.csv"))[0]
    table = pd.read_csv(flag_list, dtype=str, keep_default_na=False)
    short = table.index  # every row is one flagged issue
    # the demo's caring-mothers config is in Chinese, so the headers are too
    resolution_column = next(c for c in table.columns if c in {"resolution",
                                                               HEADERS_ZH["resolution"]})
    table.loc[short[0], resolution_column] = "删除"  # drop, in the list's own language
    table.loc[short[1], resolution_column] = "resurvey"
    filled = tmp_path / "filled.csv"
    table.to_csv(filled, index=False)
    resolutions = read_resolutions(filled)
    dropped_key, resurvey_key = resolutions["interview"].iloc[[short[0], short[1]]]

    spec = load_spec(config.cleaning)
    before = run(raw, spec, instrument=instrument)
    after = run(raw, spec.__class__(**{**spec.__dict__, "supervisor_resolutions": (filled,)}),
                instrument=instrument)
    keys = after.data["_source_file"].astype(str) + "#" + after.data["_record_id"].astype(str)
    assert dropped_key not in set(keys)
    assert (after.dropped["drop_rule"] == "supervisor_drop").sum() == 1
    assert "supervisor_resurvey" in set(after.flags["rule"])
    assert len(after.data) == len(before.data) - (dropped_key in set(
        before.data["_source_file"].astype(str) + "#" + before.data["_record_id"].astype(str)))
    assert resurvey_key in set(keys)

    table.loc[short[2], resolution_column] = "maybe later"
    table.to_csv(filled, index=False)
    with pytest.raises(DataError, match="maybe later"):
        read_resolutions(filled)
