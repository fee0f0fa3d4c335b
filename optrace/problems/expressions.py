"""Your own function as an expression in x (or x and y), compiled to torch operations.

The text is parsed with :mod:`ast` and only a whitelist is accepted: numbers,
the variables ``x`` and ``y``, the constants ``pi`` and ``e``, the operators ``+ - * / **``
and unary minus, and calls of a fixed set of functions by name. Each node maps
to a torch operation, so the result is differentiable by autograd. Nothing is
ever passed to ``eval``; attribute access, subscripts, keywords, lambdas and
every other construct are refused with the column where they stand.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable

import torch

from optrace._core.errors import ConfigError
from optrace._core.keys import did_you_mean

Value = torch.Tensor | float | int
#: A compiled expression: its value from x and y (None for a function of x alone).
Body = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]
Node = Callable[[torch.Tensor, torch.Tensor | None], Value]

FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sin": torch.sin,
    "cos": torch.cos,
    "tan": torch.tan,
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "abs": torch.abs,
    "tanh": torch.tanh,
    "sinh": torch.sinh,
    "cosh": torch.cosh,
    "atan": torch.atan,
    "asin": torch.asin,
    "acos": torch.acos,
}
CONSTANTS = {"pi": math.pi, "e": math.e}
VARIABLES = ("x", "y")
MAX_LENGTH = 1000

_BINARY: dict[type[ast.operator], Callable[[Value, Value], Value]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}


class _Refused(Exception):
    def __init__(self, node: ast.AST | None, message: str) -> None:
        super().__init__(message)
        self.column = getattr(node, "col_offset", 0) + 1
        self.message = message


def _y(x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    assert y is not None  # an expression that names y is compiled as 2-D
    return y


def _build(node: ast.AST, used: set[str]) -> Node:
    """A closure computing ``node`` from x and y, checked node by node; the
    variables it reads are added to ``used``."""
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Refused(node, f"{value!r} is not a number")
        number = value  # an int stays an int: x**4 is not computed as x**4.0
        return lambda x, y: number
    if isinstance(node, ast.Name):
        if node.id in VARIABLES:
            used.add(node.id)
            return (lambda x, y: x) if node.id == "x" else _y
        if node.id in CONSTANTS:
            constant = CONSTANTS[node.id]
            return lambda x, y: constant
        known = [*VARIABLES, *CONSTANTS, *FUNCTIONS]
        hint = did_you_mean(node.id, known)
        raise _Refused(node, f"unknown name '{node.id}'{hint}; an expression may use x, y, pi, e")
    if isinstance(node, ast.BinOp):
        operation = _BINARY.get(type(node.op))
        if operation is None:
            raise _Refused(node, "only + - * / ** are allowed between terms")
        left, right = _build(node.left, used), _build(node.right, used)
        return lambda x, y: operation(left(x, y), right(x, y))
    if isinstance(node, ast.UnaryOp):
        inner = _build(node.operand, used)
        if isinstance(node.op, ast.USub):
            return lambda x, y: -inner(x, y)
        if isinstance(node.op, ast.UAdd):
            return inner
        raise _Refused(node, "only unary minus and plus are allowed")
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Attribute):
            raise _Refused(node, "attribute access (a.b) is not allowed")
        if not isinstance(node.func, ast.Name):
            raise _Refused(node, "only a function named in the expression may be called")
        if node.func.id not in FUNCTIONS:
            allowed = ", ".join(FUNCTIONS)
            raise _Refused(
                node, f"'{node.func.id}' is not an allowed function; use one of {allowed}"
            )
        if node.keywords or len(node.args) != 1:
            raise _Refused(node, f"{node.func.id}() takes exactly one argument")
        function, argument = FUNCTIONS[node.func.id], _build(node.args[0], used)
        return lambda x, y: function(torch.as_tensor(argument(x, y), dtype=torch.float64))
    what = {
        ast.Attribute: "attribute access (a.b)",
        ast.Subscript: "subscripts (a[b])",
        ast.Lambda: "lambda",
        ast.Compare: "comparisons",
        ast.BoolOp: "and/or",
        ast.IfExp: "if/else",
    }.get(type(node), type(node).__name__)
    raise _Refused(node, f"{what} is not allowed; an expression is arithmetic in x and y")


def compile_expression(text: str, path: str = "function.expr") -> tuple[Body, bool]:
    """Compile ``text`` to a float64 torch function of x and y, and whether it
    names y; ConfigError at ``path`` if refused."""
    if len(text) > MAX_LENGTH:
        raise ConfigError(path, f"the expression is over {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ConfigError(
            path, f"column {exc.offset or 1}: not a valid expression ({exc.msg}): {text!r}"
        ) from None
    except (ValueError, RecursionError, MemoryError):
        raise ConfigError(path, f"not a valid expression: {text!r}") from None
    used: set[str] = set()
    try:
        body = _build(tree.body, used)
    except _Refused as exc:
        raise ConfigError(path, f"column {exc.column}: {exc.message}") from None
    except RecursionError:
        raise ConfigError(path, "the expression is nested too deeply") from None

    def fn(x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        value = body(x, y)
        if isinstance(value, torch.Tensor):
            return value
        return x * 0 + value  # a constant function, still on x's autograd graph

    return fn, "y" in used
