"""The live preview: how a typed answer is read, or where it stops making sense."""

from __future__ import annotations

import pytest
from django.test import Client
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


@pytest.fixture
def frozen_clock(monkeypatch):
    """Stop the preview buckets' clock, so that no token comes back while a test runs."""
    from grader import preview_limit

    now = [1000.0]
    monkeypatch.setattr(preview_limit.buckets, "clock", lambda: now[0])
    return now


def test_a_learner_previewing_too_often_is_told_how_long_to_wait(
    client, student, instructor, sigmoid, settings, frozen_clock
):
    settings.GRADER_PREVIEW_BURST, settings.GRADER_PREVIEW_PER_SECOND = 5, 0.5
    client.force_login(student)
    url = reverse("answer_preview", args=[sigmoid.slug])
    for _n in range(5):
        assert client.get(url, {"answer": "2x"}, **HTMX).status_code == 200
    refused = client.get(url, {"answer": "2x"}, **HTMX)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "2"  # one preview comes back every 2 seconds
    html = refused.content.decode()
    assert 'data-error="preview_rate_limited"' in html
    assert "It shows again in 2 seconds; your answer is kept." in html
    # Everyone else has a bucket of their own.
    other = Client()
    other.force_login(instructor)
    assert "Read as" in preview(other, sigmoid.slug, "2x")
    frozen_clock[0] += 2
    assert "Read as" in preview(client, sigmoid.slug, "2x")
    assert client.get(url, {"answer": "2x"}, **HTMX).status_code == 429
