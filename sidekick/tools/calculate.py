"""The `calculate` tool: arithmetic evaluated by numexpr, never by Python's eval.

The expression is parsed with `ast` only to vet and normalise it: every node must be on an allow-list
(numbers, arithmetic and comparison operators, the constants pi and e, calls of known functions), so
names, attributes, subscripts, strings and dunders are refused before anything runs. numexpr then
evaluates the normalised text with empty local and global dicts. An expression without function calls
never reaches numpy inside numexpr either: numexpr compiles the text and lets Python's own operators
combine its constants. The vetted tree of such an expression is evaluated with those operators here, in
the same order, and numexpr and numpy (~14 MB of memory, ~0.1 s) are imported for the first call of a
function only.

Semantics (what the README documents):
- Integer-only parts (+ - * // % ** and comparisons on integer literals) are folded exactly with
  Python integers first, because numexpr computes in int32/int64 and silently wraps: `2**100` is exact.
  Everything else is float64 arithmetic in numexpr; `/` is always true division.
- `^` means power, as on a calculator (numexpr would read it as xor); `and`, `or`, `not` work on
  comparisons. `ln`, `asin`, `acos`, `atan`, `atan2`, `max`, `min` are aliases.
- Results: integers as integers, booleans as true/false, floats rounded to 12 significant digits
  (more, up to 15, so no integer digit is lost) and shown without a trailing `.0`.
- Division by zero, overflow, NaN and complex results are tool errors that say so.
"""

from __future__ import annotations

import ast
import math
import operator
import re
import threading
from typing import Any

from pydantic import Field

from sidekick.tools.base import Tool, ToolArgs, ToolFailure, ToolOutput

MAX_LENGTH = 500
INLINE_LENGTH = 100  # expressions up to this long are evaluated on the event loop (see runs_inline)
MAX_INT_BITS = 4000  # exact integers up to ~1200 digits; beyond that, float arithmetic (and overflow)

FUNCTIONS = dict.fromkeys(
    "abs arccos arccosh arcsin arcsinh arctan arctanh ceil cos cosh exp expm1 floor log log10 log1p log2 "
    "round sign sin sinh sqrt tan tanh trunc".split(), 1
) | dict.fromkeys("arctan2 copysign fmod hypot maximum minimum".split(), 2) | {"where": 3}
ALIASES = {"ln": "log", "asin": "arcsin", "acos": "arccos", "atan": "arctan", "atan2": "arctan2",
           "max": "maximum", "min": "minimum"}
CONSTANTS = {"pi": math.pi, "e": math.e}
_SYMBOLS = str.maketrans({"×": "*", "·": "*", "÷": "/", "−": "-"})
_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.BitAnd, ast.BitOr)
_COMPARE = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
              ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
              ast.BitAnd: operator.and_, ast.BitOr: operator.or_, ast.USub: operator.neg, ast.UAdd: operator.pos,
              ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
              ast.Gt: operator.gt, ast.GtE: operator.ge}
_CALLS = re.compile(r"[A-Za-z_]\w*\s*\(|\bnot\b")  # function calls as written, and `not` (a where() call)
_lock = threading.Lock()  # numexpr keeps per-process state about the last compiled expression
_imported = False  # numexpr and numpy: ~0.1 s to import, so the first call that needs them does it in a thread


class CalculateArgs(ToolArgs):
    expression: str = Field(description="An arithmetic expression, e.g. '1234567 * 0.175' or 'sqrt(2)^2'.")


