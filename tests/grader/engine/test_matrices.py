"""Matrix answers: shapes in words, values with random matrices at several sizes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from grader import engine
from grader.engine import Status
from grader.engine.symbolic.matrices import make_draws
from grader.engine.symbolic.problem import read_problem

EXERCISES = Path(__file__).resolve().parents[3] / "exercises"
CORRECT, INCORRECT, INVALID = Status.CORRECT, Status.INCORRECT, Status.INVALID


def load(relative: str) -> dict[str, Any]:
    return yaml.safe_load((EXERCISES / relative).read_text(encoding="utf-8"))


LEAST_SQUARES = load("matrix-calculus/02-least-squares-and-layouts/least-squares-gradient.yaml")
QUADRATIC = load("matrix-calculus/01-linear-and-quadratic-forms/quadratic-form-gradient.yaml")


def matrix_spec(answer: str, variables: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": f"matrix-{answer}",
        "title": "A matrix exercise",
        "kind": "matrix",
        "prompt": "Give the gradient.",
        "variables": variables,
        "answer": answer,
        **extra,
    }


QUADRATIC_GENERIC = {**QUADRATIC, "mistakes": []}
LEAST_SQUARES_GENERIC = {**LEAST_SQUARES, "mistakes": []}
LINEAR = matrix_spec("a", {"a": {"shape": ["n", 1]}, "x": {"shape": ["n", 1]}}, wrt="x")
SYMMETRIC = matrix_spec(
    "2*S*x", {"S": {"shape": ["n", "n"], "properties": ["symmetric"]}, "x": {"shape": ["n", 1]}}
)
TRACE_SQUARE = matrix_spec("A^T", {"A": {"shape": ["n", "n"]}, "X": {"shape": ["n", "n"]}}, wrt="X")
TRACE_RECTANGULAR = matrix_spec(
    "A^T", {"A": {"shape": ["m", "n"]}, "X": {"shape": ["n", "m"]}}, wrt="X"
)
LOG_DET = matrix_spec(
    "inv(X)^T", {"X": {"shape": ["n", "n"], "properties": ["positive_definite"]}}, wrt="X"
)
RIDGE = matrix_spec(
    "2*A^T*(A*x - b) + 2*lam*x",
    {
        "A": {"shape": ["m", "n"]},
        "x": {"shape": ["n", 1]},
        "b": {"shape": ["m", 1]},
        "lam": {"domain": "positive", "sample": [0.1, 2]},
    },
    wrt="x",
)
MAHALANOBIS = matrix_spec(
    "-inv(S)*(x - m)",
    {
        "S": {"shape": ["n", "n"], "properties": ["positive_definite"]},
        "x": {"shape": ["n", 1]},
        "m": {"shape": ["n", 1]},
    },
    wrt="x",
)
TRACE_SCALAR = matrix_spec("trace(A*B)", {"A": {"shape": ["m", "n"]}, "B": {"shape": ["n", "m"]}})

CASES: list[tuple[str, dict[str, Any], str, Status, str | None]] = [
    ("ls-reference", LEAST_SQUARES, "2*A^T*(A*x - b)", CORRECT, None),
    ("ls-implicit", LEAST_SQUARES, "2 A^T (A x - b)", CORRECT, None),
    ("ls-prime", LEAST_SQUARES, "2A'(A x - b)", CORRECT, None),
    ("ls-transpose-call", LEAST_SQUARES, "2 transpose(A) (A x - b)", CORRECT, None),
    ("ls-expanded", LEAST_SQUARES, "2A^T A x - 2A^T b", CORRECT, None),
    ("ls-transpose-of-row", LEAST_SQUARES, "2 ((A x - b)^T A)^T", CORRECT, None),
    ("ls-unicode-transpose", LEAST_SQUARES, "2Aᵀ(A x − b)", CORRECT, None),
    ("ls-known-half", LEAST_SQUARES, "A^T (A x - b)", INCORRECT, "known_mistake"),
    ("ls-known-sign", LEAST_SQUARES, "2 A^T (b - A x)", INCORRECT, "known_mistake"),
    ("ls-known-no-b", LEAST_SQUARES, "2 A^T A x", INCORRECT, "known_mistake"),
    ("ls-generic-half", LEAST_SQUARES_GENERIC, "A^T (A x - b)", INCORRECT, "constant_factor"),
    ("ls-generic-sign", LEAST_SQUARES_GENERIC, "-2 A^T (A x - b)", INCORRECT, "sign_error"),
    ("ls-generic-quad", LEAST_SQUARES_GENERIC, "4 A^T (A x - b)", INCORRECT, "constant_factor"),
    ("ls-row-vector", LEAST_SQUARES, "2 (A x - b)^T A", INVALID, "transpose"),
    ("ls-no-transpose", LEAST_SQUARES, "2 A (A x - b)", INVALID, None),
    ("ls-scalar", LEAST_SQUARES, "2 (A x - b)^T (A x - b)", INVALID, None),
    ("ls-joined-name", LEAST_SQUARES, "2A^T(Ax - b)", INVALID, None),
    ("ls-add-mismatch", LEAST_SQUARES, "A + x", INVALID, None),
    ("ls-divide-matrix", LEAST_SQUARES, "b / A", INVALID, None),
    ("ls-power-rectangular", LEAST_SQUARES, "A^2 x", INVALID, None),
    ("ls-inverse-rectangular", LEAST_SQUARES, "inv(A) b", INVALID, None),
    ("ls-unknown-name", LEAST_SQUARES, "2 A^T (A y - b)", INVALID, None),
    ("qf-reference", QUADRATIC, "(B + B^T) x", CORRECT, None),
    ("qf-split", QUADRATIC, "B x + B' x", CORRECT, None),
    ("qf-transpose-first", QUADRATIC, "(transpose(B) + B) x", CORRECT, None),
    ("qf-row-transposed", QUADRATIC, "(x^T (B + B^T))^T", CORRECT, None),
    ("qf-known-symmetry", QUADRATIC, "2 B x", INCORRECT, "known_mistake"),
    ("qf-known-one-term", QUADRATIC, "B x", INCORRECT, "known_mistake"),
    ("qf-generic-symmetry", QUADRATIC_GENERIC, "2 B x", INCORRECT, "assumed_symmetry"),
    ("qf-generic-symmetry-transpose", QUADRATIC_GENERIC, "2 B^T x", INCORRECT, "assumed_symmetry"),
    ("qf-generic-sign", QUADRATIC_GENERIC, "-(B + B^T) x", INCORRECT, "sign_error"),
    ("qf-generic-half", QUADRATIC_GENERIC, "(B + B^T) x / 2", INCORRECT, "constant_factor"),
    ("qf-generic-identity", QUADRATIC_GENERIC, "(B + I) x", INCORRECT, None),
    ("qf-row", QUADRATIC, "x^T (B + B^T)", INVALID, "transpose"),
    ("qf-outer", QUADRATIC, "x x^T", INVALID, None),
    ("qf-big-power", QUADRATIC, "B^100 x", INVALID, None),
    ("linear-reference", LINEAR, "a", CORRECT, None),
    ("linear-row", LINEAR, "a^T", INVALID, "transpose"),
    ("linear-x", LINEAR, "x", INCORRECT, None),
    ("symmetric-short", SYMMETRIC, "2 S x", CORRECT, None),
    ("symmetric-long", SYMMETRIC, "(S + S^T) x", CORRECT, None),
    ("symmetric-half", SYMMETRIC, "S x", INCORRECT, "constant_factor"),
    ("trace-square", TRACE_SQUARE, "A^T", CORRECT, None),
    ("trace-square-layout", TRACE_SQUARE, "A", INCORRECT, "transpose"),
    ("trace-rectangular", TRACE_RECTANGULAR, "A'", CORRECT, None),
    ("trace-rectangular-layout", TRACE_RECTANGULAR, "A", INVALID, "transpose"),
    ("logdet-inverse", LOG_DET, "inv(X)", CORRECT, None),
    ("logdet-power", LOG_DET, "X^-1", CORRECT, None),
    ("logdet-transposed", LOG_DET, "inv(X')", CORRECT, None),
    ("logdet-matrix", LOG_DET, "X", INCORRECT, None),
    ("ridge-reference", RIDGE, "2 A^T (A x - b) + 2 lam x", CORRECT, None),
    ("ridge-identity", RIDGE, "2 (A^T A + lam I) x - 2 A^T b", CORRECT, None),
    ("ridge-no-penalty", RIDGE, "2 A^T (A x - b)", INCORRECT, None),
    ("ridge-identity-size", RIDGE, "2 A^T (A x - b) + I", INVALID, None),
    ("mahalanobis", MAHALANOBIS, "-inv(S) (x - m)", CORRECT, None),
    ("mahalanobis-sign", MAHALANOBIS, "S^-1 (x - m)", INCORRECT, "sign_error"),
    ("mahalanobis-no-inverse", MAHALANOBIS, "-S (x - m)", INCORRECT, None),
    ("trace-scalar", TRACE_SCALAR, "trace(B A)", CORRECT, None),
    ("trace-scalar-sign", TRACE_SCALAR, "-tr(A B)", INCORRECT, "sign_error"),
    ("trace-scalar-nonsquare", TRACE_SCALAR, "trace(A)", INVALID, None),
    # Values that overflow or divide by zero are undefined, never "equal within tolerance".
    ("ls-divided-by-zero", LEAST_SQUARES, "2 A^T (A x - b)/0", INCORRECT, None),
    ("ls-overflow", LEAST_SQUARES, "exp(800) x", INCORRECT, None),
    ("ls-log-zero", LEAST_SQUARES, "log(0) x", INCORRECT, None),
    ("ls-zero-over-zero", LEAST_SQUARES, "0/0 x", INCORRECT, None),
    ("ls-reciprocal-of-zero", LEAST_SQUARES, "1/(x^T x - x^T x) x", INCORRECT, None),
    ("ls-identity-without-size", LEAST_SQUARES, "trace(I) x", INVALID, None),
]


@pytest.mark.parametrize(
    ("case", "exercise", "answer", "status", "diagnosis"), CASES, ids=[c[0] for c in CASES]
)
def test_it_grades_matrix_answers(
    case: str, exercise: dict[str, Any], answer: str, status: Status, diagnosis: str | None
) -> None:
    verdict = engine.grade(exercise, answer, seed=0)
    assert verdict.status == status, verdict.messages
    if status != CORRECT:
        assert verdict.diagnosis == diagnosis, verdict.messages


def test_a_shape_error_is_reported_in_words() -> None:
    verdict = engine.grade(LEAST_SQUARES, "2 (A x - b)^T A", seed=0)
    assert verdict.messages[0].code == "wrong_shape"
    assert verdict.messages[0].text == (
        "Your answer is 1×n; the gradient with respect to x is n×1 — transpose?"
    )
    assert verdict.parsed is not None
    assert not verdict.counts_as_attempt


def test_a_product_that_does_not_fit_names_both_sides() -> None:
    verdict = engine.grade(LEAST_SQUARES, "2 A (A x - b)", seed=0)
    assert "cannot multiply 2*A (m×n) by A*x - b (m×1): the inner sizes n and m differ" in (
        verdict.messages[0].text
    )


def test_the_preview_shows_shape_errors_as_you_type() -> None:
    shown = engine.preview(LEAST_SQUARES, "x A")
    assert shown["ok"] is False
    assert shown["latex"] == r"x \cdot A"
    assert "cannot multiply x (n×1) by A (m×n)" in shown["error"]["text"]
    assert shown["error"]["position"] == 2


def test_the_preview_reads_transposes() -> None:
    shown = engine.preview(LEAST_SQUARES, "2A'(A x - b)")
    assert shown == {
        "ok": True,
        "latex": r"2 \cdot A^{\top} \cdot \left(A \cdot x - b\right)",
        "error": None,
    }


def test_assumed_symmetry_names_the_matrix() -> None:
    verdict = engine.grade(QUADRATIC_GENERIC, "2 B x", seed=3)
    assert any("if B were symmetric" in m.text for m in verdict.messages)


def test_a_wrong_matrix_answer_gets_a_counterexample() -> None:
    verdict = engine.grade(LEAST_SQUARES, "2 A^T A x", seed=0)
    assert verdict.counterexample is not None
    sizes = verdict.counterexample["sizes"]
    assert set(sizes) == {"m", "n"} and sizes["m"] != sizes["n"]
    assert all(2 <= size <= 8 for size in sizes.values())
    assert f"(m = {sizes['m']}, n = {sizes['n']})" in verdict.messages[-1].text
    assert verdict.counterexample["relative_difference"] > 0.01


TALL = matrix_spec(
    "inv(A^T*A)*A^T*b",
    {"A": {"shape": ["p", "n"]}, "b": {"shape": ["p", 1]}},
    increasing_sizes=["n", "p"],
)


def test_increasing_sizes_keep_a_tall_matrix_tall_in_every_draw() -> None:
    problem = read_problem(TALL, 0)
    for seed in range(10):
        assert all(d.dims["p"] > d.dims["n"] for d in make_draws(problem, seed))
    assert engine.grade(TALL, "inv(A' A) A' b", seed=3).status == Status.CORRECT


def test_increasing_sizes_must_name_sizes() -> None:
    verdict = engine.grade({**TALL, "increasing_sizes": ["n", "q"]}, "b", seed=0)
    assert verdict.status == Status.ERROR
    assert "increasing_sizes: q is not a size of any matrix" in verdict.messages[0].text


def test_the_sizes_change_with_the_seed_and_differ_within_a_draw() -> None:
    # An answer tailored to a few fixed sizes (a factor vanishing at n = 2, 3, 4) must not pass.
    problem = read_problem(QUADRATIC, 0)
    seen = set()
    for seed in range(10):
        draws = make_draws(problem, seed)
        seen |= {draw.dims["n"] for draw in draws}
        assert len({draw.dims["n"] for draw in draws}) == 3  # three trials, three sizes of n
    assert len(seen) >= 5
    tailored = "(B+B^T)x + (trace(B inv(B))-2)(trace(B inv(B))-3)(trace(B inv(B))-4) x"
    verdicts = [engine.grade(QUADRATIC, tailored, seed=seed).status for seed in range(5)]
    assert Status.CORRECT not in verdicts


def test_matrix_validation_catches_a_bad_reference() -> None:
    broken = {**LEAST_SQUARES, "answer": "2 A (A x - b)"}
    problems = engine.validate_spec(broken)
    assert any("answer: cannot multiply 2*A (m×n)" in p.message for p in problems), problems


def test_matrix_validation_catches_a_mistake_equal_to_the_reference() -> None:
    broken = {**QUADRATIC, "mistakes": [{"answer": "B^T x + B x", "feedback": "no"}]}
    assert any("equals the reference" in p.message for p in engine.validate_spec(broken))
