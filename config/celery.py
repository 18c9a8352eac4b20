"""The Celery application the grader workers run, and their warm-up.

A worker warms up once, in its main process before the prefork pool forks (worker_init), and
only for the queues it consumes: the symbolic grader (SymPy and NumPy imported and exercised)
when it consumes GRADER_SYMBOLIC_QUEUE, the trusted side of code grading (NumPy and the code
grader) when it consumes GRADER_CODE_QUEUE. Pool processes are forked warm, so a process that
replaces a dead one reports for work at once, even on a loaded machine: Celery kills a pool
process that does not report within a few seconds, and a warm-up there could lose the slot for
good. The one thing a fork cannot share is a code worker's sandbox zygote, which belongs to one
process: each pool process launches its own as it starts, without waiting for it (the first
code job waits for its hello). The solo and threads pools grade in the main process, which
launches the zygote itself.

Before each task a worker drops its database connection if it broke or outlived DB_CONN_MAX_AGE
(as Django does at each request); otherwise it keeps it (settings.CELERY_DB_REUSE_MAX).
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterable
from typing import Any

from celery import Celery
from celery.signals import task_prerun, worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("chainrule")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

log = logging.getLogger("grader.worker")

# For each kind of grading, the engine hook that warms a process before it forks.
WARM_UP_HOOKS = {
    "symbolic": "grader.engine.symbolic.dispatch",
    "code": "grader.engine.code.warm",
}
# What this worker grades, decided once from its queues in the main process (pool processes
# inherit it by forking).
worker_kinds: list[str] = []


def kinds_for_queues(queues: Iterable[str]) -> list[str]:
    """Return the kinds of grading ("symbolic", "code") that workers of these queues do."""
    from django.conf import settings

    names = set(queues)
    wanted = {"symbolic": settings.GRADER_SYMBOLIC_QUEUE, "code": settings.GRADER_CODE_QUEUE}
    return [kind for kind, queue in wanted.items() if queue in names]


def warm_up_engine(kinds: Iterable[str]) -> list[str]:
    """Warm this process for these kinds of grading; return the kinds warmed."""
    warmed = []
    for kind in kinds:
        try:
            importlib.import_module(WARM_UP_HOOKS[kind]).warm_up()
        except Exception:
            # Grading still works (each grader warms lazily, or refuses with a verdict); say so loudly.
            log.exception("engine_warm_up_failed pid=%s kind=%s", os.getpid(), kind)
            continue
        warmed.append(kind)
    log.info("engine_warmed pid=%s kinds=%s", os.getpid(), ",".join(warmed) or "none")
    return warmed


def launch_zygote() -> None:
    """Start this process's sandbox zygote without waiting for it, when this worker grades code."""
    if "code" not in worker_kinds:
        return
    try:
        from grader.engine.sandbox.worker import launch_zygote as launch

        launch()
    except Exception:
        log.exception("sandbox_zygote_launch_failed pid=%s", os.getpid())


def _queues_of(worker: Any) -> list[str]:
    consumed = getattr(worker.app.amqp.queues, "consume_from", None) or {}
    return [str(name) for name in consumed]


def _grades_in_main_process(worker: Any) -> bool:
    pool = getattr(worker, "pool_cls", None)
    pool_name = pool if isinstance(pool, str) else getattr(pool, "__module__", "")
    return "solo" in str(pool_name) or "thread" in str(pool_name)


@worker_init.connect
def _warm_up_worker(sender: Any = None, **_: Any) -> None:
    worker_kinds[:] = kinds_for_queues(_queues_of(sender)) if sender is not None else []
    log.info("worker_queues pid=%s grades=%s", os.getpid(), ",".join(worker_kinds) or "nothing")
    warm_up_engine(worker_kinds)
    if sender is not None and _grades_in_main_process(sender):
        launch_zygote()


@worker_process_init.connect
def _start_pool_process(**_: Any) -> None:
    log.info(
        "pool_process_started pid=%s grades=%s", os.getpid(), ",".join(worker_kinds) or "nothing"
    )
    launch_zygote()


@task_prerun.connect
def _drop_old_connections(sender: Any = None, **_: Any) -> None:
    # An eager task runs inside its caller's request or test transaction: leave that alone.
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
