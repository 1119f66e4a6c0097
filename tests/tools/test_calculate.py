"""calculate: results as a person expects them, clear refusals, and agreement with Python arithmetic."""

from __future__ import annotations

import ast
import asyncio
import keyword
import math
import operator
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sidekick.tools import calculate
from sidekick.tools.base import ToolFailure, ToolRegistry
from sidekick.tools.calculate import CalculateTool, evaluate, format_value


def calc(expression: str) -> str:
    return format_value(evaluate(expression))


@pytest.mark.parametrize(
    ("expression", "shown"),
    [
        ("1234567 * 0.175", "216049.225"),
        ("0.1 + 0.2", "0.3"),
        ("2**10", "1024"),
        ("2^10", "1024"),
        ("2**100", "1267650600228229401496703205376"),
        ("-(2**63)", "-9223372036854775808"),
        ("-2**2", "-4"),
        ("(-2)**2", "4"),
        ("2**-1", "0.5"),
        ("6/3", "2"),
        ("7/2", "3.5"),
        ("1/3", "0.333333333333"),
        ("7 // 2", "3"),
        ("-7 % 3", "2"),
        ("-7.5 % 2", "0.5"),
        ("1234567890123.45 * 1", "1234567890123.45"),
        ("1e20", "1e+20"),
        ("1e-7", "1e-07"),
        ("sqrt(2)^2", "2"),
        ("pi", "3.14159265359"),
        ("ln(e)", "1"),
        ("max(3, 5.5) + min(1, 2)", "6.5"),
        ("round(2.5)", "2"),
        ("abs(-3)", "3"),
        ("12×3÷4−1", "8"),
        ("3 > 2", "true"),
        ("2**64 == 2**64 + 1", "false"),
        ("1 < 2 and not 3.5 > 4", "true"),
        ("2.5 > 1 or 2 > 3", "true"),
        ("not 0.0", "true"),
        ("where(1 > 2, 1, 2)", "2"),
    ],
)
def test_results_read_as_a_person_expects(expression: str, shown: str) -> None:
    assert calc(expression) == shown


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("1/0", "division by zero"),
        ("1//0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("1/sin(0)", "division by zero"),
        ("0/0", "division by zero"),
        ("10.0**400", "overflow"),
        ("2**5000", "overflow"),
        ("9**9**9", "overflow"),
        ("1e308 * 10", "infinite"),
        ("log(0)", "infinite"),
        ("sqrt(-1)", "NaN"),
        ("(-8)**(1/3)", "not a real number"),
        ("1e400", "too large"),
        ("", "empty"),
        ("1 +", "not a valid expression"),
        ("(" * 300 + "1" + ")" * 300, "longer than 500"),
        ("1+" * 300 + "1", "longer than 500"),
        ("x + 1", "unknown name 'x'"),
        ("sin", "is a function"),
        ("foo(1)", "unknown function 'foo'"),
        ("sin(1, 2)", "takes 1 argument"),
        ("sqrt(x=4)", "plain calls"),
        ("(1).real", "attribute access"),
        ("pi.real", "attribute access"),
        ("__import__('os')", "double underscores"),
        ("().__class__", "double underscores"),
        ("'abc'", "only numbers"),
        ("b'1'", "only numbers"),
        ("1j", "only numbers"),
        ("1,234", "thousands separators"),
        ("[1, 2]", "List is not allowed"),
        ("lambda: 1", "Lambda is not allowed"),
        ("1 if 1 else 2", "IfExp is not allowed"),
        ("(y := 2)", "NamedExpr is not allowed"),
        ("~5", "bitwise ~"),
    ],
)
def test_failures_say_why(expression: str, reason: str) -> None:
    with pytest.raises(ToolFailure, match=None) as info:
        evaluate(expression)
    assert reason in str(info.value)


def test_the_tool_answers_text_and_structured_content() -> None:
    registry = ToolRegistry()
    registry.add(CalculateTool())
    ok = asyncio.run(registry.call("calculate", {"expression": "2**100"}))
    assert ok.to_mcp() == {
        "content": [{"type": "text", "text": "1267650600228229401496703205376"}],
        "isError": False,
        "structuredContent": {"expression": "2**100", "result": "1267650600228229401496703205376",
                              "value": 2**100},
    }
    bad = asyncio.run(registry.call("calculate", {"expression": "1/0"}))
    assert bad.is_error and bad.text == "calculate failed: division by zero"


# --- property tests -----------------------------------------------------------------------------------

ALLOWED = set(calculate.FUNCTIONS) | set(calculate.ALIASES) | set(calculate.CONSTANTS)
identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True).filter(
    lambda name: name not in ALLOWED and not keyword.iskeyword(name) and name not in ("True", "False", "None")
)
numbers = st.integers(-1000, 1000).map(str) | st.floats(0, 1e6, allow_nan=False).map(repr)
hostile = st.one_of(
    identifiers,
    st.builds("{}.{}".format, numbers.map(lambda n: f"({n})") | identifiers | st.sampled_from(sorted(ALLOWED)),
              identifiers),
    st.builds("__{}__".format, identifiers),
    st.builds("{}({})".format, identifiers, numbers),
    st.builds("{}[{}]".format, st.sampled_from(["pi", "(1)", "'ab'"]), numbers),
    st.builds("{!r}".format, st.text(max_size=8)),
    st.builds("lambda: {}".format, numbers),
    st.builds("({} := {})".format, identifiers, numbers),
    st.builds("[{} for {} in ()]".format, numbers, identifiers),
)


