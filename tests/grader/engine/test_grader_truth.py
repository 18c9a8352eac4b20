"""Grader truth: overflow, tolerance, points outside the sample interval, complex branches.

Each table is a class of false accept (or of a refusal that must stay a refusal) found by review
and by peer systems' answer tests; every row failed before the fix it documents.
"""

from __future__ import annotations

from typing import Any

import pytest

from grader import engine
from grader.engine import Status
from tests.grader.engine.test_symbolic import SIGMOID, load, spec

CORRECT, INCORRECT = Status.CORRECT, Status.INCORRECT
SEEDS = (0, 1, 2, 3)

REAL_X = {"x": {"domain": "real", "sample": [-3, 3]}}
HUGE = spec("exp(400*x)", {"x": {"domain": "positive", "sample": [2, 3]}})
HIGH_POWER = spec("x^90", {"x": {"domain": "positive", "sample": [2000, 3000]}})  # past 1e300
FACTORIAL = spec("factorial(n)", {"n": {"domain": "integer", "sample": [180, 200]}})
EXACT_ONE = spec("x/x", REAL_X)
SHIFTED = spec("x", REAL_X)
THIRD = spec("x/3", REAL_X)
NEGATIVE_BASES = spec(
    "a^(b*c)",
    {name: {"domain": "real", "sample": [-3, 3]} for name in ("a", "b", "c")},
)
NEGATIVE_BASES_NESTED = spec(
    "(a^b)^c",
    {name: {"domain": "real", "sample": [-3, 3]} for name in ("a", "b", "c")},
)
SIGMOID_WITH_MAX = SIGMOID  # max is available in every exercise
DECIMALS_WANTED = spec("x/3", REAL_X, tolerance={"rtol": 1e-3})

OVERFLOW = [
    ("exp-zero", HUGE, "0", INCORRECT),
    ("exp-one", HUGE, "1", INCORRECT),
    ("exp-half", HUGE, "exp(400*x)/2", INCORRECT),
    ("exp-close-exponent", HUGE, "exp(399.999*x)", INCORRECT),
    ("exp-right", HUGE, "exp(200*x)^2", CORRECT),
    ("power-zero", HIGH_POWER, "0", INCORRECT),
    ("power-off-by-one", HIGH_POWER, "x^89", INCORRECT),
    ("power-right", HIGH_POWER, "(x^45)^2", CORRECT),
    ("factorial-zero", FACTORIAL, "0", INCORRECT),
    ("factorial-neighbour", FACTORIAL, "factorial(n-1)", INCORRECT),
    ("factorial-right", FACTORIAL, "n*factorial(n-1)", CORRECT),
]

TOLERANCE = [
    ("eight-nines", EXACT_ONE, "0.99999999", INCORRECT),
    ("fifteen-nines", EXACT_ONE, "0.999999999999999", INCORRECT),
    ("exact-one", EXACT_ONE, "1", CORRECT),
    ("shift-1e-9", SHIFTED, "x + 10^-9", INCORRECT),
    ("shift-1e-12", SHIFTED, "x + 10^-12", INCORRECT),
    ("scale-1e-10", SHIFTED, "x*(1 + 10^-10)", INCORRECT),
    ("third-decimal", THIRD, "0.3333*x", INCORRECT),
    ("third-exact", THIRD, "x/3", CORRECT),
    ("third-decimal-allowed", DECIMALS_WANTED, "0.3333*x", CORRECT),
    ("third-decimal-too-coarse", DECIMALS_WANTED, "0.33*x", INCORRECT),
]

OUTSIDE_THE_INTERVAL = [
    ("bump-at-40", SIGMOID, "sigma(x)*(1-sigma(x)) + exp(-(x-40)^2)", INCORRECT),
    ("bump-at-minus-25", SIGMOID, "sigma(x)*(1-sigma(x)) + exp(-(x+25)^2)", INCORRECT),
    ("bump-hidden-in-linear", SIGMOID, "sigma(x)*(1-sigma(x)) + exp(-(2*x-79)^2)", INCORRECT),
    ("bump-scaled", SIGMOID, "sigma(x)*(1-sigma(x)) + exp(-1600*(x/40-1)^2)", INCORRECT),
    ("step-beyond-10", SIGMOID_WITH_MAX, "sigma(x)*(1-sigma(x)) + max(0, x - 10)", INCORRECT),
    ("step-below-minus-100", SIGMOID_WITH_MAX, "sigma(x)*(1-sigma(x)) + max(0, -x-100)", INCORRECT),
    ("right-form", SIGMOID, "exp(-x)/(1+exp(-x))^2", CORRECT),
    ("right-cosh", SIGMOID, "sigma(x)*(1-sigma(x))", CORRECT),
]

