"""Roles through HTTP: staff opens the admin, and instructors, staff and admins get the instructor tools."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.test import Client

from course.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
ADMIN = "/admin/"
INSTRUCTOR_TOOLS = "/instructor/exercises/"


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def admin_sets_role(user: User, role: str, **extra: str) -> None:
    """Save the user's admin change form with a new role, the way a superuser would."""
    superuser = User.objects.create_superuser("root", "root@example.com", "x")
    data = {
        "username": user.username,
        "email": user.email,
        "first_name": "",
        "last_name": "",
        "is_active": "on",
        "date_joined_0": "2025-01-01",
        "date_joined_1": "00:00:00",
        "role": role,
        **extra,
    }
    response = logged_in(superuser).post(f"/admin/course/user/{user.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    user.refresh_from_db()
    assert user.role == role


@pytest.mark.parametrize(
    ("role", "admin_status", "tools_status"),
    [
        (User.Role.STUDENT, 302, 403),
        (User.Role.INSTRUCTOR, 302, 200),
        (User.Role.STAFF, 200, 200),
    ],
)
def test_the_role_set_in_the_admin_decides_admin_access_and_instructor_tools(
    role: str, admin_status: int, tools_status: int
) -> None:
    user = UserFactory(username="riley")
    admin_sets_role(user, role)
    client = logged_in(user)
    assert client.get(ADMIN).status_code == admin_status
    assert client.get(INSTRUCTOR_TOOLS).status_code == tools_status


def test_demoting_staff_in_the_admin_closes_the_admin() -> None:
    user = UserFactory(username="riley", role=User.Role.STAFF, is_staff=True)
    admin_sets_role(user, User.Role.STUDENT, is_staff="on")
    assert not user.is_staff
    assert logged_in(user).get(ADMIN).status_code == 302


def test_an_admin_user_with_the_student_role_gets_the_instructor_tools() -> None:
    user = UserFactory(username="ada", role=User.Role.STUDENT, is_staff=True)
    response = logged_in(user).get(INSTRUCTOR_TOOLS)
    assert response.status_code == 200
    assert INSTRUCTOR_TOOLS.encode() in logged_in(user).get("/").content


def test_a_superuser_gets_the_instructor_tools() -> None:
    user = User.objects.create_superuser("root", "root@example.com", "x")
    assert logged_in(user).get(INSTRUCTOR_TOOLS).status_code == 200


def test_the_migration_opens_the_admin_to_existing_staff_roles() -> None:
    staff = UserFactory(username="sasha", role=User.Role.STAFF, is_staff=False)
    flagged = UserFactory(username="flo", role=User.Role.STUDENT, is_staff=True)
    student = UserFactory(username="sam", role=User.Role.STUDENT)
    migration = importlib.import_module("course.migrations.0003_staff_role_opens_the_admin")
    migration.keep_is_staff_in_step_with_role(apps, None)
    assert logged_in(User.objects.get(pk=staff.pk)).get(ADMIN).status_code == 200
    assert User.objects.get(pk=flagged.pk).role == User.Role.STAFF
    assert not User.objects.get(pk=student.pk).is_staff
