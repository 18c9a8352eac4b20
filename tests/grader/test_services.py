"""The pipeline's services: creating, claiming, finishing and re-queueing submissions."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from course.models import Exercise, ExerciseProgress, User
from grader import ratelimit, services
from grader.engine import Message, Status, Verdict
from grader.errors import AnswerEmpty, AnswersRateLimited, AnswerTooLarge
from grader.models import GradingBudget, GradingTicket, Submission
from grader.rendering import submission_feedback
from grader.tasks import grade_submission, requeue_stuck_submissions
from tests.grader.conftest import SIGMOID_RIGHT, SIGMOID_WRONG

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record the grading tasks sent to the broker instead of sending them."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(grade_submission, "apply_async", lambda **kw: calls.append(kw))
    return calls


def create(user: User, exercise: Exercise, answer: str = SIGMOID_RIGHT) -> Submission:
    return services.submission_create(user=user, exercise=exercise, answer=answer)


def claim(submission: Submission, task_id: str = "task-1") -> Submission | None:
    return services.submission_claim(submission_id=submission.pk, task_id=task_id, worker="w1")


def test_it_stores_a_queued_submission_with_the_learners_variant(student, sigmoid, sent):
    submission = create(student, sigmoid)
    assert submission.status == Submission.Status.QUEUED
    assert submission.seed == sigmoid.seed_for(student.pk)
    assert submission.queue == "symbolic"
    assert submission.tries == 1
    assert submission.attempt_number is None


def test_it_routes_code_to_the_code_queue(student, relu, sent):
    assert create(student, relu, "def relu_backward(x, g):\n    return g\n").queue == "code"


def test_it_enqueues_only_after_commit(student, sigmoid, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        submission = create(student, sigmoid)
        assert sent == []
    assert sent == [{"args": [submission.pk], "queue": "symbolic", "priority": 6}]


def test_the_grading_task_is_sent_by_its_registered_name() -> None:
    # The services send the task by name; the web process has it registered (GraderConfig.ready).
    assert (
        current_app.tasks[services.GRADE_SUBMISSION_TASK] is grade_submission._get_current_object()
    )


def test_a_broker_failure_keeps_the_submission_queued(
    student, sigmoid, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(**_: Any) -> None:
        raise ConnectionRefusedError("no broker")

    monkeypatch.setattr(grade_submission, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        submission = create(student, sigmoid)
    assert Submission.objects.get(pk=submission.pk).status == Submission.Status.QUEUED


def test_it_refuses_an_answer_over_the_size_limit(student, sigmoid, sent, settings):
    settings.GRADER_ENGINE = replace(settings.GRADER_ENGINE, max_answer_chars=100)
    with pytest.raises(AnswerTooLarge) as refused:
        create(student, sigmoid, "x+" * 60)
    assert (refused.value.code, refused.value.http_status) == ("too_large", 413)
    assert "limit is 100" in refused.value.message
    assert not Submission.objects.exists()


def test_it_counts_the_size_in_characters(student, sigmoid, sent, settings):
    settings.GRADER_ENGINE = replace(settings.GRADER_ENGINE, max_answer_chars=10)
    create(student, sigmoid, "σ" * 10)  # 10 characters, 20 bytes: within the limit
    with pytest.raises(AnswerTooLarge) as refused:
        create(student, sigmoid, "σ" * 11)
    assert refused.value.size == 11


def test_it_refuses_an_empty_answer(student, sigmoid, sent):
    with pytest.raises(AnswerEmpty) as refused:
        create(student, sigmoid, "  \n ")
    assert (refused.value.code, refused.value.http_status) == ("empty", 400)


def spent(user: User, seconds: float) -> None:
    """Grade nothing, but leave the learner's budget as if answers had cost `seconds`."""
    now = timezone.now()
    budget = GradingBudget.objects.filter(user=user).first()
    level = ratelimit.level(budget, now) if budget else ratelimit.capacity()
    GradingBudget.objects.update_or_create(
        user=user, defaults={"seconds": level - seconds, "updated_at": now}
    )


