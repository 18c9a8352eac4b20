"""The exercise page: checking an answer with and without JavaScript, and its live verdict."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from dataclasses import replace

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test import AsyncClient, Client
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string

from config.celery import app
from course.catalogue import catalogue_forget
from course.models import Exercise, ExerciseProgress
from grader import announcements, selectors, services
from grader.engine import Status
from grader.models import AnswerDraft, HintView, Submission
from tests.grader.conftest import SIGMOID_RIGHT, SIGMOID_WRONG, pending_submissions, settle

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def no_waiting(settings):
    """Answer status requests at once (the held request has tests of its own below)."""
    settings.GRADER_STATUS_WAIT_SECONDS = 0


@pytest.fixture
def eager(transactional_db):
    """Grade in the request, right after its transaction commits, as a worker would."""
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def url(exercise: Exercise) -> str:
    return reverse("exercise_detail", args=[exercise.slug])


def test_it_requires_login(client, sigmoid):
    response = client.get(url(sigmoid))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_it_shows_the_form_and_no_attempts(client, student, sigmoid):
    client.force_login(student)
    html = client.get(url(sigmoid)).content.decode()
    assert 'name="answer"' in html and ">Check</button>" in html
    assert "Attempts so far: <strong data-attempts>0</strong>" in html
    assert 'id="history"' in html and "Your submissions" in html


def test_unpublished_exercises_are_hidden_from_students(client, student, instructor, sigmoid):
    Exercise.objects.filter(pk=sigmoid.pk).update(published=False)
    client.force_login(student)
    assert client.get(url(sigmoid)).status_code == 404
    assert client.post(url(sigmoid), {"answer": SIGMOID_RIGHT}).status_code == 404
    assert not Submission.objects.exists()
    client.force_login(instructor)
    assert client.get(url(sigmoid)).status_code == 200


@pytest.mark.parametrize("retired", ["lesson", "module"])
def test_exercises_of_a_retired_lesson_or_module_are_gone(
    client, student, instructor, sigmoid, retired
):
    client.force_login(student)
    client.post(url(sigmoid), {"answer": "42*exp(x)"})
    submission = Submission.objects.get()
    target = sigmoid.lesson if retired == "lesson" else sigmoid.lesson.module
    type(target).objects.filter(pk=target.pk).update(retired_at=timezone.now())
    catalogue_forget()  # as this process would after COURSE_CATALOGUE_SECONDS (an update sends no signal)
    for user in (student, instructor):
        client.force_login(user)
        assert client.get(url(sigmoid)).status_code == 404
        assert client.post(url(sigmoid), {"answer": SIGMOID_RIGHT}).status_code == 404
        preview = reverse("answer_preview", args=[sigmoid.slug])
        assert client.get(preview, {"answer": "x"}).status_code == 404
    client.force_login(student)
    assert client.get(submission.get_absolute_url()).status_code == 404
    assert Submission.objects.count() == 1


def test_without_javascript_it_redirects_to_the_submission_page(client, student, sigmoid, eager):
    client.force_login(student)
    response = client.post(url(sigmoid), {"answer": SIGMOID_WRONG})
    submission = Submission.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("submission_detail", args=[submission.pk])


def test_a_pending_submission_page_refreshes_itself(client, student, sigmoid):
    client.force_login(student)
    client.post(url(sigmoid), {"answer": SIGMOID_WRONG})
    submission = Submission.objects.get()
    html = client.get(submission.get_absolute_url()).content.decode()
    assert '<noscript><meta http-equiv="refresh" content="1"></noscript>' in html
    assert "Waiting for a grader" in html
    assert reverse("submission_status", args=[submission.pk]) in html  # htmx keeps polling
    assert f'value="{SIGMOID_WRONG}"' in html  # the answer stays in the form for a retry


def test_a_finished_submission_page_shows_the_verdict(client, student, sigmoid, eager):
    client.force_login(student)
    page = client.post(url(sigmoid), {"answer": SIGMOID_WRONG}, follow=True).content.decode()
    assert 'http-equiv="refresh"' not in page
    assert 'data-verdict="incorrect"' in page
    assert "Diagnosis:" in page and "chain rule" in page
    assert "Counterexample." in page and "At x = " in page
    assert 'class="math math-display"' in page
    assert "attempt 1" in page
    assert "Attempts so far: <strong data-attempts>1</strong>" in page


def test_with_htmx_it_answers_with_the_status_block(client, student, sigmoid):
    client.force_login(student)
    response = client.post(url(sigmoid), {"answer": SIGMOID_RIGHT}, **HTMX)
    html = response.content.decode()
    submission = Submission.objects.get()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="result"')
    assert f'hx-get="{reverse("submission_status", args=[submission.pk])}"' in html
    assert 'hx-trigger="load delay:0ms"' in html  # the server holds the first look


def test_the_status_block_stops_polling_with_the_verdict(client, student, sigmoid, eager):
    client.force_login(student)
    client.post(url(sigmoid), {"answer": SIGMOID_RIGHT}, **HTMX)
    submission = Submission.objects.get()
    html = client.get(reverse("submission_status", args=[submission.pk]), **HTMX).content.decode()
    assert "hx-get" not in html.split("</section>")[0]
    assert 'data-verdict="correct"' in html
    # Progress, hints and history are refreshed beside it.
    assert 'id="progress" class="progress-line exercise-progress" hx-swap-oob="true"' in html
    assert "data-solved" in html
    assert (
        'id="history" class="exercise-panel history" aria-labelledby="history-heading" hx-swap-oob="true"'
        in html
    )


def test_an_unreadable_answer_shows_inline_and_is_not_counted(client, student, sigmoid, eager):
    client.force_login(student)
    client.post(url(sigmoid), {"answer": "sigma(x"}, **HTMX)
    submission = Submission.objects.get()
    html = client.get(reverse("submission_status", args=[submission.pk]), **HTMX).content.decode()
    assert 'data-verdict="invalid"' in html
    assert "could not be read — not counted as an attempt" in html
    assert "At character 8" in html
    assert "Attempts so far: <strong data-attempts>0</strong>" in html


def test_a_hint_lock_holds_until_enough_wrong_attempts(client, student, sigmoid, eager):
    """The sigmoid's hint_after: 1 is a lock: no hint, not even by a crafted request, before it."""
    client.force_login(student)
    html = client.get(url(sigmoid)).content.decode()
    assert "Write the sigmoid as" not in html and "Show a hint" not in html
    assert "The hints open after 1 more wrong attempt" in html
    refused = client.post(reverse("hint_show", args=[sigmoid.slug]))
    assert refused.status_code == 409 and HintView.objects.count() == 0
    client.post(url(sigmoid), {"answer": "sigma(x"})  # unreadable: not an attempt, opens nothing
    assert client.post(reverse("hint_show", args=[sigmoid.slug])).status_code == 409
    client.post(url(sigmoid), {"answer": SIGMOID_WRONG})
    html = client.get(url(sigmoid)).content.decode()
    assert "Show a hint" in html and "Write the sigmoid as" not in html


