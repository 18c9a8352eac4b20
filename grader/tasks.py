"""Celery tasks of the grader: thin wrappers that take ids and call services."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError

from grader import services

log = logging.getLogger(__name__)


@shared_task(
    bind=True,
    # Only infrastructure errors are retried: a wrong answer is a verdict, an engine bug is an ERROR.
    autoretry_for=(OperationalError, InterfaceError),
    max_retries=3,
    retry_backoff=1,
    retry_backoff_max=10,
    soft_time_limit=settings.GRADER_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.GRADER_TASK_TIME_LIMIT,
)
def grade_submission(self, submission_id: int) -> str:  # noqa: ANN001 - Celery's bound task
    """Grade one submission: claim it, ask the engine, store the verdict and progress."""
    task_id = self.request.id or ""
    submission = services.submission_claim(
        submission_id=submission_id, task_id=task_id, worker=self.request.hostname or ""
    )
    if submission is None:
        return "skipped"
    try:
        verdict = services.submission_grade(submission=submission)
    except SoftTimeLimitExceeded:
        services.submission_fail(submission_id=submission_id, reason="time_limit", task_id=task_id)
        return "time_limit"
    result = services.submission_finish(submission=submission, verdict=verdict, task_id=task_id)
    return str(verdict.status) if result.finished else "finished_elsewhere"


@shared_task(ignore_result=True)
def requeue_stuck_submissions() -> dict[str, list[int]]:
    """Re-send submissions stuck in QUEUED or RUNNING; run periodically by Celery beat."""
    report = services.submission_requeue_stuck()
    return {"requeued": report.requeued, "failed": report.failed}
