"""XLSForm instruments of the two simulated programmes.

This module owns the question lists, choice lists and form settings of ``caring_mothers`` and
``skills_workshops``, and writes them as XLSForm workbooks. It imports nothing from the rest of
Doorstep except the error types and the deterministic xlsx writer of this sub-package.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from doorstep.errors import ConfigError
from doorstep.simulate.files import write_xlsx_atomic

PROGRAMMES = ("caring_mothers", "skills_workshops")

SURVEY_COLUMNS = (
    "type",
    "name",
    "label::中文 (zh)",
    "label::English (en)",
    "hint::English (en)",
    "relevant",
    "constraint",
    "required",
    "pii",
)
CHOICE_COLUMNS = ("list_name", "name", "label::中文 (zh)", "label::English (en)")
SETTINGS_COLUMNS = ("form_title", "form_id", "version", "default_language")

METADATA_TYPES = ("start", "end", "today", "deviceid", "username")
NON_QUESTION_TYPES = (*METADATA_TYPES, "note", "begin_group", "end_group", "calculate")

TOWNSHIPS = (
    ("沈家门街道", "Shenjiamen"),
    ("东港街道", "Donggang"),
    ("朱家尖街道", "Zhujiajian"),
    ("展茅街道", "Zhanmao"),
    ("六横镇", "Liuheng"),
    ("桃花镇", "Taohua"),
    ("虾峙镇", "Xiazhi"),
    ("白沙乡", "Baisha"),
)
ENUMERATORS = tuple(f"E{number:02d}" for number in range(1, 13))

SDQ_ITEMS = (
    ("能体谅到别人的感受", "Considerate of other people's feelings"),
    ("不能安定，不能长时间保持安静", "Restless, overactive, cannot stay still for long"),
    ("经常抱怨头痛、肚子痛或身体不舒服", "Often complains of headaches, stomach-aches or sickness"),
    ("很乐意与别的小孩分享东西", "Shares readily with other children"),
    ("经常发脾气或大吵大闹", "Often has temper tantrums or hot tempers"),
    ("比较孤独，比较喜欢一个人玩", "Rather solitary, tends to play alone"),
    ("一般来说比较顺从，通常会按成年人的要求去做",
     "Generally obedient, usually does what adults request"),
    ("有很多担忧，经常表现出忧虑", "Many worries, often seems worried"),
    ("如果有人受伤、难过或不舒服，都乐意帮忙", "Helpful if someone is hurt, upset or feeling ill"),
    ("经常坐立不安或手脚不停", "Constantly fidgeting or squirming"),
    ("至少有一个好朋友", "Has at least one good friend"),
    ("经常与别的小孩吵架或欺负他们", "Often fights with other children or bullies them"),
    ("经常不高兴、心情沉重或流泪", "Often unhappy, down-hearted or tearful"),
    ("一般来说，别的小孩都喜欢他/她", "Generally liked by other children"),
    ("容易分心，注意力不集中", "Easily distracted, concentration wanders"),
    ("在新的环境中会紧张或粘人，容易失去自信", "Nervous or clingy in new situations"),
    ("对年幼的小孩友善", "Kind to younger children"),
    ("经常撒谎或欺骗", "Often lies or cheats"),
    ("被别的小孩捉弄或欺负", "Picked on or bullied by other children"),
    ("经常自愿帮助别人（父母、老师、其他小孩）", "Often volunteers to help others"),
    ("做事前会想清楚", "Thinks things out before acting"),
    ("在家里、学校或其他地方偷东西", "Steals from home, school or elsewhere"),
    ("与成年人相处比与小孩相处更好", "Gets on better with adults than with other children"),
    ("有很多恐惧，很容易受惊吓", "Many fears, easily scared"),
    ("做事能坚持到底，注意力良好", "Sees tasks through to the end, good attention span"),
)
UCLA_ITEMS = (
    ("你常常感到缺少伙伴吗？", "How often do you feel that you lack companionship?"),
    ("你常常感到被冷落吗？", "How often do you feel left out?"),
    ("你常常感到与他人隔绝吗？", "How often do you feel isolated from others?"),
)
WHO5_ITEMS = (
    ("过去两周，我感到快乐、心情舒畅", "I have felt cheerful and in good spirits"),
    ("过去两周，我感到平静和放松", "I have felt calm and relaxed"),
    ("过去两周，我感到充满活力、精力充沛", "I have felt active and vigorous"),
    ("过去两周，我醒来时感到神清气爽", "I woke up feeling fresh and rested"),
    ("过去两周，我的日常生活中充满了让我感兴趣的事情",
     "My daily life has been filled with things that interest me"),
)
INCOME_ITEMS = (
    ("inc_wages", "家庭每月工资性收入（元）", "Monthly household wages (yuan)"),
    ("inc_business", "家庭每月经营性收入（元）", "Monthly household business income (yuan)"),
    ("inc_farming", "家庭每月农业收入（元）", "Monthly household farming income (yuan)"),
    ("inc_transfers", "家庭每月转移性收入（补助、救助等，元）",
     "Monthly transfers received (yuan)"),
)


def _question(kind, name, zh="", en="", *, hint="", relevant="", constraint="", required="yes",
              pii=""):
    return {
        "type": kind,
        "name": name,
        "label::中文 (zh)": zh,
        "label::English (en)": en,
        "hint::English (en)": hint,
        "relevant": relevant,
        "constraint": constraint,
        "required": required,
        "pii": pii,
    }


def _group(name, zh, en, questions):
    return [
        _question("begin_group", name, zh, en, required=""),
        *questions,
        _question("end_group", "", required=""),
    ]


def _metadata_rows():
    return [_question(kind, kind, required="") for kind in METADATA_TYPES]


def _identification_rows(unit_name, unit_zh, unit_en, unit_prefix):
    return [
        _question("note", "intro", "您好！我们受妇联委托开展入户调查，您的回答将严格保密。",
                  "Hello! We are conducting a household survey for the women's federation; "
                  "your answers are confidential.", required=""),
        _question("select_one enumerator", "enumerator", "访问员编号", "Enumerator"),
        _question("date", "interview_date", "访问日期", "Interview date"),
        _question("select_one township", "township", "乡镇（街道）", "Township"),
        _question("text", "village_code", "村（社区）编码", "Village code",
                  hint="6 digits, e.g. 010305", constraint="regex(., '^[0-9]{6}$')"),
        _question("text", unit_name, unit_zh, unit_en, hint=f"{unit_prefix} followed by 5 digits",
                  constraint=f"regex(., '^{unit_prefix}[0-9]{{5}}$')"),
    ]


def _contact_rows(person_zh):
    return [
        _question("text", "id_card", f"{person_zh}身份证号码", "Resident ID card number",
                  constraint="regex(., '^[0-9]{17}[0-9X]$')", pii="yes"),
        _question("text", "phone", "联系电话", "Mobile phone number",
                  constraint="regex(., '^1[0-9]{10}$')", pii="yes"),
        _question("text", "address", "家庭住址", "Home address", pii="yes"),
        _question("geopoint", "gps", "GPS定位", "GPS location", required="", pii="yes"),
    ]


def _who5_rows():
    return [
        _question("select_one who5", f"who5_{number}", zh, en)
        for number, (zh, en) in enumerate(WHO5_ITEMS, start=1)
    ]


def _income_rows():
    return [
        _question("integer", name, zh, en, constraint=". >= 0")
        for name, zh, en in INCOME_ITEMS
    ]


def _caring_mothers_survey():
    rows = _metadata_rows()
    rows += _identification_rows("child_id", "儿童编号", "Child id", "C")
    rows += _group("child", "儿童信息", "Child", [
        _question("text", "child_name", "儿童姓名", "Child's name", pii="yes"),
        _question("integer", "child_age", "儿童年龄（周岁）", "Child's age (years)",
                  constraint=". >= 6 and . <= 18"),
        _question("select_one sex", "child_sex", "儿童性别", "Child's sex"),
        _question("select_multiple child_category", "child_category", "困境儿童类别（可多选）",
                  "Category of child in difficulty (select all)"),
    ])
    rows += _group("caregiver", "照料人信息", "Caregiver", [
        _question("text", "caregiver_name", "照料人姓名", "Caregiver's name", pii="yes"),
        _question("select_one relation", "caregiver_relation", "照料人与儿童的关系",
                  "Caregiver's relation to the child"),
        _question("integer", "caregiver_age", "照料人年龄（周岁）", "Caregiver's age (years)",
                  constraint=". >= 16 and . <= 90"),
        *_contact_rows("照料人"),
        _question("integer", "household_size", "家庭常住人口数", "Household size",
                  constraint=". >= 1 and . <= 15"),
        _question("select_one yesno", "migrant_household", "父母是否有人外出务工",
                  "Does a parent work away from home?"),
    ])
    rows += _group("school", "上学情况", "Schooling", [
        _question("select_one yesno", "school_enrolled", "儿童目前是否在上学",
                  "Is the child enrolled?"),
        _question("integer", "school_days_missed", "过去一个月缺课天数",
                  "School days missed last month",
                  relevant="${school_enrolled} = 1", constraint=". >= 0 and . <= 31"),
    ])
    rows += _group("sdq", "长处与困难问卷（照料人填写）",
                   "Strengths and Difficulties Questionnaire", [
        _question("select_one sdq", f"sdq_{number:02d}", zh, en)
        for number, (zh, en) in enumerate(SDQ_ITEMS, start=1)
    ])
    rows += _group("ucla", "孤独感（儿童回答）", "Loneliness (child answers)", [
        _question("select_one ucla", f"ucla_{number}", zh, en)
        for number, (zh, en) in enumerate(UCLA_ITEMS, start=1)
    ])
    rows += _group("who5", "照料人幸福感（WHO-5）", "Caregiver wellbeing (WHO-5)", _who5_rows())
    rows += _group("income", "家庭收入", "Household income", _income_rows())
    return rows


def _skills_workshops_survey():
    rows = _metadata_rows()
    rows += _identification_rows("woman_id", "妇女编号", "Woman id", "W")
    rows += _group("woman", "个人信息", "Respondent", [
        _question("text", "woman_name", "姓名", "Name", pii="yes"),
        _question("integer", "age", "年龄（周岁）", "Age (years)",
                  constraint=". >= 16 and . <= 70"),
        _question("select_one education", "education", "最高学历", "Highest education"),
        _question("select_one yesno", "married", "是否已婚", "Married?"),
        _question("integer", "n_children_under6", "家中6岁以下儿童数", "Children under 6",
                  constraint=". >= 0 and . <= 6"),
        _question("integer", "household_size", "家庭常住人口数", "Household size",
                  constraint=". >= 1 and . <= 15"),
        _question("select_one yesno", "migrant_household", "家中是否有人外出务工",
                  "Does a household member work away from home?"),
        *_contact_rows(""),
    ])
    rows += _group("work", "就业与时间", "Work and time use", [
        _question("select_one yesno", "employed", "目前是否有有报酬的工作",
                  "Currently in paid work?"),
        _question("integer", "earnings_month", "本人每月劳动收入（元）",
                  "Own monthly earnings (yuan)",
                  relevant="${employed} = 1", constraint=". >= 0"),
        _question("integer", "hours_paid", "每周有报酬工作小时数", "Weekly hours of paid work",
                  constraint=". >= 0 and . <= 100"),
        _question("integer", "hours_unpaid", "每周家务和照料小时数",
                  "Weekly hours of unpaid care work",
                  constraint=". >= 0 and . <= 120"),
        _question("select_multiple course", "courses_attended", "过去一年参加过的培训（可多选）",
                  "Courses attended in the past year (select all)", required=""),
    ])
    rows += _group("income", "家庭收入", "Household income", _income_rows())
    rows += _group("who5", "幸福感（WHO-5）", "Wellbeing (WHO-5)", _who5_rows())
    rows += _group("life", "生活满意度", "Life satisfaction", [
        _question("integer", "life_satisfaction", "总体来说，您对生活的满意程度（0-10分）",
                  "Overall life satisfaction (0-10)", constraint=". >= 0 and . <= 10"),
    ])
    return rows


def _choice(list_name, name, zh, en):
    return {"list_name": list_name, "name": str(name), "label::中文 (zh)": zh,
            "label::English (en)": en}


def _common_choices(n_townships):
    rows = [_choice("enumerator", code, code, code) for code in ENUMERATORS]
    rows += [
        _choice("township", f"{number:02d}", zh, en)
        for number, (zh, en) in enumerate(TOWNSHIPS[:n_townships], start=1)
    ]
    rows += [_choice("yesno", 1, "是", "Yes"), _choice("yesno", 0, "否", "No")]
    who5_labels = (
        ("从未有过", "At no time"), ("有时", "Some of the time"),
        ("少于一半时间", "Less than half of the time"),
        ("多于一半时间", "More than half of the time"),
        ("大部分时间", "Most of the time"), ("所有时间", "All of the time"),
    )
    rows += [_choice("who5", code, zh, en) for code, (zh, en) in enumerate(who5_labels)]
    return rows


def _caring_mothers_choices():
    rows = _common_choices(6)
    rows += [_choice("sex", 1, "男", "Male"), _choice("sex", 2, "女", "Female")]
    rows += [
        _choice("child_category", "orphan", "孤儿", "Orphan"),
        _choice("child_category", "left_behind", "留守儿童", "Left-behind"),
        _choice("child_category", "disabled", "残疾儿童", "Disabled"),
        _choice("child_category", "low_income", "低收入家庭儿童", "Low-income family"),
        _choice("child_category", "single_parent", "单亲家庭儿童", "Single-parent family"),
    ]
    rows += [
        _choice("relation", 1, "母亲", "Mother"), _choice("relation", 2, "父亲", "Father"),
        _choice("relation", 3, "祖父母/外祖父母", "Grandparent"),
        _choice("relation", 4, "其他", "Other"),
    ]
    rows += [
        _choice("sdq", 0, "不符合", "Not true"), _choice("sdq", 1, "有点符合", "Somewhat true"),
        _choice("sdq", 2, "完全符合", "Certainly true"),
    ]
    rows += [
        _choice("ucla", 1, "几乎没有", "Hardly ever"),
        _choice("ucla", 2, "有时", "Some of the time"),
        _choice("ucla", 3, "经常", "Often"),
    ]
    return rows


def _skills_workshops_choices():
    rows = _common_choices(8)
    rows += [
        _choice("education", 1, "未上过学", "None"), _choice("education", 2, "小学", "Primary"),
        _choice("education", 3, "初中", "Junior secondary"),
        _choice("education", 4, "高中/中专", "Senior secondary"),
        _choice("education", 5, "大专及以上", "College"),
    ]
    rows += [
        _choice("course", "baking", "烘焙", "Baking"),
        _choice("course", "local_food", "地方特色美食", "Local food"),
        _choice("course", "childcare", "育婴", "Childcare"),
        _choice("course", "domestic", "家政服务", "Domestic services"),
        _choice("course", "livestream", "直播带货", "Live-stream selling"),
    ]
    return rows


def _check_programme(programme):
    if programme not in PROGRAMMES:
        raise ConfigError(
            f"unknown programme {programme!r}; expected one of: {', '.join(PROGRAMMES)}"
        )


def instrument_definition(programme: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return the XLSForm sheets of a simulated programme's survey.

    Parameters
    ----------
    programme : str
        ``"caring_mothers"`` or ``"skills_workshops"``.

    Returns
    -------
    survey, choices, settings : pandas.DataFrame
        The three XLSForm sheets; every cell is a string (``""`` when empty).

    Raises
    ------
    ConfigError
        If the programme is unknown.

    Examples
    --------
    >>> survey, choices, settings = instrument_definition("caring_mothers")
    >>> "sdq_01" in set(survey["name"])
    True
    """
    _check_programme(programme)
    if programme == "caring_mothers":
        survey_rows, choice_rows = _caring_mothers_survey(), _caring_mothers_choices()
        title = ("爱心妈妈结对帮扶儿童与家庭调查", "caring_mothers")
    else:
        survey_rows, choice_rows = _skills_workshops_survey(), _skills_workshops_choices()
        title = ("巾帼共富工坊与技能培训妇女调查", "skills_workshops")
    survey = pd.DataFrame(survey_rows, columns=list(SURVEY_COLUMNS), dtype=object)
    choices = pd.DataFrame(choice_rows, columns=list(CHOICE_COLUMNS), dtype=object)
    settings = pd.DataFrame(
        [{"form_title": title[0], "form_id": title[1], "version": "2024030101",
          "default_language": "中文 (zh)"}],
        columns=list(SETTINGS_COLUMNS), dtype=object,
    )
    return survey, choices, settings


