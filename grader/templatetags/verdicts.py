"""Template filters and tags for verdicts: `{% with fb=submission|feedback %}`, `{% history_item %}`,
`{% verdict_of %}`."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from grader.models import Submission
from grader.rendering import (
    history_item_html,
    inline_markdown,
    submission_feedback,
    verdict_html,
)

register = template.Library()


@register.filter
def feedback(submission: Submission) -> dict[str, Any] | None:
    """Return the submission's verdict arranged for the page (grader.rendering)."""
    return submission_feedback(submission)


@register.filter
def markdown_inline(text: str) -> SafeString:
    """Render an author's feedback (Markdown with $math$) as inline HTML."""
    return inline_markdown(str(text))


@register.simple_tag
def history_item(submission: Submission) -> SafeString:
    """Render one entry of the learner's history, with its whole verdict (grader.rendering)."""
    return mark_safe(history_item_html(submission))  # noqa: S308 - a rendered template


@register.simple_tag
def verdict_of(submission: Submission) -> SafeString:
    """Render a submission's verdict (grader.rendering: a settled one's is rendered once)."""
    return mark_safe(verdict_html(submission))  # noqa: S308 - a rendered template