def test_cheap_answers_are_never_limited_however_many(student, sigmoid, sent, settings):
    # Ten per minute was the old limit; answers that cost milliseconds now never reach one.
    settings.GRADER_BUDGET_SECONDS = 20.0
    for _ in range(30):
        submission = create(student, sigmoid)
        submission.status, submission.grading_ms = Submission.Status.FINISHED, 40.0
        submission.save()
        services.submission_settle(submission_id=submission.pk)
    assert Submission.objects.filter(user=student).count() == 30


def test_a_spent_budget_refuses_and_says_how_long_to_wait(
    student, outsider, sigmoid, sent, settings
):
    settings.GRADER_BUDGET_SECONDS, settings.GRADER_BUDGET_WINDOW_SECONDS = 60.0, 600.0
    spent(student, 57.0)  # 3 s left; a symbolic answer sets aside its 5 s deadline
    with pytest.raises(AnswersRateLimited) as refused:
        create(student, sigmoid)
    assert (refused.value.code, refused.value.http_status) == ("rate_limited", 429)
    # 2 s missing at 0.1 s per second: 20 s (rounded up; the clock moved a little since).
    assert 19 <= refused.value.retry_after <= 20
    assert "20 seconds" in refused.value.message or "19 seconds" in refused.value.message
    assert refused.value.headers() == {"Retry-After": str(refused.value.retry_after)}
    assert not Submission.objects.filter(user=student).exists()
    create(outsider, sigmoid)  # another learner's budget is their own


def test_refused_answers_cost_nothing(student, sigmoid, sent, settings):
    settings.GRADER_BUDGET_SECONDS = 6.0
    for answer in ["", "x" * (settings.GRADER_ENGINE.max_answer_chars + 1)] * 5:
        with pytest.raises((AnswerEmpty, AnswerTooLarge)):
            create(student, sigmoid, answer)
    assert create(student, sigmoid).status == Submission.Status.QUEUED


def test_an_answer_is_charged_what_it_cost_not_its_deadline(student, sigmoid, sent, settings):
    settings.GRADER_BUDGET_SECONDS = 6.0
    first = create(student, sigmoid)  # sets aside 5 s of the 6
    with pytest.raises(AnswersRateLimited):
        create(student, sigmoid)
    Submission.objects.filter(pk=first.pk).update(
        status=Submission.Status.FINISHED, grading_ms=30.0
    )
    services.submission_settle(submission_id=first.pk)
    services.submission_settle(submission_id=first.pk)  # a redelivery charges nothing twice
    ticket = GradingTicket.objects.get(submission=first)
    assert (ticket.state, ticket.cost_s) == (GradingTicket.State.SETTLED, pytest.approx(0.03))
    assert create(student, sigmoid).status == Submission.Status.QUEUED


def test_a_budget_refills_over_its_window(student, sigmoid, sent, settings):
    settings.GRADER_BUDGET_SECONDS, settings.GRADER_BUDGET_WINDOW_SECONDS = 60.0, 600.0
    spent(student, 60.0)
    with pytest.raises(AnswersRateLimited):
        create(student, sigmoid)
    # 50 s later 5 s have come back: enough for the symbolic answer's deadline.
    GradingBudget.objects.filter(user=student).update(
        updated_at=timezone.now() - timedelta(seconds=50)
    )
    assert create(student, sigmoid).status == Submission.Status.QUEUED


@pytest.mark.parametrize(
    ("seconds", "ago", "reserved", "cost", "expected"),
    [
        (10.0, 50.0, 5.0, 0.03, 10.0 + 5.0 + 5.0 - 0.03),  # refilled 5 s, refunded the rest
        (58.0, 50.0, 5.0, 1.0, 60.0),  # the refill stops at the capacity, so does the refund
        (-3.0, 0.0, 1.0, 9.0, -11.0),  # an answer that cost more than was set aside
        (10.0, -5.0, 0.0, 0.0, 10.0),  # a clock that went back refills nothing
    ],
)
def test_settling_charges_the_cost_after_the_refill(
    student, settings, seconds, ago, reserved, cost, expected
):
    settings.GRADER_BUDGET_SECONDS, settings.GRADER_BUDGET_WINDOW_SECONDS = 60.0, 600.0
    now = timezone.now()
    GradingBudget.objects.create(
        user=student, seconds=seconds, updated_at=now - timedelta(seconds=ago)
    )
    ratelimit.budget_settle(user_id=student.pk, reserved=reserved, cost=cost, now=now)
    budget = GradingBudget.objects.get(user=student)
    assert budget.seconds == pytest.approx(expected, abs=1e-3)
    assert budget.updated_at == now


