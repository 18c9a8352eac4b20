"""Builders for study-group and progress tests: a small catalogue, groups and graded attempts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.http import HttpResponse
from django.test import Client
from django.utils import timezone

from course import services_groups
from course.models import (
    Exercise,
    GroupScheduleEntry,
    Lesson,
    Module,
    StudyGroup,
    Track,
    TrackModule,
    User,
)
from course.selectors_progress import week_start
from course.services import progress_record_verdict
from tests.factories import UserFactory


@dataclass
class Catalogue:
    track: Track
    other_track: Track
    modules: list[Module]
    exercises: dict[int, list[Exercise]]  # module pk -> its exercises


def build_catalogue(*, modules: int = 2, exercises_per_module: int = 3) -> Catalogue:
    """Create two tracks sharing their modules, each module with one lesson and some exercises."""
    track = Track.objects.create(slug="applied", title="Applied", order=1)
    other = Track.objects.create(slug="research", title="Research", order=2)
    built: list[Module] = []
    per_module: dict[int, list[Exercise]] = {}
    for m in range(modules):
        module = Module.objects.create(slug=f"module-{m}", title=f"Module {m}", skill=f"Skill {m}")
        TrackModule.objects.create(track=track, module=module, order=m)
        TrackModule.objects.create(track=other, module=module, order=m)
        lesson = Lesson.objects.create(
            module=module,
            slug=f"lesson-{m}",
            title=f"Lesson {m}",
            order=1,
            body="Body",
            body_html="<p>Body</p>",
        )
        per_module[module.pk] = [
            Exercise.objects.create(
                lesson=lesson,
                slug=f"ex-{m}-{e}",
                title=f"Exercise {m}.{e}",
                kind=Exercise.Kind.EXPRESSION,
                order=e,
                spec={"prompt": f"Find the {m}.{e} thing", "answer": f"REFERENCE-ANSWER-{m}-{e}"},
            )
            for e in range(exercises_per_module)
        ]
        built.append(module)
    return Catalogue(track=track, other_track=other, modules=built, exercises=per_module)


def make_group(
    *,
    catalogue: Catalogue,
    facilitator: User,
    members: list[User] = (),  # type: ignore[assignment]
    privacy: str = StudyGroup.Privacy.PRIVATE,
    this_week_module: int | None = 0,
) -> StudyGroup:
    """Create a group with members and (by default) the first module planned for this week."""
    group = services_groups.group_create(
        creator=facilitator, track=catalogue.track, name="Gradient gang", privacy=privacy
    )
    for member in members:
        services_groups.group_join(group=group, user=member)
    if this_week_module is not None:
        monday = week_start(timezone.localdate())
        GroupScheduleEntry.objects.create(
            group=group,
            module=catalogue.modules[this_week_module],
            week_start=monday,
            due_date=monday + timedelta(days=6),
        )
    return group


def make_members(count: int, prefix: str = "member") -> list[User]:
    return [UserFactory(username=f"{prefix}{i}") for i in range(count)]


def solve(user: User, exercise: Exercise, at: datetime | None = None) -> None:
    progress_record_verdict(
        user=user, exercise=exercise, score=1.0, correct=True, at=at or timezone.now()
    )


def attempt(user: User, exercise: Exercise, score: float = 0.0, at: datetime | None = None) -> None:
    progress_record_verdict(
        user=user, exercise=exercise, score=score, correct=False, at=at or timezone.now()
    )


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def expect(response: HttpResponse, wanted: int | str) -> None:
    """Assert a permission outcome: a status code, "login" (sent to log in) or a redirect target."""
    if wanted == "login":
        assert response.status_code == 302, response.content[:300]
        assert response["Location"].startswith("/accounts/login/"), response["Location"]
    elif isinstance(wanted, str):
        assert response.status_code == 302, response.content[:300]
        assert response["Location"] == wanted
    else:
        assert response.status_code == wanted, response.content[:300]


def today() -> date:
    return timezone.localdate()
