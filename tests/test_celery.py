"""The worker's warm-up, chosen from its queues, and its database connection, kept from task to task."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery.fixups.django import DjangoWorkerFixup
from celery.signals import task_postrun, task_prerun
from django.db import connection

from config.celery import app, kinds_for_queues
from grader.services import GRADE_SUBMISSION_TASK

ROOT = Path(__file__).resolve().parent.parent
WARM = """
import json, os, sys
import django
django.setup()
from config.celery import warm_up_engine
from grader.engine.sandbox import worker
warmed = warm_up_engine(sys.argv[1].split(","))
print(json.dumps({
    "warmed": warmed,
    "sympy": "sympy" in sys.modules,
    "numpy": "numpy" in sys.modules,
    "zygote": worker._sandbox is not None and worker._sandbox.pid() is not None,
}))
"""


@pytest.mark.parametrize(
    ("queues", "kinds"),
    [
        (["symbolic"], ["symbolic"]),
        (["code"], ["code"]),
        (["code", "symbolic", "celery"], ["symbolic", "code"]),
        (["celery"], []),
    ],
)
def test_a_worker_grades_the_kinds_of_its_queues(settings, queues, kinds):
    settings.GRADER_SYMBOLIC_QUEUE = "symbolic"
    settings.GRADER_CODE_QUEUE = "code"
    assert kinds_for_queues(queues) == kinds


def warm(kinds: str) -> dict[str, object]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1"}
    done = subprocess.run(
        [sys.executable, "-c", WARM, kinds],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_warming_for_code_loads_no_sympy_and_starts_no_zygote():
    assert warm("code") == {"warmed": ["code"], "sympy": False, "numpy": True, "zygote": False}


def test_warming_for_symbolic_starts_no_zygote():
    assert warm("symbolic") == {
        "warmed": ["symbolic"],
        "sympy": True,
        "numpy": True,
        "zygote": False,
    }


def run_a_task(fixup: DjangoWorkerFixup) -> None:
    """Send what a worker sends around a task (Celery's Django fixup's handlers and ours), with a query."""
    task = app.tasks[GRADE_SUBMISSION_TASK]
    fixup.on_task_prerun(sender=task)
    task_prerun.send(sender=task, task_id="t", task=task, args=[], kwargs={})
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    fixup.on_task_postrun(sender=task)
    task_postrun.send(sender=task, task_id="t", task=task, args=[], kwargs={}, retval=None)


@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_its_database_connection_from_task_to_task():
    fixup = DjangoWorkerFixup(app)
    run_a_task(fixup)
    kept = connection.connection
    for _ in range(3):
        run_a_task(fixup)
    assert kept is not None
    assert connection.connection is kept


@pytest.mark.django_db(transaction=True)
def test_a_worker_drops_a_broken_connection_before_its_next_task():
    if connection.vendor != "postgresql":
        # SQLite has no server to lose (and the tests' in-memory database dies with its connection).
        pytest.skip("a broken server connection: needs PostgreSQL")
    fixup = DjangoWorkerFixup(app)
    run_a_task(fixup)
    broken = connection.connection
    broken.close()  # as when PostgreSQL restarts under the worker
    connection.errors_occurred = True
    run_a_task(fixup)
    assert connection.connection is not broken
    assert not connection.connection.closed
