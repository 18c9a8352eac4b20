"""The instructor's exercise index and preview: access, variants, reference and the test bench."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.urls import reverse

from config.celery import app
from course.models import Exercise, Lesson, Module
from grader import engine, services
from grader.models import BenchRun, Submission
from tests.grader.conftest import wait_for

# The bench's checks go through Celery after their row commits: these tests commit for real, and
# grade in process through the registered task (task_always_eager), except where a real worker
# process is started.
pytestmark = pytest.mark.django_db(transaction=True)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def eager(request: pytest.FixtureRequest) -> Iterator[None]:
    if "start_worker" in request.fixturenames or "broker" in request.fixturenames:
        yield
        return
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


SCALED_SQUARE: dict[str, Any] = {
    "id": "5b0c7a7e-7f55-4f7e-9a53-2d1f6c1e9a10",
    "title": "Derivative of a scaled square",
    "kind": "expression",
    "prompt": "Differentiate ${{a}} x^2$ with respect to $x$.",
    "parameters": {"a": {"integer": [2, 9]}},
    "variables": {"x": {"domain": "real", "sample": [-3, 3]}},
    "answer": "2*a*x",
    "also_correct": ["a*x + a*x"],
    "mistakes": [
        {"answer": "a*x", "feedback": "The power rule brings the exponent down as a factor."}
    ],
    "hints": ["Use the power rule.", "Keep the constant factor."],
}


@pytest.fixture
def lesson(db: None) -> Lesson:
    module = Module.objects.create(slug="previews", title="Previews", skill="Authoring")
    return Lesson.objects.create(module=module, slug="drafts", title="Drafts", order=1)


@pytest.fixture
def draft(lesson: Lesson) -> Exercise:
    """An unpublished exercise with a parameter, so each seed is a different variant."""
    return Exercise.objects.create(
        lesson=lesson,
        slug="scaled-square",
        title="Derivative of a scaled square",
        kind="expression",
        published=False,
        spec=SCALED_SQUARE,
    )


def url(exercise: Exercise, **query: Any) -> str:
    base = reverse("exercise_preview", args=[exercise.slug])
    return base + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def a_of(seed: int) -> int:
    return engine.variant(SCALED_SQUARE, seed)["parameters"]["a"]


# Who may open the index and the preview (and use the bench) is in tests/test_permissions.py.


def test_the_index_lists_unpublished_exercises_with_kind_and_lesson(
    client, instructor, draft, lesson
):
    Exercise.objects.create(
        lesson=lesson,
        slug="retired-one",
        title="Gone",
        kind="expression",
        spec=SCALED_SQUARE,
        retired_at="2026-01-01T00:00:00Z",
    )
    client.force_login(instructor)
    html = client.get(reverse("instructor_exercise_index")).content.decode()
    assert f'href="{url(draft)}"' in html
    assert "Expression" in html and "unpublished" in html
    assert "Previews ›" in html and "Drafts" in html
    assert "retired-one" not in html


def test_it_shows_the_variant_of_the_chosen_seed(client, instructor, draft):
    seeds = {a_of(s): s for s in range(1, 40)}
    (a1, seed1), (a2, seed2) = list(seeds.items())[:2]
    client.force_login(instructor)
    first = client.get(url(draft, seed=seed1)).content.decode()
    second = client.get(url(draft, seed=seed2)).content.decode()
    assert f'data-seed="{seed1}"' in first and f'<dd data-parameter="a">{a1}</dd>' in first
    assert f'Differentiate <span class="math math-inline">{a1} x^2</span>' in first
    assert f'<dd data-parameter="a">{a2}</dd>' in second
    assert f'Differentiate <span class="math math-inline">{a2} x^2</span>' in second
    reference = engine.variant(SCALED_SQUARE, seed2)
    assert reference["reference"] in second
    assert reference["reference_latex"] in second


def test_it_defaults_to_seed_one_and_explains_a_bad_seed(client, instructor, draft):
    client.force_login(instructor)
    assert 'data-seed="1"' in client.get(url(draft)).content.decode()
    html = client.get(url(draft, seed="abc")).content.decode()
    assert 'data-seed="1"' in html and "is not a whole number" in html
    html = client.get(url(draft, seed=-4)).content.decode()
    assert 'data-seed="1"' in html and "Seeds run from 0" in html


def test_it_shows_the_variant_a_learner_gets(client, instructor, student, draft):
    client.force_login(instructor)
    html = client.get(url(draft, student=student.username)).content.decode()
    assert f'data-seed="{draft.seed_for(student.pk)}"' in html
    assert f"Showing the variant {student.username} gets." in html
    html = client.get(url(draft, student="nobody")).content.decode()
    assert "There is no user named" in html


def test_the_bench_shows_a_known_mistakes_diagnosis(client, instructor, draft):
    client.force_login(instructor)
    response = client.post(url(draft, seed=3), {"answer": "a*x", "seed": 3}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert 'id="bench-result"' in html and 'data-verdict="incorrect"' in html
    assert "The power rule brings the exponent down as a factor." in html
    assert "Diagnosis:" in html
    assert not Submission.objects.exists()
    assert BenchRun.objects.get().status == BenchRun.Status.FINISHED  # graded through the task


def test_the_bench_grades_with_the_chosen_variant(client, instructor, draft):
    """The same typed number is right for one variant and wrong for another."""
    seeds = {a_of(s): s for s in range(1, 40)}
    (a1, seed1), (_, seed2) = list(seeds.items())[:2]
    client.force_login(instructor)
    right = client.post(url(draft), {"answer": f"{2 * a1}*x", "seed": seed1}, **HTMX)
    wrong = client.post(url(draft), {"answer": f"{2 * a1}*x", "seed": seed2}, **HTMX)
    assert 'data-verdict="correct"' in right.content.decode()
    assert 'data-verdict="incorrect"' in wrong.content.decode()


def test_the_bench_works_without_javascript(client, instructor, draft):
    client.force_login(instructor)
    response = client.post(url(draft, seed=2), {"answer": "2*a*x", "seed": 2})
    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html
    assert 'data-verdict="correct"' in html and 'value="2*a*x"' in html
    assert 'data-seed="2"' in html


def test_the_bench_refuses_empty_and_oversized_answers(client, instructor, draft, settings):
    settings.GRADER_ENGINE = replace(settings.GRADER_ENGINE, max_answer_chars=50)
    client.force_login(instructor)
    empty = client.post(url(draft), {"answer": "  ", "seed": 1}, **HTMX).content.decode()
    assert "Type an answer first." in empty and 'data-verdict="invalid"' in empty
    large = client.post(url(draft), {"answer": "x+" * 40, "seed": 1}, **HTMX).content.decode()
    assert "At most 50 characters." in large


def test_it_lists_the_files_answers_and_hints(client, instructor, draft):
    client.force_login(instructor)
    html = client.get(url(draft)).content.decode()
    assert "a*x + a*x" in html and "also correct" in html
    assert "known mistake" in html and "The power rule brings the exponent down" in html
    assert "Use the power rule." in html and "Keep the constant factor." in html


def test_an_unknown_exercise_is_not_found(client, instructor):
    client.force_login(instructor)
    assert client.get(reverse("exercise_preview", args=["no-such-exercise"])).status_code == 404


def test_a_spec_that_cannot_build_a_variant_is_shown_not_crashed(client, instructor, draft):
    Exercise.objects.filter(pk=draft.pk).update(
        spec={**SCALED_SQUARE, "parameters": {"a": {"integer": [9, 2]}}}
    )
    client.force_login(instructor)
    response = client.get(url(draft))
    assert response.status_code == 200
    assert "This variant cannot be built" in response.content.decode()


def test_it_previews_the_file_on_disk_before_a_sync(client, instructor, draft, settings, tmp_path):
    settings.EXERCISES_DIR = tmp_path
    path = tmp_path / "previews" / "01-drafts" / "scaled-square.yaml"
    path.parent.mkdir(parents=True)
    edited = {**SCALED_SQUARE, "prompt": "Edited: differentiate ${{a}} x^2$."}
    path.write_text(yaml.safe_dump(edited))
    Exercise.objects.filter(pk=draft.pk).update(source_path=str(path))
    client.force_login(instructor)
    synced = client.get(url(draft)).content.decode()
    assert "The file on disk has changed since the last sync" in synced
    assert "Edited:" not in synced
    from_file = client.get(url(draft, source="file")).content.decode()
    assert "Showing the file on disk" in from_file and "Edited: differentiate" in from_file
    path.write_text(yaml.safe_dump(SCALED_SQUARE))
    assert "changed since the last sync" not in client.get(url(draft)).content.decode()


def test_it_never_reads_files_outside_the_course_folder(
    client, instructor, draft, settings, tmp_path
):
    settings.EXERCISES_DIR = tmp_path / "course"
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(yaml.safe_dump({**SCALED_SQUARE, "prompt": "Outside"}))
    Exercise.objects.filter(pk=draft.pk).update(source_path=str(outside))
    client.force_login(instructor)
    response = client.get(url(draft, source="file"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Outside" not in html and "changed since the last sync" not in html
    assert "with respect to" in html  # the synced prompt, shown instead


def test_a_code_exercise_shows_its_reference_and_grades_code(client, instructor, lesson):
    relu_file = next(Path(__file__).resolve().parents[2].glob("exercises/*/*/relu-backward.yaml"))
    spec = yaml.safe_load(relu_file.read_text())
    exercise = Exercise.objects.create(
        lesson=lesson, slug="relu-preview", title="ReLU", kind="code", spec=spec
    )
    client.force_login(instructor)
    html = client.get(url(exercise)).content.decode()
    assert "return grad_out * (x &gt; 0)" in html and "Try it in the bench" in html
    mistake = spec["mistakes"][1]
    response = client.post(url(exercise), {"answer": mistake["code"], "seed": 1}, **HTMX)
    html = response.content.decode()
    assert 'data-verdict="incorrect"' in html
    assert "forgot the chain rule" in html


def test_the_bench_is_graded_by_a_worker_process(client, instructor, draft, start_worker):
    worker = start_worker()
    client.force_login(instructor)
    response = client.post(url(draft, seed=2), {"answer": "2*a*x", "seed": 2}, **HTMX)
    assert 'data-verdict="correct"' in response.content.decode()
    run = BenchRun.objects.get()
    assert run.worker.startswith("it0@")
    assert "grade_bench_run[" in worker.output()


def test_without_a_worker_the_bench_says_so_and_grades_nothing_itself(
    client, instructor, draft, broker, settings
):
    settings.GRADER_BENCH_WAIT_SECONDS = 0.3
    client.force_login(instructor)
    response = client.post(url(draft, seed=2), {"answer": "2*a*x", "seed": 2}, **HTMX)
    html = response.content.decode()
    assert 'data-verdict="error"' in html and "No grader worker answered" in html
    assert BenchRun.objects.get().status == BenchRun.Status.ERROR


def test_the_bench_is_a_lane_ahead_of_learners_answers(instructor, student, draft, start_worker):
    waiting = [
        services.submission_create(user=student, exercise=draft, answer="2*a*x") for _ in range(3)
    ]
    run = services.bench_run_create(
        user=instructor, exercise=draft, spec=draft.spec, answer="2*a*x", seed=1
    )
    start_worker()  # the broker now holds three learners' answers, then the bench's check
    wait_for(
        lambda: not Submission.objects.filter(status__in=["queued", "running"]).exists(),
        timeout=60,
        what="the learners' answers to be graded",
    )
    run.refresh_from_db()
    assert run.status == BenchRun.Status.FINISHED
    claimed = Submission.objects.filter(pk__in=[s.pk for s in waiting]).values_list(
        "claimed_at", flat=True
    )
    assert run.finished_at is not None and all(run.finished_at < at for at in claimed)
