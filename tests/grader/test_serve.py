"""manage.py serve: the web server and the worker it starts agree on one broker."""

from __future__ import annotations

from grader.management.commands.serve import child_environment, worker_command


def test_the_children_use_the_broker_serve_chose(settings, monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    settings.CELERY_BROKER_URL = "filesystem://"
    assert child_environment()["CELERY_BROKER_URL"] == "filesystem://"


def test_the_worker_consumes_both_queues_and_runs_the_scheduler(settings):
    command = worker_command(queues=["symbolic", "code"], concurrency=2, beat=True, name="serve")
    assert command[command.index("--queues") + 1] == "symbolic,code"
    assert "--beat" in command
    assert str(settings.VAR_DIR / "celerybeat-schedule") in command
