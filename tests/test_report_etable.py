"""The etable and the balance table: numbers, stars, extra statistics, and the four file formats."""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest

from doorstep import estimate
from doorstep.errors import DataError
from doorstep.report.etable import (
    MINUS,
    etable,
    format_balance_table,
    format_number,
    latex_escape,
    significance_stars,
    write_etable,
)

HALF_UNIT = 0.005 + 1e-12  # the largest rounding error of a number shown with two decimals


def expected_stars(p_value: float) -> str:
    """Stars written out independently of the module's table."""
    if p_value < 0.01:
        return "***"
    if p_value < 0.05:
        return "**"
    if p_value < 0.10:
        return "*"
    return ""


def parse_cell(cell: str) -> tuple[float, str, float]:
    """(estimate, stars, SE) from an "estimate*** (SE)" cell."""
    match = re.fullmatch(r"([−\-]?[\d,]+\.\d+)(\**) \(([\d,]+\.\d+)\)", cell)
    assert match, f"cell {cell!r} is not 'estimate (SE)'"
    number = float(match.group(1).replace(MINUS, "-").replace(",", ""))
    return number, match.group(2), float(match.group(3).replace(",", ""))


@pytest.fixture
def headline() -> pd.DataFrame:
    generator = np.random.default_rng(7)
    outcomes = ["income", "wellbeing", "hours_paid"]
    estimands = ["itt", "late", "att_observational"]
    rows = []
    for outcome in outcomes:
        for estimand in estimands:
            rows.append({
                "outcome": outcome, "estimand": estimand,
                "estimate": float(generator.normal(0, 300)),
                "std_error": float(generator.uniform(1, 200)),
                "p_value": float(generator.choice([0.0004, 0.0099, 0.01, 0.049, 0.05, 0.0999,
                                                   0.1, 0.5])),
                "conf_low": -1.0, "conf_high": 1.0,
                "n_obs": int(generator.integers(100, 2000)),
                "n_clusters": int(generator.integers(10, 80)),
            })
    return pd.DataFrame(rows)


LABELS = {"income": "Income (yuan/month)", "wellbeing": "Wellbeing (WHO-5)",
          "hours_paid": "Hours of paid work"}


@pytest.mark.parametrize(("p_value", "stars"), [
    (0.0, "***"), (0.0099, "***"), (0.01, "**"), (0.0499, "**"), (0.05, "*"), (0.0999, "*"),
    (0.1, ""), (0.7, ""), (float("nan"), ""),
])
def test_stars_follow_the_p_thresholds(p_value, stars):
    assert significance_stars(p_value) == stars


def test_format_number_uses_the_minus_sign_and_no_negative_zero():
    assert format_number(-12345.678) == f"{MINUS}12,345.68"
    assert format_number(-0.001) == "0.00"
    assert format_number(0.125, 1) == "0.1"


def test_etable_cells_hold_the_numbers_and_the_right_stars(headline):
    table = etable(headline, LABELS)
    assert list(table.columns) == ["ITT", "LATE", "ATT, observational"]
    outcome_labels = list(dict.fromkeys(table.index.get_level_values(0)))
    assert outcome_labels == [LABELS[name] for name in ("income", "wellbeing", "hours_paid")]
    for _, row in headline.iterrows():
        column = {"itt": "ITT", "late": "LATE", "att_observational": "ATT, observational"}[
            row["estimand"]]
        label = LABELS[row["outcome"]]
        estimate_value, stars, std_error = parse_cell(table.loc[(label, "estimate (SE)"),
                                                                column])
        assert abs(estimate_value - row["estimate"]) <= HALF_UNIT
        assert abs(std_error - row["std_error"]) <= HALF_UNIT
        assert stars == expected_stars(row["p_value"])
        assert table.loc[(label, "N"), column] == str(row["n_obs"])
        assert table.loc[(label, "clusters"), column] == str(row["n_clusters"])
    assert "* p<0.10, ** p<0.05, *** p<0.01" in table.attrs["note"]
    assert set(table.index.get_level_values(1)) == {"estimate (SE)", "p-value", "N",
                                                    "clusters"}


