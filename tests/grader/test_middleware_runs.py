"""The ASGI handler's middleware chain with hook-only runs grouped (config/middleware_runs.py).

Every request is sent through both Django's own ASGI handler and ours: status, headers, cookies
and body must be the same, whatever way the request ends (a view's answer, a middleware's answer
on the way in, an exception turned into a response, a CSRF refusal); and ours hops between the
event loop and a thread fewer times.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from asgiref import sync
from django.core.handlers.asgi import ASGIHandler
from django.test import Client
from django.urls import reverse
from django.utils.module_loading import import_string

from config.middleware_runs import HookRun, RunsASGIHandler, only_hooks
from course.models import Exercise, User
from grader.models import Submission
from tests.grader.conftest import pending_submissions, settle

pytestmark = pytest.mark.django_db(transaction=True)

# Random per response: tokens and the nonce of the content security policy.
VARYING = re.compile(rb'(csrfmiddlewaretoken" value="|"X-CSRFToken": "|nonce-|nonce=")[^"\';]+')


def send(
    handler: Any,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    host: str = "testserver",
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Send one request through an ASGI application; return its status, headers and body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", host.encode())]
        + [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def run() -> None:
        received = asyncio.Event()

        async def receive() -> dict[str, Any]:
            if received.is_set():
                await asyncio.Event().wait()  # no disconnect while the response is made
            received.set()
            return {"type": "http.request", "body": body, "more_body": False}

        async def deliver(message: dict[str, Any]) -> None:
            sent.append(message)

        await handler(scope, receive, deliver)

    asyncio.run(run())
    start = sent[0]
    content = b"".join(message.get("body", b"") for message in sent[1:])
    return start["status"], start["headers"], content


def comparable(response: tuple[int, list[tuple[bytes, bytes]], bytes]) -> tuple[Any, ...]:
    status, headers, body = response
    headers = [(name.lower(), value) for name, value in headers]
    names = sorted(name for name, _ in headers)
    cookies = sorted(value.split(b"=", 1)[0] for name, value in headers if name == b"set-cookie")
    fixed = {
        name: value
        for name, value in headers
        if name not in (b"set-cookie", b"content-security-policy", b"content-length")
    }
    return status, names, cookies, fixed, VARYING.sub(b"", body)


@pytest.fixture
def signed_in(student: User) -> dict[str, str]:
    client = Client()
    client.force_login(student)
    return {"Cookie": f"sessionid={client.cookies['sessionid'].value}", "HX-Request": "true"}


@pytest.fixture
def finished(student: User, sigmoid: Exercise) -> Submission:
    (submission,) = pending_submissions(student, sigmoid, 1)
    settle(submission)
    return submission


def test_the_chain_groups_every_run_of_hook_only_middleware(settings: Any) -> None:
    runs: list[list[str]] = []
    layer: Any = RunsASGIHandler()._middleware_chain
    while layer is not None:
        layer = getattr(layer, "__wrapped__", layer)  # convert_exception_to_response's
        if isinstance(layer, HookRun):
            runs.append([type(part).__name__ for part in layer.parts])
        layer = getattr(layer, "get_response", None)
    hook_only = [
        path.rsplit(".", 1)[1] for path in settings.MIDDLEWARE if only_hooks(import_string(path))
    ]
    assert [name for run in runs for name in run] == hook_only
    # Django's security and session middlewares run with ours, up to the messages': one run.
    assert runs[0][:4] == [
        "SecurityMiddleware",
        "SecurityHeadersMiddleware",
        "StaticFilesMiddleware",
        "SessionMiddleware",
    ]
    assert "XFrameOptionsMiddleware" in runs[0]


REQUESTS: dict[str, tuple[dict[str, Any], int]] = {
    "own verdict": ({"submission": "own"}, 200),
    "signed out": ({"submission": "own", "signed_out": True}, 302),
    "someone else's": ({"submission": "other"}, 404),
    "no CSRF token": ({"check": True}, 403),
    "an empty answer, refused by the view": ({"check": True, "csrf": True, "answer": b""}, 400),
    "host not allowed": ({"submission": "own", "host": "evil.example"}, 400),
    "a page": ({"page": True}, 200),
    "not found": ({"path": "/no/such/page/"}, 404),
}


@pytest.mark.parametrize("case", REQUESTS)
def test_a_request_ends_the_same_through_both_chains(
    case: str, signed_in: dict[str, str], finished: Submission
) -> None:
    what, expected = REQUESTS[case]
    request: dict[str, Any] = {"headers": {} if what.get("signed_out") else signed_in}
    if "submission" in what:
        pk = finished.pk if what["submission"] == "own" else finished.pk + 1000
        request["path"] = reverse("submission_status", args=[pk])
    elif what.get("check"):
        headers = {**signed_in, "Content-Type": "application/x-www-form-urlencoded"}
        if what.get("csrf"):
            token = "t" * 32
            headers["Cookie"] += f"; csrftoken={token}"
            headers["X-CSRFToken"] = token
        request.update(
            path=reverse("answer_check", args=[finished.exercise.slug]),
            method="POST",
            headers=headers,
            body=b"answer=" + what.get("answer", b"sigma(x)"),
        )
    elif what.get("page"):
        request["path"] = reverse("exercise_detail", args=[finished.exercise.slug])
    else:
        request["path"] = what["path"]
    if "host" in what:
        request["host"] = what["host"]
    ours = send(RunsASGIHandler(), **request)
    assert comparable(ours) == comparable(send(ASGIHandler(), **request))
    assert ours[0] == expected


def test_a_held_request_hops_to_a_thread_half_as_often(
    signed_in: dict[str, str], finished: Submission, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops: list[str] = []
    original = sync.SyncToAsync.__call__

    async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(self.func, "__name__", "?"))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", counted)
    path = reverse("submission_status", args=[finished.pk])
    send(ASGIHandler(), path, headers=signed_in)
    theirs, hops[:] = len(hops), []
    assert send(RunsASGIHandler(), path, headers=signed_in)[0] == 200
    assert len(hops) * 2 <= theirs, (len(hops), theirs, hops)  # measured: 8 against 22
