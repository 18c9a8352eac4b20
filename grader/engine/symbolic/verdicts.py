"""The verdicts the symbolic graders share: unreadable, wrong, undecidable, or the author's fault."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from grader.engine.symbolic.diagnosis import Diagnosis
from grader.engine.symbolic.syntax import ParseError
from grader.engine.types import (
    Message,
    Phrase,
    SpecError,
    Status,
    Verdict,
    gettext_noop,
    message,
    phrase,
    phrase_message,
)

logger = logging.getLogger("grader.engine.symbolic")
T = TypeVar("T")
AUDIT_DISAGREEMENT = "audit_disagreement"


def invalid(code: str, words: Phrase, parsed: str | None = None) -> Verdict:
    """Return an INVALID verdict: the answer could not be read, so it is not an attempt."""
    return Verdict(status=Status.INVALID, messages=[phrase_message(code, words)], parsed=parsed)


def parse_error_verdict(error: ParseError, text: str) -> Verdict:
    """Return the INVALID verdict of a parse error, pointing at its position."""
    return invalid(error.code, error.describe_words(text))


def correct(
    parsed: str | None, words: Phrase | None = None, flags: list[str] | None = None
) -> Verdict:
    """Return a CORRECT verdict with full score."""
    return Verdict(
        status=Status.CORRECT,
        score=1.0,
        messages=[phrase_message("correct", words or phrase(gettext_noop("Correct.")))],
        parsed=parsed,
        flags=flags or [],
    )


def incorrect(
    headline: Message,
    *,
    diagnosis: Diagnosis | None,
    counterexample: dict[str, Any] | None,
    parsed: str | None,
    flags: list[str] | None = None,
) -> Verdict:
    """Build an incorrect verdict: the headline, then the diagnosis and the counterexample if any."""
    messages = [headline]
    if diagnosis is not None:
        messages.append(diagnosis.message())
    if counterexample is not None:
        words = counterexample.get("words")
        messages.append(
            phrase_message("counterexample", words)
            if words
            else Message("counterexample", counterexample["text"])
        )
    return Verdict(
        status=Status.INCORRECT,
        messages=messages,
        diagnosis=diagnosis.code if diagnosis else None,
        parsed=parsed,
        counterexample=counterexample,
        flags=flags or [],
    )


def undetermined(parsed: str | None) -> Verdict:
    """Return the verdict for an exercise whose reference has too few valid sample points."""
    return Verdict(
        status=Status.UNDETERMINED,
        messages=[
            message(
                "undetermined",
                gettext_noop(
                    "This answer could not be checked automatically. It does not count as an "
                    "attempt, and the exercise has been flagged for its author."
                ),
            )
        ],
        parsed=parsed,
        flags=["undetermined"],
    )


def spec_error(error: SpecError) -> Verdict:
    """Return the verdict of an exercise whose file is wrong: reported, never the student's fault."""
    return Verdict(
        status=Status.ERROR,
        messages=[
            message(
                "spec_error",
                gettext_noop(
                    "This exercise has a problem (not your answer); it has been reported to its "
                    "author: %(problem)s"
                ),
                problem=str(error),
            )
        ],
        flags=["spec_error"],
    )


def best_effort(explain: Callable[..., T], *args: Any) -> T | None:
    """Return explain(*args), or None when explaining a wrong answer fails: the verdict stands."""
    try:
        return explain(*args)
    except (ArithmeticError, ValueError, TypeError, RecursionError):
        logger.debug("diagnosis failed", exc_info=True)
        return None


def audit_flags(numeric_correct: bool, audit: str) -> list[str]:
    """Return ["audit_disagreement"] when the symbolic audit contradicts the numeric verdict."""
    if (numeric_correct and audit == "different") or (not numeric_correct and audit == "equal"):
        return [AUDIT_DISAGREEMENT]
    return []