def test_hints_come_one_at_a_time_on_demand_and_are_recorded(client, student, sigmoid, eager):
    Exercise.objects.filter(pk=sigmoid.pk).update(spec={**sigmoid.spec, "hint_after": 0})
    client.force_login(student)
    hints_url = reverse("hint_show", args=[sigmoid.slug])
    assert "Show a hint" in client.get(url(sigmoid)).content.decode()
    response = client.post(hints_url)
    assert response.status_code == 302 and response["Location"].endswith("#hints")
    html = client.get(url(sigmoid)).content.decode()
    assert "Write the sigmoid as" in html and "Use the chain rule on the power" not in html
    assert "Show another hint" in html and "1 hint left" in html
    partial = client.post(hints_url, **HTMX).content.decode()
    assert partial.startswith('\n<section id="hints"') or 'id="hints"' in partial
    assert "Use the chain rule on the power" in partial and "Show another hint" not in partial
    assert client.post(hints_url).status_code == 409
    views = HintView.objects.filter(user=student, exercise=sigmoid).order_by("index")
    assert [(v.index, v.wrong_attempts) for v in views] == [(0, 0), (1, 0)]


def test_the_history_keeps_every_submission_with_its_feedback(client, student, sigmoid, eager):
    client.force_login(student)
    for answer in (SIGMOID_WRONG, "sigma(x", SIGMOID_RIGHT):
        client.post(url(sigmoid), {"answer": answer})
    html = client.get(url(sigmoid)).content.decode()
    history = html.split('id="history"')[1]
    assert len(re.findall(r'class="history-item"', history)) == 3
    assert history.index("correct") < history.index("invalid") < history.index("incorrect")
    assert "not counted" in history and "attempt 2" in history and "attempt 1" in history
    assert "Diagnosis:" in history


