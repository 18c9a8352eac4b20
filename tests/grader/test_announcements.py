"""Held status requests hear verdicts through one Redis subscription per event loop.

Against the real Redis: the subscription is shared by every wait on a loop, announcements wake
exactly the waits for their submission, and a lost connection sends the waits to the database and
is replaced on the next request.
"""

from __future__ import annotations

import asyncio

import pytest
import redis
from asgiref.sync import sync_to_async
from django.db import connection

from grader import announcements, selectors, services
from grader.models import Submission
from tests.grader.conftest import pending_submissions, settle

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def notify_url(settings) -> str:  # noqa: ANN001 - pytest-django fixture
    url = settings.GRADER_NOTIFY_REDIS_URL
    if not url or services.notify_client(url) is None:
        pytest.skip("no Redis to announce verdicts on")
    try:
        services.notify_client(url).ping()
    except redis.RedisError:
        pytest.skip("no Redis to announce verdicts on")
    settings.GRADER_STATUS_WAIT_SECONDS = 30
    return url


def our_connections(url: str) -> list[dict]:
    """Return the Redis connections this process's verdict subscriptions hold."""
    return [
        c
        for c in redis.Redis.from_url(url).client_list()
        if c.get("name") == announcements.client_name()
    ]


async def until(condition, what: str) -> None:  # noqa: ANN001 - a callable
    for _ in range(400):
        if condition():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"timed out waiting for {what}")


async def close_connection() -> None:
    await sync_to_async(lambda: connection.close())()


def test_waits_share_one_subscription_and_wake_only_for_their_own_verdict(
    student, sigmoid, notify_url
):
    first, second, third = pending_submissions(student, sigmoid, 3)

    async def scenario() -> tuple[int, list[str], bool]:
        waits = {
            s.pk: asyncio.ensure_future(selectors.submission_wait(submission=s, timeout=30))
            for s in (first, second, third)
        }
        await until(lambda: announcements.waiting(notify_url) == set(waits), "three waits")
        connections = len(await sync_to_async(our_connections)(notify_url))
        await sync_to_async(settle)(second)
        settled = await waits[second.pk]
        # The other two are still waiting: the announcement named only the second.
        others_waiting = not waits[first.pk].done() and not waits[third.pk].done()
        await sync_to_async(settle)(first)
        await sync_to_async(settle)(third)
        results = [settled.status] + [(await waits[s.pk]).status for s in (first, third)]
        await close_connection()
        return connections, results, others_waiting

    connections, statuses, others_waiting = asyncio.run(scenario())
    assert connections == 1  # three waits, one subscription on this loop
    assert others_waiting
    assert statuses == ["finished"] * 3


def test_a_request_that_registers_after_its_verdict_was_announced_hears_it_at_once(
    student, sigmoid, notify_url
):
    # A check stores its answer, then registers for the verdict: a worker that quick is heard.
    (submission,) = pending_submissions(student, sigmoid, 1)

    async def scenario() -> tuple[bool, str]:
        listener = await announcements.listener(notify_url)
        witness = listener.register(submission.pk)
        await sync_to_async(settle)(submission)
        await asyncio.wait_for(witness.wait(), 30)  # the announcement has arrived
        listener.unregister(submission.pk, witness)
        late = listener.register(submission.pk)
        heard = late.is_set()
        listener.unregister(submission.pk, late)
        waited = await selectors.submission_wait(
            submission=submission, timeout=30, just_stored=True
        )
        await close_connection()
        return heard, waited.status

    assert asyncio.run(scenario()) == (True, "finished")


def test_a_lost_subscription_sends_waits_to_the_database_and_is_replaced(
    student, sigmoid, notify_url, settings
):
    settings.GRADER_STATUS_CHECK_MS = 20
    first, second = pending_submissions(student, sigmoid, 2)

    async def scenario() -> tuple[str, str, int]:
        wait = asyncio.ensure_future(selectors.submission_wait(submission=first, timeout=30))
        await until(lambda: first.pk in announcements.waiting(notify_url), "the first wait")
        admin = redis.Redis.from_url(notify_url)
        for found in await sync_to_async(our_connections)(notify_url):
            await sync_to_async(admin.client_kill_filter)(_id=found["id"])
        # The wait is told at once and looks at the database from then on: a verdict stored
        # without any announcement reaches it.
        await until(lambda: not announcements.waiting(notify_url), "the wait to leave")
        await sync_to_async(
            lambda: Submission.objects.filter(pk=first.pk).update(
                status=Submission.Status.FINISHED, verdict={"status": "correct"}
            )
        )()
        settled = await wait
        # The next wait subscribes afresh and hears its announcement.
        later = asyncio.ensure_future(selectors.submission_wait(submission=second, timeout=30))
        await until(lambda: second.pk in announcements.waiting(notify_url), "the second wait")
        connections = len(await sync_to_async(our_connections)(notify_url))
        await sync_to_async(settle)(second)
        heard = await later
        await close_connection()
        return settled.status, heard.status, connections

    first_status, second_status, connections = asyncio.run(scenario())
    assert (first_status, second_status, connections) == ("finished", "finished", 1)


def test_an_unreachable_redis_falls_back_to_the_database(student, sigmoid, settings):
    settings.GRADER_NOTIFY_REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens on port 9
    settings.GRADER_STATUS_CHECK_MS = 20
    (submission,) = pending_submissions(student, sigmoid, 1)

    async def scenario() -> str:
        wait = asyncio.ensure_future(selectors.submission_wait(submission=submission, timeout=30))
        await asyncio.sleep(0.1)
        await sync_to_async(settle)(submission)
        settled = await wait
        await close_connection()
        return settled.status

    assert asyncio.run(scenario()) == "finished"


def test_without_announcements_a_wait_looks_less_and_less_often(settings, monkeypatch):
    """A class waiting while Redis is away adds a bounded load on the database."""
    settings.GRADER_NOTIFY_REDIS_URL = ""
    settings.GRADER_STATUS_CHECK_MS = 50
    pauses: list[float] = []
    looks = iter([False] * 12 + [True])

    async def settled(_submission: Submission, *_: object) -> bool:
        return next(looks)

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(selectors, "_settled", settled)
    monkeypatch.setattr(selectors.asyncio, "sleep", pause)
    submission = Submission(status=Submission.Status.QUEUED)
    asyncio.run(selectors.submission_wait(submission=submission, timeout=3600))
    assert len(pauses) == 12
    assert pauses[0] == pytest.approx(0.05)
    assert pauses == sorted(pauses) and max(pauses) == pytest.approx(selectors.LOOK_AT_MOST_SECONDS)