def test_etable_adds_extra_statistics_only_when_present(headline):
    extra = headline.assign(p_wild=0.0312, p_romano_wolf=np.nan, q_sharpened=0.2,
                            family=["work", "work", "work", "wellbeing", "wellbeing",
                                    "wellbeing", "work", "work", "work"])
    table = etable(extra, LABELS)
    statistics = list(dict.fromkeys(table.index.get_level_values(1)))
    assert statistics == ["estimate (SE)", "p-value", "p, wild cluster bootstrap",
                          "q, sharpened FDR", "outcome family", "N", "clusters"]
    assert table.loc[(LABELS["income"], "p, wild cluster bootstrap"), "ITT"] == "0.031"
    # outcomes of one family are kept together, in order of first appearance
    assert list(dict.fromkeys(table.index.get_level_values(0))) == [
        LABELS["income"], LABELS["hours_paid"], LABELS["wellbeing"]]


def test_etable_leaves_a_cell_empty_where_an_estimand_was_not_estimated(headline):
    table = etable(headline.drop(index=[1]), LABELS)  # income has no LATE
    assert table.loc[(LABELS["income"], "estimate (SE)"), "LATE"] == ""
    assert table.loc[(LABELS["wellbeing"], "estimate (SE)"), "LATE"] != ""


def test_etable_in_chinese_has_chinese_headers_and_note(headline):
    table = etable(headline, {"income": "家庭月收入（元）"}, "zh")
    assert table.index.names == ["结果变量", "统计量"]
    assert ("家庭月收入（元）", "估计值（标准误）") in table.index
    assert table.attrs["note"].startswith("括号内为标准误")


def test_etable_errors_name_the_problem(headline):
    with pytest.raises(DataError, match="missing columns \\['std_error'\\]"):
        etable(headline.drop(columns="std_error"))
    with pytest.raises(DataError, match="'income' has more than one row for estimand 'itt'"):
        etable(pd.concat([headline, headline.iloc[[0]]]))


def test_repeated_estimands_get_one_column_per_estimator(headline):
    twice = pd.concat([headline.assign(estimator="ancova"),
                       headline.assign(estimator="wild")], ignore_index=True)
    table = etable(twice, LABELS)
    assert "ITT (ancova)" in table.columns and "ITT (wild)" in table.columns


