"""The pipeline end to end: HTTP → PostgreSQL → Redis → a real Celery worker process → verdict.

These tests start real worker processes, kill them with SIGKILL, and stop and restart Redis. They
use their own Redis database and queue names, so other runs on the same Redis are not disturbed
(apart from the Redis restart itself, which every client survives).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import kombu.pools
import pytest
import redis
from django.conf import settings
from django.db import connection

from benchmarks.bench_pipeline import StudentSession
from config.celery import app
from course.models import Exercise, ExerciseProgress, User
from grader.models import Submission
from tests.factories import PASSWORD
from tests.grader.conftest import RELU_RIGHT, SIGMOID_RIGHT, SIGMOID_WRONG

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
REDIS_DB = 11
REDIS_START = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "-::1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    "/var/lib/redis",
    "--logfile",
    "/var/log/redis/ci.log",
]
# Answer that keeps its grader busy for a few seconds (five test calls of one second each).
SLOW_RELU = (
    "import time\nimport numpy as np\n\n"
    "def relu_backward(x, grad_out):\n"
    "    time.sleep(1.0)\n"
    "    return grad_out * (x > 0)\n"
)


def redis_answers() -> bool:
    try:
        return bool(redis.Redis(host="127.0.0.1", port=6379, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


def redis_start() -> None:
    """Start the machine's Redis and wait until it answers."""
    if not redis_answers():
        subprocess.run(REDIS_START, check=True, capture_output=True)
    wait_for(redis_answers, timeout=10, what="Redis to answer")


def redis_stop() -> None:
    """Stop Redis without saving, so every message in it is gone, as after a crash."""
    subprocess.run(["redis-cli", "shutdown", "nosave"], capture_output=True)
    wait_for(lambda: not redis_answers(), timeout=10, what="Redis to stop")


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Worker:
    """A real `celery worker --beat` process on the test's queues, database and Redis db."""

    def __init__(self, env: dict[str, str], log_path: Path, name: str) -> None:
        self.log_path = log_path
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--beat",
            "--schedule",
            str(log_path.with_suffix(".schedule")),
            "--queues",
            f"{env['GRADER_SYMBOLIC_QUEUE']},{env['GRADER_CODE_QUEUE']}",
            "--concurrency",
            "1",
            "--hostname",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ]
        self.log = log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self.ready, timeout=60, what=f"worker {name} to start (log: {log_path})")

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"worker exited with {self.process.returncode}:\n{self.output()}")
        return " ready." in self.output()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once, like a machine losing power."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@pytest.fixture
def database_name() -> str:
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite" and connection.creation.is_in_memory_db(name):
        pytest.skip(
            "needs a database the worker process can share: set DATABASE_URL to PostgreSQL "
            "(the test database here is SQLite in memory)"
        )
    return name


@pytest.fixture
def broker(settings, database_name: str) -> Iterator[str]:
    """Point this process at a Redis database and queue names of the test's own."""
    redis_start()
    tag = f"it{os.getpid()}"
    settings.GRADER_SYMBOLIC_QUEUE = f"{tag}-symbolic"
    settings.GRADER_CODE_QUEUE = f"{tag}-code"
    url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    previous = app.conf.broker_url
    _use_broker(url)
    redis.Redis(db=REDIS_DB).flushdb()
    yield url
    # Whatever happened in the test, leave Redis running for everyone else.
    redis_start()
    redis.Redis(db=REDIS_DB).flushdb()
    _use_broker(previous)


def _use_broker(url: str) -> None:
    app.conf.broker_url = url
    # Drop every cached connection and producer, so the next task is sent to the new broker.
    kombu.pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def start_worker(broker: str, database_name: str, tmp_path: Path) -> Iterator[Callable[[], Worker]]:
    """Start workers on demand; stop every one of them at the end."""
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{database_name}",
        "DATABASE_TEST_NAME": "",
        "DB_CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": broker,
        "GRADER_SYMBOLIC_QUEUE": settings.GRADER_SYMBOLIC_QUEUE,
        "GRADER_CODE_QUEUE": settings.GRADER_CODE_QUEUE,
        "GRADER_SWEEP_SECONDS": "1",
        "GRADER_QUEUED_STUCK_SECONDS": "3",
        "GRADER_RUNNING_STUCK_SECONDS": "8",
        "GRADER_TASK_SOFT_TIME_LIMIT": "6",
        "GRADER_TASK_TIME_LIMIT": "7",
        "PYTHONUNBUFFERED": "1",
    }
    workers: list[Worker] = []

    def start() -> Worker:
        worker = Worker(env, tmp_path / f"worker{len(workers)}.log", f"it{len(workers)}")
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
    for worker in workers:
        shutil.copy(worker.log_path, tmp_path / f"kept-{worker.log_path.name}")


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
    rows = {s.pk: s for s in Submission.objects.all()}
    assert [rows[wrong].attempt_number, rows[right].attempt_number] == [1, 2]
    assert rows[code].queue == settings.GRADER_CODE_QUEUE
    assert len(rows[code].verdict["tests"]) >= 4
    progress = ExerciseProgress.objects.get(user=student, exercise=sigmoid)
    assert progress.attempts == 2 and progress.solved


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
    assert submission.tries == 2 and submission.attempt_number == 1
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
    wait_for(settled(during, after), timeout=60, what="the worker to grade after the restart")
    assert Submission.objects.get(pk=during).verdict["status"] == "correct"
    numbers = {Submission.objects.get(pk=pk).attempt_number for pk in (during, after)}
    assert numbers == {2, 3}
