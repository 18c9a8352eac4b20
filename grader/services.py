"""Writes of the grading pipeline: create, claim, grade, finish and re-queue submissions.

A submission moves QUEUED → RUNNING → FINISHED (or ERROR) only through guarded updates
(`UPDATE … WHERE status = …`), so two workers holding the same message can both try, and exactly one
wins. Progress is recorded in the transaction whose guarded RUNNING → FINISHED update changed the row,
which is what makes "graded once into progress" hold through crashes and redeliveries.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from course.models import Exercise, User
from course.services import progress_record_verdict
from grader import engine
from grader.engine import CODE_KINDS, Status, Verdict
from grader.engine.types import gettext_noop, message
from grader.errors import AnswerEmpty, AnswersRateLimited, AnswerTooLarge
from grader.models import Submission
from grader.services_learner import answer_draft_save

log = logging.getLogger(__name__)

# The grading task's registered name: grader.tasks declares its task under it, and
# submission_enqueue sends it by that name, so this module never imports the task module.
GRADE_SUBMISSION_TASK = "grader.tasks.grade_submission"

# Stored with its template (grader.engine.types) so the page says it in the reader's language.
NOT_COUNTED = gettext_noop(
    "This answer could not be graded — it is not counted against you. Please try again."
)


def queue_for(exercise: Exercise) -> str:
    """Return the queue that grades this exercise's answers."""
    return (
        settings.GRADER_CODE_QUEUE
        if exercise.kind in CODE_KINDS
        else settings.GRADER_SYMBOLIC_QUEUE
    )


def _check_answer(answer: str) -> None:
    size = len(answer)
    limit = settings.GRADER_ENGINE.max_answer_chars
    if size > limit:
        raise AnswerTooLarge(size=size, limit=limit)
    if not answer.strip():
        raise AnswerEmpty


def _check_rate(user: User, now: datetime) -> None:
    limit = settings.GRADER_RATE_LIMIT_PER_MINUTE
    recent = Submission.objects.filter(user=user, created_at__gt=now - timedelta(minutes=1))
    if recent.count() >= limit:
        oldest = recent.order_by("created_at").values_list("created_at", flat=True).first()
        wait = max(1, int((oldest + timedelta(minutes=1) - now).total_seconds()) + 1)
        raise AnswersRateLimited(limit=limit, retry_after=wait)


def submission_create(*, user: User, exercise: Exercise, answer: str) -> Submission:
    """Store an answer as QUEUED and put it on its queue once the transaction commits.

    Raise AnswerEmpty, AnswerTooLarge or AnswersRateLimited (grader.errors) when it is not accepted.
    The text becomes the learner's draft first, so an answer that is refused is not lost.
    """
    if len(answer) <= settings.GRADER_ENGINE.max_answer_chars:
        answer_draft_save(user=user, exercise=exercise, text=answer, typed=False)
    _check_answer(answer)
    now = timezone.now()
    with transaction.atomic():
        # Lock the student's row so two quick requests cannot both slip under the rate limit.
        list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
        _check_rate(user, now)
        submission = Submission.objects.create(
            user=user,
            exercise=exercise,
            seed=exercise.seed_for(user.pk),
            answer=answer,
            queue=queue_for(exercise),
            created_at=now,
            enqueued_at=now,
        )
        transaction.on_commit(lambda: submission_enqueue(submission=submission))
    log.info(
        "submission_created submission_id=%s user_id=%s exercise=%s queue=%s bytes=%s",
        submission.pk,
        user.pk,
        exercise.slug,
        submission.queue,
        len(answer.encode("utf-8")),
    )
    return submission


def submission_enqueue(*, submission: Submission) -> bool:
    """Send the grading task for a stored submission; a broker failure is logged, not raised.

    The row is already committed as QUEUED, so when the broker is down the sweeper sends it later.

    The task is found by its name in the Celery app's registry, so the services do not import
    grader.tasks (the tasks import the services: one direction, no cycle). Celery's send_task would
    decouple as well, but it bypasses task_always_eager, with which development and the tests
    grade in process; a registered task honours it and its own options. GraderConfig.ready()
    imports grader.tasks, so every process that can call this has the task registered.
    """
    try:
        task = current_app.tasks[GRADE_SUBMISSION_TASK]
        task.apply_async(args=[submission.pk], queue=submission.queue)
    except Exception:
        log.exception(
            "submission_enqueue_failed submission_id=%s queue=%s (the sweeper will re-send it)",
            submission.pk,
            submission.queue,
        )
        return False
    return True