@settings(max_examples=300, deadline=None, database=None)
@given(left=numbers, fragment=hostile, op=st.sampled_from(["+", "*", "-", "/"]))
def test_hostile_fragments_are_refused_before_anything_runs(left: str, fragment: str, op: str) -> None:
    import numexpr

    def must_not_run(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a refused expression reached numexpr")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(numexpr, "evaluate", must_not_run)
        with pytest.raises(ToolFailure):
            evaluate(f"{left} {op} {fragment}")


BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
          ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
HUGE = 2**1000  # beyond this, Python's exact int/int division and the tool's floats part ways


def leaves() -> st.SearchStrategy[ast.expr]:
    return st.one_of(
        st.integers(0, 10**6).map(ast.Constant),
        st.floats(0, 1e6, allow_nan=False, allow_infinity=False).map(ast.Constant),
    )


def extend(children: st.SearchStrategy[ast.expr]) -> st.SearchStrategy[ast.expr]:
    binop = st.builds(lambda l, op, r: ast.BinOp(l, op(), r), children,
                      st.sampled_from([ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod]), children)
    power = st.builds(lambda base, n: ast.BinOp(base, ast.Pow(), ast.Constant(n)), children, st.integers(-2, 4))
    negate = children.map(lambda c: ast.UnaryOp(ast.USub(), c))
    return binop | power | negate


def reference(node: ast.expr) -> Any:
    """Python's own arithmetic on the generated tree."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp):
        return -reference(node.operand)
    assert isinstance(node, ast.BinOp)
    left, right = reference(node.left), reference(node.right)
    assume(all(not isinstance(v, int) or abs(v) < HUGE for v in (left, right)))
    return BINOPS[type(node.op)](left, right)


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(tree=st.recursive(leaves(), extend, max_leaves=8))
def test_arithmetic_agrees_with_python(tree: ast.expr) -> None:
    source = ast.unparse(tree)
    assume(len(source) <= calculate.MAX_LENGTH)
    try:
        expected = reference(tree)
        failed = isinstance(expected, complex) or (isinstance(expected, float) and not math.isfinite(expected))
    except (ZeroDivisionError, OverflowError):
        failed = True
    if failed:
        with pytest.raises(ToolFailure):
            evaluate(source)
        return
    assume(not isinstance(expected, int) or abs(expected) < HUGE)
    value = evaluate(source)
    if type(expected) is int:
        assert value == expected and calc(source) == str(expected)
    else:
        assert math.isclose(float(calc(source)), expected, rel_tol=1e-11), (source, value, expected)


def normalised_leaves() -> st.SearchStrategy[ast.expr]:
    """Constants as they reach evaluation: floats (ints are floats by then) and the booleans of comparisons."""
    return st.one_of(st.floats(0, 1e12, allow_nan=False, allow_infinity=False),
                     st.sampled_from([0.0, 1.0, 2.0, 0.5, 1e308, 5e-324, True, False])).map(ast.Constant)


def normalised(children: st.SearchStrategy[ast.expr]) -> st.SearchStrategy[ast.expr]:
    binop = st.builds(lambda l, op, r: ast.BinOp(l, op(), r), children, st.sampled_from(
        [ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.BitAnd, ast.BitOr]), children)
    unary = st.builds(lambda op, c: ast.UnaryOp(op(), c), st.sampled_from([ast.USub, ast.UAdd]), children)
    ops = st.sampled_from([ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE]).map(lambda op: op())
    compare = st.builds(lambda left, rest: ast.Compare(left, [op for op, _ in rest], [c for _, c in rest]),
                        children, st.lists(st.tuples(ops, children), min_size=1, max_size=3))
    return binop | unary | compare


def outcome(compute: Any) -> tuple[Any, ...]:
    try:
        value = compute()
    except Exception as exc:
        return "raises", type(exc).__name__, str(exc)
    if isinstance(value, float):
        return "float", "nan" if math.isnan(value) else value.hex()  # to the bit, and -0.0 apart from 0.0
    return type(value).__name__, repr(value)


@settings(max_examples=500, deadline=None, database=None)
@given(tree=st.recursive(normalised_leaves(), normalised, max_leaves=10))
def test_an_expression_without_calls_gets_numexpr_s_value_without_numexpr(tree: ast.expr) -> None:
    # numexpr itself evaluates such text with Python's operators; the tool does the same without importing it.
    text = ast.unparse(tree)
    assert outcome(lambda: calculate._python_value(tree)) == outcome(lambda: calculate._ne_evaluate(text)), text
