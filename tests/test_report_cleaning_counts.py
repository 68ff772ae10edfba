"""The cleaning's counts by variable and by enumerator reconcile with the audit trail."""

from __future__ import annotations

import pandas as pd
import pytest

from doorstep.report import cleaning_counts

RECORDS = pd.DataFrame({"_record_id": ["r1", "r2", "r3", "r4"],
                        "enumerator": ["E1", "E1", "E2", "E3"]})
LOG = pd.DataFrame({
    "variable": ["age", "age", "income", "name", "income"],
    "rule": ["missing_code", "text_normalisation", "money_parse", "pseudonymise", "money_parse"],
    "record_id": ["r1", "r2", "r3", "r3", "r3"],
})
FLAGS = pd.DataFrame({"variable": ["income"], "rule": ["outlier"], "record_id": ["r4"]})
DROPPED = pd.DataFrame({"enumerator": ["E3", "E3"], "drop_rule": ["duplicate", "short"]})


def test_counts_by_enumerator_reconcile_and_leave_out_privacy_rules():
    table = cleaning_counts(LOG, FLAGS, DROPPED, "enumerator", records=RECORDS).set_index(
        "enumerator")
    assert table["interviews"].to_dict() == {"E1": 2, "E2": 1, "E3": 1}
    # the pseudonym of r3 is the same for every interview: not an enumerator's doing
    assert table["cells changed"].to_dict() == {"E1": 2, "E2": 2, "E3": 0}
    assert table["flags for review"].to_dict() == {"E1": 0, "E2": 0, "E3": 1}
    assert table["rows dropped"].to_dict() == {"E1": 0, "E2": 0, "E3": 2}
    assert table["changes per interview"].to_dict() == {"E1": 1.0, "E2": 2.0, "E3": 0.0}
    assert table.index.tolist()[-1] == "E3"  # fewest changes last
    everything = cleaning_counts(LOG, FLAGS, DROPPED, "enumerator", records=RECORDS,
                                 exclude_rules=())
    assert everything["cells changed"].sum() == len(LOG)


def test_counts_by_variable_in_chinese():
    table = cleaning_counts(LOG, FLAGS, DROPPED, "variable", language="zh")
    assert table.columns.tolist() == ["变量", "修改单元格数", "待核查标记"]
    assert table.set_index("变量")["修改单元格数"].to_dict() == {"income": 2, "age": 2}


def test_counts_by_enumerator_in_chinese():
    table = cleaning_counts(LOG, FLAGS, DROPPED, "enumerator", records=RECORDS, language="zh")
    assert table.columns.tolist()[:3] == ["调查员", "访谈数", "修改单元格数"]


def test_unknown_breakdown_is_refused():
    with pytest.raises(ValueError, match="found by='supervisor'"):
        cleaning_counts(LOG, FLAGS, DROPPED, "supervisor", records=RECORDS)
