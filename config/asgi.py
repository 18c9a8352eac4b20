"""ASGI entry point: the web server (gunicorn with uvicorn workers, or uvicorn; see README.md).

The views that hold a request until a verdict (grader/views.py's answer_check, submission_status
and submission_detail) are async: a waiting learner is a coroutine, not a thread. They are served
by Django's ASGI handler, whose sync middleware hooks run a few in each thread hop
(config/middleware_runs.py). Every other request goes to Django's WSGI handler in a thread of its own:
its views are sync, and under the ASGI handler each sync middleware hook and view would hop between
the event loop and a thread (measured: about 40% more CPU for the exercise page). Either way each
request's sync code runs in a thread of its own, so database connections come from a pool per
process (DB_POOL, config/settings.py) rather than staying open per thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, iscoroutinefunction
from asgiref.wsgi import WsgiToAsgi
from django import setup
from django.core.wsgi import get_wsgi_application
from django.urls import Resolver404, resolve

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DB_POOL", "1")
setup(set_prefix=False)
from config.middleware_runs import RunsASGIHandler  # noqa: E402 - needs the settings

asgi_handler = RunsASGIHandler()
django_wsgi = get_wsgi_application()

from course.markdown import warm_up  # noqa: E402 - needs the apps loaded above

warm_up()


def closing_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    """Run Django's WSGI handler and close its response, as PEP 3333 asks of a server.

    asgiref's WsgiToAsgi never calls close(): Django's request_finished would never fire, and the
    request's database connection would never go back to the pool. Iterated and closed in the
    request's thread, where that connection lives.
    """
    response: Iterable[bytes] = django_wsgi(environ, start_response)
    try:
        yield from response
    finally:
        close = getattr(response, "close", None)
        if close is not None:
            close()


wsgi_handler = WsgiToAsgi(closing_wsgi)


def is_async_view(path: str) -> bool:
    """Say whether the path is served by an async view (one that waits without a thread)."""
    try:
        return iscoroutinefunction(resolve(path).func)
    except Resolver404:
        return False


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Serve one request in a context of its own (see _route).

    uvicorn starts a keep-alive connection's next request from inside the previous response's
    send(), so the next request's task would copy that context; asgiref leaves in it the thread
    executor of the request served through the WSGI side, which has quit by then, and every
    sync_to_async of the next request would fail ("CurrentThreadExecutor already quit").
    """
    await asyncio.get_running_loop().create_task(
        _route(scope, receive, send), context=contextvars.Context()
    )


async def _route(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Send async views' requests to the ASGI handler, and the rest to the WSGI one in a thread.

    Either way the request's sync code runs in a thread of its own while it lasts (as Django's
    ASGI handler does), not in one thread shared by all: a thread kept from an earlier request
    (RequestThreads), where Django's handler would start one and end it for each request.
    """
    if scope["type"] != "http":
        await asgi_handler(scope, receive, send)
        return
    executor = request_threads.take()
    try:
        async with ThreadSensitiveContext(executor=executor):
            if is_async_view(scope["path"]):
                await asgi_handler(scope, receive, send)
            else:
                await wsgi_handler(scope, receive, send)
    finally:
        request_threads.give_back(executor)


class RequestThreads:
    """Single-thread executors for requests, each used by one request at a time and then kept.

    Starting a thread and ending it costs about 0.25 ms of CPU per request. One request's sync
    code stays in its one thread, as thread-sensitive code needs; a thread serves requests one
    after another as a threaded WSGI server's do. At most `keep` idle ones are kept; more
    requests at once get threads of their own, ended after them.
    """

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.idle: list[ThreadPoolExecutor] = []

    def take(self) -> ThreadPoolExecutor:
        """Return an idle executor, or a new one (its thread starts on its first call)."""
        if self.idle:
            return self.idle.pop()
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")

    def give_back(self, executor: ThreadPoolExecutor) -> None:
        """Keep the executor for a later request, or end its thread when enough are kept."""
        if len(self.idle) < self.keep:
            self.idle.append(executor)
        else:
            executor.shutdown(wait=False)


# Used only from the event loop's thread: take and give back never run at once.
request_threads = RequestThreads(keep=64)
