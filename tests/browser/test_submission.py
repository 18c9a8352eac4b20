"""A student checks answers in Chromium and watches the verdicts arrive without reloading."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.db import connection

from config.celery import app
from course.models import ExerciseProgress, Lesson, Module, Track, TrackModule, User
from tests.conftest import screenshot
from tests.grader.conftest import (  # noqa: F401 - fixtures used by name
    RELU_RIGHT,
    broker,
    contract_exercise,
    database_name,
    start_worker,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WRONG = "-1/(1+exp(-x))^2"  # a listed mistake: the outer derivative without the inner one
RIGHT = "sigma(x)*(1-sigma(x))"


@pytest.fixture
def grading(request: pytest.FixtureRequest) -> Iterator[str]:
    """Grade with a real worker process when the database can be shared, else in the web process."""
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite" and connection.creation.is_in_memory_db(name):
        app.conf.task_always_eager = True
        yield "in the web process (SQLite in memory cannot be shared with a worker)"
        app.conf.task_always_eager = False
        return
    start: Callable[[], object] = request.getfixturevalue("start_worker")
    start()
    yield "by a Celery worker process"


@pytest.fixture
def exercises(db: None) -> dict[str, object]:
    track = Track.objects.create(slug="applied", title="Applied")
    module = Module.objects.create(slug="derivatives", title="Derivatives", skill="Derivatives")
    TrackModule.objects.create(track=track, module=module, order=0)
    lesson = Lesson.objects.create(module=module, slug="activations", title="Activations", order=1)
    return {
        "sigmoid": contract_exercise(lesson, "sigmoid-derivative"),
        "relu": contract_exercise(lesson, "relu-backward"),
    }


def check(page, answer: str | None = None) -> None:  # noqa: ANN001 - Playwright page
    """Type an answer (unless the editor already holds it) and press Check."""
    if answer is not None:
        page.locator("#answer").fill(answer)
    page.get_by_role("button", name="Check").click()


def test_a_student_sees_a_diagnosis_then_success_then_code_test_results(
    live_server, page, student: User, password: str, exercises, grading: str
) -> None:  # noqa: ANN001
    print(f"grading {grading}")
    page.goto(live_server.url + "/exercises/sigmoid-derivative/")
    page.get_by_label("Username").fill(student.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Derivative of the sigmoid").wait_for()
    assert page.locator("[data-attempts]").inner_text() == "0"
    first_url = page.url

    check(page, "   ")  # refused (400): htmx shows why inside the result block, which stays
    page.locator('#result [data-error="empty"]').wait_for()
    assert page.url == first_url
    check(page, WRONG)
    verdict = page.locator('#result [data-verdict="incorrect"]')
    verdict.wait_for()
    assert page.url == first_url  # no reload: htmx swapped the verdict in
    assert "Not yet right" in verdict.inner_text()
    assert "chain rule" in verdict.locator(".diagnosis").inner_text()
    assert verdict.locator(".math-display .katex").count() == 1  # how the server read it
    assert page.locator("[data-attempts]").inner_text() == "1"
    page.get_by_role("button", name="Show a hint").click()  # hints come on demand
    page.locator("#hints li").first.wait_for()
    assert page.locator("#history .history-item").count() == 1
    screenshot(page, "submission-wrong")

    check(page, RIGHT)
    page.locator('#result [data-verdict="correct"]').wait_for()
    page.locator("[data-solved]").wait_for()
    assert page.locator("[data-attempts]").inner_text() == "2"
    assert page.locator("#history .history-item").count() == 2
    assert ExerciseProgress.objects.get(user=student, exercise=exercises["sigmoid"]).solved
    screenshot(page, "submission-correct")

    page.goto(live_server.url + "/exercises/relu-backward/")
    page.locator(".CodeMirror").wait_for()
    page.locator(".CodeMirror").click()
    page.keyboard.press("Escape")  # as the help line says: Esc, then Tab, leaves the editor
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Check"
    page.evaluate("code => window.chainrule.codeEditor.setValue(code)", RELU_RIGHT)
    check(page)
    results = page.locator("#result table.test-results")
    results.wait_for(timeout=30_000)
    assert page.locator('#result [data-verdict="correct"]').count() == 1
    rows = results.locator("tbody tr")
    assert rows.count() >= 4
    assert results.locator(".test-passed").count() == rows.count()
    assert "tests passed" in results.locator("caption").inner_text()
    screenshot(page, "submission-code")


def test_without_javascript_the_submission_page_shows_the_verdict(
    live_server, browser, student: User, password: str, exercises, grading: str
) -> None:  # noqa: ANN001
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.goto(live_server.url + "/exercises/sigmoid-derivative/")
    page.get_by_label("Username").fill(student.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.locator("#answer").fill(WRONG)
    page.get_by_role("button", name="Check").click()
    page.wait_for_url("**/submissions/*/")
    # The page holds the request for the verdict, and reloads itself while it is still pending.
    page.locator('#result [data-verdict="incorrect"]').wait_for(timeout=30_000)
    assert page.locator("#answer").input_value() == WRONG
    assert "chain rule" in page.locator("#result .diagnosis").inner_text()
    assert page.locator("[data-attempts]").inner_text() == "1"
    screenshot(page, "submission-no-javascript")
    context.close()


def test_a_check_held_for_its_verdict_says_it_is_checking(
    live_server, page, student: User, password: str, exercises, request: pytest.FixtureRequest
) -> None:  # noqa: ANN001
    """The page's post waits for the verdict: meanwhile the button rests and the row says so.

    (start_worker skips where no worker process can share the database.)"""
    worker_start: Callable[[], object] = request.getfixturevalue("start_worker")  # the broker now
    page.goto(live_server.url + "/exercises/sigmoid-derivative/")
    page.get_by_label("Username").fill(student.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Derivative of the sigmoid").wait_for()
    indicator = page.locator(".check-indicator")
    indicator.wait_for(state="hidden")  # once the page's style sheets apply
    check(page, RIGHT)  # no worker yet: the post is held
    indicator.wait_for(state="visible")
    assert "Checking your answer…" in indicator.inner_text()
    assert page.get_by_role("button", name="Check").is_disabled()
    screenshot(page, "submission-checking")
    worker_start()
    page.locator('#result [data-verdict="correct"]').wait_for(timeout=60_000)
    indicator.wait_for(state="hidden")  # htmx ends the request just after the swap
    assert page.get_by_role("button", name="Check").is_enabled()
