"""Run the web server and a grader worker together; Ctrl-C stops both.

The web server is uvicorn serving config.asgi, as in production (README, "Run on PostgreSQL and
Redis"): the status requests that wait for a verdict are async views, and under a WSGI server
(runserver) each would hold a thread while it waits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from config.settings import describe_backends


def worker_command(*, queues: list[str], concurrency: int, beat: bool, name: str) -> list[str]:
    """Return the command line of a Celery grader worker consuming the given queues."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--queues",
        ",".join(queues),
        "--concurrency",
        str(concurrency),
        "--hostname",
        f"{name}@%h",
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
    ]
    if beat:
        command += ["--beat", "--schedule", str(settings.VAR_DIR / "celerybeat-schedule")]
    return command


def web_command(*, addrport: str) -> list[str]:
    """Return the command line of the ASGI web server (one uvicorn process) on host:port."""
    host, _, port = addrport.rpartition(":")
    command = [sys.executable, "-m", "uvicorn", "config.asgi:application"]
    command += ["--host", (host or "127.0.0.1").strip("[]"), "--port", port or "8000"]
    return command + ["--lifespan", "off"]


def child_environment() -> dict[str, str]:
    """Return the children's environment, with the broker this process chose written down.

    Without a configured broker each process probes for Redis on its own; the web server and
    the worker, started a moment apart, could then choose different brokers.
    """
    return {**os.environ, "CELERY_BROKER_URL": settings.CELERY_BROKER_URL}


class Command(BaseCommand):
    help = (
        "Start the development web server and a Celery grader worker (with its scheduler) together."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--concurrency", type=int, default=2, help="grader worker processes")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(describe_backends())
        # Stop the children on SIGTERM too, and on Ctrl-C even when started in the background.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        signal.signal(signal.SIGINT, signal.default_int_handler)
        worker = worker_command(
            queues=[settings.GRADER_SYMBOLIC_QUEUE, settings.GRADER_CODE_QUEUE],
            concurrency=options["concurrency"],
            beat=True,
            name="serve",
        )
        web = web_command(addrport=options["addrport"])
        environment = child_environment()
        children = [
            subprocess.Popen(worker, env=environment, start_new_session=True),  # noqa: S603
            subprocess.Popen(web, env=environment, start_new_session=True),  # noqa: S603
        ]
        self.stdout.write(
            f"Serving http://{options['addrport']}/ — press Ctrl-C to stop the server and the worker."
        )
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            self.stderr.write("A process stopped on its own; stopping the other.")
        except (KeyboardInterrupt, SystemExit):
            self.stdout.write("Stopping…")
        finally:
            for child in children:
                if child.poll() is None:
                    os.killpg(child.pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
