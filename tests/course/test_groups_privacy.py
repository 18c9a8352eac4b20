"""Members who hide their details: nothing a viewer can read gives one of them away."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from course import services_groups
from course.models import StudyGroup, User
from tests.course import groupkit
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

MEMBER_PAGES = ["/groups/{g}/", "/groups/{g}/board/"]
FACILITATOR_PAGES = ["/groups/{g}/progress/", "/groups/{g}/progress/?format=csv"]


def hidden_group(hidden: list[str]) -> tuple[StudyGroup, groupkit.Catalogue, dict[str, User]]:
    """Return a group of fay (facilitator), vic, sam, ann and bob, with the named ones hidden.

    vic, who never hides, has some progress of his own, so the totals are not all zero.
    """
    catalogue = groupkit.build_catalogue()
    users = {name: UserFactory(username=name) for name in ("fay", "vic", "sam", "ann", "bob")}
    group = groupkit.make_group(
        catalogue=catalogue,
        facilitator=users["fay"],
        members=[users[n] for n in ("vic", "sam", "ann", "bob")],
    )
    for name in hidden:
        services_groups.membership_set_hidden(
            membership=group.memberships.get(user=users[name]), hidden=True
        )
    first, second, _ = catalogue.exercises[catalogue.modules[0].pk]
    groupkit.solve(users["vic"], first, at=timezone.now() - timedelta(days=3))
    groupkit.attempt(users["vic"], second, score=0.2, at=timezone.now() - timedelta(days=3))
    return group, catalogue, users


def work_of(user: User, catalogue: groupkit.Catalogue) -> None:
    """Give a learner solved, attempted and partly scored exercises in both modules, today."""
    this_week, later = (catalogue.exercises[m.pk] for m in catalogue.modules)
    groupkit.solve(user, this_week[0])
    groupkit.solve(user, this_week[2])
    groupkit.attempt(user, this_week[1], score=0.6)
    groupkit.attempt(user, this_week[1], score=0.0)
    groupkit.solve(user, later[1])


def snapshot(user: User, group: StudyGroup, paths: list[str]) -> dict[str, str]:
    client = groupkit.logged_in(user)
    pages = {}
    for path in paths:
        response = client.get(path.format(g=group.pk))
        assert response.status_code == 200
        # The CSRF token changes from one response to the next; nothing else may.
        pages[path] = re.sub(r"\b[A-Za-z0-9]{64}\b", "<token>", response.content.decode())
    return pages


@pytest.mark.parametrize(
    "viewer,hidden",
    [
        ("fay", ["sam"]),  # one hidden member: the totals minus the rows would be sam
        ("fay", ["sam", "ann"]),  # two: each of them could work out the other
        ("fay", ["fay", "sam", "ann"]),  # three hide, but fay knows her own figures
        ("vic", ["sam"]),  # a plain member reading the board
        ("instructor", ["sam"]),  # an instructor reading the group's progress table
    ],
)
def test_fewer_than_three_hidden_members_leave_no_trace_in_what_others_read(
    viewer: str, hidden: list[str], instructor: User
) -> None:
    group, catalogue, users = hidden_group(hidden)
    users["instructor"] = instructor
    paths = {"fay": MEMBER_PAGES + FACILITATOR_PAGES, "vic": MEMBER_PAGES}.get(
        viewer, FACILITATOR_PAGES
    )
    before = snapshot(users[viewer], group, paths)
    work_of(users["sam"], catalogue)
    after = snapshot(users[viewer], group, paths)
    for path in paths:
        assert after[path] == before[path], path
    assert "sam" not in "".join(after.values())


def test_three_hidden_members_show_only_together_and_never_when_active() -> None:
    group, catalogue, users = hidden_group(["sam", "ann", "bob"])
    work_of(users["sam"], catalogue)
    groupkit.solve(users["ann"], catalogue.exercises[catalogue.modules[0].pk][0])

    board = groupkit.logged_in(users["fay"]).get(f"/groups/{group.pk}/board/").content.decode()
    assert "+ 3 members who keep their details private (counted in the totals)" in board
    assert "All 5" in board
    totals = re.findall(r'class="total-text">([^<]*)<', board)
    assert totals == ["3 solved, 0 tried", "0 solved, 2 tried", "1 solved, 0 tried"]

    response = groupkit.logged_in(users["fay"]).get(f"/groups/{group.pk}/progress/?format=csv")
    rows = {row[0]: row for row in csv.reader(io.StringIO(response.content.decode()))}
    assert set(rows) == {"learner", "fay", "vic", "3 members with hidden details", "all 5 learners"}
    # solved per module, solved, exercises, attempts, last active
    assert rows["3 members with hidden details"][1:] == ["3/9", "1/9", "4", "18", "6", ""]
    assert rows["all 5 learners"][1:] == ["4/15", "1/15", "5", "30", "8", ""]
    assert rows["vic"][-1] != ""  # visible members keep their last activity


def test_a_hidden_member_still_sees_their_own_row_and_counts_for_themselves() -> None:
    group, catalogue, users = hidden_group(["sam"])
    work_of(users["sam"], catalogue)
    board = groupkit.logged_in(users["sam"]).get(f"/groups/{group.pk}/board/").content.decode()
    assert 'sam <span class="muted">(you, hidden from others)</span>' in board
    totals = re.findall(r'class="total-text">([^<]*)<', board)
    assert totals == ["2 solved, 0 tried", "0 solved, 2 tried", "1 solved, 0 tried"]
    assert "All 5" in board
