"""Check that a reference answer is the derivative its exercise says it is, by finite differences.

An expression or matrix exercise may name the function its answer differentiates
(`derivative_of`, with `wrt` and optionally `derivative_order: 2`). The reference is then compared,
for one seed's variant, with central finite differences of that function: for expressions at the
grader's own sample points in 30-digit arithmetic, for matrices with the grader's random concrete
matrices, perturbing each entry of the `wrt` matrix in turn. Plain Python: no Django.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np

from grader.engine.symbolic.equivalence import format_pair, format_point, typical_magnitude
from grader.engine.symbolic.expressions import WORKING_DIGITS, Evaluator, ScalarBuilder
from grader.engine.symbolic.matrices import (
    Draw,
    MatrixCheck,
    Singular,
    evaluate,
    reference_check,
)
from grader.engine.symbolic.problem import SymbolicProblem, read_problem
from grader.engine.symbolic.scalar_check import ScalarCheck, is_real
from grader.engine.symbolic.shapes import ShapeError, infer_shape
from grader.engine.types import SpecError

# 30-digit arithmetic leaves central differences about 20 correct digits; float64 about 8.
SCALAR_RTOL = 1e-7
MATRIX_RTOL = 1e-5
SCALAR_STEP = {1: mpmath.mpf("1e-10"), 2: mpmath.mpf("1e-7")}
MATRIX_STEP = {1: 1e-6, 2: 1e-4}


@dataclass(frozen=True)
class ReferenceProblem:
    """One way the reference fails its check: the field to point at, what, and the first example.

    The summary is the same on every seed where it happens, so findings group across seeds.
    """

    key: str
    summary: str
    detail: str = ""


def derivative_problems(spec: dict[str, Any], seed: int) -> list[ReferenceProblem]:
    """Return how the spec's reference fails to be the derivative of `derivative_of` (seed's variant)."""
    kind = spec.get("kind")
    if kind not in ("expression", "matrix"):
        return []
    if spec.get("derivative_of") is None:
        # A matrix exercise's wrt also names the gradient in feedback, so it is never stray there.
        only_with = ("derivative_order", "wrt") if kind == "expression" else ("derivative_order",)
        stray = [k for k in only_with if k in spec]
        return [ReferenceProblem(k, f"{k} is only used with derivative_of") for k in stray]
    order = spec.get("derivative_order", 1)
    if order not in (1, 2) or isinstance(order, bool):
        return [ReferenceProblem("derivative_order", "derivative_order must be 1 or 2")]
    try:
        problem = read_problem(spec, seed)
        if kind == "matrix":
            return _matrix_problems(problem, spec, seed, order)
        return _scalar_problems(problem, spec, seed, order)
    except SpecError as exc:
        key = "derivative_of" if str(exc).startswith("derivative_of") else "answer"
        return [ReferenceProblem(key, str(exc))]


def _mismatch(order: int, wrt: str) -> str:
    what = "derivative" if order == 1 else "second derivative"
    return (
        f"the reference is not the {what} of derivative_of with respect to {wrt}: "
        "central finite differences disagree"
    )


# --- expressions ---------------------------------------------------------------------------------


def _scalar_wrt(problem: SymbolicProblem) -> str:
    if problem.wrt is not None:
        name = problem.wrt
    elif len(problem.scalars) == 1:
        (name,) = problem.scalars
    else:
        raise SpecError(
            "derivative_of: name the variable it is differentiated by with wrt "
            f"(one of {', '.join(problem.scalars)})",
            ("derivative_of",),
        )
    variable = problem.scalars.get(name)
    if variable is None:
        raise SpecError(
            f"derivative_of: wrt {name} is not a variable of the exercise", ("derivative_of",)
        )
    if variable.domain == "integer":
        raise SpecError(
            f"derivative_of: wrt {name} is an integer variable; it has no derivative",
            ("derivative_of",),
        )
    return name


def _scalar_problems(
    problem: SymbolicProblem, spec: dict[str, Any], seed: int, order: int
) -> list[ReferenceProblem]:
    wrt = _scalar_wrt(problem)
    builder = ScalarBuilder(problem)
    reference = builder.build(problem.parse_author(spec["answer"], "answer"))
    function_expr = builder.build(problem.parse_author(spec["derivative_of"], "derivative_of"))
    check = ScalarCheck(problem, builder, reference, seed)
    function = Evaluator(function_expr, check.symbols)
    samples = check.samples
    position = list(problem.scalars).index(wrt)
    compared: list[tuple[list[Any], Any, Any]] = []  # point, reference, finite difference
    for point, expected in zip(samples.points, samples.reference, strict=True):
        numeric = _scalar_difference(function, point, position, order)
        if numeric is not None:
            compared.append((point, expected, numeric))
    if len(compared) < max(3, len(samples.points) // 2):
        return [
            ReferenceProblem(
                "derivative_of",
                f"derivative_of is undefined around most sample points of {wrt}",
            )
        ]
    # Over the compared points only: samples.scale also counts points where derivative_of is undefined.
    scale = typical_magnitude([expected for _, expected, _ in compared])
    with mpmath.workdps(WORKING_DIGITS):
        for point, expected, numeric in compared:
            bound = SCALAR_RTOL * max(abs(expected), abs(numeric)) + 1e-12 * scale
            if abs(expected - numeric) > bound + mpmath.mpf("1e-20"):
                got, want = format_pair(expected, numeric)
                where = format_point(samples.names, point)
                return [
                    ReferenceProblem(
                        "answer",
                        _mismatch(order, wrt),
                        f"at {where} the reference gives {got}, finite differences {want}",
                    )
                ]
    return []


def _scalar_difference(function: Evaluator, point: list[Any], position: int, order: int) -> Any:
    """Return the central difference of the given order at point, or None where undefined."""
    with mpmath.workdps(WORKING_DIGITS):
        x = point[position]
        step = SCALAR_STEP[order] * max(1, abs(x))

        def at(offset: int) -> Any:
            moved = list(point)
            moved[position] = x + offset * step
            value = function.at(moved)
            return value if is_real(value) else None

        plus, minus = at(1), at(-1)
        if plus is None or minus is None:
            return None
        if order == 1:
            return (plus - minus) / (2 * step)
        middle = at(0)
        return None if middle is None else (plus - 2 * middle + minus) / step**2


# --- matrices ------------------------------------------------------------------------------------


def _matrix_problems(
    problem: SymbolicProblem, spec: dict[str, Any], seed: int, order: int
) -> list[ReferenceProblem]:
    wrt = problem.wrt
    if wrt is None or wrt not in problem.matrices:
        raise SpecError(
            "derivative_of: wrt must name the matrix variable it is differentiated by",
            ("derivative_of",),
        )
    matrix = problem.matrices[wrt]
    if order == 2 and matrix.cols != "1":
        raise SpecError(
            f"derivative_of: a second derivative needs a column vector, not {wrt}",
            ("derivative_of",),
        )
    check: MatrixCheck = reference_check(problem, spec, seed)
    reference = check.reference.info
    shape = (
        ("1", "1") if reference.shape is None else tuple(map(reference.sizes.find, reference.shape))
    )
    wanted = (matrix.rows, matrix.cols) if order == 1 else (matrix.rows, matrix.rows)
    if shape != wanted:
        what = "gradient" if order == 1 else "Hessian"
        return [
            ReferenceProblem(
                "answer",
                f"the reference is {reference.sizes.text(reference.shape)}, but the {what} of "
                f"derivative_of with respect to {wrt} is {wanted[0]}×{wanted[1]}",
            )
        ]
    tree = problem.parse_author(spec["derivative_of"], "derivative_of")
    try:
        info = infer_shape(tree, problem)
    except ShapeError as error:
        raise SpecError(f"derivative_of: {error}", ("derivative_of",)) from error
    if info.shape is not None and not (
        info.sizes.find(info.shape[0]) == "1" and info.sizes.find(info.shape[1]) == "1"
    ):
        raise SpecError(
            f"derivative_of: must be a scalar function, not {info.sizes.text(info.shape)}",
            ("derivative_of",),
        )

    def scalar_at(draw: Draw) -> float:
        with np.errstate(all="ignore"):
            value = float(np.asarray(evaluate(tree, info, draw), dtype=float).reshape(-1)[0])
        if not np.isfinite(value):
            raise Singular
        return value

    compared = 0
    for draw, expected in zip(check.draws, check.expected, strict=True):
        try:
            numeric = _matrix_difference(scalar_at, draw, wrt, order)
        except (ArithmeticError, ValueError):
            continue  # undefined near this draw (a singular matrix): skip it
        compared += 1
        want = np.atleast_2d(np.asarray(expected, dtype=float))
        difference = float(np.linalg.norm(want - numeric))
        size = max(float(np.linalg.norm(want)), float(np.linalg.norm(numeric)))
        if not difference <= MATRIX_RTOL * size + 1e-9:
            sizes = ", ".join(f"{name} = {value}" for name, value in draw.dims.items())
            return [
                ReferenceProblem(
                    "answer",
                    _mismatch(order, wrt),
                    f"with random matrices ({sizes}) they differ by "
                    f"{difference / size if size else difference:.3g} (relative, Frobenius norm)",
                )
            ]
    if compared < 3:
        return [
            ReferenceProblem(
                "derivative_of", "derivative_of is undefined around most random matrices"
            )
        ]
    return []


def _matrix_difference(
    scalar_at: Callable[[Draw], float], draw: Draw, wrt: str, order: int
) -> np.ndarray:
    """Return the gradient (order 1) or Hessian (order 2) of scalar_at in draw's wrt entry."""
    base = np.array(draw.values[wrt], dtype=float)

    def at(offsets: list[tuple[tuple[int, int], float]]) -> float:
        moved = base.copy()
        for index, offset in offsets:
            moved[index] += offset
        return scalar_at(Draw(draw.dims, {**draw.values, wrt: moved}))

    def step(index: tuple[int, int]) -> float:
        return MATRIX_STEP[order] * max(1.0, abs(float(base[index])))

    indices = list(np.ndindex(base.shape))
    if order == 1:
        gradient = np.zeros_like(base)
        for index in indices:
            h = step(index)
            wide = (at([(index, h)]) - at([(index, -h)])) / (2 * h)
            narrow = (at([(index, h / 2)]) - at([(index, -h / 2)])) / h
            # Richardson extrapolation cancels the h² error term, which near-singular draws
            # (log det of a matrix with condition number 1e4) make visible in float64.
            gradient[index] = (4 * narrow - wide) / 3
        return gradient
    hessian = np.zeros((len(indices), len(indices)))
    for i, first in enumerate(indices):
        for j, second in enumerate(indices):
            hi, hj = step(first), step(second)
            hessian[i, j] = (
                at([(first, hi), (second, hj)])
                - at([(first, hi), (second, -hj)])
                - at([(first, -hi), (second, hj)])
                + at([(first, -hi), (second, -hj)])
            ) / (4 * hi * hj)
    return hessian
