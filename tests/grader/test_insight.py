"""Instructor insight: per-exercise statistics, wrong answers by diagnosis, audit flags, access."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from course.models import Exercise, User
from grader import insight
from grader.models import Submission
from tests.course import groupkit
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def graded(
    user: User,
    exercise: Exercise,
    answer: str,
    status: str,
    attempt: int | None,
    diagnosis: str | None = None,
    flags: tuple[str, ...] = (),
) -> Submission:
    """Store a finished submission as the pipeline would."""
    now = timezone.now()
    return Submission.objects.create(
        user=user,
        exercise=exercise,
        seed=1,
        answer=answer,
        status=Submission.Status.FINISHED,
        queue="symbolic",
        verdict={
            "status": status,
            "score": 1.0 if status == "correct" else 0.0,
            "messages": [],
            "diagnosis": diagnosis,
            "flags": list(flags),
        },
        score=1.0 if status == "correct" else 0.0,
        attempt_number=attempt,
        created_at=now - timedelta(seconds=1),
        enqueued_at=now - timedelta(seconds=1),
        finished_at=now,
    )


@pytest.fixture
def history() -> dict[str, object]:
    """Three learners on one exercise: solved at attempts 1, 3 and never; one audit flag."""
    catalogue = groupkit.build_catalogue()
    ex, other = catalogue.exercises[catalogue.modules[0].pk][:2]
    a, b, c = (UserFactory(username=n) for n in ("ann", "bob", "cat"))
    graded(a, ex, "2*x", "correct", 1)
    graded(b, ex, "x", "incorrect", 1, "constant_factor")
    graded(b, ex, "-2*x", "incorrect", 2, "sign_error")
    graded(b, ex, "2*x", "correct", 3, flags=("audit_disagreement",))
    graded(b, ex, "2x", "correct", 4)  # solving again does not change attempts to solve
    graded(c, ex, "x", "incorrect", 1, "constant_factor")
    graded(c, ex, "x ", "incorrect", 2, "constant_factor")
    graded(c, ex, "3*x", "incorrect", 3, "constant_factor")
    graded(c, ex, "2*x*y", "invalid", None)  # not an attempt: not counted anywhere
    graded(c, ex, "x^2", "incorrect", 4)
    return {"exercise": ex, "other": other}


def test_exercise_stats(history: dict) -> None:
    stats = insight.exercise_stats(exercises=[history["exercise"], history["other"]])
    ex, other = stats
    assert (ex.attempts, ex.correct, ex.learners, ex.solvers) == (9, 3, 3, 2)
    assert ex.success_rate == pytest.approx(100 * 3 / 9)
    assert ex.solve_rate == pytest.approx(100 * 2 / 3)
    assert sorted(ex.attempts_to_solve) == [1, 3]
    assert ex.median_attempts_to_solve == 2
    assert ex.flagged == 1
    assert (other.attempts, other.success_rate, other.median_attempts_to_solve) == (0, None, None)


def test_wrong_answers_are_grouped_by_diagnosis_most_common_first(history: dict) -> None:
    groups = insight.wrong_answers_by_diagnosis(exercise=history["exercise"])
    assert [(g.code, g.count) for g in groups] == [
        ("constant_factor", 4),
        ("sign_error", 1),
        ("(no diagnosis)", 1),
    ]
    assert groups[0].share == pytest.approx(100 * 4 / 6)
    # "x" and "x " differ only in spacing: one answer given three times.
    assert [(a.answer, a.count) for a in groups[0].answers] == [("x", 3), ("3*x", 1)]


def test_audit_disagreements_list_flagged_exercises(history: dict) -> None:
    flagged = insight.audit_disagreements()
    assert [(f.exercise, f.submissions) for f in flagged] == [(history["exercise"], 1)]
    assert [s.answer for s in insight.flagged_submissions(exercise=history["exercise"])] == ["2*x"]


def test_a_flag_named_like_another_is_not_an_audit_disagreement(history: dict) -> None:
    graded(
        UserFactory(username="dan"), history["other"], "x", "correct", 1, flags=("undetermined",)
    )
    assert [f.exercise for f in insight.audit_disagreements()] == [history["exercise"]]


def test_insight_pages_show_stats_diagnoses_and_link_to_the_preview(
    history: dict, instructor: User
) -> None:
    client = groupkit.logged_in(instructor)
    index = client.get("/insight/").content.decode()
    slug = history["exercise"].slug
    assert f"/insight/exercises/{slug}/" in index
    assert f"/instructor/exercises/{slug}/" in index
    assert "Audit disagreements" in index and "audit flag" in index
    assert "/insight/tracks/applied/" in index
    page = client.get(f"/insight/exercises/{slug}/").content.decode()
    assert "constant_factor" in page and "sign_error" in page
    assert "33%" in page  # success rate 3/9
    assert "2 of 3 learners" in page
    assert f"/instructor/exercises/{slug}/" in page


ROLES = ["anonymous", "outsider", "member", "facilitator", "instructor"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", ["/insight/", "/insight/exercises/{slug}/"])
def test_only_instructors_see_insight(
    history: dict, role: str, path: str, student: User, outsider: User, instructor: User
) -> None:
    catalogue_group = groupkit.make_group(
        catalogue=groupkit.Catalogue(
            track=history["exercise"].lesson.module.tracks.first(),
            other_track=None,  # type: ignore[arg-type]
            modules=[history["exercise"].lesson.module],
            exercises={},
        ),
        facilitator=UserFactory(username="fay"),
        members=[student],
    )
    users = {
        "outsider": outsider,
        "member": student,
        "facilitator": catalogue_group.memberships.get(role="facilitator").user,
        "instructor": instructor,
    }
    client = Client()
    if role != "anonymous":
        client.force_login(users[role])
    response = client.get(path.format(slug=history["exercise"].slug))
    if role == "anonymous":
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    elif role == "instructor":
        assert response.status_code == 200
    else:
        assert response.status_code == 403


def test_unknown_exercise_is_404(instructor: User) -> None:
    assert groupkit.logged_in(instructor).get("/insight/exercises/nope/").status_code == 404


def test_the_insight_index_runs_a_fixed_number_of_queries(history: dict, instructor: User) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = groupkit.logged_in(instructor)
    client.get("/insight/")
    with CaptureQueriesContext(connection) as before:
        client.get("/insight/")
    for i in range(5):
        graded(
            UserFactory(username=f"extra{i}"), history["other"], "x", "incorrect", 1, "sign_error"
        )
    with CaptureQueriesContext(connection) as after:
        client.get("/insight/")
    assert len(before) == len(after)
