"""Reads for the grader's pages: an exercise as one learner sees it, and their submissions."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar, overload

import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.http import Http404

from course.compiled import Compiled
from course.localize import localized, localized_list
from course.markdown import render_markdown
from course.models import Exercise, ExerciseProgress, User
from course.selectors import AnyUser, may_open
from course.selectors_path import NextStep, exercise_next
from grader import announcements, engine, services_learner
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
    def draft(self) -> AnswerDraft | None:
        """Return what the learner last typed or sent (read only by the pages that show it)."""
        return AnswerDraft.objects.filter(user=self.user, exercise=self.exercise).first()

    @cached_property
    def best(self) -> Submission | None:
        """Return the latest correct submission, once solved (from the history when it is there)."""
        if not self.solved:
            return None
        for submission in self.history:
            if (
                submission.status == Submission.Status.FINISHED
                and submission.verdict_status == "correct"
            ):
                return submission
        return best_submission(user=self.user, exercise=self.exercise)

    @cached_property
    def solution_html(self) -> str:
        return render_markdown(str(self.variant.get("solution") or ""))

    @cached_property
    def next_step(self) -> NextStep:
        return exercise_next(user=self.user, exercise=self.exercise)


# The reads of every verdict shown (course.compiled: their SQL is compiled once).
_HINTS_SEEN = Compiled(
    lambda user_id, exercise_id: HintView.objects.filter(
        user_id=user_id, exercise_id=exercise_id
    ).only("pk"),
    user_id=int,
    exercise_id=int,
)
_PROGRESS = Compiled(
    lambda user_id, exercise_id: ExerciseProgress.objects.filter(
        user_id=user_id, exercise_id=exercise_id
    ).order_by("pk")[:1],
    user_id=int,
    exercise_id=int,
)
_HISTORY = Compiled(
    lambda user_id, exercise_id: Submission.objects.filter(
        user_id=user_id, exercise_id=exercise_id
    ).order_by("-created_at", "-id")[: settings.GRADER_HISTORY_LENGTH],
    user_id=int,
    exercise_id=int,
)


def shown_hints(exercise: Exercise, user: User) -> tuple[list[str], bool]:
    """Return the hints the learner has asked to see (HintView rows), in order.

    They are in the reader's language where the exercise has a translation; the flag says
    whether they are the English standing in.
    """
    seen = len(_HINTS_SEEN(user_id=user.pk, exercise_id=exercise.pk))
    hints, english = localized_list(exercise, "hints")
    return hints[:seen], english


def submission_history(*, user: User, exercise: Exercise) -> list[Submission]:
    """Return the learner's latest submissions to an exercise, newest first."""
    return _with_exercise(_HISTORY(user_id=user.pk, exercise_id=exercise.pk), exercise)


def _with_exercise(submissions: list[Submission], exercise: Exercise) -> list[Submission]:
    # The exercise is the one at hand: not read (with its whole spec) again for every submission.
    for submission in submissions:
        submission.exercise = exercise
    return submissions


def best_submission(*, user: User, exercise: Exercise) -> Submission | None:
    """Return the learner's latest correct submission to an exercise, if any."""
    best = (
        Submission.objects.filter(
            user=user,
            exercise=exercise,
            status=Submission.Status.FINISHED,
            verdict__status="correct",
        )
        .order_by("-created_at", "-id")
        .first()
    )
    return _with_exercise([best], exercise)[0] if best is not None else None


def exercise_view(*, exercise: Exercise, user: User, seed: int | None = None) -> ExerciseView:
    """Assemble what the exercise page shows one learner: variant, progress, hints, draft, history."""
    seed = exercise.seed_for(user.pk) if seed is None else seed
    progress = next(iter(_PROGRESS(user_id=user.pk, exercise_id=exercise.pk)), None)
    hints, hints_english = shown_hints(exercise, user)
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
        prompt_english=prompt.english,
        hints_english=hints_english,
    )


def access_submission(user: AnyUser, pk: int) -> Submission:
    """Return one of the user's own submissions, or raise 404 (for anyone else's too).

    Nobody else sees a learner's answers, instructors included: they read them, anonymised and
    in aggregate, through insight. The exercise must still be open to its author.
    """
    if not user.is_authenticated:
        raise Http404("No such submission.")
    # One query: the learner's own submission, to an exercise still reachable (not retired, nor
    # its lesson or module); an unpublished one is open to instructors only.
    submission = (
        Submission.objects.select_related("exercise__lesson__module")
        .filter(pk=pk, user=user, exercise__in=Exercise.objects.reachable())
        .first()
    )
    if submission is None or not may_open(user, submission.exercise):
        raise Http404("No such submission.")
    return submission


Answer = TypeVar("Answer")
# A held request looks at its submission again this often even when nothing was announced (the
# worker's announcement is best effort).
RECHECK_SECONDS = 3.0
# The longest pause between two looks of a request that waits without announcements.
LOOK_AT_MOST_SECONDS = 1.0


@dataclass
class _Then:
    """What a wait's caller does with the submission once it has settled, and what that gave."""

    then: Callable[[Submission], Any] | None
    value: Any = None
    done: bool = False


