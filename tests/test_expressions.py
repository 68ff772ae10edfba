"""Tests of the XLSForm expression evaluator: syntax, functions, missing values, errors."""

from __future__ import annotations

import math
import operator

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from doorstep.errors import ConfigError
from doorstep.instrument.expressions import (
    evaluate,
    evaluate_values,
    referenced_names,
    uses_current,
)


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "age": ["17", "30", None, "45"],
        "enrolled": ["1", "0", "1", None],
        "sports": ["1 3", "", None, "2"],
        "name": ["Li", "Wang Fang", None, "Zhao"],
    })


@pytest.mark.parametrize(("expression", "expected"), [
    ("${age} >= 18", [False, True, False, True]),
    ("${age} = 17", [True, False, False, False]),
    ("${age} != 17", [False, True, False, True]),          # missing: False, even for !=
    ("${enrolled} = 1 and ${age} < 40", [True, False, False, False]),
    ("${enrolled} = 1 or ${age} > 40", [True, False, True, True]),
    ("not(${enrolled} = 1)", [False, True, False, True]),  # not() of a missing comparison
    ("${enrolled} = '1'", [True, False, True, False]),
    ("${age} = ''", [False, False, True, False]),
    ("${age} != ''", [True, True, False, True]),
    ("selected(${sports}, '3')", [True, False, False, False]),
    ("count-selected(${sports}) >= 1", [True, False, False, True]),
    ("string-length(${name}) > 3", [False, True, False, True]),
    ("regex(${name}, '^[A-Z][a-z]+$')", [True, False, False, True]),
    ("${age} + 3 = 20", [True, False, False, False]),
    ("${age} * 2 div 3 = 20", [False, True, False, False]),
    ("${age} mod 2 = 1", [True, False, False, True]),
    ("-${age} < -20", [False, True, False, True]),
    ("(${age} - 10) * 2 > 50", [False, False, False, True]),
    ("if(${enrolled} = 1, ${age}, 0) > 10", [True, False, False, False]),
    ("coalesce(${age}, 99) > 50", [False, False, True, False]),
    ("true() and not(false())", [True, True, True, True]),
    ("int(${age} div 10) = 3", [False, True, False, False]),
])
def test_expressions(frame, expression, expected):
    assert evaluate(expression, frame).tolist() == expected


def test_current_value_series_and_scalar(frame):
    current = pd.Series([5.0, 200.0, np.nan, 0.0])
    assert evaluate(". >= 0 and . <= 120", frame, current=current).tolist() == [
        True, False, False, True]
    assert evaluate(". > 3", frame, current=4.0).tolist() == [True] * 4


def test_typed_frames_compare_like_text():
    typed = pd.DataFrame({"x": [1.0, 0.0, np.nan]})
    text = pd.DataFrame({"x": ["1", "0", None]})
    for expression in ("${x} = 1", "${x} = '1'", "${x} != 0", "${x} < 1"):
        assert evaluate(expression, typed).tolist() == evaluate(expression, text).tolist()


def test_dates_compare_with_text_literals():
    frame = pd.DataFrame({"day": pd.to_datetime(["2024-03-05", "2023-01-01", None])})
    assert evaluate("${day} >= '2024-01-01'", frame).tolist() == [True, False, False]


def test_arithmetic_missing_and_division_by_zero():
    frame = pd.DataFrame({"a": ["4", None, "4"], "b": ["2", "2", "0"]})
    values = evaluate_values("${a} div ${b}", frame)
    assert values.iloc[0] == 2.0 and math.isnan(values.iloc[1]) and math.isnan(values.iloc[2])


def test_the_input_frame_is_not_changed(frame):
    before = frame.copy(deep=True)
    evaluate("${age} > 1 and selected(${sports}, '1')", frame)
    pd.testing.assert_frame_equal(frame, before)