def read_tex_cells(path) -> list[list[str]]:
    """The body cells of a booktabs tabular, unescaped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    body = lines[lines.index("\\midrule") + 1: lines.index("\\bottomrule")]
    rows = []
    for line in body:
        if line == "\\addlinespace":
            continue
        assert line.endswith(" \\\\")
        cells = line[: -len(" \\\\")].split(" & ")
        rows.append([cell.replace("$-$", MINUS).replace("\\textless{}", "<")
                     .replace("\\_", "_").replace("\\&", "&").replace("\\%", "%")
                     for cell in cells])
    return rows


def test_every_format_round_trips_the_cells(headline, tmp_path):
    labels = {**LABELS, "income": "Income & 50%_share #1"}
    table = etable(headline, labels)
    paths = write_etable(table, tmp_path / "effects")
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "effects.csv", "effects.html", "effects.tex", "effects.xlsx"]  # no temporary left
    expected = table.reset_index()
    expected.columns = [str(column) for column in expected.columns]

    from_csv = pd.read_csv(paths["csv"], dtype=str, keep_default_na=False)
    assert from_csv.iloc[-1, 0] == table.attrs["note"]
    pd.testing.assert_frame_equal(from_csv.iloc[:-1].reset_index(drop=True), expected,
                                  check_dtype=False)

    from_xlsx = pd.read_excel(paths["xlsx"], dtype=str, keep_default_na=False)
    assert from_xlsx.iloc[-1, 0] == table.attrs["note"]
    pd.testing.assert_frame_equal(from_xlsx.iloc[: len(expected)].reset_index(drop=True),
                                  expected, check_dtype=False)

    tex_rows = read_tex_cells(paths["tex"])
    assert len(tex_rows) == len(expected)
    for tex_row, (_, row) in zip(tex_rows, expected.iterrows(), strict=True):
        assert tex_row[2:] == row.iloc[2:].tolist()
        assert tex_row[1] == row.iloc[1]
    assert "Income \\& 50\\%\\_share \\#1" in paths["tex"].read_text(encoding="utf-8")

    from_html = pd.read_html(io.StringIO(paths["html"].read_text(encoding="utf-8")))[0]
    cells = set(from_html.astype(str).to_numpy().ravel())
    for cell in expected[["ITT", "LATE"]].to_numpy().ravel():
        assert cell in cells
    # the numbers themselves survive the trip through every format
    for _, row in headline[headline["estimand"] == "itt"].iterrows():
        label = labels[row["outcome"]]
        csv_cell = from_csv[(from_csv.iloc[:, 0] == label)
                            & (from_csv.iloc[:, 1] == "estimate (SE)")]["ITT"].item()
        assert abs(parse_cell(csv_cell)[0] - row["estimate"]) <= HALF_UNIT


def test_spreadsheet_cells_are_neutralised(tmp_path):
    headline = pd.DataFrame({"outcome": ["=HYPERLINK(\"http://x\")"], "estimand": ["itt"],
                             "estimate": [-2.0], "std_error": [1.0], "p_value": [0.03],
                             "n_obs": [10], "n_clusters": [5]})
    paths = write_etable(etable(headline), tmp_path / "t")
    csv = pd.read_csv(paths["csv"], dtype=str)
    assert csv.iloc[0, 0].startswith("'=")
    assert csv.iloc[0, 2] == f"{MINUS}2.00** (1.00)"  # a minus sign, not a formula
    assert pd.read_excel(paths["xlsx"], dtype=str).iloc[0, 0].startswith("'=")


def test_latex_escape_covers_the_special_characters():
    assert latex_escape("a&b%c$d#e_f{g}h~i^j\\k") == (
        "a\\&b\\%c\\$d\\#e\\_f\\{g\\}h\\textasciitilde{}i\\textasciicircum{}j"
        "\\textbackslash{}k")
    assert latex_escape("儿童 −1.2") == "儿童 $-$1.2"


def test_balance_table_shows_the_estimator_numbers(tmp_path):
    generator = np.random.default_rng(3)
    n = 400
    frame = pd.DataFrame({
        "treated": np.repeat([0, 1], n // 2),
        "village": np.tile(np.arange(40), n // 40),
        "age": generator.normal(35, 8, n),
        "income_baseline": generator.normal(3000, 900, n),
    })
    balance = estimate.balance_table(frame, "treated", ["age", "income_baseline"],
                                     cluster="village")
    shown = format_balance_table(balance, {"income": "Income"}, "en",
                                 arm_names={0: "lost", 1: "won"})
    assert list(shown.index) == ["age", "Income (baseline)"]
    for name, label in (("age", "age"), ("income_baseline", "Income (baseline)")):
        groups = frame.groupby("treated")[name]
        means, sds = groups.mean(), groups.std(ddof=1)
        assert float(shown.loc[label, "mean, lost"].replace(",", "")) == pytest.approx(
            means[0], abs=HALF_UNIT)
        assert float(shown.loc[label, "mean, won"].replace(",", "")) == pytest.approx(
            means[1], abs=HALF_UNIT)
        difference, stars, _ = parse_cell(shown.loc[label, "difference won − lost (SE)"])
        assert difference == pytest.approx(means[1] - means[0], abs=HALF_UNIT)
        row = balance.table.set_index("variable").loc[name]
        assert stars == expected_stars(row["p_value"])
        normalised = (means[1] - means[0]) / np.sqrt((sds[0] ** 2 + sds[1] ** 2) / 2)
        shown_normalised = float(shown.loc[label, "normalised difference"].replace(MINUS, "-"))
        assert shown_normalised == pytest.approx(normalised, abs=HALF_UNIT)
        assert shown.loc[label, "N, won"] == "200"
    assert f"F = {balance.joint_f:.2f}, p = {balance.joint_p:.3f}" in shown.attrs["note"]
    paths = write_etable(shown, tmp_path / "balance")
    assert pd.read_csv(paths["csv"], dtype=str).iloc[1, 0] == "Income (baseline)"


def test_balance_table_suppresses_small_arms_and_speaks_chinese():
    frame = pd.DataFrame({"d": [0] * 20 + [1] * 3, "x": np.arange(23, dtype=float)})
    shown = format_balance_table(estimate.balance_table(frame, "d", ["x"]), {"x": "年龄"}, "zh",
                                 arm_names={0: "未中签", 1: "中签"}, min_cell_size=5)
    assert shown.loc["年龄", "样本量（中签）"] == "<5"
    assert shown.loc["年龄", "样本量（未中签）"] == "20"
    assert shown.attrs["note"].startswith("基线变量能否联合预测干预分配的检验")
