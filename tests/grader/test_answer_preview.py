"""The live preview: how a typed answer is read, or where it stops making sense."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def preview(client, slug: str, answer: str) -> str:
    url = reverse("answer_preview", args=[slug])
    response = client.get(url, {"answer": answer}, **HTMX)
    assert response.status_code == 200
    return response.content.decode()


def test_it_shows_the_answer_as_read(client, student, sigmoid):
    client.force_login(student)
    html = preview(client, sigmoid.slug, "2x")
    assert "Read as" in html and "2 \\cdot x" in html  # multiplication made explicit


def test_it_names_the_position_of_an_error_once(client, student, sigmoid):
    client.force_login(student)
    html = preview(client, sigmoid.slug, "x + * 2")
    assert "At character 5: expected a number, a name or &#x27;(&#x27;, found &#x27;*&#x27;" in html
    assert html.lower().count("at character") == 1