def test_the_page_shows_the_latest_answer_for_a_retry(client, student, sigmoid, eager):
    client.force_login(student)
    client.post(url(sigmoid), {"answer": SIGMOID_WRONG})
    html = client.get(url(sigmoid)).content.decode()
    assert f'value="{SIGMOID_WRONG}"' in html and 'data-verdict="incorrect"' in html


def test_progress_reaches_the_track_page_and_the_dashboard(client, student, sigmoid, eager):
    client.force_login(student)
    client.post(reverse("track_enrol", args=["pipeline"]))

    def pages() -> tuple[str, str]:
        track = client.get(reverse("track_detail", args=["pipeline"])).content.decode()
        return track, client.get(reverse("dashboard")).content.decode()

    for answer in ("", SIGMOID_WRONG):  # before any answer, and after a wrong one
        if answer:
            client.post(url(sigmoid), {"answer": answer})
        track, dashboard = pages()
        assert "You have solved 0 of 1 exercises." in track and "0/1 solved" in track
        assert "0/1 exercises" in dashboard and "1/1 exercises" not in dashboard
    client.post(url(sigmoid), {"answer": SIGMOID_RIGHT})
    assert ExerciseProgress.objects.get(user=student, exercise=sigmoid).solved
    track, dashboard = pages()
    assert "You have solved 1 of 1 exercises." in track and "1/1 solved" in track
    assert "1/1 exercises" in dashboard and "0/1 exercises" not in dashboard


def test_an_oversized_answer_is_refused_and_kept(client, student, sigmoid, settings):
    settings.GRADER_ENGINE = replace(settings.GRADER_ENGINE, max_answer_chars=50)
    client.force_login(student)
    answer = "x + " * 20
    response = client.post(url(sigmoid), {"answer": answer})
    assert response.status_code == 413
    html = response.content.decode()
    assert 'data-error="too_large"' in html and "the limit is 50" in html
    # Offered back in a form that sends it to the exercise again.
    assert f'name="answer" rows="6" spellcheck="false">{answer}</textarea>' in html
    assert f'action="{url(sigmoid)}"' in html
    assert not Submission.objects.exists()


def test_an_empty_answer_is_refused(client, student, sigmoid):
    client.force_login(student)
    response = client.post(url(sigmoid), {"answer": "  "}, **HTMX)
    assert response.status_code == 400
    assert 'data-error="empty"' in response.content.decode()
    assert not Submission.objects.exists()


