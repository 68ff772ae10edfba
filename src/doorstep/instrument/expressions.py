"""A safe, vectorised evaluator for XLSForm ``relevant`` and ``constraint`` expressions.

This module owns the small XPath subset that XLSForm forms use for skip logic and
constraints: a tokenizer, a recursive-descent parser into an immutable syntax tree, and an
evaluator that computes an expression for every row of a frame at once. Python's ``eval`` is
never used. It must not import ``doorstep.io``, ``doorstep.clean`` or any later stage.

Supported
---------
``${name}`` (a column), ``.`` (the current value, passed as ``current``), numbers, quoted
strings, ``= != < <= > >=``, ``and``, ``or``, ``+ - * div mod``, unary minus, parentheses and
the functions ``not()``, ``selected()``, ``count-selected()``, ``string-length()``, ``regex()``,
``if()``, ``coalesce()``, ``true()``, ``false()``, ``number()`` and ``int()``.

Missing values (documented semantics)
-------------------------------------
* A missing operand makes every comparison False, ``!=`` included: ``${x} != 1`` is False
  where ``x`` is missing. The one exception is a comparison with the empty string literal:
  ``${x} = ''`` is True exactly where ``x`` is missing and ``${x} != ''`` where it is not.
* Arithmetic with a missing operand gives missing; ``div`` and ``mod`` by zero give missing.
* In a boolean context (``and``, ``or``, ``not()``, ``if()``) a missing value is False, a
  number is True when non-zero, a text when non-empty. Results are plain booleans, so
  ``not(${x} = 1)`` is True where ``x`` is missing, as in XPath.
* ``selected()`` of a missing answer is False, ``count-selected()`` and ``string-length()``
  of a missing answer are 0, ``regex()`` tests a missing answer as the empty string.
* Text compared with a number is read as a number ("3" = 3); text that is not a number is
  compared as text for ``=``/``!=`` and is False for ``< <= > >=``.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"school_enrolled": ["1", "0", None]})
>>> evaluate("${school_enrolled} = 1", frame).tolist()
[True, False, False]
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from doorstep.errors import ConfigError

__all__ = [
    "FUNCTIONS",
    "Expression",
    "evaluate",
    "evaluate_values",
    "parse",
    "referenced_names",
    "uses_current",
]

# ----------------------------------------------------------------------------------------------
# Tokens
# ----------------------------------------------------------------------------------------------

_TOKEN_PATTERNS = (
    ("space", r"\s+"),
    ("variable", r"\$\{\s*(?P<variable_name>[A-Za-z_][\w.\-]*)\s*\}"),
    ("number", r"\d+(?:\.\d*)?|\.\d+"),
    ("string", r"'(?P<single>[^']*)'|\"(?P<double>[^\"]*)\""),
    ("operator", r"<=|>=|!=|=|<|>|\+|-|\*"),
    ("dot", r"\."),
    ("open", r"\("),
    ("close", r"\)"),
    ("comma", r","),
    ("name", r"[A-Za-z_][\w\-]*"),
)
_TOKEN = re.compile("|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _TOKEN_PATTERNS))
_WORD_OPERATORS = frozenset({"and", "or", "div", "mod"})


@dataclass(frozen=True)
class Token:
    """One lexical token: its kind, its text (or literal value) and its 0-based position."""

    kind: str
    text: str
    position: int


def _tokenize(expression: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None:
            raise ConfigError(
                f"expression {expression!r}, position {position}: expected a name, number, "
                f"string, operator or parenthesis, found {expression[position]!r}"
            )
        kind = next(outer for outer, _ in _TOKEN_PATTERNS if match.group(outer) is not None)
        if kind == "variable":
            text = match.group("variable_name")
        elif kind == "string":
            single = match.group("single")
            text = single if single is not None else match.group("double")
        else:
            text = match.group(0)
        if kind == "name" and text in _WORD_OPERATORS:
            kind = "operator"
        if kind != "space":
            tokens.append(Token(kind, text, position))
        position = match.end()
    tokens.append(Token("end", "", len(expression)))
    return tokens


# ----------------------------------------------------------------------------------------------
# Syntax tree
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    """A numeric literal."""

    value: float


@dataclass(frozen=True)
class String:
    """A quoted string literal."""

    value: str


@dataclass(frozen=True)
class Variable:
    """A reference ``${name}`` to a column of the frame."""

    name: str


@dataclass(frozen=True)
class Current:
    """The current value ``.`` of a constraint."""


@dataclass(frozen=True)
class Negate:
    """Unary minus."""

    operand: Node


@dataclass(frozen=True)
class Binary:
    """A binary operation: comparison, arithmetic, ``and`` or ``or``."""

    operator: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    """A function call."""

    function: str
    arguments: tuple[Node, ...]
    position: int


Node = Number | String | Variable | Current | Negate | Binary | Call


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its source text and its syntax tree."""

    source: str
    tree: Node


