"""Celery tasks of the course: thin wrappers around services, run by the worker's scheduler."""

from __future__ import annotations

from celery import shared_task

from course.services_notifications import digests_send


@shared_task(ignore_result=True)
def send_notification_digests() -> dict[str, int]:
    """Send the daily e-mail digests; run once a day by Celery beat (NOTIFICATION_DIGEST_HOUR)."""
    report = digests_send()
    return {"sent": report.sent, "items": report.items, "failed": report.failed}
