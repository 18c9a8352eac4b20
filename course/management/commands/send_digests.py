"""Send the daily notification digests now (the worker's scheduler does it every day)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from course.services_notifications import digests_send


class Command(BaseCommand):
    help = "E-mail each learner who asked for it the notifications they have not read."

    def handle(self, *args: Any, **options: Any) -> None:
        report = digests_send()
        self.stdout.write(
            f"{report.sent} digest(s) sent with {report.items} item(s); {report.failed} failed"
        )
