"""An instructor previews an unpublished exercise, switches variant and tries a wrong answer.

The bench's checks are graded by a real Celery worker process (never by the web server).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from course.models import Exercise, Lesson, Module, User
from grader import engine
from grader.models import BenchRun
from tests.browser.test_submission import grading  # noqa: F401 - fixture used by name
from tests.conftest import screenshot
from tests.grader.conftest import (  # noqa: F401 - fixtures used by name
    broker,
    database_name,
    start_worker,
)
from tests.grader.test_instructor_preview import SCALED_SQUARE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_instructor_previews_switches_variant_and_sees_a_diagnosis(
    live_server,
    page,
    instructor: User,
    password: str,
    grading: str,  # noqa: F811 - the fixture imported above
) -> None:  # noqa: ANN001
    module = Module.objects.create(slug="previews", title="Previews", skill="Authoring")
    lesson = Lesson.objects.create(module=module, slug="drafts", title="Drafts", order=1)
    Exercise.objects.create(
        lesson=lesson,
        slug="scaled-square",
        title="Derivative of a scaled square",
        kind="expression",
        published=False,
        spec=SCALED_SQUARE,
    )
    page.goto(live_server.url + "/instructor/exercises/")
    page.get_by_label("Username").fill(instructor.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()

    page.get_by_role("heading", name="Exercises").wait_for()
    row = page.locator("tr", has_text="Derivative of a scaled square")
    assert "unpublished" in row.inner_text() and "Expression" in row.inner_text()
    screenshot(page, "instructor-index")
    row.get_by_role("link").click()

    parameter = page.locator('[data-parameter="a"]')
    first_a = int(parameter.inner_text())
    assert first_a == engine.variant(SCALED_SQUARE, 1)["parameters"]["a"]
    page.locator(".prompt .katex").first.wait_for()
    page.locator(".reference .katex-display").wait_for()
    other = next(
        s for s in range(2, 6) if engine.variant(SCALED_SQUARE, s)["parameters"]["a"] != first_a
    )
    page.get_by_role("navigation", name="Variants").get_by_role(
        "link", name=str(other), exact=True
    ).click()
    page.wait_for_url(re.compile(rf"\?seed={other}$"))
    a = engine.variant(SCALED_SQUARE, other)["parameters"]["a"]
    assert parameter.inner_text() == str(a)
    assert f"{a} x^2" in page.locator(".prompt .math").first.get_attribute("data-tex")

    answer = page.get_by_label("Answer", exact=True)
    answer.fill(f"{a}*x")
    page.locator("#preview .katex").wait_for()  # the live reading of the typed answer
    page.get_by_role("button", name="Grade").click()
    verdict = page.locator('#bench-result [data-verdict="incorrect"]')
    verdict.wait_for()
    assert "The power rule brings the exponent down as a factor." in verdict.inner_text()
    assert "Diagnosis" in verdict.inner_text()
    assert page.locator("#bench-result .author-facts").inner_text().startswith("For the author")
    screenshot(page, "instructor-preview-wrong-answer")

    answer.fill(f"{2 * a}*x")
    page.get_by_role("button", name="Grade").click()
    page.locator('#bench-result [data-verdict="correct"]').wait_for()
    if grading.startswith("by a Celery worker"):
        assert all(run.worker for run in BenchRun.objects.all())

    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "instructor-preview-phone")


def test_an_instructor_tries_a_code_exercises_known_mistake(
    live_server,
    page,
    instructor: User,
    password: str,
    grading: str,  # noqa: F811 - the fixture imported above
) -> None:  # noqa: ANN001
    relu_file = next(Path(__file__).resolve().parents[2].glob("exercises/*/*/relu-backward.yaml"))
    spec = yaml.safe_load(relu_file.read_text())
    module = Module.objects.create(slug="previews", title="Previews", skill="Authoring")
    lesson = Lesson.objects.create(module=module, slug="drafts", title="Drafts", order=1)
    Exercise.objects.create(
        lesson=lesson, slug="relu-backward", title="ReLU", kind="code", spec=spec
    )
    page.goto(live_server.url + "/instructor/exercises/relu-backward/")
    page.get_by_label("Username").fill(instructor.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()

    page.locator(".CodeMirror").wait_for()  # the bench's code editor, as on the student's page
    mistake = page.locator(".known-item", has_text="forgot the chain rule")
    mistake.get_by_role("button", name="Try it in the bench").click()
    verdict = page.locator('#bench-result [data-verdict="incorrect"]')
    verdict.wait_for()
    assert "forgot the chain rule" in verdict.inner_text()
    assert "(x > 0).astype(float)" in page.locator(".CodeMirror").inner_text()
    assert BenchRun.objects.get().status == BenchRun.Status.FINISHED
    screenshot(page, "instructor-preview-code-mistake")
