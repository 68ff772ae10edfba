"""Cell-level parsers of field data: text, money, dates, identifiers, and value rendering.

This module owns the knowledge of how raw answers are written in door-to-door surveys:
full-width characters, Chinese and mixed numerals (三千, 3千, 两千五, 0.3万元), dates in Chinese,
slashed, ISO or Excel-serial form, identifiers that lost leading zeros and 18-digit ID card
numbers with their ISO 7064 MOD 11-2 check digit. Every function here takes one value and
returns one value; nothing here knows about frames, specs or logs. It must not import
``doorstep.estimate``, ``doorstep.report`` or ``doorstep.run``.

Examples
--------
>>> parse_money("两千五")
2500.0
>>> parse_date("2024年3月5日")
datetime.datetime(2024, 3, 5, 0, 0)
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal

import numpy as np
import pandas as pd

__all__ = [
    "EXCEL_EPOCH",
    "id_card_check_digit",
    "id_card_problem",
    "is_missing",
    "normalise_text",
    "parse_chinese_number",
    "parse_date",
    "parse_money",
    "parse_number",
    "render_value",
    "restore_leading_zeros",
]

# Full-width ASCII block U+FF01..U+FF5E maps to U+0021..U+007E; the ideographic space to a space.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FULL_WIDTH[0x3000] = 0x20
_EXTRA_STRIP = "\u200b\ufeff"
# The characters that normalise_text strips from the ends of a text (str.isspace, all below
# U+3001, and _EXTRA_STRIP): a text that neither starts nor ends with one and holds no
# full-width character is left as it is.
STRIPPED_CHARACTERS = "".join(chr(code) for code in range(0x3001)
                              if chr(code).isspace()) + _EXTRA_STRIP

_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$")

_CHINESE_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "俩": 2, "三": 3, "叁": 3,
    "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8,
    "九": 9, "玖": 9,
}
_SMALL_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000, "k": 1000,
                "K": 1000}
_LARGE_UNITS = {"万": 10_000, "w": 10_000, "W": 10_000, "亿": 100_000_000}
_MONEY_WORDS = ("人民币", "块钱", "元整", "rmb", "RMB", "yuan", "元", "块", "圆", "¥", "￥")
_NUMERAL_TOKEN = re.compile(r"\d+(?:\.\d+)?|\.\d+|.", re.S)

EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_EXCEL_SERIAL = re.compile(r"^\d{5}(?:\.\d+)?$")
_ISO_DATE = re.compile(
    r"^(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
    r"(?:[ T](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?$"
)
_LOOSE_DATE = re.compile(
    r"^(?P<year>\d{4})\s*[-/.年]\s*(?P<month>\d{1,2})\s*[-/.月]\s*(?P<day>\d{1,2})\s*[日号]?"
    r"(?:\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?)?$"
)

_ID_CARD_WEIGHTS = tuple(pow(2, 17 - position, 11) for position in range(17))
_ID_CARD_CHECK = "10X98765432"


def is_missing(value: object) -> bool:
    """True for None, NaN, NaT, ``pd.NA`` and the empty string.

    Examples
    --------
    >>> is_missing(""), is_missing(float("nan")), is_missing("0")
    (True, True, False)
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, str):
        return value == ""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def normalise_text(value: object) -> object:
    """Turn full-width letters, digits and punctuation half-width and trim whitespace.

    Text that is empty after trimming becomes ``None`` (missing); non-text is returned as is.

    Examples
    --------
    >>> normalise_text("  ３０００ ")
    '3000'
    >>> normalise_text("ＡＢ，ｃ") , normalise_text("\u3000") is None
    ('AB,c', True)
    """
    if not isinstance(value, str):
        return value
    text = value.translate(_FULL_WIDTH).strip().strip(_EXTRA_STRIP).strip()
    return text or None


