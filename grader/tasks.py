"""Celery tasks of the grader: thin wrappers that take ids and call services.

This module imports the services and never the other way round: the services send the grading
task by its registered name (grader.services.GRADE_SUBMISSION_TASK).
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from grader import services


@shared_task(
    bind=True,
    name=services.GRADE_SUBMISSION_TASK,
    # Only infrastructure errors are retried: a wrong answer is a verdict, an engine bug is an ERROR.
    autoretry_for=(OperationalError, InterfaceError),
    max_retries=3,
    retry_backoff=1,
    retry_backoff_max=10,
    soft_time_limit=settings.GRADER_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.GRADER_TASK_TIME_LIMIT,
)
def grade_submission(self, submission_id: int) -> str:  # noqa: ANN001 - Celery's bound task
    """Grade one submission: claim it, ask the engine, store the verdict and progress.

    Then give its slot to the next learner's turn and charge what it cost (grader.fairshare).
    """
    return services.submission_process(
        submission_id=submission_id,
        task_id=self.request.id or "",
        worker=self.request.hostname or "",
    )


@shared_task(ignore_result=True)
def requeue_stuck_submissions() -> dict[str, list[int]]:
    """Re-send submissions stuck in QUEUED or RUNNING; run periodically by Celery beat."""
    report = services.submission_requeue_stuck()
    services.submissions_dispatch(queue=settings.GRADER_CODE_QUEUE)
    return {"requeued": report.requeued, "failed": report.failed}


@shared_task(
    bind=True,
    name=services.GRADE_BENCH_RUN_TASK,
    autoretry_for=(OperationalError, InterfaceError),
    max_retries=3,
    retry_backoff=1,
    soft_time_limit=settings.GRADER_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.GRADER_TASK_TIME_LIMIT,
)
def grade_bench_run(self, bench_run_id: int) -> str:  # noqa: ANN001 - Celery's bound task
    """Grade an instructor's bench check and store its verdict (never an attempt)."""
    return services.bench_run_process(bench_run_id=bench_run_id, worker=self.request.hostname or "")
