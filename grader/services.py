"""Writes of the grading pipeline: create, claim, grade, finish and re-queue submissions.

A submission moves QUEUED → RUNNING → FINISHED (or ERROR) only through guarded updates
(`UPDATE … WHERE status = …`), so two workers holding the same message can both try, and exactly one
wins. Progress is recorded in the transaction whose guarded RUNNING → FINISHED update changed the row,
which is what makes "graded once into progress" hold through crashes and redeliveries: the progress
is counted first in that transaction, and when the guard then changes nothing it is rolled back.

The worker's path is lean (tests/grader/test_services_queries.py counts it): a claim is one
`UPDATE … RETURNING` (the exercise comes from the worker's cache while its spec is unchanged), and a
counted verdict, with the learner's progress and its cost, is six statements and a commit; settling
a symbolic job after that takes none.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from course.models import Exercise, User
from course.services import progress_count_attempt
from grader import engine, fairshare, ratelimit
from grader.engine import CODE_KINDS, Status, Verdict
from grader.engine.types import gettext_noop, message
from grader.errors import AnswerEmpty, AnswerTooLarge
from grader.models import BenchRun, GradingTicket, Submission
from grader.services_learner import answer_draft_keep

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


def submission_create(
    *,
    user: User,
    exercise: Exercise,
    answer: str,
    purpose: Submission.Purpose = Submission.Purpose.CHECK,
) -> Submission:
    """Store an answer as QUEUED and put it on its way once the transaction commits.

    purpose TESTS runs a code answer on the visible tests only (never an attempt), through the
    same queue, line and budget as a check.

    Its deadline is set aside from the learner's grading budget (grader.ratelimit); a code answer
    waits in its learner's line for its turn (grader.fairshare). Raise AnswerEmpty, AnswerTooLarge
    or AnswersRateLimited (grader.errors) when it is not accepted; a refused answer costs nothing.
    The text becomes the learner's draft, in the same transaction, or on its own when the answer
    is not accepted, so an answer that is refused is not lost.
    """
    now = timezone.now()
    keep = len(answer) <= settings.GRADER_ENGINE.max_answer_chars
    try:
        _check_answer(answer)
        with transaction.atomic():
            submission = _submission_store(
                user=user, exercise=exercise, answer=answer, purpose=purpose, now=now
            )
    except Exception:
        if keep:  # not accepted, but kept as the draft
            answer_draft_keep(user=user, exercise=exercise, text=answer, now=now)
        raise
    log.info(
        "submission_created submission_id=%s user_id=%s exercise=%s queue=%s bytes=%s",
        submission.pk,
        user.pk,
        exercise.slug,
        submission.queue,
        len(answer.encode("utf-8")),
    )
    return submission


def _submission_store(
    *, user: User, exercise: Exercise, answer: str, purpose: Submission.Purpose, now: datetime
) -> Submission:
    """Store an accepted answer, its draft and its ticket, inside the caller's transaction."""
    answer_draft_keep(user=user, exercise=exercise, text=answer, now=now)
    reserved = ratelimit.reserve_for(exercise)
    ratelimit.budget_take(user=user, seconds=reserved, now=now)
    submission = Submission.objects.create(
        user=user,
        exercise=exercise,
        seed=exercise.seed_for(user.pk),
        answer=answer,
        purpose=purpose,
        queue=queue_for(exercise),
        created_at=now,
        enqueued_at=now,
    )
    held = fairshare.ticket_open(submission=submission, user=user, reserved_s=reserved, now=now)
    transaction.on_commit(lambda: submission_enqueue(submission=submission, held=held))
    return submission


def submission_enqueue(*, submission: Submission, held: bool | None = None) -> bool:
    """Put a stored submission on its way: in its learner's line, or on the broker.

    A submission held in a fair queue's line (grader.fairshare) is sent when its turn comes;
    any other (a symbolic answer, a held one's re-send by the sweeper) is sent now. held says
    whether it is held, when the caller knows (it has just opened its ticket); else it is read.
    """
    if fairshare.is_held(submission) if held is None else held:
        submissions_dispatch(queue=submission.queue)
        return True
    return submission_send(submission=submission)


def submissions_dispatch(*, queue: str, slot_freed: bool = False) -> list[int]:
    """Send the next turns of a fair queue to the broker; return the submissions sent.

    slot_freed: the caller has just ended one of the queue's jobs (see fairshare.turns_take).
    """
    if not fairshare.is_fair(queue):
        return []
    sent = fairshare.turns_take(queue=queue, now=timezone.now(), slot_freed=slot_freed)
    # In the order they were stored (turns_take gave them all the same enqueued_at).
    for submission_id in sorted(sent):
        _grading_send(submission_id=submission_id, queue=queue)
    return sent


