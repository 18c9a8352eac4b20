"""Report the grading pipeline's health: queues, workers, waiting submissions, sandbox layers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Count
from django.utils import timezone

from config.celery import app
from config.settings import describe_backends
from grader.models import Submission


def queue_depths(queues: list[str]) -> dict[str, int | str]:
    """Return how many messages wait on each queue, or why that could not be read."""
    depths: dict[str, int | str] = {}
    try:
        with app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
            channel = connection.default_channel
            for queue in queues:
                try:
                    depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
                except Exception as exc:  # a queue nobody declared yet is empty
                    depths[queue] = (
                        0
                        if "NOT_FOUND" in str(exc) or "no queue" in str(exc).lower()
                        else f"unknown ({exc})"
                    )
    except Exception as exc:
        return {queue: f"broker unreachable ({exc.__class__.__name__}: {exc})" for queue in queues}
    return depths


def workers_alive(timeout: float) -> list[str] | str:
    """Return the names of the workers that answer a ping, or why nobody could be asked."""
    try:
        replies = app.control.ping(timeout=timeout) or []
    except Exception as exc:
        return f"unknown ({exc.__class__.__name__}: {exc})"
    return sorted(name for reply in replies for name in reply)


def sandbox_layers() -> dict[str, Any] | str:
    """Return the code sandbox's isolation layers as its engine reports them."""
    try:
        from grader.engine.sandbox.worker import sandbox_layers as layers
    except ImportError as exc:
        return f"unavailable ({exc})"
    try:
        return layers()
    except Exception as exc:
        return f"could not start ({exc.__class__.__name__}: {exc})"


class Command(BaseCommand):
    help = "Show queue depths, live workers, the oldest waiting submission and the sandbox layers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ping-timeout", type=float, default=1.0)
        parser.add_argument("--no-sandbox", action="store_true", help="skip probing the sandbox")

    def handle(self, *args: Any, **options: Any) -> None:
        out = self.stdout.write
        now = timezone.now()
        out(describe_backends())
        out("Queues (messages waiting):")
        for queue, depth in queue_depths(
            [settings.GRADER_SYMBOLIC_QUEUE, settings.GRADER_CODE_QUEUE]
        ).items():
            out(f"  {queue:<20} {depth}")
        workers = workers_alive(options["ping_timeout"])
        if isinstance(workers, str):
            out(f"Workers alive: {workers}")
        else:
            out(f"Workers alive: {len(workers)}" + "".join(f"\n  {name}" for name in workers))
        counts = dict(
            Submission.objects.filter(created_at__gte=now - timedelta(hours=1))
            .values_list("status")
            .annotate(n=Count("id"))
        )
        out(
            "Submissions in the last hour: "
            + ", ".join(
                f"{label.lower()} {counts.get(value, 0)}"
                for value, label in Submission.Status.choices
            )
        )
        for status, field, verb in (
            (Submission.Status.QUEUED, "enqueued_at", "waiting"),
            (Submission.Status.RUNNING, "claimed_at", "grading"),
        ):
            oldest = Submission.objects.filter(status=status).order_by(field).first()
            if oldest is None:
                out(f"Oldest {verb} submission: none")
            else:
                age = (now - getattr(oldest, field)).total_seconds()
                out(
                    f"Oldest {verb} submission: #{oldest.pk} on queue {oldest.queue}, {age:.1f} s, "
                    f"try {oldest.tries} of {settings.GRADER_MAX_TRIES}"
                )
        if options["no_sandbox"]:
            return
        layers = sandbox_layers()
        if isinstance(layers, str):
            out(f"Sandbox layers: {layers}")
            return
        out("Sandbox layers:")
        for name, value in layers.items():
            out(f"  {name:<20} {'active' if value is True else value}")
