"""Points beyond the sample intervals where an accepted answer is checked once more.

A variable's sample interval says where its values are typical, not where an answer may be wrong:
`sigma(x)*(1-sigma(x)) + exp(-(x-40)^2)` agrees with the sigmoid's derivative everywhere in
[-3, 3] and is wrong at x = 40. Before an answer that the symbolic audit could not prove equal is
accepted, it is compared with the reference at three more kinds of points of the declared domain:

- far points: magnitudes spread log-uniformly up to FAR_MAGNITUDE, each variable far in turn;
- landmarks of the answer: its numeric constants and the real roots of its one-variable
  polynomial parts and of their derivatives (where a bump or a kink hidden in it sits);
- a lattice of small values (integers, halves, negatives where the domain allows): exponents
  that make a negative base's power real for one form and not for the other, as with
  `(a^b)^c` against `a^(b*c)`.

Points at a kink — where the argument of an `abs` or `sign`, or two arguments of a `max` or `min`,
meet — are left out: there a derivative is a set (a subgradient: anything from the left slope to
the right one), and any value in it is right, so `(sign(x)+1)/2` stands for the step of `max(0, x)`.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import mpmath
import sympy

from grader.engine.symbolic.equivalence import AuditTimeout, time_budget
from grader.engine.symbolic.problem import ScalarVariable, SymbolicProblem

FAR_POINTS = 48
FAR_MAGNITUDE_DECADES = 3  # far values reach 10^3
LATTICE_VALUES = (-2.0, -1.0, -0.5, 0.5, 1.0, 1.5, 2.0, 3.0)
LATTICE_POINTS = 160
LANDMARKS = 24
LANDMARK_SECONDS = 0.05
MAX_LANDMARK_DEGREE = 4


def far_points(problem: SymbolicProblem, base: list[Any], seed: int) -> list[list[Any]]:
    """Return points where one or more variables lie far outside their sample intervals."""
    rng = random.Random(f"chainrule-far:{seed}:{problem.exercise_id}")
    variables = list(problem.scalars.values())
    points = []
    for k in range(FAR_POINTS):
        point = list(base)
        for index, variable in enumerate(variables):
            # Each variable is far in half of the points; the first one always in the first half.
            if (index == k % max(1, len(variables))) or rng.random() < 0.5:
                far = _far_value(variable, rng)
                if far is not None:
                    point[index] = far
        points.append(point)
    return points


def _far_value(variable: ScalarVariable, rng: random.Random) -> Any:
    magnitude = 10 ** rng.uniform(-FAR_MAGNITUDE_DECADES, FAR_MAGNITUDE_DECADES)
    if variable.domain == "integer":
        value = int(round(10 ** rng.uniform(0, FAR_MAGNITUDE_DECADES)))
        return mpmath.mpf(max(value, int(variable.low)))
    if variable.domain in ("positive", "nonnegative"):
        return mpmath.mpf(magnitude)
    if variable.domain == "negative":
        return mpmath.mpf(-magnitude)
    return mpmath.mpf(magnitude if rng.random() < 0.5 else -magnitude)


def lattice_points(problem: SymbolicProblem, seed: int) -> list[list[Any]]:
    """Return combinations of small values each variable's domain allows (all, or a sample)."""
    choices = [_lattice_values(v) for v in problem.scalars.values()]
    total = 1
    for values in choices:
        total *= len(values)
    if total <= LATTICE_POINTS:
        combos = list(itertools.product(*choices))
    else:
        rng = random.Random(f"chainrule-lattice:{seed}:{problem.exercise_id}")
        combos = [tuple(rng.choice(values) for values in choices) for _ in range(LATTICE_POINTS)]
    return [[mpmath.mpf(v) for v in combo] for combo in combos]


def _lattice_values(variable: ScalarVariable) -> list[float]:
    if variable.domain == "integer":
        low = int(variable.low)
        return [float(n) for n in range(low, low + 4)]
    if variable.domain == "positive":
        return [v for v in LATTICE_VALUES if v > 0]
    if variable.domain == "nonnegative":
        return [0.0, *[v for v in LATTICE_VALUES if v > 0]]
    if variable.domain == "negative":
        return [v for v in LATTICE_VALUES if v < 0]
    return list(LATTICE_VALUES)


def landmark_points(
    problem: SymbolicProblem, symbols: list[sympy.Symbol], exprs: list[sympy.Expr], base: list[Any]
) -> list[list[Any]]:
    """Return points that put one variable at a landmark of the expressions, the rest at base."""
    variables = list(problem.scalars.values())
    points = []
    for index, (symbol, variable) in enumerate(zip(symbols, variables, strict=True)):
        for value in _landmarks(symbol, exprs):
            if _inside(variable, value):
                point = list(base)
                point[index] = mpmath.mpf(value)
                points.append(point)
    return points


def _landmarks(symbol: sympy.Symbol, exprs: list[sympy.Expr]) -> list[float]:
    """Return the constants and polynomial roots (and stationary points) in exprs, for symbol."""
    found: list[float] = []
    try:
        with time_budget(LANDMARK_SECONDS):
            for expr in exprs:
                for node in sympy.preorder_traversal(expr):
                    if len(found) >= LANDMARKS:
                        break
                    if isinstance(node, sympy.Number) and node.is_real:
                        found.append(float(node))
                        found.append(-float(node))
                    elif node.free_symbols == {symbol} and isinstance(node, sympy.Add):
                        found.extend(_polynomial_roots(node, symbol))
    except (AuditTimeout, ValueError, TypeError, ArithmeticError, RecursionError):
        pass
    unique = sorted({round(v, 12) for v in found if abs(v) <= 10**6})
    return unique[:LANDMARKS]


def _polynomial_roots(node: sympy.Expr, symbol: sympy.Symbol) -> list[float]:
    if not node.is_polynomial(symbol):
        return []
    poly = sympy.Poly(node, symbol)
    if not 1 <= poly.degree() <= MAX_LANDMARK_DEGREE:
        return []
    roots: list[float] = []
    for candidate in (poly, poly.diff(symbol)):
        if candidate.degree() >= 1:
            roots.extend(float(sympy.re(r)) for r in candidate.nroots() if abs(sympy.im(r)) < 1e-9)
    return roots


def _inside(variable: ScalarVariable, value: float) -> bool:
    if variable.domain == "integer":
        return value == int(value) and value >= variable.low
    if variable.domain == "positive":
        return value > 0
    if variable.domain == "nonnegative":
        return value >= 0
    if variable.domain == "negative":
        return value < 0
    return True


def kink_arguments(exprs: list[sympy.Expr]) -> list[sympy.Expr]:
    """Return the expressions whose zeros are the kinks of exprs (abs, sign, max and min)."""
    found: list[sympy.Expr] = []
    for expr in exprs:
        for node in sympy.preorder_traversal(expr):
            if isinstance(node, sympy.Abs | sympy.sign | sympy.Heaviside):
                found.append(node.args[0])
            elif isinstance(node, sympy.Max | sympy.Min):
                first, *rest = node.args
                found.extend(first - other for other in rest)
    return found
