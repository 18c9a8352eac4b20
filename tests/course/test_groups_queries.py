"""The board, the group pages and the dashboard run a constant number of queries per group size."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from course import services_groups
from course.models import StudyGroup, User
from tests.course import groupkit

pytestmark = pytest.mark.django_db


def seeded_group(catalogue: groupkit.Catalogue, size: int, tag: str) -> tuple[StudyGroup, User]:
    """Return a group of `size` members with mixed progress and a thread, and its facilitator."""
    members = groupkit.make_members(size, prefix=f"{tag}-")
    group = groupkit.make_group(catalogue=catalogue, facilitator=members[0], members=members[1:])
    exercises = [x for xs in catalogue.exercises.values() for x in xs]
    for i, member in enumerate(members):
        for j, exercise in enumerate(exercises):
            if (i + j) % 3 == 0:
                groupkit.solve(member, exercise)
            elif (i + j) % 3 == 1:
                groupkit.attempt(member, exercise, score=0.5)
        if i % 4 == 0:
            services_groups.membership_set_hidden(
                membership=group.memberships.get(user=member), hidden=True
            )
    thread = services_groups.thread_create(group=group, author=members[0], title="Q", body="$x$")
    for member in members[1:]:
        services_groups.post_create(thread=thread, author=member, body="reply")
    return group, members[0]


def count_queries(fetch: Callable[[], object]) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = fetch()
    assert response.status_code == 200  # type: ignore[attr-defined]
    return len(queries)


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/",
        "/groups/{g}/",
        "/groups/{g}/board/",
        "/groups/{g}/progress/",
        "/groups/{g}/threads/",
        "/groups/{g}/threads/{t}/",
        "/groups/",
    ],
)
def test_query_count_does_not_grow_with_the_group(path: str) -> None:
    catalogue = groupkit.build_catalogue(modules=3, exercises_per_module=4)
    counts = []
    for size, tag in ((3, "small"), (25, "large")):
        group, facilitator = seeded_group(catalogue, size, tag)
        thread = group.threads.get()
        client = groupkit.logged_in(facilitator)
        url = path.format(g=group.pk, t=thread.pk)
        client.get(url)  # warm up: sessions, content types
        counts.append(count_queries(lambda: client.get(url)))  # noqa: B023 - called right away
    assert counts[0] == counts[1], counts


def test_the_board_needs_at_most_a_handful_of_queries() -> None:
    catalogue = groupkit.build_catalogue(modules=3, exercises_per_module=4)
    group, facilitator = seeded_group(catalogue, 10, "g")
    client = groupkit.logged_in(facilitator)
    client.get(f"/groups/{group.pk}/board/")
    assert count_queries(lambda: client.get(f"/groups/{group.pk}/board/")) <= 8
