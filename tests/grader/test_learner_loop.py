"""The loop around an answer: drafts, the worked solution, giving up, Next, and plain refusals."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from config.celery import app
from course.models import Exercise, ExerciseProgress, Lesson, Module, TrackModule
from grader.models import AnswerDraft, Submission
from tests.grader.conftest import SIGMOID_RIGHT, SIGMOID_SPEC, SIGMOID_WRONG, exercise_file_spec

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
SOLUTION = "Write $\\sigma = (1+e^{-x})^{-1}$; the **chain rule** gives $\\sigma(1-\\sigma)$."


@pytest.fixture(autouse=True)
def no_waiting(settings):
    settings.GRADER_STATUS_WAIT_SECONDS = 0


@pytest.fixture
def eager(transactional_db):
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def path(lesson: Lesson) -> list[Exercise]:
    """Three exercises of one track: two in the first lesson, one in a lesson of the next module."""
    spec = {**SIGMOID_SPEC, "hint_after": 0, "solution": SOLUTION}
    first = [
        Exercise.objects.create(
            lesson=lesson,
            slug=f"loop-{n}",
            title=f"Loop {n}",
            kind="expression",
            order=n,
            spec={**spec, "id": f"loop-{n}"},
        )
        for n in (1, 2)
    ]
    track = TrackModule.objects.get(module=lesson.module).track
    module = Module.objects.create(slug="later", title="Later", skill="Later things")
    TrackModule.objects.create(track=track, module=module, order=1)
    later = Lesson.objects.create(module=module, slug="later", title="Later lesson", order=1)
    last = Exercise.objects.create(
        lesson=later,
        slug="loop-3",
        title="Loop 3",
        kind="expression",
        order=1,
        spec={**spec, "id": "loop-3"},
    )
    return [*first, last]


def page(client: Client, exercise: Exercise) -> str:
    return client.get(exercise.get_absolute_url()).content.decode()


def draft_url(exercise: Exercise) -> str:
    return reverse("answer_draft", args=[exercise.slug])


# --- drafts -------------------------------------------------------------------------------------


def test_a_draft_is_saved_and_restored_on_another_device(student, path):
    laptop, phone = Client(), Client()
    laptop.force_login(student)
    phone.force_login(student)
    response = laptop.post(draft_url(path[0]), {"answer": "sigma(x)*(1-"}, **HTMX)
    assert response.status_code == 200 and "Draft saved" in response.content.decode()
    html = page(phone, path[0])
    assert 'value="sigma(x)*(1-"' in html and "Draft restored" in html
    assert phone.get(path[0].get_absolute_url())["Cache-Control"] == "no-store"
    assert 'value=""' in page(phone, path[1])  # a draft belongs to its exercise


def test_saving_a_draft_needs_the_csrf_token_and_a_login(student, path):
    guarded = Client(enforce_csrf_checks=True)
    guarded.force_login(student)
    assert guarded.post(draft_url(path[0]), {"answer": "x"}).status_code == 403
    assert Client().post(draft_url(path[0]), {"answer": "x"}).status_code == 302
    assert not AnswerDraft.objects.exists()


def test_a_draft_over_the_answer_limit_is_refused_and_the_old_one_kept(
    client, student, path, settings
):
    client.force_login(student)
    client.post(draft_url(path[0]), {"answer": "sigma(x)"}, **HTMX)
    too_long = "x" * (settings.GRADER_ENGINE.max_answer_chars + 1)
    response = client.post(draft_url(path[0]), {"answer": too_long}, **HTMX)
    assert response.status_code == 413 and "Not saved" in response.content.decode()
    assert AnswerDraft.objects.get().text == "sigma(x)"


def test_draft_saves_are_bounded_per_learner(client, student, path, settings):
    settings.GRADER_DRAFT_SAVES_PER_MINUTE = 3
    client.force_login(student)
    codes = [
        client.post(draft_url(path[n % 2]), {"answer": f"x + {n}"}, **HTMX).status_code
        for n in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    assert AnswerDraft.objects.get(exercise=path[1]).text == "x + 1"


def test_a_submission_becomes_the_draft_and_a_refused_one_is_kept(client, student, path, settings):
    settings.GRADER_BUDGET_SECONDS = 6.0  # the first answer sets aside 5 s: the second is refused
    client.force_login(student)
    client.post(draft_url(path[0]), {"answer": "half typed"}, **HTMX)
    client.post(path[0].get_absolute_url(), {"answer": SIGMOID_WRONG})
    assert AnswerDraft.objects.get().text == SIGMOID_WRONG
    refused = client.post(path[0].get_absolute_url(), {"answer": "exp(x)"})  # no JavaScript
    assert refused.status_code == 429
    assert AnswerDraft.objects.get().text == "exp(x)"
    assert 'value="exp(x)"' in page(client, path[0])


# --- the solution, giving up and Next -----------------------------------------------------------


def test_giving_up_is_confirmed_recorded_and_shows_the_solution(client, student, path):
    client.force_login(student)
    html = page(client, path[0])
    assert "Show the solution" in html and "Yes, show me the solution" in html
    assert "chain rule</strong>" not in html
    give_up = reverse("exercise_give_up", args=[path[0].slug])
    assert client.get(give_up).status_code == 405
    response = client.post(give_up)
    assert response.status_code == 302 and response["Location"].endswith("#solution")
    progress = ExerciseProgress.objects.get(user=student, exercise=path[0])
    assert progress.gave_up_at is not None and progress.attempts == 0
    html = page(client, path[0])
    assert "chain rule</strong>" in html and "You asked for the solution" in html
    assert 'href="/exercises/loop-2/"' in html and "Next exercise: Loop 2" in html
    first = progress.gave_up_at
    client.post(give_up)
    assert ExerciseProgress.objects.get(pk=progress.pk).gave_up_at == first


def test_a_solved_exercise_shows_the_solution_and_next_across_lessons(client, student, path, eager):
    client.force_login(student)
    client.post(path[1].get_absolute_url(), {"answer": SIGMOID_RIGHT})
    html = page(client, path[1])
    assert "chain rule</strong>" in html and "You asked for the solution" not in html
    assert "Next exercise: Loop 3" in html
    assert "Read the next lesson first: Later lesson" in html
    client.post(path[2].get_absolute_url(), {"answer": SIGMOID_RIGHT})
    html = page(client, path[2])
    assert "That was the last exercise of the" in html and "data-next" not in html


def test_the_verdict_brings_the_solution_with_it(client, student, path, eager):
    client.force_login(student)
    client.post(path[0].get_absolute_url(), {"answer": SIGMOID_RIGHT}, **HTMX)
    submission = Submission.objects.get()
    status = reverse("submission_status", args=[submission.pk])
    html = client.get(status, **HTMX).content.decode()
    assert 'id="solution" class="exercise-panel after-answer" aria-labelledby' in html
    assert 'hx-swap-oob="true"' in html.split('id="solution"')[1].split(">")[0]
    assert "chain rule</strong>" in html and "Next exercise: Loop 2" in html


def test_a_solved_exercise_reopens_on_its_correct_answer(client, student, path, eager):
    client.force_login(student)
    client.post(path[0].get_absolute_url(), {"answer": SIGMOID_RIGHT})
    client.post(path[0].get_absolute_url(), {"answer": SIGMOID_WRONG})
    html = page(client, path[0])
    result = html.split('id="result"')[1].split("</section>")[0]
    assert 'data-verdict="correct"' in result and 'data-verdict="incorrect"' not in result
    latest = Submission.objects.order_by("-created_at", "-id").first()
    assert f'href="{latest.get_absolute_url()}"' in html.split('id="result"')[0]
    assert "Your latest answer" in html
    # The answer box keeps what was last sent (the draft), not the correct answer.
    assert f'value="{SIGMOID_WRONG}"' in html


# --- refusals in plain words --------------------------------------------------------------------


def test_a_transposed_matrix_answer_is_a_wrong_shape_not_an_unread_answer(
    client, student, lesson, eager
):
    spec = exercise_file_spec("least-squares-gradient")
    exercise = Exercise.objects.create(
        lesson=lesson, slug="ls", title="Least squares", kind="matrix", spec=spec
    )
    client.force_login(student)
    client.post(exercise.get_absolute_url(), {"answer": "2 (A x - b)^T A"})
    html = page(client, exercise)
    verdict = html.split('id="result"')[1].split("</section>")[0]
    assert "could not be read" not in verdict
    assert (
        "<strong>Wrong shape — not counted as an attempt</strong>: "
        '<span class="verdict-detail">your answer is 1×n; the gradient with respect to x is n×1 — '
        "transpose?</span>"
    ) in verdict
    assert "We read your answer as" in verdict
    assert ExerciseProgress.objects.filter(user=student, attempts__gt=0).count() == 0


def test_an_unreadable_answer_still_says_it_could_not_be_read(client, student, path, eager):
    client.force_login(student)
    client.post(path[0].get_absolute_url(), {"answer": "sigma(x"})
    assert "Your answer could not be read" in page(client, path[0])


def test_continue_moves_past_a_given_up_exercise_within_its_lesson(client, student, path):
    client.force_login(student)
    client.post(reverse("exercise_give_up", args=[path[0].slug]))
    dashboard = client.get(reverse("dashboard")).content.decode()
    # The learner is working in this lesson already: Continue opens the next exercise itself.
    assert '<a class="button" href="/exercises/loop-2/">Continue</a>' in dashboard
    client.post(reverse("exercise_give_up", args=[path[1].slug]))
    dashboard = client.get(reverse("dashboard")).content.decode()
    # The next step starts a lesson not opened yet: Continue opens that lesson first.
    assert '<a class="button" href="/modules/later/later/?track=pipeline">Continue</a>' in dashboard
