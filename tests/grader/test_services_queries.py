"""The worker's path in statements: claiming, recording and settling a verdict take as few as they can.

Run on a committed database (transactional_db), as a worker is: no test transaction adds
savepoints, and a commit is not a query.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from course.models import ActivityDay, ExerciseProgress
from grader import services
from grader.engine import Status, Verdict
from grader.models import GradingTicket, Submission
from tests.grader.conftest import SIGMOID_RIGHT

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "submission_enqueue", lambda **_: True)


def queued(student, sigmoid) -> Submission:
    return services.submission_create(user=student, exercise=sigmoid, answer=SIGMOID_RIGHT)


def claim(submission: Submission, task_id: str = "t1") -> Submission | None:
    return services.submission_claim(submission_id=submission.pk, task_id=task_id, worker="w")


def test_a_claim_is_one_statement_once_the_exercise_is_cached(student, sigmoid, sent):
    claim(queued(student, sigmoid))
    submission = queued(student, sigmoid)
    with CaptureQueriesContext(connection) as queries:
        claimed = claim(submission)
    assert claimed is not None and claimed.status == Submission.Status.RUNNING
    assert claimed.exercise.spec == sigmoid.spec
    assert len(queries) == 1


def test_an_edited_exercise_is_read_again(student, sigmoid, sent):
    claim(queued(student, sigmoid))
    spec = {**sigmoid.spec, "title": "Edited"}
    type(sigmoid).objects.filter(pk=sigmoid.pk).update(spec=spec)
    submission = queued(student, sigmoid)
    with CaptureQueriesContext(connection) as queries:
        claimed = claim(submission)
    assert claimed is not None and claimed.exercise.spec["title"] == "Edited"
    assert len(queries) == 2


def test_a_redelivered_message_reclaims_in_two_statements(student, sigmoid, sent):
    submission = queued(student, sigmoid)
    claim(submission)
    with CaptureQueriesContext(connection) as queries:
        again = claim(submission)
    assert again is not None and again.tries == 2
    assert len(queries) == 2


def test_a_counted_verdict_and_its_cost_are_recorded_in_six_statements_and_a_commit(
    student, sigmoid, sent
):
    claimed = claim(queued(student, sigmoid))
    verdict = Verdict(status=Status.CORRECT, score=1.0, elapsed_ms=30.0)
    with CaptureQueriesContext(connection) as queries:
        result = services.submission_finish(submission=claimed, verdict=verdict, task_id="t1")
    assert result.finished and result.submission.attempt_number == 1
    # BEGIN, the progress row taken, counted, the day counted, the verdict stored, the ticket
    # settled, the budget charged, COMMIT.
    assert len(queries) == 8, [q["sql"][:60] for q in queries.captured_queries]
    progress = ExerciseProgress.objects.get(user=student, exercise=sigmoid)
    assert (progress.attempts, progress.best_score, progress.solved) == (1, 1.0, True)
    day = ActivityDay.objects.get(user=student)
    assert (day.attempts, day.solved) == (1, 1)
    ticket = GradingTicket.objects.get(submission=claimed)
    assert (ticket.state, ticket.cost_s) == (GradingTicket.State.SETTLED, pytest.approx(0.03))


def test_a_verdict_that_uses_no_attempt_is_recorded_and_charged_in_three_statements(
    student, sigmoid, sent
):
    claimed = claim(queued(student, sigmoid))
    verdict = Verdict(status=Status.INVALID)
    with CaptureQueriesContext(connection) as queries:
        result = services.submission_finish(submission=claimed, verdict=verdict, task_id="t1")
    assert result.finished and result.submission.attempt_number is None
    assert len(queries) == 5, [q["sql"][:60] for q in queries.captured_queries]
    assert not ExerciseProgress.objects.exists()
    assert GradingTicket.objects.get(submission=claimed).state == GradingTicket.State.SETTLED


def test_a_symbolic_job_needs_nothing_after_its_verdict(student, sigmoid, sent, monkeypatch):
    claim(queued(student, sigmoid), "t0")  # the exercise is in the worker's cache
    submission = queued(student, sigmoid)
    verdict = Verdict(status=Status.CORRECT, score=1.0, elapsed_ms=30.0)
    monkeypatch.setattr(services, "submission_grade", lambda **_: verdict)
    with CaptureQueriesContext(connection) as queries:
        status = services.submission_process(submission_id=submission.pk, task_id="t1", worker="w")
    assert status == "correct"
    # The claim, then the verdict recorded and charged (BEGIN, six statements, COMMIT).
    assert len(queries) == 9, [q["sql"][:60] for q in queries.captured_queries]


def test_a_losing_finish_leaves_no_progress(student, sigmoid, sent):
    claimed = claim(queued(student, sigmoid))
    verdict = Verdict(status=Status.CORRECT, score=1.0)
    services.submission_finish(submission=claimed, verdict=verdict, task_id="t1")
    late = services.submission_finish(submission=claimed, verdict=verdict, task_id="t1")
    assert not late.finished
    progress = ExerciseProgress.objects.get(user=student, exercise=sigmoid)
    assert progress.attempts == 1
    assert ActivityDay.objects.get(user=student).solved == 1


def test_a_second_solve_counts_an_attempt_but_no_new_solve(student, sigmoid, sent):
    for task_id in ("t1", "t2"):
        claimed = claim(queued(student, sigmoid), task_id)
        verdict = Verdict(status=Status.CORRECT, score=1.0)
        services.submission_finish(submission=claimed, verdict=verdict, task_id=task_id)
    day = ActivityDay.objects.get(user=student)
    assert (day.attempts, day.solved) == (2, 1)
    assert ExerciseProgress.objects.get(user=student, exercise=sigmoid).attempts == 2