def test_a_spent_budget_is_explained_and_keeps_the_answer(client, student, sigmoid, settings):
    # A 6 s bucket holds one symbolic answer's 5 s deadline: the second waits for the refill.
    settings.GRADER_BUDGET_SECONDS, settings.GRADER_BUDGET_WINDOW_SECONDS = 6.0, 60.0
    client.force_login(student)
    client.post(url(sigmoid), {"answer": SIGMOID_WRONG})
    response = client.post(url(sigmoid), {"answer": "exp(x)"})
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 41
    html = response.content.decode()
    assert "used up the grading time" in html and ">exp(x)</textarea>" in html
    assert "You can check again in" in html
    htmx = client.post(url(sigmoid), {"answer": "exp(x)"}, **HTMX)
    assert htmx.status_code == 429 and htmx["Retry-After"]
    # The partial goes inside the targeted #result, which stays for the next check.
    assert htmx["HX-Reswap"] == "innerHTML"
    assert htmx.content.decode().strip().startswith('<p class="message message-error')
    assert 'data-error="rate_limited"' in htmx.content.decode()
    assert Submission.objects.count() == 1


def test_a_student_sees_only_their_own_submissions(client, student, outsider, sigmoid):
    client.force_login(student)
    client.post(url(sigmoid), {"answer": "42*exp(x)"})
    submission = Submission.objects.get()
    client.force_login(outsider)
    assert client.get(submission.get_absolute_url()).status_code == 404
    assert client.get(reverse("submission_status", args=[submission.pk])).status_code == 404
    assert "42*exp(x)" not in client.get(url(sigmoid)).content.decode()


def test_code_answers_show_per_test_results(client, student, relu):
    client.force_login(student)
    response = client.get(url(relu))
    assert "relu_backward(x, grad_out) -&gt; ndarray" in response.content.decode()
    Submission.objects.create(
        user=student,
        exercise=relu,
        seed=1,
        answer="def relu_backward(x, g): ...",
        queue="code",
        status=Submission.Status.FINISHED,
        created_at=response.wsgi_request.user.date_joined,
        enqueued_at=response.wsgi_request.user.date_joined,
        verdict={
            "status": "incorrect",
            "score": 0.5,
            "messages": [{"code": "tests_failed", "text": "1 of 2 tests failed."}],
            "tests": [
                {
                    "name": "small matrix",
                    "passed": True,
                    "message": "",
                    "hidden": False,
                    "score": 1,
                },
                {
                    "name": "large",
                    "passed": False,
                    "message": "wrong at [3, 1]",
                    "hidden": True,
                    "score": 0,
                },
            ],
        },
        attempt_number=1,
    )
    html = client.get(url(relu)).content.decode()
    assert "1 of 2 tests passed" in html
    assert "small matrix" in html and "Details of hidden tests are not shown." in html
    assert "wrong at [3, 1]" not in html


def settle_later(delay: float, submission: Submission | None = None) -> threading.Thread:
    """Grade a submission (or the first one stored) from another thread after delay seconds."""

    def work() -> None:
        time.sleep(delay)
        found = submission
        for _ in range(200):
            found = found or Submission.objects.first()
            if found is not None:
                break
            time.sleep(0.025)
        settle(found)
        connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    return thread


def test_a_status_request_is_held_until_the_verdict(
    client, student, sigmoid, transactional_db, verdicts_heard
):
    client.force_login(student)
    client.post(url(sigmoid), {"answer": SIGMOID_RIGHT}, **HTMX)
    submission = Submission.objects.get()
    worker = settle_later(0.3, submission)
    html = client.get(reverse("submission_status", args=[submission.pk]), **HTMX).content.decode()
    worker.join()
    # Asked before the verdict existed, answered with it: the request was held until it came.
    # How soon after the verdict it answers is a latency, measured by benchmarks/bench_pipeline.py.
    assert 'data-verdict="correct"' in html and 'data-status="finished"' in html
    assert "hx-get" not in html.split('id="result"', 1)[1].split(">", 1)[0]  # no more polling


def test_a_held_status_request_ends_pending_and_asks_again(client, student, sigmoid, settings):
    settings.GRADER_STATUS_WAIT_SECONDS = 0.3
    client.force_login(student)
    client.post(url(sigmoid), {"answer": SIGMOID_RIGHT}, **HTMX)
    submission = Submission.objects.get()
    started = time.monotonic()
    html = client.get(reverse("submission_status", args=[submission.pk]), **HTMX).content.decode()
    assert time.monotonic() - started >= 0.25
    assert 'data-status="queued"' in html and 'hx-trigger="load delay:100ms"' in html