def submission_settle(
    *, submission_id: int, queue: str | None = None, charged: bool = False
) -> None:
    """After a job ends: give its queue's slot to the next turn, and charge its cost to its learner.

    The slot goes first, so the worker's next job is on the broker before this task returns.
    queue and charged say what the caller knows (the submission's queue; its cost was charged
    with its verdict), which spares reading them.
    """
    if queue is None:
        queue = Submission.objects.filter(pk=submission_id).values_list("queue", flat=True).first()
        if queue is None:
            return
    submissions_dispatch(queue=queue, slot_freed=True)
    if not charged:
        fairshare.ticket_settle(submission_id=submission_id, now=timezone.now())


def submission_send(*, submission: Submission) -> bool:
    """Send the grading task for a stored submission; a broker failure is logged, not raised.

    The row is already committed as QUEUED, so when the broker is down the sweeper sends it later.

    The task is found by its name in the Celery app's registry, so the services do not import
    grader.tasks (the tasks import the services: one direction, no cycle). Celery's send_task would
    decouple as well, but it bypasses task_always_eager, with which development and the tests
    grade in process; a registered task honours it and its own options. GraderConfig.ready()
    imports grader.tasks, so every process that can call this has the task registered.
    Learners' answers go with GRADER_LEARNER_PRIORITY, behind the instructors' bench.
    """
    return _grading_send(submission_id=submission.pk, queue=submission.queue)


def grading_inline() -> bool:
    """Say whether sending an answer grades it in this process at once (Celery's
    task_always_eager, which development and tests may use), rather than on a worker later."""
    return bool(current_app.conf.task_always_eager)


def _grading_send(*, submission_id: int, queue: str) -> bool:
    try:
        task = current_app.tasks[GRADE_SUBMISSION_TASK]
        task.apply_async(
            args=[submission_id], queue=queue, priority=settings.GRADER_LEARNER_PRIORITY
        )
    except Exception:
        log.exception(
            "submission_enqueue_failed submission_id=%s queue=%s (the sweeper will re-send it)",
            submission_id,
            queue,
        )
        return False
    return True


# The claim is one statement: the guarded update returns the row it changed (PostgreSQL, and
# SQLite since 3.35), and with it the digest of the exercise's spec, so the worker's cached spec
# is used while the exercise is unchanged and fetched again once it is edited.
_CLAIM = """
UPDATE {table} SET {assignments} WHERE id = %s AND {guard}
RETURNING {columns},
  (SELECT MD5(CAST(spec AS TEXT)) FROM {exercises} WHERE id = {table}.exercise_id) AS spec_digest
"""


def _claim_row(
    submission_id: int, *, assignments: str, guard: str, params: list[Any]
) -> Submission | None:
    """Run one guarded claim; return the claimed submission with its exercise, or None.

    params fill the assignments' placeholders, then the guard's.
    """
    quote = connection.ops.quote_name
    sql = _CLAIM.format(
        table=quote(Submission._meta.db_table),
        exercises=quote(Exercise._meta.db_table),
        assignments=assignments,
        guard=guard,
        columns=", ".join(quote(f.column) for f in Submission._meta.concrete_fields),
    )
    # A raw query set applies the fields' converters (JSON, time zones) as a query would.
    assignment_count = assignments.count("%s")
    ordered = [*params[:assignment_count], submission_id, *params[assignment_count:]]
    claimed = list(Submission.objects.raw(sql, ordered))
    if not claimed:
        return None
    submission = claimed[0]
    submission.exercise = _exercise_for(submission.exercise_id, digest=submission.spec_digest)
    return submission


# Exercises as the worker last read them, by id, with the digest of the spec they were read with.
_exercises: dict[int, tuple[str, Exercise]] = {}


def _exercise_for(exercise_id: int, *, digest: str) -> Exercise:
    """Return the exercise, from this process's cache while its spec's digest is unchanged."""
    cached = _exercises.get(exercise_id)
    if cached is not None and cached[0] == digest:
        return cached[1]
    exercise = Exercise.objects.get(pk=exercise_id)
    _exercises[exercise_id] = (digest, exercise)
    return exercise


