"""A worker's pool survives a lost process on a busy machine; only code pool processes start zygotes.

Real worker processes on the test's own Redis database and queues: the pool's processes are
read through Celery's remote control (inspect stats), and the sandbox zygotes from /proc.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings

from benchmarks.bench_pipeline import StudentSession
from config.celery import app
from course.models import Exercise, User
from grader.engine.sandbox.zygote import ZYGOTE_MARKER
from tests.factories import PASSWORD
from tests.grader.conftest import RELU_RIGHT, SIGMOID_RIGHT, Worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def session(live_server, student: User) -> StudentSession:
    browser = StudentSession(live_server.url)
    browser.login(student.username, PASSWORD)
    return browser


@contextmanager
def busy_cpus() -> Iterator[None]:
    """Keep every CPU busy four times over: a new process gets a fraction of a core."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(4 * (os.cpu_count() or 1))
    ]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def pool_pids(worker: Worker) -> list[int]:
    """Return the pids of the worker's pool processes, as the worker itself reports them."""
    replies = app.control.inspect(destination=[worker.hostname], timeout=3).stats() or {}
    stats = replies.get(worker.hostname) or {}
    return [int(pid) for pid in stats.get("pool", {}).get("processes", [])]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[-1][0] not in "ZX"
    except OSError:
        return False


def children_of() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().split(") ")[-1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    return children


def is_zygote(pid: int) -> bool:
    try:
        return ZYGOTE_MARKER in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def zygotes_of(worker: Worker) -> list[int]:
    """Return the zygotes the worker's processes started (not the zygotes' own children)."""
    children = children_of()
    processes = [worker.process.pid, *children.get(worker.process.pid, [])]
    return [pid for process in processes for pid in children.get(process, []) if is_zygote(pid)]


def test_a_pool_process_killed_on_a_busy_machine_comes_back_and_grades(
    session, start_worker, sigmoid: Exercise, relu: Exercise
):
    worker = start_worker(concurrency=2)
    wait_for(lambda: len(pool_pids(worker)) == 2, timeout=60, what="two pool processes")
    before = pool_pids(worker)

    def restored() -> bool:
        now = pool_pids(worker)
        return len(now) == 2 and before[0] not in now and all(map(alive, now))

    with busy_cpus():
        os.kill(before[0], signal.SIGKILL)
        wait_for(restored, timeout=120, what=f"the pool to be whole (log: {worker.log_path})")
        symbolic = session.submit(sigmoid.slug, SIGMOID_RIGHT)
        code = session.submit(relu.slug, RELU_RIGHT)
        assert session.wait(symbolic, timeout=120).verdict == "correct"
        assert session.wait(code, timeout=120).verdict == "correct"
        assert len(pool_pids(worker)) == 2
    assert "Timed out waiting for UP message" not in worker.output()


def test_each_code_pool_process_starts_a_zygote_and_no_symbolic_one_does(
    session, start_worker, sigmoid: Exercise, relu: Exercise
):
    symbolic_worker = start_worker(queues=[settings.GRADER_SYMBOLIC_QUEUE], concurrency=2)
    code_worker = start_worker(queues=[settings.GRADER_CODE_QUEUE], concurrency=2)
    assert session.wait(session.submit(sigmoid.slug, SIGMOID_RIGHT), timeout=60).verdict == (
        "correct"
    )
    assert session.wait(session.submit(relu.slug, RELU_RIGHT), timeout=60).verdict == "correct"
    # Each code pool process launched its zygote as it started; no symbolic one did.
    wait_for(lambda: len(zygotes_of(code_worker)) == 2, timeout=60, what="two zygotes")
    assert zygotes_of(symbolic_worker) == []
    assert "grades=symbolic" in symbolic_worker.output()
    assert "kinds=symbolic" in symbolic_worker.output()
    assert "grades=code" in code_worker.output()
    assert "kinds=code" in code_worker.output()
