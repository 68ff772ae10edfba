"""Tests of the cell parsers behind the cleaning steps (money, dates, identifiers, text)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from doorstep.clean.values import (
    id_card_check_digit,
    id_card_problem,
    normalise_text,
    parse_date,
    parse_money,
    render_value,
    restore_leading_zeros,
    values_agree,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("3000", 3000.0), ("3000.0", 3000.0), ("3,000", 3000.0), ("三千", 3000.0), ("3千", 3000.0),
    ("两千五", 2500.0), ("0.3万", 3000.0), ("1.2万", 12000.0), ("一万二", 12000.0),
    ("3000元", 3000.0), ("0.3万元", 3000.0), ("五百块", 500.0), ("一千零五", 1005.0),
    ("十五", 15.0), ("一百五", 150.0), ("2.5千", 2500.0), ("一千二百万", 12_000_000.0),
    ("￥800", 800.0), ("0", 0.0),
])
def test_money_forms(text, expected):
    assert parse_money(text) == expected


@pytest.mark.parametrize("text", ["abc", "万", "千千", "一二", "3000美元", "三千多", ""])
def test_unreadable_money_is_none(text):
    assert parse_money(text) is None


def test_full_width_digits_become_half_width_then_parse():
    assert normalise_text("３０００") == "3000"
    assert parse_money(normalise_text("３０００")) == 3000.0
    assert normalise_text("\u3000Ｗａｎｇ　Ｆａｎｇ ") == "Wang Fang"
    assert normalise_text("   ") is None
    assert normalise_text("三千") == "三千"  # ideographs are left alone


@pytest.mark.parametrize("text", [
    "2024-03-05", "2024/3/5", "2024年3月5日", "2024-03-05 00:00:00", "45356", "2024.3.5",
    "2024年03月05日", "45356.0",
])
def test_date_forms(text):
    assert parse_date(text) == dt.datetime(2024, 3, 5)


def test_excel_serial_45356_is_5_march_2024():
    # Excel counts days from 1899-12-30 (its 1900 leap-year bug included).
    assert dt.date(1899, 12, 30) + dt.timedelta(days=45356) == dt.date(2024, 3, 5)
    assert parse_date("45356").date() == dt.date(2024, 3, 5)


@pytest.mark.parametrize("text", ["2024-02-30", "5/3/2024", "yesterday", "123", "2024年13月1日"])
def test_bad_dates_are_none(text):
    assert parse_date(text) is None


def test_timestamps_keep_their_time():
    assert parse_date("2024-03-05T10:15:00+08:00") == dt.datetime(2024, 3, 5, 10, 15)


def test_leading_zeros():
    assert restore_leading_zeros("10305", 6) == "010305"
    assert restore_leading_zeros("10305.0", 6) == "010305"
    assert restore_leading_zeros("010305", 6) == "010305"
    assert restore_leading_zeros("1234567", 6) == "1234567"
    assert restore_leading_zeros("A1", 6) == "A1"


def test_id_card_checksum():
    # The sample number of GB 11643-1999: weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2.
    assert id_card_check_digit("11010519491231002") == "X"
    assert id_card_problem("11010519491231002X") is None
    assert id_card_problem("110105194912310021") == "fails the ISO 7064 MOD 11-2 checksum"
    # By hand: sum of digit * weight over 33090219900101123 is 202, 202 mod 11 = 4 -> '8'.
    assert id_card_check_digit("33090219900101123") == "8"
    assert id_card_problem("330902199001011238") is None
    assert id_card_problem("330902199001011230") == "fails the ISO 7064 MOD 11-2 checksum"
    assert id_card_problem("11010519491231002x") is None  # lower-case x is accepted


@pytest.mark.parametrize(("text", "fragment"), [
    ("3.30902E+17", "scientific notation"),
    ("3.309021990010112e+17", "scientific notation"),
    ("330902199001011238.0", "stored as a number"),
    ("33090219900101123", "found 17 characters"),
    ("330902900101123", "found 15 characters"),
])
def test_damaged_id_cards(text, fragment):
    assert fragment in id_card_problem(text)


def test_render_and_agree():
    assert render_value(3000.0) == "3000"
    assert render_value(2083.5) == "2083.5"
    assert render_value(pd.Timestamp("2024-03-05")) == "2024-03-05"
    assert render_value(np.nan) is None
    assert values_agree("3000.0", 3000.0)
    assert values_agree("2024-03-05", pd.Timestamp("2024-03-05"))
    assert not values_agree("2024/3/5", pd.Timestamp("2024-03-05"))
    assert not values_agree("三千", 3000.0)
    assert not values_agree("-99", None)


def test_panel_rule_rescales_an_annual_figure_only_against_the_units_other_rounds():
    import pandas as pd

    from doorstep.clean.steps import PanelAnnualRule, rescale_annual_in_panel

    frame = pd.DataFrame({
        "id": ["a", "a", "a", "b", "b", "c"],
        "round": [1, 2, 3, 1, 2, 1],
        "inc": [500.0, 6000.0, 520.0, 3000.0, 9000.0, 6000.0],
    })
    result = rescale_annual_in_panel(frame, PanelAnnualRule("id", "round", ("inc",)))
    # a: 6000 is 11.8 times the median 510 -> 500; b: 3x is a real change; c: one round only.
    assert result.frame["inc"].tolist() == [500.0, 500.0, 520.0, 3000.0, 9000.0, 6000.0]
    assert result.log["rule"].tolist() == ["money_annual_panel"]
    assert frame["inc"].tolist()[1] == 6000.0  # input not mutated
    again = rescale_annual_in_panel(result.frame, PanelAnnualRule("id", "round", ("inc",)))
    assert again.log.empty
    off = rescale_annual_in_panel(frame, PanelAnnualRule("id", "round", ("inc",), ratio=None))
    assert off.frame.equals(frame)


def test_threshold_applies_only_where_the_panel_cannot_judge():
    import pandas as pd

    from doorstep.clean.steps import PanelAnnualRule, rescale_annual_in_panel

    frame = pd.DataFrame({
        "id": ["rich", "rich", "rich", "once", "huge"],
        "round": [1, 2, 3, 1, 1],
        "inc": [21000.0, 22000.0, 20500.0, 36000.0, 600000.0],
    })
    result = rescale_annual_in_panel(
        frame, PanelAnnualRule("id", "round", ("inc",), annual_above=20000))
    # a household that earns 21,000 every month keeps it; a lone 36,000 is annual; 600,000 / 12
    # is still above the threshold, so it is flagged and kept.
    assert result.frame["inc"].tolist() == [21000.0, 22000.0, 20500.0, 3000.0, 600000.0]
    assert result.log["rule"].tolist() == ["money_annual"]
    assert result.flags["rule"].tolist() == ["money_implausible"]
