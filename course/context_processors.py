"""Template context every page gets: the signed-in learner's count of unread notifications."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from course.selectors_notifications import unread_count


def notifications(request: HttpRequest) -> dict[str, Any]:
    """Offer the header's unread count; it is counted (one query) only where a page shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": SimpleLazyObject(lambda: unread_count(user))}
