"""How typed answers are read: the live preview and the parser's allow-list and limits."""

from __future__ import annotations

import time
from typing import Any

import pytest

from grader import engine
from grader.engine.symbolic.parser import parse_expression
from grader.engine.symbolic.printing import to_latex, to_text
from grader.engine.symbolic.syntax import ParseError
from grader.engine.symbolic.vocabulary import Vocabulary

EXERCISE: dict[str, Any] = {
    "id": "parse-tests",
    "title": "Reading answers",
    "kind": "expression",
    "prompt": "Anything.",
    "variables": {
        "x": {"domain": "real"},
        "y": {"domain": "real"},
        "n": {"domain": "integer", "sample": [2, 9]},
        "sigma": {"domain": "positive"},
        "mu": {"domain": "real"},
        "S1": {"domain": "real"},
    },
    "helpers": {"softplus(t)": "log(1 + exp(t))"},
    "answer": "x",
}


@pytest.mark.parametrize(
    ("answer", "latex"),
    [
        ("2x", r"2 \cdot x"),
        ("2(x+1)", r"2 \cdot \left(x + 1\right)"),
        ("x y", r"x \cdot y"),
        ("2x cos(x^2)", r"2 \cdot x \cdot \cos\left({x}^{2}\right)"),
        ("x**2", r"{x}^{2}"),
        ("x^-1", r"{x}^{-1}"),
        ("-x^2", r"-{x}^{2}"),
        ("1/2x", r"\frac{1}{2} \cdot x"),
        ("1/(2x)", r"\frac{1}{2 \cdot x}"),
        ("σ^2 + μ", r"{\sigma}^{2} + \mu"),
        ("sigma^2 + mu", r"{\sigma}^{2} + \mu"),
        ("µ + σ", r"\mu + \sigma"),  # the micro sign is a mu
        ("σ S1", r"\sigma \cdot S_{1}"),
        ("S1/n", r"\frac{S_{1}}{n}"),
        ("|x - y|", r"\left|x - y\right|"),
        ("e^-x", r"{e}^{-x}"),
        ("ln(x)", r"\log\left(x\right)"),
        ("softplus(x)", r"\operatorname{softplus}\left(x\right)"),
        ("Phi(x) erf(x)", r"\Phi\left(x\right) \cdot \operatorname{erf}\left(x\right)"),
        ("max(x, 0)", r"\max\left(x, 0\right)"),
        ("x − y·2", r"x - y \cdot 2"),
        ("2.5e-3 x", r"2.5 \cdot 10^{-3} \cdot x"),
        ("x - (y - 1)", r"x - \left(y - 1\right)"),
        ("sqrt(x)^3", r"{\sqrt{x}}^{3}"),
    ],
)
def test_preview_shows_the_reading_with_explicit_multiplication(answer: str, latex: str) -> None:
    assert engine.preview(EXERCISE, answer) == {"ok": True, "latex": latex, "error": None}


@pytest.mark.parametrize(
    ("answer", "position", "text"),
    [
        ("xy", 0, "unknown name 'xy' — did you mean x*y?"),
        ("2 + ny", 4, "unknown name 'ny' — did you mean n*y?"),
        ("xcos(x)", 0, "unknown name 'xcos' — did you mean x*cos(…)?"),
        ("sigm", 0, "unknown name 'sigm' — did you mean sigma?"),
        # σ2 is one name, as sigma2 is: never silently σ·2.
        ("x + σ2", 4, "unknown name 'sigma2' — did you mean sigma*2?"),
        ("cos(x", 5, "expected ',' or ')' to close the call of cos"),
        ("(x + 1", 6, "expected ')' to close the '(' at character 1"),
        ("x + ", 3, "expected a number, a name or '(' but the input ended"),
        ("x)", 1, "this ')' has no matching '('"),
        ("x $ y", 2, "the character '$' (dollar sign) is not understood"),
        ("inv(x)", 0, "the function 'inv' is not allowed here"),
        ("2 cos", 2, "'cos' is a function: write cos(…)"),
        ("x = 1", 2, "'=' is not allowed"),
        ("x ≤ 1", 2, "(less-than or equal to) is not understood: an answer is an expression"),
        ("x^", 2, "expected an exponent after '^'"),
        ("cos(x, y)", 0, "cos takes 1 argument, not 2"),
        ("x'", 1, "the transpose mark ' is only for matrix answers"),
    ],
)
def test_preview_points_at_the_error(answer: str, position: int, text: str) -> None:
    shown = engine.preview(EXERCISE, answer)
    assert shown["ok"] is False and shown["latex"] is None
    assert shown["error"]["position"] == position
    assert text in shown["error"]["text"]


