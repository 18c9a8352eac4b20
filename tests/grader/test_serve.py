"""manage.py serve: the web server and the worker it starts agree on one broker."""

from __future__ import annotations

from django.urls import reverse

from grader.management.commands.serve import child_environment, web_command, worker_command


def test_the_children_use_the_broker_serve_chose(settings, monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    settings.CELERY_BROKER_URL = "filesystem://"
    assert child_environment()["CELERY_BROKER_URL"] == "filesystem://"


def test_the_worker_consumes_both_queues_and_runs_the_scheduler(settings):
    command = worker_command(queues=["symbolic", "code"], concurrency=2, beat=True, name="serve")
    assert command[command.index("--queues") + 1] == "symbolic,code"
    assert "--beat" in command
    assert str(settings.VAR_DIR / "celerybeat-schedule") in command


def test_the_web_server_is_the_asgi_one_on_the_address_given():
    command = web_command(addrport="192.0.2.7:8080")
    assert command[command.index("-m") + 1] == "uvicorn"
    assert "config.asgi:application" in command
    assert command[command.index("--host") + 1] == "192.0.2.7"
    assert command[command.index("--port") + 1] == "8080"


def test_a_bare_port_serves_on_the_loopback_address():
    command = web_command(addrport="8001")
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "8001"


def test_the_asgi_router_sends_only_the_held_requests_to_the_async_handler(monkeypatch):
    monkeypatch.setenv("DB_POOL", "0")  # what importing the entry point sets, undone after
    from config import asgi

    assert asgi.is_async_view(reverse("submission_status", args=[1]))
    assert asgi.is_async_view(reverse("submission_detail", args=[1]))
    assert not asgi.is_async_view(reverse("exercise_detail", args=["any-exercise"]))
    assert not asgi.is_async_view("/no/such/page/")
