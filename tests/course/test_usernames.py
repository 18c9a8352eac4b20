"""Usernames that pass for another account's are refused at sign-up (course/usernames.py)."""

from __future__ import annotations

import pytest
from django.test import Client

from course.models import User
from course.usernames import mixed_script_problem, username_key, username_skeleton
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def sign_up(client: Client, username: str):
    return client.post(
        "/accounts/signup/",
        {
            "username": username,
            "email": "someone@example.com",
            "password1": "a-long-enough-pass-phrase",
            "password2": "a-long-enough-pass-phrase",
        },
    )


@pytest.mark.parametrize(
    ("name", "looks_like"),
    [
        ("іnstructor", "instructor"),  # Cyrillic і
        ("instructоr", "instructor"),  # Cyrillic о
        ("ＩＮＳＴＲＵＣＴＯＲ", "instructor"),  # full-width
        ("Instructor", "instructor"),
        ("ınstructor", "instructor"),  # dotless i
        ("ﬁsh", "fish"),  # ligature
        ("сор", "cop"),  # all Cyrillic
    ],
)
def test_the_skeleton_is_how_a_name_looks(name: str, looks_like: str) -> None:
    assert username_skeleton(name) == looks_like


@pytest.mark.parametrize(
    ("name", "mixed"),
    [
        ("іnstructor", "Cyrillic, Latin"),
        ("paρa", "Greek, Latin"),
        ("instructor", None),
        ("Ελένη", None),
        ("王小明", None),
        ("zhang王", None),  # Han with Latin is how names are written
        ("山田たろう", None),  # Han with kana
        ("jean-luc_2.b@x+y", None),
    ],
)
def test_mixed_alphabets_are_named(name: str, mixed: str | None) -> None:
    assert mixed_script_problem(name) == mixed


@pytest.mark.parametrize("name", ["іnstructor", "instructоr", "ＩＮＳＴＲＵＣＴＯＲ", "INSTRUCTOR"])
def test_a_look_alike_of_a_taken_name_is_refused(client: Client, name: str) -> None:
    UserFactory(username="instructor")
    response = sign_up(client, name)
    assert response.status_code == 200
    body = response.content.decode()
    assert "mixes" in body or "looks the same" in body or "already exists" in body
    assert User.objects.count() == 1


def test_a_mixed_script_name_is_refused_even_when_free(client: Client) -> None:
    response = sign_up(client, "раul")  # Cyrillic р and а, Latin u and l
    assert "mixes Cyrillic, Latin letters" in response.content.decode()
    assert not User.objects.exists()


@pytest.mark.parametrize("name", ["Ελένη", "王小明", "student_2"])
def test_names_in_one_alphabet_are_welcome(client: Client, name: str) -> None:
    response = sign_up(client, name)
    assert response.status_code == 302
    assert User.objects.get().username == name


def test_every_account_stores_its_key_and_renaming_keeps_it_in_step() -> None:
    user = UserFactory(username="alpha")
    user.username = "Beta"
    user.save(update_fields=["username"])
    user.refresh_from_db()
    assert user.username_key == username_key("beta") != username_key("alpha")
    assert UserFactory(username="gamma").username_key == username_key("GAMMA")