def test_every_middleware_can_run_in_an_async_chain(settings):
    # One sync-only middleware would run the async status views behind it in a thread that
    # waits with them, under the ASGI server.
    for dotted in settings.MIDDLEWARE:
        middleware = import_string(dotted)
        assert getattr(middleware, "async_capable", False), f"{dotted} is sync only"


def test_held_status_requests_hold_no_thread(student, sigmoid, settings, transactional_db):
    """Several learners wait at once while another page is served, on one event loop.

    The async client runs the async middleware chain, as the ASGI server does, and its sync work
    goes through one thread (Django's thread-sensitive executor): a wait that held that thread
    would let neither a second wait nor the page through until it ended.
    """
    if not services.notify_client(settings.GRADER_NOTIFY_REDIS_URL):
        pytest.skip("no Redis to announce verdicts on")
    settings.GRADER_STATUS_WAIT_SECONDS = 30
    pending = pending_submissions(student, sigmoid, 3)
    notify_url = settings.GRADER_NOTIFY_REDIS_URL

    async def scenario() -> tuple[list[str], bool, int]:
        client = AsyncClient()
        await client.aforce_login(student)
        waits = [
            asyncio.ensure_future(client.get(reverse("submission_status", args=[s.pk]), **HTMX))
            for s in pending
        ]
        for _ in range(400):
            if announcements.waiting(notify_url) >= {s.pk for s in pending}:
                break
            await asyncio.sleep(0.025)
        page = await client.get(url(sigmoid))
        waiting_while_served = not any(w.done() for w in waits)
        for submission in pending:
            await sync_to_async(settle)(submission)
        replies = await asyncio.gather(*waits)
        # The executor thread's own connection (connection resolves per thread).
        await sync_to_async(lambda: connection.close())()
        return [r.content.decode() for r in replies], waiting_while_served, page.status_code

    bodies, waiting_while_served, page_status = asyncio.run(scenario())
    assert page_status == 200 and waiting_while_served
    assert all('data-verdict="correct"' in body for body in bodies)


@pytest.mark.parametrize("earlier", [1, 30])
def test_checking_an_answer_reads_a_fixed_number_of_rows(
    client, student, sigmoid, earlier, settings, django_assert_max_num_queries, transactional_db
):
    """A class checks answers at once: each check stays small, however long the history.

    The held check: session, user, one transaction (draft, budget, submission, ticket; with
    BEGIN and COMMIT, as outside a test's transaction), then progress, hints seen and the history
    for the answer; the exercise is the process's copy. Asking again: session, user, the
    submission with its exercise, progress, hints seen and the history.
    """
    settings.GRADER_BUDGET_SECONDS = 10**6  # the budget has tests of its own
    client.force_login(student)
    for _ in range(earlier):
        client.post(check_url(sigmoid), {"answer": SIGMOID_WRONG}, **HTMX)
        settle(Submission.objects.latest("id"), Status.INCORRECT)
    with django_assert_max_num_queries(11):
        client.post(check_url(sigmoid), {"answer": SIGMOID_RIGHT}, **HTMX)
    submission = Submission.objects.latest("id")
    settle(submission)
    with django_assert_max_num_queries(6):
        html = client.get(reverse("submission_status", args=[submission.pk]), **HTMX)
    assert 'data-verdict="correct"' in html.content.decode()


def check_url(exercise: Exercise) -> str:
    return reverse("answer_check", args=[exercise.slug])


