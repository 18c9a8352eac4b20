"""Template filters for verdicts: `{% with fb=submission|feedback %}`."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from grader.models import Submission
from grader.rendering import inline_markdown, submission_feedback

register = template.Library()


@register.filter
def feedback(submission: Submission) -> dict[str, Any] | None:
    """Return the submission's verdict arranged for the page (grader.rendering)."""
    return submission_feedback(submission)


@register.filter
def markdown_inline(text: str) -> SafeString:
    """Render an author's feedback (Markdown with $math$) as inline HTML."""
    return inline_markdown(str(text))
