"""Synthetic personal data and field-style spellings for the simulator.

This module owns the fake people (Chinese names, resident ID card numbers with valid checksums,
mobile numbers, addresses, GPS points) and the ways numbers get written in the field (full-width
digits, 三千 / 3千 / 0.3万). Every function takes a numpy ``Generator``; nothing uses global state.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

SURNAMES = tuple("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯"
                 "邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈")
FEMALE_CHARACTERS = tuple("芳娟敏静丽艳娜霞燕玲桂英红梅兰琴云洁萍慧秀华凤琳雪婷佳欣怡")
MALE_CHARACTERS = tuple("伟强磊军洋勇杰涛明超刚平辉鹏飞鑫波斌宇浩凯健俊帆晨阳睿博轩泽")
VILLAGE_FIRST = tuple("东西南北新大小上下前后青白石金长桃柳杨龙")
VILLAGE_SECOND = tuple("岙湾山塘桥港头岭浦田沙岗坑")
REGION_PREFIXES = ("330902", "330903", "330921", "330922")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARACTERS = "10X98765432"
CHINESE_DIGITS = "零一两三四五六七八九"
FULLWIDTH = str.maketrans("0123456789.-", "０１２３４５６７８９．－")


def person_name(rng: np.random.Generator, female: bool) -> str:
    """Return a two- or three-character Chinese name.

    Examples
    --------
    >>> len(person_name(np.random.default_rng(1), True)) in (2, 3)
    True
    """
    characters = FEMALE_CHARACTERS if female else MALE_CHARACTERS
    length = 1 if rng.random() < 0.3 else 2
    given = "".join(characters[index] for index in rng.integers(0, len(characters), length))
    return SURNAMES[rng.integers(0, len(SURNAMES))] + given


def id_check_character(first_seventeen: str) -> str:
    """ISO 7064 MOD 11-2 check character of a Chinese resident ID number.

    Examples
    --------
    >>> id_check_character("11010519491231002")
    'X'
    """
    total = sum(int(digit) * weight for digit, weight in zip(first_seventeen, ID_WEIGHTS,
                                                               strict=True))
    return ID_CHECK_CHARACTERS[total % 11]


def id_card_is_valid(number: str) -> bool:
    """Whether an 18-character ID number has the right shape and checksum.

    Examples
    --------
    >>> id_card_is_valid("11010519491231002X")
    True
    >>> id_card_is_valid("3.30902E+17")
    False
    """
    if len(number) != 18 or not number[:17].isdigit():
        return False
    return id_check_character(number[:17]) == number[17]


def id_card(rng: np.random.Generator, birth_date: dt.date, female: bool) -> str:
    """Return an 18-digit resident ID with region 3309xx, the birth date and a valid checksum.

    Examples
    --------
    >>> number = id_card(np.random.default_rng(2), dt.date(1980, 5, 17), True)
    >>> number[6:14], id_card_is_valid(number)
    ('19800517', True)
    """
    region = REGION_PREFIXES[rng.integers(0, len(REGION_PREFIXES))]
    sequence = int(rng.integers(0, 500)) * 2 + (0 if female else 1)
    body = f"{region}{birth_date:%Y%m%d}{sequence:03d}"
    return body + id_check_character(body)


def phone_number(rng: np.random.Generator) -> str:
    """Return an 11-digit mobile number starting 13, 15 or 18.

    Examples
    --------
    >>> phone_number(np.random.default_rng(3))[:1]
    '1'
    """
    second = "358"[rng.integers(0, 3)]
    rest = "".join(str(digit) for digit in rng.integers(0, 10, 9))
    return f"1{second}{rest}"


def village_names(rng: np.random.Generator, count: int) -> list[str]:
    """Return ``count`` distinct two-character village names.

    Examples
    --------
    >>> len(set(village_names(np.random.default_rng(4), 10)))
    10
    """
    pool = [first + second for first in VILLAGE_FIRST for second in VILLAGE_SECOND]
    order = rng.permutation(len(pool))[:count]
    return [pool[index] for index in order]


def address(rng: np.random.Generator, township: str, village: str) -> str:
    """Return a Chinese street address in a township and village.

    Examples
    --------
    >>> address(np.random.default_rng(5), "六横镇", "东岙").startswith("浙江省舟山市")
    True
    """
    team = int(rng.integers(1, 9))
    number = int(rng.integers(1, 120))
    return f"浙江省舟山市普陀区{township}{village}村{team}组{number}号"


def gps_point(rng: np.random.Generator, village_lat: float, village_lon: float) -> str:
    """Return an ODK geopoint ``"lat lon altitude accuracy"`` near a village centre.

    Examples
    --------
    >>> len(gps_point(np.random.default_rng(6), 30.0, 122.1).split())
    4
    """
    latitude = village_lat + rng.normal(0, 0.003)
    longitude = village_lon + rng.normal(0, 0.003)
    altitude = rng.uniform(2, 60)
    accuracy = rng.uniform(3, 20)
    return f"{latitude:.6f} {longitude:.6f} {altitude:.1f} {accuracy:.1f}"


def fullwidth(text: str) -> str:
    """Write ASCII digits as full-width digits.

    Examples
    --------
    >>> fullwidth("3000")
    '３０００'
    """
    return text.translate(FULLWIDTH)


def _chinese_thousands(value: int) -> str | None:
    thousands, hundreds = divmod(value, 1000)
    if not 1 <= thousands <= 9 or hundreds % 100:
        return None
    text = CHINESE_DIGITS[thousands] + "千"
    if hundreds:
        text += CHINESE_DIGITS[hundreds // 100].replace("两", "二")
    return text


def amount_as_text(rng: np.random.Generator, value: int) -> str:
    """Write a yuan amount the way respondents say it: 三千, 两千五, 3千, 2.5千 or 3000元.

    Examples
    --------
    >>> amount_as_text(np.random.default_rng(0), 3000) in ("三千", "3千", "3000元")
    True
    """
    forms = [f"{value}元"]
    spoken = _chinese_thousands(value)
    if spoken is not None:
        forms.append(spoken)
        thousands = value / 1000
        forms.append(f"{thousands:g}千")
    return forms[rng.integers(0, len(forms))]


def amount_in_wan(rng: np.random.Generator, value: int) -> str:
    """Write a yuan amount in units of 10,000 yuan: 0.3万 or 0.3万元.

    Examples
    --------
    >>> amount_in_wan(np.random.default_rng(0), 3000) in ("0.3万", "0.3万元")
    True
    """
    unit = "万" if rng.random() < 0.5 else "万元"
    return f"{value / 10000:g}{unit}"


def contact_details(rng: np.random.Generator, village_codes, villages) -> dict[str, list | object]:
    """Phone, address and GPS point (near the village centre) for each person, in that order.

    ``villages`` is indexed-by-code-able: it has ``village_code``, ``township_name``,
    ``village_name``, ``latitude`` and ``longitude``.

    Examples
    --------
    >>> import pandas as pd
    >>> villages = pd.DataFrame({"village_code": ["010101"], "township_name": ["东港街道"],
    ...     "village_name": ["杨浦村"], "latitude": [30.0], "longitude": [122.1]})
    >>> sorted(contact_details(np.random.default_rng(1), ["010101"], villages))
    ['address', 'latitude', 'longitude', 'phone']
    """
    codes = list(village_codes)
    n = len(codes)
    lookup = villages.set_index("village_code")
    return {
        "phone": [phone_number(rng) for _ in range(n)],
        "address": [address(rng, lookup.at[code, "township_name"], lookup.at[code, "village_name"])
                    for code in codes],
        "latitude": lookup.loc[codes, "latitude"].to_numpy() + rng.normal(0, 0.004, n),
        "longitude": lookup.loc[codes, "longitude"].to_numpy() + rng.normal(0, 0.004, n),
    }
