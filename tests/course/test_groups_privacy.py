"""Members who hide their details: nothing a viewer can read gives one of them away.

The guarantee (course.selectors_groups._counted): everything others see of a group is computed
only from members who show their details, so no number of accounts joining, hiding or leaving,
and no comparison of snapshots, recovers a hidden member's progress; only how many hide shows.
"""

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
        ("fay", ["sam", "ann", "bob"]),  # three hide: ann and bob may be fay's own puppets
        ("vic", ["sam", "ann", "bob"]),
        ("vic", ["sam"]),  # a plain member reading the board
        ("instructor", ["sam"]),  # an instructor reading the group's progress table
    ],
)
def test_hidden_members_leave_no_trace_in_what_others_read(
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


def test_two_sock_puppets_do_not_unlock_the_one_real_hidden_members_figures() -> None:
    # fay (the facilitator) signs up two fresh accounts, joins them and hides them, so three
    # members hide; she knows her puppets' figures (none), so any total that counted the three
    # would be sam's alone.
    group, catalogue, users = hidden_group(["sam"])
    for name in ("puppet1", "puppet2"):
        puppet = UserFactory(username=name)
        services_groups.group_join(group=group, user=puppet)
        services_groups.membership_set_hidden(
            membership=group.memberships.get(user=puppet), hidden=True
        )
    paths = MEMBER_PAGES + FACILITATOR_PAGES
    before = snapshot(users["fay"], group, paths)
    work_of(users["sam"], catalogue)
    after = snapshot(users["fay"], group, paths)
    assert after == before
    board = after["/groups/{g}/board/"]
    assert "+ 3 members who keep their details private (not counted below)" in board
    totals = re.findall(r'class="total-text">([^<]*)<', board)
    assert totals == ["1 solved, 0 tried", "0 solved, 1 tried", "0 solved, 0 tried"]
    rows = list(csv.reader(io.StringIO(after["/groups/{g}/progress/?format=csv"])))
    assert [row[0] for row in rows] == [
        "learner",
        "fay",
        "vic",
        "ann",
        "bob",
        "4 shown learners (3 members with hidden details not counted)",
    ]
    assert rows[-1][1:3] == ["1/12", "0/12"]


def aggregates(pages: dict[str, str]) -> dict[str, object]:
    """Return every figure computed over several members: board totals, mastery, CSV totals."""
    board = pages["/groups/{g}/board/"]
    csv_rows = list(csv.reader(io.StringIO(pages["/groups/{g}/progress/?format=csv"])))
    return {
        "totals": re.findall(r'class="total-text">([^<]*)<', board),
        "mastery": re.findall(r"<td>(\d+)%</td><td>", board),
        "started": re.findall(r"<td>(\d+)/\d+</td></tr>", board),
        "csv_total": csv_rows[-1][1:],
    }


def test_a_hidden_member_joining_or_leaving_changes_no_figure() -> None:
    # Differencing: two snapshots, before and after a hidden member with progress joins (two
    # others already hide, so three do after), must show the same figures.
    group, catalogue, users = hidden_group(["ann", "bob"])
    newcomer = UserFactory(username="nia")
    work_of(newcomer, catalogue)
    paths = MEMBER_PAGES + FACILITATOR_PAGES
    before = snapshot(users["fay"], group, paths)
    services_groups.group_join(group=group, user=newcomer)
    services_groups.membership_set_hidden(
        membership=group.memberships.get(user=newcomer), hidden=True
    )
    joined = snapshot(users["fay"], group, paths)
    assert "+ 3 members who keep their details private" in joined["/groups/{g}/board/"]
    assert aggregates(joined) == aggregates(before)
    assert aggregates(before)["totals"] == [
        "1 solved, 0 tried",
        "0 solved, 1 tried",
        "0 solved, 0 tried",
    ]
    services_groups.group_leave(group=group, user=newcomer)
    assert snapshot(users["fay"], group, paths) == before


def test_a_hidden_member_still_sees_their_own_row_and_counts_for_themselves() -> None:
    group, catalogue, users = hidden_group(["sam"])
    work_of(users["sam"], catalogue)
    board = groupkit.logged_in(users["sam"]).get(f"/groups/{group.pk}/board/").content.decode()
    assert 'sam <span class="muted">(you, hidden from others)</span>' in board
    totals = re.findall(r'class="total-text">([^<]*)<', board)
    assert totals == ["2 solved, 0 tried", "0 solved, 2 tried", "1 solved, 0 tried"]
    assert "All 5" in board
