"""A newcomer signs up, enrols in a track and reads a lesson with rendered math."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from course.models import Enrollment, User
from tests.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_newcomer_signs_up_enrols_and_reads_math(live_server, page, course_dir: Path) -> None:  # noqa: ANN001
    call_command("sync_course", str(course_dir), verbosity=0)
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Sign up").first.click()
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Email address").fill("ada@example.com")
    page.get_by_label("Password", exact=True).fill("a-long-pass-phrase")
    page.get_by_label("Password confirmation").fill("a-long-pass-phrase")
    page.get_by_role("button", name="Sign up").click()
    page.get_by_text("Welcome to Chainrule, ada").wait_for()

    page.get_by_role("link", name="See the applied track").click()
    page.get_by_role("button", name="Enrol in the applied track").click()
    page.get_by_text("You are enrolled in the Applied track").wait_for()
    assert Enrollment.objects.filter(user=User.objects.get(username="ada")).count() == 1
    screenshot(page, "foundation-track")

    page.get_by_role("link", name="First steps").click()
    page.locator(".math-display .katex-display").first.wait_for()
    assert page.locator(".math-inline .katex").count() >= 1
    assert page.locator(".prose script").count() == 0
    screenshot(page, "foundation-lesson")

    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("link", name="Second steps").click()
    page.locator(".math .katex").first.wait_for()
    screenshot(page, "foundation-lesson-phone")