COMPLEX_BRANCHES = [
    ("nested-for-flat", NEGATIVE_BASES, "(a^b)^c", INCORRECT),
    ("flat-for-nested", NEGATIVE_BASES_NESTED, "a^(b*c)", INCORRECT),
    ("flat-for-flat", NEGATIVE_BASES, "a^(c*b)", CORRECT),
    ("log-of-square", spec("log(x)", REAL_X), "log(x^2)/2", CORRECT),
]


def grade(exercise: dict[str, Any], answer: str, seed: int) -> engine.Verdict:
    return engine.grade(exercise, answer, seed=seed)


@pytest.mark.parametrize(
    ("exercise", "answer", "status"),
    [row[1:] for row in OVERFLOW + TOLERANCE + OUTSIDE_THE_INTERVAL + COMPLEX_BRANCHES],
    ids=[row[0] for row in OVERFLOW + TOLERANCE + OUTSIDE_THE_INTERVAL + COMPLEX_BRANCHES],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_it_is_not_fooled(exercise: dict[str, Any], answer: str, status: Status, seed: int) -> None:
    verdict = grade(exercise, answer, seed)
    assert verdict.status == status, verdict.messages


@pytest.mark.parametrize("answer", ["0.3333*x", "x*0.33333", "0.333333333*x"])
def test_a_rounded_decimal_is_told_to_write_the_exact_value(answer: str) -> None:
    verdict = grade(THIRD, answer, 0)
    assert verdict.status == INCORRECT
    assert verdict.diagnosis == "decimal_approximation", verdict.messages


@pytest.mark.parametrize("answer", ["x/3 + 1e-6", "x*1.0000001/3", "0.5*x"])
def test_a_decimal_that_is_no_rounding_gets_the_usual_diagnosis(answer: str) -> None:
    verdict = grade(THIRD, answer, 0)
    assert verdict.status == INCORRECT
    assert verdict.diagnosis != "decimal_approximation", verdict.messages


def test_the_verdicts_are_the_same_for_the_same_seed() -> None:
    answer = "sigma(x)*(1-sigma(x)) + exp(-(x-40)^2)"
    first = [grade(SIGMOID, answer, seed).messages for seed in SEEDS]
    assert first == [grade(SIGMOID, answer, seed).messages for seed in SEEDS]


TANH_FROM_EXP = spec("1 - tanh(x)^2", REAL_X, forbid=["tanh", "sech", "cosh", "sinh"])


@pytest.mark.parametrize(
    ("exercise", "answer"),
    [
        (SIGMOID, "1/(4 cosh(x/2)^2)"),
        (SIGMOID, "sech(x/2)^2/4"),
        (SIGMOID, "(1 - tanh(x/2)^2)/4"),
        (TANH_FROM_EXP, "4/(exp(x)+exp(-x))^2"),
        (spec("abs(x)", REAL_X), "max(x, -x)"),
        (spec("x", {"x": {"domain": "positive"}}), "exp(log(x))"),
    ],
)
def test_every_safe_function_is_available_by_default(exercise: dict[str, Any], answer: str) -> None:
    assert grade(exercise, answer, 0).status == CORRECT


@pytest.mark.parametrize("answer", ["1 - tanh(x)^2", "sech(x)^2", "1/cosh(x)^2"])
def test_a_forbidden_function_is_refused_by_name_and_not_counted(answer: str) -> None:
    verdict = grade(TANH_FROM_EXP, answer, 0)
    assert verdict.status == Status.INVALID
    assert not verdict.counts_as_attempt
    assert "is not allowed here" in verdict.messages[0].text
    preview = engine.preview(TANH_FROM_EXP, answer)
    assert preview["error"] is not None and "not allowed here" in preview["error"]["text"]


NOTATION = spec("sin(x)^2 + factorial(n)", {**REAL_X, "n": {"domain": "integer", "sample": [1, 8]}})


@pytest.mark.parametrize(
    ("answer", "read_as"),
    [
        ("sin^2(x) + n!", "sin(x)^2 + factorial(n)"),
        ("sin^2 x + n!", "sin(x)^2 + factorial(n)"),
        ("(sin x)^2 + factorial(n)", "sin(x)^2 + factorial(n)"),
        ("sin x sin x + n!", "sin(x)*sin(x) + factorial(n)"),
        ("ｓｉｎ＾２（ｘ）＋ｎ！", "sin(x)^2 + factorial(n)"),
        ("sin²x + n!", "sin(x)^2 + factorial(n)"),
        ("1 - cos²(x) + n!", "1 - cos(x)^2 + factorial(n)"),
        ("sin(x)**2 + n*(n-1)!", "sin(x)^2 + n*factorial(n - 1)"),
    ],
)
def test_notation_students_type_is_read_and_graded(answer: str, read_as: str) -> None:
    preview = engine.preview(NOTATION, answer)
    assert preview["error"] is None, preview
    assert preview["latex"] == engine.preview(NOTATION, read_as)["latex"]  # shown as it is read
    assert grade(NOTATION, answer, 0).status == CORRECT


@pytest.mark.parametrize(
    ("exercise", "answer"),
    [
        (spec("1/cos(x)", REAL_X), "sec x"),
        (spec("1/sin(x)", {"x": {"domain": "positive", "sample": [0.2, 3]}}), "csc(x)"),
        (spec("cos(x)/sin(x)", {"x": {"domain": "positive", "sample": [0.2, 3]}}), "cot x"),
        (spec("log(x + sqrt(x^2+1))", REAL_X), "asinh(x)"),
        (
            spec("log(x + sqrt(x^2-1))", {"x": {"domain": "positive", "sample": [1.1, 4]}}),
            "arcosh x",
        ),
        (spec("log((1+x)/(1-x))/2", {"x": {"domain": "real", "sample": [-0.9, 0.9]}}), "atanh(x)"),
        (spec("abs(x)/x", REAL_X), "sign(x)"),
        (spec("abs(x)/x", REAL_X), "sgn x"),
        (spec("sqrt(x)", {"x": {"domain": "positive"}}), "√x"),
        (spec("2*sqrt(x+1)", {"x": {"domain": "positive"}}), "2√(x+1)"),
        (spec("exp(x)", REAL_X), "e^x"),
        (spec("exp(2*x)", REAL_X), "e^(2x)"),
        (spec("log(2*x)", {"x": {"domain": "positive"}}), "log 2x"),
        (spec("log(x^2)", {"x": {"domain": "positive"}}), "ln x^2"),
        (spec("x + 1", REAL_X), "ｘ＋１"),
        (spec("(x + 1)*(x - 2)", REAL_X), "（ｘ＋１）＊（ｘ－２）"),
        (spec("x/2", REAL_X), "ｘ／２"),
        (spec("1/x", {"x": {"domain": "positive"}}), "x⁻¹"),
    ],
)
def test_every_notation_grades_as_what_it_means(exercise: dict[str, Any], answer: str) -> None:
    assert grade(exercise, answer, 0).status == CORRECT, grade(exercise, answer, 0).messages


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        ("x ≤ 1", "less-than or equal to"),
        ("∂x", "diff(expression, x)"),
        ("x ∞", "infinity"),
        ("x ☃ 1", "snowman"),
    ],
)
def test_a_character_that_cannot_be_read_is_named_with_a_suggestion(
    answer: str, named: str
) -> None:
    preview = engine.preview(spec("x", REAL_X), answer)
    assert preview["error"] is not None and named in preview["error"]["text"]


