"""`manage.py grader_status`: the pipeline's health at a glance."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from grader import services
from grader.models import Submission
from grader.tasks import grade_submission
from tests.grader.conftest import SIGMOID_RIGHT

pytestmark = pytest.mark.django_db


def status(*args: str) -> str:
    out = StringIO()
    call_command("grader_status", "--ping-timeout", "0.2", *args, stdout=out)
    return out.getvalue()


def test_it_reports_queues_workers_and_the_oldest_waiting_submission(
    student, sigmoid, monkeypatch, settings
):
    monkeypatch.setattr(grade_submission, "apply_async", lambda **kw: None)
    settings.GRADER_SYMBOLIC_QUEUE = "status-test-symbolic"
    waiting = services.submission_create(user=student, exercise=sigmoid, answer=SIGMOID_RIGHT)
    Submission.objects.filter(pk=waiting.pk).update(
        enqueued_at=timezone.now() - timedelta(seconds=42)
    )
    report = status("--no-sandbox")
    assert "Queues (messages waiting):" in report and settings.GRADER_CODE_QUEUE in report
    assert "Workers alive:" in report
    assert "queued 1, grading 0, graded 0, could not be graded 0" in report
    assert f"Oldest waiting submission: #{waiting.pk} on queue status-test-symbolic, 42." in report
    assert "Oldest grading submission: none" in report
    assert "Sandbox layers" not in report


def test_it_lists_the_sandbox_layers(db):
    report = status()
    assert "Sandbox layers" in report
    assert "seccomp" in report and "landlock" in report
