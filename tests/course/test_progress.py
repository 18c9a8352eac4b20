"""Learner progress: per-skill mastery, the review queue, daily activity, streaks and the dashboard."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from course.models import ActivityDay, ExerciseProgress, User
from course.selectors_progress import (
    REVIEW_AFTER_DAYS,
    REVIEW_STRUGGLE_ATTEMPTS,
    learner_activity,
    learner_mastery,
    review_queue,
    week_start,
)
from course.services import progress_record_verdict
from tests.course import groupkit

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue() -> groupkit.Catalogue:
    return groupkit.build_catalogue(modules=2, exercises_per_module=4)


def at_days_ago(days: int, hour: int = 12) -> datetime:
    day = timezone.localdate() - timedelta(days=days)
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))


def test_progress_record_attempt_counts_progress_and_the_days_activity(
    catalogue: groupkit.Catalogue, student: User
) -> None:
    exercise = catalogue.exercises[catalogue.modules[0].pk][0]
    when = at_days_ago(0, hour=9)
    progress_record_verdict(user=student, exercise=exercise, score=0.2, correct=False, at=when)
    progress_record_verdict(user=student, exercise=exercise, score=1.0, correct=True, at=when)
    progress_record_verdict(user=student, exercise=exercise, score=1.0, correct=True, at=when)
    progress = ExerciseProgress.objects.get(user=student, exercise=exercise)
    assert progress.attempts == 3 and progress.solved_at == when and progress.best_score == 1.0
    day = ActivityDay.objects.get(user=student)
    assert (day.day, day.attempts, day.solved) == (timezone.localdate(), 3, 1)


def test_mastery_counts_solves_fully_and_unsolved_attempts_by_half_their_best_score(
    catalogue: groupkit.Catalogue, student: User
) -> None:
    first, second, third, _ = catalogue.exercises[catalogue.modules[0].pk]
    groupkit.solve(student, first)
    groupkit.attempt(student, second, score=0.5)
    groupkit.attempt(student, third, score=0.0)
    rows = {row.skill: row for row in learner_mastery(user=student)}
    skill = rows["Skill 0"]
    assert (skill.exercises, skill.solved, skill.attempted) == (4, 1, 3)
    assert skill.mastery == pytest.approx(100 * (1 + 0.25) / 4)
    assert rows["Skill 1"].mastery == 0.0


def test_mastery_spans_both_tracks_and_skips_retired_and_unpublished_exercises(
    catalogue: groupkit.Catalogue, student: User
) -> None:
    exercises = catalogue.exercises[catalogue.modules[1].pk]
    exercises[0].published = False
    exercises[0].save()
    exercises[1].retired_at = timezone.now()
    exercises[1].save()
    groupkit.solve(student, exercises[2])
    skill = {row.skill: row for row in learner_mastery(user=student)}["Skill 1"]
    assert skill.exercises == 2 and skill.percent == 50
    # Both tracks share the module, so the skill is listed once.
    assert [row.skill for row in learner_mastery(user=student)] == ["Skill 0", "Skill 1"]


def test_review_queue_lists_unsolved_attempts_then_hard_solves_gone_cold(
    catalogue: groupkit.Catalogue, student: User
) -> None:
    a, b, c, d = catalogue.exercises[catalogue.modules[0].pk]
    groupkit.attempt(student, a, at=at_days_ago(1))
    groupkit.attempt(student, b, at=at_days_ago(3))
    for _ in range(3):
        groupkit.attempt(student, c, at=at_days_ago(20))
    groupkit.solve(student, c, at=at_days_ago(20))
    groupkit.solve(student, d, at=at_days_ago(30))  # solved first time: nothing to review
    items = review_queue(user=student)
    assert [item.exercise for item in items] == [b, a, c]
    assert items[0].reason == "not solved yet after 1 attempt"
    assert items[2].reason == "took 4 attempts; solved 20 days ago"
    assert review_queue(user=student, limit=1)[0].exercise == b


def test_a_hard_solve_from_yesterday_is_not_reviewed_yet(
    catalogue: groupkit.Catalogue, student: User
) -> None:
    exercise = catalogue.exercises[catalogue.modules[0].pk][0]
    for _ in range(4):
        groupkit.attempt(student, exercise, at=at_days_ago(1))
    groupkit.solve(student, exercise, at=at_days_ago(1))
    assert review_queue(user=student) == []
    # The same solve is due for review once REVIEW_AFTER_DAYS calendar days have passed since.
    later = timezone.now() + timedelta(days=REVIEW_AFTER_DAYS - 1)
    assert [item.exercise for item in review_queue(user=student, now=later)] == [exercise]


@pytest.mark.parametrize(
    ("solved", "now", "due"),
    [
        ((1, 23, 0), (8, 1, 0), True),  # 7 calendar days back, though only 6 days and 2 hours
        ((2, 0, 30), (8, 23, 59), False),  # 6 days and 23 hours: 6 calendar days
    ],
)
def test_a_hard_solve_is_reviewed_after_seven_calendar_days_in_the_local_time_zone(
    catalogue: groupkit.Catalogue, student: User, solved: tuple, now: tuple, due: bool
) -> None:
    zone = ZoneInfo("Pacific/Kiritimati")
    exercise = catalogue.exercises[catalogue.modules[0].pk][0]
    at = datetime(2026, 3, *solved, tzinfo=zone)
    for _ in range(REVIEW_STRUGGLE_ATTEMPTS):
        groupkit.attempt(student, exercise, at=at)
    groupkit.solve(student, exercise, at=at)
    with timezone.override(zone):
        items = review_queue(user=student, now=datetime(2026, 3, *now, tzinfo=zone))
    assert [item.exercise for item in items] == ([exercise] if due else [])


def test_streak_counts_consecutive_days_up_to_today(
    catalogue: groupkit.Catalogue, student: User
) -> None:
    exercise = catalogue.exercises[catalogue.modules[0].pk][0]
    for days in (0, 1, 2, 4):
        groupkit.attempt(student, exercise, at=at_days_ago(days))
    activity = learner_activity(user=student)
    assert activity.streak == 3 and activity.active_today


def test_streak_survives_until_the_end_of_today(
    catalogue: groupkit.Catalogue, student: User
) -> None:
    exercise = catalogue.exercises[catalogue.modules[0].pk][0]
    for days in (1, 2):
        groupkit.attempt(student, exercise, at=at_days_ago(days))
    activity = learner_activity(user=student)
    assert activity.streak == 2 and not activity.active_today
    assert (
        learner_activity(user=student, today=timezone.localdate() + timedelta(days=1)).streak == 0
    )


def test_weekly_activity_sums_attempts_per_week(
    catalogue: groupkit.Catalogue, student: User
) -> None:
    exercise = catalogue.exercises[catalogue.modules[0].pk][0]
    today = timezone.localdate()
    monday = week_start(today)
    for _ in range(3):
        groupkit.attempt(student, exercise, at=at_days_ago((today - monday).days))
    groupkit.attempt(student, exercise, at=at_days_ago((today - monday).days + 7))
    activity = learner_activity(user=student, weeks=4)
    assert [w.start for w in activity.weeks][-1] == monday
    assert [w.attempts for w in activity.weeks] == [0, 0, 1, 3]
    assert activity.attempts_this_week == 3
    chart = activity.chart
    assert [bar.height for bar in chart.bars] == [0.0, 0.0, 30.0, 90.0]


def test_each_graded_attempt_is_counted_on_its_day(
    catalogue: groupkit.Catalogue, student: User
) -> None:
    exercise = catalogue.exercises[catalogue.modules[0].pk][0]
    progress_record_verdict(
        user=student, exercise=exercise, score=0.0, correct=False, at=at_days_ago(0)
    )
    progress_record_verdict(
        user=student, exercise=exercise, score=1.0, correct=True, at=at_days_ago(0)
    )
    progress_record_verdict(
        user=student, exercise=exercise, score=1.0, correct=True, at=at_days_ago(0)
    )
    day = ActivityDay.objects.get(user=student)
    assert (day.attempts, day.solved) == (3, 1)
    activity = learner_activity(user=student)
    assert activity.streak == 1 and activity.attempts_this_week == 3


def test_dashboard_shows_the_skill_chart_review_queue_and_streak(
    catalogue: groupkit.Catalogue, student: User
) -> None:
    first, second, *_ = catalogue.exercises[catalogue.modules[0].pk]
    groupkit.solve(student, first, at=at_days_ago(1))
    groupkit.attempt(student, second, score=0.4, at=at_days_ago(0))
    body = groupkit.logged_in(student).get("/dashboard/").content.decode()
    assert 'aria-labelledby="my-skills-title"' in body and "<svg" in body
    assert "Worth retrying" in body and "Exercise 0.1" in body
    assert "not solved yet after 1 attempt" in body
    assert '<strong class="streak-count">2</strong> days in a row' in body
    assert "Graded attempts per week" in body
    assert "Skill 0" in body and "30%" in body  # (1 + 0.5*0.4) / 4