# name -> (minimum arguments, maximum arguments); None means unbounded
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "not": (1, 1),
    "selected": (2, 2),
    "count-selected": (1, 1),
    "string-length": (1, 1),
    "regex": (2, 2),
    "if": (3, 3),
    "coalesce": (2, None),
    "true": (0, 0),
    "false": (0, 0),
    "number": (1, 1),
    "int": (1, 1),
}

_EQUALITY = ("=", "!=")
_RELATIONAL = ("<", "<=", ">", ">=")
MAX_NESTING = 40
"""Deepest nesting of parentheses, function calls and unary minus an expression may have."""
MAX_DEPTH = 100
"""Deepest syntax tree an expression may have (``and``/``or`` chains are built balanced)."""


class _Parser:
    """Recursive descent over the XPath precedence levels, loosest first."""

    def __init__(self, expression: str) -> None:
        self.source = expression
        self.tokens = _tokenize(expression)
        self.index = 0
        self.nesting = 0

    def enter(self) -> None:
        """Count one more level of nesting; refuse more than :data:`MAX_NESTING`."""
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise ConfigError(
                f"expression {self.source[:200]!r}, position {self.token.position}: expected at "
                f"most {MAX_NESTING} nested parentheses, calls or minus signs, found more"
            )

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def error(self, expected: str) -> ConfigError:
        token = self.token
        found = "the end of the expression" if token.kind == "end" else repr(token.text)
        return ConfigError(
            f"expression {self.source!r}, position {token.position}: expected {expected}, "
            f"found {found}"
        )

    def advance(self) -> Token:
        token = self.token
        self.index += 1
        return token

    def at_operator(self, operators: tuple[str, ...]) -> bool:
        return self.token.kind == "operator" and self.token.text in operators

    def parse(self) -> Node:
        if self.token.kind == "end":
            raise self.error("an expression")
        tree = self.or_expression()
        if self.token.kind != "end":
            raise self.error("an operator or the end of the expression")
        return tree

    def binary_level(self, operators: tuple[str, ...], operand: Callable[[], Node]) -> Node:
        left = operand()
        if operators in (("or",), ("and",)):  # associative: a balanced tree stays shallow
            operands = [left]
            while self.at_operator(operators):
                self.advance()
                operands.append(operand())
            return _balanced(operators[0], operands)
        while self.at_operator(operators):
            operator = self.advance().text
            left = Binary(operator, left, operand())
        return left

    def or_expression(self) -> Node:
        return self.binary_level(("or",), self.and_expression)

    def and_expression(self) -> Node:
        return self.binary_level(("and",), self.equality)

    def equality(self) -> Node:
        return self.binary_level(_EQUALITY, self.relational)

    def relational(self) -> Node:
        return self.binary_level(_RELATIONAL, self.additive)

    def additive(self) -> Node:
        return self.binary_level(("+", "-"), self.multiplicative)

    def multiplicative(self) -> Node:
        return self.binary_level(("*", "div", "mod"), self.unary)

    def unary(self) -> Node:
        if self.at_operator(("-",)):
            self.enter()
            self.advance()
            node = Negate(self.unary())
            self.nesting -= 1
            return node
        return self.primary()

    def primary(self) -> Node:
        token = self.token
        if token.kind == "number":
            self.advance()
            return Number(float(token.text))
        if token.kind == "string":
            self.advance()
            return String(token.text)
        if token.kind == "variable":
            self.advance()
            return Variable(token.text)
        if token.kind == "dot":
            self.advance()
            return Current()
        if token.kind == "open":
            self.enter()
            self.advance()
            inner = self.or_expression()
            if self.token.kind != "close":
                raise self.error("')'")
            self.advance()
            self.nesting -= 1
            return inner
        if token.kind == "name":
            self.enter()
            node = self.call()
            self.nesting -= 1
            return node
        raise self.error("a value, a variable, a function or '('")

    def call(self) -> Node:
        name_token = self.advance()
        name = name_token.text
        if name not in FUNCTIONS:
            raise ConfigError(
                f"expression {self.source!r}, position {name_token.position}: unknown function "
                f"{name!r}; expected one of {sorted(FUNCTIONS)}"
            )
        if self.token.kind != "open":
            raise self.error(f"'(' after {name!r}")
        self.advance()
        arguments: list[Node] = []
        if self.token.kind != "close":
            arguments.append(self.or_expression())
            while self.token.kind == "comma":
                self.advance()
                arguments.append(self.or_expression())
        if self.token.kind != "close":
            raise self.error("',' or ')'")
        self.advance()
        minimum, maximum = FUNCTIONS[name]
        if len(arguments) < minimum or (maximum is not None and len(arguments) > maximum):
            wanted = str(minimum) if minimum == maximum else (
                f"at least {minimum}" if maximum is None else f"{minimum} to {maximum}"
            )
            raise ConfigError(
                f"expression {self.source!r}, position {name_token.position}: {name}() takes "
                f"{wanted} arguments, found {len(arguments)}"
            )
        return Call(name, tuple(arguments), name_token.position)


