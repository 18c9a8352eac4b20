"""Known mistakes: an authored wrong submission's feedback, shown when the student made it.

A mistake matches by the diagnosis it names, or by behaving like the student's code: on the same
inputs, the mistake's trusted function returns what the student returned and mutates alike.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from grader.engine.code.compare import compare_output, find_mutation
from grader.engine.code.plan import PlannedCall
from grader.engine.code.spec import CodeExercise, KnownMistake
from grader.engine.sandbox.report import ChildReport
from grader.engine.sandbox.runtime import digest_arguments
from grader.engine.types import KNOWN_MISTAKE, Message, Status, Verdict, authored


def _feedback(mistake: KnownMistake) -> Message:
    return authored(KNOWN_MISTAKE, mistake.feedback, ("mistakes", mistake.index, "feedback"))


def attach_mistake_feedback(
    verdict: Verdict, exercise: CodeExercise, report: ChildReport, calls: list[PlannedCall]
) -> None:
    """Add a known mistake's feedback when the submission earns its diagnosis or behaves like it."""
    if verdict.status is Status.CORRECT or not exercise.mistakes:
        return
    failed_codes = {message.code for message in verdict.messages}
    for mistake in exercise.mistakes:
        if mistake.diagnosis and mistake.diagnosis in failed_codes:
            verdict.messages.insert(0, _feedback(mistake))
            return
    for call in calls:
        answer = report.answers.get(call.id)
        if call.kind == "gradient" or answer is None or not answer.returned:
            continue
        got, after = answer.output, answer.args_digest
        wrong = compare_output(got, call.expected, exercise=exercise)
        if wrong is None and find_mutation(call.args, after, exercise) is None:
            continue
        for mistake in exercise.mistakes:
            if mistake.function is not None and _behaves_like(
                mistake.function, call.args, got, after, exercise
            ):
                verdict.messages.insert(0, _feedback(mistake))
                return
        return


def _behaves_like(
    mistake: Callable[..., Any],
    args: list[Any],
    got: Any,
    after: tuple[str | None, ...],
    exercise: CodeExercise,
) -> bool:
    """Say whether the mistake, on the same inputs, returns what the student returned and mutates alike."""
    copies = copy.deepcopy(args)
    try:
        with np.errstate(all="ignore"):
            mistaken = mistake(*copies)
    except Exception:  # noqa: BLE001 - a mistake that raises cannot match an output
        return False
    if compare_output(got, mistaken, exercise=exercise, check_dtype=False) is not None:
        return False
    if len(after) != len(args):
        return True
    return tuple(digest_arguments(copies)) == after
