"""The checks beyond the tests: stability on extreme inputs, the gradient, speed and ^ as a power.

Stability and gradient calls run with the tests (judge_run() collects their problems); speed runs
two children of its own once every test passed; the ^ check reads the source.
"""

from __future__ import annotations

import ast
import copy
import time
from dataclasses import dataclass
from typing import Any

from grader.engine.code.judge import Judged, Outcome, judge_run
from grader.engine.code.plan import SPEED_STREAM, PlannedCall, draw_inputs
from grader.engine.code.spec import CodeExercise, TestCase, check_cases
from grader.engine.code.wording import PASSED, Problem
from grader.engine.sandbox.report import SandboxRun, read_report
from grader.engine.sandbox.worker import Sandbox
from grader.engine.types import (
    Phrase,
    SpecError,
    authored_text,
    gettext_noop,
    is_phrase,
    phrase,
    test_result,
)

# What the speed check subtracts: a child's fixed cost, measured with a function that does nothing.
SPEED_BASELINE_SOURCE = "def speed_baseline(*args):\n    return None\n"
# The checks' default names (an exercise may name them itself); the page translates these.
SPEED_NAME = gettext_noop("fast enough on a large input")
STABILITY_NAME = gettext_noop("stable on extreme inputs")
GRADIENT_NAME = gettext_noop("matches finite differences")
CARET_NAME = gettext_noop("no ^ used as a power")
VECTORISE = phrase(gettext_noop("Replace Python loops with array operations."))


class SandboxFailed(RuntimeError):
    """The sandbox could not run a child (the zygote said so): not the student's fault."""


def check_outcomes(exercise: CodeExercise, judged: Judged) -> list[Outcome]:
    """Return the outcomes of the stability and gradient checks the exercise asks for."""
    outcomes = []
    stability = exercise.checks.get("stability")
    if stability:
        outcomes.append(stability_outcome(stability, judged.check_problems.get("stability", [])))
    if exercise.checks.get("gradient"):
        problems = judged.check_problems.get("gradient", [])
        outcomes.append(
            _check_outcome(GRADIENT_NAME, problems[0] if problems else None, "gradient_check")
        )
    return outcomes


def stability_outcome(settings: dict[str, Any], problems: list[Problem]) -> Outcome:
    """Return the stability check's outcome from the problems of its extreme-input calls."""
    name = str(settings.get("name", STABILITY_NAME))
    if not problems:
        return Outcome(
            test_result(name, True, PASSED),
            weight=float(settings.get("weight", 1.0)),
        )
    first = problems[0]
    advice = str(settings.get("feedback", "")).strip()
    if first.code in ("wrong_values", "wrong_type", "wrong_shape", "wrong_dtype"):
        describe = settings.get("describe")
        inputs = (
            authored_text(str(describe), ("checks", "stability", "describe"))
            if describe
            else phrase(gettext_noop("very large or very small values"))
        )
        words = phrase(
            gettext_noop("On extreme inputs (%(inputs)s): %(problem)s%(advice)s"),
            inputs=inputs,
            problem=first.phrase(hidden=False),
            advice=phrase(
                "%(space)s%(feedback)s",
                space=" ",
                feedback=authored_text(advice, ("checks", "stability", "feedback")),
            )
            if advice
            else "",
        )
        return Outcome(
            test_result(name, False, words),
            code="unstable",
            weight=float(settings.get("weight", 1.0)),
        )
    return Outcome(
        test_result(name, False, first.phrase(hidden=False)),
        code=first.code,
        weight=float(settings.get("weight", 1.0)),
    )


def _check_outcome(name: str, problem: Problem | None, code: str) -> Outcome:
    if problem is None:
        return Outcome(test_result(name, True, PASSED))
    chosen = code if problem.code in ("wrong_values", "gradient_check") else problem.code
    return Outcome(test_result(name, False, problem.phrase(hidden=False)), code=chosen)


def caret_outcome(tree: ast.AST) -> Outcome:
    """Return the outcome of the static check that ^ is not used as a power."""
    lines = caret_power_lines(tree)
    name = CARET_NAME
    if not lines:
        return Outcome(test_result(name, True, PASSED), static=True)
    words = phrase(
        gettext_noop(
            "Line %(lines)s uses ^ with a number. In Python ^ is bitwise XOR, not a power: "
            "write x ** 2 (or np.square(x)) instead of x ^ 2."
        ),
        lines=", ".join(str(line) for line in lines),
    )
    return Outcome(test_result(name, False, words), code="caret_power", static=True)


def caret_power_lines(tree: ast.AST) -> list[int]:
    """Return the lines where ^ is used with a number operand, as if it were a power."""
    lines = []
    operands: tuple[ast.expr, ...]
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitXor):
            operands = (node.left, node.right)
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.BitXor):
            operands = (node.value,)
        else:
            continue
        if any(isinstance(op, ast.Constant) and type(op.value) in (int, float) for op in operands):
            lines.append(node.lineno)
    return sorted(set(lines))


@dataclass
class SpeedCase:
    """The speed check's large input, with the reference's answer and its best CPU time."""

    name: str
    case: str
    args: list[Any]
    expected: Any
    reference_ms: float
    timeout_s: float


