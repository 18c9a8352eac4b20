"""The code grader: checks, messages, partial credit and spec validation, through grade()."""

from __future__ import annotations

import json
import re
import textwrap
import tracemalloc
from typing import Any

import pytest

from grader.engine import grade, validate_spec, variant
from grader.engine.code.checks import caret_power_lines
from grader.engine.code.compare import as_number_array
from grader.engine.code.spec import (
    CompiledExercises,
    compile_exercise,
    compiled_exercises,
    parse_signature,
    spec_key,
)
from grader.engine.sandbox.report import read_report
from grader.engine.types import Status

INPUTS = """
import numpy as np

def make_inputs(rng, case):
    n = {"small": 4, "big": 50, "huge": 6}[case]
    x = rng.normal(size=(n, 3))
    if case == "huge":
        x = x * 1000.0
    return {"x": x, "w": rng.normal(size=3)}
"""


def _spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "id": "0b7c5a52-2f0a-4f5e-9c57-3f1f6f4f1a01",
        "title": "Scores",
        "kind": "code",
        "function": "score",
        "signature": "score(x, w) -> ndarray",
        "starter": "def score(x, w):\n    ...\n",
        "prompt": "Return x @ w.",
        "reference": "import numpy as np\ndef score(x, w):\n    return x @ w\n",
        "inputs": INPUTS,
        "tests": [
            {"name": "small", "case": "small"},
            {"name": "big", "case": "big", "hidden": True},
        ],
        "tolerance": {"rtol": 1e-9, "atol": 1e-12},
    }
    spec.update(overrides)
    return spec


def _code(body: str) -> str:
    return (
        "import numpy as np\n\ndef score(x, w):\n"
        + textwrap.indent(textwrap.dedent(body).strip(), "    ")
        + "\n"
    )


def test_it_accepts_a_correct_function() -> None:
    verdict = grade(_spec(), _code("return x @ w"), seed=1)
    assert verdict.status == Status.CORRECT
    assert verdict.score == pytest.approx(1.0)
    assert verdict.tests is not None and all(test.passed for test in verdict.tests)


def test_it_accepts_an_equivalent_formulation_within_tolerance() -> None:
    verdict = grade(_spec(), _code("return np.einsum('ij,j->i', x, w)"), seed=1)
    assert verdict.status == Status.CORRECT


def test_it_reports_a_syntax_error_with_its_line() -> None:
    verdict = grade(_spec(), "import numpy as np\n\ndef score(x, w)\n    return x\n", seed=1)
    assert verdict.status == Status.INVALID
    assert verdict.diagnosis == "syntax_error"
    assert "line 3" in verdict.messages[0].text
    assert not verdict.counts_as_attempt


def test_it_says_when_the_function_is_missing() -> None:
    verdict = grade(_spec(), "def scores(x, w):\n    return x @ w\n", seed=1)
    assert verdict.status == Status.INVALID
    assert verdict.diagnosis == "missing_function"


def test_it_shows_a_traceback_from_the_students_code_only() -> None:
    verdict = grade(_spec(), _code("y = x.T\nreturn y @ np.ones(7)"), seed=1)
    assert verdict.status == Status.INCORRECT
    assert verdict.diagnosis == "exception"
    text = verdict.messages[0].text
    assert "ValueError" in text and "line 5" in text
    # The traceback travels beside the words, once per test, for the page to show once.
    assert verdict.tests is not None
    trace = verdict.tests[0].traceback
    assert "line 5" in trace and "y @ np.ones(7)" in trace and "y @ np.ones(7)" not in text
    assert "sandbox_zygote" not in trace + text and "grader" not in trace + text


