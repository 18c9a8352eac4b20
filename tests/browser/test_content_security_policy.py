"""Every page type renders and works under the strict Content-Security-Policy with no violation."""

from __future__ import annotations

import pytest
from django.db import transaction

from course import services, services_groups
from course.models import Exercise, Lesson, Track, User
from tests.conftest import screenshot
from tests.course import groupkit
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Collect violations before any page script runs (an init script is not subject to the policy).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline")
    + " at " + event.sourceFile + ":" + event.lineNumber);
});
"""


def sign_in(page, base: str, user: User, password: str) -> None:  # noqa: ANN001
    page.goto(base + "/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def visit(page, url: str, seen: dict[str, list[str]]) -> None:  # noqa: ANN001
    response = page.goto(url)
    assert response is not None and response.status < 400, (url, response and response.status)
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "object-src 'none'" in policy, url
    assert "camera=()" in response.headers.get("permissions-policy", ""), url
    page.wait_for_load_state("load")
    page.wait_for_timeout(50)  # let deferred scripts (KaTeX, htmx, CodeMirror) run
    seen[url] = page.evaluate("window.__cspViolations")


def test_every_page_type_runs_with_no_csp_violation(
    live_server, browser, course, password: str
) -> None:  # noqa: ANN001
    base = live_server.url
    teacher = UserFactory(username="ines", role=User.Role.STAFF, is_staff=True, is_superuser=True)
    learner = UserFactory(username="sam")
    track = Track.objects.get(slug="applied")
    services.enrollment_create(user=learner, track=track)
    group = services_groups.group_create(creator=learner, track=track, name="Night owls")
    lesson = Lesson.objects.filter(module__in=track.modules.all()).order_by("pk").first()
    symbolic = Exercise.objects.get(slug="sigmoid-derivative")
    code = Exercise.objects.get(slug="relu-backward")
    with transaction.atomic():  # progress bars on the dashboard and the board
        groupkit.solve(learner, symbolic)
        groupkit.attempt(learner, code)
    thread = services_groups.thread_create(
        group=group, author=learner, title="Why?", body="Is $$\\sigma' = \\sigma(1-\\sigma)$$ true?"
    )

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    seen: dict[str, list[str]] = {}
    for url in ("/", "/accounts/login/", "/accounts/signup/", "/accounts/password_reset/"):
        visit(page, base + url, seen)

    sign_in(page, base, learner, password)
    learner_pages = [
        "/dashboard/",
        f"/tracks/{track.slug}/",
        f"/modules/{lesson.module.slug}/{lesson.slug}/",
        f"/exercises/{symbolic.slug}/",
        f"/exercises/{code.slug}/",
        "/groups/",
        f"/groups/{group.pk}/",
        f"/groups/{group.pk}/board/",
        f"/groups/{group.pk}/schedule/",
        f"/groups/{group.pk}/threads/",
        f"/groups/{group.pk}/threads/{thread.pk}/",
    ]
    for url in learner_pages:
        visit(page, base + url, seen)
        if url == "/dashboard/":
            screenshot(page, "csp-dashboard")
        if url.endswith("/board/"):
            screenshot(page, "csp-board")
    # htmx at work: the live preview swaps in how the answer was read, then a submission.
    visit(page, base + f"/exercises/{symbolic.slug}/", seen)
    page.get_by_label("Your answer").fill("sigma(x)*(1-sigma(x))")
    page.locator("#preview .katex").first.wait_for()
    page.get_by_role("button", name="Check", exact=True).click()
    page.locator("#result").wait_for()
    seen["preview and submit"] = page.evaluate("window.__cspViolations")
    page.get_by_role("button", name="Log out").click()

    sign_in(page, base, teacher, password)
    for url in (
        "/instructor/exercises/",
        f"/instructor/exercises/{symbolic.slug}/",
        f"/instructor/exercises/{code.slug}/",
        "/insight/",
        f"/insight/exercises/{symbolic.slug}/",
        f"/insight/tracks/{track.slug}/",
        "/admin/",
        "/admin/course/user/",
    ):
        visit(page, base + url, seen)
    context.close()

    assert {url: found for url, found in seen.items() if found} == {}
    assert len(seen) >= 24
