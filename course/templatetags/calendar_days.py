"""Template filters that count calendar days: `{{ thread.last_post_at|days_ago }}`."""

from __future__ import annotations

from datetime import datetime

from django import template

from course.calendar_days import days_ago_text

register = template.Library()


@register.filter
def days_ago(value: datetime | None) -> str:
    """Say how long ago a moment was, counting calendar days in the current time zone."""
    return days_ago_text(value) if value is not None else ""