def test_splitting_an_unknown_name_is_linear_in_its_length() -> None:
    from grader.engine.symbolic.limits import Work
    from grader.engine.symbolic.parser import split_into_names
    from grader.engine.symbolic.vocabulary import Vocabulary

    names = frozenset({"s", "s2", "ss", "s22", "x"})
    vocab = Vocabulary(variables=names, functions=frozenset({"exp", "sin", "sinh"}))
    known = len(vocab.value_names() | vocab.functions)  # with the constants pi and e
    # Every prefix splits many ways and the last character never does: an exhaustive search
    # tries exponentially many splits, the dynamic programme len × names steps.
    for name, split in [("s2" * 19 + "q", None), ("s2" * 19 + "x", "*".join(["s2"] * 19 + ["x"]))]:
        work = Work()
        assert split_into_names(name, vocab, work, 0) == split
        assert work.spent <= len(name) * (known + 1)


@pytest.mark.parametrize("m", [-2, -0.5, -3])
def test_a_negative_parameter_keeps_its_parentheses_in_the_shown_reference(m: float) -> None:
    exercise = spec("x - m^2 + m*x", REAL_X, parameters={"m": {"choice": [m]}})
    shown = engine.variant(exercise, 0)
    assert "- -" not in shown["reference"] and f"({m})^2" in shown["reference"]
    assert grade(exercise, shown["reference"], 0).status == CORRECT


