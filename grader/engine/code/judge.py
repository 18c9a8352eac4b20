"""Judge a finished sandbox run: one outcome per test, or one verdict for a run that ended badly.

Outcomes are scored into a verdict by score_outcomes(), which names the most basic failure
(PRIORITY) as the diagnosis. The checks' own outcomes are built in grader.engine.code.checks
from the problems judge_run() found on their calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.engine.code.compare import (
    compare_gradient,
    compare_output,
    find_mutation,
    within_subgradients,
)
from grader.engine.code.plan import PlannedCall
from grader.engine.code.spec import CodeExercise
from grader.engine.code.wording import (
    HIDDEN_FAILED,
    HIDDEN_FAILED_CODE,
    INTERFERED,
    NOT_RUN_AFTER_TIMEOUT,
    PASSED,
    Problem,
    exception_problem,
    timeout_text,
)
from grader.engine.sandbox.report import CallAnswer, ChildReport, SandboxRun
from grader.engine.types import (
    Message,
    Phrase,
    Status,
    TestResult,
    Verdict,
    gettext_noop,
    message,
    phrase,
    phrase_message,
    test_result,
)

PRIORITY = (
    "timeout",
    "exception",
    "memory_limit",
    "output_too_large",
    "forbidden_operation",
    "exited",
    "crashed",
    "wrong_type",
    "wrong_shape",
    "wrong_dtype",
    "wrong_values",
    "mutated_input",
    "unstable",
    "gradient_check",
    "too_slow",
    "caret_power",
)


@dataclass
class Outcome:
    """One graded test with the code of its problem, if any."""

    result: TestResult
    code: str = ""
    weight: float = 1.0
    static: bool = False  # read from the source, not from running it


@dataclass
class Judged:
    """A run's outcomes, one per test, and the problems found on each check's calls."""

    outcomes: list[Outcome] = field(default_factory=list)
    # By call kind ("stability", "gradient"): the problem of each of its calls that failed.
    check_problems: dict[str, list[Problem]] = field(default_factory=dict)
    # An answer took another valid subgradient than the reference at a kink somewhere.
    other_subgradient: bool = False


def judge_run(
    run: SandboxRun,
    report: ChildReport,
    calls: list[PlannedCall],
    exercise: CodeExercise,
    *,
    order: list[PlannedCall],
    timeout_s: float,
) -> Judged | Verdict:
    """Return the outcome of each test and the problems of each check, or a verdict for a run
    that ended abnormally.

    When the deadline ends a run that had loaded, the calls answered before it are judged as
    usual, the call that was running fails with a timeout and the calls after it were not run.
    A run that ended any other way once it held a hidden test's inputs is judged the same way:
    the calls it answered as usual, the hidden tests it did not answer failed (with one word).
    """
    if run.infrastructure_error:
        return sandbox_failed(calls)
    timed_out = run.timed_out or run.signal_name == "SIGXCPU"
    if timed_out and not report.loaded:
        return fatal("timeout", timeout_text(timeout_s), calls, Status.TIMEOUT)
    if not timed_out and not saw_hidden_inputs(report, order):
        ended = abnormal_end(run, report, calls, exercise)
        if ended is not None:
            return ended
    answered = len(report.answers)
    running = order[answered].id if timed_out and answered < len(order) else None
    judged = Judged()
    for call in calls:
        answer = report.answers.get(call.id)
        if running is not None and answer is None:
            problem: Problem | None = _stopped(call, running, timeout_s)
        else:
            problem = judge_call(call, answer, exercise)
            if problem is not None and _takes_another_subgradient(call, answer, exercise):
                problem, judged.other_subgradient = None, True
        if call.kind == "test" and call.test is not None:
            judged.outcomes.append(_test_outcome(call, problem))
        elif problem is not None:
            judged.check_problems.setdefault(call.kind, []).append(problem)
    return judged


def _stopped(call: PlannedCall, running: str, timeout_s: float) -> Problem:
    """Return the problem of a call the deadline stopped, or that never ran because of it."""
    if call.id == running:
        return Problem("timeout", timeout_text(timeout_s))
    return Problem("not_run", NOT_RUN_AFTER_TIMEOUT)


def _test_outcome(call: PlannedCall, problem: Problem | None) -> Outcome:
    """Return a test's outcome: a hidden test's failure is one fixed word under one code.

    Guarantee: whatever a submission does on a hidden test — which exception it raises, what it
    returns, whether it crashes, loops, exits or floods its output — the verdict shows only
    whether that test passed, so a submission learns at most one bit per hidden test.
    """
    test = call.test
    assert test is not None
    if problem is not None and test.hidden:
        problem = Problem(HIDDEN_FAILED_CODE, HIDDEN_FAILED)
    return Outcome(
        test_result(
            test.name,
            problem is None,
            problem.phrase() if problem else PASSED,
            hidden=test.hidden,
        ),
        code=problem.code if problem else "",
        weight=test.weight,
    )


def _takes_another_subgradient(
    call: PlannedCall, answer: CallAnswer | None, exercise: CodeExercise
) -> bool:
    """Say whether a call's answer differs from the reference only by a valid subgradient."""
    if call.alternative is None or answer is None or not answer.returned or answer.error:
        return False
    if not within_subgradients(answer.output, call.expected, call.alternative, exercise=exercise):
        return False
    return not (
        exercise.checks.get("no_mutation", True)
        and find_mutation(call.args, answer.args_digest, exercise)
    )