class CalculateTool(Tool):
    """Evaluate an arithmetic expression safely."""

    name = "calculate"
    description = (
        "Evaluate an arithmetic expression exactly as a calculator would. Supports + - * / // % "
        "** (or ^), comparisons, pi, e, and functions such as sqrt, log, ln, exp, sin, cos, tan, abs, "
        "floor, ceil, round, min, max. Use it for any arithmetic instead of computing in your head."
    )
    Args = CalculateArgs
    timeout_s = 5.0
    threads = 4  # its own: it must answer while slow tools fill theirs
    output_schema = {
        "type": "object",
        "properties": {
            "expression": {"type": "string"},
            "result": {"type": "string", "description": "the value as displayed"},
            "value": {"type": ["number", "boolean"]},
        },
        "required": ["expression", "result", "value"],
    }

    def runs_inline(self, args: CalculateArgs) -> bool:
        # A short expression takes tens of µs; the worst of them (many divisions by zero, each checked)
        # about a millisecond: only longer ones are worth a thread, and one that imports numexpr.
        return len(args.expression) <= INLINE_LENGTH and (_imported or _CALLS.search(args.expression) is None)

    def run(self, args: CalculateArgs) -> ToolOutput:
        value = evaluate(args.expression)
        text = format_value(value)
        structured = {"expression": args.expression, "result": text, "value": display_number(value)}
        return ToolOutput(text, structured=structured)


def evaluate(expression: str) -> int | float | bool:
    """The value of `expression`; raises ToolFailure with a readable reason when it has none."""
    tree = _Normaliser().visit(parse(expression))
    folded = _fold(tree.body)
    exact = _signed_int(folded)
    if exact is not None:
        return exact
    if isinstance(folded, ast.Constant) and type(folded.value) is bool:
        return folded.value
    tree.body = _floats(folded)
    return _numexpr(ast.unparse(tree), tree)


def parse(expression: str) -> ast.Expression:
    """Parse and vet an expression: ToolFailure when it is too long or uses anything not allowed."""
    text = expression.translate(_SYMBOLS).strip()
    if not text:
        raise ToolFailure("the expression is empty")
    if len(text) > MAX_LENGTH:
        raise ToolFailure(f"the expression is longer than {MAX_LENGTH} characters")
    if "__" in text:
        raise ToolFailure("double underscores are not allowed")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise ToolFailure(f"not a valid expression: {getattr(exc, 'msg', exc)}") from None
    for node in ast.walk(tree):
        _vet(node)
    return tree


def _vet(node: ast.AST) -> None:
    if isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Load,
                         ast.BitXor, ast.UAdd, ast.USub, ast.Not, ast.And, ast.Or)):
        return
    if isinstance(node, (_BINOPS, _COMPARE)):
        return
    if isinstance(node, ast.Constant):
        if type(node.value) not in (int, float, bool):
            raise ToolFailure(f"only numbers are allowed, not {type(node.value).__name__} {node.value!r}")
        if isinstance(node.value, float) and not math.isfinite(node.value):
            raise ToolFailure("a number in the expression is too large")
        return
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS or node.id in FUNCTIONS or node.id in ALIASES:
            return
        raise ToolFailure(f"unknown name {node.id!r}: only numbers, pi, e and the listed functions are allowed")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.keywords:
            raise ToolFailure("only plain calls of known functions, like sqrt(2), are allowed")
        name = ALIASES.get(node.func.id, node.func.id)
        if name not in FUNCTIONS:
            raise ToolFailure(f"unknown function {node.func.id!r}")
        if len(node.args) != FUNCTIONS[name] or any(isinstance(a, ast.Starred) for a in node.args):
            count = FUNCTIONS[name]
            raise ToolFailure(f"{node.func.id}() takes {count} argument{'s' if count > 1 else ''}")
        return
    if isinstance(node, ast.Invert):
        raise ToolFailure("bitwise ~ is not supported; use not for comparisons")
    if isinstance(node, ast.Attribute):
        raise ToolFailure("attribute access is not allowed")
    if isinstance(node, ast.Tuple):
        raise ToolFailure("commas only separate function arguments; write numbers without thousands separators")
    raise ToolFailure(f"{type(node).__name__} is not allowed in an expression")