def test_a_hidden_test_reveals_no_values_or_exception_text() -> None:
    source = _code("if x.shape[0] > 10:\n    raise ValueError('secret ' + repr(x))\nreturn x @ w")
    verdict = grade(_spec(), source, seed=1)
    assert verdict.status == Status.INCORRECT
    assert verdict.tests is not None
    visible, hidden, caret = verdict.tests
    assert visible.passed and not hidden.passed and hidden.hidden and caret.passed
    assert "secret" not in json.dumps(verdict.to_dict())
    assert "Hidden test 'big'" in verdict.messages[0].text
    assert verdict.score == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "hidden_branch",
    [
        "raise type('Leak%d' % (abs(x[0, 0]) * 1e6), (Exception,), {})()",
        "return np.zeros((0, int(abs(x[0, 0]) * 1e6) % 10**6 + 1))",
    ],
)
def test_a_hidden_test_names_neither_the_codes_own_classes_nor_its_shapes(
    hidden_branch: str,
) -> None:
    # The submission chooses both freely, so either could spell out a hidden input.
    source = _code(f"if x.shape[0] > 10:\n    {hidden_branch}\nreturn x @ w")
    verdict = grade(_spec(), source, seed=1)
    assert verdict.tests is not None and not verdict.tests[1].passed
    as_json = json.dumps(verdict.to_dict())
    assert "Leak" not in as_json and "(0, " not in as_json
    assert "Hidden test 'big'" in verdict.messages[0].text


TUPLE_SPEC = {
    "signature": "score(x, w) -> (total, mean)",
    "reference": "def score(x, w):\n    return float((x @ w).sum()), float((x @ w).mean())\n",
}
# Hidden branches that try to spell out the hidden input x (50 × 3 on test 'big', 4 × 3 on the
# visible one) in their feedback. Each takes k, a number drawn from x, so two seeds give two ks.
HIDDEN_LEAKS: dict[str, tuple[dict[str, Any], str]] = {
    "the line of an exception": (
        {},
        "exec(compile('\\n' * (k % 5000) + 'raise ValueError()', 'submission.py', 'exec'))",
    ),
    "the index of a non-finite value": ({}, "out = x @ w\nout[k % 50] = np.inf\nreturn out"),
    "how many values are wrong": ({}, "out = x @ w\nout[: k % 50] += 1.0\nreturn out"),
    "the size of the largest error": ({}, "out = x @ w\nout[0] += k\nreturn out"),
    "a constant read back from the error": ({}, "return np.full(50, float(k))"),
    "the shape of an empty array": ({}, "return np.zeros((0, k % 1000 + 1))"),
    "an integer dtype of its choice": ({}, "return (x @ w).astype(['int8', 'int64'][k % 2])"),
    "which input it mutates": ({}, "out = x @ w\n[x, w][k % 2][0] = 7.0\nreturn out"),
    "an exception class of its own": ({}, "raise type('Leak%d' % k, (Exception,), {})()"),
    "a MemoryError's line": (
        {},
        "exec(compile('\\n' * (k % 5000) + 'raise MemoryError()', 'submission.py', 'exec'))",
    ),
    "a tuple's class name": (
        TUPLE_SPEC,
        "Leak = type('Leak', (), {})\nLeak.__qualname__ = 'x%d' % k\nreturn Leak()",
    ),
    "a tuple's shape": (TUPLE_SPEC, "return np.zeros((k % 1000, 0))"),
    "a tuple's length": (TUPLE_SPEC, "return [0.0] * (k % 1000)"),
    "a part's value": (TUPLE_SPEC, "return float((x @ w).sum()), float(k)"),
    "the signal it ends with": (
        {},
        "import os, signal\nos.kill(os.getpid(), [signal.SIGUSR1, signal.SIGUSR2][k % 2])",
    ),
}


@pytest.mark.parametrize("name", list(HIDDEN_LEAKS))
def test_a_hidden_tests_feedback_carries_nothing_the_code_chose(name: str) -> None:
    overrides, hidden_branch = HIDDEN_LEAKS[name]
    spec = _spec(**overrides)
    correct = "s = x @ w\nreturn float(s.sum()), float(s.mean())" if overrides else "return x @ w"
    source = _code(
        "if x.shape[0] > 10:\n    k = int(abs(x[0, 0]) * 1e6)\n"
        + textwrap.indent(hidden_branch, "    ")
        + f"\n{correct}"
    )
    shown = []
    for seed in (1, 2):
        verdict = grade(spec, source, seed=seed)
        assert verdict.tests is not None and not verdict.tests[1].passed, verdict.to_dict()
        hidden = verdict.tests[1]
        assert hidden.hidden and re.search("[0-9]", hidden.message) is None, hidden.message
        assert "Leak" not in json.dumps(verdict.to_dict()), verdict.to_dict()
        assert "SIGUSR" not in json.dumps(verdict.to_dict()), verdict.to_dict()
        shown.append((hidden.message, [m.text for m in verdict.messages if "Hidden" in m.text]))
    # Two seeds, two hidden inputs, two different choices by the code: the same words.
    assert shown[0] == shown[1]


