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
from grader.engine.types import Phrase, gettext_noop, is_phrase, phrase, render_phrase

INTERFERED = phrase(
    gettext_noop(
        "Your code interfered with the way the grader collects results, so it could not be checked."
    )
)
NOT_RUN_AFTER_TIMEOUT = phrase(gettext_noop("Not run: an earlier test did not finish in time."))
PASSED = phrase(gettext_noop("Passed."))
FAILED = gettext_noop("Failed.")

# The whole of what a failed hidden test says, whatever went wrong (judge._test_outcome): the
# problem's code is also the submission's choice (which exception, which wrong shape, a crash, a
# loop), so it is replaced too. The code is stable: translations and dashboards key on it.
HIDDEN_FAILED_CODE = "hidden_test_failed"
HIDDEN_FAILED = phrase(FAILED)


@dataclass
class Problem:
    """What is wrong with one call, in all its details: shown only for a visible test.

    Whatever a hidden test's message or code says about the answer can be made to say something
    about the inputs: the child chooses its line numbers, shapes, lengths, exception classes and
    where its values go wrong. So builders fill text freely and a hidden test never shows it:
    phrase(hidden=True) is the one fixed word.

    text is a Phrase (grader.engine.types) so the page can say it in the learner's language;
    plain English text is accepted too, and shown as it is.
    """

    code: str
    text: str | Phrase

    def phrase(self, *, hidden: bool = False) -> Phrase:
        """Return the words for a visible test, or the one fixed word for a hidden test."""
        if hidden:
            return HIDDEN_FAILED
        return self.text if is_phrase(self.text) else phrase("%(text)s", text=str(self.text))

    def words(self, *, hidden: bool = False) -> str:
        """Return the message in English (the page renders phrase() in the reader's language)."""
        return render_phrase(self.phrase(hidden=hidden))


def exception_problem(error: RaisedError, *, during: Phrase) -> Problem:
    """Turn an exception raised by the submission into words a student can act on."""
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
    return _exception_words(error, kind=error.type_name, at=at, during=during, detail=detail)


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
    # In the sandbox's own root no file exists outside the working folder: a missing one is
    # almost always one of those.
    if error.base in ("PermissionError", "ImportError", "FileNotFoundError") or (
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


def timeout_text(timeout_s: float) -> Phrase:
    """Return the words for a submission stopped at the deadline."""
    return phrase(
        gettext_noop(
            "Your code did not finish within %(seconds)s seconds. Look for an infinite loop, or "
            "for Python loops that NumPy operations could replace."
        ),
        seconds=f"{timeout_s:g}",
    )