# --- code answers where the reference holds inf, -inf or NaN --------------------------------------

SPECIAL_INPUTS = """
import numpy as np

def make_inputs(rng, case):
    x = rng.uniform(0.5, 5.0, size=8)
    x[1] = 0.0          # log gives -inf
    x[2] = -1.0         # log gives nan
    x[3] = np.inf       # log gives inf
    return {"x": x}
"""
SAFE_LOG = {
    "id": "5c8e0b8e-7a53-4b1f-9d3e-2a6f0e7c1d11",
    "title": "Logs with their special values",
    "kind": "code",
    "function": "log_all",
    "signature": "log_all(x) -> ndarray",
    "starter": "def log_all(x):\n    ...\n",
    "prompt": "Return the natural log of every entry, inf, -inf and nan included.",
    "reference": "import numpy as np\ndef log_all(x):\n    with np.errstate(all='ignore'):\n"
    "        return np.log(x)\n",
    "inputs": SPECIAL_INPUTS,
    "tests": [{"name": "with zeros and negatives", "case": "special"}],
    "tolerance": {"rtol": 1e-9, "atol": 1e-12},
}


def _log_answer(body: str) -> str:
    return (
        "import numpy as np\n\ndef log_all(x):\n    with np.errstate(all='ignore'):\n        "
        + body
        + "\n"
    )


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("return np.log(x)", CORRECT),
        ("return np.log(np.maximum(x, 1e-300))", INCORRECT),  # a finite value where -inf is due
        ("return np.where(x == 0, np.inf, np.log(x))", INCORRECT),  # +inf where -inf is due
        ("return np.where(np.isinf(x), 1e308, np.log(x))", INCORRECT),  # finite where inf is due
        ("return np.nan_to_num(np.log(x), nan=0.0, posinf=np.inf, neginf=-np.inf)", INCORRECT),
        ("return np.where(x < 0, -np.inf, np.log(x))", INCORRECT),  # -inf where nan is due
        ("return np.log(x).astype(np.float32).astype(np.float64)", INCORRECT),  # rounding > rtol
        ("return np.log(x.astype(np.float64))", CORRECT),
    ],
)
def test_special_values_must_match_exactly_where_the_reference_has_them(
    body: str, status: Status
) -> None:
    verdict = engine.grade(SAFE_LOG, _log_answer(body), seed=1)
    assert verdict.status == status, verdict.messages


def test_a_finite_value_where_the_reference_is_infinite_is_named_without_guessing_why() -> None:
    verdict = engine.grade(SAFE_LOG, _log_answer("return np.log(np.maximum(x, 1e-300))"), seed=1)
    text = " ".join(m.text for m in verdict.messages)
    assert "where the answer is -inf" in text and "overflow" not in text


KINKED = [
    (
        spec("max(0, sign(x))", REAL_X),
        "(sign(x) + 1)/2",
    ),  # the step of ReLU: 1/2 at 0 is a subgradient
    (spec("(sign(x) + 1)/2", REAL_X), "max(0, sign(x))"),
    (spec("sign(x)", REAL_X), "abs(x)/x"),  # undefined at 0, which is a kink
    (spec("max(x, 0)", REAL_X), "(x + abs(x))/2"),
    (spec("2*max(x - 1, 0)", REAL_X), "max(2x - 2, 0)"),
]


