"""manage.py serve and the ASGI entry point it runs: one broker for all, held requests async."""

from __future__ import annotations

import asyncio
import threading

from django.core.signals import request_finished, request_started
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


def test_a_page_served_through_the_wsgi_side_of_the_router_finishes_its_request(monkeypatch):
    # request_finished hands the request's database connection back (to the pool).
    monkeypatch.setenv("DB_POOL", "0")
    from config import asgi

    finished: list[object] = []

    def note(**kwargs: object) -> None:
        finished.append(kwargs)

    request_finished.connect(note)
    try:
        status = asyncio.run(asgi_get(asgi.application, "/accounts/login/"))
    finally:
        request_finished.disconnect(note)
    assert status == 200 and len(finished) == 1


async def asgi_get(application, path: str, on_sent=None) -> int:
    """Send one GET through an ASGI application; return the response's status.

    on_sent, when given, is called inside send() once the response's last part is sent.
    """
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    received = asyncio.Event()
    sent: list[dict] = []

    async def receive() -> dict:
        if received.is_set():
            await asyncio.Event().wait()  # no disconnect while the response is made
        received.set()
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)
        if on_sent is not None and message["type"] == "http.response.body":
            if not message.get("more_body"):
                on_sent()

    await application(scope, receive, send)
    return sent[0]["status"]


def test_a_request_started_while_the_last_response_is_sent_is_served(monkeypatch):
    # uvicorn starts a keep-alive connection's next request from inside the previous response's
    # send, so the next request's task copies that context: a page served through the WSGI side
    # leaves its thread's executor there (asgiref), which has quit by the time the next one runs.
    monkeypatch.setenv("DB_POOL", "0")
    from config import asgi

    async def both() -> list[int]:
        later: list[asyncio.Task[int]] = []

        def next_request() -> None:
            if not later:
                later.append(
                    asyncio.get_running_loop().create_task(
                        asgi_get(asgi.application, "/accounts/login/")
                    )
                )

        first = await asgi_get(asgi.application, "/accounts/login/", on_sent=next_request)
        return [first, await later[0]]

    assert asyncio.run(both()) == [200, 200]


def test_requests_one_after_another_share_a_thread_and_never_at_once(monkeypatch):
    monkeypatch.setenv("DB_POOL", "0")
    from config import asgi

    threads: list[int] = []

    def note(**kwargs: object) -> None:
        threads.append(threading.get_ident())

    async def two_after_one_another_and_two_at_once() -> list[int]:
        for _ in range(2):
            assert await asgi_get(asgi.application, "/accounts/login/") == 200
        pages = [asgi_get(asgi.application, "/accounts/login/") for _ in range(2)]
        return list(await asyncio.gather(*pages))

    request_started.connect(note)
    try:
        statuses = asyncio.run(two_after_one_another_and_two_at_once())
    finally:
        request_started.disconnect(note)
    assert statuses == [200, 200]
    assert threads[0] == threads[1]  # the second request had the first one's thread
    assert threads[2] != threads[3]  # two at once: a thread each
