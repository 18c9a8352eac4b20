"""Template filters for verdicts: `{% with fb=submission|feedback %}`."""

from __future__ import annotations

from typing import Any

from django import template

from grader.models import Submission
from grader.rendering import submission_feedback

register = template.Library()


@register.filter
def feedback(submission: Submission) -> dict[str, Any] | None:
    """Return the submission's verdict arranged for the page (grader.rendering)."""
    return submission_feedback(submission)
