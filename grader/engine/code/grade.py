"""Grade one submitted function: read it, plan the calls, run them in the sandbox, judge, score.

The worker generates every input and computes every expected value itself; the submission runs
only in the sandbox (grader.engine.sandbox), which sends back raw outputs. All comparisons happen
here. Each step either hands the next one what it needs or stops with the verdict (_Stop).
"""

from __future__ import annotations

import ast
import functools
import time
from collections.abc import Callable
from typing import Any

from grader.engine.code.checks import (
    SandboxFailed,
    caret_outcome,
    check_outcomes,
    not_timed_outcome,
    speed_outcome,
)
from grader.engine.code.judge import Judged, Outcome, judge_run, sandbox_failed, score_outcomes
from grader.engine.code.mistakes import attach_mistake_feedback
from grader.engine.code.plan import (
    PlannedCall,
    complete_plan,
    plan_inputs,
    reference_seconds,
    send_order,
)
from grader.engine.code.spec import CodeExercise, compile_exercise
from grader.engine.config import EngineConfig, engine_config, sized_code_timeout
from grader.engine.sandbox.report import SandboxRun, read_report
from grader.engine.sandbox.worker import Sandbox, SandboxUnavailable, get_sandbox
from grader.engine.types import (
    Message,
    Phrase,
    SpecError,
    Status,
    Verdict,
    authored,
    gettext_noop,
    is_phrase,
    message,
    phrase,
    phrase_message,
)


