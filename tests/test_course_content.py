"""Every exercise of the real course, end to end through the real grader.

Its reference answer and every other correct form grade correct, every known mistake is rejected
with its feedback, and its variants build and differ: check_course's service over exercises/,
run once for the whole course and reported per exercise, so a failure names the exercise.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.course_check import CheckReport, course_check

COURSE = Path(__file__).resolve().parent.parent / "exercises"
EXERCISE_FILES = sorted(
    path
    for module in COURSE.iterdir()
    if module.is_dir() and not module.name.startswith((".", "_"))
    for lesson in module.iterdir()
    if lesson.is_dir()
    for path in lesson.glob("*.yaml")
)
SEEDS = 3


@pytest.fixture(scope="module")
def report() -> CheckReport:
    return course_check(COURSE, seeds=SEEDS)


def test_the_course_has_exercises() -> None:
    assert len(EXERCISE_FILES) >= 12


def test_the_course_files_around_the_exercises_load(report: CheckReport) -> None:
    assert not report.problems, "\n".join(str(p) for p in report.problems)


@pytest.mark.parametrize("path", EXERCISE_FILES, ids=[p.stem for p in EXERCISE_FILES])
def test_the_exercise_grades_as_its_file_says(report: CheckReport, path: Path) -> None:
    (checked,) = [e for e in report.exercises if e.path == path.resolve()]
    assert checked.ok, "\n".join(str(p) for p in checked.problems)
    assert checked.graded >= SEEDS  # at least the reference, on every seed
