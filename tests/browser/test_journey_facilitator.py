"""A group facilitator's journey: start a group, copy the invite, a newcomer signs up through it,
asks about an exercise with a previewed formula, the facilitator answers and plans the week, and
the newcomer hears about both through notifications."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from course.models import Enrollment, Lesson, Module, Notification, Track, TrackModule, User
from course.selectors_progress import week_start
from tests.browser.a11y import assert_no_serious_axe
from tests.conftest import screenshot
from tests.factories import UserFactory
from tests.grader.conftest import contract_exercise

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


AXE: dict[str, dict[str, int]] = {}  # serious/critical fail at once; minor/moderate are counted


def look(page: Any, name: str) -> None:
    """Screenshot a step of the journey and run axe on it (no serious or critical violation)."""
    screenshot(page, name)
    AXE[name] = assert_no_serious_axe(page, where=name)


@pytest.fixture
def catalogue(db: None) -> None:
    track = Track.objects.create(slug="applied", title="Applied")
    module = Module.objects.create(slug="derivatives", title="Derivatives", skill="Derivatives")
    TrackModule.objects.create(track=track, module=module, order=0)
    lesson = Lesson.objects.create(module=module, slug="activations", title="Activations", order=1)
    contract_exercise(lesson, "sigmoid-derivative")


def log_in(page, user: User, password: str) -> None:  # noqa: ANN001 - Playwright page
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_a_facilitator_invites_answers_and_plans(
    live_server, browser, password: str, catalogue: None
) -> None:  # noqa: ANN001
    base = live_server.url
    started = time.perf_counter()
    fay = UserFactory(username="fay")
    host = browser.new_context(viewport={"width": 1280, "height": 900})
    host.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    host.set_default_timeout(15_000)
    page = host.new_page()

    # The facilitator starts a group and copies its invite link with one click.
    page.goto(base + "/groups/new/")
    log_in(page, fay, password)
    page.get_by_label("Name").fill("Gradient gang")
    page.get_by_label("Track").select_option(label="Applied")
    page.get_by_role("button", name="Create the group").click()
    page.get_by_role("button", name="Copy link").click()
    page.get_by_text("Copied").wait_for()
    invite = page.evaluate("navigator.clipboard.readText()")
    assert re.fullmatch(rf"{re.escape(base)}/groups/join/[a-z2-9]{{5}}-[a-z2-9]{{5}}/", invite)
    # The whole link shows: the field is as wide as its text.
    assert page.eval_on_selector("#invite-link", "el => el.scrollWidth <= el.clientWidth")
    look(page, "journey-facilitator-invite")

    # A newcomer opens the link logged out, signs up through it and lands back on the invite.
    guest = browser.new_context(viewport={"width": 1280, "height": 900})
    guest.set_default_timeout(15_000)
    newcomer = guest.new_page()
    newcomer.goto(invite)
    look(newcomer, "journey-facilitator-invited")
    newcomer.get_by_role("link", name="Sign up to join").click()
    newcomer.get_by_label("Username").fill("nia")
    newcomer.get_by_label("Email").fill("nia@example.com")
    newcomer.get_by_label("Password", exact=True).fill("a-long-pass-phrase")
    newcomer.get_by_label("Password confirmation").fill("a-long-pass-phrase")
    newcomer.get_by_role("button", name="Sign up").click()
    newcomer.get_by_role("button", name="Join Gradient gang").click()
    newcomer.get_by_text("You joined Gradient gang.").wait_for()
    nia = User.objects.get(username="nia")
    assert Enrollment.objects.filter(user=nia, track__slug="applied").exists()

    # From the exercise, the newcomer asks the group, previewing the formula first.
    newcomer.goto(base + "/exercises/sigmoid-derivative/")
    newcomer.get_by_role("link", name="Ask Gradient gang about this exercise").click()
    assert "Derivative of the sigmoid" in newcomer.get_by_label("About", exact=True).inner_text()
    newcomer.get_by_label("Title", exact=True).fill("Where does the minus go?")
    newcomer.get_by_label("Body", exact=True).fill("Is $\\frac{d}{dx} e^{-x} = -e^{-x}$?")
    newcomer.get_by_role("button", name="Preview").click()
    newcomer.locator(".composer-preview .katex").wait_for()
    look(newcomer, "journey-facilitator-preview")
    newcomer.get_by_role("button", name="Post the question").click()
    newcomer.locator(".post-body .katex").wait_for()
    thread_url = newcomer.url

    # The facilitator answers and plans this week's module.
    page.goto(thread_url)
    page.get_by_label("Your reply").fill("Yes: the chain rule brings the $-1$ down.")
    page.get_by_role("button", name="Post the reply").click()
    page.locator(".post").nth(1).wait_for()
    page.goto(base + "/groups/")
    page.get_by_role("link", name="Gradient gang").click()
    page.get_by_role("link", name="Schedule", exact=True).click()
    monday = week_start(timezone.localdate())
    page.get_by_label("Module", exact=True).select_option(label="Derivatives")
    page.get_by_label("Week start").fill(monday.isoformat())
    page.get_by_label("Due date").fill((monday + timedelta(days=6)).isoformat())
    page.get_by_role("button", name="Add to the schedule").click()
    page.get_by_text("Derivatives is on the schedule.").wait_for()
    assert Notification.objects.filter(user=nia).count() == 2

    # The newcomer sees both in the header and in the notifications list, and follows the reply.
    newcomer.goto(base + "/dashboard/")
    assert "2 unread" in newcomer.locator(".notifications-link").inner_text()
    newcomer.locator(".notifications-link").click()
    newcomer.get_by_text("Gradient gang plans Derivatives").wait_for()
    look(newcomer, "journey-facilitator-notifications")
    newcomer.get_by_role("link", name=re.compile("New reply in")).click()
    newcomer.get_by_text("the chain rule brings").wait_for()
    assert Notification.objects.filter(user=nia, read_at__isnull=True).count() == 1
    print(f"facilitator journey: {time.perf_counter() - started:.1f} s; axe by step: {AXE}")
    guest.close()
    host.close()
