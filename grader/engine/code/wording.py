"""What the code grader says: the fixed words of hidden tests, exceptions and deadlines.

A visible test shows every detail; a hidden test shows only fixed words (Problem.words), because
the child chooses whatever it reports and can make any of it spell out a hidden test's inputs.
"""

from __future__ import annotations

import builtins
import errno
from dataclasses import dataclass

from grader.engine.sandbox.report import RaisedError
from grader.engine.sandbox.runtime import OUTPUT_TOO_LARGE
from grader.engine.types import Phrase, gettext_noop, is_phrase, phrase, render_phrase

INTERFERED = phrase(
    gettext_noop(
        "Your code interfered with the way the grader collects results, so it could not be checked."
    )
)
NOT_RUN_AFTER_TIMEOUT = phrase(gettext_noop("Not run: an earlier test did not finish in time."))
PASSED = phrase(gettext_noop("Passed."))
FAILED = gettext_noop("Failed.")

# A hidden test's words for the problems whose builders give none: nothing in them comes from
# its inputs, its expected values or what the child sent. (The comparisons and exceptions build
# their own hidden wording from the exercise's names and Python's built-in exception names.)
HIDDEN_WORDS = {
    "mutated_input": gettext_noop("Your function changed one of its inputs in place."),
    "forbidden_operation": gettext_noop("Your code tried something the grader does not allow."),
    "crashed": gettext_noop("Your function did not return from this call."),
}


@dataclass
class Problem:
    """What is wrong with one call: all the details for a visible test, fixed words for a hidden one.

    Whatever a hidden test's message says about the answer can be made to say something about the
    inputs: the child chooses its line numbers, shapes, lengths, class names and where its values
    go wrong, and the size of an error spells out the reference output in a few attempts. So a
    hidden test shows hidden_text, built only from fixed words (HIDDEN_WORDS when empty); every
    builder fills text freely, and phrase() is the one place that chooses.

    text and hidden_text are Phrases (grader.engine.types) so the page can say them in the
    learner's language; plain English text is accepted too, and shown as it is.
    """

    code: str
    text: str | Phrase
    hidden_text: str | Phrase = ""

    def phrase(self, *, hidden: bool) -> Phrase:
        """Return the words for a visible test, or the fixed ones for a hidden test."""
        chosen = self.text if not hidden else self.hidden_text
        if hidden and not chosen:
            chosen = phrase(HIDDEN_WORDS.get(self.code, FAILED))
        return chosen if is_phrase(chosen) else phrase("%(text)s", text=str(chosen))

    def words(self, *, hidden: bool) -> str:
        """Return the message for a visible test, or the fixed one for a hidden test (English)."""
        return render_phrase(self.phrase(hidden=hidden))


def exception_problem(error: RaisedError, *, during: Phrase) -> Problem:
    """Turn an exception raised by the submission into words a student can act on.

    The hidden wording drops the line number, the message and the traceback, and names the
    exception only when it is one of Python's built-in ones.
    """
    line = error.line
    at = (
        phrase(gettext_noop(" on line %(line)d"), line=line)
        if line is not None and 0 < line <= 100_000
        else ""
    )
    message, trace = error.message[:500], error.traceback
    detail: str | Phrase = f": {message}" if message else ""
    if trace:
        detail = phrase(
            gettext_noop("%(message)s\nTraceback (your code only):\n%(trace)s"),
            message=f": {message}" if message else "",
            trace=trace,
        )
    visible = _exception_words(error, kind=error.type_name, at=at, during=during, detail=detail)
    hidden = _exception_words(
        error, kind=_builtin_exception_name(error.type_name), at="", during=during, detail="."
    )
    return Problem(visible.code, visible.text, hidden.text)


def _exception_words(
    error: RaisedError,
    *,
    kind: str | Phrase,
    at: str | Phrase,
    during: Phrase,
    detail: str | Phrase,
) -> Problem:
    """Return the words for an exception: `at` names the line, `during` what was running."""
    where = {"at": at, "during": during}
    if error.base == "MemoryError":
        return Problem(
            "memory_limit",
            phrase(
                gettext_noop(
                    "Your code ran out of memory%(at)s %(during)s. Avoid building huge "
                    "intermediate arrays."
                ),
                **where,
            ),
        )
    if error.base == OUTPUT_TOO_LARGE:
        return Problem(
            "output_too_large",
            phrase(
                gettext_noop(
                    "Your function returned too much data %(during)s. Return only the array the "
                    "exercise asks for."
                ),
                during=during,
            ),
        )
    if error.errno in (errno.EFBIG, errno.ENOSPC, errno.EDQUOT):
        return Problem(
            "output_too_large",
            phrase(
                gettext_noop(
                    "Your code wrote too much to a file or to the screen%(at)s %(during)s. Remove "
                    "large prints and files."
                ),
                **where,
            ),
        )
    if error.base == "SystemExit":
        return Problem(
            "exited",
            phrase(
                gettext_noop(
                    "Your code called exit()%(at)s %(during)s. Return a value instead of exiting."
                ),
                **where,
            ),
        )
    if error.base in ("PermissionError", "ImportError") or (
        error.type_name == "RuntimeError" and "thread" in error.message
    ):
        return Problem(
            "forbidden_operation",
            phrase(
                gettext_noop(
                    "Your code tried something the grader does not allow%(at)s %(during)s "
                    "(%(kind)s): files outside its working folder, the network, other processes, "
                    "threads and most modules other than numpy and math are off limits."
                ),
                kind=kind,
                **where,
            ),
        )
    return Problem(
        "exception",
        phrase(
            gettext_noop("Your code raised %(kind)s%(at)s %(during)s%(detail)s"),
            kind=kind,
            detail=detail,
            **where,
        ),
    )


def _builtin_exception_name(kind: str) -> str | Phrase:
    """Return the exception's type name if it is one of Python's built-in exceptions.

    The child reports the name, and a submission can name its own exception classes after the
    inputs it was given: on a hidden test only the names of Python's built-in exceptions are shown.
    """
    builtin = getattr(builtins, kind, None) if kind.isidentifier() else None
    if isinstance(builtin, type) and issubclass(builtin, BaseException):
        return kind
    return phrase(gettext_noop("an exception of its own type"))


def timeout_text(timeout_s: float) -> Phrase:
    """Return the words for a submission stopped at the deadline."""
    return phrase(
        gettext_noop(
            "Your code did not finish within %(seconds)s seconds. Look for an infinite loop, or "
            "for Python loops that NumPy operations could replace."
        ),
        seconds=f"{timeout_s:g}",
    )
