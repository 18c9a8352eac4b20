"""What the code grader says: the one fixed word of a hidden test, exceptions and deadlines.

A visible test shows every detail; a failed hidden test shows only HIDDEN_FAILED under the code
HIDDEN_FAILED_CODE, because the child chooses whatever it reports, and how it fails, and can make
any of it spell out a hidden test's inputs.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from grader.engine.sandbox.report import RaisedError
from grader.engine.sandbox.runtime import OUTPUT_TOO_LARGE

INTERFERED = (
    "Your code interfered with the way the grader collects results, so it could not be checked."
)
NOT_RUN_AFTER_TIMEOUT = "Not run: an earlier test did not finish in time."

# The whole of what a failed hidden test says, whatever went wrong (judge._test_outcome): the
# problem's code is also the submission's choice (which exception, which wrong shape, a crash, a
# loop), so it is replaced too. The code is stable: translations and dashboards key on it.
HIDDEN_FAILED_CODE = "hidden_test_failed"
HIDDEN_FAILED = "Failed."


@dataclass
class Problem:
    """What is wrong with one call, in all its details: shown only for a visible test.

    Whatever a hidden test's message or code says about the answer can be made to say something
    about the inputs: the child chooses its line numbers, shapes, lengths, exception classes and
    where its values go wrong. So builders fill text freely and a hidden test never shows it.
    """

    code: str
    text: str


def exception_problem(error: RaisedError, *, during: str) -> Problem:
    """Turn an exception raised by the submission into words a student can act on."""
    line = error.line
    at = f" on line {line}" if line is not None and 0 < line <= 100_000 else ""
    message, trace = error.message[:500], error.traceback
    detail = (f": {message}" if message else "") + (
        f"\nTraceback (your code only):\n{trace}" if trace else ""
    )
    return _exception_words(error, kind=error.type_name, at=at, during=during, detail=detail)


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
    # In the sandbox's own root no file exists outside the working folder: a missing one is
    # almost always one of those.
    if error.base in ("PermissionError", "ImportError", "FileNotFoundError") or (
        error.type_name == "RuntimeError" and "thread" in error.message
    ):
        return Problem(
            "forbidden_operation",
            f"Your code tried something the grader does not allow{at} {during} ({kind}): files outside "
            "its working folder, the network, other processes, threads and most modules other than "
            "numpy and math are off limits.",
        )
    return Problem("exception", f"Your code raised {kind}{at} {during}{detail}")


def timeout_text(timeout_s: float) -> str:
    """Return the words for a submission stopped at the deadline."""
    return (
        f"Your code did not finish within {timeout_s:g} seconds. Look for an infinite loop, or for "
        "Python loops that NumPy operations could replace."
    )