def submission_claim(*, submission_id: int, task_id: str, worker: str) -> Submission | None:
    """Take a submission for grading, or return None when it is not this task's to grade.

    A QUEUED submission is claimed by whoever gets there first. A RUNNING one may be claimed again
    only by the same task id — the same message redelivered after its worker died, or a retry — and
    only while it has tries left, so an answer that kills its worker cannot loop for ever.
    One statement in the usual case (the claim returns the row, and the exercise comes from the
    worker's cache), two for a redelivered message.
    """
    now = timezone.now()
    running = Submission.Status.RUNNING
    submission = _claim_row(
        submission_id,
        assignments="status = %s, claimed_at = %s, task_id = %s, worker = %s",
        guard="status = %s",
        params=[running, now, task_id, worker, Submission.Status.QUEUED],
    )
    if submission is None and task_id:
        submission = _claim_row(
            submission_id,
            assignments="claimed_at = %s, worker = %s, tries = tries + 1",
            guard="status = %s AND task_id = %s AND tries < %s",
            params=[now, worker, running, task_id, settings.GRADER_MAX_TRIES],
        )
        if submission is None:
            submission_fail(submission_id=submission_id, reason="worker_lost", task_id=task_id)
    if submission is None:
        log.info("submission_claim_skipped submission_id=%s task_id=%s", submission_id, task_id)
        return None
    log.info(
        "submission_claimed submission_id=%s task_id=%s worker=%s tries=%s wait_ms=%.1f",
        submission_id,
        task_id,
        worker,
        submission.tries,
        (now - submission.enqueued_at).total_seconds() * 1000,
    )
    return submission


def answer_grade(
    *,
    spec: dict[str, Any],
    answer: str,
    seed: int,
    context: str,
    grader: Callable[..., Verdict] | None = None,
) -> Verdict:
    """Ask the engine for a verdict; an engine failure is an ERROR verdict, never an exception.

    context names the answer in the log line (submission_id=12, or a batch line); grader is
    engine.grade (the default), or engine.run_visible_tests for a practice run.
    """
    started = time.perf_counter()
    try:
        verdict = (grader or engine.grade)(spec, answer, seed=seed)
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
    """Ask the engine for the verdict on a claimed submission (a practice run's, for TESTS)."""
    if submission.purpose == Submission.Purpose.TESTS:
        return answer_grade(
            spec=submission.exercise.spec,
            answer=submission.answer,
            seed=submission.seed,
            context=f"submission_id={submission.pk} purpose=tests",
            grader=engine.run_visible_tests,
        )
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
    """Store the verdict, the learner's progress for a counted one, and its cost, in one transaction.

    A counted verdict takes the progress row first (locked until commit, so its count is this
    attempt's number) and then stores the verdict with that number through the guarded update;
    when the guard finds the submission no longer this task's, the transaction is rolled back and
    nothing of it stays. A stored verdict's grading time is charged to the learner's budget in the
    same commit (grader.fairshare.ticket_charge), so settling the job has nothing left to charge.
    That is six statements and the commit for a counted verdict, three fewer for one that uses
    no attempt.
    """
    now = timezone.now()
    pending = Submission.objects.filter(
        pk=submission.pk, status=Submission.Status.RUNNING, task_id=task_id
    )
    stored: dict[str, Any] = {
        "status": Submission.Status.FINISHED,
        "verdict": verdict.to_dict(),
        "score": verdict.score,
        "finished_at": now,
        "grading_ms": verdict.elapsed_ms,
    }
    with transaction.atomic():
        if verdict.counts_as_attempt:
            stored["attempt_number"] = progress_count_attempt(
                user_id=submission.user_id,
                exercise_id=submission.exercise_id,
                score=verdict.score,
                correct=verdict.status == Status.CORRECT,
                at=now,
            )
        finished = pending.update(**stored)
        if finished:
            fairshare.ticket_charge(
                submission_id=submission.pk,
                user_id=submission.user_id,
                cost_s=(verdict.elapsed_ms or 0.0) / 1000,
                now=now,
            )
            _notify_on_commit(submission.pk)
        else:
            transaction.set_rollback(True)
    if finished:
        for name, value in stored.items():
            setattr(submission, name, value)
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
        submission.refresh_from_db()
        log.warning(
            "submission_finish_skipped submission_id=%s task_id=%s status=%s (finished elsewhere)",
            submission.pk,
            task_id,
            submission.status,
        )
    return FinishResult(submission=submission, finished=bool(finished))


