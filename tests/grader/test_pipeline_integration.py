"""The pipeline end to end: HTTP → PostgreSQL → Redis → a real Celery worker process → verdict.

These tests start real worker processes, kill them with SIGKILL, and stop and restart Redis. They
use their own Redis database and queue names, so other runs on the same Redis are not disturbed
(apart from the Redis restart itself, which every client survives).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable

import pytest
from django.conf import settings

from benchmarks.bench_pipeline import StudentSession
from course.models import Exercise, ExerciseProgress, User
from grader.models import Submission
from tests.factories import PASSWORD
from tests.grader.conftest import (
    RELU_RIGHT,
    SIGMOID_RIGHT,
    SIGMOID_WRONG,
    redis_start,
    redis_stop,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Answer that keeps its grader busy for a few seconds (five test calls of one second each).
SLOW_RELU = (
    "import time\nimport numpy as np\n\n"
    "def relu_backward(x, grad_out):\n"
    "    time.sleep(1.0)\n"
    "    return grad_out * (x > 0)\n"
)


@pytest.fixture
def session(live_server, student: User) -> StudentSession:
    browser = StudentSession(live_server.url)
    browser.login(student.username, PASSWORD)
    return browser


def settled(*ids: int) -> Callable[[], bool]:
    return lambda: (
        Submission.objects.filter(
            pk__in=ids, status__in=[Submission.Status.FINISHED, Submission.Status.ERROR]
        ).count()
        == len(ids)
    )


def test_a_verdict_arrives_over_http(
    session, start_worker, sigmoid: Exercise, relu: Exercise, student
):
    start_worker()
    wrong = session.submit(sigmoid.slug, SIGMOID_WRONG)
    outcome = session.wait(wrong, timeout=20)
    assert (outcome.status, outcome.verdict) == ("finished", "incorrect")
    right = session.submit(sigmoid.slug, SIGMOID_RIGHT)
    assert session.wait(right, timeout=20).verdict == "correct"
    code = session.submit(relu.slug, RELU_RIGHT)
    assert session.wait(code, timeout=30).verdict == "correct"
    # As the exercise page checks: one post, held until the worker's verdict.
    held = session.answer(sigmoid.slug, "1 - sigma(x)", timeout=20)
    assert (held.status, held.verdict) == ("finished", "incorrect")
    rows = {s.pk: s for s in Submission.objects.all()}
    assert [rows[wrong].attempt_number, rows[right].attempt_number] == [1, 2]
    assert rows[held.submission_id].attempt_number == 3
    assert rows[code].queue == settings.GRADER_CODE_QUEUE
    assert len(rows[code].verdict["tests"]) >= 4
    progress = ExerciseProgress.objects.get(user=student, exercise=sigmoid)
    assert progress.attempts == 3 and progress.solved


def test_a_worker_killed_mid_grade_is_replaced_and_grades_once(
    session, start_worker, relu: Exercise, student
):
    first = start_worker()
    submission_id = session.submit(relu.slug, SLOW_RELU)
    wait_for(
        lambda: Submission.objects.filter(pk=submission_id, status="running").exists(),
        timeout=20,
        what="the worker to claim the submission",
    )
    time.sleep(0.5)  # now inside the engine, in the middle of the sandboxed run
    first.kill()
    assert Submission.objects.get(pk=submission_id).status == Submission.Status.RUNNING
    second = start_worker()
    wait_for(settled(submission_id), timeout=60, what="the new worker to finish the submission")
    submission = Submission.objects.get(pk=submission_id)
    assert submission.status == Submission.Status.FINISHED
    assert submission.verdict["status"] == "correct"
    # Redelivery and the sweeper may both hand it out again (more tries under load); the guarded
    # claim and finish still let exactly one worker grade it into progress.
    assert submission.tries >= 2 and submission.attempt_number == 1
    assert ExerciseProgress.objects.get(user=student, exercise=relu).attempts == 1
    assert f"submission_finished submission_id={submission_id}" in second.output()
    assert f"submission_finished submission_id={submission_id}" not in first.output()


def test_a_pool_process_killed_mid_grade_is_redelivered_and_grades_once(
    session, start_worker, relu: Exercise, student
):
    worker = start_worker()
    submission_id = session.submit(relu.slug, SLOW_RELU)
    wait_for(
        lambda: Submission.objects.filter(pk=submission_id, status="running").exists(),
        timeout=20,
        what="the worker to claim the submission",
    )
    time.sleep(0.5)
    pool_pids = subprocess.run(
        ["pgrep", "-P", str(worker.process.pid)], capture_output=True, text=True
    ).stdout.split()
    for pid in pool_pids:
        os.kill(int(pid), signal.SIGKILL)
    wait_for(settled(submission_id), timeout=60, what="the redelivered task to finish")
    submission = Submission.objects.get(pk=submission_id)
    assert submission.verdict["status"] == "correct" and submission.attempt_number == 1
    assert ExerciseProgress.objects.get(user=student, exercise=relu).attempts == 1
    assert worker.output().count(f"submission_finished submission_id={submission_id} ") == 1


def test_submissions_survive_a_redis_restart(session, start_worker, sigmoid: Exercise, student):
    # Queued in Redis with no worker yet; then Redis goes down and forgets them.
    queued = [session.submit(sigmoid.slug, answer) for answer in (SIGMOID_WRONG, "1 - sigma(x)")]
    redis_stop()
    # With the broker down, checking an answer still works: it is stored and waits.
    started = time.monotonic()
    during = [session.submit(sigmoid.slug, answer) for answer in ("sigma(x", SIGMOID_RIGHT)]
    assert time.monotonic() - started < 10
    redis_start()
    start_worker()
    ids = queued + during
    wait_for(settled(*ids), timeout=60, what="every submission to be graded")
    rows = Submission.objects.filter(pk__in=ids).order_by("pk")
    assert [s.status for s in rows] == ["finished"] * 4
    assert [s.verdict["status"] for s in rows] == ["incorrect", "incorrect", "invalid", "correct"]
    assert [s.attempt_number for s in rows] == [1, 2, None, 3]
    assert ExerciseProgress.objects.get(user=student, exercise=sigmoid).attempts == 3


def test_a_running_worker_carries_on_after_redis_restarts(session, start_worker, sigmoid: Exercise):
    start_worker()
    before = session.submit(sigmoid.slug, SIGMOID_WRONG)
    assert session.wait(before, timeout=20).status == "finished"
    redis_stop()
    during = session.submit(sigmoid.slug, SIGMOID_RIGHT)
    redis_start()
    after = session.submit(sigmoid.slug, "1 - sigma(x)")
    # A bound, not a speed: the worker's consumer and scheduler reconnect with a back-off that
    # reaches 30 s between tries, and on a loaded machine the first try after the restart may miss.
    wait_for(settled(during, after), timeout=150, what="the worker to grade after the restart")
    assert Submission.objects.get(pk=during).verdict["status"] == "correct"
    numbers = {Submission.objects.get(pk=pk).attempt_number for pk in (during, after)}
    assert numbers == {2, 3}
