"""sync_course: idempotent, keyed by permanent id, all or nothing."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from course.models import Exercise, ExerciseProgress, Lesson, Track
from course.services import progress_record_verdict

pytestmark = pytest.mark.django_db


def sync(path: Path) -> str:
    out = io.StringIO()
    call_command("sync_course", str(path), stdout=out)
    return out.getvalue()


def test_it_adds_everything_then_nothing(course_dir: Path) -> None:
    first = sync(course_dir)
    assert "added exercise square-derivative" in first
    assert "5 added, 0 changed, 0 retired" in first.splitlines()[-1]
    assert Track.objects.get().modules.get().lessons.count() == 2
    assert "0 added, 0 changed, 0 retired, 5 unchanged" in sync(course_dir)


def test_it_keeps_progress_when_a_lesson_and_exercise_are_renamed(
    course_dir: Path, student
) -> None:  # noqa: ANN001
    sync(course_dir)
    exercise = Exercise.objects.get(slug="square-derivative")
    progress_record_verdict(
        user=student, exercise=exercise, score=1.0, correct=True, at=timezone.now()
    )
    lesson_dir = course_dir / "basics" / "01-first-steps"
    (lesson_dir / "square-derivative.yaml").rename(lesson_dir / "power-rule.yaml")
    lesson_dir.rename(course_dir / "basics" / "01-getting-started")
    report = sync(course_dir)
    assert "changed exercise power-rule (slug, source_path)" in report
    assert "changed lesson basics/getting-started (slug, source_path)" in report
    renamed = Exercise.objects.get(slug="power-rule")
    assert renamed.pk == exercise.pk
    assert ExerciseProgress.objects.get(user=student, exercise=renamed).solved


def test_it_retires_what_was_deleted_and_revives_it(course_dir: Path) -> None:
    sync(course_dir)
    moved = course_dir.parent / "kept.yaml"
    shutil.move(course_dir / "basics" / "01-first-steps" / "square-derivative.yaml", moved)
    assert "retired exercise square-derivative" in sync(course_dir)
    assert Exercise.objects.live().count() == 0
    assert Exercise.objects.count() == 1
    shutil.move(moved, course_dir / "basics" / "01-first-steps" / "square-derivative.yaml")
    assert "changed exercise square-derivative (retired_at)" in sync(course_dir)
    assert Exercise.objects.live().count() == 1


def test_it_changes_nothing_when_a_file_is_invalid(course_dir: Path) -> None:
    sync(course_dir)
    lesson = course_dir / "basics" / "02-second-steps" / "lesson.md"
    lesson.write_text(lesson.read_text().replace("Chain rule", "The chain rule"))
    broken = course_dir / "basics" / "01-first-steps" / "square-derivative.yaml"
    broken.write_text(broken.read_text().replace("kind: expression", "kind: essay"))
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("sync_course", str(course_dir), stderr=err)
    assert (
        f"{broken}:3: kind must be one of expression, matrix, derivation, code, not 'essay'"
        in err.getvalue()
    )
    assert "The chain rule" not in Lesson.objects.get(slug="second-steps").body


def test_it_renders_lessons_to_sanitised_html(course_dir: Path) -> None:
    sync(course_dir)
    html = Lesson.objects.get(slug="first-steps").body_html
    assert '<span class="math math-inline">\\sigma(x) = \\frac{1}{1+e^{-x}}</span>' in html
    assert '<div class="math math-display">' in html
    assert "<script>" not in html
    assert '<span class="kn">import</span>' in html


def test_each_learner_has_a_stable_seed_per_exercise(course_dir: Path, student, outsider) -> None:  # noqa: ANN001
    sync(course_dir)
    exercise = Exercise.objects.get()
    assert exercise.seed_for(student.pk) == exercise.seed_for(student.pk)
    assert exercise.seed_for(student.pk) != exercise.seed_for(outsider.pk)
    assert 0 <= exercise.seed_for(student.pk) < 2**31


def test_a_relative_and_an_absolute_path_are_the_same_course(
    course_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync(course_dir)
    monkeypatch.chdir(course_dir.parent)
    assert "0 added, 0 changed, 0 retired, 5 unchanged" in sync(Path(course_dir.name))
    stored = Exercise.objects.get().source_path
    assert stored == str(
        course_dir.resolve() / "basics" / "01-first-steps" / "square-derivative.yaml"
    )


def refused(path: Path) -> str:
    """Run sync_course expecting a refusal; return what it printed to stderr."""
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("sync_course", str(path), stderr=err)
    return err.getvalue()


def test_it_refuses_swapped_exercise_file_names(course_dir: Path) -> None:
    lesson = course_dir / "basics" / "01-first-steps"
    first, second = lesson / "square-derivative.yaml", lesson / "cube-derivative.yaml"
    second.write_text(
        first.read_text().replace(
            "44444444-4444-4444-8444-444444444444", "77777777-7777-4777-8777-777777777777"
        )
    )
    sync(course_dir)
    swap = lesson / "swap.yaml"
    first.rename(swap)
    second.rename(first)
    swap.rename(second)
    assert refused(course_dir).splitlines() == [
        f"{second}:1: exercise 'cube-derivative' takes the name of the exercise now at "
        f"{first} (id 77777777-7777-4777-8777-777777777777), which the course still has: "
        "were the two names swapped? A name can pass to another exercise only in a later sync, "
        "after its holder has given it up",
        f"{first}:1: exercise 'square-derivative' takes the name of the exercise now at "
        f"{second} (id 44444444-4444-4444-8444-444444444444), which the course still has: "
        "were the two names swapped? A name can pass to another exercise only in a later sync, "
        "after its holder has given it up",
    ]
    assert Exercise.objects.get(slug="square-derivative").uuid.hex.startswith("4444")


def test_it_refuses_swapped_lesson_folder_names(course_dir: Path) -> None:
    basics = course_dir / "basics"
    sync(course_dir)
    (basics / "01-first-steps").rename(basics / "swap")
    (basics / "02-second-steps").rename(basics / "02-first-steps")
    (basics / "swap").rename(basics / "01-second-steps")
    stderr = refused(course_dir)
    assert (
        f"{basics / '02-first-steps' / 'lesson.md'}:1: lesson 'first-steps' takes the name of "
        f"the lesson now at {basics / '01-second-steps' / 'lesson.md'}"
    ) in stderr
    assert Lesson.objects.get(slug="first-steps").uuid.hex.startswith("3333")


def test_it_refuses_a_duplicate_lesson_slug_without_a_traceback(course_dir: Path) -> None:
    basics = course_dir / "basics"
    sync(course_dir)
    (basics / "02-second-steps").rename(basics / "02-first-steps")
    assert "lesson slug 'first-steps' is also used by" in refused(course_dir)
    assert Lesson.objects.filter(slug="second-steps").exists()


VALIDATED: list[str] = []


def counting_validator(spec: dict) -> list:
    """A spec validator that accepts everything and remembers what it was asked to check."""
    VALIDATED.append(spec["title"])
    return []


def test_it_validates_an_exercise_file_again_only_when_it_changed(
    course_dir: Path, settings
) -> None:  # noqa: ANN001
    settings.COURSE_SPEC_VALIDATOR = f"{__name__}.counting_validator"
    VALIDATED.clear()
    sync(course_dir)
    assert VALIDATED == ["Derivative of a square"]
    assert "0 changed" in sync(course_dir)
    assert VALIDATED == ["Derivative of a square"]  # unchanged: trusted from the stored hash
    exercise = course_dir / "basics" / "01-first-steps" / "square-derivative.yaml"
    exercise.write_text(exercise.read_text() + "\n# a comment changes the bytes\n")
    sync(course_dir)
    assert VALIDATED == ["Derivative of a square"] * 2


def test_a_lesson_is_rendered_again_only_when_its_body_changed(course_dir: Path) -> None:
    sync(course_dir)
    lesson = Lesson.objects.get(slug="first-steps")
    Lesson.objects.filter(pk=lesson.pk).update(body_html="<p>kept</p>")
    sync(course_dir)
    assert Lesson.objects.get(pk=lesson.pk).body_html == "<p>kept</p>"  # not rendered again
    path = course_dir / "basics" / "01-first-steps" / "lesson.md"
    path.write_text(path.read_text() + "\nOne more *line*.\n")
    sync(course_dir)
    assert "<em>line</em>" in Lesson.objects.get(pk=lesson.pk).body_html
