"""An instructor reads insight, opens the preview of variants and looks at the mistake bars.

Walks issue 14's insight items: diagnoses in words (and in Chinese), each listed mistake on its own
with its count, code answers with their indentation in <pre>, mistake bars in a colour that is not
the success green and is legible against the track; axe on every step, timings printed.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from course.models import Exercise
from tests.browser.a11y import assert_no_serious_axe, assert_no_sideways_scroll
from tests.browser.scenes import CODE, EXPRESSION, build_site, log_in
from tests.conftest import ARTIFACTS, screenshot
from tests.course.test_code_highlighting import contrast
from tests.factories import UserFactory
from tests.grader.test_insight import graded, listed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _rgb_to_hex(rgb: str) -> str:
    parts = [int(float(p)) for p in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
    return "#" + "".join(f"{p:02x}" for p in parts)


def test_an_instructor_reads_insight_previews_variants_and_sees_mistake_bars(
    live_server, browser: Any
) -> None:  # noqa: ANN001
    site = build_site()
    expression = Exercise.objects.get(slug=EXPRESSION)
    feedback = [str(m["feedback"]).strip() for m in expression.spec["mistakes"]]
    for i in range(3):
        graded(
            UserFactory(username=f"learner{i}"),
            expression,
            "1/2 - 4*exp(-s)/2",
            "incorrect",
            1,
            "known_mistake",
            messages=listed(feedback[3]),
        )
    graded(UserFactory(username="learner9"), expression, "-s", "incorrect", 1, "sign_error")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    log_in(context, live_server.url, site.instructor)
    page = context.new_page()
    timings: dict[str, float] = {}
    axe: dict[str, dict[str, int]] = {}

    def step(name: str) -> None:
        page.wait_for_load_state("networkidle")
        assert_no_sideways_scroll(page, where=name)
        axe[name] = assert_no_serious_axe(page, where=name)
        screenshot(page, f"journey-instructor-{name}")

    started = time.perf_counter()
    page.goto(live_server.url + "/dashboard/")
    page.get_by_role("link", name="Insight").click()
    page.get_by_role("heading", name="Instructor insight").wait_for()
    step("1-insight")
    page.get_by_role("link", name=expression.title).first.click()
    page.get_by_role("heading", name=expression.title).wait_for()
    step("2-insight-exercise")
    timings["insight"] = time.perf_counter() - started

    groups = page.locator(".diagnosis-group h3")
    assert (
        "Listed mistake 4" in groups.nth(0).inner_text()
        and "3 attempts" in groups.nth(0).inner_text()
    )
    assert "Listed mistake 3" in groups.nth(1).inner_text()
    assert "Sign error" in groups.nth(2).inner_text()
    assert "known_mistake" not in page.content() and "sign_error" not in page.inner_text("main")
    listed_rows = page.locator("section[aria-labelledby='mistakes-heading'] tbody tr")
    assert listed_rows.count() == len(feedback)
    assert [listed_rows.nth(i).locator("td").last.inner_text() for i in range(4)] == [
        "0",
        "0",
        "1",
        "3",
    ]
    # The mistake bars: not the success colour, and at least 3:1 against their track.
    bar = page.locator(".bar-mistakes .bar-fill").first
    fill = _rgb_to_hex(bar.evaluate("el => getComputedStyle(el).fill"))
    ok = _rgb_to_hex(
        page.evaluate("() => getComputedStyle(document.querySelector('.badge-success')).color")
        if page.locator(".badge-success").count()
        else "rgb(29, 122, 58)"
    )
    track = _rgb_to_hex(
        page.locator(".bar-mistakes").first.evaluate("el => getComputedStyle(el).backgroundColor")
    )
    assert fill != ok, "mistake bars are not drawn in the success colour"
    assert contrast(fill, track) >= 3, (fill, track)
    page.locator(".diagnosis-group").first.screenshot(
        path=str(ARTIFACTS / "journey-instructor-2b-mistake-bars.png")
    )

    started = time.perf_counter()
    page.goto(live_server.url + f"/insight/exercises/{CODE}/")
    code = page.locator("pre.answer-code").first
    assert (
        "    mask = x > 0\n    if mask.any():\n        return mask.astype(float)"
        in code.inner_text()
    )
    assert "Listed mistake 1" in page.inner_text("main")
    step("3-insight-code")

    page.get_by_role("link", name="Instructor preview").click()
    page.locator(".seed-links").wait_for()
    step("4-preview")
    before = page.locator(".parameters").inner_text() if page.locator(".parameters").count() else ""
    page.locator(".seed-links a:not(.current)").nth(1).click()
    page.locator(".seed-links a.current").wait_for()
    step("5-preview-other-variant")
    timings["code insight and preview"] = time.perf_counter() - started
    print(
        f"preview parameters before/after: {before!r} / {page.locator('.parameters').inner_text() if page.locator('.parameters').count() else ''!r}"
    )

    # The same insight page in Chinese, and on a phone.
    page.goto(live_server.url + f"/insight/exercises/{EXPRESSION}/")
    page.get_by_role("button", name="简体中文").click()
    page.wait_for_function("document.documentElement.lang === 'zh-hans'")
    assert "已列出的错误 4" in page.inner_text("main") and "符号错误" in page.inner_text("main")
    page.set_viewport_size({"width": 390, "height": 844})
    step("6-insight-zh-phone")
    print(
        "instructor journey timings (s): "
        + ", ".join(f"{name} {seconds:.2f}" for name, seconds in timings.items())
    )
    print(f"instructor journey axe (per step, by impact): {axe}")
    context.close()
