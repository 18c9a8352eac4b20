"""Reads for the instructor's exercise preview (access: course.selectors.access_exercise)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings

from course.models import Exercise, User
from grader import engine
from grader.models import BenchRun

CHECK_SEEDS = (1, 2, 3, 4, 5)  # the seeds check_course uses by default: its reports name them


@dataclass
class LessonGroup:
    module: str
    lesson: str
    lesson_url: str
    exercises: list[Exercise] = field(default_factory=list)


def exercise_index() -> list[LessonGroup]:
    """Return every live exercise, published or not, grouped by module and lesson."""
    exercises = (
        Exercise.objects.reachable()
        .select_related("lesson__module")
        .order_by("lesson__module__title", "lesson__order", "order", "slug")
    )
    groups: list[LessonGroup] = []
    for exercise in exercises:
        lesson = exercise.lesson
        if not groups or groups[-1].lesson_url != lesson.get_absolute_url():
            groups.append(LessonGroup(lesson.module.title, lesson.title, lesson.get_absolute_url()))
        groups[-1].exercises.append(exercise)
    return groups


@dataclass
class PreviewSource:
    """The spec a preview shows: the synced copy students get, or the file as it is now."""

    spec: dict[str, Any]
    from_file: bool
    file_differs: bool
    file_error: str = ""


def preview_source(*, exercise: Exercise, from_file: bool) -> PreviewSource:
    """Return the synced spec, or the file on disk when asked for and readable.

    Reading the file lets an author preview an edit before `sync_course`; students keep the
    synced copy until then, which is why the page says which one it shows.
    """
    on_disk, error = _read_source_file(exercise)
    differs = on_disk is not None and on_disk != exercise.spec
    if from_file and on_disk is not None:
        return PreviewSource(on_disk, from_file=True, file_differs=differs)
    return PreviewSource(exercise.spec, from_file=False, file_differs=differs, file_error=error)


def _read_source_file(exercise: Exercise) -> tuple[dict[str, Any] | None, str]:
    if not exercise.source_path:
        return None, ""
    path = Path(exercise.source_path).resolve()
    root = Path(settings.EXERCISES_DIR).resolve()
    if root not in path.parents or not path.is_file():
        return None, ""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return None, f"The file {path.name} cannot be read: {exc}"
    if not isinstance(data, dict):
        return None, f"The file {path.name} does not hold a mapping of fields."
    return data, ""


def student_seed(*, exercise: Exercise, username: str) -> int | None:
    """Return the variant seed one learner gets, or None when there is no such user."""
    user = User.objects.filter(username=username).first()
    return exercise.seed_for(user.pk) if user is not None else None


@dataclass
class Preview:
    """One variant of an exercise as the instructor sees it."""

    seed: int
    variant: dict[str, Any] | None
    error: str = ""
    known: list[dict[str, Any]] = field(default_factory=list)


def exercise_preview(*, spec: dict[str, Any], seed: int) -> Preview:
    """Build one seed's variant and list the answers the file writes down, to try in the bench."""
    preview = Preview(seed=seed, variant=None, known=_known_answers(spec))
    try:
        preview.variant = dict(engine.variant(spec, seed))
    except Exception as exc:  # noqa: BLE001 - the author's file, shown to the author
        preview.error = f"{type(exc).__name__}: {exc}"
    return preview


def _known_answers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    code = spec.get("kind") in engine.CODE_KINDS
    key = "code" if code else "answer"
    answers = []
    also = spec.get("also_correct") or []
    for item in also if isinstance(also, list) else []:
        text = item.get(key) if isinstance(item, dict) else item
        if text is not None:
            answers.append({"label": "also correct", "answer": str(text), "feedback": ""})
    mistakes = spec.get("mistakes") or []
    for item in mistakes if isinstance(mistakes, list) else []:
        if isinstance(item, dict) and item.get(key) is not None:
            answers.append(
                {
                    "label": "known mistake",
                    "answer": str(item[key]),
                    "feedback": str(item.get("feedback", "")),
                }
            )
    return answers


def bench_run_wait(*, run: BenchRun, timeout: float) -> BenchRun:
    """Return the bench check once a worker has graded it, or as it stands after timeout seconds."""
    deadline = time.monotonic() + timeout
    step = settings.GRADER_STATUS_CHECK_MS / 1000
    while (
        BenchRun.objects.filter(pk=run.pk, status=BenchRun.Status.QUEUED).exists()
        and time.monotonic() + step < deadline
    ):
        time.sleep(step)
    run.refresh_from_db()
    return run