def _balanced(operator: str, operands: list[Node]) -> Node:
    """``a op b op c ...`` as a balanced tree of an associative operator."""
    while len(operands) > 1:
        paired = [Binary(operator, operands[i], operands[i + 1])
                  for i in range(0, len(operands) - 1, 2)]
        operands = paired + ([operands[-1]] if len(operands) % 2 else [])
    return operands[0]


def _depth(tree: Node) -> int:
    """The depth of a syntax tree, computed without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(node, Negate):
            stack.append((node.operand, level + 1))
        elif isinstance(node, Binary):
            stack += [(node.left, level + 1), (node.right, level + 1)]
        elif isinstance(node, Call):
            stack += [(argument, level + 1) for argument in node.arguments]
    return deepest


def parse(expression: str) -> Expression:
    """Parse an XLSForm expression into a syntax tree.

    Parameters
    ----------
    expression
        The text of a ``relevant`` or ``constraint`` cell.

    Returns
    -------
    Expression
        The source and its tree.

    Raises
    ------
    ConfigError
        On bad syntax or an unknown function, naming the expression and the position.

    Examples
    --------
    >>> parse("${age} >= 18").tree
    Binary(operator='>=', left=Variable(name='age'), right=Number(value=18.0))
    """
    if not isinstance(expression, str):
        raise ConfigError(f"expected an expression as text, found {expression!r}")
    tree = _Parser(expression).parse()
    if _depth(tree) > MAX_DEPTH:
        raise ConfigError(
            f"expression {expression[:200]!r}: expected at most {MAX_DEPTH} levels of "
            "operators, found more; split the expression (e.g. with a calculate question)"
        )
    return Expression(expression, tree)


def _walk(node: Node):
    yield node
    if isinstance(node, Negate):
        yield from _walk(node.operand)
    elif isinstance(node, Binary):
        yield from _walk(node.left)
        yield from _walk(node.right)
    elif isinstance(node, Call):
        for argument in node.arguments:
            yield from _walk(argument)


def referenced_names(expression: str) -> tuple[str, ...]:
    """The column names an expression refers to with ``${...}``, in order of first use.

    Examples
    --------
    >>> referenced_names("${a} > 1 and selected(${b}, '2') and ${a} < 9")
    ('a', 'b')
    """
    seen: dict[str, None] = {}
    for node in _walk(parse(expression).tree):
        if isinstance(node, Variable):
            seen.setdefault(node.name, None)
    return tuple(seen)


def uses_current(expression: str) -> bool:
    """True when the expression refers to the current value ``.``.

    Examples
    --------
    >>> uses_current(". >= 0 and . <= 120")
    True
    """
    return any(isinstance(node, Current) for node in _walk(parse(expression).tree))


# ----------------------------------------------------------------------------------------------
# Evaluation: every node evaluates to a Series aligned with the frame's index. Numeric values
# are float64 with NaN for missing, texts are object Series with None for missing, booleans
# are bool Series (never missing).
# ----------------------------------------------------------------------------------------------


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _as_text(values: pd.Series) -> pd.Series:
    """Text view: None where missing; numbers rendered without a trailing '.0'."""
    def render(value: object) -> object:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return None
        if isinstance(value, bool | np.bool_):
            return "true" if value else "false"
        if isinstance(value, float | np.floating):
            number = float(value)
            return str(int(number)) if number.is_integer() else repr(number)
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
        return str(value)

    return pd.Series([render(value) for value in values], index=values.index, dtype=object)


def _as_number(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    if _is_numeric(values):
        return values.astype("float64")
    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.Series(np.nan, index=values.index, dtype="float64")
    text = _as_text(values)
    return pd.to_numeric(text.str.strip(), errors="coerce").astype("float64")


def _missing(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return pd.Series(False, index=values.index)
    missing = values.isna()
    if not _is_numeric(values) and not pd.api.types.is_datetime64_any_dtype(values):
        missing = missing | (_as_text(values).fillna("") == "")
    return missing.astype(bool)


def _as_boolean(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype(bool)
    if _is_numeric(values):
        return (values.notna() & (values != 0)).astype(bool)
    return (~_missing(values)).astype(bool)


def _broadcast(value: object, index: pd.Index) -> pd.Series:
    if isinstance(value, float):
        return pd.Series(value, index=index, dtype="float64")
    if isinstance(value, bool):
        return pd.Series(value, index=index, dtype=bool)
    return pd.Series([value] * len(index), index=index, dtype=object)


def _selected_codes(values: pd.Series) -> pd.Series:
    text = _as_text(values)
    return pd.Series(
        [tuple(value.split()) if value else () for value in text], index=values.index, dtype=object
    )


class _Evaluator:
    def __init__(self, expression: Expression, frame: pd.DataFrame, current: object) -> None:
        self.expression = expression
        self.frame = frame
        self.index = frame.index
        self.current = current

    def error(self, message: str) -> ConfigError:
        return ConfigError(f"expression {self.expression.source!r}: {message}")

    def value(self, node: Node) -> pd.Series:
        if isinstance(node, Number):
            return _broadcast(node.value, self.index)
        if isinstance(node, String):
            return _broadcast(node.value, self.index)
        if isinstance(node, Variable):
            if node.name not in self.frame.columns:
                raise self.error(
                    f"refers to ${{{node.name}}}, expected a column of that name, found none "
                    f"among {len(self.frame.columns)} columns"
                )
            return self.frame[node.name]
        if isinstance(node, Current):
            if self.current is None:
                raise self.error("uses '.', expected a current value, found none (current=None)")
            if isinstance(self.current, pd.Series):
                return self.current.reindex(self.index)
            return _broadcast(self.current, self.index)
        if isinstance(node, Negate):
            return -_as_number(self.value(node.operand))
        if isinstance(node, Binary):
            return self.binary(node)
        return self.call(node)

    def binary(self, node: Binary) -> pd.Series:
        operator = node.operator
        if operator in ("and", "or"):
            left = _as_boolean(self.value(node.left))
            right = _as_boolean(self.value(node.right))
            return (left & right) if operator == "and" else (left | right)
        if operator in _EQUALITY + _RELATIONAL:
            return self.compare(operator, node.left, node.right)
        left = _as_number(self.value(node.left))
        right = _as_number(self.value(node.right))
        if operator == "+":
            return left + right
        if operator == "-":
            return left - right
        if operator == "*":
            return left * right
        safe_right = right.where(right != 0)
        if operator == "div":
            return left / safe_right
        return np.fmod(left, safe_right)  # XPath mod keeps the sign of the dividend

    def compare(self, operator: str, left_node: Node, right_node: Node) -> pd.Series:
        for empty_side, other in ((left_node, right_node), (right_node, left_node)):
            if isinstance(empty_side, String) and empty_side.value == "" and operator in _EQUALITY:
                missing = _missing(self.value(other))
                return missing if operator == "=" else ~missing
        left, right = self.value(left_node), self.value(right_node)
        missing = _missing(left) | _missing(right)
        if pd.api.types.is_datetime64_any_dtype(left) or pd.api.types.is_datetime64_any_dtype(
            right
        ):
            left, right = self.as_dates(left), self.as_dates(right)
            missing = missing | left.isna() | right.isna()
            result = self.apply(operator, left, right)
            return (result & ~missing).astype(bool)
        left_number, right_number = _as_number(left), _as_number(right)
        both_numbers = left_number.notna() & right_number.notna()
        result = pd.Series(False, index=self.index)
        numeric_result = self.apply(operator, left_number, right_number)
        result = result.where(~both_numbers, numeric_result)
        if operator in _EQUALITY:
            left_text, right_text = _as_text(left), _as_text(right)
            text_result = self.apply(operator, left_text.fillna(""), right_text.fillna(""))
            result = result.where(both_numbers, text_result)
        return (result.astype(bool) & ~missing).astype(bool)

    def as_dates(self, values: pd.Series) -> pd.Series:
        if pd.api.types.is_datetime64_any_dtype(values):
            return values
        return pd.to_datetime(_as_text(values), errors="coerce")

    @staticmethod
    def apply(operator: str, left: pd.Series, right: pd.Series) -> pd.Series:
        if operator == "=":
            return left == right
        if operator == "!=":
            return left != right
        if operator == "<":
            return left < right
        if operator == "<=":
            return left <= right
        if operator == ">":
            return left > right
        return left >= right

    def call(self, node: Call) -> pd.Series:
        name, arguments = node.function, node.arguments
        if name == "true":
            return pd.Series(True, index=self.index)
        if name == "false":
            return pd.Series(False, index=self.index)
        if name == "not":
            return ~_as_boolean(self.value(arguments[0]))
        if name == "number":
            return _as_number(self.value(arguments[0]))
        if name == "int":
            return np.trunc(_as_number(self.value(arguments[0])))
        if name == "if":
            condition = _as_boolean(self.value(arguments[0]))
            when_true, when_false = self.value(arguments[1]), self.value(arguments[2])
            if _is_numeric(when_true) and _is_numeric(when_false):
                return when_true.astype("float64").where(condition, when_false.astype("float64"))
            return _as_text(when_true).where(condition, _as_text(when_false))
        if name == "coalesce":
            values = [self.value(argument) for argument in arguments]
            if all(_is_numeric(value) for value in values):
                result = values[0].astype("float64")
                for value in values[1:]:
                    result = result.where(result.notna(), value.astype("float64"))
                return result
            result = _as_text(values[0])
            for value in values[1:]:
                result = result.where(~_missing(result), _as_text(value))
            return result
        if name == "selected":
            codes = _selected_codes(self.value(arguments[0]))
            wanted = _as_text(self.value(arguments[1]))
            return pd.Series(
                [bool(code) and code in selected
                 for selected, code in zip(codes, wanted, strict=True)],
                index=self.index,
                dtype=bool,
            )
        if name == "count-selected":
            codes = _selected_codes(self.value(arguments[0]))
            return codes.map(len).astype("float64")
        if name == "string-length":
            text = _as_text(self.value(arguments[0])).fillna("")
            return text.map(len).astype("float64")
        # regex(value, pattern)
        text = _as_text(self.value(arguments[0])).fillna("")
        patterns = _as_text(self.value(arguments[1])).fillna("")
        compiled: dict[str, re.Pattern[str]] = {}
        results = []
        for value, pattern in zip(text, patterns, strict=True):
            if pattern not in compiled:
                try:
                    compiled[pattern] = re.compile(pattern)
                except re.error as error:
                    raise ConfigError(
                        f"expression {self.expression.source!r}, position {node.position}: "
                        f"regex() expected a valid pattern, found {pattern!r} ({error})"
                    ) from error
            results.append(compiled[pattern].search(value) is not None)
        return pd.Series(results, index=self.index, dtype=bool)


def evaluate_values(
    expression: str | Expression, frame: pd.DataFrame, *, current: object = None
) -> pd.Series:
    """Evaluate an expression to its values (number, text or boolean), one per row.

    Parameters
    ----------
    expression
        Expression text or a parsed :class:`Expression`.
    frame
        Columns referred to by ``${name}``.
    current
        The value of ``.``: a Series aligned with ``frame`` or a scalar.

    Returns
    -------
    pandas.Series
        float64 for arithmetic, object text, or bool.

    Examples
    --------
    >>> import pandas as pd
    >>> evaluate_values("${a} * 2", pd.DataFrame({"a": ["1", None]})).tolist()
    [2.0, nan]
    """
    parsed = expression if isinstance(expression, Expression) else parse(expression)
    return _Evaluator(parsed, frame, current).value(parsed.tree)


def evaluate(
    expression: str | Expression, frame: pd.DataFrame, *, current: object = None
) -> pd.Series:
    """Evaluate an expression as a condition: a boolean Series aligned with ``frame``.

    Parameters
    ----------
    expression
        Expression text (``relevant`` or ``constraint``) or a parsed :class:`Expression`.
    frame
        Columns referred to by ``${name}``; raw text or typed values.
    current
        The value of ``.``: a Series aligned with ``frame`` or a scalar.

    Returns
    -------
    pandas.Series
        bool, never missing; see the module docstring for how missing values count.

    Raises
    ------
    ConfigError
        Bad syntax, an unknown function, a reference to a column that does not exist, or ``.``
        without a current value.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"age": ["17", "30"], "sports": ["1 3", ""]})
    >>> evaluate("${age} >= 18 or selected(${sports}, '3')", frame).tolist()
    [True, True]
    >>> evaluate(". > 0 and . < 100", frame, current=pd.Series([5.0, 200.0])).tolist()
    [True, False]
    """
    return _as_boolean(evaluate_values(expression, frame, current=current)).astype(bool)
