"""Count days as the user's calendar does: in the current time zone, from one date to the next.

"Solved 3 days ago" means three midnights ago in the user's time zone, not 72 hours: something
done yesterday at 23:00 is a day old at 01:00 today (habit 19 of shared/STYLE.md).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext, ngettext


def days_between(then: datetime, now: datetime | None = None) -> int:
    """Return how many calendar days lie between two moments, in the current time zone."""
    return (timezone.localdate(now or timezone.now()) - timezone.localdate(then)).days


def start_of_day_ago(days: int, now: datetime | None = None) -> datetime:
    """Return midnight, in the current time zone, of the day `days` calendar days before now.

    `moment < start_of_day_ago(n - 1)` says that the moment lies at least n calendar days back.
    """
    day = timezone.localdate(now or timezone.now()) - timedelta(days=days)
    return timezone.make_aware(datetime.combine(day, time.min))


def days_ago_text(then: datetime, now: datetime | None = None) -> str:
    """Say how long ago a moment was: hours and minutes today, else calendar days."""
    now = now or timezone.now()
    days = days_between(then, now)
    if days <= 0:
        return gettext("%(time)s ago") % {"time": timesince(then, now, depth=1)}
    if days == 1:
        return gettext("yesterday")
    return ngettext("%(days)d day ago", "%(days)d days ago", days) % {"days": days}