def test_checking_from_the_page_answers_with_the_verdict(
    client, student, sigmoid, transactional_db, verdicts_heard
):
    """The page's htmx post is held until the verdict: one request per check, not two."""
    client.force_login(student)
    grader = settle_later(0.3)
    html = client.post(check_url(sigmoid), {"answer": SIGMOID_RIGHT}, **HTMX).content.decode()
    grader.join()
    assert html.lstrip().startswith('<section id="result"')
    assert 'data-verdict="correct"' in html and "hx-get" not in html.split("</section>")[0]
    # Progress, hints, solution and history come with it, as with a held status request.
    assert 'id="progress" class="progress-line exercise-progress" hx-swap-oob="true"' in html
    assert 'id="history" class="exercise-panel history"' in html


def test_a_check_heard_on_redis_reads_its_answer_again_only_for_the_verdict(
    client, student, sigmoid, transactional_db, verdicts_announced, monkeypatch
):
    """The check has just stored the answer: no look before the worker announces its verdict."""
    looks: list[int] = []
    look = selectors._look

    def counted(submission: Submission, *rest: object) -> bool:
        looks.append(submission.pk)
        return look(submission, *rest)

    monkeypatch.setattr(selectors, "_look", counted)
    client.force_login(student)
    grader = settle_later(0.3)
    html = client.post(check_url(sigmoid), {"answer": SIGMOID_RIGHT}, **HTMX).content.decode()
    grader.join()
    assert 'data-verdict="correct"' in html
    assert len(looks) == 1


def test_a_check_not_graded_in_time_answers_pending_and_asks_again(
    client, student, sigmoid, settings
):
    settings.GRADER_STATUS_WAIT_SECONDS = 0.2
    client.force_login(student)
    html = client.post(check_url(sigmoid), {"answer": SIGMOID_RIGHT}, **HTMX).content.decode()
    submission = Submission.objects.get()
    assert 'data-status="queued"' in html
    assert f'hx-get="{reverse("submission_status", args=[submission.pk])}"' in html
    assert 'hx-trigger="load delay:100ms"' in html


def test_a_refused_check_keeps_the_answer_as_the_draft(client, student, sigmoid, settings):
    settings.GRADER_BUDGET_SECONDS = 6.0  # the first answer sets aside 5 s: the second is refused
    settings.GRADER_STATUS_WAIT_SECONDS = 0
    client.force_login(student)
    client.post(check_url(sigmoid), {"answer": SIGMOID_RIGHT}, **HTMX)
    response = client.post(check_url(sigmoid), {"answer": SIGMOID_WRONG}, **HTMX)
    assert response.status_code == 429 and response["Retry-After"]
    assert Submission.objects.count() == 1
    assert AnswerDraft.objects.get().text == SIGMOID_WRONG


def test_checking_is_guarded_like_the_page(client, student, outsider, instructor, sigmoid):
    assert client.post(check_url(sigmoid), {"answer": "x"}, **HTMX).status_code == 302  # log in
    guarded = Client(enforce_csrf_checks=True)
    guarded.force_login(student)
    assert guarded.post(check_url(sigmoid), {"answer": "x"}, **HTMX).status_code == 403
    client.force_login(student)
    assert client.get(check_url(sigmoid)).status_code == 405
    sigmoid.published = False
    sigmoid.save()
    assert client.post(check_url(sigmoid), {"answer": "x"}, **HTMX).status_code == 404
    assert not Submission.objects.exists()
    # Without htmx it lands on the submission's page, as the page's own form does.
    client.force_login(instructor)
    response = client.post(check_url(sigmoid), {"answer": SIGMOID_RIGHT})
    assert response["Location"] == Submission.objects.get().get_absolute_url()


def test_the_page_checks_through_the_held_request(client, student, sigmoid):
    client.force_login(student)
    html = client.get(url(sigmoid)).content.decode()
    form = html.split('id="answer-form"', 1)[1].split(">", 1)[0]
    assert f'hx-post="{check_url(sigmoid)}"' in form
    assert f'action="{url(sigmoid)}"' in html  # without JavaScript
    assert "Checking your answer…" in html
