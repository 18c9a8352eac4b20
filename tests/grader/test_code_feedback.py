"""The code exercise's feedback over HTTP: running the visible tests, values, tracebacks.

Guarantees: "Run the visible tests" stores a practice submission that goes through the same
queue, line and budget as a check and never uses an attempt; a failing visible test shows its
inputs, the expected and the returned value; a traceback is shown once however many tests raised
it; the Diagnosis line never repeats a row of the test table.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from config.celery import app
from course.models import ExerciseProgress
from grader.models import GradingTicket, Submission

HTMX = {"HTTP_HX_REQUEST": "true"}
FORGOT_CHAIN_RULE = (
    "import numpy as np\ndef relu_backward(x, grad_out):\n    return (x > 0).astype(float)\n"
)
RAISES = "import numpy as np\ndef relu_backward(x, grad_out):\n    return grad_out[5000] * x\n"


@pytest.fixture
def eager(transactional_db):
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def result_block(html: str) -> str:
    """Return the live result section (the history below repeats each verdict)."""
    match = re.search(r'<section id="result".*?</section>', html, flags=re.S)
    assert match is not None
    return match.group(0)


def post(client, exercise, answer: str, **data: str) -> str:  # noqa: ANN001 - test client
    """Send an answer as the page does, then return its status block once graded."""
    url = reverse("exercise_detail", args=[exercise.slug])
    response = client.post(url, {"answer": answer, **data}, **HTMX)
    assert response.status_code == 200
    latest = Submission.objects.latest("pk")
    status = client.get(reverse("submission_status", args=[latest.pk]), **HTMX)
    return status.content.decode()


def test_running_the_visible_tests_costs_no_attempt(client, student, relu, eager):
    client.force_login(student)
    page = client.get(reverse("exercise_detail", args=[relu.slug])).content.decode()
    assert 'name="run" value="tests"' in page and "Run the visible tests" in page
    html = result_block(post(client, relu, FORGOT_CHAIN_RULE, run="tests"))
    assert "Visible tests run — not counted as an attempt" in html
    assert "Input <code>x</code>" in html and "Returned" in html and "Largest difference" in html
    run = Submission.objects.get()
    assert run.purpose == Submission.Purpose.TESTS and run.attempt_number is None
    assert not ExerciseProgress.objects.filter(user=student, attempts__gt=0).exists()
    # It went through the budget and the code line like any check.
    assert GradingTicket.objects.get(submission=run).state == GradingTicket.State.SETTLED
    # No hidden test ran.
    assert "(hidden)" not in html


def test_a_check_still_uses_an_attempt(client, student, relu, eager):
    client.force_login(student)
    post(client, relu, FORGOT_CHAIN_RULE)
    assert Submission.objects.get().attempt_number == 1


def test_run_tests_on_a_typed_answer_is_an_ordinary_check(client, student, sigmoid, eager):
    client.force_login(student)
    post(client, sigmoid, "sigma(x)", run="tests")
    submission = Submission.objects.get()
    assert submission.purpose == Submission.Purpose.CHECK and submission.attempt_number == 1


def test_a_traceback_is_shown_once_and_the_diagnosis_does_not_repeat_the_table(
    client, student, relu, eager
):
    client.force_login(student)
    html = result_block(post(client, relu, RAISES))
    raised = html.count("Your code raised IndexError on line 3")
    assert raised >= 2  # one per failing visible test's row
    assert html.count("line 3, in relu_backward") == 1
    assert "raised in" in html
    # The summary line above the table would only repeat the first row.
    assert "Test &#x27;small matrix with a zero&#x27;:" not in html
    assert 'class="diagnosis"' not in html
