"""Matrix answers: shapes checked in symbols (m×n), values checked with random NumPy matrices.

Shapes are checked first (grader.engine.symbolic.shapes); then reference and answer are evaluated
with random concrete matrices at several distinct sizes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.engine.symbolic.diagnosis import Diagnosis, describe_factor, diagnosis
from grader.engine.symbolic.parser import parse_expression
from grader.engine.symbolic.printing import to_latex
from grader.engine.symbolic.problem import SymbolicProblem
from grader.engine.symbolic.shapes import (
    ShapeError,
    ShapeInfo,
    infer_shape,
    same_shape,
    shape_message,
)
from grader.engine.symbolic.syntax import BinOp, Name, Neg, Node, Num, ParseError, Transpose
from grader.engine.symbolic.verdicts import (
    correct,
    incorrect,
    invalid,
    parse_error_verdict,
    undetermined,
)
from grader.engine.types import (
    ASSUMED_SYMMETRY,
    CONSTANT_FACTOR,
    KNOWN_MISTAKE,
    SIGN_ERROR,
    TRANSPOSE,
    WRONG_SHAPE,
    SpecError,
    Verdict,
    gettext_noop,
    message,
    phrase,
    render_phrase,
)

SIZE_TRIALS = 3  # sets of sizes per check, each with DRAWS_PER_TRIAL random draws
MIN_SIZE, MAX_SIZE = 2, 8
DRAWS_PER_TRIAL = 2
NUMPY_FUNCTIONS: dict[str, Callable[..., Any]] = {  # one for each of shapes.SCALAR_FUNCTIONS
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "sin": np.sin,
    "cos": np.cos,
    "tanh": np.tanh,
    "abs": np.abs,
}


# --- numeric evaluation ------------------------------------------------------------------------


class Singular(ArithmeticError):
    """A random draw made a matrix singular; draw again."""


@dataclass
class Draw:
    dims: dict[str, int]
    values: dict[str, Any]


def _size_trials(problem: SymbolicProblem, rng: np.random.Generator) -> list[dict[str, int]]:
    """Return SIZE_TRIALS assignments of sizes to the size names, drawn from the seed.

    Sizes are dealt from one shuffled pool: within a trial every name gets its own size (an m
    confused with an n shows), and with up to two names no size repeats across trials either.
    Across seeds the sizes change, so no answer can be tailored to a fixed few.
    """
    names = problem.size_names
    pool = rng.permutation(np.arange(MIN_SIZE, max(MAX_SIZE, MIN_SIZE + len(names)) + 1))
    trials = []
    for trial in range(SIZE_TRIALS):
        dims = {
            name: int(pool[(trial * len(names) + i) % len(pool)]) for i, name in enumerate(names)
        }
        ordered = sorted(dims[name] for name in problem.increasing_sizes)
        dims.update(zip(problem.increasing_sizes, ordered, strict=True))
        trials.append(dims)
    return trials


def _resolve(dim: str, dims: dict[str, int]) -> int:
    if dim.isdigit():
        return int(dim)
    return dims[dim]


def make_draws(problem: SymbolicProblem, seed: int, *, symmetrise: str | None = None) -> list[Draw]:
    """Return random concrete values for every variable at several distinct sizes."""
    digest = hashlib.sha256(f"chainrule-matrices:{seed}:{problem.exercise_id}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
    sizes = np.random.default_rng(int.from_bytes(digest[8:16], "big"))
    draws = []
    for dims in _size_trials(problem, sizes):
        for _ in range(DRAWS_PER_TRIAL):
            values: dict[str, Any] = {}
            for name, matrix in problem.matrices.items():
                rows, cols = _resolve(matrix.rows, dims), _resolve(matrix.cols, dims)
                value = rng.standard_normal((rows, cols))
                if "positive_definite" in matrix.properties:
                    value = value @ value.T + rows * np.eye(rows)
                elif "symmetric" in matrix.properties or name == symmetrise:
                    value = (value + value.T) / 2
                values[name] = value
            for name, variable in problem.scalars.items():
                if variable.domain == "integer":
                    values[name] = float(rng.integers(int(variable.low), int(variable.high) + 1))
                else:
                    values[name] = float(rng.uniform(variable.low, variable.high))
            for name, parameter in problem.parameters.items():
                values[name] = float(parameter)
            draws.append(Draw(dims, values))
    return draws


def evaluate(tree: Node, info: ShapeInfo, draw: Draw) -> Any:
    """Return the value of a matrix expression for one draw (a 2-D array or a float)."""
    return _Evaluation(info, draw).value(tree)


class _Evaluation:
    def __init__(self, info: ShapeInfo, draw: Draw) -> None:
        self.info = info
        self.draw = draw

    def size(self, node: Node) -> int:
        dim = self.info.sizes.find(self.info.identity_sizes[id(node)])
        if dim.startswith("?"):
            raise ShapeError("cannot tell the size of the identity I here", node.pos)
        return _resolve(dim, self.draw.dims)

    def value(self, node: Node) -> Any:
        if isinstance(node, Num):
            return float(node.text)
        if isinstance(node, Name):
            if id(node) in self.info.identity_sizes:
                return np.eye(self.size(node))
            if node.name == "pi":
                return float(np.pi)
            if node.name == "e" and node.name not in self.draw.values:
                return float(np.e)
            return self.draw.values[node.name]
        if isinstance(node, Neg):
            return -self.value(node.operand)
        if isinstance(node, Transpose):
            inner = self.value(node.operand)
            return inner.T if isinstance(inner, np.ndarray) else inner
        if isinstance(node, BinOp):
            return self.binary(node)
        args = [self.value(a) for a in node.args]
        if node.func == "transpose":
            return args[0].T if isinstance(args[0], np.ndarray) else args[0]
        if node.func == "inv":
            return _inverse(args[0])
        if node.func == "trace":
            return float(np.trace(args[0])) if isinstance(args[0], np.ndarray) else args[0]
        if node.func == "det":
            return float(np.linalg.det(args[0])) if isinstance(args[0], np.ndarray) else args[0]
        return NUMPY_FUNCTIONS[node.func](*[_scalar(a) for a in args])

    def binary(self, node: BinOp) -> Any:
        left = self.value(node.left)
        right = self.value(node.right)
        if node.op == "+":
            return _broadcast_one(left, right, lambda a, b: a + b)
        if node.op == "-":
            return _broadcast_one(left, right, lambda a, b: a - b)
        if node.op == "/":
            return left / _scalar(right)
        if node.op == "^":
            if not isinstance(left, np.ndarray) or left.shape == (1, 1):
                return _scalar(left) ** right
            power = int(round(float(right)))
            return _inverse(left) if power == -1 else np.linalg.matrix_power(left, power)
        if isinstance(left, np.ndarray) and isinstance(right, np.ndarray):
            if left.shape == (1, 1) and right.shape[0] != 1:
                return float(left[0, 0]) * right
            if right.shape == (1, 1) and left.shape[1] != 1:
                return left * float(right[0, 0])
            return left @ right
        return left * right


def _scalar(value: Any) -> float:
    if isinstance(value, np.ndarray):
        return float(value.reshape(-1)[0])
    return float(value)


def _broadcast_one(left: Any, right: Any, combine: Any) -> Any:
    if isinstance(left, np.ndarray) and isinstance(right, np.ndarray):
        return combine(left, right)
    if isinstance(left, np.ndarray) or isinstance(right, np.ndarray):
        return combine(np.asarray(left, dtype=float), np.asarray(right, dtype=float))
    return combine(left, right)


def _inverse(matrix: Any) -> Any:
    if not isinstance(matrix, np.ndarray):
        if matrix == 0:
            raise Singular
        return 1 / matrix
    if np.linalg.cond(matrix) > 1e10:
        raise Singular
    return np.linalg.inv(matrix)


def _as_array(value: Any) -> np.ndarray:
    return np.atleast_2d(np.asarray(value, dtype=float))


# --- grading -----------------------------------------------------------------------------------


@dataclass
class MatrixExpression:
    tree: Node
    info: ShapeInfo


class MatrixCheck:
    """A reference matrix expression evaluated over seeded draws, and comparisons against it."""

    def __init__(self, problem: SymbolicProblem, reference: Node, seed: int) -> None:
        self.problem = problem
        self.seed = seed
        self.reference = MatrixExpression(reference, infer_shape(reference, problem))
        self.draws = [d for d in make_draws(problem, seed) if self._usable(d)]
        self.expected = [evaluate(reference, self.reference.info, d) for d in self.draws]

    def _usable(self, draw: Draw) -> bool:
        try:
            value = evaluate(self.reference.tree, self.reference.info, draw)
        except (ArithmeticError, ValueError):
            return False
        return bool(np.all(np.isfinite(value)))

    def values(
        self, expression: MatrixExpression, draws: list[Draw] | None = None
    ) -> list[Any] | None:
        """Return an expression's values over the draws, or None if any is undefined."""
        results = []
        for draw in draws if draws is not None else self.draws:
            try:
                with np.errstate(all="ignore"):
                    value = _as_array(evaluate(expression.tree, expression.info, draw))
            except ShapeError:
                raise  # a size that cannot be told (trace(I)) is a format error, not undefined
            except (ArithmeticError, ValueError):  # singular, 1/0: undefined here
                return None
            if not np.all(np.isfinite(value)):
                return None  # it overflowed or divided by zero; the reference never does
            results.append(value)
        return results

    def agrees(self, got: list[Any] | None, expected: list[Any] | None = None) -> bool:
        """Say whether values match the reference's (or the given expected ones) in every draw."""
        expected = self.expected if expected is None else expected
        if got is None:
            return False
        for value, want in zip(got, expected, strict=True):
            want = _as_array(want)
            if value.shape != want.shape:
                return False
            scale = max(float(np.linalg.norm(want)), float(np.linalg.norm(value)))
            if not float(np.linalg.norm(value - want)) <= self.problem.rtol * scale + 1e-12:
                return False
        return True

    def diagnose(self, answer: MatrixExpression, got: list[Any]) -> Diagnosis | None:
        """Return the generic diagnosis of a wrong matrix answer."""
        expected = [_as_array(e) for e in self.expected]
        if self.agrees(got, [-e for e in expected]):
            return diagnosis(
                SIGN_ERROR, gettext_noop("Your answer has the wrong sign: check each minus sign.")
            )
        factor = _common_factor(got, expected)
        if factor is not None and self.agrees(got, [factor * e for e in expected]):
            return diagnosis(
                CONSTANT_FACTOR,
                gettext_noop("Your answer is off by a constant factor (%(factor)s)."),
                factor=describe_factor(complex(factor)),
            )
        if all(e.shape[0] == e.shape[1] for e in expected) and self.agrees(
            got, [e.T for e in expected]
        ):
            return diagnosis(
                TRANSPOSE,
                gettext_noop(
                    "Your answer is the transpose of the expected one: check the layout "
                    "(numerator or denominator) and where each transpose goes."
                ),
            )
        for name, matrix in self.problem.matrices.items():
            if matrix.rows != matrix.cols or matrix.properties:
                continue
            draws = make_draws(self.problem, self.seed, symmetrise=name)
            try:
                expected_sym = [
                    evaluate(self.reference.tree, self.reference.info, d) for d in draws
                ]
            except Singular:
                continue
            got_sym = self.values(answer, draws)
            if self.agrees(got_sym, expected_sym):
                return diagnosis(
                    ASSUMED_SYMMETRY,
                    gettext_noop(
                        "Your answer would be right if %(name)s were symmetric, but %(name)s is a "
                        "general matrix: %(name)s and %(name)sᵀ differ."
                    ),
                    name=name,
                )
        return None


