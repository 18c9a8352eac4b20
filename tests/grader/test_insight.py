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
    messages: tuple[dict[str, str], ...] = (),
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
            "messages": list(messages),
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
    assert "Off by a constant factor" in page and "Sign error" in page
    assert "constant_factor" not in page, "diagnoses are named in words, not codes"
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


def listed(feedback: str) -> tuple[dict[str, str], ...]:
    return ({"code": "known_mistake", "text": feedback},)


@pytest.fixture
def mistaken() -> Exercise:
    """An exercise listing three mistakes; learners made the first twice and the second once."""
    catalogue = groupkit.build_catalogue(modules=1, exercises_per_module=1)
    ex = catalogue.exercises[catalogue.modules[0].pk][0]
    ex.spec = {
        **ex.spec,
        "mistakes": [
            {"answer": "tanh(x*y)", "feedback": "You dropped the path through $u$."},
            {"answer": "x*y", "feedback": "You kept only the path through $u$."},
            {"answer": "2*x", "feedback": "Never made."},
        ],
    }
    ex.save(update_fields=["spec"])
    a, b = UserFactory(username="ann"), UserFactory(username="bob")
    dropped, kept = (
        listed("You dropped the path through $u$."),
        listed("You kept only the path through $u$."),
    )
    graded(a, ex, "tanh(x*y)", "incorrect", 1, "known_mistake", messages=dropped)
    graded(b, ex, "tanh(y*x)", "incorrect", 1, "known_mistake", messages=dropped)
    graded(b, ex, "x*y", "incorrect", 2, "known_mistake", messages=kept)
    graded(b, ex, "-x", "incorrect", 3, "sign_error")
    return ex


def test_each_listed_mistake_is_its_own_group_with_its_count(mistaken: Exercise) -> None:
    groups = insight.wrong_answers_by_diagnosis(exercise=mistaken)
    assert [(g.code, g.mistake_number, g.count) for g in groups] == [
        ("known_mistake", 1, 2),
        ("known_mistake", 2, 1),
        ("sign_error", None, 1),
    ]
    assert groups[2].label == "Sign error"
    mistakes = insight.listed_mistakes(exercise=mistaken, groups=groups)
    assert [(m.number, m.answer, m.count) for m in mistakes] == [
        (1, "tanh(x*y)", 2),
        (2, "x*y", 1),
        (3, "2*x", 0),
    ]


def test_the_insight_page_lists_each_mistake_with_counts_and_its_own_bar_colour(
    mistaken: Exercise, instructor: User
) -> None:
    page = (
        groupkit.logged_in(instructor).get(f"/insight/exercises/{mistaken.slug}/").content.decode()
    )
    assert "Listed mistake 1" in page and "Listed mistake 2" in page
    assert "known_mistake" not in page
    assert page.count('class="bar bar-mistakes"') == 3
    assert '<span class="math math-inline">u</span>' in page, "feedback math is rendered"
    assert "Never made." in page  # listed, with a count of 0


def test_code_answers_keep_their_lines_and_indentation(instructor: User) -> None:
    catalogue = groupkit.build_catalogue(modules=1, exercises_per_module=1)
    ex = catalogue.exercises[catalogue.modules[0].pk][0]
    ex.kind = Exercise.Kind.CODE
    ex.save(update_fields=["kind"])
    code = "def f(x):\n    if x > 0:\n        return x\n    return 0\n"
    graded(UserFactory(username="ann"), ex, code, "incorrect", 1, "wrong_values")
    graded(
        UserFactory(username="bob"), ex, code.replace("\n", "  \n"), "incorrect", 1, "wrong_values"
    )
    groups = insight.wrong_answers_by_diagnosis(exercise=ex)
    assert [(a.answer, a.count) for a in groups[0].answers] == [(code.rstrip("\n"), 2)]
    page = groupkit.logged_in(instructor).get(f"/insight/exercises/{ex.slug}/").content.decode()
    assert '<pre class="answer-code"><code>def f(x):\n    if x &gt; 0:\n        return x' in page
    assert "Returned wrong values" in page


def test_diagnoses_are_named_in_the_readers_language(history: dict, instructor: User) -> None:
    instructor.language = "zh-hans"
    instructor.save(update_fields=["language"])
    client = groupkit.logged_in(instructor)
    page = client.get(f"/insight/exercises/{history['exercise'].slug}/").content.decode()
    assert "Off by a constant factor" not in page
    assert "符号错误" in page
