"""A learner's pages cost the same few queries with 5 submissions as with 500, and reading writes nothing.

The dashboard answers from a handful of queries however long the history; opening a lesson records
the visit only when it tells something new (the first visit of a calendar day), so a reload is a
pure read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from course.models import Enrollment, Lesson, LessonVisit, User
from grader.models import Submission
from tests.course import groupkit

pytestmark = pytest.mark.django_db

DASHBOARD_MAX_QUERIES = 10


def learner_with_history(catalogue: groupkit.Catalogue, submissions: int, name: str) -> User:
    """Return an enrolled learner with `submissions` graded answers spread over many days."""
    user = User.objects.create(username=name)
    Enrollment.objects.create(user=user, track=catalogue.track)
    exercises = [x for xs in catalogue.exercises.values() for x in xs]
    now = timezone.now()
    rows = []
    for i in range(submissions):
        exercise = exercises[i % len(exercises)]
        at = now - timedelta(days=i % 60, minutes=i)
        correct = i % 4 == 0
        if correct:
            groupkit.solve(user, exercise, at=at)
        else:
            groupkit.attempt(user, exercise, score=0.25, at=at)
        rows.append(
            Submission(
                user=user,
                exercise=exercise,
                seed=1,
                answer=f"answer {i}",
                status=Submission.Status.FINISHED,
                queue="symbolic",
                score=1.0 if correct else 0.25,
                verdict={"status": "correct" if correct else "incorrect", "score": 1.0},
                created_at=at,
                enqueued_at=at,
                finished_at=at,
            )
        )
    Submission.objects.bulk_create(rows)
    groupkit.make_group(catalogue=catalogue, facilitator=user)  # a study plan for this week
    for lesson_module in catalogue.modules:
        LessonVisit.objects.create(
            user=user, lesson=lesson_module.lessons.get(), visited_at=now - timedelta(days=1)
        )
    return user


def queries_of(fetch: Callable[[], object]) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = fetch()
    assert response.status_code == 200  # type: ignore[attr-defined]
    return [query["sql"] for query in captured.captured_queries]


def test_the_dashboard_costs_the_same_few_queries_for_5_and_500_submissions() -> None:
    catalogue = groupkit.build_catalogue(modules=4, exercises_per_module=6)
    counts = {}
    for submissions in (5, 500):
        client = groupkit.logged_in(learner_with_history(catalogue, submissions, f"l{submissions}"))
        client.get("/dashboard/")  # the first request loads the session and content types
        counts[submissions] = queries_of(lambda: client.get("/dashboard/"))  # noqa: B023
    assert len(counts[5]) == len(counts[500]), counts
    assert len(counts[500]) <= DASHBOARD_MAX_QUERIES, "\n".join(counts[500])


@pytest.mark.parametrize("path", ["/dashboard/", "/tracks/applied/", "/modules/{lesson}/"])
def test_reading_a_page_again_writes_nothing(path: str) -> None:
    catalogue = groupkit.build_catalogue(modules=2, exercises_per_module=3)
    user = learner_with_history(catalogue, 20, "reader")
    lesson = catalogue.modules[0].lessons.get()
    url = path.format(lesson=f"{catalogue.modules[0].slug}/{lesson.slug}")
    client = groupkit.logged_in(user)
    client.get(url)
    queries = queries_of(lambda: client.get(url))
    writes = [q for q in queries if q.split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}]
    assert writes == [], writes


def test_a_lesson_visit_is_written_only_when_the_last_lesson_opened_changes() -> None:
    catalogue = groupkit.build_catalogue(modules=2, exercises_per_module=1)
    user = User.objects.create(username="visitor")
    first, second = (module.lessons.get() for module in catalogue.modules)
    client: Client = groupkit.logged_in(user)

    def open_lesson(lesson: Lesson) -> None:
        assert client.get(f"/modules/{lesson.module.slug}/{lesson.slug}/").status_code == 200

    open_lesson(first)
    open_lesson(first)
    assert LessonVisit.objects.filter(user=user).count() == 1
    open_lesson(second)
    open_lesson(first)  # back to the first: it is the one to continue with now
    latest = LessonVisit.objects.filter(user=user).order_by("-visited_at").first()
    assert latest is not None and latest.lesson == first


def test_re_opening_a_lesson_after_answering_elsewhere_records_it_again() -> None:
    catalogue = groupkit.build_catalogue(modules=2, exercises_per_module=1)
    user = User.objects.create(username="returner")
    first = catalogue.modules[0].lessons.get()
    client: Client = groupkit.logged_in(user)
    url = f"/modules/{first.module.slug}/{first.slug}/"
    client.get(url)
    opened = LessonVisit.objects.get(user=user).visited_at
    elsewhere = catalogue.exercises[catalogue.modules[1].pk][0]
    groupkit.attempt(user, elsewhere, at=opened + timedelta(minutes=1))  # the latest activity
    client.get(url)  # back to the lesson: now the latest thing the learner did again
    assert LessonVisit.objects.get(user=user).visited_at > opened