def _common_factor(got: list[Any], expected: list[Any]) -> float | None:
    numerator = sum(
        float(np.sum(g * e)) for g, e in zip(got, expected, strict=False) if g.shape == e.shape
    )
    denominator = sum(float(np.sum(e * e)) for e in expected)
    if denominator == 0:
        return None
    factor = numerator / denominator
    return factor if abs(factor) > 1e-12 and abs(factor - 1) > 1e-9 else None


def grade_matrix(
    problem: SymbolicProblem, spec: dict[str, Any], answer: str, *, seed: int
) -> Verdict:
    """Judge a matrix expression answer against the reference."""
    text = answer.strip()
    try:
        tree = parse_expression(text, problem.vocab)
    except ParseError as error:
        return parse_error_verdict(error, text)
    parsed = to_latex(tree)
    check = reference_check(problem, spec, seed)
    try:
        info = infer_shape(tree, problem)
    except ShapeError as error:
        return invalid("shape_mismatch", error.describe_words(), parsed)
    if not same_shape(info, check.reference.info):
        words, shape_diagnosis = shape_message(problem, info, check.reference.info)
        # A readable answer of the wrong shape: not "could not be read" (grader.rendering).
        verdict = invalid(WRONG_SHAPE, words, parsed)
        verdict.diagnosis = shape_diagnosis
        return verdict
    if len(check.draws) < 3:
        return undetermined(parsed)
    expression = MatrixExpression(tree, info)
    try:
        got = check.values(expression)
    except ShapeError as error:
        return invalid("shape_mismatch", error.describe_words(), parsed)
    if check.agrees(got):
        return correct(parsed)
    found: Diagnosis | None = None
    for index, mistake in enumerate(spec.get("mistakes") or []):
        path = ("mistakes", index, "answer")
        mistake_tree = problem.parse_author(mistake["answer"], *path)
        try:
            mistake_info = infer_shape(mistake_tree, problem)
        except ShapeError as error:
            raise SpecError(f"mistakes[{index}].answer: {error}", path) from error
        mistake_values = check.values(MatrixExpression(mistake_tree, mistake_info))
        if mistake_values is not None and got is not None and check.agrees(got, mistake_values):
            found = Diagnosis(
                KNOWN_MISTAKE, str(mistake["feedback"]), source=("mistakes", index, "feedback")
            )
            break
    if found is None and got is not None:
        found = check.diagnose(expression, got)
    return incorrect(
        message("incorrect", gettext_noop("Not equal to the expected answer.")),
        diagnosis=found,
        counterexample=_matrix_counterexample(check, got) or None,
        parsed=parsed,
    )


