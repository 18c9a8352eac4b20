"""Who may open and do what, for every page of the site outside study groups.

Each view × anonymous, an enrolled student (who owns a submission), an outsider (another student,
not enrolled, in no group), a group member, the group's facilitator, an instructor and staff.
Study-group pages have their own matrix in tests/course/test_groups_permissions.py; the last test
here checks that the two together name every route the site has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone

from course.models import Exercise, User
from course.services import enrollment_create
from grader.models import Submission
from tests.course import groupkit
from tests.course import test_groups_permissions as group_matrix
from tests.factories import UserFactory
from tests.grader.conftest import SIGMOID_RIGHT, SIGMOID_SPEC

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "student", "outsider", "member", "facilitator", "instructor", "staff"]
HTMX = {"HTTP_HX_REQUEST": "true"}
LOGIN = "login"
ADMIN_LOGIN = "/admin/login/?next=/admin/"


@dataclass
class World:
    users: dict[str, User]
    ids: dict[str, Any]


@pytest.fixture(autouse=True)
def no_waiting(settings) -> None:  # noqa: ANN001 - pytest-django fixture
    """Answer submission status requests at once."""
    settings.GRADER_STATUS_WAIT_SECONDS = 0


@pytest.fixture
def world(student: User, outsider: User, instructor: User) -> World:
    catalogue = groupkit.build_catalogue()
    lesson = catalogue.exercises[catalogue.modules[0].pk][0].lesson
    published = Exercise.objects.create(
        lesson=lesson, slug="perm-sigmoid", title="Sigmoid", kind="expression", spec=SIGMOID_SPEC
    )
    Exercise.objects.create(
        lesson=lesson,
        slug="perm-draft",
        title="Draft",
        kind="expression",
        published=False,
        spec=SIGMOID_SPEC,
    )
    enrollment_create(user=student, track=catalogue.track)
    facilitator, member = UserFactory(username="fay"), UserFactory(username="mia")
    groupkit.make_group(catalogue=catalogue, facilitator=facilitator, members=[member])
    now = timezone.now()
    submission = Submission.objects.create(
        user=student,
        exercise=published,
        seed=1,
        answer=SIGMOID_RIGHT,
        status=Submission.Status.FINISHED,
        queue="symbolic",
        verdict={"status": "correct", "score": 1.0, "messages": []},
        score=1.0,
        attempt_number=1,
        created_at=now - timedelta(seconds=1),
        enqueued_at=now - timedelta(seconds=1),
        finished_at=now,
    )
    staff = UserFactory(username="stella", role=User.Role.STAFF, is_staff=True)
    return World(
        users={
            "student": student,
            "outsider": outsider,
            "member": member,
            "facilitator": facilitator,
            "instructor": instructor,
            "staff": staff,
        },
        ids={"track": catalogue.track.slug, "submission": submission.pk},
    )


def client_for(world: World, role: str) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(world.users[role])
    return client


def everyone(wanted: int | str) -> list[int | str]:
    return [wanted] * len(ROLES)


def logged_in_only(wanted: int | str) -> list[int | str]:
    return [LOGIN, *[wanted] * (len(ROLES) - 1)]


def teachers_only(wanted: int | str, others: int = 403) -> list[int | str]:
    """Anonymous users log in; the four learner roles get `others`; instructors and staff `wanted`."""
    return [LOGIN, others, others, others, others, wanted, wanted]


# (path, wanted per role in ROLES order). {track} and {submission} are filled in from the world.
GET_CASES: dict[str, tuple[str, list[int | str]]] = {
    # course
    "home": ("/", everyone(200)),
    "favicon": ("/favicon.ico", everyone(200)),
    "dashboard": ("/dashboard/", logged_in_only(200)),
    "signup": ("/accounts/signup/", [200, *["/dashboard/"] * 6]),
    "track": ("/tracks/{track}/", everyone(200)),
    "track_enrol": ("/tracks/{track}/enrol/", logged_in_only(405)),
    "track_leave": ("/tracks/{track}/leave/", logged_in_only(405)),
    "lesson": ("/modules/module-0/lesson-0/", everyone(200)),
    # each learner's own notifications
    "notifications": ("/notifications/", logged_in_only(200)),
    "notifications_read": ("/notifications/read/", logged_in_only(405)),
    "notifications_digest": ("/notifications/digest/", logged_in_only(405)),
    # grader: published exercises are open to every learner, drafts to instructors only
    "exercise": ("/exercises/perm-sigmoid/", logged_in_only(200)),
    "exercise_draft": ("/exercises/perm-draft/", teachers_only(200, others=404)),
    "answer_check": ("/exercises/perm-sigmoid/check/", logged_in_only(405)),
    "preview": ("/exercises/perm-sigmoid/preview/?answer=sigma(x)", logged_in_only(200)),
    "preview_draft": ("/exercises/perm-draft/preview/?answer=x", teachers_only(200, others=404)),
    "draft_save": ("/exercises/perm-sigmoid/draft/", logged_in_only(405)),
    "hint_show": ("/exercises/perm-sigmoid/hints/", logged_in_only(405)),
    "give_up": ("/exercises/perm-sigmoid/give-up/", logged_in_only(405)),
    # a submission is its author's alone, whoever else asks
    "submission": ("/submissions/{submission}/", [LOGIN, 200, *[404] * 5]),
    "submission_status": ("/submissions/{submission}/status/", [LOGIN, 200, *[404] * 5]),
    # instructor tools
    "insight": ("/insight/", teachers_only(200)),
    "insight_exercise": ("/insight/exercises/perm-sigmoid/", teachers_only(200)),
    "instructor_index": ("/instructor/exercises/", teachers_only(200)),
    "instructor_preview": ("/instructor/exercises/perm-draft/", teachers_only(200)),
    # accounts
    "login": ("/accounts/login/", everyone(200)),
    "logout": ("/accounts/logout/", everyone(405)),
    "set_language": ("/i18n/setlang/", everyone(405)),
    "password_change": ("/accounts/password_change/", logged_in_only(200)),
    "password_change_done": ("/accounts/password_change/done/", logged_in_only(200)),
    "password_reset": ("/accounts/password_reset/", everyone(200)),
    "password_reset_done": ("/accounts/password_reset/done/", everyone(200)),
    "password_reset_confirm": ("/accounts/reset/MQ/not-a-token/", everyone(200)),
    "password_reset_complete": ("/accounts/reset/done/", everyone(200)),
    # Django's admin: staff only; every admin page goes through the same admin_view check.
    "admin": ("/admin/", [*[ADMIN_LOGIN] * 6, 200]),
    "admin_login": ("/admin/login/", [*[200] * 6, "/admin/"]),
}

SIGNUP = {
    "username": "newcomer",
    "email": "new@example.com",
    "password1": "a-long-pass-phrase",
    "password2": "a-long-pass-phrase",
}

# (path, form data, htmx?, wanted per role). A 302 without a fixed target is written as 302.
POST_CASES: dict[str, tuple[str, dict[str, str], bool, list[int | str]]] = {
    "signup": ("/accounts/signup/", SIGNUP, False, ["/", *["/dashboard/"] * 6]),
    "track_enrol": ("/tracks/{track}/enrol/", {}, False, logged_in_only("/tracks/{track}/")),
    "track_leave": ("/tracks/{track}/leave/", {}, False, logged_in_only("/tracks/{track}/")),
    "answer": ("/exercises/perm-sigmoid/", {"answer": "sigma(x)"}, False, logged_in_only(302)),
    "answer_draft": (
        "/exercises/perm-draft/",
        {"answer": "sigma(x)"},
        False,
        teachers_only(302, others=404),
    ),
    # The page's held check (without htmx it goes to the submission's page, held there).
    "answer_check": (
        "/exercises/perm-sigmoid/check/",
        {"answer": "sigma(x)"},
        False,
        logged_in_only(302),
    ),
    "answer_check_unpublished": (
        "/exercises/perm-draft/check/",
        {"answer": "sigma(x)"},
        False,
        teachers_only(302, others=404),
    ),
    "preview": ("/exercises/perm-sigmoid/preview/", {"answer": "x"}, False, logged_in_only(405)),
    "draft_save": (
        "/exercises/perm-sigmoid/draft/",
        {"answer": "x"},
        False,
        logged_in_only("/exercises/perm-sigmoid/"),
    ),
    "draft_save_unpublished": (
        "/exercises/perm-draft/draft/",
        {"answer": "x"},
        False,
        teachers_only("/exercises/perm-draft/", others=404),
    ),
    # The sigmoid's hint_after: 1 locks its hints until a wrong attempt, for everyone.
    "hint_show": ("/exercises/perm-sigmoid/hints/", {}, False, logged_in_only(409)),
    "give_up": (
        "/exercises/perm-sigmoid/give-up/",
        {},
        False,
        logged_in_only("/exercises/perm-sigmoid/#solution"),
    ),
    "give_up_unpublished": (
        "/exercises/perm-draft/give-up/",
        {},
        False,
        teachers_only("/exercises/perm-draft/#solution", others=404),
    ),
    "submission": ("/submissions/{submission}/", {}, False, logged_in_only(405)),
    "submission_status": ("/submissions/{submission}/status/", {}, False, logged_in_only(405)),
    "instructor_bench": (
        "/instructor/exercises/perm-draft/",
        {"answer": SIGMOID_RIGHT, "seed": "1"},
        True,
        teachers_only(200),
    ),
    "notifications_read": (
        "/notifications/read/",
        {},
        False,
        logged_in_only("/notifications/"),
    ),
    "notifications_digest": (
        "/notifications/digest/",
        {"email_digest": "1"},
        False,
        logged_in_only("/notifications/"),
    ),
    "logout": ("/accounts/logout/", {}, False, everyone("/")),
    # Anyone may switch the language; it returns to the page it came from.
    "set_language": (
        "/i18n/setlang/",
        {"language": "zh-hans", "next": "/groups/"},
        False,
        everyone("/groups/"),
    ),
}


@pytest.mark.parametrize("case", GET_CASES)
@pytest.mark.parametrize("role", ROLES)
def test_get_permissions(world: World, case: str, role: str) -> None:
    path, wanted = GET_CASES[case]
    response = client_for(world, role).get(path.format(**world.ids))
    groupkit.expect(response, wanted[ROLES.index(role)])


@pytest.mark.parametrize("case", POST_CASES)
@pytest.mark.parametrize("role", ROLES)
def test_post_permissions(world: World, case: str, role: str) -> None:
    path, data, htmx, wanted = POST_CASES[case]
    outcome = wanted[ROLES.index(role)]
    if isinstance(outcome, str):
        outcome = outcome.format(**world.ids)
    submissions = Submission.objects.count()
    response = client_for(world, role).post(
        path.format(**world.ids), data, **(HTMX if htmx else {})
    )
    groupkit.expect(response, outcome)
    if case.startswith("answer"):
        # An answer is stored exactly when the page accepted it.
        assert Submission.objects.count() == submissions + (outcome == 302)
    if case == "signup":
        assert User.objects.filter(username="newcomer").exists() == (role == "anonymous")


def test_an_enrolled_student_is_refused_a_track_that_is_gone(world: World) -> None:
    client = client_for(world, "student")
    for path in ("/tracks/nowhere/", "/modules/module-0/nowhere/", "/exercises/nowhere/"):
        assert client.get(path).status_code == 404
    assert client.post("/tracks/nowhere/enrol/").status_code == 404


def route_names(patterns: list[URLPattern | URLResolver], namespace: str = "") -> set[str]:
    """Return the qualified name of every route below these patterns."""
    names: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            names |= route_names(pattern.url_patterns, inner)
        elif pattern.name:
            names.add(f"{namespace}{pattern.name}")
    return names


def test_every_route_is_in_a_permission_matrix() -> None:
    paths = [path for path, _ in GET_CASES.values()]
    paths += [path for path, *_ in POST_CASES.values()]
    paths += [path for path, _ in group_matrix.GET_CASES.values()]
    paths += [path for path, *_ in group_matrix.POST_CASES.values()]
    paths.append("/groups/join/{code}/")  # test_invite_link_opens_the_group_to_anyone_who_holds_it
    ids = {"track": "t", "submission": 1, "g": 1, "t": 1, "p": 1, "e": 1, "m": 1, "code": "c"}
    covered = {resolve(path.split("?")[0].format(**ids)).view_name for path in paths}
    # The admin's own pages all share the staff check that "admin" exercises.
    routes = {name for name in route_names(get_resolver().url_patterns) if ":" not in name}
    assert routes - covered == set()
    # /admin/login/ is the throttled sign-in page (course/views_accounts.py), not admin:login.
    assert {"admin:index", "admin_login"} <= covered