class _Normaliser(ast.NodeTransformer):
    """Rewrite calculator spellings into numexpr's: ^ → **, and/or → & |, aliases, constants."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in CONSTANTS:
            return ast.Constant(CONSTANTS[node.id])
        if node.id in FUNCTIONS or node.id in ALIASES:
            raise ToolFailure(f"{node.id} is a function: call it, e.g. {node.id}(x)")
        return node  # pragma: no cover - parse() refused every other name

    def visit_Call(self, node: ast.Call) -> ast.AST:
        name = ALIASES.get(node.func.id, node.func.id)  # type: ignore[attr-defined]
        return ast.Call(ast.Name(name, ast.Load()), [self.visit(a) for a in node.args], [])

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        op = ast.Pow() if isinstance(node.op, ast.BitXor) else node.op
        return ast.BinOp(self.visit(node.left), op, self.visit(node.right))

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        op = ast.BitAnd() if isinstance(node.op, ast.And) else ast.BitOr()
        values = [self.visit(v) for v in node.values]
        result = values[0]
        for value in values[1:]:
            result = ast.BinOp(result, op, value)
        return result



def _int_of(node: ast.AST) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    return None


def _const(value: Any) -> ast.AST:
    # ast.unparse writes Constant(-2) ** 2 as "-2 ** 2", which means -(2**2): keep signs as UnaryOp.
    if not isinstance(value, bool) and value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    return ast.Constant(value)


def _bool_of(node: ast.AST) -> bool | None:
    return node.value if isinstance(node, ast.Constant) and type(node.value) is bool else None


def _fold(node: ast.AST) -> ast.AST:
    """Fold integer-only subtrees exactly, and boolean logic on known truth values, bottom-up.

    What is left goes to numexpr, which cannot mix a Python bool with its own nodes (`True & (x > 1)`
    fails) and folds a constant `~True` to -2, hence `not` as where(x, False, True).
    """
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        operand = _fold(node.operand)
        known = _bool_of(operand)
        if known is None and _signed_int(operand) is not None:
            known = bool(_signed_int(operand))
        if known is not None:
            return ast.Constant(not known)
        return ast.Call(ast.Name("where", ast.Load()), [operand, ast.Constant(False), ast.Constant(True)], [])
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)):
        left, right = _fold(node.left), _fold(node.right)
        for known, other in ((_bool_of(left), right), (_bool_of(right), left)):
            if known is not None:
                is_and = isinstance(node.op, ast.BitAnd)
                return other if known == is_and else ast.Constant(known)
        return ast.BinOp(left, node.op, right)
    if isinstance(node, ast.UnaryOp):
        operand = _fold(node.operand)
        n = _signed_int(operand)
        if n is not None and isinstance(node.op, (ast.UAdd, ast.USub)):
            return _const(-n if isinstance(node.op, ast.USub) else n)
        return ast.UnaryOp(node.op, operand)
    if isinstance(node, ast.BinOp):
        left, right = _fold(node.left), _fold(node.right)
        a, b = _signed_int(left), _signed_int(right)
        if a is not None and b is not None:
            value = _int_binop(node.op, a, b)
            if value is not None:
                return _const(value)
        return ast.BinOp(left, node.op, right)
    if isinstance(node, ast.Compare):
        parts = [_fold(node.left)] + [_fold(c) for c in node.comparators]
        ints = [_signed_int(p) for p in parts]
        if all(i is not None for i in ints):
            return ast.Constant(all(_compare(op, x, y) for op, x, y in zip(node.ops, ints, ints[1:])))
        return ast.Compare(parts[0], node.ops, parts[1:])
    if isinstance(node, ast.Call):
        return ast.Call(node.func, [_fold(a) for a in node.args], [])
    return node


def _signed_int(node: ast.AST) -> int | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _int_of(node.operand)
        return None if inner is None else -inner
    return _int_of(node)


def _int_binop(op: ast.operator, a: int, b: int) -> int | None:
    """The exact value of `a op b`, or None to leave it to numexpr (true division, too large, bitwise)."""
    if isinstance(op, ast.Pow):
        if b < 0 or (abs(a) > 1 and abs(a).bit_length() * b > MAX_INT_BITS):
            return None
        return a**b
    if isinstance(op, (ast.FloorDiv, ast.Mod)):
        if b == 0:
            raise ToolFailure("division by zero")
        return a // b if isinstance(op, ast.FloorDiv) else a % b
    if isinstance(op, (ast.Add, ast.Sub, ast.Mult)):
        value = a + b if isinstance(op, ast.Add) else a - b if isinstance(op, ast.Sub) else a * b
        return value if value.bit_length() <= MAX_INT_BITS else None
    return None


def _compare(op: ast.cmpop, a: int, b: int) -> bool:
    return {ast.Eq: a == b, ast.NotEq: a != b, ast.Lt: a < b, ast.LtE: a <= b, ast.Gt: a > b,
            ast.GtE: a >= b}[type(op)]


def _floats(node: ast.AST) -> ast.AST:
    """Turn the remaining integer literals into floats, so numexpr never does int32/int64 arithmetic."""
    for child in ast.walk(node):
        if isinstance(child, ast.Constant) and type(child.value) is int:
            try:
                child.value = float(child.value)
            except OverflowError:
                raise ToolFailure("the result is too large (overflow)") from None
    return node


def _value(text: str, tree: ast.AST) -> Any:
    """numexpr's value of the normalised expression `text`, whose tree is `tree`."""
    if not any(isinstance(node, ast.Call) for node in ast.walk(tree)):
        return _python_value(tree.body if isinstance(tree, ast.Expression) else tree)
    return _ne_evaluate(text)


