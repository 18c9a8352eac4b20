"""Build SymPy objects from checked scalar syntax trees, and evaluate them at sample points."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import mpmath
import sympy

from grader.engine.symbolic.problem import ScalarVariable, SymbolicProblem
from grader.engine.symbolic.syntax import BinOp, Call, Helper, Name, Neg, Node, Num, Transpose
from grader.engine.symbolic.variants import ParameterValue

WORKING_DIGITS = 30
Value = Any  # an mpmath mpf or mpc, or None where undefined (mpmath has no type information)


def symbol_for(variable: ScalarVariable) -> sympy.Symbol:
    """Return the SymPy symbol of a variable, carrying its domain as assumptions."""
    assumptions = {
        "real": {"real": True},
        "positive": {"positive": True},
        "nonnegative": {"nonnegative": True},
        "negative": {"negative": True},
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

    def __init__(
        self, problem: SymbolicProblem, *, keep_parameters: bool = False, as_written: bool = False
    ) -> None:
        """as_written keeps helpers and diff unexpanded: the form a line is written in (steps.py)."""
        self.problem = problem
        self.as_written = as_written
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
        if node.func in self.helpers and not self.as_written:
            return self._helper(self.helpers[node.func], node, scope)
        args = [self._build(a, scope) for a in node.args]
        if self.as_written and node.func in self.helpers:
            return sympy.Function(node.func)(*args)
        if self.as_written and node.func == "diff":
            return sympy.Derivative(args[0], (args[1], int(args[2]) if len(args) == 3 else 1))
        return apply_function(node.func, args)

    def _helper(self, helper: Helper, node: Call, scope: dict[str, sympy.Expr]) -> sympy.Expr:
        inner = {name: value for name, value in self.values.items() if name not in self.symbols}
        for param, arg in zip(helper.params, node.args, strict=True):
            inner[param] = self._build(arg, scope)
        return self._build(helper.body, inner)


def apply_function(func: str, args: list[sympy.Expr]) -> sympy.Expr:
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
        "sec": sympy.sec,
        "csc": sympy.csc,
        "cot": sympy.cot,
        "asinh": sympy.asinh,
        "acosh": sympy.acosh,
        "atanh": sympy.atanh,
        "sign": sympy.sign,
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
    if func in ("max", "min"):
        try:
            return simple[func](*args)
        except (ValueError, TypeError):  # an argument that is not real, such as sqrt(-1)
            return sympy.nan  # undefined: the answer is wrong, not unreadable
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


_MPMATH_FUNCTIONS: dict[type, Callable[..., Any]] = {
    sympy.exp: mpmath.exp,
    sympy.log: mpmath.log,
    sympy.sin: mpmath.sin,
    sympy.cos: mpmath.cos,
    sympy.tan: mpmath.tan,
    sympy.sinh: mpmath.sinh,
    sympy.cosh: mpmath.cosh,
    sympy.tanh: mpmath.tanh,
    sympy.sech: mpmath.sech,
    sympy.csch: mpmath.csch,
    sympy.coth: mpmath.coth,
    sympy.sec: mpmath.sec,
    sympy.csc: mpmath.csc,
    sympy.cot: mpmath.cot,
    sympy.asin: mpmath.asin,
    sympy.acos: mpmath.acos,
    sympy.atan: mpmath.atan,
    sympy.asinh: mpmath.asinh,
    sympy.acosh: mpmath.acosh,
    sympy.atanh: mpmath.atanh,
    sympy.erf: mpmath.erf,
    sympy.erfc: mpmath.erfc,
    sympy.gamma: mpmath.gamma,
    sympy.loggamma: mpmath.loggamma,
    sympy.factorial: mpmath.factorial,
    sympy.binomial: mpmath.binomial,
    sympy.Abs: abs,
    sympy.sign: mpmath.sign,
}

PointFunction = Callable[[list[Any]], Any]


class NotCompilable(Exception):
    """The expression holds something the closure compiler does not know; use lambdify."""


def _undefined(point: list[Any]) -> Any:
    raise ZeroDivisionError


def compile_to_mpmath(expr: sympy.Expr, symbols: list[sympy.Symbol]) -> PointFunction:
    """Return a function of a point built from closures over expr's tree.

    Much cheaper to build than lambdify (no printing, no exec), which matters because a check
    evaluates the answer, the reference, the listed mistakes and the diagnostic factors.
    """
    index = {symbol: i for i, symbol in enumerate(symbols)}
    with mpmath.workdps(WORKING_DIGITS):
        return _compile(expr, index)


def _constant(expr: sympy.Expr) -> PointFunction:
    if expr.is_Integer or expr.is_Rational:
        exact = mpmath.mpf(int(expr.p)) / int(expr.q)
        return lambda point: exact
    if expr is sympy.pi or expr is sympy.E:
        known = mpmath.mpf(mpmath.pi if expr is sympy.pi else mpmath.e)
        return lambda point: known
    value = expr.evalf(WORKING_DIGITS + 5)
    if value.has(sympy.zoo, sympy.oo, -sympy.oo, sympy.nan) or not value.is_number:
        return _undefined
    real, imaginary = value.as_real_imag()
    if not (real.is_Number and imaginary.is_Number):
        raise NotCompilable
    number = mpmath.mpf(str(real))
    if imaginary != 0:
        number = mpmath.mpc(number, mpmath.mpf(str(imaginary)))
    return lambda point: number


def _compile(expr: sympy.Expr, index: dict[sympy.Symbol, int]) -> PointFunction:
    if expr.is_Symbol:
        if expr not in index:
            raise NotCompilable
        position = index[expr]
        return lambda point: point[position]
    if not expr.free_symbols:
        return _constant(expr)
    args = [_compile(arg, index) for arg in expr.args]
    if expr.is_Add:

        def add(point: list[Any]) -> Any:
            total = args[0](point)
            for term in args[1:]:
                total += term(point)
            return total

        return add
    if expr.is_Mul:

        def multiply(point: list[Any]) -> Any:
            product = args[0](point)
            for factor in args[1:]:
                product *= factor(point)
            return product

        return multiply
    if expr.is_Pow:
        base, exponent = args
        if expr.exp.is_Integer:
            power = int(expr.exp)
            return lambda point: base(point) ** power
        return lambda point: mpmath.power(base(point), exponent(point))
    if isinstance(expr, sympy.Max | sympy.Min):
        pick = max if isinstance(expr, sympy.Max) else min
        return lambda point: pick(_real(f(point)) for f in args)
    function = _MPMATH_FUNCTIONS.get(type(expr))
    if function is None:
        raise NotCompilable
    if len(args) == 1:
        only = args[0]
        return lambda point: function(only(point))
    return lambda point: function(*(f(point) for f in args))


def _real(value: Any) -> Any:
    if isinstance(value, mpmath.mpc):
        raise ValueError("max/min of a complex value")
    return value


class Evaluator:
    """Evaluate one SymPy expression at points with 30-digit mpmath arithmetic."""

    def __init__(self, expr: sympy.Expr, symbols: list[sympy.Symbol]) -> None:
        self.expr = expr
        try:
            compiled = compile_to_mpmath(expr, symbols)
            self.function: Callable[..., Any] = lambda *point: compiled(list(point))
        except NotCompilable:
            self.function = sympy.lambdify(symbols, expr, modules="mpmath")

    def at(self, point: list[Any]) -> Value:
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