def write_instrument(programme: str, path) -> Path:
    """Write a programme's instrument as an XLSForm workbook (atomic, byte-reproducible).

    Parameters
    ----------
    programme : str
        ``"caring_mothers"`` or ``"skills_workshops"``.
    path : str or pathlib.Path
        Where to write the ``.xlsx`` file; its folder is created if needed.

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_instrument("skills_workshops", folder / "instrument.xlsx").name
    'instrument.xlsx'
    """
    survey, choices, settings = instrument_definition(programme)
    sheets = {}
    for sheet_name, frame in (("survey", survey), ("choices", choices), ("settings", settings)):
        rows = [list(frame.columns)]
        rows += [[value if value != "" else None for value in row]
                 for row in frame.itertuples(index=False)]
        sheets[sheet_name] = rows
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_xlsx_atomic(path, sheets)
    return path


def question_table(programme: str) -> pd.DataFrame:
    """Questions in instrument order with their group path, list name and export headers.

    Returns one row per exported field (metadata and questions; not notes or groups) with
    columns ``name, type, base_type, list_name, group_path, kobo_header, wjx_number, label_zh``.

    Examples
    --------
    >>> table = question_table("caring_mothers")
    >>> table.set_index("name").loc["sdq_01", "kobo_header"]
    'sdq/sdq_01'
    """
    survey, _, _ = instrument_definition(programme)
    groups: list[str] = []
    records = []
    number = 0
    for row in survey.itertuples(index=False):
        kind = row.type
        if kind == "begin_group":
            groups.append(row.name)
            continue
        if kind == "end_group":
            groups.pop()
            continue
        if kind in ("note", "calculate"):
            continue
        base_type, _, list_name = kind.partition(" ")
        path = "/".join([*groups, row.name])
        wjx_number = None
        if kind not in METADATA_TYPES:
            number += 1
            wjx_number = number
        records.append({
            "name": row.name, "type": kind, "base_type": base_type, "list_name": list_name,
            "group_path": "/".join(groups), "kobo_header": path, "wjx_number": wjx_number,
            "label_zh": row[2],
            "wjx_header": f"{wjx_number}、{row[2]}" if wjx_number else None,
        })
    return pd.DataFrame(records)


def choice_labels(programme: str) -> dict[str, dict[str, str]]:
    """Map list name -> {choice code: Chinese label}.

    Examples
    --------
    >>> choice_labels("caring_mothers")["sdq"]["2"]
    '完全符合'
    """
    _, choices, _ = instrument_definition(programme)
    labels: dict[str, dict[str, str]] = {}
    for row in choices.itertuples(index=False):
        labels.setdefault(row.list_name, {})[row.name] = row[2]
    return labels