class _Stop(Exception):
    """A step found the verdict: grading ends here with it."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.diagnosis)
        self.verdict = verdict


def grade_code(
    spec: dict[str, Any], answer: str, *, seed: int, config: EngineConfig | None = None
) -> Verdict:
    """Grade a submitted function against the exercise's reference, tests and checks.

    config gives the limits (the answer's length, the deadline); without it, the process's own.
    """
    started = time.perf_counter()
    try:
        verdict = _grade(spec, answer, seed, config)
    except _Stop as stop:
        verdict = stop.verdict
    verdict.elapsed_ms = (time.perf_counter() - started) * 1000
    return verdict


def _grade(spec: dict[str, Any], answer: str, seed: int, config: EngineConfig | None) -> Verdict:
    tree = _read_answer(answer, spec, config or engine_config())
    exercise = _compiled(spec)
    _require_function(tree, exercise, spec)
    calls = _planned(exercise, seed)
    order = send_order(calls)
    sandbox = get_sandbox()

    @functools.cache
    def expect() -> float:
        # While the child runs the submission: the expected values, and from the reference's
        # time the deadline. Without an explicit config it is the sandbox's (a test may run its
        # own sandbox).
        complete_plan(exercise, calls)
        return exercise.timeout_s or sized_code_timeout(
            reference_seconds(calls), config or sandbox.config
        )

    run = _run(sandbox, answer, exercise, order, expect)
    try:
        timeout_s = expect()  # done during the run, unless the sandbox failed before it
    except Exception as error:  # noqa: BLE001 - the exercise's trusted code
        raise _plan_failed(error) from None
    report = read_report(run.result)
    judged = judge_run(run, report, calls, exercise, order=order, timeout_s=timeout_s)
    if not isinstance(judged, Judged):
        return _with_sandbox_warning(judged, sandbox.layers)
    outcomes = judged.outcomes + check_outcomes(exercise, judged)
    if exercise.checks.get("speed"):
        outcomes.append(_speed(sandbox, exercise, answer, seed, outcomes, calls))
    if exercise.checks.get("caret_power"):
        outcomes.append(caret_outcome(tree))
    verdict = score_outcomes(outcomes)
    if judged.other_subgradient and exercise.subgradient_note and verdict.status == Status.CORRECT:
        verdict.messages.append(
            authored("subgradient_convention", exercise.subgradient_note, ("subgradient", "note"))
        )
    attach_mistake_feedback(verdict, exercise, report, calls)
    return _with_sandbox_warning(verdict, sandbox.layers)


def _read_answer(answer: str, spec: dict[str, Any], config: EngineConfig) -> ast.Module:
    """Return the answer's syntax tree; stop when it is too long or does not compile.

    Compiling (which runs nothing) also finds what the parser accepts, such as a return outside
    a function: the child need never report a syntax error, so it is never trusted to.
    """
    if spec.get("max_answer_bytes"):
        limit, size, unit = (
            int(spec["max_answer_bytes"]),
            len(answer.encode("utf-8", "replace")),
            "bytes",
        )
    else:
        limit, size, unit = config.max_answer_chars, len(answer), "characters"
    if size > limit:
        raise _Stop(
            _invalid(
                "too_long",
                phrase(
                    gettext_noop("Your code is too long to grade; keep it under %(limit)s bytes.")
                    if unit == "bytes"
                    else gettext_noop(
                        "Your code is too long to grade; keep it under %(limit)s characters."
                    ),
                    limit=f"{limit:,}",
                ),
            )
        )
    try:
        tree = ast.parse(answer, filename="submission.py")
        compile(tree, "submission.py", "exec", dont_inherit=True)
    except SyntaxError as error:
        raise _Stop(_invalid("syntax_error", _syntax_error_text(error, answer))) from None
    except (RecursionError, MemoryError, ValueError):
        raise _Stop(
            _invalid(
                "syntax_error",
                phrase(
                    gettext_noop(
                        "Your code could not be read: it is nested too deeply or contains a null "
                        "character."
                    )
                ),
            )
        ) from None
    return tree


def _syntax_error_text(error: SyntaxError, answer: str) -> Phrase:
    """Say where the syntax error is; Python's own description of it stays in English."""
    line = error.lineno or 0
    lines = answer.splitlines()
    text = (error.text or (lines[line - 1] if 0 < line <= len(lines) else "")).rstrip()
    shown = f"\n    {text.strip()}" if text else ""
    return phrase(
        gettext_noop("Syntax error on line %(line)d: %(error)s.%(code)s"),
        line=line,
        error=error.msg,
        code=shown,
    )


def _compiled(spec: dict[str, Any]) -> CodeExercise:
    try:
        return compile_exercise(spec)
    except SpecError as error:
        raise _Stop(_grader_error(_misconfigured(error), "spec_error")) from None


def _require_function(tree: ast.Module, exercise: CodeExercise, spec: dict[str, Any]) -> None:
    """Stop when the code never defines the function (the sandbox has the final word)."""
    if not _defines_function(tree, exercise.function):
        signature = spec.get("signature") or exercise.function
        raise _Stop(
            _invalid(
                "missing_function",
                phrase(
                    gettext_noop(
                        "Your code does not define %(signature)s. Keep the function's name."
                    ),
                    signature=signature,
                ),
            )
        )


def _defines_function(tree: ast.Module, name: str) -> bool:
    """Say whether the code defines or assigns name anywhere."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return True
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store):
            return True
        if isinstance(node, ast.alias) and (node.asname or node.name) == name:
            return True
    return False


def _planned(exercise: CodeExercise, seed: int) -> list[PlannedCall]:
    try:
        return plan_inputs(exercise, seed)
    except Exception as error:  # noqa: BLE001 - a failing generator is the author's bug
        raise _plan_failed(error) from None


def _plan_failed(error: Exception) -> _Stop:
    """Return the stop for an exercise whose generators or trusted code failed."""
    if isinstance(error, SpecError):
        return _Stop(_grader_error(_misconfigured(error), "spec_error"))
    return _Stop(
        _grader_error(
            phrase(
                gettext_noop("This exercise's generators failed (%(error)s)."),
                error=type(error).__name__,
            ),
            "spec_error",
        )
    )


def _run(
    sandbox: Sandbox,
    answer: str,
    exercise: CodeExercise,
    order: list[PlannedCall],
    expect: Callable[[], float],
) -> SandboxRun:
    try:
        return sandbox.run(
            answer,
            exercise.function,
            [
                {"id": call.id, "args": call.args, "hidden": bool(call.test and call.test.hidden)}
                for call in order
            ],
            return_when_answered=True,
            meanwhile=expect,
        )
    except SandboxUnavailable as error:
        raise _Stop(_sandbox_unavailable(error)) from None
    except Exception as error:  # noqa: BLE001 - raised by expect(): the exercise's trusted code
        raise _plan_failed(error) from None


def _speed(
    sandbox: Sandbox,
    exercise: CodeExercise,
    answer: str,
    seed: int,
    outcomes: list[Outcome],
    calls: list[PlannedCall],
) -> Outcome:
    """Return the speed check's outcome: timed only once every other test and check passed."""
    if not all(outcome.result.passed for outcome in outcomes):
        return not_timed_outcome(exercise)
    try:
        return speed_outcome(sandbox, exercise, answer, seed)
    except SandboxUnavailable as error:
        raise _Stop(_sandbox_unavailable(error)) from None
    except SandboxFailed:
        raise _Stop(_with_sandbox_warning(sandbox_failed(calls), sandbox.layers)) from None
    except SpecError as error:
        raise _Stop(
            _grader_error(
                phrase(
                    gettext_noop("This exercise's speed check failed (%(problem)s)."),
                    problem=str(error),
                ),
                "spec_error",
            )
        ) from None


def _misconfigured(error: SpecError) -> Phrase:
    return phrase(gettext_noop("This exercise is misconfigured (%(problem)s)."), problem=str(error))


def _invalid(code: str, words: str | Phrase) -> Verdict:
    message = phrase_message(code, words) if is_phrase(words) else Message(code, str(words))
    return Verdict(status=Status.INVALID, messages=[message], diagnosis=code)


def _grader_error(words: str | Phrase, code: str) -> Verdict:
    message = phrase_message(code, words) if is_phrase(words) else Message(code, str(words))
    return Verdict(status=Status.ERROR, messages=[message], diagnosis=code, flags=[code])


def _sandbox_unavailable(error: Exception) -> Verdict:
    return _grader_error(
        phrase(
            gettext_noop(
                "Code exercises cannot be graded on this server right now: the sandbox is "
                "incomplete (%(reason)s). Your answer was not counted."
            ),
            reason=str(error),
        ),
        "sandbox_unavailable",
    )


def _with_sandbox_warning(verdict: Verdict, layers: dict[str, bool | str]) -> Verdict:
    if layers.get("full") is not True:
        verdict.messages.append(
            message(
                "sandbox_reduced",
                gettext_noop(
                    "Warning: graded in a reduced sandbox (development setting; %(layers)s)."
                ),
                layers=str(layers.get("full")),
            )
        )
        verdict.flags.append("sandbox_reduced")
    return verdict
