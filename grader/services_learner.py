"""Writes around a learner's answer: drafts saved as they type, hints they ask for, giving up.

A draft is one row per learner and exercise, so it follows the learner to another device; a
submission saves its text as the draft first (grader.services.submission_create), so a refused
answer is never lost and a reload shows what was last sent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from course.models import Exercise, ExerciseProgress, User
from course.services import progress_give_up
from grader.errors import DraftsRateLimited, DraftTooLarge, HintLocked, NoMoreHints
from grader.models import AnswerDraft, HintView

RATE_WINDOW = timedelta(minutes=1)


def answer_draft_save(
    *, user: User, exercise: Exercise, text: str, typed: bool = True
) -> AnswerDraft:
    """Store the learner's current text for the exercise.

    typed drafts (saved while writing) are bounded per learner by GRADER_DRAFT_SAVES_PER_MINUTE;
    the text a submission carries is always kept. Raise DraftTooLarge or DraftsRateLimited.
    """
    limit = settings.GRADER_ENGINE.max_answer_chars
    if len(text) > limit:
        raise DraftTooLarge(size=len(text), limit=limit)
    now = timezone.now()
    if typed:
        _check_draft_rate(user, now)
    with transaction.atomic():
        draft = AnswerDraft.objects.select_for_update().filter(user=user, exercise=exercise).first()
        if draft is None:
            try:
                with transaction.atomic():
                    return AnswerDraft.objects.create(
                        user=user,
                        exercise=exercise,
                        text=text,
                        updated_at=now,
                        window_started_at=now,
                        window_saves=1 if typed else 0,
                    )
            except IntegrityError:
                # Another request created it a moment ago: update that row instead.
                draft = AnswerDraft.objects.select_for_update().get(user=user, exercise=exercise)
        if draft.window_started_at <= now - RATE_WINDOW:
            draft.window_started_at, draft.window_saves = now, 0
        draft.text, draft.updated_at = text, now
        draft.window_saves += 1 if typed else 0
        draft.save(update_fields=["text", "updated_at", "window_started_at", "window_saves"])
    return draft


def answer_draft_keep(*, user: User, exercise: Exercise, text: str, now: datetime) -> None:
    """Store the text a submission carries as the learner's draft, in one statement.

    An upsert: it creates the draft or replaces its text, and leaves the typed-saves window alone
    (a submission is never counted against it). Inside the submission's transaction it costs no
    transaction of its own.
    """
    AnswerDraft.objects.bulk_create(
        [
            AnswerDraft(
                user=user,
                exercise=exercise,
                text=text,
                updated_at=now,
                window_started_at=now,
                window_saves=0,
            )
        ],
        update_conflicts=True,
        unique_fields=["user", "exercise"],
        update_fields=["text", "updated_at"],
    )


def _check_draft_rate(user: User, now: datetime) -> None:
    recent = AnswerDraft.objects.filter(user=user, window_started_at__gt=now - RATE_WINDOW)
    saves = recent.aggregate(total=Sum("window_saves"))["total"] or 0
    if saves >= settings.GRADER_DRAFT_SAVES_PER_MINUTE:
        oldest = recent.order_by("window_started_at").values_list("window_started_at", flat=True)
        wait = (oldest[0] + RATE_WINDOW - now).total_seconds()
        raise DraftsRateLimited(retry_after=max(1, int(wait) + 1))


def hint_lock_remaining(exercise: Exercise, wrong_attempts: int) -> int:
    """Return how many more wrong attempts the exercise's lock (hint_after) asks for before hints."""
    return max(0, exercise.hint_after - wrong_attempts)


def hint_reveal(*, user: User, exercise: Exercise) -> HintView:
    """Show the learner the next hint, recording that they asked; hints come one at a time, in order.

    Raise HintLocked while the exercise's hint_after lock holds, NoMoreHints after the last.
    """
    progress = ExerciseProgress.objects.filter(user=user, exercise=exercise).first()
    wrong = 0 if progress is None else progress.attempts - (1 if progress.solved else 0)
    remaining = hint_lock_remaining(exercise, wrong)
    if remaining:
        raise HintLocked(wrong_attempts_needed=remaining)
    with transaction.atomic():
        seen = HintView.objects.select_for_update().filter(user=user, exercise=exercise)
        index = len(list(seen.values_list("index", flat=True)))
        if index >= len(exercise.hints):
            raise NoMoreHints
        view, _created = HintView.objects.get_or_create(
            user=user,
            exercise=exercise,
            index=index,
            defaults={"viewed_at": timezone.now(), "wrong_attempts": wrong},
        )
    return view


def exercise_give_up(*, user: User, exercise: Exercise) -> ExerciseProgress:
    """Record that the learner gave up on the exercise, which shows them its worked solution."""
    return progress_give_up(user=user, exercise=exercise)
