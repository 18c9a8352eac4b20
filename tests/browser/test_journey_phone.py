"""A returning student on a phone: dashboard, continue, a lesson with wide math, a wrong answer.

Walks issue 14's phone items at 390×844: no page scrolls sideways, wide formulas scroll inside
their block and fade at the edge they continue past, the header folds behind a Menu button, the
"read as" formula stays in its box, and the verdict is announced through the live region. axe runs
on every step; the step timings are printed (never asserted).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from course.models import Exercise, Lesson
from tests.browser.a11y import assert_no_serious_axe, assert_no_sideways_scroll
from tests.browser.scenes import EXPRESSION, WIDE_MATH_LESSON, build_site, log_in
from tests.conftest import screenshot
from tests.grader.conftest import broker, database_name, start_worker  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
# Wrong for every variant (r is 0.5, 1.5, 2 or 3), and long: its reading is wider than a phone.
WRONG = "(1/(2*log(1 + exp(s))) - 7/(2*log(1 + exp(s))^2))*exp(s) + 1/(2*log(1 + exp(s)))"


def test_a_returning_student_on_a_phone(
    live_server, browser, request: pytest.FixtureRequest
) -> None:  # noqa: ANN001
    site = build_site()
    start: Callable[[], object] = request.getfixturevalue("start_worker")
    start()
    lesson = Lesson.objects.get(slug=WIDE_MATH_LESSON[1])
    exercise = Exercise.objects.get(slug=EXPRESSION)
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(20_000)
    log_in(context, live_server.url, site.student)
    page = context.new_page()
    timings: dict[str, float] = {}
    axe: dict[str, dict[str, int]] = {}

    def step(name: str) -> None:
        page.wait_for_load_state("networkidle")
        assert_no_sideways_scroll(page, where=name)
        axe[name] = assert_no_serious_axe(page, where=name)
        screenshot(page, f"journey-phone-{name}")

    started = time.perf_counter()
    page.goto(live_server.url + "/dashboard/")
    step("1-dashboard")
    # The header is folded behind a Menu button that opens and closes it.
    links = page.locator("#nav-links")
    assert not links.is_visible()
    menu = page.get_by_role("button", name="Menu")
    menu.click()
    assert links.is_visible() and menu.get_attribute("aria-expanded") == "true"
    page.get_by_role("link", name="Study groups").wait_for()
    screenshot(page, "journey-phone-1-menu-open")
    menu.click()
    assert not links.is_visible()
    timings["dashboard"] = time.perf_counter() - started

    started = time.perf_counter()
    # Continue takes the learner to their next step; they go back to its lesson to read it again.
    page.locator("section[aria-labelledby='continue-heading']").get_by_role(
        "link", name="Continue"
    ).click()
    page.wait_for_load_state()
    assert page.url != live_server.url + "/dashboard/"
    page.goto(live_server.url + lesson.get_absolute_url())
    page.get_by_role("heading", name=lesson.title).wait_for()
    page.locator(".math-display .katex-display").first.wait_for()
    step("2-lesson")
    wide = page.locator(".prose .math-display.scrolls")
    assert wide.count() >= 1, "a formula wider than the phone scrolls inside its block"
    first = wide.first
    first.scroll_into_view_if_needed()
    assert "scrolled" not in (first.get_attribute("class") or "").split()
    mask = first.evaluate(
        "el => getComputedStyle(el).webkitMaskImage || getComputedStyle(el).maskImage"
    )
    assert "gradient" in mask, "the edge it continues past fades"
    first.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
    page.wait_for_function(
        "el => el.classList.contains('scrolled-to-end')", arg=first.element_handle()
    )
    screenshot(page, "journey-phone-2-lesson-scrolled")
    timings["lesson"] = time.perf_counter() - started

    started = time.perf_counter()
    page.get_by_role("link", name=exercise.title).first.click()
    page.get_by_role("heading", name=exercise.title).wait_for()
    step("3-exercise")
    page.locator("#answer").fill(WRONG)
    page.get_by_role("button", name="Check").click()
    verdict = page.locator('#result [data-verdict="incorrect"]')
    verdict.wait_for()
    timings["wrong answer to verdict"] = time.perf_counter() - started
    # The reading is a block that fits the phone and scrolls inside (polled: htmx may swap the
    # result block once more as the history and progress arrive).
    page.wait_for_function(
        """(width) => {
          const el = document.querySelector('#result [data-verdict] .reading .math-display');
          return el !== null && el.querySelector('.katex') !== null
            && getComputedStyle(el).display === 'block'
            && el.getBoundingClientRect().right <= width
            && el.scrollWidth > el.clientWidth && el.classList.contains('scrolls');
        }""",
        arg=PHONE["width"],
    )
    page.wait_for_function(
        "() => document.getElementById('announcer').textContent.includes('Not yet right')"
    )
    verdict.scroll_into_view_if_needed()
    step("4-verdict")
    print(
        "phone journey timings (s): "
        + ", ".join(f"{name} {seconds:.2f}" for name, seconds in timings.items())
    )
    print(f"phone journey axe (per step, by impact): {axe}")
    context.close()
