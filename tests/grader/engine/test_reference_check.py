"""Reference answers checked against finite differences of the function they differentiate."""

from __future__ import annotations

import re
from typing import Any

import pytest

from grader import engine
from grader.engine.symbolic.reference_check import derivative_problems

MISMATCH = "central finite differences disagree"


def scalar(answer: str, derivative_of: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "reference-check-scalar",
        "title": "A derivative",
        "kind": "expression",
        "prompt": "Differentiate.",
        "variables": {"x": {"domain": "real"}, "y": {"domain": "positive"}},
        "parameters": {"a": {"integer": [2, 9]}},
        "helpers": {"sigma(z)": "1/(1+exp(-z))"},
        "answer": answer,
        "derivative_of": derivative_of,
        "wrt": "x",
        **extra,
    }


def matrix(answer: str, derivative_of: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "reference-check-matrix",
        "title": "A gradient",
        "kind": "matrix",
        "prompt": "Differentiate.",
        "variables": {
            "A": {"shape": ["m", "n"]},
            "B": {"shape": ["n", "n"]},
            "X": {"shape": ["n", "n"]},
            "x": {"shape": ["n", 1]},
            "b": {"shape": ["m", 1]},
        },
        "answer": answer,
        "derivative_of": derivative_of,
        "wrt": "x",
        **extra,
    }


SOUND = [
    scalar("a*sigma(a*x)*(1 - sigma(a*x))*y", "sigma(a*x)*y"),
    scalar("2*a*x/(1 + a*x^2)", "log(1 + a*x^2)"),
    scalar("-a^2*sin(a*x) + y", "sin(a*x) + y*x^2/2", derivative_order=2),
    scalar("1/y", "log(y)", wrt="y"),
    matrix("2*A^T*(A*x - b)", "(A*x - b)^T*(A*x - b)"),
    matrix("(B + B^T)*x", "x^T*B*x"),
    matrix("B + B^T", "x^T*B*x", derivative_order=2),
    matrix("transpose(inv(X)) - B^T", "log(abs(det(X))) - trace(B*X)", wrt="X"),
    matrix("A^T*B^T", "trace(A*X*B)", wrt="X", variables={n: {"shape": ["n", "n"]} for n in "ABX"}),
]


@pytest.mark.parametrize("spec", SOUND, ids=[s["answer"] for s in SOUND])
def test_it_accepts_a_reference_that_is_the_derivative(spec: dict[str, Any]) -> None:
    for seed in range(1, 6):
        assert derivative_problems(spec, seed) == []


WRONG = [
    scalar("2*a*sigma(a*x)*(1 - sigma(a*x))*y", "sigma(a*x)*y"),  # off by a factor 2
    scalar("a*x/(1 + a*x^2)", "log(1 + a*x^2)"),
    scalar("-a*sin(a*x) + y", "sin(a*x) + y*x^2/2", derivative_order=2),
    scalar("1.00001/y", "log(y)", wrt="y"),  # wrong in the sixth digit
    matrix("A^T*(A*x - b)", "(A*x - b)^T*(A*x - b)"),
    matrix("2*B*x", "x^T*B*x"),  # assumed symmetry
    matrix("B", "x^T*B*x", derivative_order=2),
    matrix("inv(X) - B^T", "log(abs(det(X))) - trace(B*X)", wrt="X"),  # layout: transpose
]


@pytest.mark.parametrize("spec", WRONG, ids=[s["answer"] for s in WRONG])
def test_it_reports_a_reference_that_is_not_the_derivative(spec: dict[str, Any]) -> None:
    (problem,) = derivative_problems(spec, 1)
    assert problem.key == "answer"
    assert MISMATCH in problem.summary
    order = "second derivative" if spec.get("derivative_order") == 2 else "derivative"
    assert f"the {order} of derivative_of with respect to {spec['wrt']}" in problem.summary


def test_it_names_the_point_where_a_scalar_reference_is_wrong() -> None:
    (problem,) = derivative_problems(scalar("4*x", "x^2"), 1)
    assert problem.detail.startswith("at x = ")
    assert "the reference gives" in problem.detail and "finite differences" in problem.detail


def test_it_names_the_sizes_where_a_matrix_reference_is_wrong() -> None:
    (problem,) = derivative_problems(matrix("4*B*x", "x^T*B*x"), 1)
    assert re.match(
        r"with random matrices \(m = [2-8], n = [2-8]\) they differ by 0\.", problem.detail
    )


@pytest.mark.parametrize(
    ("spec", "key", "message"),
    [
        (scalar("2*x", "x^2", wrt=None), "derivative_of", "name the variable"),
        (scalar("2*x", "x^2", wrt="z"), "derivative_of", "wrt z is not a variable"),
        (
            scalar("2*x", "x^2", variables={"x": {"domain": "integer"}}),
            "derivative_of",
            "integer variable",
        ),
        (scalar("2*x", "x^2", derivative_order=3), "derivative_order", "must be 1 or 2"),
        (scalar("2*x", "x^^2"), "derivative_of", "derivative_of"),
        (matrix("2*x", "x"), "derivative_of", "must be a scalar function"),
        (matrix("2*x", "x^T*x", wrt=None), "derivative_of", "wrt must name the matrix"),
        (matrix("B", "trace(X)", wrt="X", derivative_order=2), "derivative_of", "column vector"),
        (matrix("2*A", "x^T*x"), "answer", "the reference is m×n, but the gradient"),
        (scalar("1/(x - 9)", "log(x - 9)"), "derivative_of", "undefined around most sample points"),
    ],
)
def test_it_explains_a_derivative_it_cannot_check(
    spec: dict[str, Any], key: str, message: str
) -> None:
    if spec.get("wrt", "") is None:
        del spec["wrt"]
    (problem,) = derivative_problems(spec, 1)
    assert problem.key == key
    assert message in problem.summary


def test_it_takes_the_only_variable_when_wrt_is_left_out() -> None:
    spec = scalar("2*a*x", "a*x^2", variables={"x": {"domain": "real"}})
    del spec["wrt"]
    assert derivative_problems(spec, 1) == []
    assert derivative_problems({**spec, "answer": "a*x"}, 1)[0].summary.startswith(
        "the reference is not the derivative"
    )


def test_it_refuses_wrt_or_an_order_without_a_function() -> None:
    spec = scalar("2*x", "x^2", derivative_order=2)
    del spec["derivative_of"]
    assert [p.summary for p in derivative_problems(spec, 1)] == [
        "derivative_order is only used with derivative_of",
        "wrt is only used with derivative_of",
    ]


def test_it_leaves_exercises_without_a_function_alone() -> None:
    spec = scalar("2*x", "x^2")
    del spec["derivative_of"], spec["wrt"]
    assert derivative_problems(spec, 1) == []
    assert derivative_problems({"kind": "code"}, 1) == []


def test_the_spec_validator_accepts_the_fields_and_refuses_underscored_keys() -> None:
    spec = {**scalar("2*x", "x^2"), "mistakes": [], "hints": []}
    assert engine.validate_spec(spec) == []
    (draft,) = engine.validate_spec({**spec, "_draft": "notes"})
    assert draft.path == ("_draft",) and draft.message.startswith("unknown field '_draft'")
    derivation = {"kind": "derivation", "id": "d", "title": "t", "prompt": "p"}
    problems = engine.validate_spec({**derivation, "start": "x", "target": "x", "wrt": "x"})
    assert [p.path for p in problems] == [("wrt",)]
