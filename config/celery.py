"""The Celery application the grader workers run."""

from __future__ import annotations

import importlib
import logging
import os
from typing import Any

from celery import Celery
from celery.signals import worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("chainrule")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

log = logging.getLogger("grader.worker")

# Engine modules with a warm_up() hook, called once in every process that grades.
WARM_UP_MODULES = ("grader.engine.symbolic.dispatch", "grader.engine.sandbox.worker")


def warm_up_engine() -> list[str]:
    """Call the engine's warm-up hooks (grader.apps configured its limits); return the modules warmed."""
    warmed = []
    for name in WARM_UP_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        try:
            result = module.warm_up()
        except Exception:
            # Grading still works (each grader warms lazily, or refuses with a verdict); say so loudly.
            log.exception("engine_warm_up_failed pid=%s module=%s", os.getpid(), name)
            continue
        warmed.append(name)
        if result:
            log.info("engine_warm_up pid=%s module=%s result=%s", os.getpid(), name, result)
    log.info("engine_warmed pid=%s modules=%s", os.getpid(), ",".join(warmed) or "none")
    return warmed


@worker_process_init.connect
def _warm_up_pool_process(**_: Any) -> None:
    warm_up_engine()


@worker_init.connect
def _warm_up_solo_worker(sender: Any = None, **_: Any) -> None:
    # The solo and threads pools grade in the main process, which gets no worker_process_init.
    pool = getattr(sender, "pool_cls", None)
    pool_name = pool if isinstance(pool, str) else getattr(pool, "__module__", "")
    if "solo" in str(pool_name) or "thread" in str(pool_name):
        warm_up_engine()