def submission_claim(*, submission_id: int, task_id: str, worker: str) -> Submission | None:
    """Take a submission for grading, or return None when it is not this task's to grade.

    A QUEUED submission is claimed by whoever gets there first. A RUNNING one may be claimed again
    only by the same task id — the same message redelivered after its worker died, or a retry — and
    only while it has tries left, so an answer that kills its worker cannot loop for ever.
    """
    now = timezone.now()
    rows = Submission.objects.filter(pk=submission_id)
    claimed = rows.filter(status=Submission.Status.QUEUED).update(
        status=Submission.Status.RUNNING, claimed_at=now, task_id=task_id, worker=worker
    )
    if not claimed and task_id:
        claimed = rows.filter(
            status=Submission.Status.RUNNING, task_id=task_id, tries__lt=settings.GRADER_MAX_TRIES
        ).update(claimed_at=now, worker=worker, tries=F("tries") + 1)
        if not claimed:
            submission_fail(submission_id=submission_id, reason="worker_lost", task_id=task_id)
    if not claimed:
        log.info("submission_claim_skipped submission_id=%s task_id=%s", submission_id, task_id)
        return None
    submission = Submission.objects.select_related("exercise", "user").get(pk=submission_id)
    log.info(
        "submission_claimed submission_id=%s task_id=%s worker=%s tries=%s wait_ms=%.1f",
        submission_id,
        task_id,
        worker,
        submission.tries,
        (now - submission.enqueued_at).total_seconds() * 1000,
    )
    return submission


def answer_grade(*, spec: dict[str, Any], answer: str, seed: int, context: str) -> Verdict:
    """Ask the engine for a verdict; an engine failure is an ERROR verdict, never an exception.

    context names the answer in the log line (submission_id=12, or a batch line).
    """
    started = time.perf_counter()
    try:
        verdict = engine.grade(spec, answer, seed=seed)
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        log.exception("engine_failed %s", context)
        verdict = Verdict(
            status=Status.ERROR,
            messages=[message("grader_failed", NOT_COUNTED)],
            flags=["engine_exception"],
        )
    if not verdict.elapsed_ms:
        verdict.elapsed_ms = (time.perf_counter() - started) * 1000
    return verdict


def submission_grade(*, submission: Submission) -> Verdict:
    """Ask the engine for the verdict on a claimed submission."""
    return answer_grade(
        spec=submission.exercise.spec,
        answer=submission.answer,
        seed=submission.seed,
        context=f"submission_id={submission.pk}",
    )


@dataclass
class FinishResult:
    submission: Submission
    finished: bool  # False: someone else finished it first, nothing was written


def submission_finish(*, submission: Submission, verdict: Verdict, task_id: str) -> FinishResult:
    """Store the verdict and, for a counted verdict, the learner's progress, in one transaction."""
    now = timezone.now()
    with transaction.atomic():
        finished = Submission.objects.filter(
            pk=submission.pk, status=Submission.Status.RUNNING, task_id=task_id
        ).update(
            status=Submission.Status.FINISHED,
            verdict=verdict.to_dict(),
            score=verdict.score,
            finished_at=now,
            grading_ms=verdict.elapsed_ms,
        )
        if finished:
            _notify_on_commit(submission.pk)
        if finished and verdict.counts_as_attempt:
            progress = progress_record_verdict(
                user=submission.user,
                exercise=submission.exercise,
                score=verdict.score,
                correct=verdict.status == Status.CORRECT,
                at=now,
            )
            # The progress row is locked until commit, so its count is this attempt's number.
            Submission.objects.filter(pk=submission.pk).update(attempt_number=progress.attempts)
    submission.refresh_from_db()
    if finished:
        log.info(
            "submission_finished submission_id=%s verdict=%s score=%s attempt=%s grading_ms=%.1f "
            "turnaround_ms=%.1f",
            submission.pk,
            verdict.status,
            verdict.score,
            submission.attempt_number,
            verdict.elapsed_ms,
            submission.turnaround_ms or 0.0,
        )
    else:
        log.warning(
            "submission_finish_skipped submission_id=%s task_id=%s status=%s (finished elsewhere)",
            submission.pk,
            task_id,
            submission.status,
        )
    return FinishResult(submission=submission, finished=bool(finished))


def submission_process(*, submission_id: int, task_id: str, worker: str) -> str:
    """Grade one submission end to end: claim it, ask the engine, store the verdict and progress.

    Return what happened, for the task's result: the verdict status, "skipped" (not this task's to
    grade), "time_limit" (the soft time limit struck) or "finished_elsewhere".
    """
    submission = submission_claim(submission_id=submission_id, task_id=task_id, worker=worker)
    if submission is None:
        return "skipped"
    try:
        verdict = submission_grade(submission=submission)
    except SoftTimeLimitExceeded:
        submission_fail(submission_id=submission_id, reason="time_limit", task_id=task_id)
        return "time_limit"
    result = submission_finish(submission=submission, verdict=verdict, task_id=task_id)
    return str(verdict.status) if result.finished else "finished_elsewhere"


