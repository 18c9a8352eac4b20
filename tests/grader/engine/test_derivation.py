"""Derivations: each line equals the one before; the first wrong line is named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from grader import engine
from grader.engine import Status

EXERCISES = Path(__file__).resolve().parents[3] / "exercises"
STEPS = yaml.safe_load(
    (EXERCISES / "everyday-derivatives/02-activations/sigmoid-derivative-steps.yaml").read_text(
        encoding="utf-8"
    )
)
PRODUCT_RULE: dict[str, Any] = {
    "id": "derivation-product-rule",
    "title": "Product rule",
    "kind": "derivation",
    "prompt": "Differentiate x^2 exp(x).",
    "variables": {"x": {"domain": "real", "sample": [-3, 3]}},
    "start": "diff(x^2*exp(x), x)",
    "target": "x*(x+2)*exp(x)",
    "min_lines": 2,
}
FULL = """= -(1+exp(-x))^(-2) * diff(1+exp(-x), x)
= -(1+exp(-x))^(-2) * (-exp(-x))
= exp(-x)/(1+exp(-x))^2
= 1/(1+exp(-x)) * exp(-x)/(1+exp(-x))
= sigma(x) * (1 - sigma(x))"""

CASES: list[tuple[str, dict[str, Any], str, Status, str | None, str | None]] = [
    ("full", STEPS, FULL, Status.CORRECT, None, "all 5 lines follow"),
    (
        "short-without-equals",
        STEPS,
        "exp(-x)/(1+exp(-x))^2\n1/(1+exp(-x)) (1 - 1/(1+exp(-x)))\nσ(x)(1 − σ(x))",
        Status.CORRECT,
        None,
        None,
    ),
    (
        "blank-lines-ignored",
        STEPS,
        "\n= exp(-x)/(1+exp(-x))^2\n\n= sigma(x) exp(-x)/(1+exp(-x))\n\n= sigma(x)(1-sigma(x))\n",
        Status.CORRECT,
        None,
        None,
    ),
    (
        "lost-sign",
        STEPS,
        "= -(1+exp(-x))^(-2) * diff(1+exp(-x), x)\n= -exp(-x)/(1+exp(-x))^2\n= sigma(x)(1-sigma(x))",
        Status.INCORRECT,
        "known_mistake",
        "Line 2 does not follow from line 1",
    ),
    (
        "outer-only",
        STEPS,
        "= -1/(1+exp(-x))^2\n= exp(-x)/(1+exp(-x))^2\n= sigma(x)(1-sigma(x))",
        Status.INCORRECT,
        "known_mistake",
        "Line 1 does not follow from the start",
    ),
    (
        "doubled-line-3",
        STEPS,
        "= exp(-x)/(1+exp(-x))^2\n= sigma(x) exp(-x)/(1+exp(-x))\n= 2 sigma(x)(1-sigma(x))",
        Status.INCORRECT,
        "constant_factor",
        "Line 3 does not follow from line 2",
    ),
    (
        "offset-line-2",
        STEPS,
        "= exp(-x)/(1+exp(-x))^2\n= exp(-x)/(1+exp(-x))^2 + 1\n= sigma(x)(1-sigma(x)) + 1",
        Status.INCORRECT,
        "constant_offset",
        "Line 2 does not follow from line 1",
    ),
    (
        "too-short",
        STEPS,
        "= exp(-x)/(1+exp(-x))^2\n= sigma(x)(1-sigma(x))",
        Status.INCORRECT,
        None,
        "needs at least 3 lines",
    ),
    (
        "not-in-final-form",
        STEPS,
        "= -(1+exp(-x))^(-2) * diff(1+exp(-x), x)\n= exp(-x)/(1+exp(-x))^2\n= exp(x)/(1+exp(x))^2",
        Status.INCORRECT,
        None,
        "write it using sigma",
    ),
    (
        "still-a-derivative",
        STEPS,
        "= diff(sigma(x), x)\n= diff(1/(1+exp(-x)), x)\n= diff(sigma(x), x)",
        Status.INCORRECT,
        None,
        "still contains diff",
    ),
    (
        "unreadable-line",
        STEPS,
        "= exp(-x)/(1+exp(-x))^2\n= (1+exp(-x)\n= sigma(x)(1-sigma(x))",
        Status.INVALID,
        None,
        "Line 2: At character 11: expected ')'",
    ),
    (
        "unknown-name-line",
        STEPS,
        "= exp(-x)/(1+exp(-x))^2\n= sigma(x)(1-sigma(y))\n= sigma(x)(1-sigma(x))",
        Status.INVALID,
        None,
        "Line 2: At character 18: unknown name 'y'",
    ),
    ("empty", STEPS, "\n\n", Status.INVALID, None, "The derivation is empty"),
    (
        "product-rule",
        PRODUCT_RULE,
        "2x exp(x) + x^2 exp(x)\nx (x + 2) exp(x)",
        Status.CORRECT,
        None,
        None,
    ),
    (
        "product-rule-missing-term",
        PRODUCT_RULE,
        "2x exp(x)\nx (x + 2) exp(x)",
        Status.INCORRECT,
        "missing_factor",
        "Line 1 does not follow from the start",
    ),
    (
        "product-rule-wrong-factoring",
        PRODUCT_RULE,
        "2x exp(x) + x^2 exp(x)\nx (x + 1) exp(x)",
        Status.INCORRECT,
        None,
        "Line 2 does not follow from line 1",
    ),
    (
        # The bump is invisible at the 20 sample points; the dense check of every step finds it.
        "narrow-bump-in-a-middle-line",
        STEPS,
        "exp(-x)/(1+exp(-x))^2\n= exp(-x)/(1+exp(-x))^2 + exp(-x^2*1000)\n= sigma(x)(1-sigma(x))",
        Status.INCORRECT,
        None,
        "Line 2 does not follow from line 1",
    ),
    (
        "product-rule-not-target",
        PRODUCT_RULE,
        "2x exp(x) + x^2 exp(x)\n= diff(x^2 exp(x), x)",
        Status.INCORRECT,
        None,
        "still contains diff",
    ),
]


@pytest.mark.parametrize(
    ("case", "exercise", "answer", "status", "diagnosis", "text"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_it_grades_derivations(
    case: str,
    exercise: dict[str, Any],
    answer: str,
    status: Status,
    diagnosis: str | None,
    text: str | None,
) -> None:
    verdict = engine.grade(exercise, answer, seed=0)
    assert verdict.status == status, verdict.messages
    assert verdict.diagnosis == diagnosis, verdict.messages
    if text is not None:
        assert any(text in m.text for m in verdict.messages), verdict.messages


def test_the_first_wrong_line_gets_a_counterexample_against_the_line_before() -> None:
    answer = "= exp(-x)/(1+exp(-x))^2\n= sigma(x) exp(-x)/(1+exp(-x))\n= 2 sigma(x)(1-sigma(x))"
    verdict = engine.grade(STEPS, answer, seed=0)
    assert verdict.counterexample is not None
    assert verdict.counterexample["text"] == "At x = 0.5 line 3 gives 0.47, line 2 gives 0.235."


def test_the_first_wrong_line_is_marked_in_the_reading() -> None:
    answer = "= exp(-x)/(1+exp(-x))^2\n= sigma(x) exp(-x)/(1+exp(-x))\n= 2 sigma(x)(1-sigma(x))"
    verdict = engine.grade(STEPS, answer, seed=0)
    assert verdict.parsed is not None
    rows = verdict.parsed.removeprefix(r"\begin{aligned}").split(r" \\ ")
    assert [r"\htmlClass{wrong-step}" in row for row in rows] == [False, False, True]
    right = engine.grade(STEPS, "= exp(-x)/(1+exp(-x))^2\n= sigma(x)(1-sigma(x))", seed=0)
    assert right.parsed is not None and "wrong-step" not in right.parsed


def test_the_preview_shows_every_line() -> None:
    shown = engine.preview(STEPS, "= exp(-x)/(1+exp(-x))^2\n= sigma(x)(1-sigma(x))")
    assert shown["ok"] is True
    assert shown["latex"].startswith(r"\begin{aligned}&= \frac{\exp\left(-x\right)}")
    assert r" \\ &= \sigma\left(x\right) \cdot" in shown["latex"]


def test_the_preview_points_into_the_whole_answer() -> None:
    answer = "= exp(-x)\n= (1 + x"
    shown = engine.preview(STEPS, answer)
    assert shown["ok"] is False
    assert shown["error"]["position"] == len(answer)
    assert shown["error"]["text"].startswith("Line 2: ")


def test_the_variant_of_a_derivation_shows_start_and_target() -> None:
    drawn = engine.variant(STEPS, 0)
    assert drawn["reference"] == "diff(1/(1 + exp(-x)), x)\n= sigma(x)*(1 - sigma(x))"
    assert drawn["reference_latex"].startswith(r"\frac{d}{dx}")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"target": "sigma(x)^2"}, "target is not equal to start"),
        (
            {"mistakes": [{"answer": "exp(-x)/(1+exp(-x))^2", "feedback": "x"}]},
            "mistakes[0] equals the start",
        ),
        ({"final_must_use": ["tanh"]}, "final_must_use: the target itself does not use tanh"),
        ({"also_correct": ["sigma(x)(1-sigma(x))"]}, "also_correct[0] is graded incorrect"),
        ({"start": None}, "start: expected an expression"),
    ],
)
def test_derivation_validation_names_the_problem(change: dict[str, Any], problem: str) -> None:
    problems = engine.validate_spec({**STEPS, **change})
    assert any(problem in p.message for p in problems), problems


TYPED_THREE_TIMES = "sigma(x)*(1 - sigma(x))\n" * 3
MILESTONED = {
    **STEPS,
    "milestones": [
        {
            "form": "exp(-x)/(1+exp(-x))^2",
            "step": "you carry out the chain rule and cancel the two minus signs",
        }
    ],
}


@pytest.mark.parametrize(
    ("exercise", "answer", "says"),
    [
        (STEPS, TYPED_THREE_TIMES, "Line 1 is already the result"),
        (STEPS, TYPED_THREE_TIMES, "Line 2 repeats line 1"),
        (
            STEPS,
            "exp(-x)/(1+exp(-x))^2\n(1+exp(-x))^(-2)*exp(-x)\nsigma(x)*(1-sigma(x))",
            None,  # a rewrite to another form is a step
        ),
        (
            STEPS,
            "exp(-x)/(1+exp(-x))^2\nexp(-x) / (1 + exp(-x))**2\nsigma(x)*(1-sigma(x))",
            "Line 2 repeats line 1",
        ),
        (
            STEPS,
            "diff(1/(1+exp(-x)), x)\nexp(-x)/(1+exp(-x))^2\nsigma(x)*(1-sigma(x))",
            None,  # the start written out as line 1, then the work
        ),
        (
            STEPS,
            "diff(1/(1+exp(-x)), x)\nsigma(x)*(1-sigma(x))\n(1-sigma(x))*sigma(x)",
            "Line 2 is already the result",
        ),
        (
            STEPS,
            "exp(-x)/(1+exp(-x))^2\n1/(1+exp(-x))*(1-1/(1+exp(-x)))\n(1-sigma(x))*sigma(x)\n"
            "sigma(x)*(1-sigma(x))",
            "Line 4 repeats line 3",
        ),
        (
            MILESTONED,
            "-(1+exp(-x))^(-2)*(-exp(-x))\n1/(1+exp(-x))*(1-1/(1+exp(-x)))\nsigma(x)*(1-sigma(x))",
            None,  # the milestone's form after SymPy's normalisation: signs cancelled
        ),
        (
            MILESTONED,
            "sigma(x)*exp(-x)/(1+exp(-x))\n1/(1+exp(-x))*(1-1/(1+exp(-x)))\nsigma(x)*(1-sigma(x))",
            "Show the step where you carry out the chain rule",
        ),
    ],
)
def test_a_derivation_must_take_steps(
    exercise: dict[str, Any], answer: str, says: str | None
) -> None:
    verdict = engine.grade(exercise, answer, seed=0)
    texts = " ".join(m.text for m in verdict.messages)
    if says is None:
        assert verdict.status == Status.CORRECT, texts
    else:
        assert verdict.status == Status.INCORRECT and says in texts, texts