def test_names_and_current_are_reported():
    assert referenced_names("${a} > 1 and selected(${b}, '2') or ${a} < 0") == ("a", "b")
    assert uses_current(". > 0") and not uses_current("${a} > 0")


@pytest.mark.parametrize(("expression", "position", "fragment"), [
    ("${age} >", 8, "expected a value"),
    ("${age} > 1)", 10, "expected an operator or the end"),
    ("jr:choice-name(${age}, 'x')", 2, "expected"),
    ("today() > 1", 0, "unknown function 'today'"),
    ("selected(${sports})", 0, "takes 2 arguments, found 1"),
    ("${age} # 3", 7, "found '#'"),
    ("(${age} > 3", 11, "expected ')'"),
    ("", 0, "expected an expression"),
])
def test_bad_expressions_name_the_expression_and_position(frame, expression, position, fragment):
    with pytest.raises(ConfigError) as caught:
        evaluate(expression, frame)
    message = str(caught.value)
    assert repr(expression) in message
    assert f"position {position}" in message
    assert fragment in message


def test_unknown_column_and_missing_current_are_config_errors(frame):
    with pytest.raises(ConfigError, match=r"\$\{nope\}"):
        evaluate("${nope} = 1", frame)
    with pytest.raises(ConfigError, match="current"):
        evaluate(". = 1", frame)


def test_python_is_never_evaluated(frame):
    with pytest.raises(ConfigError):
        evaluate("__import__('os').system('true')", frame)


# ----------------------------------------------------------------------------------------------
# Property: random comparison/and/or/not trees on random integer frames match plain Python.
# ----------------------------------------------------------------------------------------------

COLUMNS = ("a", "b", "c")
COMPARE = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
           ">": operator.gt, ">=": operator.ge}

values = st.one_of(st.none(), st.integers(-5, 5))
operands = st.one_of(
    st.sampled_from(COLUMNS).map(lambda name: ("var", name)),
    st.integers(-5, 5).map(lambda number: ("num", number)),
)
comparisons = st.tuples(st.sampled_from(sorted(COMPARE)), operands, operands).map(
    lambda parts: ("cmp", *parts)
)
trees = st.recursive(
    comparisons,
    lambda children: st.one_of(
        st.tuples(st.sampled_from(["and", "or"]), children, children),
        children.map(lambda child: ("not", child)),
    ),
    max_leaves=8,
)


def render(tree) -> str:
    kind = tree[0]
    if kind == "var":
        return "${" + tree[1] + "}"
    if kind == "num":
        return str(tree[1])
    if kind == "cmp":
        return f"{render(tree[2])} {tree[1]} {render(tree[3])}"
    if kind == "not":
        return f"not({render(tree[1])})"
    return f"({render(tree[1])}) {kind} ({render(tree[2])})"


def reference(tree, row: dict) -> bool:
    """The documented semantics in plain Python: comparisons with a missing value are False."""
    kind = tree[0]
    if kind == "var":
        return row[tree[1]]
    if kind == "num":
        return tree[1]
    if kind == "cmp":
        left, right = reference(tree[2], row), reference(tree[3], row)
        return left is not None and right is not None and COMPARE[tree[1]](left, right)
    if kind == "not":
        return not reference(tree[1], row)
    left, right = reference(tree[1], row), reference(tree[2], row)
    return (left and right) if kind == "and" else (left or right)


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.fixed_dictionaries({name: values for name in COLUMNS}), min_size=1,
                     max_size=12),
       tree=trees, as_text=st.booleans())
def test_random_trees_match_plain_python(rows, tree, as_text):
    if as_text:
        frame = pd.DataFrame({name: [None if row[name] is None else str(row[name])
                                     for row in rows] for name in COLUMNS}, dtype=object)
    else:
        frame = pd.DataFrame({name: [np.nan if row[name] is None else float(row[name])
                                     for row in rows] for name in COLUMNS})
    result = evaluate(render(tree), frame).tolist()
    assert result == [bool(reference(tree, row)) for row in rows]