def verdict_channel(submission_id: int) -> str:
    """Return the Redis channel on which a submission's verdict is announced."""
    return f"chainrule:verdict:{submission_id}"


@functools.cache
def notify_client(url: str) -> redis.Redis | None:
    """Return the Redis client verdicts are announced on (one pool per process), if any."""
    if not url:
        return None
    return redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)


def submission_notify(*, submission_id: int) -> None:
    """Announce that a submission settled, so a page waiting for it answers at once.

    Best effort: a page that misses the announcement finds the verdict on its next look.
    """
    client = notify_client(settings.GRADER_NOTIFY_REDIS_URL)
    if client is None:
        return
    try:
        client.publish(verdict_channel(submission_id), "settled")
    except redis.RedisError as exc:
        log.warning("submission_notify_failed submission_id=%s error=%s", submission_id, exc)


def _notify_on_commit(submission_id: int) -> None:
    transaction.on_commit(lambda: submission_notify(submission_id=submission_id))


def submission_fail(*, submission_id: int, reason: str, task_id: str | None = None) -> bool:
    """Mark a pending submission as not gradable, never counted; return whether it changed."""
    pending = Submission.objects.filter(
        pk=submission_id, status__in=[Submission.Status.QUEUED, Submission.Status.RUNNING]
    )
    if task_id is not None:
        pending = pending.filter(task_id=task_id)
    verdict = Verdict(status=Status.ERROR, messages=[message(reason, NOT_COUNTED)], flags=[reason])
    failed = pending.update(
        status=Submission.Status.ERROR,
        verdict=verdict.to_dict(),
        score=0.0,
        finished_at=timezone.now(),
    )
    if failed:
        submission_notify(submission_id=submission_id)
        log.warning("submission_failed submission_id=%s reason=%s", submission_id, reason)
    return bool(failed)


@dataclass
class SweepReport:
    requeued: list[int]
    failed: list[int]


def submission_requeue_stuck(*, now: datetime | None = None) -> SweepReport:
    """Re-send submissions stuck QUEUED or RUNNING past their limits; give up after GRADER_MAX_TRIES."""
    now = now or timezone.now()
    queued_cutoff = now - timedelta(seconds=settings.GRADER_QUEUED_STUCK_SECONDS)
    running_cutoff = now - timedelta(seconds=settings.GRADER_RUNNING_STUCK_SECONDS)
    stuck = Q(status=Submission.Status.QUEUED, enqueued_at__lt=queued_cutoff) | Q(
        status=Submission.Status.RUNNING, claimed_at__lt=running_cutoff
    )
    report = SweepReport(requeued=[], failed=[])
    # Oldest first, so a learner's answers are graded (and their attempts numbered) in order.
    for row in (
        Submission.objects.filter(stuck)
        .order_by("enqueued_at", "pk")
        .values("pk", "status", "tries", "enqueued_at", "claimed_at")
    ):
        # Each update repeats the stuck condition, so a submission that moved on meanwhile is left alone.
        guard = Submission.objects.filter(
            pk=row["pk"], status=row["status"], tries=row["tries"]
        ).filter(stuck)
        if row["tries"] >= settings.GRADER_MAX_TRIES:
            verdict = Verdict(
                status=Status.ERROR,
                messages=[message("stuck", NOT_COUNTED)],
                flags=[f"gave_up_after_{row['tries']}_tries"],
            )
            if guard.update(
                status=Submission.Status.ERROR,
                verdict=verdict.to_dict(),
                score=0.0,
                finished_at=now,
            ):
                report.failed.append(row["pk"])
                submission_notify(submission_id=row["pk"])
                log.warning(
                    "submission_gave_up submission_id=%s tries=%s was=%s",
                    row["pk"],
                    row["tries"],
                    row["status"],
                )
            continue
        if guard.update(
            status=Submission.Status.QUEUED, tries=F("tries") + 1, enqueued_at=now, task_id=""
        ):
            report.requeued.append(row["pk"])
            log.warning(
                "submission_requeued submission_id=%s try=%s was=%s",
                row["pk"],
                row["tries"] + 1,
                row["status"],
            )
    for submission in Submission.objects.filter(pk__in=report.requeued).order_by(
        "enqueued_at", "pk"
    ):
        submission_enqueue(submission=submission)
    return report
