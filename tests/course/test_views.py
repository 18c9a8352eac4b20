"""The course pages through HTTP: who may see and do what."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from course.models import Enrollment, Exercise, LessonVisit, Module, Track, User
from course.services import progress_record_verdict
from tests.course import groupkit

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(course_dir: Path) -> Path:
    call_command("sync_course", str(course_dir), verbosity=0)
    return course_dir


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_home_lists_the_tracks(client: Client, synced: Path) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert b"Applied" in response.content
    assert b"Sign up" in response.content


def test_track_page_shows_modules_and_lessons_to_anyone(client: Client, synced: Path) -> None:
    response = client.get("/tracks/applied/")
    assert response.status_code == 200
    assert b"Basics" in response.content and b"First steps" in response.content
    assert b"Sign up to enrol" in response.content


def test_track_page_names_only_live_prerequisites(client: Client) -> None:
    catalogue = groupkit.build_catalogue()
    first, second = catalogue.modules
    gone = Module.objects.create(
        slug="gone", title="Forgotten basics", skill="Old", retired_at=timezone.now()
    )
    second.prerequisites.set([first, gone])
    body = client.get("/tracks/applied/").content.decode()
    assert "Builds on: Module 0</p>" in body
    assert "Forgotten basics" not in body
    first.retired_at = timezone.now()
    first.save(update_fields=["retired_at"])
    assert "Builds on" not in client.get("/tracks/applied/").content.decode()


def test_unknown_track_is_404(client: Client, synced: Path) -> None:
    assert client.get("/tracks/nowhere/").status_code == 404


def test_enrol_requires_login_and_post(client: Client, synced: Path, student: User) -> None:
    assert client.post("/tracks/applied/enrol/").status_code == 302
    assert not Enrollment.objects.exists()
    assert logged_in(student).get("/tracks/applied/enrol/").status_code == 405
    response = logged_in(student).post("/tracks/applied/enrol/", follow=True)
    assert b"You are enrolled in the Applied track" in response.content
    assert Enrollment.objects.filter(user=student).count() == 1


def test_enrol_refuses_a_post_without_csrf_token(synced: Path, student: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(student)
    assert client.post("/tracks/applied/enrol/").status_code == 403
    assert not Enrollment.objects.exists()


def test_leaving_keeps_progress(synced: Path, student: User) -> None:
    client = logged_in(student)
    client.post("/tracks/applied/enrol/")
    exercise = Exercise.objects.get()
    progress_record_verdict(
        user=student, exercise=exercise, score=1.0, correct=True, at=timezone.now()
    )
    client.post("/tracks/applied/leave/")
    assert not Enrollment.objects.exists()
    assert student.exercise_progress.get().solved


def test_lesson_page_renders_math_and_sanitises(client: Client, synced: Path) -> None:
    response = client.get("/modules/basics/first-steps/")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'class="math math-display"' in body
    assert "<script>alert" not in body
    assert "Derivative of a square" in body
    assert 'rel="next" href="/modules/basics/second-steps/?track=applied"' in body


def test_lesson_page_records_the_visit_for_the_dashboard(synced: Path, student: User) -> None:
    client = logged_in(student)
    client.get("/modules/basics/first-steps/")
    assert LessonVisit.objects.filter(user=student).count() == 1
    dashboard = client.get("/dashboard/").content.decode()
    assert ">Continue</a>" in dashboard
    assert 'href="/exercises/square-derivative/"' in dashboard
    assert "Derivative of a square" in dashboard


def test_dashboard_points_to_the_next_lesson_once_this_one_is_solved(
    synced: Path, student: User
) -> None:
    client = logged_in(student)
    client.post("/tracks/applied/enrol/")
    client.get("/modules/basics/first-steps/")
    progress_record_verdict(
        user=student, exercise=Exercise.objects.get(), score=1.0, correct=True, at=timezone.now()
    )
    dashboard = client.get("/dashboard/").content.decode()
    assert ">Continue</a>" in dashboard
    assert 'href="/modules/basics/second-steps/?track=applied"' in dashboard
    assert "Read Second steps" in dashboard


def test_dashboard_continues_a_learner_who_solved_without_opening_a_lesson(
    synced: Path, student: User
) -> None:
    client = logged_in(student)
    client.post("/tracks/applied/enrol/")
    progress_record_verdict(
        user=student, exercise=Exercise.objects.get(), score=1.0, correct=True, at=timezone.now()
    )
    dashboard = client.get("/dashboard/").content.decode()
    assert "You have not opened a lesson yet" not in dashboard
    assert ">Continue</a>" in dashboard
    assert 'href="/modules/basics/second-steps/?track=applied"' in dashboard


def test_dashboard_offers_start_to_an_enrolled_learner_with_no_activity(
    synced: Path, student: User
) -> None:
    client = logged_in(student)
    client.post("/tracks/applied/enrol/")
    dashboard = client.get("/dashboard/").content.decode()
    # Start opens the first lesson (not read yet), then its first exercise.
    assert (
        '<a class="button" href="/modules/basics/first-steps/?track=applied">Start</a>' in dashboard
    )
    assert "Derivative of a square" in dashboard


def test_dashboard_counts_solved_exercises_per_skill_and_track(synced: Path, student: User) -> None:
    client = logged_in(student)
    client.post("/tracks/applied/enrol/")
    progress_record_verdict(
        user=student, exercise=Exercise.objects.get(), score=1.0, correct=True, at=timezone.now()
    )
    body = client.get("/dashboard/").content.decode()
    assert "Basic derivatives" in body
    assert "1/1 exercises" in body
    assert "100%" in body


def test_dashboard_offers_the_tracks_to_a_learner_not_enrolled(synced: Path, student: User) -> None:
    body = logged_in(student).get("/dashboard/").content.decode()
    assert "You are not enrolled in a track yet." in body
    assert "A small track for tests." in body
    for track in Track.objects.all():
        track.summary = ""
        track.save()  # through the model, as sync_course and the admin write: the outline is read again
    body = logged_in(student).get("/dashboard/").content.decode()
    assert re.search(r"Applied</a>\s*</li>", body)  # no dash left hanging before a missing summary


def test_dashboard_requires_login(client: Client, synced: Path) -> None:
    response = client.get("/dashboard/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_unpublished_exercises_are_hidden_from_lessons(client: Client, synced: Path) -> None:
    lesson = "/modules/basics/first-steps/"
    assert "Derivative of a square" in client.get(lesson).content.decode()
    Exercise.objects.update(published=False)
    response = client.get(lesson)
    assert response.status_code == 200
    assert "Derivative of a square" not in response.content.decode()


def test_signup_logs_the_new_learner_in(client: Client, synced: Path) -> None:
    response = client.post(
        "/accounts/signup/",
        {
            "username": "newbie",
            "email": "n@example.com",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
        follow=True,
    )
    assert b"Welcome to Chainrule, newbie" in response.content
    user = User.objects.get(username="newbie")
    assert user.role == User.Role.STUDENT


def test_signup_asks_for_an_email_address_for_password_resets(client: Client, synced: Path) -> None:
    response = client.post(
        "/accounts/signup/",
        {
            "username": "newbie",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "This field is required." in body and "reset your password" in body
    assert 'value="newbie"' in body
    assert not User.objects.filter(username="newbie").exists()


def test_signup_explains_a_bad_password_and_keeps_the_username(
    client: Client, synced: Path
) -> None:
    response = client.post(
        "/accounts/signup/",
        {"username": "newbie", "email": "n@example.com", "password1": "123", "password2": "123"},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "This password is too short" in body
    assert 'value="newbie"' in body
    assert not User.objects.filter(username="newbie").exists()


def test_login_and_logout(client: Client, synced: Path, student: User, password: str) -> None:
    response = client.post("/accounts/login/", {"username": student.username, "password": password})
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/dashboard/").status_code == 302


def test_password_change(synced: Path, student: User, password: str) -> None:
    client = logged_in(student)
    response = client.post(
        "/accounts/password_change/",
        {
            "old_password": password,
            "new_password1": "another-long-phrase",
            "new_password2": "another-long-phrase",
        },
        follow=True,
    )
    assert b"Password changed" in response.content
    student.refresh_from_db()
    assert student.check_password("another-long-phrase")


def test_password_reset_sends_a_link(client: Client, synced: Path, student: User) -> None:
    response = client.post("/accounts/password_reset/", {"email": student.email}, follow=True)
    assert b"Check your e-mail" in response.content
    assert len(mail.outbox) == 1
    assert "/accounts/reset/" in mail.outbox[0].body


def test_admin_is_for_staff_only(client: Client, synced: Path, student: User) -> None:
    assert logged_in(student).get("/admin/").status_code == 302
    staff = User.objects.create_user(
        "root", password="x-long-password", is_staff=True, is_superuser=True, role="staff"
    )
    assert logged_in(staff).get("/admin/course/exercise/").status_code == 200


def test_the_navigation_offers_instructor_tools_to_instructors_only(
    synced: Path, student: User, instructor: User
) -> None:
    assert "Insight" not in logged_in(student).get("/dashboard/").content.decode()
    body = logged_in(instructor).get("/dashboard/").content.decode()
    assert 'href="/instructor/exercises/"' in body and 'href="/insight/"' in body
    assert 'href="/groups/"' in body


def test_track_page_offers_start_then_continue_then_says_it_is_finished(
    synced: Path, student: User
) -> None:
    client = logged_in(student)
    assert "Start</a>" not in client.get("/tracks/applied/").content.decode()
    client.post("/tracks/applied/enrol/")
    page = client.get("/tracks/applied/").content.decode()
    assert '<a class="button" href="/modules/basics/first-steps/?track=applied">Start</a>' in page
    client.get("/modules/basics/first-steps/")
    progress_record_verdict(
        user=student, exercise=Exercise.objects.get(), score=0.0, correct=False, at=timezone.now()
    )
    page = client.get("/tracks/applied/").content.decode()
    assert '<a class="button" href="/exercises/square-derivative/">Continue</a>' in page
    progress_record_verdict(
        user=student, exercise=Exercise.objects.get(), score=1.0, correct=True, at=timezone.now()
    )
    page = client.get("/tracks/applied/").content.decode()
    assert (
        '<a class="button" href="/modules/basics/second-steps/?track=applied">Continue</a>' in page
    )
    client.get("/modules/basics/second-steps/")
    page = client.get("/tracks/applied/").content.decode()
    assert "You have finished the Applied track" in page
