"""Verdict announcements as a web process hears them: one Redis subscription per event loop.

A worker announces each settled submission on its own channel (grader.services.verdict_channel).
Every held status request used to open a Redis connection of its own, subscribe, and close it
again: at a few hundred learners that was a tenth of the web tier's CPU. Now each event loop (one
per uvicorn worker process) keeps one connection subscribed to the pattern of every verdict
channel, and a held request only registers the submission it waits for: no connection, no
command, nothing sent to Redis per request. Every web process hears every announcement, a few
dozen small messages a second at a class's peak.

The subscription is confirmed before any waiter looks at the database, so a verdict stored after
the look is always heard; and it remembers the submissions announced in the last RECENT_SECONDS,
so a request that registers just after its verdict was announced hears it at once. If the
connection fails, every waiter is told at once and falls back to looking at the database
(grader.selectors.submission_wait); the next request subscribes afresh.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import weakref

import redis.asyncio

log = logging.getLogger("grader.announcements")

CHANNEL_PREFIX = "chainrule:verdict:"
# How long the subscription may sit idle before redis-py checks the connection with a PING.
HEALTH_CHECK_SECONDS = 10
# How long an announcement is remembered for a request that registers after it (the time from
# storing an answer to registering for its verdict, however slow the event loop).
RECENT_SECONDS = 60.0


class ListenerFailed(ConnectionError):
    """The subscription was lost: waiters look at the database instead."""


class VerdictListener:
    """One pattern subscription on one event loop, waking the requests that wait for a verdict."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.failed = False
        self._waiting: dict[int, set[asyncio.Event]] = {}
        # Announced submissions, oldest first, with the loop's time each was heard.
        self._recent: collections.OrderedDict[int, float] = collections.OrderedDict()
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[None] = loop.create_future()
        self._task = loop.create_task(self._listen(), name="verdict-listener")

    def register(self, submission_id: int) -> asyncio.Event:
        """Return an event set whenever the submission's announcement arrives (or the line fails)."""
        event = asyncio.Event()
        if self.failed or submission_id in self._recent:
            event.set()
        self._waiting.setdefault(submission_id, set()).add(event)
        return event

    def unregister(self, submission_id: int, event: asyncio.Event) -> None:
        events = self._waiting.get(submission_id)
        if events is not None:
            events.discard(event)
            if not events:
                del self._waiting[submission_id]

    def waiting(self) -> set[int]:
        """Return the submissions some request on this loop is waiting for."""
        return set(self._waiting)

    def _announced(self, channel: bytes) -> None:
        try:
            submission_id = int(channel.decode().removeprefix(CHANNEL_PREFIX))
        except ValueError:
            return
        now = asyncio.get_running_loop().time()
        self._recent[submission_id] = now
        self._recent.move_to_end(submission_id)
        while self._recent and next(iter(self._recent.values())) < now - RECENT_SECONDS:
            self._recent.popitem(last=False)
        for event in self._waiting.get(submission_id, ()):
            event.set()

    def _fail(self, error: BaseException) -> None:
        self.failed = True
        if not self.ready.done():
            self.ready.set_exception(ListenerFailed(str(error)))
            # Retrieved here so an unawaited failure is not reported as never retrieved.
            self.ready.exception()
        for events in self._waiting.values():
            for event in events:
                event.set()

    async def _listen(self) -> None:
        client = redis.asyncio.Redis.from_url(
            self.url,
            socket_connect_timeout=1.0,
            health_check_interval=HEALTH_CHECK_SECONDS,
            # Which web process holds it shows in Redis's CLIENT LIST.
            client_name=client_name(),
        )
        pubsub = client.pubsub()
        try:
            await pubsub.psubscribe(CHANNEL_PREFIX + "*")
            # Confirmed by the server: from here on, every announcement reaches this loop.
            while True:
                message = await pubsub.get_message(timeout=HEALTH_CHECK_SECONDS)
                if message is None:
                    continue
                if message["type"] == "psubscribe":
                    if not self.ready.done():
                        self.ready.set_result(None)
                elif message["type"] == "pmessage":
                    self._announced(message["channel"])
        except (redis.RedisError, OSError) as error:
            log.warning("verdict_listener_failed url=%s error=%s", _safe(self.url), error)
            self._fail(error)
        except asyncio.CancelledError as error:  # the event loop is closing
            self._fail(error)
            raise
        finally:
            _forget(self)
            await pubsub.aclose()
            await client.aclose()


def client_name() -> str:
    """Return the name this process's subscriptions carry in Redis."""
    return f"chainrule-verdicts-{os.getpid()}"


def _safe(url: str) -> str:
    """Return the URL without a password, for the log."""
    scheme, _sep, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"


_listeners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, VerdictListener]] = (
    weakref.WeakKeyDictionary()
)


def _forget(listener: VerdictListener) -> None:
    for by_url in list(_listeners.values()):
        if by_url.get(listener.url) is listener:
            del by_url[listener.url]


async def listener(url: str) -> VerdictListener:
    """Return this event loop's subscription to url, once it is confirmed (raise if it cannot be)."""
    by_url = _listeners.setdefault(asyncio.get_running_loop(), {})
    found = by_url.get(url)
    if found is None or found.failed:
        found = by_url[url] = VerdictListener(url)
    await asyncio.shield(found.ready)
    return found


def waiting(url: str) -> set[int]:
    """Return the submissions a request on the running event loop is waiting for (tests ask)."""
    found = _listeners.get(asyncio.get_running_loop(), {}).get(url)
    return found.waiting() if found is not None else set()
