"""Running a code answer on the visible tests only, and what a failing visible test shows.

Guarantees: engine.run_visible_tests never counts as an attempt and never runs a hidden test;
a failing visible test carries its inputs, the expected and the returned value (small arrays whole,
large ones summarised with shape, dtype and first entries, plus the largest difference); its
traceback travels beside its words, not inside them; a hidden test carries none of these.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from grader.engine import grade, run_visible_tests
from grader.engine.code.shown import max_abs_diff, show_value
from grader.engine.types import Status

ROOT = Path(__file__).resolve().parents[3]
RELU = yaml.safe_load(
    (ROOT / "exercises/backprop-by-hand/01-relu-and-linear-layers/relu-backward.yaml").read_text()
)
FORGOT_CHAIN_RULE = (
    "import numpy as np\ndef relu_backward(x, grad_out):\n    return (x > 0).astype(float)\n"
)
RAISES = "import numpy as np\ndef relu_backward(x, grad_out):\n    return grad_out[5000] * x\n"


def test_a_practice_run_is_never_an_attempt_and_skips_hidden_tests() -> None:
    verdict = run_visible_tests(RELU, FORGOT_CHAIN_RULE, seed=1)
    assert verdict.practice and not verdict.counts_as_attempt
    assert verdict.status == Status.INCORRECT
    visible = [t["name"] for t in RELU["tests"] if not t.get("hidden")]
    assert verdict.tests is not None
    assert [test.name for test in verdict.tests if not test.hidden] == visible
    assert not any(test.hidden for test in verdict.tests)
    right = run_visible_tests(RELU, RELU["reference"], seed=1)
    assert right.status == Status.CORRECT and not right.counts_as_attempt


def test_a_check_still_counts() -> None:
    assert grade(RELU, FORGOT_CHAIN_RULE, seed=1).counts_as_attempt


def test_a_failing_visible_test_shows_inputs_expected_returned_and_difference() -> None:
    verdict = run_visible_tests(RELU, FORGOT_CHAIN_RULE, seed=1)
    assert verdict.tests is not None
    failed = next(test for test in verdict.tests if not test.passed)
    assert failed.shown is not None
    assert set(failed.shown["inputs"]) == {"x", "grad_out"}
    assert failed.shown["returned"].startswith("[[") and "1." in failed.shown["returned"]
    assert failed.shown["expected"].startswith("[[")
    assert float(failed.shown["max_abs_diff"]) > 0
    passed = next(test for test in verdict.tests if test.passed)
    assert passed.shown is None


def test_a_hidden_test_shows_no_values_and_no_traceback() -> None:
    verdict = grade(RELU, RAISES, seed=1)
    assert verdict.tests is not None
    hidden = [test for test in verdict.tests if test.hidden]
    assert hidden and all(test.shown is None and not test.traceback for test in hidden)


def test_the_traceback_is_beside_the_words_not_in_them() -> None:
    verdict = run_visible_tests(RELU, RAISES, seed=1)
    assert verdict.tests is not None
    raised = [test for test in verdict.tests if not test.passed and test.traceback]
    assert len(raised) >= 2
    assert all("line 3" in test.traceback and "grad_out[5000]" in test.traceback for test in raised)
    assert not any("Traceback" in test.message for test in verdict.tests)
    assert all("returned" not in (test.shown or {}) for test in raised)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (np.array([1.0, 2.5]), "[1. , 2.5]"),
        (np.float64(0.125), "0.125"),
        ((np.zeros(2), 3), "([0., 0.], 3)"),
    ],
)
def test_small_values_are_shown_whole(value: object, shown: str) -> None:
    assert show_value(value) == shown


def test_a_large_array_is_summarised() -> None:
    text = show_value(np.arange(128 * 256, dtype=np.float32).reshape(128, 256))
    assert text == "array of shape (128, 256), float32: [0.0, 1.0, 2.0, 3.0, …]"


def test_the_largest_difference_needs_one_shape() -> None:
    assert max_abs_diff(np.array([1.0, 2.0]), np.array([1.5, 0.0])) == pytest.approx(2.0)
    assert max_abs_diff(np.array([1.0]), np.array([1.0, 2.0])) is None
    assert max_abs_diff("text", np.array([1.0])) is None
