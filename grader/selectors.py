"""Reads for the grader's pages: an exercise as one learner sees it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from course.models import Exercise, ExerciseProgress, User
from grader import engine


@dataclass
class ExerciseView:
    exercise: Exercise
    seed: int
    variant: dict[str, Any]
    progress: ExerciseProgress | None
    hints: list[str]
    hints_locked: int

    @property
    def wrong_attempts(self) -> int:
        if self.progress is None:
            return 0
        return self.progress.attempts - (1 if self.progress.solved else 0)


def unlocked_hints(exercise: Exercise, wrong_attempts: int) -> list[str]:
    """Return the hints unlocked so far: the first after hint_after wrong attempts, then one per attempt."""
    unlocked = max(0, wrong_attempts - exercise.hint_after + 1)
    return exercise.hints[:unlocked]


def exercise_view(*, exercise: Exercise, user: User, seed: int | None = None) -> ExerciseView:
    """Assemble what the exercise page shows one learner: their variant, progress and hints."""
    seed = exercise.seed_for(user.pk) if seed is None else seed
    progress = ExerciseProgress.objects.filter(user=user, exercise=exercise).first()
    view = ExerciseView(
        exercise=exercise,
        seed=seed,
        variant=engine.variant(exercise.spec, seed),
        progress=progress,
        hints=[],
        hints_locked=0,
    )
    view.hints = unlocked_hints(exercise, view.wrong_attempts)
    view.hints_locked = len(exercise.hints) - len(view.hints)
    return view