@pytest.mark.parametrize(("exercise", "answer"), KINKED)
@pytest.mark.parametrize("seed", SEEDS)
def test_at_a_kink_any_subgradient_is_right(
    exercise: dict[str, Any], answer: str, seed: int
) -> None:
    assert grade(exercise, answer, seed).status == CORRECT, grade(exercise, answer, seed).messages


def test_a_kink_does_not_hide_a_difference_away_from_it() -> None:
    exercise = spec("max(0, sign(x))", REAL_X)
    assert grade(exercise, "(sign(x) + 1)/2 + exp(-(x-40)^2)", 0).status == INCORRECT


TRANSPOSE_OF_PRODUCT = load("vectors-and-shapes/01-shapes-and-products/transpose-of-a-product.yaml")
SQUARE = {"shape": ["n", "n"]}
INVERSE_OF_PRODUCT = {
    "id": "inverse-of-a-product",
    "title": "Inverse of a product",
    "kind": "matrix",
    "prompt": "Write (AB)^-1 with the inverses of A and B.",
    "variables": {"A": SQUARE, "B": SQUARE},
    "answer": "inv(B)*inv(A)",
    "forbid": ["inverse of a product"],
}
EXPANDED = spec("x^2 + 2x + 1", REAL_X, forbid=["power of a sum"])


@pytest.mark.parametrize(
    ("exercise", "answer", "rule"),
    [
        (TRANSPOSE_OF_PRODUCT, "transpose(A*B*C)", "no transpose of a product"),
        (TRANSPOSE_OF_PRODUCT, "(A B C)^T", "no transpose of a product"),
        (TRANSPOSE_OF_PRODUCT, "(A*B*C)'", "no transpose of a product"),
        (TRANSPOSE_OF_PRODUCT, "C^T (A B)^T", "no transpose of a product"),
        (INVERSE_OF_PRODUCT, "inv(A*B)", "no inverse of a product"),
        (EXPANDED, "(x+1)^2", "no power of a sum"),
    ],
)
def test_a_form_rule_refuses_the_form_by_name_and_counts_no_attempt(
    exercise: dict[str, Any], answer: str, rule: str
) -> None:
    verdict = grade(exercise, answer, 0)
    assert verdict.status == Status.INVALID and not verdict.counts_as_attempt
    assert rule in verdict.messages[0].text
    preview = engine.preview(exercise, answer)
    assert preview["error"] is not None and rule in preview["error"]["text"]


@pytest.mark.parametrize(
    ("exercise", "answer"),
    [
        (TRANSPOSE_OF_PRODUCT, "C^T*B^T*A^T"),
        (TRANSPOSE_OF_PRODUCT, "C' B' A'"),
        (INVERSE_OF_PRODUCT, "inv(B) inv(A)"),
        (EXPANDED, "x^2 + 2*x + 1"),
    ],
)
def test_the_asked_form_passes_its_rules(exercise: dict[str, Any], answer: str) -> None:
    assert grade(exercise, answer, 0).status == CORRECT


RELU_BACKWARD = load("backprop-by-hand/01-relu-and-linear-layers/relu-backward.yaml")


def _relu(body: str) -> str:
    return "import numpy as np\n\ndef relu_backward(x, grad_out):\n    " + body + "\n"


@pytest.mark.parametrize(
    ("body", "status", "note"),
    [
        ("return grad_out * (x > 0)", CORRECT, False),  # the usual convention: 0 at the kink
        ("return grad_out * (x >= 0)", CORRECT, True),  # passes the gradient at exactly 0
        ("g = grad_out.copy()\n    g[x < 0] = 0\n    return g", CORRECT, True),
        ("return grad_out * np.where(x == 0, 0.5, x > 0)", CORRECT, True),  # halfway: in the set
        ("return grad_out * np.where(x == 0, 2.0, x > 0)", INCORRECT, False),  # outside [0, g]
        ("return grad_out * (x > -0.1)", INCORRECT, False),  # wrong away from the kink
        ("return -grad_out * (x >= 0)", INCORRECT, False),
    ],
)
def test_at_relus_kink_any_subgradient_is_accepted_with_a_note(
    body: str, status: Status, note: bool
) -> None:
    verdict = engine.grade(RELU_BACKWARD, _relu(body), seed=1)
    assert verdict.status == status, verdict.messages
    codes = [m.code for m in verdict.messages]
    assert ("subgradient_convention" in codes) == note, codes