async def _settled(submission: Submission, after: _Then | None = None) -> bool:
    """Read the submission again; say whether it has settled (one query).

    A settled one is then given to after.then in the same thread hop (its value kept in after).
    """
    return await sync_to_async(_look)(submission, after)


# What a look reads again: the row's own columns, keeping the exercise already at hand (a full
# refresh_from_db would forget it, and the page would read the exercise with its spec again).
_LOOKED_AT = [
    f.attname for f in Submission._meta.concrete_fields if not f.is_relation and not f.primary_key
]


_LOOK = Compiled(lambda pk: Submission.objects.filter(pk=pk).only(*_LOOKED_AT), pk=int)


def _look(submission: Submission, after: _Then | None = None) -> bool:
    found = _LOOK(pk=submission.pk)
    if not found:
        raise Submission.DoesNotExist(f"submission {submission.pk} is gone")
    for name in _LOOKED_AT:
        setattr(submission, name, getattr(found[0], name))
    settled = not submission.is_pending
    if settled and after is not None and after.then is not None:
        after.value, after.done = after.then(submission), True
    release_connection()
    return settled


def release_connection() -> None:
    """Let go of this thread's database connection before a request waits for a verdict.

    A waiting request holds no database connection: with the pool (DB_POOL, under the ASGI
    server) it goes back to it. Not inside a transaction (a test's).
    """
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()


@overload
async def submission_wait(
    *, submission: Submission, timeout: float, just_stored: bool = False, then: None = None
) -> Submission: ...


@overload
async def submission_wait(
    *,
    submission: Submission,
    timeout: float,
    just_stored: bool = False,
    then: Callable[[Submission], Answer],
) -> Answer: ...


async def submission_wait(
    *,
    submission: Submission,
    timeout: float,
    just_stored: bool = False,
    then: Callable[[Submission], Any] | None = None,
) -> Any:
    """Return the submission once it is settled, or as it stands after timeout seconds.

    just_stored: this request has just stored the submission (it is queued), after
    listen_for_verdicts() said this event loop hears announcements: the wait starts without a
    look at the database. The subscription was confirmed before the answer was stored, so its
    verdict's announcement is heard, or remembered when it came before the wait registers.

    then: a sync function of that submission (rendering the answer to the request, say): run in
    the same thread hop as the look that found the submission settled, and its value returned.

    A coroutine, so that a waiting learner holds no thread: under the ASGI server (README,
    "Production") thousands of these wait on one event loop, and a worker thread is used only for
    the few short queries around the wait. It listens for the worker's announcement on Redis
    (one pub/sub subscription per event loop, grader.announcements) when there is one; otherwise,
    or if Redis fails, it looks at the database, first every GRADER_STATUS_CHECK_MS and then less
    often.
    """
    after = _Then(then)
    if submission.is_pending and timeout > 0:
        await _wait(submission, timeout, just_stored, after)
    if then is None:
        return submission
    if after.done:
        return after.value
    return await sync_to_async(then)(submission)


async def listen_for_verdicts() -> bool:
    """Make sure this event loop hears verdict announcements; say whether it does.

    A request that is about to store an answer and wait for its verdict asks first, so that
    the announcement cannot come before the subscription (see submission_wait's just_stored).
    """
    url = settings.GRADER_NOTIFY_REDIS_URL
    if not url:
        return False
    try:
        await announcements.listener(url)
    except (redis.RedisError, OSError):
        return False
    return True


async def _wait(submission: Submission, timeout: float, just_stored: bool, after: _Then) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    if settings.GRADER_NOTIFY_REDIS_URL:
        try:
            await _wait_for_announcement(
                settings.GRADER_NOTIFY_REDIS_URL,
                submission,
                deadline,
                after,
                look_first=not just_stored,
            )
        except (redis.RedisError, OSError):
            pass
        else:
            return
    # Without announcements every waiting learner looks at the database: first every
    # GRADER_STATUS_CHECK_MS, then less and less often (at most every LOOK_AT_MOST_SECONDS), so a
    # class waiting while Redis is away adds a bounded load, not one query per learner per 50 ms.
    step = settings.GRADER_STATUS_CHECK_MS / 1000
    while not await _settled(submission, after) and loop.time() + step < deadline:
        await asyncio.sleep(step)
        step = min(step * 1.5, max(LOOK_AT_MOST_SECONDS, step))


async def _wait_for_announcement(
    url: str, submission: Submission, deadline: float, after: _Then, *, look_first: bool = True
) -> None:
    # The event loop's one subscription to every verdict (grader.announcements): this wait only
    # registers its submission, and sends nothing to Redis.
    listener = await announcements.listener(url)
    loop = asyncio.get_running_loop()
    heard = listener.register(submission.pk)
    try:
        # Subscribed first, then looked: a verdict stored in between is not missed. Each look
        # reads the whole row, so the submission returned is as it stands.
        while not (look_first and await _settled(submission, after)):
            look_first = True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            # Looked at again every RECHECK_SECONDS even without an announcement (the worker's
            # publish is best effort).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(heard.wait(), min(remaining, RECHECK_SECONDS))
            if listener.failed:
                raise announcements.ListenerFailed("the verdict subscription was lost")
            heard.clear()
    finally:
        listener.unregister(submission.pk, heard)
