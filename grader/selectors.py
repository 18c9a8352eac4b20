"""Reads for the grader's pages: an exercise as one learner sees it, and their submissions."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import redis
from django.conf import settings
from django.http import Http404

from course.localize import localized, localized_list
from course.models import Exercise, ExerciseProgress, User
from course.selectors import AnyUser, access_exercise
from grader import engine, services
from grader.models import Submission


@dataclass
class ExerciseView:
    exercise: Exercise
    seed: int
    variant: dict[str, Any]
    progress: ExerciseProgress | None
    hints: list[str]
    hints_locked: int
    history: list[Submission] = field(default_factory=list)
    # The English standing in for a missing translation in the reader's language (marked).
    prompt_english: bool = False
    hints_english: bool = False

    @property
    def attempts(self) -> int:
        return self.progress.attempts if self.progress else 0

    @property
    def solved(self) -> bool:
        return self.progress is not None and self.progress.solved

    @property
    def wrong_attempts(self) -> int:
        if self.progress is None:
            return 0
        return self.progress.attempts - (1 if self.progress.solved else 0)

    @property
    def latest(self) -> Submission | None:
        return self.history[0] if self.history else None


def unlocked_hints(exercise: Exercise, wrong_attempts: int) -> list[str]:
    """Return the hints unlocked so far: the first after hint_after wrong attempts, then one per attempt.

    They are in the reader's language where the exercise has a translation.
    """
    unlocked = max(0, wrong_attempts - exercise.hint_after + 1)
    hints, _english = localized_list(exercise, "hints")
    return hints[:unlocked]


def submission_history(*, user: User, exercise: Exercise) -> list[Submission]:
    """Return the learner's latest submissions to an exercise, newest first."""
    return list(
        Submission.objects.filter(user=user, exercise=exercise)
        .select_related("exercise")
        .order_by("-created_at", "-id")[: settings.GRADER_HISTORY_LENGTH]
    )


def exercise_view(*, exercise: Exercise, user: User, seed: int | None = None) -> ExerciseView:
    """Assemble what the exercise page shows one learner: their variant, progress, hints and history."""
    seed = exercise.seed_for(user.pk) if seed is None else seed
    progress = ExerciseProgress.objects.filter(user=user, exercise=exercise).first()
    # The translated prompt gets this variant's values in its {{name}} placeholders.
    prompt = localized(exercise, "prompt")
    view = ExerciseView(
        exercise=exercise,
        seed=seed,
        variant=engine.variant({**exercise.spec, "prompt": prompt.text}, seed),
        progress=progress,
        hints=[],
        hints_locked=0,
        history=submission_history(user=user, exercise=exercise),
    )
    view.prompt_english = prompt.english
    view.hints_english = localized_list(exercise, "hints")[1]
    view.hints = unlocked_hints(exercise, view.wrong_attempts)
    view.hints_locked = len(exercise.hints) - len(view.hints)
    return view


def access_submission(user: AnyUser, pk: int) -> Submission:
    """Return one of the user's own submissions, or raise 404 (for anyone else's too).

    Nobody else sees a learner's answers, instructors included: they read them, anonymised and
    in aggregate, through insight. The exercise must still be open to its author.
    """
    submission = (
        Submission.objects.select_related("exercise__lesson__module", "user").filter(pk=pk).first()
    )
    if submission is None or not user.is_authenticated or submission.user_id != user.pk:
        raise Http404("No such submission.")
    # The exercise must still be visible to this user (retired or unpublished ones are not).
    access_exercise(user, submission.exercise.slug)
    return submission


def _settled(pk: int) -> bool:
    return not Submission.objects.filter(
        pk=pk, status__in=[Submission.Status.QUEUED, Submission.Status.RUNNING]
    ).exists()


def submission_wait(*, submission: Submission, timeout: float) -> Submission:
    """Return the submission once it is settled, or as it stands after timeout seconds.

    Listens for the worker's announcement on Redis when there is one; otherwise (or if Redis fails)
    looks at the database every GRADER_STATUS_CHECK_MS.
    """
    if not submission.is_pending or timeout <= 0:
        return submission
    deadline = time.monotonic() + timeout
    client = services.notify_client(settings.GRADER_NOTIFY_REDIS_URL)
    if client is not None:
        try:
            _wait_for_announcement(client, submission.pk, deadline)
        except redis.RedisError:
            pass
    step = settings.GRADER_STATUS_CHECK_MS / 1000
    while not _settled(submission.pk) and time.monotonic() + step < deadline:
        time.sleep(step)
    submission.refresh_from_db()
    return submission


def _wait_for_announcement(client: redis.Redis, pk: int, deadline: float) -> None:
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(services.verdict_channel(pk))
        # Subscribed first, then looked: a verdict stored in between is not missed.
        while not _settled(pk):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            pubsub.get_message(timeout=min(remaining, 1.0))
    finally:
        pubsub.close()
