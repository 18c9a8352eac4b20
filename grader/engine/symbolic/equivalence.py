"""Decide scalar equivalence by seeded sampling over declared domains; audit it symbolically.

Numeric sampling decides (the research in ARCHITECTURE.md: no false accepts and no false rejects
on realistic pairs, where simplify and .equals both rejected correct answers). Points where the
reference is undefined are drawn again; too few valid points make the verdict undetermined.
"""

from __future__ import annotations

import random
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import mpmath
import sympy

from grader.engine.symbolic.expressions import WORKING_DIGITS, Evaluator, Value
from grader.engine.symbolic.problem import ScalarVariable, SymbolicProblem

MIN_VALID_FRACTION = 0.5
NICE_VALUES = (0.5, 1.0, 2.0, -1.0, -0.5, 1.5, 3.0, 0.25, -2.0, 0.75, 2.5, -1.5)


@dataclass
class Samples:
    """The points drawn for one check and the reference's value at each."""

    names: list[str]
    points: list[list[Any]]
    reference: list[Value]
    scale: Any  # an mpmath number: the reference's typical magnitude, never rounded to a float

    @property
    def enough(self) -> bool:
        return bool(self.points)


def draw_samples(
    problem: SymbolicProblem,
    reference: Evaluator,
    seed: int,
    count: int | None = None,
    stream: str = "",
) -> Samples:
    """Draw points from the declared domains until `count` (default `samples`) are valid."""
    count = problem.samples if count is None else count
    rng = random.Random(f"chainrule-points{stream}:{seed}:{problem.exercise_id}")
    variables = list(problem.scalars.values())
    names = [v.name for v in variables]
    points: list[list[Any]] = []
    values: list[Value] = []
    tries = 0
    while len(points) < count and tries < count * 5:
        tries += 1
        point = [draw_point_value(v, rng) for v in variables]
        value = reference.at(point)
        if value is None or isinstance(value, mpmath.mpc):
            continue  # the reference is undefined here: draw again
        points.append(point)
        values.append(value)
    if len(points) < max(3, int(count * MIN_VALID_FRACTION)):
        return Samples(names, [], [], mpmath.mpf(0))
    return Samples(names, points, values, typical_magnitude(values))


