"""Writes for learner progress beyond one exercise: the daily activity behind streaks."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from course.models import ActivityDay, Exercise, ExerciseProgress, User
from course.services import progress_record_verdict


def activity_record(*, user: User, at: datetime, first_solve: bool) -> None:
    """Count one graded attempt on the learner's calendar day (in the site's time zone)."""
    day = timezone.localdate(at)
    activity, _ = ActivityDay.objects.get_or_create(user=user, day=day)
    ActivityDay.objects.filter(pk=activity.pk).update(
        attempts=F("attempts") + 1, solved=F("solved") + (1 if first_solve else 0)
    )


@transaction.atomic
def progress_record_attempt(
    *, user: User, exercise: Exercise, score: float, correct: bool, at: datetime
) -> ExerciseProgress:
    """Count one graded attempt: the exercise's progress and the day's activity, atomically.

    The grading pipeline calls this (instead of progress_record_verdict) inside the transaction
    that stores a verdict which uses an attempt.
    """
    was_solved = ExerciseProgress.objects.filter(
        user=user, exercise=exercise, solved_at__isnull=False
    ).exists()
    progress = progress_record_verdict(
        user=user, exercise=exercise, score=score, correct=correct, at=at
    )
    activity_record(user=user, at=at, first_solve=progress.solved and not was_solved)
    return progress
