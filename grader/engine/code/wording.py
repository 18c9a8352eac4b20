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

INTERFERED = (
    "Your code interfered with the way the grader collects results, so it could not be checked."
)
NOT_RUN_AFTER_TIMEOUT = "Not run: an earlier test did not finish in time."

# A hidden test's words for the problems whose builders give none: nothing in them comes from
# its inputs, its expected values or what the child sent. (The comparisons and exceptions build
# their own hidden wording from the exercise's names and Python's built-in exception names.)
HIDDEN_WORDS = {
    "mutated_input": "Your function changed one of its inputs in place.",
    "forbidden_operation": "Your code tried something the grader does not allow.",
    "crashed": "Your function did not return from this call.",
}


@dataclass
class Problem:
    """What is wrong with one call: all the details for a visible test, fixed words for a hidden one.

    Whatever a hidden test's message says about the answer can be made to say something about the
    inputs: the child chooses its line numbers, shapes, lengths, class names and where its values
    go wrong, and the size of an error spells out the reference output in a few attempts. So a
    hidden test shows hidden_text, built only from fixed words (HIDDEN_WORDS when empty); every
    builder fills text freely, and words() is the one place that chooses.
    """

    code: str
    text: str
    hidden_text: str = ""
    # The student's own lines of an exception's traceback (visible tests only; shown once).
    traceback: str = ""

    def words(self, *, hidden: bool) -> str:
        """Return the message for a visible test, or the fixed one for a hidden test."""
        if not hidden:
            return self.text
        return self.hidden_text or HIDDEN_WORDS.get(self.code, "Failed.")


def exception_problem(error: RaisedError, *, during: str) -> Problem:
    """Turn an exception raised by the submission into words a student can act on.

    The hidden wording drops the line number, the message and the traceback, and names the
    exception only when it is one of Python's built-in ones.
    """
    line = error.line
    at = f" on line {line}" if line is not None and 0 < line <= 100_000 else ""
    message, trace = error.message[:500], error.traceback
    # The traceback travels beside the words (Problem.traceback), so a page that shows several
    # tests failing the same way shows it once.
    detail = f": {message}" if message else ""
    visible = _exception_words(error, kind=error.type_name, at=at, during=during, detail=detail)
    hidden = _exception_words(
        error, kind=_builtin_exception_name(error.type_name), at="", during=during, detail="."
    )
    return Problem(visible.code, visible.text, hidden.text, traceback=trace or "")


def _exception_words(
    error: RaisedError, *, kind: str, at: str, during: str, detail: str
) -> Problem:
    if error.base == "MemoryError":
        return Problem(
            "memory_limit",
            f"Your code ran out of memory{at} {during}. Avoid building huge intermediate arrays.",
        )
    if error.base == OUTPUT_TOO_LARGE:
        return Problem(
            "output_too_large",
            f"Your function returned too much data {during}. Return only the array the exercise asks for.",
        )
    if error.errno in (errno.EFBIG, errno.ENOSPC, errno.EDQUOT):
        return Problem(
            "output_too_large",
            f"Your code wrote too much to a file or to the screen{at} {during}. Remove large prints and files.",
        )
    if error.base == "SystemExit":
        return Problem(
            "exited", f"Your code called exit(){at} {during}. Return a value instead of exiting."
        )
    if error.base in ("PermissionError", "ImportError") or (
        error.type_name == "RuntimeError" and "thread" in error.message
    ):
        return Problem(
            "forbidden_operation",
            f"Your code tried something the grader does not allow{at} {during} ({kind}): files outside "
            "its working folder, the network, other processes, threads and most modules other than "
            "numpy and math are off limits.",
        )
    return Problem("exception", f"Your code raised {kind}{at} {during}{detail}")


def _builtin_exception_name(kind: str) -> str:
    """Return the exception's type name if it is one of Python's built-in exceptions.

    The child reports the name, and a submission can name its own exception classes after the
    inputs it was given: on a hidden test only the names of Python's built-in exceptions are shown.
    """
    builtin = getattr(builtins, kind, None) if kind.isidentifier() else None
    if isinstance(builtin, type) and issubclass(builtin, BaseException):
        return kind
    return "an exception of its own type"


def timeout_text(timeout_s: float) -> str:
    """Return the words for a submission stopped at the deadline."""
    return (
        f"Your code did not finish within {timeout_s:g} seconds. Look for an infinite loop, or for "
        "Python loops that NumPy operations could replace."
    )
