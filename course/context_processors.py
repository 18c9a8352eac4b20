"""Template context every page gets: the signed-in learner's count of unread notifications."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def notifications(request: HttpRequest) -> dict[str, Any]:
    """Offer the header's unread count, read from the user row the request has loaded already."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": user.unread_notifications}