def submission_process(*, submission_id: int, task_id: str, worker: str) -> str:
    """Grade one submission end to end: claim it, ask the engine, store the verdict and progress.

    Then, whatever happened, settle the job (submission_settle): its queue's slot goes to the next
    turn, and a cost not charged with the verdict is charged now.
    Return what happened, for the task's result: the verdict status, "skipped" (not this task's to
    grade), "time_limit" (the soft time limit struck) or "finished_elsewhere". A graded one logs
    `submission_stages` with how long each stage took (benchmarks/bench_pipeline.py reads them).
    """
    started = time.perf_counter()
    submission: Submission | None = None
    charged = False
    try:
        submission = submission_claim(submission_id=submission_id, task_id=task_id, worker=worker)
        if submission is None:
            return "skipped"
        claimed = time.perf_counter()
        try:
            verdict = submission_grade(submission=submission)
        except SoftTimeLimitExceeded:
            submission_fail(submission_id=submission_id, reason="time_limit", task_id=task_id)
            return "time_limit"
        graded = time.perf_counter()
        result = submission_finish(submission=submission, verdict=verdict, task_id=task_id)
        if not result.finished:
            return "finished_elsewhere"
        charged = True
        _log_stages(submission, started=started, claimed=claimed, graded=graded)
        return str(verdict.status)
    finally:
        submission_settle(
            submission_id=submission_id,
            queue=submission.queue if submission is not None else None,
            charged=charged,
        )


def _log_stages(submission: Submission, *, started: float, claimed: float, graded: float) -> None:
    assert submission.claimed_at is not None
    recorded = time.perf_counter()
    log.info(
        "submission_stages submission_id=%s queue_ms=%.1f claim_ms=%.1f grade_ms=%.1f "
        "record_ms=%.1f committed_at=%.6f",
        submission.pk,
        (submission.claimed_at - submission.enqueued_at).total_seconds() * 1000,
        (claimed - started) * 1000,
        (graded - claimed) * 1000,
        (recorded - graded) * 1000,
        # Wall-clock time just after the verdict was committed and announced: a client on the
        # same clock measures delivery from here.
        time.time(),
    )


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
    # One waiting in its learner's line is not stuck: grader.fairshare sends it on its turn.
    stuck &= ~Q(ticket__state=GradingTicket.State.HELD)
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


# The instructors' bench: graded by the workers like every answer, in a lane ahead of learners'.
GRADE_BENCH_RUN_TASK = "grader.tasks.grade_bench_run"
NO_WORKER = gettext_noop(
    "No grader worker answered within %(seconds)d seconds; check that the workers run."
)


def bench_run_create(
    *, user: User, exercise: Exercise, spec: dict[str, Any], answer: str, seed: int
) -> BenchRun:
    """Store an instructor's bench check and send it to the workers once it commits.

    It goes to its kind's queue with GRADER_INSTRUCTOR_PRIORITY, ahead of every learner's answer
    on that queue, and outside the learners' fair-share lines; it never counts as an attempt.
    """
    kind = spec.get("kind")
    queue = settings.GRADER_CODE_QUEUE if kind in CODE_KINDS else settings.GRADER_SYMBOLIC_QUEUE
    run = BenchRun.objects.create(
        user=user,
        exercise=exercise,
        spec=spec,
        answer=answer,
        seed=seed,
        queue=queue,
        created_at=timezone.now(),
    )
    transaction.on_commit(lambda: _bench_run_send(run))
    return run


def _bench_run_send(run: BenchRun) -> None:
    try:
        current_app.tasks[GRADE_BENCH_RUN_TASK].apply_async(
            args=[run.pk], queue=run.queue, priority=settings.GRADER_INSTRUCTOR_PRIORITY
        )
    except Exception:
        log.exception("bench_run_send_failed bench_run_id=%s", run.pk)


def bench_run_process(*, bench_run_id: int, worker: str) -> str:
    """Grade a queued bench check in a worker and store its verdict; return the verdict status."""
    run = BenchRun.objects.filter(pk=bench_run_id, status=BenchRun.Status.QUEUED).first()
    if run is None:
        return "skipped"
    try:
        verdict = answer_grade(
            spec=run.spec, answer=run.answer, seed=run.seed, context=f"bench_run_id={run.pk}"
        )
    except SoftTimeLimitExceeded:
        verdict = Verdict(
            status=Status.ERROR,
            messages=[message("time_limit", NOT_COUNTED)],
            flags=["time_limit"],
        )
    BenchRun.objects.filter(pk=run.pk, status=BenchRun.Status.QUEUED).update(
        status=BenchRun.Status.FINISHED,
        verdict=verdict.to_dict(),
        worker=worker,
        finished_at=timezone.now(),
    )
    return str(verdict.status)


def bench_run_expire(*, run: BenchRun, waited_s: float) -> BenchRun:
    """Give up on a bench check no worker graded in time: it ends as an ERROR saying so."""
    said = message("no_worker", NO_WORKER, seconds=round(waited_s))
    verdict = Verdict(status=Status.ERROR, messages=[said], flags=["no_worker"])
    BenchRun.objects.filter(pk=run.pk, status=BenchRun.Status.QUEUED).update(
        status=BenchRun.Status.ERROR, verdict=verdict.to_dict(), finished_at=timezone.now()
    )
    run.refresh_from_db()
    return run