def judge_call(
    call: PlannedCall, answer: CallAnswer | None, exercise: CodeExercise
) -> Problem | None:
    """Return what is wrong with one call's answer, or None when it is right."""
    if answer is None:
        return Problem(
            "crashed", phrase(gettext_noop("Your function did not return from this call."))
        )
    if answer.error is not None:
        return exception_problem(
            answer.error, during=phrase(gettext_noop("while running this test"))
        )
    if not answer.returned:
        return Problem("forbidden_operation", INTERFERED)
    got = answer.output
    if call.kind == "gradient":
        return compare_gradient(got, call.expected, exercise)
    problem = compare_output(got, call.expected, exercise=exercise)
    if problem is None and exercise.checks.get("no_mutation", True):
        problem = find_mutation(call.args, answer.args_digest, exercise)
    return problem


def score_outcomes(outcomes: list[Outcome]) -> Verdict:
    """Score the outcomes and name the most basic failure.

    A static check earns its share only once some behavioural test passes: otherwise code that
    does nothing (the starter's `...`) would score for not using ^.
    """
    total = sum(outcome.weight for outcome in outcomes) or 1.0
    behaves = any(outcome.result.passed and not outcome.static for outcome in outcomes)
    for outcome in outcomes:
        earns = outcome.result.passed and (behaves or not outcome.static)
        outcome.result.score = outcome.weight / total if earns else 0.0
    failed = [outcome for outcome in outcomes if not outcome.result.passed]
    messages: list[Message] = []
    seen_codes: set[str] = set()
    for outcome in failed:
        if outcome.code not in seen_codes:
            seen_codes.add(outcome.code)
            template = (
                gettext_noop("Hidden test '%(name)s': %(problem)s")
                if outcome.result.hidden
                else gettext_noop("Test '%(name)s': %(problem)s")
            )
            said = outcome.result.words or phrase("%(text)s", text=outcome.result.message)
            messages.append(message(outcome.code, template, name=outcome.result.name, problem=said))
    diagnosis = None
    if failed:
        codes = [outcome.code for outcome in failed]
        diagnosis = min(
            codes, key=lambda code: PRIORITY.index(code) if code in PRIORITY else len(PRIORITY)
        )
    status = Status.INCORRECT if failed else Status.CORRECT
    if diagnosis == "timeout":
        status = Status.TIMEOUT
    return Verdict(
        status=status,
        score=round(sum(outcome.result.score for outcome in outcomes), 6),
        messages=messages,
        diagnosis=diagnosis,
        tests=[outcome.result for outcome in outcomes],
    )


def fatal(
    code: str, words: Phrase, calls: list[PlannedCall], status: Status = Status.INCORRECT
) -> Verdict:
    """Return the verdict of a run that ended badly: every test fails with the same words."""
    tests = [
        test_result(call.test.name, False, words, hidden=call.test.hidden)
        for call in calls
        if call.test is not None
    ]
    return Verdict(
        status=status, messages=[phrase_message(code, words)], diagnosis=code, tests=tests
    )


def abnormal_end(
    run: SandboxRun, report: ChildReport, calls: list[PlannedCall], exercise: CodeExercise
) -> Verdict | None:
    """Return the verdict for a run that crashed, was stopped or never loaded, else None.

    Only for a run that never held a hidden test's inputs: how it ended is its own choice.
    """
    if run.signal_name == "SIGXFSZ" or run.output_too_large:
        return fatal(
            "output_too_large",
            phrase(
                gettext_noop(
                    "Your code produced too much output (printing or writing files, or returning "
                    "a huge result). Remove large prints and return only what the function should."
                )
            ),
            calls,
        )
    if run.signal_name == "SIGSYS":
        return fatal(
            "forbidden_operation",
            phrase(
                gettext_noop(
                    "Your code made a system call the grader does not allow and was stopped."
                )
            ),
            calls,
        )
    if run.signal_name:
        return fatal(
            "crashed",
            phrase(
                gettext_noop(
                    "The Python process running your code crashed%(signal)s. This can happen when "
                    "memory runs out inside NumPy; check the sizes of the arrays you build."
                ),
                signal=f" ({run.signal_name})",
            ),
            calls,
        )
    if run.unreadable is not None or report.malformed:
        return fatal("forbidden_operation", INTERFERED, calls)
    if report.load_error is not None:
        # Before any call: nothing the code says at load time can carry a test's inputs.
        problem = exception_problem(
            report.load_error, during=phrase(gettext_noop("while your file was loading"))
        )
        return fatal(problem.code, problem.phrase(hidden=False), calls)
    if report.missing_function:
        # The code defines the name but, once it ran, the name was not a function: counted.
        return fatal(
            "missing_function",
            phrase(
                gettext_noop(
                    "After your code ran, %(function)s was not a function. Define it with "
                    "def %(function)s(...) at the top level of your code."
                ),
                function=exercise.function,
            ),
            calls,
        )
    if not report.loaded:
        return fatal(
            "exited",
            phrase(
                gettext_noop(
                    "Your code stopped the program (exit code %(code)s) before its results could "
                    "be checked. Remove calls to exit() or os._exit()."
                ),
                code=str(run.exit_code),
            ),
            calls,
        )
    return None


def saw_hidden_inputs(report: ChildReport, order: list[PlannedCall]) -> bool:
    """Say whether the child may have been sent a hidden test's inputs before it ended.

    order is the calls in the order they were sent (send_order).
    """
    if not report.loaded:
        return False
    sent = order[: len(report.answers) + 1]
    return any(call.test is not None and call.test.hidden for call in sent)


def sandbox_failed(calls: list[PlannedCall]) -> Verdict:
    verdict = fatal(
        "sandbox_failed",
        phrase(
            gettext_noop(
                "The grader could not run your code because of a problem on our side; it was not "
                "counted. Try again."
            )
        ),
        calls,
        Status.ERROR,
    )
    verdict.flags.append("sandbox_failed")
    return verdict