def test_the_unchanged_starter_scores_nothing_for_the_static_check() -> None:
    verdict = grade(_spec(), _spec()["starter"], seed=1)
    assert verdict.tests is not None and verdict.tests[-1].passed  # no ^ in `...`
    assert verdict.score == 0.0


@pytest.mark.parametrize(
    ("loops_when", "passed", "failed_codes"),
    [
        # The hidden test runs last: its timeout is its failure, in the one word.
        ("x.shape[0] > 10", [True, False, True], ["hidden_test_failed"]),
        ("x.shape[0] < 10", [False, False, True], ["timeout", "hidden_test_failed"]),
    ],
)
def test_a_timeout_fails_the_test_that_was_running_and_keeps_the_earlier_ones(
    loops_when: str, passed: list[bool], failed_codes: list[str]
) -> None:
    source = _code(f"if {loops_when}:\n    while True:\n        pass\nreturn x @ w")
    verdict = grade(_spec(timeout=1), source, seed=1)
    assert verdict.tests is not None
    assert [test.passed for test in verdict.tests] == passed
    assert [message.code for message in verdict.messages] == failed_codes
    assert verdict.score == pytest.approx(2 / 3 if passed[0] else 0.0)
    if failed_codes[0] == "timeout":
        assert verdict.status == Status.TIMEOUT and verdict.diagnosis == "timeout"
        assert "did not finish within 1 seconds" in verdict.messages[0].text


def test_it_names_the_largest_error_and_where_it_is() -> None:
    verdict = grade(_spec(), _code("out = x @ w\nout[2] += 0.5\nreturn out"), seed=1)
    assert verdict.diagnosis == "wrong_values"
    assert "largest error 0.5 at index 2" in verdict.messages[0].text


def test_it_reports_a_wrong_shape() -> None:
    verdict = grade(_spec(), _code("return (x @ w)[:, None]"), seed=1)
    assert verdict.diagnosis == "wrong_shape"
    assert "(4, 1)" in verdict.messages[0].text and "(4,)" in verdict.messages[0].text


def test_it_reports_an_integer_dtype() -> None:
    verdict = grade(_spec(), _code("return (x @ w).astype(int)"), seed=1)
    assert verdict.diagnosis == "wrong_dtype"


def test_it_reports_a_list_instead_of_an_array_by_its_values() -> None:
    verdict = grade(_spec(), _code("return list(x @ w)"), seed=1)
    assert verdict.status == Status.CORRECT  # a list of the right floats is accepted as numbers


def test_it_reports_a_mutated_input() -> None:
    verdict = grade(
        _spec(),
        _code("x *= 1.0\nx[0, 0] = 99.0\nreturn np.zeros(len(x)) + (x @ w) * 0 + 1"),
        seed=1,
    )
    assert verdict.status == Status.INCORRECT
    verdict = grade(_spec(), _code("out = x @ w\nw[0] = 0.0\nreturn out"), seed=1)
    assert verdict.diagnosis == "mutated_input"
    assert "changed its input w" in verdict.messages[0].text


def test_mutation_is_allowed_when_the_check_is_off() -> None:
    spec = _spec(checks={"no_mutation": False})
    assert (
        grade(spec, _code("out = x @ w\nw[0] = 0.0\nreturn out"), seed=1).status == Status.CORRECT
    )


def test_it_flags_caret_used_as_a_power() -> None:
    spec = _spec(reference="def score(x, w):\n    return (x @ w) ** 2\n")
    verdict = grade(spec, _code("return (x @ w) ^ 2"), seed=1)
    assert verdict.status == Status.INCORRECT
    assert "caret_power" in [message.code for message in verdict.messages]
    assert any("bitwise XOR" in message.text for message in verdict.messages)


def test_caret_between_masks_is_not_a_power() -> None:
    assert caret_power_lines(
        __import__("ast").parse("a = (x > 0) ^ (y > 0)\nb = x ^ 2\nc ^= 3")
    ) == [2, 3]