def typical_magnitude(values: list[Value]) -> Any:
    """Return the median of the reference's non-zero magnitudes, the scale of the tolerance floor.

    The floor absorbs rounding residue where the reference crosses zero. It must not follow the
    largest value: with 10·exp(10x) on [-3, 3] that is 1e14, and a floor of 1e-12 of it would
    accept the answer plus 1 at every point. The median is what the values typically are. It
    stays an mpmath number: values beyond the float range (x^400, 200!, exp(1000)) would round
    to an infinite float, and an infinite floor would accept any answer.
    """
    magnitudes = sorted(abs(mpmath.mpmathify(v)) for v in values if v is not None and v != 0)
    return magnitudes[len(magnitudes) // 2] if magnitudes else mpmath.mpf(0)


def draw_point_value(variable: ScalarVariable, rng: random.Random) -> Any:
    if variable.domain == "integer":
        return mpmath.mpf(rng.randint(int(variable.low), int(variable.high)))
    return mpmath.mpf(rng.uniform(variable.low, variable.high))


def close(a: Value, b: Value, problem: SymbolicProblem, scale: Any) -> bool:
    """Say whether two values agree within the tolerance (relative, with a scaled floor).

    The whole comparison is in arbitrary precision, and a bound or difference that is not finite
    never counts as agreement.
    """
    if a is None or b is None:
        return a is None and b is None
    with mpmath.workdps(WORKING_DIGITS):
        difference = abs(a - b)
        bound = problem.rtol * max(abs(a), abs(b)) + problem.atol * abs(mpmath.mpmathify(scale))
        if scale == 0:
            bound += mpmath.mpf(1e-24)  # an identically zero reference: allow rounding residue
        if not (mpmath.isfinite(difference) and mpmath.isfinite(bound)):
            return False
        return bool(difference <= bound)


def matches(
    reference: list[Value], candidate: list[Value], problem: SymbolicProblem, scale: Any
) -> bool:
    """Say whether a candidate agrees with the reference at every sample point."""
    return all(close(r, c, problem, scale) for r, c in zip(reference, candidate, strict=True))


def nice_points(problem: SymbolicProblem, samples: Samples) -> Iterator[list[Any]]:
    """Yield easy-to-read points inside the domains, then the sample points rounded."""
    variables = list(problem.scalars.values())
    for k in range(len(NICE_VALUES)):
        point = [_nice_value(v, k) for v in variables]
        if all(p is not None for p in point):
            yield point
    for point in samples.points:
        yield [mpmath.mpf(round(float(p), 2)) for p in point]


def _nice_value(variable: ScalarVariable, k: int) -> Any:
    if variable.domain == "integer":
        choices = [n for n in range(int(variable.low), int(variable.high) + 1)][:12]
        return mpmath.mpf(choices[k % len(choices)])
    inside = [v for v in NICE_VALUES if variable.low <= v <= variable.high]
    if not inside:
        return mpmath.mpf(round((variable.low + variable.high) / 2, 2))
    return mpmath.mpf(inside[k % len(inside)])


def format_value(value: Value, digits: int = 4) -> str:
    """Return a value as a short readable number."""
    if value is None:
        return "undefined"
    if isinstance(value, mpmath.mpc):
        return str(mpmath.nstr(value, digits))
    if value == int(value) and abs(value) < 10**6:
        return str(int(value))
    return str(mpmath.nstr(value, digits, min_fixed=-4, max_fixed=6))


def format_pair(got: Value, expected: Value) -> tuple[str, str]:
    """Return two values with just enough digits to show that they differ."""
    for digits in (4, 6, 9, 12, 15):
        pair = format_value(got, digits), format_value(expected, digits)
        if pair[0] != pair[1]:
            return pair
    return pair


def format_point(names: list[str], point: list[Any]) -> str:
    """Return "x = 0.5, n = 3"."""
    return ", ".join(f"{name} = {format_value(v)}" for name, v in zip(names, point, strict=True))


def as_json_number(value: Value) -> float | str | None:
    """Return a value for a JSON verdict: a float, or text for complex values."""
    if value is None:
        return None
    if isinstance(value, mpmath.mpc):
        return str(mpmath.nstr(value, 6))
    return float(value)


# --- the symbolic audit ------------------------------------------------------------------------


class AuditTimeout(Exception):
    """The symbolic audit ran out of its time budget."""


@contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Raise AuditTimeout in the block after `seconds` (main thread only; the child is)."""
    if threading.current_thread() is not threading.main_thread():
        raise AuditTimeout

    def on_alarm(signum: int, frame: Any) -> None:
        raise AuditTimeout

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def symbolic_audit(
    reference: sympy.Expr, answer: sympy.Expr, seconds: float, *, numeric_correct: bool
) -> str:
    """Return "equal", "different" or "unknown" from SymPy simplification within a time limit.

    "different" only when the difference simplifies to a non-zero number: a leftover expression
    is not proof of a difference (simplify misses true identities), so it gives "unknown".
    After a numeric "correct" the audit tries hard (a proven non-zero difference means a false
    accept); after a numeric "incorrect" it only expands the difference, because simplify can
    not prove a difference and a full run on every wrong answer would double the check's time.
    """
    simplifiers = (_cheap_simplify, sympy.simplify) if numeric_correct else (sympy.expand,)
    try:
        with time_budget(seconds):
            difference = reference - answer
            if difference == 0:
                return "equal"
            for simplifier in simplifiers:
                residual = simplifier(difference)
                if residual == 0:
                    return "equal"
                if residual.is_number:
                    if not residual.is_finite:
                        return "unknown"  # an infinite or undefined answer proves nothing here
                    value = complex(residual.evalf(30))
                    return "different" if abs(value) > 1e-25 else "equal"
    except AuditTimeout:
        return "unknown"
    except (RecursionError, ValueError, TypeError, ArithmeticError, AttributeError):
        return "unknown"
    return "unknown"


def _cheap_simplify(expr: sympy.Expr) -> sympy.Expr:
    return sympy.cancel(sympy.together(sympy.expand(expr)))
