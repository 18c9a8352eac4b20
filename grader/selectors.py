"""Reads for the grader's pages: an exercise as one learner sees it, and their submissions."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import redis
import redis.asyncio
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.http import Http404

from course.localize import localized, localized_list
from course.markdown import render_markdown
from course.models import Exercise, ExerciseProgress, User
from course.selectors import AnyUser, access_exercise
from course.selectors_path import NextStep, exercise_next
from grader import engine, services, services_learner
from grader.models import AnswerDraft, HintView, Submission


@dataclass
class ExerciseView:
    exercise: Exercise
    user: User
    seed: int
    variant: dict[str, Any]
    progress: ExerciseProgress | None
    hints: list[str]  # the hints the learner asked to see, in order
    hints_locked: int  # hints not yet shown
    history: list[Submission] = field(default_factory=list)
    draft: AnswerDraft | None = None
    best: Submission | None = None  # the latest correct submission, once solved
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
    def gave_up(self) -> bool:
        return self.progress is not None and self.progress.gave_up

    @property
    def wrong_attempts(self) -> int:
        if self.progress is None:
            return 0
        return self.progress.attempts - (1 if self.progress.solved else 0)

    @property
    def latest(self) -> Submission | None:
        return self.history[0] if self.history else None

    @property
    def hint_lock(self) -> int:
        """Return the wrong attempts still needed before the learner may ask for a hint."""
        return services_learner.hint_lock_remaining(self.exercise, self.wrong_attempts)

    @property
    def can_show_hint(self) -> bool:
        return self.hints_locked > 0 and self.hint_lock == 0

    @property
    def solution_shown(self) -> bool:
        return bool(self.variant.get("solution")) and (self.solved or self.gave_up)

    @cached_property
    def solution_html(self) -> str:
        return render_markdown(str(self.variant.get("solution") or ""))

    @cached_property
    def next_step(self) -> NextStep:
        return exercise_next(user=self.user, exercise=self.exercise)


def shown_hints(exercise: Exercise, user: User) -> tuple[list[str], bool]:
    """Return the hints the learner has asked to see (HintView rows), in order.

    They are in the reader's language where the exercise has a translation; the flag says
    whether they are the English standing in.
    """
    seen = HintView.objects.filter(user=user, exercise=exercise).count()
    hints, english = localized_list(exercise, "hints")
    return hints[:seen], english


def submission_history(*, user: User, exercise: Exercise) -> list[Submission]:
    """Return the learner's latest submissions to an exercise, newest first."""
    return list(
        Submission.objects.filter(user=user, exercise=exercise)
        .select_related("exercise")
        .order_by("-created_at", "-id")[: settings.GRADER_HISTORY_LENGTH]
    )


def best_submission(*, user: User, exercise: Exercise) -> Submission | None:
    """Return the learner's latest correct submission to an exercise, if any."""
    return (
        Submission.objects.filter(
            user=user,
            exercise=exercise,
            status=Submission.Status.FINISHED,
            verdict__status="correct",
        )
        .select_related("exercise")
        .order_by("-created_at", "-id")
        .first()
    )


def exercise_view(*, exercise: Exercise, user: User, seed: int | None = None) -> ExerciseView:
    """Assemble what the exercise page shows one learner: variant, progress, hints, draft, history."""
    seed = exercise.seed_for(user.pk) if seed is None else seed
    progress = ExerciseProgress.objects.filter(user=user, exercise=exercise).first()
    hints, hints_english = shown_hints(exercise, user)
    solved = progress is not None and progress.solved
    # The translated prompt and solution get this variant's values in their {{name}} placeholders.
    prompt, solution = localized(exercise, "prompt"), localized(exercise, "solution")
    return ExerciseView(
        exercise=exercise,
        user=user,
        seed=seed,
        variant=engine.variant(
            {**exercise.spec, "prompt": prompt.text, "solution": solution.text}, seed
        ),
        progress=progress,
        hints=hints,
        hints_locked=len(exercise.hints) - len(hints),
        history=submission_history(user=user, exercise=exercise),
        draft=AnswerDraft.objects.filter(user=user, exercise=exercise).first(),
        best=best_submission(user=user, exercise=exercise) if solved else None,
        prompt_english=prompt.english,
        hints_english=hints_english,
    )


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


async def _settled(submission: Submission) -> bool:
    """Read the submission again; say whether it has settled (one query)."""
    return await sync_to_async(_look)(submission)


def _look(submission: Submission) -> bool:
    submission.refresh_from_db()
    # A waiting request holds no database connection between looks either: with the pool
    # (DB_POOL, under the ASGI server) it goes back to it. Not inside a transaction (a test's).
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()
    return not submission.is_pending


async def submission_wait(*, submission: Submission, timeout: float) -> Submission:
    """Return the submission once it is settled, or as it stands after timeout seconds.

    A coroutine, so that a waiting learner holds no thread: under the ASGI server (README,
    "Production") thousands of these wait on one event loop, and a worker thread is used only for
    the few short queries around the wait. It listens for the worker's announcement on Redis
    (redis.asyncio pub/sub) when there is one; otherwise, or if Redis fails, it looks at the
    database every GRADER_STATUS_CHECK_MS.
    """
    if not submission.is_pending or timeout <= 0:
        return submission
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    if settings.GRADER_NOTIFY_REDIS_URL:
        try:
            await _wait_for_announcement(settings.GRADER_NOTIFY_REDIS_URL, submission, deadline)
        except (redis.RedisError, OSError):
            pass
        else:
            return submission
    step = settings.GRADER_STATUS_CHECK_MS / 1000
    while not await _settled(submission) and loop.time() + step < deadline:
        await asyncio.sleep(step)
    return submission


async def _wait_for_announcement(url: str, submission: Submission, deadline: float) -> None:
    # One connection per wait, closed after it: a client bound to no event loop, so the wait
    # runs on whichever loop serves the request (the server's, or a test client's fresh one).
    client = redis.asyncio.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=1.0)
    loop = asyncio.get_running_loop()
    try:
        async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(services.verdict_channel(submission.pk))
            # Subscribed first, then looked: a verdict stored in between is not missed. Each
            # look reads the whole row, so the submission returned is as it stands.
            while not await _settled(submission):
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return
                await pubsub.get_message(timeout=min(remaining, 1.0))
    finally:
        await client.aclose()
