"""Reads for instructor insight: how each exercise is going, from the graded submissions."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Max, Min, Q
from django.db.models.fields.json import KT

from course.models import Exercise, StudyGroup, Track
from grader.models import Submission

AUDIT_DISAGREEMENT = "audit_disagreement"
NO_DIAGNOSIS = "(no diagnosis)"
ANSWERS_PER_DIAGNOSIS = 5
ANSWER_DISPLAY_CHARS = 300


def _counted() -> Q:
    """Submissions that used an attempt: graded correct, incorrect or timed out."""
    return Q(status=Submission.Status.FINISHED, attempt_number__isnull=False)


def _flagged(flag: str) -> Q:
    # JSON "contains" on a list is not portable to SQLite; the flags list's JSON text is.
    return Q(flags_text__contains=f'"{flag}"')


@dataclass
class ExerciseStats:
    exercise: Exercise
    attempts: int = 0
    correct: int = 0
    learners: int = 0
    solvers: int = 0
    attempts_to_solve: list[int] = field(default_factory=list)
    flagged: int = 0

    @property
    def success_rate(self) -> float | None:
        """Return the share of counted attempts that were correct, in percent."""
        return 100 * self.correct / self.attempts if self.attempts else None

    @property
    def solve_rate(self) -> float | None:
        """Return the share of learners who tried and went on to solve it, in percent."""
        return 100 * self.solvers / self.learners if self.learners else None

    @property
    def median_attempts_to_solve(self) -> float | None:
        return statistics.median(self.attempts_to_solve) if self.attempts_to_solve else None


def exercise_stats(*, exercises: list[Exercise]) -> list[ExerciseStats]:
    """Return attempts, success rate and median attempts to solve per exercise (three queries)."""
    stats = {e.pk: ExerciseStats(exercise=e) for e in exercises}
    counted = Submission.objects.filter(_counted(), exercise_id__in=list(stats))
    for row in counted.values("exercise_id").annotate(
        attempts=Count("id"),
        correct=Count("id", filter=Q(verdict__status="correct")),
        learners=Count("user_id", distinct=True),
    ):
        entry = stats[row["exercise_id"]]
        entry.attempts, entry.correct, entry.learners = (
            row["attempts"],
            row["correct"],
            row["learners"],
        )
    # The attempt number of each learner's first correct answer is their attempts to solve.
    for row in (
        counted.filter(verdict__status="correct")
        .values("exercise_id", "user_id")
        .annotate(first=Min("attempt_number"))
    ):
        entry = stats[row["exercise_id"]]
        entry.solvers += 1
        entry.attempts_to_solve.append(row["first"])
    flagged = (
        Submission.objects.filter(status=Submission.Status.FINISHED, exercise_id__in=list(stats))
        .annotate(flags_text=KT("verdict__flags"))
        .filter(_flagged(AUDIT_DISAGREEMENT))
        .values("exercise_id")
        .annotate(n=Count("id"))
    )
    for row in flagged:
        stats[row["exercise_id"]].flagged = row["n"]
    return list(stats.values())


def insight_exercises() -> list[Exercise]:
    """Return every reachable exercise in course order, with its lesson and module."""
    return list(
        Exercise.objects.reachable()
        .select_related("lesson__module")
        .order_by("lesson__module__title", "lesson__order", "order", "slug")
    )


@dataclass
class FlaggedExercise:
    exercise: Exercise
    submissions: int
    last_seen: datetime


def audit_disagreements() -> list[FlaggedExercise]:
    """Return exercises whose symbolic audit disagreed with the numeric verdict, worst first."""
    rows = list(
        Submission.objects.filter(status=Submission.Status.FINISHED)
        .annotate(flags_text=KT("verdict__flags"))
        .filter(_flagged(AUDIT_DISAGREEMENT))
        .values("exercise_id")
        .annotate(n=Count("id"), last=Max("finished_at"))
        .order_by("-n", "exercise_id")
    )
    exercises = Exercise.objects.select_related("lesson__module").in_bulk(
        [r["exercise_id"] for r in rows]
    )
    return [
        FlaggedExercise(
            exercise=exercises[r["exercise_id"]], submissions=r["n"], last_seen=r["last"]
        )
        for r in rows
    ]


@dataclass
class WrongAnswer:
    answer: str
    count: int
    truncated: bool


@dataclass
class DiagnosisGroup:
    code: str
    count: int
    share: float  # percent of the exercise's wrong attempts
    answers: list[WrongAnswer]


def _normalise(answer: str) -> str:
    """Group answers that differ only in spacing."""
    return " ".join(answer.split())


def wrong_answers_by_diagnosis(*, exercise: Exercise, limit: int = 5000) -> list[DiagnosisGroup]:
    """Return the most common diagnoses of wrong attempts, each with its most common answers.

    Reads at most `limit` recent wrong attempts, grouped in the database by diagnosis and answer.
    """
    wrong = (
        Submission.objects.filter(_counted(), exercise=exercise)
        .exclude(verdict__status="correct")
        .annotate(diagnosis=KT("verdict__diagnosis"))
    )
    per_code: dict[str, Counter[str]] = defaultdict(Counter)
    totals: Counter[str] = Counter()
    for row in wrong.values("diagnosis", "answer").annotate(n=Count("id")).order_by("-n")[:limit]:
        # A JSON null reads back as SQL NULL on PostgreSQL but as the text "null" on SQLite.
        code = row["diagnosis"] if row["diagnosis"] not in (None, "", "null") else NO_DIAGNOSIS
        per_code[code][_normalise(row["answer"])] += row["n"]
        totals[code] += row["n"]
    everything = sum(totals.values())
    groups = []
    for code, count in totals.most_common():
        answers = [
            WrongAnswer(
                answer=answer[:ANSWER_DISPLAY_CHARS],
                count=n,
                truncated=len(answer) > ANSWER_DISPLAY_CHARS,
            )
            for answer, n in per_code[code].most_common(ANSWERS_PER_DIAGNOSIS)
        ]
        groups.append(
            DiagnosisGroup(code=code, count=count, share=100 * count / everything, answers=answers)
        )
    return groups


def flagged_submissions(*, exercise: Exercise, limit: int = 20) -> list[Submission]:
    """Return the latest submissions of an exercise whose audit disagreed with the verdict."""
    return list(
        Submission.objects.filter(status=Submission.Status.FINISHED, exercise=exercise)
        .annotate(flags_text=KT("verdict__flags"))
        .filter(_flagged(AUDIT_DISAGREEMENT))
        .order_by("-finished_at")[:limit]
    )


def insight_tracks_and_groups() -> tuple[list[Track], list[StudyGroup]]:
    """Return the live tracks and the study groups (with member counts) for progress tables."""
    tracks = list(Track.objects.live().order_by("order"))
    groups = list(
        StudyGroup.objects.select_related("track")
        .annotate(member_count=Count("memberships"))
        .order_by("track__order", "name")[:500]
    )
    return tracks, groups
