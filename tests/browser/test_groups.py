"""Two learners form a study group, both solve an exercise, see it on the board and discuss it."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from config.celery import app
from course.models import (
    ExerciseProgress,
    GroupMembership,
    Lesson,
    Module,
    Track,
    TrackModule,
    User,
)
from course.selectors_progress import week_start
from tests.conftest import screenshot
from tests.factories import UserFactory
from tests.grader.conftest import contract_exercise

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RIGHT = "sigma(x)*(1-sigma(x))"


@pytest.fixture
def eager_grading() -> Iterator[None]:
    """Grade in the web process: SQLite in memory cannot be shared with a worker process."""
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def catalogue(db: None) -> None:
    track = Track.objects.create(slug="applied", title="Applied")
    module = Module.objects.create(slug="derivatives", title="Derivatives", skill="Derivatives")
    TrackModule.objects.create(track=track, module=module, order=0)
    lesson = Lesson.objects.create(module=module, slug="activations", title="Activations", order=1)
    contract_exercise(lesson, "sigmoid-derivative")


def log_in(page, url: str, user: User, password: str) -> None:  # noqa: ANN001 - Playwright page
    page.goto(url)
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def solve_sigmoid(page, base: str) -> None:  # noqa: ANN001
    page.goto(base + "/exercises/sigmoid-derivative/")
    page.locator("#answer").fill(RIGHT)
    page.get_by_role("button", name="Check").click()
    page.locator('#result [data-verdict="correct"]').wait_for()


def test_a_group_forms_solves_together_and_discusses_with_math(
    live_server, browser, page, student: User, password: str, catalogue: None, eager_grading: None
) -> None:  # noqa: ANN001
    base = live_server.url
    fay = UserFactory(username="fay")

    # The facilitator starts a private group and plans this week.
    log_in(page, base + "/groups/new/", fay, password)
    page.get_by_label("Name").fill("Gradient gang")
    page.get_by_label("Track").select_option(label="Applied")
    page.get_by_role("button", name="Create the group").click()
    page.get_by_role("heading", name="Invite people").wait_for()
    invite = page.locator("#invite-link").input_value()
    assert re.search(r"/groups/join/[a-z2-9]{5}-[a-z2-9]{5}/$", invite)
    screenshot(page, "groups-settings")

    page.get_by_role("link", name="Schedule").click()
    monday = week_start(timezone.localdate())
    page.get_by_label("Module", exact=True).select_option(label="Derivatives")
    page.get_by_label("Week start").fill(monday.isoformat())
    page.get_by_label("Due date").fill((monday + timedelta(days=6)).isoformat())
    page.get_by_role("button", name="Add to the schedule").click()
    page.get_by_text("Derivatives is on the schedule.").wait_for()

    # A second learner follows the invite link and joins.
    other = browser.new_context(viewport={"width": 1280, "height": 900})
    other.set_default_timeout(15_000)
    sam = other.new_page()
    sam.goto(invite)
    sam.get_by_role("link", name="Log in to join").click()
    sam.get_by_label("Username").fill(student.username)
    sam.get_by_label("Password").fill(password)
    sam.get_by_role("button", name="Log in").click()
    sam.get_by_role("button", name="Join Gradient gang").click()
    sam.get_by_text("You joined Gradient gang.").wait_for()
    assert GroupMembership.objects.filter(user=student, group__name="Gradient gang").exists()

    # Both solve this week's exercise through the real submission flow.
    solve_sigmoid(page, base)
    solve_sigmoid(sam, base)
    assert ExerciseProgress.objects.filter(solved_at__isnull=False).count() == 2

    page.goto(base + "/groups/")
    page.get_by_role("link", name="Gradient gang").click()
    page.get_by_role("link", name="Progress board").click()
    board = page.locator(".board-table")
    board.wait_for()
    for name in ("fay", "sam"):
        row = board.locator("tbody tr", has_text=name)
        assert row.locator("td.cell-solved").count() == 1, name
    assert "2 solved, 0 tried" in board.locator("tfoot").inner_text()
    assert page.locator(".hbar-chart rect.chart-bar").count() == 1
    screenshot(page, "groups-board")

    # Sam asks about the exercise with a formula; fay replies; sam is notified.
    sam.goto(base + "/dashboard/")
    sam.get_by_role("link", name="Gradient gang").first.click()
    sam.get_by_role("link", name="Questions").click()
    sam.get_by_label("Title", exact=True).fill("Why does the sigmoid derivative factor?")
    sam.get_by_label("About", exact=True).select_option(label="Exercise: Derivative of the sigmoid")
    sam.get_by_label("Body", exact=True).fill(
        "Is it true that $$\\sigma'(x) = \\sigma(x)\\,(1-\\sigma(x))$$ for every $x$?"
    )
    sam.get_by_role("button", name="Post the question").click()
    sam.locator(".post-body .math-display .katex-display").wait_for()
    assert sam.locator(".post-body .math-inline .katex").count() == 1
    assert "sigma" in sam.locator(".post-body annotation").first.text_content()
    thread_url = sam.url

    page.goto(thread_url)
    page.get_by_label("Your reply").fill("Yes: write $e^{-x}/(1+e^{-x})^2$ and split it.")
    page.get_by_role("button", name="Post the reply").click()
    page.locator(".post").nth(1).locator(".math .katex").wait_for()
    # Math a learner writes cannot draw outside its post: sizes are capped, the post clips.
    page.get_by_label("Your reply").fill("Huge: $\\rule{100em}{100em}$ and $\\kern{90em}x$")
    page.get_by_role("button", name="Post the reply").click()
    huge = page.locator(".post").nth(2)
    huge.locator(".math .katex").first.wait_for()
    box = huge.bounding_box()
    assert box is not None and box["height"] < 300, box
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    sam.goto(base + "/dashboard/")
    notice = sam.locator(".notice-list li", has_text="Why does the sigmoid derivative factor?")
    assert "2 new" in notice.inner_text()
    assert sam.locator(".hbar-chart").count() == 1
    screenshot(sam, "groups-dashboard")
    notice.get_by_role("link").click()
    sam.get_by_role("button", name="Mark as helpful").first.click()
    sam.get_by_text("1 found this helpful").wait_for()
    screenshot(sam, "groups-thread")
    other.close()