def test_it_checks_stability_on_extreme_inputs() -> None:
    spec = _spec(
        reference="import numpy as np\ndef score(x, w):\n    m = x.max(axis=1)\n    return m + np.log(np.exp(x - m[:, None]).sum(axis=1))\n",
        checks={"stability": {"case": "huge", "feedback": "Subtract the maximum first."}},
    )
    naive = _code("return np.log(np.exp(x).sum(axis=1))")
    verdict = grade(spec, naive, seed=2)
    assert verdict.status == Status.INCORRECT
    assert verdict.diagnosis == "unstable"
    assert "Subtract the maximum first." in verdict.messages[0].text
    stable = _code("m = x.max(axis=1)\nreturn m + np.log(np.exp(x - m[:, None]).sum(axis=1))")
    assert grade(spec, stable, seed=2).status == Status.CORRECT


def test_it_checks_a_gradient_by_finite_differences() -> None:
    spec = _spec(
        signature="score(x, w) -> ndarray",
        reference="def score(x, w):\n    return x.sum(axis=0) * 0 + x.T @ (x @ w) * 2\n",
        checks={
            "gradient": {
                "forward": "import numpy as np\ndef forward(x, w):\n    return np.sum((x @ w) ** 2)\n",
                "wrt": ["w"],
                "case": "small",
            }
        },
    )
    assert grade(spec, _code("return 2 * x.T @ (x @ w)"), seed=3).status == Status.CORRECT
    verdict = grade(spec, _code("return x.T @ (x @ w)"), seed=3)
    assert "gradient_check" in [message.code for message in verdict.messages]


def test_it_names_the_wrong_part_of_a_tuple() -> None:
    spec = _spec(
        signature="score(x, w) -> (total, mean)",
        reference="def score(x, w):\n    return float((x @ w).sum()), float((x @ w).mean())\n",
    )
    verdict = grade(spec, _code("s = x @ w\nreturn float(s.sum()), float(s.sum())"), seed=1)
    assert verdict.status == Status.INCORRECT
    assert verdict.messages[0].text.split(": ", 1)[1].startswith("mean is wrong")
    verdict = grade(spec, _code("return float((x @ w).sum())"), seed=1)
    assert verdict.diagnosis == "wrong_type"
    assert "(total, mean)" in verdict.messages[0].text


def test_a_fast_reference_fails_a_slow_loop() -> None:
    spec = _spec(
        inputs=INPUTS.replace('"huge": 6', '"huge": 6, "speed": 200_000'),
        checks={"speed": {"case": "speed", "max_slowdown": 10, "margin_ms": 50}},
    )
    loop = _code(
        "out = np.zeros(len(x))\nfor i in range(len(x)):\n    for j in range(3):\n        out[i] += x[i, j] * w[j]\nreturn out"
    )
    verdict = grade(spec, loop, seed=1)
    assert verdict.diagnosis == "too_slow"
    assert "slower than a vectorised solution" in verdict.messages[0].text
    assert verdict.score == pytest.approx(3 / 4)  # small, big and caret pass; speed fails
    assert grade(spec, _code("return x @ w"), seed=1).status == Status.CORRECT


def test_a_slow_loop_cannot_pass_by_burning_time_where_the_baseline_is_measured() -> None:
    # Subtracting a second child that ran the submission on one small call let code that burned
    # CPU whenever its job ended after a single call pass with a loop: the baseline is trusted now.
    spec = _spec(
        inputs=INPUTS.replace('"huge": 6', '"huge": 6, "speed": 200_000'),
        checks={"speed": {"case": "speed", "max_slowdown": 10, "margin_ms": 50}},
    )
    cheat = textwrap.dedent(
        """
            import os, time
            import numpy as np
            CALLS = []
            READ = os.read
            def read(fd, count):
                data = READ(fd, count)
                if fd == 3 and not data and len(CALLS) == 1:
                    begun = time.process_time()
                    while time.process_time() - begun < 1.5:
                        pass
                return data
            os.read = read
            """
    ) + _code(
        """
            CALLS.append(len(x))
            out = np.zeros(len(x))
            for i in range(len(x)):
                for j in range(3):
                    out[i] += x[i, j] * w[j]
            return out
            """
    )
    verdict = grade(spec, cheat, seed=1)
    assert verdict.diagnosis == "too_slow", verdict.to_dict()


