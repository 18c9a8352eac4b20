"""The account pages through HTTP: what assistive technology is pointed at exists."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.described_by: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(found["id"])  # type: ignore[arg-type]
        self.described_by += (found.get("aria-describedby") or "").split()


def missing_description_targets(html: str) -> list[str]:
    """Return the aria-describedby ids that no element on the page carries."""
    parser = _Ids()
    parser.feed(html)
    assert parser.described_by, "no aria-describedby on the page"
    return [target for target in parser.described_by if target not in parser.ids]


def test_signup_help_texts_are_the_ones_the_inputs_point_to(client: Client) -> None:
    response = client.get("/accounts/signup/")
    assert response.status_code == 200
    assert missing_description_targets(response.content.decode()) == []


def test_signup_errors_are_the_ones_the_inputs_point_to(client: Client) -> None:
    response = client.post(
        "/accounts/signup/",
        {"username": "newbie", "email": "n@example.com", "password1": "123", "password2": "123"},
    )
    body = response.content.decode()
    assert "This password is too short" in body
    assert 'aria-describedby="id_password2_helptext id_password2_error"' in body
    assert missing_description_targets(body) == []


def test_study_group_forms_point_their_inputs_at_their_help_and_errors(client: Client, student):
    client.force_login(student)
    refused = client.post("/groups/new/", {"name": ""}).content.decode()
    assert "_error" in refused
    assert missing_description_targets(refused) == []