def test_settling_for_a_learner_without_a_bucket_starts_a_full_one(student, settings):
    settings.GRADER_BUDGET_SECONDS = 60.0
    now = timezone.now()
    ratelimit.budget_settle(user_id=student.pk, reserved=5.0, cost=1.0, now=now)
    assert GradingBudget.objects.get(user=student).seconds == pytest.approx(60.0)


@pytest.mark.parametrize("first", [True, False], ids=["first-answers", "bucket-kept"])
def test_two_answers_at_once_cannot_spend_the_same_seconds(
    student, settings, transactional_db, database_name, first
):
    """Two requests take from one bucket at the same moment: room for one, so one is refused.

    (database_name skips where two connections cannot share a database: SQLite in memory.)
    """
    settings.GRADER_BUDGET_SECONDS = 8.0  # one answer of 5 s fits, two do not
    if not first:
        ratelimit.budget_settle(user_id=student.pk, reserved=0.0, cost=0.0, now=timezone.now())
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def take() -> None:
        start.wait(timeout=10)
        try:
            with transaction.atomic():
                ratelimit.budget_take(user=student, seconds=5.0, now=timezone.now())
                time.sleep(0.1)  # still holding what it took while the other one tries
            outcomes.append("taken")
        except AnswersRateLimited:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=take) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "taken"]
    assert GradingBudget.objects.get(user=student).seconds == pytest.approx(3.0, abs=0.01)


def test_it_claims_a_queued_submission_once(student, sigmoid, sent):
    submission = create(student, sigmoid)
    claimed = claim(submission, "task-1")
    assert claimed is not None and claimed.status == Submission.Status.RUNNING
    assert claimed.claimed_at is not None and claimed.task_id == "task-1"
    assert claim(submission, "task-2") is None


def test_the_same_task_may_reclaim_after_its_worker_died(student, sigmoid, sent):
    submission = create(student, sigmoid)
    claim(submission, "task-1")
    again = claim(submission, "task-1")
    assert again is not None and again.tries == 2


def test_a_submission_that_keeps_killing_its_worker_gives_up(student, sigmoid, sent, settings):
    settings.GRADER_MAX_TRIES = 2
    submission = create(student, sigmoid)
    claim(submission, "task-1")
    claim(submission, "task-1")
    assert claim(submission, "task-1") is None
    submission.refresh_from_db()
    assert submission.status == Submission.Status.ERROR
    assert submission.verdict["status"] == "error"
    assert submission.attempt_number is None


def grade_now(submission: Submission, task_id: str = "task-1") -> services.FinishResult:
    claimed = claim(submission, task_id)
    assert claimed is not None
    verdict = services.submission_grade(submission=claimed)
    return services.submission_finish(submission=claimed, verdict=verdict, task_id=task_id)


def test_a_correct_answer_is_stored_with_progress(student, sigmoid, sent):
    result = grade_now(create(student, sigmoid))
    assert result.finished
    submission = result.submission
    assert submission.status == Submission.Status.FINISHED
    assert submission.verdict["status"] == "correct"
    assert submission.score == 1.0
    assert submission.attempt_number == 1
    assert submission.finished_at is not None
    progress = ExerciseProgress.objects.get(user=student, exercise=sigmoid)
    assert progress.attempts == 1 and progress.solved and progress.best_score == 1.0