def test_a_forged_answer_on_the_speed_input_is_the_students_output_not_a_spec_error() -> None:
    # An ndarray where the digests go made `digest != ...` raise in the worker, and the verdict
    # became "This exercise's speed check failed": not counted, blamed on the author.
    spec = _spec(
        inputs=INPUTS.replace('"huge": 6', '"huge": 6, "speed": 200_000'),
        checks={"speed": {"case": "speed", "max_slowdown": 10, "margin_ms": 50}},
    )
    forger = "import os, sys\nWIRE = sys.modules['grader.engine.sandbox.wire']\n" + _code(
        """
        out = np.zeros(len(x))
        for i in range(len(x)):
            out[i] = x[i] @ w
        if len(x) == 200_000:
            answer = {'output': out, 'args_digest': [np.zeros(2), np.zeros(2)], 'elapsed_ms': 1.0}
            os.write(4, WIRE.encode(answer))
            os._exit(0)
        return out
        """
    )
    verdict = grade(spec, forger, seed=1)
    assert verdict.status == Status.INCORRECT, verdict.to_dict()
    assert verdict.counts_as_attempt and "spec_error" not in verdict.flags
    assert verdict.diagnosis == "forbidden_operation"


def test_a_failing_speed_generator_is_still_the_authors_error() -> None:
    inputs = INPUTS.replace('"huge": 6', '"huge": 6, "speed": -1')
    spec = _spec(inputs=inputs, checks={"speed": {"case": "speed"}})
    verdict = grade(spec, _code("return x @ w"), seed=1)
    assert verdict.status == Status.ERROR and verdict.diagnosis == "spec_error"
    assert "speed check failed (ValueError)" in verdict.messages[0].text


@pytest.mark.parametrize(
    "entry",
    [
        {"output": 1.0},  # no digests
        {"output": 1.0, "args_digest": "abc"},
        {"output": 1.0, "args_digest": [3]},
        {"output": 1.0, "args_digest": [], "error": {"type": "ValueError"}},
        {"output": 1.0, "args_digest": [], "elapsed_ms": "1"},
        {"error": "ValueError"},
        {"error": {"type": 3}},
        {"error": {"type": "OSError", "errno": True}},
        {"error": {"type": "OSError", "errno": 2.0}},
        {"error": {"type": "ValueError", "line": "7"}},
        {"error": {"type": "ValueError", "base": "KeyboardInterrupt"}},
        {"error": {"type": "ValueError", "message": ["x"]}},
        {"error": {"type": "ValueError", "secret": 1}},
        {},
    ],
)
def test_a_child_answer_that_no_honest_child_sends_is_malformed(entry: dict[str, Any]) -> None:
    answer = read_report({"calls": [{"id": "t0", **entry}]}).answers["t0"]
    assert answer.malformed and not answer.returned and answer.error is None


def test_an_honest_childs_answers_are_read_into_types() -> None:
    report = read_report(
        {
            "calls": [
                {"id": "t0", "output": [1.0], "args_digest": ["ab", None], "elapsed_ms": 0.5},
                {"id": "t1", "error": {"type": "OSError", "message": "m", "line": 3, "errno": 27}},
            ]
        }
    )
    assert report.loaded and report.answers["t0"].args_digest == ("ab", None)
    error = report.answers["t1"].error
    assert error is not None and (error.type_name, error.line, error.errno) == ("OSError", 3, 27)
    assert read_report({"load_error": {"type": 1}}).malformed
    assert read_report({"syntax_error": {"line": 1, "message": ""}}).malformed
    assert read_report({"missing_function": True}).missing_function
    assert read_report({"missing_function": "yes"}).malformed


def test_the_same_seed_gives_the_same_verdict_and_another_seed_other_inputs() -> None:
    wrong = _code("out = x @ w\nout[0] += 1e-3\nreturn out")
    first = grade(_spec(), wrong, seed=9).messages[0].text
    assert grade(_spec(), wrong, seed=9).messages[0].text == first
    assert grade(_spec(), wrong, seed=10).messages[0].text != first