def test_preview_of_blank_input_is_quiet() -> None:
    assert engine.preview(EXERCISE, "   ") == {"ok": False, "latex": None, "error": None}


def test_preview_positions_count_leading_spaces() -> None:
    shown = engine.preview(EXERCISE, "   xy")
    assert shown["error"]["position"] == 3


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        ("10^10^10", "the exponent is too large"),
        ("(x+1)^10000", "the exponent is too large"),
        ("x^(10^3)", "the exponent is too large"),
        ("9**9**9**9", "the exponent is too large"),
        ("2^999", "the exponent is too large"),
        ("10^100 * 10^100^2", "the exponent is too large"),
        ("1e400", "too large or too small"),
        ("1" * 40, "the number is too long"),
        ("(" * 60 + "x" + ")" * 60, "nested too deeply"),
        ("-" * 60 + "x", "nested too deeply"),
        ("x" * 100_000, "too long"),
        ("+".join(["x"] * 600), "the expression is too large"),
        ("factorial(10^9)", "factorial of a number this large is refused"),
        (
            "__import__('os').system('touch /tmp/pwned')",
            "the character '.' (full stop) is not understood",
        ),
        ("exec('import os')", "unknown name 'exec'"),
        ("eval(x)", "unknown name 'eval'"),
        ("lambda: 0", "the character ':' (colon) is not understood"),
        ("x.__class__", "the character '.' (full stop) is not understood"),
        ("globals()", "unknown name 'globals'"),
        ("x; import os", "the character ';' (semicolon) is not understood"),
        ("[x for x in ()]", "unknown name 'for'"),
        ("x\x00", "is not understood"),
    ],
)
def test_hostile_input_is_refused_quickly(answer: str, text: str) -> None:
    started = time.perf_counter()
    shown = engine.preview(EXERCISE, answer)
    assert time.perf_counter() - started < 0.5
    assert shown["ok"] is False
    assert text in shown["error"]["text"]


def test_factorial_of_a_huge_number_is_refused_even_when_offered() -> None:
    exercise = EXERCISE
    shown = engine.preview(exercise, "factorial(10^9)")
    assert "factorial of a number this large is refused" in shown["error"]["text"]
    assert engine.preview(exercise, "factorial(n)")["ok"]


def test_nested_helpers_cannot_blow_up() -> None:
    vocab_spec = {**EXERCISE, "helpers": {"twice(t)": "t + t*t"}}
    answer = "twice(" * 15 + "x" + ")" * 15
    shown = engine.preview(vocab_spec, answer)
    assert shown["ok"] is False
    assert "too large once helper functions are expanded" in shown["error"]["text"]


@pytest.mark.parametrize(
    "answer",
    ["2x cos(x^2)", "-(x+1)^2/(y-3)", "x - (y - (x - 1))", "exp(-x^2/2)/sqrt(2 pi)", "x^(-1)"],
)
def test_plain_text_reads_back_to_the_same_tree(answer: str) -> None:
    vocab = Vocabulary(variables=frozenset({"x", "y"}), functions=frozenset({"exp", "sqrt", "cos"}))
    tree = parse_expression(answer, vocab)
    again = parse_expression(to_text(tree), vocab)
    assert to_latex(again) == to_latex(tree)


def test_author_expressions_may_use_any_known_function() -> None:
    vocab = Vocabulary(variables=frozenset({"x"}), functions=frozenset({"exp"}))
    assert to_latex(parse_expression("erf(x)", vocab, author=True))
    with pytest.raises(ParseError) as raised:
        parse_expression("erf(x)", vocab)
    assert raised.value.code == "unknown_name"