def _python_value(node: ast.AST) -> Any:
    """What numexpr computes for a tree without calls: Python's operators on its constants, left to right,
    a chain of comparisons stopping at the first false one (numexpr evaluates such text as Python does)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp):
        return _OPERATORS[type(node.op)](_python_value(node.operand))
    if isinstance(node, ast.BinOp):
        left = _python_value(node.left)
        return _OPERATORS[type(node.op)](left, _python_value(node.right))
    if isinstance(node, ast.Compare):
        left = _python_value(node.left)
        for op, comparator in zip(node.ops, node.comparators):
            right = _python_value(comparator)
            result = _OPERATORS[type(op)](left, right)
            if not result:
                return result
            left = right
        return result
    raise TypeError(f"{type(node).__name__} is not evaluated without numexpr")  # pragma: no cover - vetted away


def _ne_evaluate(text: str) -> Any:
    global _imported
    import numexpr
    import numpy

    _imported = True
    # numexpr folds constants with numpy, whose floating-point warnings would reach the log (and fail
    # tests run with warnings as errors); infinities and NaN are checked on the result instead.
    with _lock, numpy.errstate(all="ignore"):
        return numexpr.evaluate(text, local_dict={}, global_dict={}).item()


def _numexpr(text: str, tree: ast.Expression) -> float | bool:
    try:
        value = _value(text, tree)
    except ZeroDivisionError:
        raise ToolFailure("division by zero") from None
    except OverflowError:
        raise ToolFailure("the result is too large (overflow)") from None
    except (TypeError, ValueError, KeyError, NotImplementedError, SyntaxError, AttributeError) as exc:
        raise ToolFailure(f"cannot evaluate {text!r}: {exc}") from None
    if isinstance(value, complex):
        raise ToolFailure("the result is not a real number")
    if isinstance(value, float) and math.isnan(value):
        raise ToolFailure("the result is not a number (NaN), e.g. 0/0 or the square root of a negative number")
    if isinstance(value, float) and math.isinf(value):
        if _divides_by_zero(tree):
            raise ToolFailure("division by zero")
        raise ToolFailure("the result is infinite (overflow, or a pole such as log(0))")
    return value


def _divides_by_zero(tree: ast.Expression) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)):
            try:
                if _value(ast.unparse(node.right), node.right) == 0:
                    return True
            except Exception:  # the divisor itself may not evaluate; then it is not a zero divisor
                continue
    return False


def _significant_digits(x: float) -> int:
    integer_digits = len(str(int(abs(x)))) if abs(x) >= 1 else 0
    return min(15, max(12, integer_digits + 3))


def display_number(value: int | float | bool) -> int | float | bool:
    """The value as shown: floats rounded, and integral floats below 1e15 as integers."""
    if isinstance(value, (bool, int)):
        return value
    rounded = float(f"{value:.{_significant_digits(value)}g}")
    if rounded.is_integer() and abs(rounded) < 1e15:
        return int(rounded)
    return rounded


def format_value(value: int | float | bool) -> str:
    """The value as a person expects to read it: 216049.225, 1024, true, 1.5e+20."""
    shown = display_number(value)
    if isinstance(shown, bool):
        return "true" if shown else "false"
    return repr(shown)
