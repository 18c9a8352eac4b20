"""A student runs the visible tests of a code exercise, reads the failing values and a traceback.

Graded by a real Celery worker process when the database can be shared (tests/browser/
test_submission.py's `grading`); the run costs no attempt.
"""

from __future__ import annotations

import pytest

from course.models import User
from grader.models import Submission
from tests.browser.test_submission import exercises, grading  # noqa: F401 - fixtures by name
from tests.conftest import screenshot
from tests.grader.conftest import (  # noqa: F401 - fixtures used by name
    broker,
    database_name,
    start_worker,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FORGOT_CHAIN_RULE = (
    "import numpy as np\n\ndef relu_backward(x, grad_out):\n    return (x > 0).astype(float)\n"
)
RAISES = "import numpy as np\n\ndef relu_backward(x, grad_out):\n    return grad_out[5000] * x\n"


def test_a_student_runs_the_visible_tests_then_reads_one_traceback(
    live_server,
    page,
    student: User,
    password: str,
    exercises,  # noqa: F811 - the fixture imported above
    grading: str,  # noqa: F811 - the fixture imported above
) -> None:  # noqa: ANN001
    page.goto(live_server.url + "/exercises/relu-backward/")
    page.get_by_label("Username").fill(student.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.locator(".CodeMirror").wait_for()

    page.evaluate("code => window.chainrule.codeEditor.setValue(code)", FORGOT_CHAIN_RULE)
    page.get_by_role("button", name="Run the visible tests").click()
    verdict = page.locator('#result [data-verdict="incorrect"]')
    verdict.wait_for(timeout=30_000)
    assert "not counted as an attempt" in verdict.inner_text()
    assert page.locator("[data-attempts]").inner_text() == "0"
    values = verdict.locator(".test-values").first
    assert "Input x" in values.inner_text() and "Returned" in values.inner_text()
    assert "Largest difference" in values.inner_text()
    assert verdict.locator("text=(hidden)").count() == 0
    screenshot(page, "code-run-visible-tests")

    page.evaluate("code => window.chainrule.codeEditor.setValue(code)", RAISES)
    page.get_by_role("button", name="Check").click()
    page.locator('#result [data-verdict="incorrect"] .traceback').wait_for(timeout=30_000)
    result = page.locator("#result")
    assert result.locator(".traceback").count() == 1
    assert "line 4, in relu_backward" in result.locator(".traceback").inner_text()
    assert result.locator(".diagnosis").count() == 0
    assert page.locator("[data-attempts]").inner_text() == "1"
    assert [s.purpose for s in Submission.objects.order_by("pk")] == ["tests", "check"]
    screenshot(page, "code-traceback-once")
