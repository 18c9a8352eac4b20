"""Who may open and do what in a study group: every view × anonymous, outsider, member, facilitator,
instructor and staff. The rest of the site's views are in tests/test_permissions.py."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client

from course import services_groups
from course.models import GroupMembership, GroupScheduleEntry, StudyGroup, User
from tests.course import groupkit
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "outsider", "member", "facilitator", "instructor", "staff"]


@dataclass
class World:
    group: StudyGroup
    users: dict[str, User]
    thread_id: int
    post_id: int  # the member's post, so the facilitator may mark it helpful
    entry_id: int


@pytest.fixture
def world(student: User, outsider: User, instructor: User) -> World:
    staff = UserFactory(username="stella", role=User.Role.STAFF, is_staff=True)
    catalogue = groupkit.build_catalogue()
    facilitator = UserFactory(username="fay")
    group = groupkit.make_group(catalogue=catalogue, facilitator=facilitator, members=[student])
    thread = services_groups.thread_create(
        group=group, author=facilitator, title="How do I start?", body="Any tips for $x^2$?"
    )
    post = services_groups.post_create(thread=thread, author=student, body="Power rule.")
    return World(
        group=group,
        users={
            "outsider": outsider,
            "member": student,
            "facilitator": facilitator,
            "instructor": instructor,
            "staff": staff,
        },
        thread_id=thread.pk,
        post_id=post.pk,
        entry_id=GroupScheduleEntry.objects.get(group=group).pk,
    )


def client_for(world: World, role: str) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(world.users[role])
    return client


# A private group: outsiders, instructors and staff cannot tell it exists; facilitators manage it.
GET_CASES = {
    "detail": ("/groups/{g}/", ["login", 404, 200, 200, 404, 404]),
    "board": ("/groups/{g}/board/", ["login", 404, 200, 200, 404, 404]),
    "schedule": ("/groups/{g}/schedule/", ["login", 404, 200, 200, 404, 404]),
    "threads": ("/groups/{g}/threads/", ["login", 404, 200, 200, 404, 404]),
    "thread": ("/groups/{g}/threads/{t}/", ["login", 404, 200, 200, 404, 404]),
    "settings": ("/groups/{g}/settings/", ["login", 404, 403, 200, 404, 404]),
    "progress": ("/groups/{g}/progress/", ["login", 404, 403, 200, 200, 200]),
    "progress_csv": ("/groups/{g}/progress/?format=csv", ["login", 404, 403, 200, 200, 200]),
    "list": ("/groups/", ["login", 200, 200, 200, 200, 200]),
    "create": ("/groups/new/", ["login", 200, 200, 200, 200, 200]),
    "join_code": ("/groups/join/", ["login", 200, 200, 200, 200, 200]),
    "track_progress": ("/insight/tracks/applied/", ["login", 403, 403, 403, 200, 200]),
    "track_progress_csv": (
        "/insight/tracks/applied/?format=csv",
        ["login", 403, 403, 403, 200, 200],
    ),
}


@pytest.mark.parametrize("case", GET_CASES)
@pytest.mark.parametrize("role", ROLES)
def test_get_permissions(world: World, case: str, role: str) -> None:
    url, wanted = GET_CASES[case]
    url = url.format(g=world.group.pk, t=world.thread_id)
    groupkit.expect(client_for(world, role).get(url), wanted[ROLES.index(role)])


@pytest.mark.parametrize("role", ROLES)
def test_invite_link_opens_the_group_to_anyone_who_holds_it(world: World, role: str) -> None:
    response = client_for(world, role).get(f"/groups/join/{world.group.invite_code}/")
    # Someone without an account sees what they are invited to, and how to sign up and join.
    wanted = {"anonymous": 200, "outsider": 200, "instructor": 200, "staff": 200}.get(role, 302)
    groupkit.expect(response, wanted)


POST_CASES = {
    "leave": ("/groups/{g}/leave/", {}, ["login", 404, 302, 302, 404, 404]),
    "rotate": ("/groups/{g}/invite/rotate/", {}, ["login", 404, 403, 302, 404, 404]),
    "role": (
        "/groups/{g}/members/{m}/role/",
        {"role": "facilitator"},
        ["login", 404, 403, 302, 404, 404],
    ),
    "visibility": (
        "/groups/{g}/visibility/",
        {"hide_details": "1"},
        ["login", 404, 302, 302, 404, 404],
    ),
    "schedule_add": (
        "/groups/{g}/schedule/",
        {"module": "{mod}", "week_start": "2026-01-05", "due_date": "2026-01-11"},
        ["login", 404, 403, 302, 404, 404],
    ),
    "schedule_delete": ("/groups/{g}/schedule/{e}/delete/", {}, ["login", 404, 403, 302, 404, 404]),
    "settings": (
        "/groups/{g}/settings/",
        {"name": "Renamed", "description": "", "privacy": "listed"},
        ["login", 404, 403, 302, 404, 404],
    ),
    "ask": (
        "/groups/{g}/threads/",
        {"title": "Q", "body": "Why?"},
        ["login", 404, 302, 302, 404, 404],
    ),
    "reply": ("/groups/{g}/threads/{t}/", {"body": "Because."}, ["login", 404, 302, 302, 404, 404]),
    "helpful": (
        "/groups/{g}/posts/{p}/helpful/",
        {"helpful": "1"},
        ["login", 404, 403, 302, 404, 404],
    ),
    "join_listed": ("/groups/{g}/join/", {}, ["login", 404, 302, 302, 404, 404]),
    "preview": ("/groups/{g}/preview/", {"body": "$x^2$"}, ["login", 404, 200, 200, 404, 404]),
    # The invite code is the key: anyone logged in who holds it may join.
    "join_invite": ("/groups/join/{code}/", {}, ["login", 302, 302, 302, 302, 302]),
    "create": (
        "/groups/new/",
        {"name": "Another", "track": "{track}", "privacy": "private"},
        ["login", 302, 302, 302, 302, 302],
    ),
}


@pytest.mark.parametrize("case", POST_CASES)
@pytest.mark.parametrize("role", ROLES)
def test_post_permissions(world: World, case: str, role: str) -> None:
    url, data, wanted = POST_CASES[case]
    module_id = world.group.track.modules.first().pk
    ids = {
        "g": world.group.pk,
        "t": world.thread_id,
        "p": world.post_id,
        "e": world.entry_id,
        "m": world.users["member"].pk,
        "mod": module_id,
        "code": world.group.invite_code,
        "track": world.group.track_id,
    }
    url = url.format(**ids)
    data = {k: v.format(**ids) for k, v in data.items()}
    groupkit.expect(client_for(world, role).post(url, data), wanted[ROLES.index(role)])
    if case == "join_invite" and role != "anonymous":
        assert world.group.memberships.filter(user=world.users[role]).exists()


def test_only_the_post_author_cannot_mark_their_own_post(world: World) -> None:
    # The member wrote the post: marking it helpful themselves is refused.
    response = client_for(world, "member").post(
        f"/groups/{world.group.pk}/posts/{world.post_id}/helpful/", {"helpful": "1"}
    )
    assert response.status_code == 403


def test_a_listed_group_shows_its_about_page_but_not_its_insides_to_outsiders(
    world: World,
) -> None:
    world.group.privacy = StudyGroup.Privacy.LISTED
    world.group.save()
    client = client_for(world, "outsider")
    about = client.get(f"/groups/{world.group.pk}/")
    assert about.status_code == 200 and b"Join Gradient gang" in about.content
    assert b"How do I start?" not in about.content
    assert client.get(f"/groups/{world.group.pk}/board/").status_code == 403
    assert client.get(f"/groups/{world.group.pk}/threads/{world.thread_id}/").status_code == 403
    assert client.post(f"/groups/{world.group.pk}/join/").status_code == 302
    assert GroupMembership.objects.filter(group=world.group, user=world.users["outsider"]).exists()


@pytest.mark.parametrize(
    "url",
    [
        "/groups/{g}/leave/",
        "/groups/{g}/join/",
        "/groups/{g}/invite/rotate/",
        "/groups/{g}/visibility/",
        "/groups/{g}/posts/{p}/helpful/",
        "/groups/{g}/schedule/{e}/delete/",
    ],
)
def test_post_only_views_refuse_get(world: World, url: str) -> None:
    url = url.format(g=world.group.pk, p=world.post_id, e=world.entry_id)
    assert client_for(world, "facilitator").get(url).status_code == 405


@pytest.mark.parametrize(
    "url,data",
    [
        ("/groups/{g}/threads/{t}/", {"body": "sneaky"}),
        ("/groups/{g}/invite/rotate/", {}),
        ("/groups/{g}/leave/", {}),
        ("/groups/new/", {"name": "x", "track": "1", "privacy": "private"}),
    ],
)
def test_posts_without_a_csrf_token_are_refused(world: World, url: str, data: dict) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["facilitator"])
    url = url.format(g=world.group.pk, t=world.thread_id)
    assert client.post(url, data).status_code == 403
    assert GroupMembership.objects.filter(group=world.group).count() == 2
