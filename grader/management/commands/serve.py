"""Run the web server and a grader worker together; Ctrl-C stops both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Start the development web server and a Celery grader worker (with its scheduler) together."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--concurrency", type=int, default=2, help="grader worker processes")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(settings.describe_backends())
        python = sys.executable
        worker = [
            python, "-m", "celery", "-A", "config", "worker", "--beat",
            "--queues", "symbolic,code", "--concurrency", str(options["concurrency"]),
            "--loglevel", "INFO", "--schedule", str(settings.VAR_DIR / "celerybeat-schedule"),
        ]
        web = [python, "manage.py", "runserver", options["addrport"], "--noreload"]
        children = [subprocess.Popen(worker, start_new_session=True), subprocess.Popen(web, start_new_session=True)]
        self.stdout.write(f"Serving http://{options['addrport']}/ — press Ctrl-C to stop the server and the worker.")
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            self.stderr.write("A process stopped on its own; stopping the other.")
        except KeyboardInterrupt:
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
