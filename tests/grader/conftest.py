"""Fixtures for the grading pipeline: exercises of each queue's kind, and real worker processes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kombu.pools
import pytest
import redis
import yaml
from django.conf import settings
from django.db import connection
from django.utils import timezone

from config.celery import app
from course.models import Exercise, Lesson, Module, Track, TrackModule, User
from grader import services
from grader.engine import Status, Verdict
from grader.models import Submission

SIGMOID_SPEC: dict[str, Any] = {
    "id": "0f6f5a3e-5d2b-4a59-9a0e-6a1b3c5d7e01",
    "kind": "expression",
    "prompt": "Differentiate $\\sigma(x) = 1/(1+e^{-x})$ with respect to $x$.",
    "variables": {"x": {"domain": "real"}},
    "helpers": {"sigma(x)": "1/(1+exp(-x))"},
    "answer": "sigma(x)*(1-sigma(x))",
    "hints": ["Write the sigmoid as $(1+e^{-x})^{-1}$.", "Use the chain rule on the power."],
    "hint_after": 1,
}

ROOT = Path(__file__).resolve().parents[2]


def exercise_file_spec(slug: str) -> dict[str, Any]:
    """Return the spec of one of the course's contract exercises, read from its file."""
    path = next(ROOT.glob(f"exercises/*/*/{slug}.yaml"))
    return yaml.safe_load(path.read_text())


def contract_exercise(lesson: Lesson, slug: str) -> Exercise:
    """Store a contract exercise from its file under its public slug."""
    spec = exercise_file_spec(slug)
    return Exercise.objects.create(
        lesson=lesson,
        slug=slug,
        title=spec["title"],
        kind=spec["kind"],
        order=int(spec.get("order", 1)),
        spec=spec,
    )


def pending_submissions(user: User, exercise: Exercise, count: int) -> list[Submission]:
    """Store count queued answers, as submitting would, without sending them to a broker."""
    now = timezone.now()
    return [
        Submission.objects.create(
            user=user,
            exercise=exercise,
            seed=exercise.seed_for(user.pk),
            answer=SIGMOID_RIGHT,
            queue="symbolic",
            created_at=now,
            enqueued_at=now,
        )
        for _ in range(count)
    ]


def settle(submission: Submission, status: Status = Status.CORRECT) -> None:
    """Claim and record a verdict for a submission, as a worker would."""
    claimed = services.submission_claim(submission_id=submission.pk, task_id="t", worker="w")
    verdict = Verdict(status=status, score=1.0 if status == Status.CORRECT else 0.0)
    services.submission_finish(submission=claimed, verdict=verdict, task_id="t")


@pytest.fixture(params=["redis", "database"])
def verdicts_heard(request: pytest.FixtureRequest, settings) -> str:  # noqa: ANN001
    """Hold requests for up to 10 s, hearing verdicts on Redis or by looking at the database."""
    if request.param == "redis":
        _announce_on_redis(settings)
    else:
        settings.GRADER_NOTIFY_REDIS_URL = ""
    settings.GRADER_STATUS_WAIT_SECONDS = 10
    return request.param


@pytest.fixture
def verdicts_announced(settings) -> None:  # noqa: ANN001 - pytest-django fixture
    """Hold requests for up to 10 s, hearing verdicts on Redis (skipped where there is none)."""
    _announce_on_redis(settings)
    settings.GRADER_STATUS_WAIT_SECONDS = 10


def _announce_on_redis(settings) -> None:  # noqa: ANN001 - pytest-django fixture
    if not services.notify_client(settings.GRADER_NOTIFY_REDIS_URL):
        pytest.skip("no Redis to announce verdicts on")


# The contract exercise itself, so the code grader sees a real spec.
RELU_SPEC: dict[str, Any] = exercise_file_spec("relu-backward")

SIGMOID_RIGHT = "sigma(x)*(1-sigma(x))"
SIGMOID_WRONG = "sigma(x)"
RELU_RIGHT = RELU_SPEC["reference"]
RELU_WRONG = (
    "import numpy as np\n\ndef relu_backward(x, grad_out):\n    return (x > 0).astype(float)\n"
)


@pytest.fixture
def lesson(db: None) -> Lesson:
    track = Track.objects.create(slug="pipeline", title="Pipeline")
    module = Module.objects.create(slug="pipeline", title="Pipeline", skill="Checking answers")
    TrackModule.objects.create(track=track, module=module, order=0)
    return Lesson.objects.create(module=module, slug="checking", title="Checking", order=1)


@pytest.fixture
def sigmoid(lesson: Lesson) -> Exercise:
    return Exercise.objects.create(
        lesson=lesson,
        slug="pipeline-sigmoid",
        title="Derivative of the sigmoid",
        kind="expression",
        order=1,
        spec=SIGMOID_SPEC,
    )


@pytest.fixture
def relu(lesson: Lesson) -> Exercise:
    return Exercise.objects.create(
        lesson=lesson,
        slug="pipeline-relu",
        title="ReLU backward",
        kind="code",
        order=2,
        spec=RELU_SPEC,
    )


# Parallel runs on one machine (several clones) each take a Redis database of their own.
REDIS_DB = int(os.environ.get("CHAINRULE_TEST_REDIS_DB", "11"))
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

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        name: str,
        *,
        queues: list[str] | None = None,
        concurrency: int = 1,
    ) -> None:
        self.log_path = log_path
        self.hostname = f"{name}@{socket.gethostname()}"
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
            ",".join(queues or [env["GRADER_SYMBOLIC_QUEUE"], env["GRADER_CODE_QUEUE"]]),
            "--concurrency",
            str(concurrency),
            "--hostname",
            self.hostname,
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
def broker(settings, database_name: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point this process at a Redis database and queue names of the test's own."""
    redis_start()
    tag = f"it{os.getpid()}"
    settings.GRADER_SYMBOLIC_QUEUE = f"{tag}-symbolic"
    settings.GRADER_CODE_QUEUE = f"{tag}-code"
    url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    previous = app.conf.broker_url
    # Celery reads CELERY_BROKER_URL from the environment before its configuration (CI sets it):
    # without this the test would publish to the environment's broker and its worker never see it.
    monkeypatch.setenv("CELERY_BROKER_URL", url)
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
def start_worker(
    broker: str, database_name: str, tmp_path: Path
) -> Iterator[Callable[..., Worker]]:
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
        # Deadlines sized from the reference would stop the deliberately slow answers of the
        # crash-recovery tests (a second per call) at ~0.5 s; they need a flat one, as before.
        "GRADER_CODE_TIMEOUT_BASE": "10",
        "PYTHONUNBUFFERED": "1",
    }
    workers: list[Worker] = []

    def start(*, queues: list[str] | None = None, concurrency: int = 1) -> Worker:
        worker = Worker(
            env,
            tmp_path / f"worker{len(workers)}.log",
            f"it{len(workers)}",
            queues=queues,
            concurrency=concurrency,
        )
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
    for worker in workers:
        shutil.copy(worker.log_path, tmp_path / f"kept-{worker.log_path.name}")