def _matrix_counterexample(check: MatrixCheck, got: list[Any] | None) -> dict[str, Any] | None:
    if not check.draws:
        return None
    draw = check.draws[0]
    sizes = ", ".join(f"{name} = {value}" for name, value in draw.dims.items())
    if got is None:
        words = phrase(
            gettext_noop("With random matrices (%(sizes)s) your answer is undefined."), sizes=sizes
        )
        return {"sizes": draw.dims, "text": render_phrase(words), "words": words}
    difference = float(np.linalg.norm(got[0] - _as_array(check.expected[0])))
    scale = float(np.linalg.norm(_as_array(check.expected[0])))
    words = phrase(
        gettext_noop(
            "With random matrices (%(sizes)s) your answer differs from the expected one by "
            "%(difference)s (relative, Frobenius norm)."
        ),
        sizes=sizes,
        difference=f"{difference / scale if scale else difference:.3g}",
    )
    return {
        "sizes": draw.dims,
        "relative_difference": difference / scale if scale else difference,
        "text": render_phrase(words),
        "words": words,
    }


def reference_check(problem: SymbolicProblem, spec: dict[str, Any], seed: int) -> MatrixCheck:
    """Return the MatrixCheck of the spec's reference answer; a bad reference is a SpecError."""
    reference = problem.parse_author(spec.get("answer"), "answer")
    try:
        return MatrixCheck(problem, reference, seed)
    except ShapeError as error:
        raise SpecError(f"answer: {error}", ("answer",)) from error