def test_a_wrong_answer_uses_an_attempt_with_a_diagnosis(student, sigmoid, sent):
    submission = grade_now(create(student, sigmoid, SIGMOID_WRONG)).submission
    assert submission.verdict["status"] == "incorrect"
    assert submission.verdict["counterexample"]
    assert submission.attempt_number == 1
    progress = ExerciseProgress.objects.get(user=student, exercise=sigmoid)
    assert progress.attempts == 1 and not progress.solved


def test_attempts_are_numbered_in_order(student, sigmoid, sent):
    first = grade_now(create(student, sigmoid, SIGMOID_WRONG), "t1").submission
    unreadable = grade_now(create(student, sigmoid, "sigma(x"), "t2").submission
    second = grade_now(create(student, sigmoid, SIGMOID_RIGHT), "t3").submission
    assert (first.attempt_number, unreadable.attempt_number, second.attempt_number) == (1, None, 2)


def test_an_unreadable_answer_does_not_use_an_attempt(student, sigmoid, sent):
    submission = grade_now(create(student, sigmoid, "sigma(x")).submission
    assert submission.status == Submission.Status.FINISHED
    assert submission.verdict["status"] == "invalid"
    assert submission.attempt_number is None
    assert not ExerciseProgress.objects.filter(
        user=student, exercise=sigmoid, attempts__gt=0
    ).exists()


def test_finishing_twice_records_progress_once(student, sigmoid, sent):
    submission = create(student, sigmoid)
    claimed = claim(submission)
    verdict = Verdict(status=Status.CORRECT, score=1.0)
    assert services.submission_finish(
        submission=claimed, verdict=verdict, task_id="task-1"
    ).finished
    again = services.submission_finish(submission=claimed, verdict=verdict, task_id="task-1")
    assert not again.finished
    assert ExerciseProgress.objects.get(user=student, exercise=sigmoid).attempts == 1


def test_a_worker_whose_claim_was_taken_over_cannot_finish(student, sigmoid, sent):
    submission = create(student, sigmoid)
    stale = claim(submission, "old-task")
    Submission.objects.filter(pk=submission.pk).update(
        claimed_at=timezone.now() - timedelta(hours=1)
    )
    assert services.submission_requeue_stuck().requeued == [submission.pk]
    verdict = Verdict(status=Status.INCORRECT)
    assert not services.submission_finish(
        submission=stale, verdict=verdict, task_id="old-task"
    ).finished
    assert grade_now(submission, "new-task").finished
    assert ExerciseProgress.objects.get(user=student, exercise=sigmoid).attempts == 1


def test_an_engine_failure_is_not_counted(student, sigmoid, sent, monkeypatch):
    def broken(*_: Any, **__: Any) -> Verdict:
        raise RuntimeError("engine bug")

    monkeypatch.setattr(services.engine, "grade", broken)
    submission = grade_now(create(student, sigmoid)).submission
    assert submission.status == Submission.Status.FINISHED
    assert submission.verdict["status"] == "error"
    assert "not counted against you" in submission.verdict["messages"][0]["text"]
    assert submission.attempt_number is None


def test_a_grader_error_verdict_is_not_counted(student, sigmoid, sent, monkeypatch):
    verdict = Verdict(status=Status.ERROR, messages=[Message("sandbox", "Sandbox unavailable.")])
    monkeypatch.setattr(services.engine, "grade", lambda *a, **k: verdict)
    submission = grade_now(create(student, sigmoid)).submission
    assert submission.attempt_number is None
    assert not ExerciseProgress.objects.filter(attempts__gt=0).exists()


def age(submission: Submission, *, seconds: float, status: str | None = None) -> None:
    then = timezone.now() - timedelta(seconds=seconds)
    fields: dict[str, Any] = {"enqueued_at": then, "claimed_at": then}
    if status:
        fields["status"] = status
    Submission.objects.filter(pk=submission.pk).update(**fields)


