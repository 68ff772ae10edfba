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
    key = (tmp_path / "data" / ".doorstep_demo_key").read_text(encoding="utf-8").strip()
    assert len(key) >= 32 and key.encode("utf-8") not in everything
    # The pseudonym -> original table is kept apart: beside the data, private, never in the run.
    linking = tmp_path / "data" / ".private" / "caring_mothers_linking.csv"
    assert linking.stat().st_mode & 0o777 == 0o600
    assert not linking.resolve().is_relative_to(outcome.run_dir.resolve())
    links = pd.read_csv(linking, dtype=str, keep_default_na=False)
    assert set(links["variable"]) == {"child_name", "caregiver_name", "phone"}
    originals = set(links["original"])
    assert {CANARIES["child_name"], CANARIES["caregiver_name"], CANARIES["phone"]} <= originals
    assert links["pseudonym"].str.startswith("pid_").all()
    clean_cells = {cell for table in outcome.run_dir.rglob("*.parquet")
                   for cell in pd.read_parquet(table).astype(str).to_numpy().ravel()}
    assert set(links["pseudonym"]) & clean_cells, "the pseudonyms link to the clean data"


# --- the guard's single pass over a text (issue 9) gives the findings of a line-by-line scan ---


def _line_by_line(text: str, extra_values: tuple[str, ...] = ()) -> list[str]:
    """The guard as it was before issue 9: every pattern run again on every line."""
    import re

    from doorstep.report import guard

    id_card = re.compile(r"(?<![0-9A-Za-z.])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])")
    mobile = re.compile(r"(?<![0-9A-Za-z.])1[3-9][0-9]{9}(?![0-9A-Za-z])")
    findings = []
    for number, line in enumerate(guard._EMBEDDED.sub("", text).splitlines(), start=1):
        for match in id_card.finditer(line):
            if guard._valid_id_card(match.group()):
                findings.append(f"s, line {number}: ID card number "
                                f"'{match.group()[:4]}**********{match.group()[-4:]}'")
        for match in mobile.finditer(line):
            findings.append(f"s, line {number}: mobile phone number "
                            f"'{match.group()[:3]}******{match.group()[-2:]}'")
        findings += [f"s, line {number}: exact GPS point"] * len(guard._GPS.findall(line))
        findings += [f"s, line {number}: a known personal value"
                     for value in extra_values if value and value in line]
    return findings


def test_the_guard_finds_what_a_line_by_line_scan_finds():
    import random

    from doorstep.report import scan_for_personal_data

    pieces = ["13812345678", "11010519491231002X", "110105194912310021", "30.123456 122.654321",
              "a", " ", "\n", "\r\n", "\r", "\u2028", "\x0c", "\x1e", ".", "x13812345678", "7",
              "1381234567", "金丝雀", ",", "data:image/png;base64,AAAA", "0.1234567 88.123456"]
    generator = random.Random(20240301)
    texts = ["".join(generator.choice(pieces) for _ in range(generator.randint(0, 40)))
             for _ in range(2000)]
    total = 0
    for text in texts:
        for extra in ((), ("金丝雀", "", "金丝雀", "7")):
            expected = _line_by_line(text, extra)
            assert scan_for_personal_data(text, source="s", extra_values=extra) == expected, text
            total += len(expected)
    assert total > 1000  # the texts do hold findings of every kind


def test_the_guard_numbers_lines_as_splitlines_does():
    from doorstep.report import scan_for_personal_data

    text = "13812345678\r\nx\u2028a 11010519491231002X\x0cb\r30.123456 122.654321 13912345678"
    assert scan_for_personal_data(text, source="f.csv") == [
        "f.csv, line 1: mobile phone number '138******78'",
        "f.csv, line 3: ID card number '1101**********002X'",
        "f.csv, line 5: mobile phone number '139******78'",  # per line: ID, phone, GPS
        "f.csv, line 5: exact GPS point",
    ]
    # digits inside a longer token are not a number of their own
    assert scan_for_personal_data("a13812345678 .13812345678 x11010519491231002X") == []
