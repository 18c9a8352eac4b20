"""Scalar expression grading through the public engine functions, table-driven."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from grader import engine
from grader.engine import Status

EXERCISES = Path(__file__).resolve().parents[3] / "exercises"


def load(relative: str) -> dict[str, Any]:
    return yaml.safe_load((EXERCISES / relative).read_text(encoding="utf-8"))


SIGMOID = load("everyday-derivatives/02-activations/sigmoid-derivative.yaml")
GAUSSIAN_VARIANCE = load("likelihood-and-mle/02-gaussian-mle/gaussian-variance-mle.yaml")


def spec(answer: str, variables: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": f"test-{answer}",
        "title": "A test exercise",
        "kind": "expression",
        "prompt": "Give the answer.",
        "variables": variables,
        "answer": answer,
        **extra,
    }


REAL_X = {"x": {"domain": "real", "sample": [-3, 3]}}
CHAIN_RULE = spec("2*x*cos(x^2)", REAL_X)
TANH = spec("1 - tanh(x)^2", REAL_X)
SOFTPLUS = spec(
    "1/(1+exp(-x))",
    REAL_X,
    helpers={"sigma(x)": "1/(1+exp(-x))"},
)
CROSS_ENTROPY = spec(
    "exp(z1)/(exp(z1)+exp(z2)) - 1",
    {"z1": {"domain": "real", "sample": [-4, 4]}, "z2": {"domain": "real", "sample": [-4, 4]}},
    helpers={"sigma(x)": "1/(1+exp(-x))", "softmax1(a, b)": "exp(a)/(exp(a)+exp(b))"},
)
SOFTMAX_JACOBIAN = spec(
    "softmax1(z1, z2)*(1 - softmax1(z1, z2))",
    {"z1": {"domain": "real", "sample": [-4, 4]}, "z2": {"domain": "real", "sample": [-4, 4]}},
    helpers={"softmax1(a, b)": "exp(a)/(exp(a)+exp(b))"},
)
LOGSUMEXP = spec(
    "exp(z1)/(exp(z1)+exp(z2)+exp(z3))",
    {name: {"domain": "real", "sample": [-5, 5]} for name in ("z1", "z2", "z3")},
)
KL_STANDARD = spec(
    "(s^2 + mu^2 - 1)/2 - log(s)",
    {"mu": {"domain": "real", "sample": [-3, 3]}, "s": {"domain": "positive", "sample": [0.2, 4]}},
)
KL_GREEK = spec(
    "(sigma^2 + mu^2 - 1)/2 - log(sigma)",
    {"mu": {"domain": "real"}, "sigma": {"domain": "positive", "sample": [0.2, 4]}},
)
POISSON_SCORE = spec(
    "S/lambda - n",
    {
        "S": {"domain": "positive", "sample": [1, 60]},
        "lambda": {"domain": "positive", "sample": [0.5, 10]},
        "n": {"domain": "integer", "sample": [1, 30]},
    },
)
BERNOULLI_MLE = spec(
    "k/n",
    {"k": {"domain": "integer", "sample": [0, 20]}, "n": {"domain": "integer", "sample": [21, 60]}},
)
GAUSSIAN_MEAN_SCORE = spec(
    "(S1 - n*mu)/sigma^2",
    {
        "S1": {"domain": "real", "sample": [-20, 20]},
        "n": {"domain": "integer", "sample": [2, 40]},
        "mu": {"domain": "real"},
        "sigma": {"domain": "positive", "sample": [0.5, 3]},
    },
)
ABS_DOMAIN = spec("log(x)", {"x": {"domain": "positive", "sample": [0.1, 10]}})
ABS_REAL = spec("abs(x)", REAL_X)
PARITY = spec("(-1)^n", {"n": {"domain": "integer", "sample": [1, 30]}})
LARGE_VALUES = spec(
    "exp(x)*x",
    {"x": {"domain": "real", "sample": [100, 300]}},
)
SMALL_VALUES = spec(
    "exp(-x)*x",
    {"x": {"domain": "real", "sample": [100, 300]}},
)
NORMAL_CDF = spec("Phi(x)", REAL_X)
# A reference spanning 1e-12 to 1e14: a tolerance floor set by its largest value would swallow +1.
STEEP = spec("10*exp(10*x)", REAL_X)
POWER_SEVEN = spec("8*x^7", {"x": {"domain": "positive", "sample": [0.1, 50]}})

CORRECT, INCORRECT, INVALID = Status.CORRECT, Status.INCORRECT, Status.INVALID

CASES: list[tuple[str, dict[str, Any], str, Status, str | None]] = [
    # the sigmoid derivative (contract exercise)
    ("sigmoid-reference", SIGMOID, "sigma(x)*(1-sigma(x))", CORRECT, None),
    ("sigmoid-implicit", SIGMOID, "sigma(x)(1-sigma(x))", CORRECT, None),
    ("sigmoid-greek", SIGMOID, "σ(x)(1 − σ(x))", CORRECT, None),
    ("sigmoid-exp-form", SIGMOID, "exp(-x)/(1+exp(-x))^2", CORRECT, None),
    ("sigmoid-exp-positive", SIGMOID, "exp(x)/(1+exp(x))**2", CORRECT, None),
    ("sigmoid-e-power", SIGMOID, "e^(-x)/(1+e^(-x))^2", CORRECT, None),
    ("sigmoid-e-power-unbracketed", SIGMOID, "e^-x/(1+e^-x)^2", CORRECT, None),
    ("sigmoid-expanded", SIGMOID, "sigma(x) - sigma(x)^2", CORRECT, None),
    ("sigmoid-split", SIGMOID, "1/(1+exp(-x)) * exp(-x)/(1+exp(-x))", CORRECT, None),
    ("sigmoid-spaces", SIGMOID, "  sigma( x ) * ( 1 - sigma( x ) )  ", CORRECT, None),
    ("sigmoid-sign", SIGMOID, "-sigma(x)*(1-sigma(x))", INCORRECT, "known_mistake"),
    ("sigmoid-outer-only", SIGMOID, "-1/(1+exp(-x))^2", INCORRECT, "known_mistake"),
    ("sigmoid-plus", SIGMOID, "sigma(x)*(1+sigma(x))", INCORRECT, "known_mistake"),
    ("sigmoid-double", SIGMOID, "2*sigma(x)*(1-sigma(x))", INCORRECT, "constant_factor"),
    ("sigmoid-half", SIGMOID, "sigma(x)*(1-sigma(x))/2", INCORRECT, "constant_factor"),
    ("sigmoid-offset", SIGMOID, "sigma(x)*(1-sigma(x)) + 1", INCORRECT, "constant_offset"),
    ("sigmoid-near-offset", SIGMOID, "sigma(x)*(1-sigma(x)) + 1e-6", INCORRECT, "constant_offset"),
    (
        "sigmoid-near-factor",
        SIGMOID,
        "sigma(x)*(1-sigma(x))*1.0000001",
        INCORRECT,
        "constant_factor",
    ),
    ("sigmoid-taylor", SIGMOID, "1/4 - x^2/16", INCORRECT, None),
    ("sigmoid-tiny-offset", SIGMOID, "sigma(x)*(1-sigma(x)) + 1e-7", INCORRECT, "constant_offset"),
    ("chain-constant", CHAIN_RULE, "1", INCORRECT, None),  # not "you forgot the chain rule"
    ("steep-correct", STEEP, "10 exp(10x)", CORRECT, None),
    ("steep-plus-one", STEEP, "10 exp(10x) + 1", INCORRECT, "constant_offset"),
    ("steep-plus-ten", STEEP, "10 exp(10x) + 10", INCORRECT, "constant_offset"),
    ("steep-plus-x", STEEP, "10exp(10x)+x", INCORRECT, None),
    ("steep-max-not-real", STEEP, "max(10 exp(10x), sqrt(-1))", INCORRECT, None),
    ("steep-min-not-real", STEEP, "min(sqrt(-1), 1)", INCORRECT, None),
    ("steep-max-infinite", STEEP, "max(10 exp(10x), 1/0)", INCORRECT, None),
    ("power-seven-correct", POWER_SEVEN, "8x^7", CORRECT, None),
    ("power-seven-plus-one", POWER_SEVEN, "8x^7 + 1", INCORRECT, "constant_offset"),
    ("sigmoid-itself", SIGMOID, "sigma(x)", INCORRECT, "missing_factor"),
    ("sigmoid-exp-no-square", SIGMOID, "exp(-x)/(1+exp(-x))", INCORRECT, "missing_factor"),
    ("sigmoid-cosh-form", SIGMOID, "1/(4 cosh(x/2)^2)", CORRECT, None),
    ("sigmoid-unknown-name", SIGMOID, "sigma(y)", INVALID, None),
    ("sigmoid-syntax", SIGMOID, "sigma(x)*(1-sigma(x)", INVALID, None),
    ("sigmoid-empty", SIGMOID, "   ", INVALID, None),
    ("sigmoid-equation", SIGMOID, "y = sigma(x)", INVALID, None),
    # chain rule: d/dx sin(x^2)
    ("chain-reference", CHAIN_RULE, "2x cos(x^2)", CORRECT, None),
    ("chain-explicit", CHAIN_RULE, "2*x*cos(x**2)", CORRECT, None),
    ("chain-superscript", CHAIN_RULE, "2x cos(x²)", CORRECT, None),
    ("chain-reordered", CHAIN_RULE, "cos(x^2)*x*2", CORRECT, None),
    ("chain-missing-inner", CHAIN_RULE, "cos(x^2)", INCORRECT, "missing_factor"),
    ("chain-missing-x", CHAIN_RULE, "2cos(x^2)", INCORRECT, "missing_factor"),
    ("chain-sign", CHAIN_RULE, "-2x cos(x^2)", INCORRECT, "sign_error"),
    ("chain-half", CHAIN_RULE, "x cos(x^2)", INCORRECT, "constant_factor"),
    ("chain-wrong-outer", CHAIN_RULE, "2x sin(x^2)", INCORRECT, None),
    ("chain-joined-name", CHAIN_RULE, "2xcos(x^2)", INVALID, None),
    ("chain-bad-close", CHAIN_RULE, "2x cos(x^2))", INVALID, None),
    # tanh
    ("tanh-reference", TANH, "1 - tanh(x)^2", CORRECT, None),
    ("tanh-sech", TANH, "sech(x)^2", CORRECT, None),
    ("tanh-cosh", TANH, "1/cosh(x)^2", CORRECT, None),
    ("tanh-exp", TANH, "4/(exp(x)+exp(-x))^2", CORRECT, None),
    ("tanh-plus", TANH, "1 + tanh(x)^2", INCORRECT, None),
    ("tanh-sign", TANH, "tanh(x)^2 - 1", INCORRECT, "sign_error"),
    ("tanh-no-square", TANH, "1 - tanh(x)", INCORRECT, "missing_factor"),
    # softplus' = sigmoid
    ("softplus-reference", SOFTPLUS, "1/(1+exp(-x))", CORRECT, None),
    ("softplus-helper", SOFTPLUS, "sigma(x)", CORRECT, None),
    ("softplus-exp", SOFTPLUS, "exp(x)/(1+exp(x))", CORRECT, None),
    ("softplus-mirror", SOFTPLUS, "1/(1+exp(x))", INCORRECT, "missing_factor"),
    ("softplus-forgot-chain", SOFTPLUS, "1/(1+exp(x))*exp(x)*exp(x)", INCORRECT, None),
    # softmax and cross-entropy
    ("ce-reference", CROSS_ENTROPY, "exp(z1)/(exp(z1)+exp(z2)) - 1", CORRECT, None),
    ("ce-other-class", CROSS_ENTROPY, "-exp(z2)/(exp(z1)+exp(z2))", CORRECT, None),
    ("ce-sigmoid", CROSS_ENTROPY, "sigma(z1 - z2) - 1", CORRECT, None),
    ("ce-softmax-helper", CROSS_ENTROPY, "softmax1(z1, z2) - 1", CORRECT, None),
    ("ce-sign", CROSS_ENTROPY, "1 - exp(z1)/(exp(z1)+exp(z2))", INCORRECT, "sign_error"),
    ("ce-forgot-label", CROSS_ENTROPY, "exp(z1)/(exp(z1)+exp(z2))", INCORRECT, "constant_offset"),
    ("ce-swapped", CROSS_ENTROPY, "exp(z2)/(exp(z1)+exp(z2)) - 1", INCORRECT, None),
    ("ce-joined", CROSS_ENTROPY, "z1z2", INVALID, None),
    ("softmax-jacobian", SOFTMAX_JACOBIAN, "softmax1(z1,z2) (1 - softmax1(z1,z2))", CORRECT, None),
    ("softmax-jacobian-exp", SOFTMAX_JACOBIAN, "exp(z1+z2)/(exp(z1)+exp(z2))^2", CORRECT, None),
    (
        "softmax-jacobian-sign",
        SOFTMAX_JACOBIAN,
        "-softmax1(z1,z2)(1-softmax1(z1,z2))",
        INCORRECT,
        "sign_error",
    ),
    ("softmax-jacobian-square", SOFTMAX_JACOBIAN, "softmax1(z1,z2)^2", INCORRECT, None),
    ("logsumexp-reference", LOGSUMEXP, "exp(z1)/(exp(z1)+exp(z2)+exp(z3))", CORRECT, None),
    ("logsumexp-shifted", LOGSUMEXP, "1/(1 + exp(z2-z1) + exp(z3-z1))", CORRECT, None),
    ("logsumexp-missing-term", LOGSUMEXP, "exp(z1)/(exp(z1)+exp(z2))", INCORRECT, None),
    # KL divergence between N(mu, s^2) and N(0, 1)
    ("kl-reference", KL_STANDARD, "(s^2 + mu^2 - 1)/2 - log(s)", CORRECT, None),
    ("kl-log-square", KL_STANDARD, "(s^2 + mu^2 - 1 - log(s^2))/2", CORRECT, None),
    ("kl-ln", KL_STANDARD, "1/2 (s^2 + mu^2 - 1) - ln(s)", CORRECT, None),
    ("kl-sign-log", KL_STANDARD, "(s^2 + mu^2 - 1)/2 + log(s)", INCORRECT, None),
    ("kl-double", KL_STANDARD, "s^2 + mu^2 - 1 - 2log(s)", INCORRECT, "constant_factor"),
    ("kl-offset", KL_STANDARD, "(s^2 + mu^2)/2 - log(s)", INCORRECT, "constant_offset"),
    ("kl-greek-unicode", KL_GREEK, "(σ^2 + μ^2 - 1)/2 - log(σ)", CORRECT, None),
    ("kl-greek-names", KL_GREEK, "(sigma^2 + mu^2 - 1)/2 - log(sigma)", CORRECT, None),
    ("kl-greek-mixed", KL_GREEK, "(σ² + mu² − 1)/2 − log(sigma)", CORRECT, None),
    ("kl-greek-wrong", KL_GREEK, "(σ^2 + μ^2 - 1)/2 - log(σ^2)", INCORRECT, None),
    ("kl-greek-joined", KL_GREEK, "musigma", INVALID, None),
    # likelihood and MLE
    ("mle-variance-reference", GAUSSIAN_VARIANCE, "S2/n - (S1/n)^2", CORRECT, None),
    ("mle-variance-factored", GAUSSIAN_VARIANCE, "(S2 - S1^2/n)/n", CORRECT, None),
    ("mle-variance-common-denominator", GAUSSIAN_VARIANCE, "(n S2 - S1^2)/n^2", CORRECT, None),
    ("mle-variance-unbiased", GAUSSIAN_VARIANCE, "(S2 - S1^2/n)/(n-1)", INCORRECT, "known_mistake"),
    (
        "mle-variance-unbiased-split",
        GAUSSIAN_VARIANCE,
        "S2/(n-1) - S1^2/(n(n-1))",
        INCORRECT,
        "known_mistake",
    ),
    ("mle-variance-one-n", GAUSSIAN_VARIANCE, "S2/n - S1^2/n", INCORRECT, "known_mistake"),
    ("mle-variance-raw", GAUSSIAN_VARIANCE, "S2/n", INCORRECT, "known_mistake"),
    ("mle-variance-double", GAUSSIAN_VARIANCE, "2(S2/n - (S1/n)^2)", INCORRECT, "constant_factor"),
    ("mle-variance-joined", GAUSSIAN_VARIANCE, "S2/n - S1S1/n^2", INVALID, None),
    ("mle-variance-sigma", GAUSSIAN_VARIANCE, "sigma^2", INVALID, None),
    ("poisson-score", POISSON_SCORE, "S/λ - n", CORRECT, None),
    ("poisson-score-names", POISSON_SCORE, "S/lambda - n", CORRECT, None),
    ("poisson-score-combined", POISSON_SCORE, "(S - n λ)/λ", CORRECT, None),
    ("poisson-score-sign", POISSON_SCORE, "n - S/λ", INCORRECT, "sign_error"),
    ("poisson-score-no-n", POISSON_SCORE, "S/λ - 1", INCORRECT, None),
    ("poisson-score-offset", POISSON_SCORE, "S/λ", INCORRECT, None),
    ("bernoulli-mle", BERNOULLI_MLE, "k/n", CORRECT, None),
    ("bernoulli-mle-laplace", BERNOULLI_MLE, "(k+1)/(n+2)", INCORRECT, None),
    ("bernoulli-mle-inverted", BERNOULLI_MLE, "n/k", INCORRECT, None),
    ("gaussian-mean-score", GAUSSIAN_MEAN_SCORE, "(S1 - n mu)/sigma^2", CORRECT, None),
    ("gaussian-mean-score-split", GAUSSIAN_MEAN_SCORE, "S1/σ^2 - n μ/σ^2", CORRECT, None),
    (
        "gaussian-mean-score-sign",
        GAUSSIAN_MEAN_SCORE,
        "(n mu - S1)/sigma^2",
        INCORRECT,
        "sign_error",
    ),
    (
        "gaussian-mean-score-no-square",
        GAUSSIAN_MEAN_SCORE,
        "(S1 - n mu)/sigma",
        INCORRECT,
        "constant_factor",
    ),
    ("gaussian-mean-score-no-n", GAUSSIAN_MEAN_SCORE, "(S1 - mu)/sigma^2", INCORRECT, None),
    # domains, assumptions and special functions
    ("domain-positive-log-square", ABS_DOMAIN, "log(x^2)/2", CORRECT, None),
    ("domain-positive-sqrt", ABS_DOMAIN, "log(sqrt(x)) * 2", CORRECT, None),
    ("domain-positive-abs", ABS_DOMAIN, "log(abs(x))", CORRECT, None),
    ("domain-real-sqrt-square", ABS_REAL, "sqrt(x^2)", CORRECT, None),
    ("domain-real-bars", ABS_REAL, "|x|", CORRECT, None),
    ("domain-real-max", ABS_REAL, "max(x, -x)", CORRECT, None),
    ("domain-real-not-abs", ABS_REAL, "x", INCORRECT, None),
    ("domain-real-hidden-kink", ABS_REAL, "abs(x) + max(0, x - 2.9)", INCORRECT, None),
    ("domain-real-hidden-bump", ABS_REAL, "abs(x) + max(0, 0.05 - abs(x - 1))", INCORRECT, None),
    ("domain-integer-parity", PARITY, "cos(pi n)", CORRECT, None),
    ("domain-integer-wrong", PARITY, "1", INCORRECT, None),  # a constant is no missing factor
    ("large-values-correct", LARGE_VALUES, "x exp(x)", CORRECT, None),
    ("large-values-log-form", LARGE_VALUES, "exp(x + log(x))", CORRECT, None),
    ("large-values-near-miss", LARGE_VALUES, "x exp(x) (1 + 1e-6)", INCORRECT, "constant_factor"),
    ("large-values-off-by-one", LARGE_VALUES, "(x+1) exp(x)", INCORRECT, None),
    ("small-values-correct", SMALL_VALUES, "x/exp(x)", CORRECT, None),
    ("small-values-zero", SMALL_VALUES, "0", INCORRECT, None),
    ("small-values-near-miss", SMALL_VALUES, "(x + 1e-4) exp(-x)", INCORRECT, None),
    ("phi-erf", NORMAL_CDF, "(1 + erf(x/sqrt(2)))/2", CORRECT, None),
    ("phi-itself", NORMAL_CDF, "Phi(x)", CORRECT, None),
    ("phi-complement", NORMAL_CDF, "1 - Phi(-x)", CORRECT, None),
    ("phi-wrong-scale", NORMAL_CDF, "(1 + erf(x))/2", INCORRECT, None),
]


@pytest.mark.parametrize(
    ("case", "exercise", "answer", "status", "diagnosis"),
    CASES,
    ids=[case[0] for case in CASES],
)
def test_it_grades(
    case: str, exercise: dict[str, Any], answer: str, status: Status, diagnosis: str | None
) -> None:
    verdict = engine.grade(exercise, answer, seed=0)
    assert verdict.status == status, verdict.messages
    if status == Status.INCORRECT or diagnosis is not None:
        assert verdict.diagnosis == diagnosis, verdict.messages
    assert verdict.score == (1.0 if status == Status.CORRECT else 0.0)
    if status != Status.INVALID:
        assert verdict.parsed, "the reading is shown again with the verdict"
    assert "audit_disagreement" not in verdict.flags


def test_it_names_the_mistake_with_a_counterexample() -> None:
    verdict = engine.grade(CHAIN_RULE, "cos(x^2)", seed=0)
    texts = [m.text for m in verdict.messages]
    assert verdict.counterexample is not None
    # at x = 0.5 both give cos(0.25), so the first readable point that tells them apart is x = 1
    assert verdict.counterexample["point"] == {"x": 1.0}
    assert verdict.counterexample["answer"] == pytest.approx(0.5403023058681398)
    assert verdict.counterexample["expected"] == pytest.approx(2 * 0.5403023058681398)
    assert any(t.startswith("At x = 1 your answer gives 0.5403, expected 1.081") for t in texts)
    assert any("chain rule" in t for t in texts)


def test_it_shows_the_authors_feedback_for_a_known_mistake() -> None:
    verdict = engine.grade(GAUSSIAN_VARIANCE, "(S2 - S1^2/n)/(n-1)", seed=4)
    assert verdict.diagnosis == "known_mistake"
    assert any("unbiased sample variance" in m.text for m in verdict.messages)


def test_it_diagnoses_an_n_over_n_minus_1_factor_without_author_work() -> None:
    exercise = {**GAUSSIAN_VARIANCE, "mistakes": []}
    verdict = engine.grade(exercise, "(S2 - S1^2/n)/(n-1)", seed=0)
    assert verdict.diagnosis == "constant_factor"
    assert any("n/(n−1)" in m.text for m in verdict.messages)


def test_it_describes_a_half_factor() -> None:
    verdict = engine.grade(SIGMOID, "sigma(x)*(1-sigma(x))/2", seed=0)
    assert any("×½" in m.text for m in verdict.messages)


def test_it_reports_invalid_input_as_not_an_attempt_with_a_position() -> None:
    verdict = engine.grade(CHAIN_RULE, "2x cos(x^2", seed=0)
    assert verdict.status == Status.INVALID
    assert not verdict.counts_as_attempt
    assert verdict.messages[0].code == "syntax"
    assert "At character 11" in verdict.messages[0].text
    assert "expected ',' or ')'" in verdict.messages[0].text


def test_it_suggests_a_product_for_a_joined_name() -> None:
    exercise = spec("x*y", {"x": {}, "y": {}})
    verdict = engine.grade(exercise, "xy", seed=0)
    assert verdict.status == Status.INVALID
    assert verdict.messages[0].code == "unknown_name"
    assert "unknown name 'xy' — did you mean x*y?" in verdict.messages[0].text


def test_it_flags_an_audit_disagreement_for_a_difference_below_an_authors_tolerance(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lenient = {**SIGMOID, "tolerance": {"rtol": 1e-8}}
    verdict = engine.grade(lenient, "sigma(x)*(1-sigma(x)) + 1e-13", seed=0)
    assert verdict.status == Status.CORRECT
    assert "audit_disagreement" in verdict.flags
    assert any("audit disagrees" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("offset", ["1e-13", "10^-9", "10^-18", "2*10^-20"])
def test_an_exact_exercise_refuses_a_difference_however_small(offset: str) -> None:
    verdict = engine.grade(SIGMOID, f"sigma(x)*(1-sigma(x)) + {offset}", seed=0)
    assert verdict.status == Status.INCORRECT


@pytest.mark.parametrize("answer", ["1/0", "0/0", "log(0)", "sigma(x) + 1/0"])
def test_an_undefined_answer_is_wrong_without_an_audit_disagreement(answer: str) -> None:
    # The audit proves nothing about an infinite difference, so it must not flood the
    # instructors' list of disagreements.
    verdict = engine.grade(SIGMOID, answer, seed=0)
    assert verdict.status == Status.INCORRECT
    assert "audit_disagreement" not in verdict.flags


def test_it_is_undetermined_when_the_reference_has_no_valid_points() -> None:
    exercise = spec("sqrt(x - 10)", REAL_X)
    verdict = engine.grade(exercise, "sqrt(x - 10)", seed=0)
    assert verdict.status == Status.UNDETERMINED
    assert "undetermined" in verdict.flags
    assert not verdict.counts_as_attempt


def test_it_resamples_where_the_reference_is_undefined() -> None:
    exercise = spec("log(x)", REAL_X)
    assert engine.grade(exercise, "log(x^2)/2", seed=0).status == Status.CORRECT
    assert engine.grade(exercise, "log(x^2)", seed=0).status == Status.INCORRECT


def test_it_reports_a_broken_exercise_as_an_error_not_against_the_student() -> None:
    exercise = spec("sigma(x) +", REAL_X)
    verdict = engine.grade(exercise, "x", seed=0)
    assert verdict.status == Status.ERROR
    assert "spec_error" in verdict.flags
    assert not verdict.counts_as_attempt


def test_helpers_may_be_written_with_a_definition_sign() -> None:
    exercise = {**SIGMOID, "helpers": ["sigma(x) := 1/(1+exp(-x))"], "mistakes": []}
    assert engine.grade(exercise, "σ(x)(1 - σ(x))", seed=0).status == Status.CORRECT


def test_a_numeric_reference_is_read() -> None:
    exercise = spec("x", REAL_X)
    exercise["answer"] = 0
    assert engine.validate_spec(exercise) == []
    assert engine.grade(exercise, "x - x", seed=0).status == Status.CORRECT
    assert engine.grade(exercise, "1e-3", seed=0).status == Status.INCORRECT


def test_it_is_deterministic_for_a_seed() -> None:
    first = engine.grade(SIGMOID, "sigma(x)^2", seed=7)
    second = engine.grade(SIGMOID, "sigma(x)^2", seed=7)
    assert first.counterexample == second.counterexample
    assert first.messages == second.messages


# --- per-student variants ----------------------------------------------------------------------

POWER_RULE = {
    "id": "b7c1c0de-0000-4000-8000-000000000001",
    "title": "Power rule",
    "kind": "expression",
    "prompt": "Differentiate $x^{{{a}}} \\cdot e^{ {{ w }} x}$ with $w = {{w}}$ and $c = {{c}}$.",
    "parameters": {
        "a": {"integer": [2, 9]},
        "w": {"choice": [0.5, 1, 2]},
        "c": {"uniform": [0.5, 3.0], "digits": 1},
    },
    "variables": {"x": {"domain": "positive", "sample": [0.2, 3]}},
    "answer": "c*(a*x^(a-1)*exp(w*x) + w*x^a*exp(w*x))",
}


def test_variants_differ_between_seeds_and_repeat_for_one() -> None:
    # Each learner's seed comes from course.models.Exercise.seed_for (tested with the models).
    drawn = {tuple(engine.variant(POWER_RULE, s)["parameters"].items()) for s in range(12)}
    assert len(drawn) >= 6
    assert engine.variant(POWER_RULE, 7) == engine.variant(POWER_RULE, 7)


PRECISE = spec(
    "c*x",
    REAL_X,
    parameters={"c": {"uniform": [100, 900], "digits": 4}, "k": {"choice": ["1/3"]}},
    prompt="Differentiate {{c}} x^2/2 + {{k}} with respect to x.",
)


@pytest.mark.parametrize("seed", range(5))
def test_the_prompt_shows_each_parameter_exactly_as_it_is_graded(seed: int) -> None:
    shown = engine.variant(PRECISE, seed)
    c = re.search(r"Differentiate (\S+) x", shown["prompt"]).group(1)
    assert shown["prompt"].endswith("+ 1/3 with respect to x.")
    assert engine.grade(PRECISE, f"{c} x", seed=seed).status == Status.CORRECT


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_a_variant_is_graded_with_its_own_parameters(seed: int) -> None:
    drawn = engine.variant(POWER_RULE, seed)
    a, w, c = (drawn["parameters"][k] for k in ("a", "w", "c"))
    assert 2 <= a <= 9 and w in (0.5, 1, 2) and 0.5 <= c <= 3.0
    assert f"x^{{{a}}}" in drawn["prompt"] and f"c = {c:g}" in drawn["prompt"]
    own = f"{c}*({a}*x^{a - 1}*exp({w}*x) + {w}*x^{a}*exp({w}*x))"
    assert engine.grade(POWER_RULE, own, seed=seed).status == Status.CORRECT
    assert engine.grade(POWER_RULE, drawn["reference"], seed=seed).status == Status.CORRECT
    neighbour = f"{c}*({a + 1}*x^{a}*exp({w}*x) + {w}*x^({a + 1})*exp({w}*x))"
    assert engine.grade(POWER_RULE, neighbour, seed=seed).status == Status.INCORRECT


def test_variant_renders_the_reference() -> None:
    drawn = engine.variant(SIGMOID, 0)
    assert drawn["reference"] == "sigma(x)*(1 - sigma(x))"
    assert drawn["reference_latex"].startswith(r"\sigma\left(x\right) \cdot")
    assert drawn["parameters"] == {}


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "relative",
    [
        "everyday-derivatives/02-activations/sigmoid-derivative.yaml",
        "everyday-derivatives/02-activations/sigmoid-derivative-steps.yaml",
        "likelihood-and-mle/02-gaussian-mle/gaussian-variance-mle.yaml",
        "matrix-calculus/02-least-squares-and-layouts/least-squares-gradient.yaml",
        "matrix-calculus/01-linear-and-quadratic-forms/quadratic-form-gradient.yaml",
    ],
)
def test_the_contract_exercises_are_valid(relative: str) -> None:
    exercise = load(relative)
    assert engine.validate_spec(exercise) == []
    assert len(exercise["hints"]) >= 2 and len(exercise["mistakes"]) >= 2


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"colour": "red"}, "unknown field 'colour'"),
        ({"answer": "sigma(x"}, "answer: At character 8"),
        ({"answer": None}, "answer: expected an expression"),
        (
            {"mistakes": [{"answer": "exp(-x)/(1+exp(-x))^2", "feedback": "no"}]},
            "mistakes[0] 'exp(-x)/(1+exp(-x))^2' equals the reference",
        ),
        ({"mistakes": [{"answer": "x"}]}, "mistakes[0]: missing required field 'feedback'"),
        ({"also_correct": ["sigma(x)"]}, "also_correct[0] 'sigma(x)' is graded incorrect"),
        ({"variables": {"x": {"domain": "complex"}}}, "variables.x.domain: input should be 'real'"),
        ({"variables": {"x": {"sample": [2, 1]}}}, "the sample interval [2.0, 1.0] is empty"),
        ({"answer": "log(x - 10)"}, "too few valid sample points"),
        ({"forbid": ["exp", "frobnicate"]}, "forbid: unknown function or form rule 'frobnicate'"),
        ({"helpers": {"sigma": "1/(1+exp(-x))"}}, "write the name with its arguments"),
        ({"prompt": "Use {{k}}."}, "undeclared parameters: k"),
        ({"parameters": {"k": {"integer": [5, 1]}}}, "parameter k: low 5 is above high 1"),
        ({"kind": "essay"}, "kind must be one of"),
        (
            {"variables": {"x": {"domain": "integer", "sample": [1, 3]}}},
            "variable x: an integer sample range with fewer than 5 values",
        ),
    ],
)
def test_validation_names_the_problem(change: dict[str, Any], problem: str) -> None:
    exercise = {**SIGMOID, **change}
    problems = engine.validate_spec(exercise)
    assert any(problem in p.message for p in problems), problems
