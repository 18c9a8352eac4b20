"""The access functions, each once for every role: the only places that decide who may open what.

Roles: anonymous, an enrolled student, an outsider (another student, in no group), a member and
the facilitator of a private group, an instructor and staff. An outcome is "ok" (the object comes
back), 403 (PermissionDenied) or 404 (Http404: the user may not know it exists).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from course.models import Exercise, StudyGroup, User
from course.selectors import access_exercise, access_instructor, access_track, can_teach
from course.selectors_groups import access_group, access_group_by_invite
from course.services import enrollment_create
from tests.course import groupkit
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "student", "outsider", "member", "facilitator", "instructor", "staff"]
Outcome = str | int


@dataclass
class World:
    users: dict[str, User | AnonymousUser]
    private: StudyGroup
    listed: StudyGroup


@pytest.fixture
def world(student: User, outsider: User, instructor: User) -> World:
    catalogue = groupkit.build_catalogue()
    Exercise.objects.filter(slug="ex-0-1").update(published=False)
    enrollment_create(user=student, track=catalogue.track)
    facilitator, member = UserFactory(username="fay"), UserFactory(username="mia")
    private = groupkit.make_group(catalogue=catalogue, facilitator=facilitator, members=[member])
    listed = groupkit.make_group(
        catalogue=catalogue,
        facilitator=facilitator,
        members=[member],
        privacy=StudyGroup.Privacy.LISTED,
    )
    return World(
        users={
            "anonymous": AnonymousUser(),
            "student": student,
            "outsider": outsider,
            "member": member,
            "facilitator": facilitator,
            "instructor": instructor,
            "staff": UserFactory(username="stella", role=User.Role.STAFF, is_staff=True),
        },
        private=private,
        listed=listed,
    )


def outcome(call: Callable[[], Any]) -> Outcome:
    try:
        call()
    except PermissionDenied:
        return 403
    except Http404:
        return 404
    return "ok"


def teachers(others: Outcome) -> list[Outcome]:
    return [others] * 5 + ["ok", "ok"]


def per_role(world: World, call: Callable[[User | AnonymousUser], Any]) -> list[Outcome]:
    return [outcome(lambda role=role: call(world.users[role])) for role in ROLES]


def test_can_teach_and_access_instructor(world: World) -> None:
    assert [can_teach(world.users[role]) for role in ROLES] == [False] * 5 + [True] * 2
    assert per_role(world, access_instructor) == teachers(403)


TRACK_CASES: dict[str, tuple[dict[str, Any], list[Outcome]]] = {
    "read": ({"slug": "applied"}, ["ok"] * 7),
    "read_missing": ({"slug": "nowhere"}, [404] * 7),
    # Class progress: refused before the lookup, so it tells learners nothing about which exist.
    "teach": ({"slug": "applied", "teach": True}, teachers(403)),
    "teach_missing": ({"slug": "nowhere", "teach": True}, [403] * 5 + [404, 404]),
}


@pytest.mark.parametrize("case", TRACK_CASES)
def test_access_track(world: World, case: str) -> None:
    kwargs, wanted = TRACK_CASES[case]
    assert per_role(world, lambda user: access_track(user, **kwargs)) == wanted


EXERCISE_CASES: dict[str, tuple[dict[str, Any], list[Outcome]]] = {
    "published": ({"slug": "ex-0-0"}, ["ok"] * 7),
    "unpublished": ({"slug": "ex-0-1"}, teachers(404)),
    "missing": ({"slug": "nowhere"}, [404] * 7),
    "teach_published": ({"slug": "ex-0-0", "teach": True}, teachers(403)),
    "teach_unpublished": ({"slug": "ex-0-1", "teach": True}, teachers(403)),
}


@pytest.mark.parametrize("case", EXERCISE_CASES)
def test_access_exercise(world: World, case: str) -> None:
    kwargs, wanted = EXERCISE_CASES[case]
    assert per_role(world, lambda user: access_exercise(user, **kwargs)) == wanted


@pytest.mark.parametrize("retired", ["exercise", "lesson", "module"])
def test_an_exercise_whose_lesson_or_module_retired_is_gone_for_everyone(
    world: World, retired: str
) -> None:
    exercise = Exercise.objects.get(slug="ex-0-0")
    target = {"exercise": exercise, "lesson": exercise.lesson, "module": exercise.lesson.module}
    type(target[retired]).objects.filter(pk=target[retired].pk).update(retired_at=timezone.now())
    assert per_role(world, lambda user: access_exercise(user, "ex-0-0")) == [404] * 7
    teach = per_role(world, lambda user: access_exercise(user, "ex-0-0", teach=True))
    assert teach == teachers(403)[:5] + [404, 404]


# (group, keywords, wanted per role in ROLES order)
GROUP_CASES: dict[str, tuple[str, dict[str, bool], list[Outcome]]] = {
    # A private group does not exist for those outside it, instructors included.
    "private_read": ("private", {}, [404, 404, 404, "ok", "ok", 404, 404]),
    "private_page": ("private", {"listed": True}, [404, 404, 404, "ok", "ok", 404, 404]),
    "private_write": ("private", {"write": True}, [404, 404, 404, 403, "ok", 404, 404]),
    "private_progress": (
        "private",
        {"write": True, "teach": True},
        [404, 404, 404, 403, "ok", "ok", "ok"],
    ),
    # A listed group is seen by anyone; its insides are for members.
    "listed_read": ("listed", {}, [403, 403, 403, "ok", "ok", 403, 403]),
    "listed_page": ("listed", {"listed": True}, ["ok"] * 7),
    "listed_write": ("listed", {"write": True}, [403, 403, 403, 403, "ok", 403, 403]),
    "listed_progress": (
        "listed",
        {"write": True, "teach": True},
        [403, 403, 403, 403, "ok", "ok", "ok"],
    ),
}


@pytest.mark.parametrize("case", GROUP_CASES)
def test_access_group(world: World, case: str) -> None:
    which, kwargs, wanted = GROUP_CASES[case]
    group: StudyGroup = getattr(world, which)
    assert per_role(world, lambda user: access_group(user, group.pk, **kwargs)) == wanted


def test_access_group_returns_the_membership_only_to_members(world: World) -> None:
    memberships = [
        access_group(world.users[role], world.private.pk, write=True, teach=True).membership
        for role in ("facilitator", "instructor")
    ]
    assert memberships[0] is not None and memberships[0].user == world.users["facilitator"]
    assert memberships[1] is None
    assert access_group(world.users["student"], world.listed.pk, listed=True).membership is None


def test_access_group_for_a_group_nobody_has(world: World) -> None:
    missing = StudyGroup.objects.order_by("-pk").first().pk + 1
    for kwargs in ({}, {"listed": True}, {"write": True}, {"write": True, "teach": True}):
        assert (
            per_role(world, lambda user, kw=kwargs: access_group(user, missing, **kw)) == [404] * 7
        )


def test_access_group_by_invite(world: World) -> None:
    code = world.private.invite_code
    members = [
        access_group_by_invite(world.users[role], code).membership is not None for role in ROLES
    ]
    assert members == [False, False, False, True, True, False, False]
    assert per_role(world, lambda user: access_group_by_invite(user, "not-a-code")) == [404] * 7