def test_it_attaches_a_known_mistakes_feedback() -> None:
    spec = _spec(
        mistakes=[
            {"code": _code("return x.sum(axis=1)"), "feedback": "Multiply by w, do not just add."}
        ]
    )
    verdict = grade(spec, _code("return np.sum(x, axis=1)"), seed=1)
    assert verdict.messages[0].code == "known_mistake"
    assert verdict.messages[0].text == "Multiply by w, do not just add."


def test_a_broken_spec_is_a_grader_error_not_the_students() -> None:
    verdict = grade(_spec(reference="def other():\n    pass\n"), _code("return x @ w"), seed=1)
    assert verdict.status == Status.ERROR
    assert not verdict.counts_as_attempt


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"reference": "def other(x, w):\n    return x\n"}, "does not define score"),
        (
            {"inputs": "def make_inputs(rng, case):\n    return {'x': 1}\n"},
            "must return a dict with keys",
        ),
        (
            {"inputs": "def make_inputs(rng, case):\n    raise KeyError(case)\n"},
            "generators or reference fail",
        ),
        ({"checks": {"speediness": True}}, "checks: unknown field 'speediness'"),
        ({"checks": {"gradient": {"wrt": ["x"]}}}, "missing required field 'forward'"),
        ({"checks": {"stability": {"name": "x"}}}, "checks.stability: give case or cases"),
        ({"signature": "scored(x, w)"}, "signature names scored"),
        (
            {"tests": [{"name": "only hidden", "case": "small", "hidden": True}]},
            "at least one test must be visible",
        ),
        ({"starter": "def score(x, w)\n"}, "starter has a syntax error"),
        (
            {"mistakes": [{"code": "def score(x, w):\n    return x\n"}]},
            "mistakes[0]: missing required field 'feedback'",
        ),
        ({"tests": []}, "tests: give at least 1"),
    ],
)
def test_validate_reports_problems_in_words(overrides: dict[str, Any], fragment: str) -> None:
    problems = validate_spec(_spec(**overrides))
    assert any(fragment in problem.message for problem in problems), problems


def test_validate_accepts_a_sound_spec() -> None:
    assert validate_spec(_spec()) == []


def test_variant_returns_the_prompt_and_reference() -> None:
    assert variant(_spec(), 5) == {
        "parameters": {},
        "prompt": "Return x @ w.",
        "reference": _spec()["reference"],
        "reference_latex": None,
        "solution": "",
    }


def test_parse_signature_reads_tuple_returns() -> None:
    assert parse_signature("linear_backward(x, W, b, grad_out) -> (dx, dW, db)") == (
        "linear_backward",
        ["x", "W", "b", "grad_out"],
        ["dx", "dW", "db"],
    )


def test_a_function_defined_inside_a_block_is_found() -> None:
    source = "import numpy as np\n\nif True:\n    def score(x, w):\n        return x @ w\n"
    assert grade(_spec(), source, seed=1).status == Status.CORRECT


def test_a_name_that_is_not_callable_once_the_code_ran_counts_as_an_attempt() -> None:
    # The code ran in the sandbox and then had no function: that is the student's doing.
    verdict = grade(_spec(), "score = 3\n", seed=1)
    assert verdict.status == Status.INCORRECT
    assert verdict.diagnosis == "missing_function"
    assert verdict.counts_as_attempt


def test_a_compile_time_error_is_found_before_the_code_runs() -> None:
    verdict = grade(_spec(), _code("return x @ w") + "return 5\n", seed=1)
    assert verdict.status == Status.INVALID
    assert verdict.diagnosis == "syntax_error"
    assert "line 5: 'return' outside function.\n    return 5" in verdict.messages[0].text


def test_an_integer_beyond_64_bits_is_a_wrong_type_not_a_grader_crash() -> None:
    spec = _spec(
        reference="def score(x, w):\n    return float((x @ w).sum())\n",
        mistakes=[{"code": _code("return 0.0"), "feedback": "Sum the scores."}],
    )
    verdict = grade(spec, _code("return 2 ** 70"), seed=1)
    assert verdict.status == Status.INCORRECT
    assert verdict.diagnosis == "wrong_type"


