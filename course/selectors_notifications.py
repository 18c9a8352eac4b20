"""Reads for notifications: a learner's list (the unread count lives on the user row)."""

from __future__ import annotations

from course.models import Notification, User

LIST_LENGTH = 50


def notification_list(*, user: User, limit: int = LIST_LENGTH) -> list[Notification]:
    """Return the learner's latest notifications, unread and read, newest first."""
    return list(
        Notification.objects.filter(user=user)
        .select_related("group", "thread", "entry__module")
        .order_by("-created_at", "-id")[:limit]
    )