def parse_number(value: object) -> float | None:
    """Read a plain number ("3000", "3000.0", "3,000", "1e3"); None if it is not one.

    Examples
    --------
    >>> parse_number("3,000.5"), parse_number("abc")
    (3000.5, None)
    """
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    if not _PLAIN_NUMBER.match(text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def parse_chinese_number(text: str) -> Decimal | None:
    """Read Chinese or mixed numerals: 三千, 3千, 两千五, 1.2万, 一万二, 一千零五, 十五.

    A trailing digit after a unit counts one unit lower (两千五 = 2500, 一万二 = 12000), as
    people say it. Returns None for text that is not a numeral.

    Examples
    --------
    >>> parse_chinese_number("一万二"), parse_chinese_number("0.3万")
    (Decimal('12000'), Decimal('3000.0'))
    """
    tokens = _NUMERAL_TOKEN.findall(text.replace(" ", ""))
    if not tokens:
        return None
    total = Decimal(0)
    section = Decimal(0)
    number: Decimal | None = None
    last_unit: int | None = None
    seen_any = False
    for token in tokens:
        if token[0].isdigit() or token[0] == ".":
            if number is not None:
                return None
            number = Decimal(token)
            seen_any = True
        elif token in _CHINESE_DIGITS:
            digit = _CHINESE_DIGITS[token]
            seen_any = True
            if digit == 0:
                if number is not None:
                    return None
                last_unit = None
                continue
            if number is not None:
                return None
            number = Decimal(digit)
        elif token in _SMALL_UNITS:
            unit = _SMALL_UNITS[token]
            if last_unit is not None and unit >= last_unit and number is None:
                return None
            section += (number if number is not None else Decimal(1)) * unit
            number, last_unit = None, unit
            seen_any = True
        elif token in _LARGE_UNITS:
            unit = _LARGE_UNITS[token]
            section += number if number is not None else Decimal(0)
            if section == 0:
                return None
            total += section * unit
            section, number, last_unit = Decimal(0), None, unit
            seen_any = True
        else:
            return None
    if not seen_any:
        return None
    if number is not None:
        scale = Decimal(last_unit // 10) if last_unit and last_unit >= 10 else Decimal(1)
        section += number * scale
    return total + section


def parse_money(value: object) -> float | None:
    """Read an amount written in any common way, in yuan; None if it cannot be read.

    Examples
    --------
    >>> [parse_money(text) for text in ["3000元", "0.3万元", "三千", "3千", "1.2万"]]
    [3000.0, 3000.0, 3000.0, 3000.0, 12000.0]
    """
    number = parse_number(value)
    if number is not None or not isinstance(value, str):
        return number
    text = value.strip()
    for word in _MONEY_WORDS:
        text = text.replace(word, "")
    text = text.replace(",", "").replace("，", "").strip()
    if not text:
        return None
    number = parse_number(text)
    if number is not None:
        return number
    sign = Decimal(1)
    if text[0] in "+-":
        sign = Decimal(-1) if text[0] == "-" else Decimal(1)
        text = text[1:]
    parsed = parse_chinese_number(text)
    return None if parsed is None else float(sign * parsed)


def _build_datetime(match: re.Match[str]) -> dt.datetime | None:
    parts = match.groupdict()
    try:
        return dt.datetime(
            int(parts["year"]), int(parts["month"]), int(parts["day"]),
            int(parts.get("hour") or 0), int(parts.get("minute") or 0),
            int(parts.get("second") or 0),
        )
    except ValueError:
        return None


def parse_date(value: object) -> dt.datetime | None:
    """Read a date or timestamp: ISO, 2024/3/5, 2024.3.5, 2024年3月5日, Excel serial 45356.

    A time-zone offset is dropped (the local clock time is kept). Returns None when the text
    is not a valid date.

    Examples
    --------
    >>> parse_date("45356"), parse_date("2024/3/5") == parse_date("2024-03-05 00:00:00")
    (datetime.datetime(2024, 3, 5, 0, 0), True)
    """
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, int | float | np.integer | np.floating):
        value = str(float(value))
    if not isinstance(value, str):
        return None
    text = value.strip()
    for pattern in (_ISO_DATE, _LOOSE_DATE):
        match = pattern.match(text)
        if match:
            return _build_datetime(match)
    if _EXCEL_SERIAL.match(text):
        serial = float(text)
        if 20_000 <= serial <= 80_000:  # 1954-10-03 .. 2119-01-11: plausible survey dates
            moment = EXCEL_EPOCH + dt.timedelta(days=serial)
            return moment.replace(microsecond=0)
    return None


def is_iso_form(text: str) -> bool:
    """True when ``text`` is an ISO date or timestamp (its meaning is plain to any reader).

    Examples
    --------
    >>> is_iso_form("2024-03-05 00:00:00"), is_iso_form("2024/3/5")
    (True, False)
    """
    return bool(_ISO_DATE.match(text.strip()))


def restore_leading_zeros(value: object, width: int) -> object:
    """Pad an all-digit code to ``width`` with leading zeros ("10305" -> "010305").

    A code written by Excel as a float ("10305.0") is read as its digits first. Anything
    else (letters, longer codes, missing) is returned unchanged.

    Examples
    --------
    >>> restore_leading_zeros("10305", 6), restore_leading_zeros("A12", 6)
    ('010305', 'A12')
    """
    if not isinstance(value, str):
        return value
    text = value
    if re.fullmatch(r"\d+\.0+", text):
        text = text.split(".")[0]
    if text.isascii() and text.isdigit() and len(text) < width:
        return text.zfill(width)
    return text


def id_card_check_digit(first_seventeen: str) -> str:
    """The ISO 7064 MOD 11-2 check character of a Chinese resident ID card number.

    Examples
    --------
    >>> id_card_check_digit("11010519491231002")
    'X'
    """
    pairs = zip(first_seventeen, _ID_CARD_WEIGHTS, strict=True)
    total = sum(int(digit) * weight for digit, weight in pairs)
    return _ID_CARD_CHECK[total % 11]


def id_card_problem(value: object) -> str | None:
    """Why an 18-digit ID card number is unusable, or None when it is valid.

    Examples
    --------
    >>> id_card_problem("11010519491231002X") is None
    True
    >>> id_card_problem("3.30902E+17")
    'damaged by a spreadsheet (scientific notation); the digits are lost'
    """
    if not isinstance(value, str):
        return "not text; the digits are lost"
    text = value.strip().upper()
    if re.fullmatch(r"[+-]?\d+(?:\.\d*)?[E][+-]?\d+", text):
        return "damaged by a spreadsheet (scientific notation); the digits are lost"
    if re.fullmatch(r"\d{17}[\dX]\.0+", text):
        return "damaged by a spreadsheet (stored as a number); the last digits are unreliable"
    if re.fullmatch(r"\d{18}", text) and _float_damaged(text):
        return ("damaged by a spreadsheet (stored as a number with 15 significant digits); "
                "the last digits are lost")
    if not re.fullmatch(r"\d{17}[\dX]", text):
        return f"expected 17 digits and a digit or X (18 characters), found {len(text)} characters"
    if id_card_check_digit(text[:17]) != text[17]:
        return "fails the ISO 7064 MOD 11-2 checksum"
    return None


def _float_damaged(digits: str) -> bool:
    """True when an 18-digit number is exactly what Excel keeps of a longer one: a float64
    with at most 15 significant digits (a real ID card number is so by chance 1 in ~60,000)."""
    number = int(digits)
    as_float = float(number)
    return int(as_float) == number and float(f"{as_float:.15g}") == as_float


def render_value(value: object) -> str | None:
    """Render a cell as the text written in the log: numbers without '.0', dates as ISO.

    Examples
    --------
    >>> render_value(3000.0), render_value(pd.Timestamp("2024-03-05")), render_value(None)
    ('3000', '2024-03-05', None)
    """
    if is_missing(value):
        return None
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    if isinstance(value, float | np.floating):
        number = float(value)
        if number.is_integer() and abs(number) < 1e15:
            return str(int(number))
        return repr(number)
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, pd.Timestamp | dt.datetime):
        moment = pd.Timestamp(value)
        if moment == moment.normalize():
            return moment.strftime("%Y-%m-%d")
        return moment.isoformat(sep=" ")
    return str(value)


def values_agree(old: object, new: object) -> bool:
    """True when a new value says the same as the old one, so no log entry is needed.

    Equal texts agree; a text and a number agree when the text is that plain number
    ("3000.0" and 3000.0); a text and a date agree when the text is that date in ISO form.

    Examples
    --------
    >>> values_agree("3000.0", 3000.0), values_agree("三千", 3000.0)
    (True, False)
    """
    old_missing, new_missing = is_missing(old), is_missing(new)
    if old_missing or new_missing:
        return old_missing and new_missing
    if isinstance(new, pd.Timestamp | dt.datetime):
        if isinstance(old, pd.Timestamp | dt.datetime):
            return pd.Timestamp(old) == pd.Timestamp(new)
        return isinstance(old, str) and is_iso_form(old) and parse_date(old) == pd.Timestamp(
            new
        ).to_pydatetime()
    if isinstance(new, float | int | np.floating | np.integer) and not isinstance(new, bool):
        old_number = parse_number(old) if isinstance(old, str) and _PLAIN_NUMBER.match(
            old.strip()
        ) else (None if isinstance(old, str) else parse_number(old))
        return old_number is not None and old_number == float(new)
    return render_value(old) == render_value(new)
