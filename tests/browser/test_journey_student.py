"""A new student on a desktop, in Chromium: from signing up to the worked solution and Continue.

Sign up → enrol in the applied track → Start → its first lesson → its first exercise → a draft
survives a reload → Show a hint → a wrong answer whose mistake is named → the right answer → the
worked solution → Next → give up on that one (confirmed) → its solution; the dashboard then offers
Continue. Answers are graded by a real Celery worker on PostgreSQL (in the web process on SQLite in
memory, which a worker cannot share). Screenshots go to test-artifacts/journey-student-*.png.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection

from config.celery import app
from course.models import ExerciseProgress, User
from grader.models import AnswerDraft, HintView
from tests.browser.a11y import assert_no_serious_axe
from tests.conftest import screenshot
from tests.grader.conftest import broker, database_name, start_worker  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


AXE: dict[str, dict[str, int]] = {}  # serious/critical fail at once; minor/moderate are counted


def look(page: Any, name: str) -> None:
    """Screenshot a step of the journey and run axe on it (no serious or critical violation)."""
    screenshot(page, name)
    AXE[name] = assert_no_serious_axe(page, where=name)


FIRST = "transpose-of-a-product"  # the applied track's first exercise (matrix)
SECOND = "center-columns"  # the one after it (code)
MISTAKE = "A^T*B^T*C^T"  # a listed mistake: the order of the factors is not reversed
RIGHT = "C^T*B^T*A^T"


def wait_until(condition: Callable[[], bool], attempts: int = 100) -> None:
    """Wait for something the browser does in the background (a beacon) to reach the server."""
    for _ in range(attempts):
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("the condition never held")


@pytest.fixture
def grading(request: pytest.FixtureRequest) -> Iterator[str]:
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite" and connection.creation.is_in_memory_db(name):
        app.conf.task_always_eager = True
        yield "in the web process"
        app.conf.task_always_eager = False
        return
    start: Callable[[], object] = request.getfixturevalue("start_worker")
    start()
    yield "by a Celery worker process"


def test_a_new_student_goes_from_sign_up_to_continue(
    live_server,
    page,
    course,
    grading: str,  # noqa: ANN001
) -> None:
    print(f"grading {grading}")
    started = time.perf_counter()
    page.goto(live_server.url + "/accounts/signup/")
    page.get_by_label("Username").fill("newton")
    page.get_by_label("Email").fill("newton@example.org")
    page.get_by_label("Password", exact=True).fill("a-long-new-password-1")
    page.get_by_label("Password confirmation").fill("a-long-new-password-1")
    page.get_by_role("button", name="Sign up").click()
    page.get_by_text("Welcome to Chainrule, newton").wait_for()
    user = User.objects.get(username="newton")

    page.get_by_role("link", name="Applied", exact=True).first.click()
    page.get_by_role("button", name="Enrol in the applied track").click()
    start = page.get_by_role("link", name="Start", exact=True)
    start.wait_for()
    assert page.get_by_role("button", name="Leave this track").count() == 1
    look(page, "journey-student-1-track")
    start.click()

    page.locator("#exercises-heading").wait_for()  # the lesson
    page.get_by_role("link", name="Transpose of a product").click()
    page.get_by_role("heading", name="Transpose of a product").wait_for()
    page.wait_for_load_state()  # htmx listens for typing once the page has loaded

    page.locator("#answer").fill("C^T*B^T")
    page.locator("#draft-status", has_text="Draft saved").wait_for()
    page.reload()
    page.wait_for_load_state()
    assert page.locator("#answer").input_value() == "C^T*B^T"
    assert page.locator("#draft-status").inner_text() == "Draft restored"
    assert AnswerDraft.objects.get(user=user).text == "C^T*B^T"
    # Leaving before the debounced save has run still keeps the text (sent as the page hides).
    page.locator("#answer").fill("C^T*B^T*A")
    page.get_by_role("link", name="Dashboard").click()
    page.get_by_role("heading", name="Welcome back, newton").wait_for()
    wait_until(lambda: AnswerDraft.objects.get(user=user).text == "C^T*B^T*A")
    page.go_back()
    page.wait_for_load_state()
    assert page.locator("#answer").input_value() == "C^T*B^T*A"

    page.get_by_role("button", name="Show a hint").click()
    page.locator("#hints li .katex").first.wait_for()  # typeset after the swap
    assert page.locator("#hints li").count() == 1
    assert page.get_by_role("button", name="Show another hint").count() == 1
    assert HintView.objects.filter(user=user, index=0).count() == 1

    page.locator("#answer").fill(MISTAKE)
    page.get_by_role("button", name="Check").click()
    wrong = page.locator('#result [data-verdict="incorrect"]')
    wrong.wait_for()
    assert "Diagnosis:" in wrong.locator(".diagnosis").inner_text()
    assert wrong.locator(".math-display .katex").count() == 1
    look(page, "journey-student-2-named-mistake")

    page.locator("#answer").fill(RIGHT)
    page.get_by_role("button", name="Check").click()
    page.locator('#result [data-verdict="correct"]').wait_for()
    solution = page.locator("#solution .solution")
    solution.wait_for()  # swapped in with the verdict
    assert solution.locator(".katex").count() > 0
    next_link = page.get_by_role("link", name="Next exercise: Center the columns")
    next_link.wait_for()
    look(page, "journey-student-3-solution")

    next_link.click()
    page.get_by_role("heading", name="Center the columns").wait_for()
    assert page.locator("#solution .solution").count() == 0
    page.get_by_text("Show the solution", exact=True).click()
    page.get_by_role("button", name="Yes, show me the solution").click()
    page.locator("#solution .solution").wait_for()
    assert "You asked for the solution" in page.locator("#solution").inner_text()
    progress = ExerciseProgress.objects.get(user=user, exercise__slug=SECOND)
    assert progress.gave_up_at is not None and progress.attempts == 0
    look(page, "journey-student-4-gave-up")

    page.get_by_role("link", name="Dashboard").click()
    continue_link = page.get_by_role("link", name="Continue", exact=True)
    continue_link.wait_for()
    assert "You have not opened a lesson yet" not in page.content()
    look(page, "journey-student-5-dashboard")
    continue_link.click()
    page.wait_for_load_state()
    assert SECOND not in page.url and FIRST not in page.url
    print(f"new-student journey: {time.perf_counter() - started:.1f} s; axe by step: {AXE}")


def test_refusals_and_wrong_steps_are_shown_in_plain_words(
    live_server,
    page,
    course,
    student: User,
    password: str,
    grading: str,  # noqa: ANN001
) -> None:
    page.goto(live_server.url + "/exercises/least-squares-gradient/")
    page.get_by_label("Username").fill(student.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.locator("#answer").fill("2 (A x - b)^T A")  # the gradient, transposed
    page.get_by_role("button", name="Check").click()
    refused = page.locator('#result [data-verdict="invalid"]')
    refused.wait_for()
    head = refused.locator(".verdict-head").inner_text()
    assert head.startswith("Wrong shape — not counted as an attempt: your answer is 1×n")
    assert "transpose?" in head and "could not be read" not in refused.inner_text()
    assert page.locator("[data-attempts]").inner_text() == "0"
    look(page, "journey-student-6-wrong-shape")

    page.goto(live_server.url + "/exercises/sigmoid-derivative-steps/")
    steps = "= exp(-x)/(1+exp(-x))^2\n= sigma(x) exp(-x)/(1+exp(-x))\n= 2 sigma(x)(1-sigma(x))"
    page.locator("#answer").fill(steps)
    page.get_by_role("button", name="Check").click()
    wrong = page.locator('#result [data-verdict="incorrect"]')
    wrong.wait_for()
    assert "Line 3 does not follow from line 2" in wrong.inner_text()
    marked = wrong.locator(".reading .katex .wrong-step")
    assert marked.count() == 1  # KaTeX let the grader's mark through, and only it
    assert wrong.locator(".katex-error").count() == 0
    assert "2" in marked.inner_text()
    look(page, "journey-student-7-wrong-step")
