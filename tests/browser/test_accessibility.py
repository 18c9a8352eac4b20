"""Every page type, on a desktop and on a phone: no serious axe violation and no sideways scroll."""

from __future__ import annotations

from collections import Counter

import pytest

from course.models import User
from tests.browser.a11y import assert_no_serious_axe, assert_no_sideways_scroll
from tests.browser.scenes import CODE, DERIVATION, EXPRESSION, MATRIX, Site, build_site, log_in
from tests.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def page_types(site: Site) -> list[tuple[str, str, User | None]]:
    """Return (name, path, signed-in user) for every kind of page the site has."""
    group = f"/groups/{site.group.pk}"
    student, instructor, facilitator = site.student, site.instructor, site.facilitator
    return [
        ("home", "/", None),
        ("sign-in", "/accounts/login/", None),
        ("sign-up", "/accounts/signup/", None),
        ("not-found", "/no-such-page/", None),
        ("dashboard", "/dashboard/", student),
        ("track", "/tracks/applied/", student),
        ("lesson", site.lesson_url, student),
        ("exercise-expression", f"/exercises/{EXPRESSION}/", student),
        ("exercise-matrix", f"/exercises/{MATRIX}/", student),
        ("exercise-derivation", f"/exercises/{DERIVATION}/", student),
        ("exercise-code", f"/exercises/{CODE}/", student),
        ("submission", f"/submissions/{site.submission.pk}/", student),
        ("submission-code", f"/submissions/{site.code_submission.pk}/", student),
        ("groups", "/groups/", student),
        ("group", f"{group}/", student),
        ("board", f"{group}/board/", student),
        ("group-progress", f"{group}/progress/", facilitator),
        ("schedule", f"{group}/schedule/", facilitator),
        ("group-settings", f"{group}/settings/", facilitator),
        ("threads", f"{group}/threads/", student),
        ("thread", site.thread_url, student),
        ("insight", "/insight/", instructor),
        ("insight-exercise", f"/insight/exercises/{EXPRESSION}/", instructor),
        ("insight-code", f"/insight/exercises/{CODE}/", instructor),
        ("track-progress", "/insight/tracks/applied/", instructor),
        ("instructor-exercises", "/instructor/exercises/", instructor),
        ("instructor-preview", f"/instructor/exercises/{EXPRESSION}/", instructor),
        ("instructor-preview-code", f"/instructor/exercises/{CODE}/", instructor),
    ]


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_every_page_type_passes_axe_and_fits_the_screen(
    live_server, browser, viewport: str
) -> None:  # noqa: ANN001
    site = build_site()
    totals: dict[str, int] = {}
    rules: Counter[str] = Counter()
    contexts = {}
    try:
        for name, path, user in page_types(site):
            key = user.username if user else "visitor"
            if key not in contexts:
                contexts[key] = browser.new_context(viewport=VIEWPORTS[viewport])
                contexts[key].set_default_timeout(15_000)
                if user:
                    log_in(contexts[key], live_server.url, user)
            page = contexts[key].new_page()
            response = page.goto(live_server.url + path)
            assert response is not None
            assert response.status == (404 if name == "not-found" else 200), name
            page.wait_for_load_state("networkidle")
            if name == "submission":
                page.locator(".reading .katex").first.wait_for()
            assert_no_sideways_scroll(page, where=f"{name} ({viewport})")
            for impact, count in assert_no_serious_axe(
                page, where=f"{name} ({viewport})", rules=rules
            ).items():
                totals[impact] = totals.get(impact, 0) + count
            screenshot(page, f"a11y-{viewport}-{name}")
            page.close()

        # The language switch: a visitor picks Chinese in the header and gets the same page in it.
        page = contexts["visitor"].new_page()
        page.goto(live_server.url + "/accounts/login/")
        if viewport == "phone":
            page.get_by_role("button", name="Menu").click()
        page.get_by_role("button", name="简体中文").click()
        page.wait_for_function("document.documentElement.lang === 'zh-hans'")
        assert_no_sideways_scroll(page, where=f"zh sign-in ({viewport})")
        assert_no_serious_axe(page, where=f"zh sign-in ({viewport})")
        screenshot(page, f"a11y-{viewport}-language-switch")
    finally:
        for context in contexts.values():
            context.close()
    print(
        f"axe on {viewport}: {totals} (minor/moderate reported, serious/critical fail); rules: {dict(rules)}"
    )


def test_the_checks_fail_on_a_contrast_failure_a_missing_alt_and_a_wide_page(browser) -> None:  # noqa: ANN001
    context = browser.new_context(viewport=VIEWPORTS["phone"])
    page = context.new_page()
    try:
        page.set_content(
            '<html lang="en"><head><title>t</title></head><body><main><h1>Check</h1>'
            '<p style="color:#aaaaaa;background:#ffffff">faint text</p><img src="data:,">'
            '<div style="width:2000px">wide</div></main></body></html>'
        )
        with pytest.raises(AssertionError) as failure:
            assert_no_serious_axe(page, where="a bad page")
        assert "color-contrast" in str(failure.value) and "image-alt" in str(failure.value)
        with pytest.raises(AssertionError, match="too wide"):
            assert_no_sideways_scroll(page, where="a bad page")
    finally:
        context.close()
