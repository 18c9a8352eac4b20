"""Build SymPy objects from checked scalar syntax trees, and evaluate them at sample points."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import mpmath
import sympy

from grader.engine.parse import BinOp, Call, Helper, Name, Neg, Node, Num, Transpose
from grader.engine.problem import Problem, ScalarVariable
from grader.engine.variants import ParameterValue

WORKING_DIGITS = 30


def symbol_for(variable: ScalarVariable) -> sympy.Symbol:
    """Return the SymPy symbol of a variable, carrying its domain as assumptions."""
    assumptions = {
        "real": {"real": True},
        "positive": {"positive": True},
        "nonnegative": {"nonnegative": True},
        "integer": {"integer": True},
    }[variable.domain]
    return sympy.Symbol(variable.name, **assumptions)


def exact_number(value: ParameterValue | str) -> sympy.Expr:
    """Return a number as an exact SymPy rational (student decimals included)."""
    if isinstance(value, Fraction):
        return sympy.Rational(value.numerator, value.denominator)
    return sympy.Rational(str(value))


class ScalarBuilder:
    """Turn trees into SymPy expressions for one problem and one set of parameter values."""

    def __init__(self, problem: Problem, *, keep_parameters: bool = False) -> None:
        self.problem = problem
        self.symbols = {name: symbol_for(v) for name, v in problem.scalars.items()}
        self.values: dict[str, sympy.Expr] = dict(self.symbols)
        for name in problem.author_vocab.parameters:
            if name in problem.parameters and not keep_parameters:
                self.values[name] = exact_number(problem.parameters[name])
            else:
                self.values[name] = sympy.Symbol(name, real=True)
        self.values.setdefault("pi", sympy.pi)
        self.values.setdefault("e", sympy.E)
        self.helpers = problem.author_vocab.helpers

    def build(self, node: Node) -> sympy.Expr:
        """Return the SymPy expression of a tree."""
        return self._build(node, self.values)

    def _build(self, node: Node, scope: dict[str, sympy.Expr]) -> sympy.Expr:
        if isinstance(node, Num):
            return exact_number(node.text)
        if isinstance(node, Name):
            return scope[node.name]
        if isinstance(node, Neg):
            return -self._build(node.operand, scope)
        if isinstance(node, BinOp):
            left = self._build(node.left, scope)
            right = self._build(node.right, scope)
            if node.op == "+":
                return left + right
            if node.op == "-":
                return left - right
            if node.op == "*":
                return left * right
            if node.op == "/":
                return left / right
            return sympy.Pow(left, right)
        if isinstance(node, Transpose):
            raise ValueError("transpose in a scalar expression")
        if node.func in self.helpers:
            return self._helper(self.helpers[node.func], node, scope)
        args = [self._build(a, scope) for a in node.args]
        return _apply_function(node.func, args)

    def _helper(self, helper: Helper, node: Call, scope: dict[str, sympy.Expr]) -> sympy.Expr:
        inner = {name: value for name, value in self.values.items() if name not in self.symbols}
        for param, arg in zip(helper.params, node.args, strict=True):
            inner[param] = self._build(arg, scope)
        return self._build(helper.body, inner)


def _apply_function(func: str, args: list[sympy.Expr]) -> sympy.Expr:
    simple: dict[str, Callable[..., sympy.Expr]] = {
        "exp": sympy.exp,
        "sqrt": sympy.sqrt,
        "sin": sympy.sin,
        "cos": sympy.cos,
        "tan": sympy.tan,
        "sinh": sympy.sinh,
        "cosh": sympy.cosh,
        "tanh": sympy.tanh,
        "sech": sympy.sech,
        "asin": sympy.asin,
        "acos": sympy.acos,
        "atan": sympy.atan,
        "erf": sympy.erf,
        "erfc": sympy.erfc,
        "abs": sympy.Abs,
        "max": sympy.Max,
        "min": sympy.Min,
        "gamma": sympy.gamma,
        "factorial": sympy.factorial,
        "binomial": sympy.binomial,
    }
    if func in simple:
        return simple[func](*args)
    if func == "log":
        return sympy.log(args[0]) if len(args) == 1 else sympy.log(args[0]) / sympy.log(args[1])
    if func == "Phi":
        return (1 + sympy.erf(args[0] / sympy.sqrt(2))) / 2
    if func == "diff":
        order = int(args[2]) if len(args) == 3 else 1
        return sympy.diff(args[0], args[1], order)
    raise ValueError(f"the function {func} has no scalar meaning")


class Evaluator:
    """Evaluate one SymPy expression at points with 30-digit mpmath arithmetic."""

    def __init__(self, expr: sympy.Expr, symbols: list[sympy.Symbol]) -> None:
        self.expr = expr
        self.function = sympy.lambdify(symbols, expr, modules="mpmath")

    def at(self, point: list[Any]) -> complex | None:
        """Return the value at a point, or None where it is undefined or not finite."""
        with mpmath.workdps(WORKING_DIGITS):
            try:
                value = self.function(*point)
            except (ZeroDivisionError, ValueError, OverflowError, TypeError, ArithmeticError):
                return None
            try:
                value = mpmath.mpmathify(value)
            except (TypeError, ValueError):
                return None
            if not mpmath.isfinite(value):
                return None
            if isinstance(value, mpmath.mpc):
                if abs(value.imag) <= 1e-20 * max(1, abs(value.real)):
                    return mpmath.mpf(value.real)
            return value
