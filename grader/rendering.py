"""Arrange a stored verdict for the page: headline, tone, and feedback Markdown rendered as HTML.

Presentation lives here, not in the models: the exercise page, the live status block and the
instructor's bench reach it through the `feedback` filter (grader/templatetags/verdicts.py).
"""

from __future__ import annotations

from typing import Any

from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from course.markdown import render_markdown
from grader.models import Submission

HEADLINES = {
    "correct": (_("Correct"), "success"),
    "incorrect": (_("Not yet right"), "danger"),
    "invalid": (_("Your answer could not be read — not counted as an attempt"), "warning"),
    "undetermined": (
        _("The grader could not decide — not counted as an attempt; the exercise's author is told"),
        "warning",
    ),
    "timeout": (_("Too slow: your code ran out of time"), "danger"),
    "error": (_("Could not be graded — not counted against you"), "warning"),
}
PRACTICE_HEADLINES = {
    True: (_("Every visible test passed — not counted as an attempt"), "success"),
    False: (_("Visible tests run — not counted as an attempt"), "warning"),
}
# Messages the headline already says, and the counterexample shown as a table instead.
REDUNDANT_MESSAGES = frozenset({"correct", "incorrect"})


def inline_markdown(text: str) -> SafeString:
    """Render a feedback message (Markdown with $math$, as authors write it) as inline HTML."""
    html = render_markdown(text).strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]
    return mark_safe(html)  # noqa: S308 - render_markdown escapes raw HTML and sanitises


def submission_feedback(submission: Submission) -> dict[str, Any] | None:
    """Return the verdict arranged for the page: headline, tone, messages, reading, tests."""
    if not submission.verdict:
        return None
    verdict = submission.verdict
    status = verdict.get("status", "error")
    headline, tone = HEADLINES.get(status, HEADLINES["error"])
    tests = verdict.get("tests")
    if verdict.get("practice") and tests is not None and status in ("correct", "incorrect"):
        headline, tone = PRACTICE_HEADLINES[status == "correct"]
    counterexample = verdict.get("counterexample") or None
    in_table = _rows_said(tests)
    messages = [
        {
            **message,
            "html": inline_markdown(str(message.get("text", ""))),
            "diagnosis": message.get("code") == verdict.get("diagnosis"),
        }
        for message in verdict.get("messages", [])
        if message.get("code") not in REDUNDANT_MESSAGES
        and not (counterexample and message.get("code") == "counterexample")
        and not _repeats_a_row(str(message.get("text", "")), in_table)
    ]
    return {
        "status": status,
        "practice": bool(verdict.get("practice")),
        "tracebacks": _tracebacks(tests),
        "headline": headline,
        "tone": tone,
        "score_percent": round(100 * float(verdict.get("score") or 0.0)),
        "messages": messages,
        "parsed": verdict.get("parsed"),
        "counterexample": counterexample,
        "tests": tests,
        "tests_passed": sum(1 for t in tests if t.get("passed")) if tests else 0,
    }


def _rows_said(tests: list[dict[str, Any]] | None) -> list[tuple[str, str]]:
    """Return (name, message) of each failing test whose row shows its message."""
    return [
        (str(test.get("name", "")), str(test.get("message", "")))
        for test in tests or []
        if not test.get("passed") and not test.get("hidden")
    ]


def _repeats_a_row(text: str, rows: list[tuple[str, str]]) -> bool:
    """Say whether a message only repeats a failing test's row of the table (its name and words)."""
    return any(
        name and message and name in text and text.endswith(message) for name, message in rows
    )


def _tracebacks(tests: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Return each distinct traceback of the failing tests once, with the tests that raised it."""
    found: dict[str, list[str]] = {}
    for test in tests or []:
        trace = str(test.get("traceback") or "")
        if trace and not test.get("hidden"):
            found.setdefault(trace, []).append(str(test.get("name", "")))
    return [{"text": trace, "tests": names} for trace, names in found.items()]
