"""The code workers' fair share: one running code job per learner, the rest in their own line.

Guarantees under test (grader.fairshare): a learner never has more than one code job on the broker
or running; the broker never holds more than GRADER_CODE_SLOTS code jobs; the learner with the
most budget left goes next; a held answer is never taken for stuck by the sweeper.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from course.models import Exercise, User
from grader import services
from grader.models import GradingTicket, Submission
from grader.tasks import grade_submission
from tests.factories import UserFactory
from tests.grader.conftest import RELU_RIGHT

pytestmark = pytest.mark.django_db

LOOP = "def relu_backward(x, grad_out):\n    while True:\n        pass\n"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the submissions sent to the broker instead of sending them."""
    calls: list[int] = []
    monkeypatch.setattr(grade_submission, "apply_async", lambda **kw: calls.append(kw["args"][0]))
    return calls


def submit(user: User, exercise: Exercise, answer: str, capture: Any) -> Submission:
    with capture(execute=True):
        return services.submission_create(user=user, exercise=exercise, answer=answer)


def finish(submission: Submission, cost_ms: float) -> None:
    """End a sent job as a worker would, then let the next turn go."""
    Submission.objects.filter(pk=submission.pk).update(
        status=Submission.Status.FINISHED, grading_ms=cost_ms, finished_at=timezone.now()
    )
    services.submission_settle(submission_id=submission.pk)


def test_a_learner_has_one_code_job_out_and_the_rest_wait_in_their_line(
    student, relu, sent, django_capture_on_commit_callbacks
):
    first, second, third = (
        submit(student, relu, LOOP, django_capture_on_commit_callbacks) for _ in range(3)
    )
    assert sent == [first.pk]
    states = dict(GradingTicket.objects.values_list("submission_id", "state"))
    assert states == {first.pk: "sent", second.pk: "held", third.pk: "held"}
    finish(first, 500.0)
    assert sent == [first.pk, second.pk]
    finish(second, 500.0)
    assert sent == [first.pk, second.pk, third.pk]


def test_the_learner_who_used_least_goes_next_not_the_first_in_line(
    student, outsider, relu, sent, django_capture_on_commit_callbacks
):
    flood = [submit(student, relu, LOOP, django_capture_on_commit_callbacks) for _ in range(4)]
    finish(flood[0], 9000.0)  # the flooder's loop cost 9 s
    assert sent == [flood[0].pk, flood[1].pk]
    honest = submit(outsider, relu, RELU_RIGHT, django_capture_on_commit_callbacks)
    # The slot is taken: the honest answer waits, but it is next, ahead of the flood's line.
    assert sent == [flood[0].pk, flood[1].pk]
    finish(flood[1], 9000.0)
    assert sent == [flood[0].pk, flood[1].pk, honest.pk]


def test_the_broker_never_holds_more_code_jobs_than_slots(
    relu, sent, settings, django_capture_on_commit_callbacks
):
    settings.GRADER_CODE_SLOTS = 2
    learners = UserFactory.create_batch(4)
    for learner in learners:
        submit(learner, relu, LOOP, django_capture_on_commit_callbacks)
    assert len(sent) == 2
    assert len({Submission.objects.get(pk=pk).user_id for pk in sent}) == 2


def test_with_every_slot_taken_asking_for_turns_is_one_look_and_no_lock(
    relu, sent, settings, django_capture_on_commit_callbacks
):
    for learner in UserFactory.create_batch(3):
        submit(learner, relu, LOOP, django_capture_on_commit_callbacks)
    with CaptureQueriesContext(connection) as queries:
        assert services.submissions_dispatch(queue=settings.GRADER_CODE_QUEUE) == []
    assert len(queries) == 1, [q["sql"][:60] for q in queries.captured_queries]


def test_a_freed_slot_goes_to_the_next_turn_in_four_statements(
    relu, sent, settings, django_capture_on_commit_callbacks
):
    learners = UserFactory.create_batch(3)
    first = submit(learners[0], relu, LOOP, django_capture_on_commit_callbacks)
    for learner in learners[1:]:
        submit(learner, relu, LOOP, django_capture_on_commit_callbacks)
    Submission.objects.filter(pk=first.pk).update(status=Submission.Status.FINISHED)
    # The lane's lock, one look at the line with the learners' budgets, and the two updates.
    with CaptureQueriesContext(connection) as queries:
        taken = services.submissions_dispatch(queue=settings.GRADER_CODE_QUEUE, slot_freed=True)
    assert len(taken) == 1 and taken[0] in sent
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 4, [sql[:60] for sql in statements]


def test_symbolic_answers_are_sent_at_once(
    student, sigmoid, sent, django_capture_on_commit_callbacks
):
    answers = [
        submit(student, sigmoid, "sigma(x)", django_capture_on_commit_callbacks) for _ in range(3)
    ]
    assert sent == [answer.pk for answer in answers]


def test_the_sweeper_leaves_held_answers_in_their_line(
    student, relu, sent, settings, django_capture_on_commit_callbacks
):
    first, held = (
        submit(student, relu, LOOP, django_capture_on_commit_callbacks) for _ in range(2)
    )
    long_ago = timezone.now() - timedelta(seconds=settings.GRADER_QUEUED_STUCK_SECONDS + 60)
    Submission.objects.update(enqueued_at=long_ago)
    report = services.submission_requeue_stuck()
    assert report.requeued == [first.pk]  # the sent one, lost on the broker, goes again
    assert Submission.objects.get(pk=held.pk).tries == 1
    assert GradingTicket.objects.get(submission=held).state == "held"
