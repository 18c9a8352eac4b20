"""Days are counted as the user's calendar counts them, in the current time zone, at any hour."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from course.calendar_days import days_ago_text, days_between, start_of_day_ago

# UTC+14: local midnight is 10:00 UTC the day before, so a count of UTC dates or of 24-hour
# periods disagrees with the local calendar for most of the day.
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=KIRITIMATI)


CASES = [
    # (then, now, calendar days, text)
    (local(2, 0, 30), local(2, 1, 0), 0, "30\xa0minutes ago"),
    (local(1, 23, 0), local(2, 1, 0), 1, "yesterday"),  # two hours, but yesterday
    (local(1, 1, 0), local(2, 23, 0), 1, "yesterday"),  # 46 hours, still yesterday
    (local(10, 23, 0), local(30, 1, 0), 20, "20 days ago"),  # 19 days and 2 hours
]


@pytest.mark.parametrize(("then", "now", "days", "text"), CASES)
def test_it_counts_calendar_days_in_the_current_time_zone(
    then: datetime, now: datetime, days: int, text: str
) -> None:
    with timezone.override(KIRITIMATI):
        assert days_between(then, now) == days
        assert days_ago_text(then, now) == text


def test_start_of_day_ago_is_local_midnight() -> None:
    with timezone.override(KIRITIMATI):
        assert start_of_day_ago(0, local(2, 1, 0)) == local(2, 0, 0)
        assert start_of_day_ago(6, local(8, 23, 59)) == local(2, 0, 0)
