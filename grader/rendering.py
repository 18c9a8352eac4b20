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
# Headlines for an unread answer that was read after all, by the code of its first message: the
# message follows the headline ("Wrong shape — not counted as an attempt: your answer is 1×n, …").
HEADLINES_BY_CODE = {
    "wrong_shape": (_("Wrong shape — not counted as an attempt"), "warning"),
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
    counterexample = verdict.get("counterexample") or None
    shown = list(verdict.get("messages", []))
    headline_detail = None
    first_code = shown[0].get("code") if shown else None
    if status == "invalid" and first_code in HEADLINES_BY_CODE:
        headline, tone = HEADLINES_BY_CODE[first_code]
        text = str(shown.pop(0).get("text", ""))
        headline_detail = inline_markdown(text[:1].lower() + text[1:])
    messages = [
        {
            **message,
            "html": inline_markdown(str(message.get("text", ""))),
            "diagnosis": message.get("code") == verdict.get("diagnosis"),
        }
        for message in shown
        if message.get("code") not in REDUNDANT_MESSAGES
        and not (counterexample and message.get("code") == "counterexample")
    ]
    tests = verdict.get("tests")
    return {
        "status": status,
        "headline": headline,
        "headline_detail": headline_detail,
        "tone": tone,
        "score_percent": round(100 * float(verdict.get("score") or 0.0)),
        "messages": messages,
        "parsed": verdict.get("parsed"),
        "counterexample": counterexample,
        "tests": tests,
        "tests_passed": sum(1 for t in tests if t.get("passed")) if tests else 0,
    }
