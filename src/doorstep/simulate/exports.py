"""Writers of the raw exports the way field teams receive them.

This module owns the three export layouts of a survey round -- Kobo-style CSV, Wenjuanxing-style
Excel and a GBK CSV as saved by Excel on a Chinese Windows machine -- and how each cell value is
rendered in them. See ``render_round`` for the exact layouts.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from doorstep.simulate.files import write_csv_atomic, write_xlsx_atomic
from doorstep.simulate.instruments import METADATA_TYPES, choice_labels, question_table

KINDS = ("kobo", "wjx", "gbk")
KOBO_SYSTEM = ("_id", "_uuid", "_submission_time", "_index", "_status", "__version__")
WJX_FRONT = ("序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自IP")
WJX_IPS = ("115.236.12.34(浙江-杭州)", "122.228.5.61(浙江-宁波)", "60.190.41.7(浙江-舟山)",
           "223.104.246.18(浙江-舟山)", "39.185.160.92(浙江-杭州)")
KOBO_VERSION = "vKq3Wz8PdLr2Ns5XyGh7Te"


def _plain(value):
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _excel_datetime(value: dt.datetime, seconds: bool) -> str:
    text = f"{value.year}/{value.month}/{value.day} {value.hour}:{value:%M}"
    return text + f":{value:%S}" if seconds else text


def render_round(frame: pd.DataFrame, programme: str, kind: str):
    """Render a planted round frame as ``(header, rows, record_ids, columns)``.

    ``columns`` maps each instrument variable to its header in this layout and
    ``record_ids`` holds each row's record id (``_uuid``, ``序号`` or the unit id as written).

    Layouts
    -------
    kobo
        ``start, end, today, deviceid, username``, then questions as ``group/name`` (a
        select_multiple adds one 0/1 column ``group/name/option`` per option), then
        ``_id, _uuid, _submission_time, _index, _status, __version__``; choices as codes.
    wjx
        ``序号, 提交答卷时间, 所用时间, 来源, 来源详情, 来自IP`` then ``N、<Chinese label>``;
        choices as Chinese labels, select_multiple joined with ``┋``.
    gbk
        plain variable names; metadata times as Excel writes them (``2025/3/12 9:03``).

    Examples
    --------
    >>> # exercised through doorstep.simulate.simulate
    """
    table = question_table(programme)
    labels = choice_labels(programme)
    questions = table[~table["type"].isin(METADATA_TYPES)]
    unit_column = "child_id" if programme == "caring_mothers" else "woman_id"
    records = frame.to_dict("records")
    header: list[str] = []
    columns: dict[str, str] = {}
    is_copy = frame["_dup_of"].to_numpy() != -1
    sequence = np.cumsum(~is_copy)
    if kind == "kobo":
        header += list(METADATA_TYPES)
        columns.update({name: name for name in METADATA_TYPES})
        for question in questions.itertuples(index=False):
            header.append(question.kobo_header)
            columns[question.name] = question.kobo_header
            if question.base_type == "select_multiple":
                header += [f"{question.kobo_header}/{option}" for option in labels[
                    question.list_name]]
        header += list(KOBO_SYSTEM)
        rows = []
        for position, record in enumerate(records):
            row = [_plain(record[name]) for name in METADATA_TYPES]
            for question in questions.itertuples(index=False):
                value = record[question.name]
                row.append(_plain(value))
                if question.base_type == "select_multiple":
                    chosen = str(value).split() if value is not None else None
                    row += ["" if chosen is None else ("1" if option in chosen else "0")
                            for option in labels[question.list_name]]
            row += [str(300000000 + int(sequence[position])), record["_uuid"],
                    record["_submitted"].isoformat(timespec="seconds"),
                    str(int(sequence[position])), "submitted_via_web", KOBO_VERSION]
            rows.append(row)
        record_ids = [record["_uuid"] for record in records]
        return header, rows, record_ids, columns
    if kind == "wjx":
        header += list(WJX_FRONT)
        for question in questions.itertuples(index=False):
            header.append(question.wjx_header)
            columns[question.name] = question.wjx_header
        rows = []
        for position, record in enumerate(records):
            seconds = int((record["end"] - record["start"]).total_seconds())
            ip = WJX_IPS[int(record["_key"]) % len(WJX_IPS) if not is_copy[position]
                         else int(record["_dup_of"]) % len(WJX_IPS)]
            row = [int(sequence[position]), _excel_datetime(record["end"], True), f"{seconds}秒",
                   "手机提交", "直接访问", ip]
            for question in questions.itertuples(index=False):
                row.append(_wjx_value(record[question.name], question, labels))
            rows.append(row)
        record_ids = [str(int(number)) for number in sequence]
        return header, rows, record_ids, columns
    header += list(METADATA_TYPES) + list(questions["name"])
    columns.update({name: name for name in header})
    rows = []
    for record in records:
        row = [_excel_datetime(record["start"], False), _excel_datetime(record["end"], False),
               f"{record['today'].year}/{record['today'].month}/{record['today'].day}",
               record["deviceid"], record["username"]]
        row += [_plain(record[name]) for name in questions["name"]]
        rows.append(row)
    record_ids = [_plain(record[unit_column]) for record in records]
    return header, rows, record_ids, columns


def _wjx_value(value, question, labels):
    if value is None:
        return None
    if question.base_type == "select_one" and isinstance(value, int | str):
        return labels[question.list_name].get(str(value), value)
    if question.base_type == "select_multiple" and isinstance(value, str):
        return "┋".join(labels[question.list_name].get(token, token) for token in value.split())
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def cell_text(value) -> str:
    """How a rendered cell reads back as text (``None`` -> ``""``, numbers via ``str``).

    Examples
    --------
    >>> cell_text(3.0e17), cell_text(None)
    ('3e+17', '')
    """
    return "" if value is None else str(value)


def write_round(path, header, rows, kind: str, *, legacy_encoding: str = "gbk"):
    """Write rendered rows to ``path`` in the layout's format (atomic).

    Examples
    --------
    >>> # exercised through doorstep.simulate.simulate
    """
    if kind == "kobo":
        return write_csv_atomic(path, header, rows, encoding="utf-8", delimiter=";")
    if kind == "wjx":
        return write_xlsx_atomic(path, {"Sheet1": [header, *rows]})
    return write_csv_atomic(path, header, rows, encoding=legacy_encoding, delimiter=",",
                            line_end="\r\n")