def test_the_sweeper_resends_a_submission_stuck_in_the_queue(student, sigmoid, sent, settings):
    settings.GRADER_QUEUED_STUCK_SECONDS = 30
    stuck, fresh = create(student, sigmoid), create(student, sigmoid)
    age(stuck, seconds=31)
    sent.clear()
    report = services.submission_requeue_stuck()
    assert report.requeued == [stuck.pk] and report.failed == []
    assert sent == [{"args": [stuck.pk], "queue": "symbolic", "priority": 6}]
    stuck.refresh_from_db()
    assert stuck.status == Submission.Status.QUEUED and stuck.tries == 2
    fresh.refresh_from_db()
    assert fresh.tries == 1


def test_the_sweeper_requeues_a_submission_whose_worker_vanished(student, sigmoid, sent, settings):
    settings.GRADER_RUNNING_STUCK_SECONDS = 60
    submission = create(student, sigmoid)
    claim(submission)
    age(submission, seconds=30)
    assert services.submission_requeue_stuck().requeued == []
    age(submission, seconds=61)
    assert services.submission_requeue_stuck().requeued == [submission.pk]
    submission.refresh_from_db()
    assert submission.status == Submission.Status.QUEUED and submission.task_id == ""


def test_the_sweeper_gives_up_after_the_last_try(student, sigmoid, sent, settings):
    settings.GRADER_MAX_TRIES = 2
    submission = create(student, sigmoid)
    Submission.objects.filter(pk=submission.pk).update(tries=2)
    age(submission, seconds=3600)
    report = services.submission_requeue_stuck()
    assert report.failed == [submission.pk]
    submission.refresh_from_db()
    assert submission.status == Submission.Status.ERROR
    assert (
        submission_feedback(submission)["headline"]
        == "Could not be graded — not counted against you"
    )
    assert not ExerciseProgress.objects.filter(attempts__gt=0).exists()


def test_the_sweeper_leaves_finished_submissions_alone(student, sigmoid, sent):
    submission = grade_now(create(student, sigmoid)).submission
    age(submission, seconds=3600)
    assert services.submission_requeue_stuck() == services.SweepReport(requeued=[], failed=[])


def test_the_task_grades_a_submission(student, sigmoid, sent):
    submission = create(student, sigmoid, SIGMOID_WRONG)
    assert grade_submission.apply(args=[submission.pk], task_id="t-1").get() == "incorrect"
    assert grade_submission.apply(args=[submission.pk], task_id="t-2").get() == "skipped"
    submission.refresh_from_db()
    assert submission.verdict["status"] == "incorrect" and submission.attempt_number == 1


def test_the_periodic_task_reports_what_it_did(student, sigmoid, sent, settings):
    settings.GRADER_QUEUED_STUCK_SECONDS = 1
    submission = create(student, sigmoid)
    age(submission, seconds=5)
    assert requeue_stuck_submissions.apply().get() == {"requeued": [submission.pk], "failed": []}


def test_a_grader_past_its_time_limit_is_not_counted(student, sigmoid, sent, monkeypatch):
    def too_slow(*_: Any, **__: Any) -> Verdict:
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(services.engine, "grade", too_slow)
    submission = create(student, sigmoid)
    assert grade_submission.apply(args=[submission.pk], task_id="t-1").get() == "time_limit"
    submission.refresh_from_db()
    assert submission.status == Submission.Status.ERROR
    assert submission.verdict["flags"] == ["time_limit"]
    assert not ExerciseProgress.objects.filter(attempts__gt=0).exists()


def test_a_database_outage_is_retried(student, sigmoid, sent, monkeypatch):
    calls = {"n": 0}
    real_finish = services.submission_finish

    def flaky_finish(**kwargs: Any) -> services.FinishResult:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real_finish(**kwargs)

    monkeypatch.setattr(services, "submission_finish", flaky_finish)
    monkeypatch.setattr(grade_submission, "retry_backoff", False)
    submission = create(student, sigmoid, SIGMOID_WRONG)
    assert grade_submission.apply(args=[submission.pk], task_id="t-1").get() == "incorrect"
    submission.refresh_from_db()
    assert calls["n"] == 2
    assert submission.attempt_number == 1 and submission.tries == 2