def test_a_misspelt_field_is_named_by_validation() -> None:
    from course.content import exercise_spec_by_slug
    from grader.engine import validate_spec

    spec = dict(exercise_spec_by_slug("relu-backward"))
    spec["mistake"] = spec.pop("mistakes")
    (problem,) = [p for p in validate_spec(spec) if "unknown field" in p.message]
    assert problem.path == ("mistake",)
    assert problem.message.startswith(
        "unknown field 'mistake' (allowed here: also_correct, checks,"
    )


@pytest.mark.parametrize(
    "value",
    [
        ["x" * 100_000] + ["a"] * 1000,  # np.asarray pads every string to the longest: 400 MB
        [1.0, "x" * 100_000, *([2.0] * 1000)],
        [[1.0, 2.0], ["x" * 100_000] * 2],
    ],
)
def test_a_list_that_holds_strings_is_not_turned_into_an_array(value: list[Any]) -> None:
    tracemalloc.start()
    try:
        assert as_number_array(value) is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20


def test_a_list_of_numbers_and_numeric_arrays_is_still_compared() -> None:
    import numpy as np

    assert as_number_array([1, 2.5, True]).tolist() == [1.0, 2.5, 1.0]
    assert as_number_array([np.float64(1.0), np.float32(2.0)]).dtype.kind == "f"
    assert as_number_array([np.zeros(2), np.ones(2)]).shape == (2, 2)
    assert as_number_array([np.array(["a"])]) is None


def test_an_exercise_is_compiled_once_per_content() -> None:
    spec = _spec()
    assert compile_exercise(spec) is compile_exercise(_spec())
    edited = _spec(tolerance={"rtol": 1e-6, "atol": 1e-12})
    assert compile_exercise(edited) is not compile_exercise(spec)
    assert len(compiled_exercises) <= compiled_exercises.size


def test_the_compiled_exercises_drop_the_least_recently_used() -> None:
    cache = CompiledExercises(size=2)
    specs = [_spec(prompt=f"Return x @ w ({index}).") for index in range(3)]
    first, second, third = (compile_exercise(spec) for spec in specs)
    keys = [spec_key(spec) for spec in specs]
    cache.put(keys[0], first)
    cache.put(keys[1], second)
    assert cache.get(keys[0]) is first  # now the most recently used
    cache.put(keys[2], third)
    assert [cache.get(key) for key in keys] == [first, None, third]
    assert len(cache) == 2


# What a submission can do on a hidden test that fails it: each is a different choice, and each
# choice used to show (an exception's built-in name, the kind of wrong result, a signal, a loop).
HIDDEN_FAILURES = [
    *(f"raise {name}()" for name in ("ValueError", "TypeError", "KeyError", "ZeroDivisionError")),
    "raise MemoryError()",
    "raise SystemExit()",
    "import os\nos.open('/etc/passwd', os.O_RDONLY)",
    "return x",
    "return (x @ w).astype(int)",
    "return x @ w + 1.0",
    "out = x @ w\nw[0] = 7.0\nreturn out",
    "import os, signal\nos.kill(os.getpid(), signal.SIGUSR1)",
    "import os\nos._exit(3)",
    "print('x' * 10**8)",
    "while True:\n    pass",
]


def test_a_hidden_tests_failure_is_one_fixed_word_whatever_the_code_did() -> None:
    # Each failure above is a symbol the submission may choose by a hidden input (k % 16 picks
    # one: four bits a submission). The verdict must be the same for all of them.
    shown = set()
    for branch in HIDDEN_FAILURES:
        source = _code("if x.shape[0] > 10:\n" + textwrap.indent(branch, "    ") + "\nreturn x @ w")
        verdict = grade(_spec(timeout=1), source, seed=1)
        details = verdict.to_dict()
        details.pop("elapsed_ms")
        shown.add(json.dumps(details, sort_keys=True))
    assert len(shown) == 1, shown
    verdict = json.loads(shown.pop())
    assert verdict["status"] == "incorrect" and verdict["diagnosis"] == "hidden_test_failed"
    assert [m["code"] for m in verdict["messages"]] == ["hidden_test_failed"]
    visible, hidden, _caret = verdict["tests"]
    assert visible["passed"] and visible["message"] == "Passed."
    assert not hidden["passed"] and hidden["message"] == "Failed."
