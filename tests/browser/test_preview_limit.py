"""A learner who asks for the live preview too often sees why it paused, in place of the preview."""

from __future__ import annotations

import re

import pytest

from course.models import Lesson, Module, Track, TrackModule, User
from tests.conftest import screenshot
from tests.grader.conftest import contract_exercise

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_preview_says_when_it_will_show_again(
    live_server, page, student: User, password: str, settings
) -> None:  # noqa: ANN001
    settings.GRADER_PREVIEW_BURST, settings.GRADER_PREVIEW_PER_SECOND = 3, 0.01
    track = Track.objects.create(slug="applied", title="Applied")
    module = Module.objects.create(slug="derivatives", title="Derivatives", skill="Derivatives")
    TrackModule.objects.create(track=track, module=module, order=0)
    lesson = Lesson.objects.create(module=module, slug="activations", title="Activations", order=1)
    contract_exercise(lesson, "sigmoid-derivative")
    page.goto(live_server.url + "/exercises/sigmoid-derivative/")
    page.get_by_label("Username").fill(student.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Derivative of the sigmoid").wait_for()
    # The preview is asked for by htmx, a deferred script: typing before it has started sends nothing.
    page.wait_for_function("() => window.htmx !== undefined")
    page.wait_for_load_state("networkidle")

    for answer in ("x", "2x", "3x"):
        with page.expect_response(lambda r: "/preview" in r.url and r.status == 200):
            page.locator("#answer").fill(answer)
        page.locator("#preview .math").wait_for()
    with page.expect_response(lambda r: "/preview" in r.url and r.status == 429):
        page.locator("#answer").fill("4x")
    refusal = page.locator('#preview [data-error="preview_rate_limited"]')
    refusal.wait_for()
    # About 100 seconds: one preview comes back every 100 s, less what has already passed.
    assert re.search(r"It shows again in \d+ seconds; your answer is kept\.", refusal.inner_text())
    assert page.locator("#answer").input_value() == "4x"
    screenshot(page, "preview-rate-limited")
    # The page saves the typed answer as a draft a moment after the typing stops: let that save
    # finish too, or it reaches the server while the test's database is being emptied.
    page.locator("#draft-status", has_text="Draft saved").wait_for()