def speed_outcome(sandbox: Sandbox, exercise: CodeExercise, answer: str, seed: int) -> Outcome:
    """Time the submission against the reference on a large input, by the kernel's CPU accounting.

    The zygote measures the CPU time of the whole child that runs the submission on the large
    input, which the submission can raise but never lower. The fixed cost of a child comes off:
    the CPU time of an identical child, given the same input, that runs a trusted function doing
    nothing. No student code runs in that child, and nothing the submission reports is trusted.
    """
    settings = exercise.checks["speed"]
    speed = _time_reference(exercise, settings, seed)
    baseline, run = _run_timed_children(sandbox, exercise, answer, speed)
    if run.timed_out or run.signal_name == "SIGXCPU":
        words = phrase(
            gettext_noop(
                "Your code did not finish within %(seconds)s s on a large input, where a "
                "vectorised solution takes %(reference_ms)s ms. %(advice)s"
            ),
            seconds=f"{speed.timeout_s:g}",
            reference_ms=f"{speed.reference_ms:.1f}",
            advice=VECTORISE,
        )
        return _failed(speed.name, words, "too_slow")
    wrong = _judge_large_input(run, exercise, speed)
    if wrong is not None:
        return wrong
    return _compare_times(settings, speed, student_ms=max(run.cpu_ms - baseline.cpu_ms, 0.0))


def not_timed_outcome(exercise: CodeExercise) -> Outcome:
    """Return the speed check's outcome when some test failed: it is not timed then."""
    name = str(exercise.checks["speed"].get("name", SPEED_NAME))
    return _failed(name, phrase(gettext_noop("Not timed until the other tests pass.")), "not_run")


def _time_reference(exercise: CodeExercise, settings: dict[str, Any], seed: int) -> SpeedCase:
    """Draw the large input and time the reference on it, best of three, in CPU time."""
    case = check_cases(settings)[0]
    reference_ms = []
    expected = None
    try:
        args = draw_inputs(exercise, seed, SPEED_STREAM, case)
        for _ in range(3):
            copies = copy.deepcopy(args)
            begun = time.process_time()
            expected = exercise.reference(*copies)
            reference_ms.append((time.process_time() - begun) * 1000)
    except SpecError:
        raise
    except Exception as error:  # noqa: BLE001 - the generator or reference failed: the author's bug
        raise SpecError(type(error).__name__, ("checks", "speed")) from None
    return SpeedCase(
        name=str(settings.get("name", SPEED_NAME)),
        case=case,
        args=args,
        expected=expected,
        reference_ms=max(min(reference_ms), 0.05),
        timeout_s=float(settings.get("timeout", 5.0)),
    )


def _run_timed_children(
    sandbox: Sandbox, exercise: CodeExercise, answer: str, speed: SpeedCase
) -> tuple[SandboxRun, SandboxRun]:
    """Run the baseline child, then the submission's, on the very same job; both must answer."""
    # No mutation digest: the tests checked that. Both children get the very same job frames.
    job = [{"id": "speed", "args": speed.args, "digest": False}]
    baseline = sandbox.run(SPEED_BASELINE_SOURCE, "speed_baseline", job, timeout_s=speed.timeout_s)
    run = sandbox.run(answer, exercise.function, job, timeout_s=speed.timeout_s)
    for measured in (baseline, run):
        if measured.infrastructure_error:
            raise SandboxFailed(measured.infrastructure_error)
    if len(read_report(baseline.result).answers) != 1:
        raise SandboxFailed("the speed check's baseline child did not answer")
    return baseline, run


def _judge_large_input(run: SandboxRun, exercise: CodeExercise, speed: SpeedCase) -> Outcome | None:
    """Return a failed outcome when the submission's answer on the large input is wrong."""
    call = PlannedCall(
        "speed",
        "test",
        speed.args,
        speed.expected,
        TestCase(speed.name, speed.case, False, 1.0),
        speed.case,
    )
    judged = judge_run(
        run, read_report(run.result), [call], exercise, order=[call], timeout_s=speed.timeout_s
    )
    if not isinstance(judged, Judged):
        first = judged.messages[0]
        said = phrase(first.template, **first.params) if first.template else first.text
        return _failed(speed.name, said, judged.diagnosis or "")
    outcome = judged.outcomes[0] if judged.outcomes else None
    if outcome is not None and not outcome.result.passed:
        result = outcome.result
        words = phrase(
            gettext_noop("On a large input: %(problem)s"),
            problem=result.words or result.message,
        )
        return _failed(speed.name, words, outcome.code)
    return None


def _compare_times(settings: dict[str, Any], speed: SpeedCase, *, student_ms: float) -> Outcome:
    """Pass when the submission's CPU time is within max_slowdown times the reference's plus a margin."""
    factor = float(settings.get("max_slowdown", 10.0))
    margin = float(settings.get("margin_ms", 30.0))
    if student_ms > factor * speed.reference_ms + margin:
        slower = student_ms / speed.reference_ms
        words = phrase(
            gettext_noop(
                "Correct but %(times)s× slower than a vectorised solution on a large input "
                "(%(student_ms)s ms against %(reference_ms)s ms). %(advice)s"
            ),
            times=f"{slower:.0f}",
            student_ms=f"{student_ms:.0f}",
            reference_ms=f"{speed.reference_ms:.1f}",
            advice=VECTORISE,
        )
        return _failed(speed.name, words, "too_slow")
    return Outcome(test_result(speed.name, True, PASSED))


def _failed(name: str, words: str | Phrase, code: str) -> Outcome:
    said = words if is_phrase(words) else phrase("%(text)s", text=str(words))
    return Outcome(test_result(name, False, said), code=code)
