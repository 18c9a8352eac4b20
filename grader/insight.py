"""Reads for instructor insight: how each exercise is going, from the graded submissions."""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Min, Q
from django.db.models.fields.json import KT
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from course.models import Exercise, StudyGroup, Track
from grader.models import Submission

AUDIT_DISAGREEMENT = "audit_disagreement"
NO_DIAGNOSIS = "(no diagnosis)"
KNOWN_MISTAKE = "known_mistake"
# The diagnosis codes of wrong attempts (grader.engine.types and grader.engine.code.judge's
# PRIORITY) in an instructor's words; a code missing here is shown as the code itself.
DIAGNOSIS_LABELS: dict[str, Promise] = {
    NO_DIAGNOSIS: _("No diagnosis"),
    "sign_error": _("Sign error"),
    "constant_factor": _("Off by a constant factor"),
    "constant_offset": _("Off by a constant term"),
    "missing_factor": _("Missing a chain-rule factor"),
    "transpose": _("Transposed"),
    "assumed_symmetry": _("Assumed a symmetric matrix"),
    KNOWN_MISTAKE: _("A listed mistake"),
    "decimal_approximation": _("Decimal approximation of an exact value"),
    "timeout": _("Ran out of time"),
    "exception": _("Raised an exception"),
    "memory_limit": _("Ran out of memory"),
    "output_too_large": _("Returned too much output"),
    "forbidden_operation": _("Used a forbidden operation"),
    "exited": _("Exited before returning"),
    "crashed": _("Crashed"),
    "not_run": _("Did not run"),
    "wrong_type": _("Returned the wrong type"),
    "wrong_shape": _("Returned the wrong shape"),
    "wrong_dtype": _("Returned the wrong data type"),
    "wrong_values": _("Returned wrong values"),
    "mutated_input": _("Changed its input in place"),
    "unstable": _("Numerically unstable"),
    "gradient_check": _("Failed the gradient check"),
    "too_slow": _("Too slow (not vectorised)"),
    "caret_power": _("Used ^ for a power"),
}
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

    @property
    def multiline(self) -> bool:
        """Say whether the answer has lines of its own (code), to be shown as a block."""
        return "\n" in self.answer


@dataclass
class DiagnosisGroup:
    """Wrong attempts with one diagnosis, or one listed mistake of the exercise's file."""

    code: str
    count: int
    share: float  # percent of the exercise's wrong attempts
    answers: list[WrongAnswer]
    mistake: str = ""  # a listed mistake's feedback, when the group is one listed mistake
    mistake_number: int | None = None  # its place in the file's `mistakes:` list, from 1

    @property
    def label(self) -> str:
        """Return the diagnosis in words (the code itself when it has none)."""
        return str(DIAGNOSIS_LABELS.get(self.code, self.code))


@dataclass
class ListedMistake:
    """One entry of the exercise file's `mistakes:` list and how often learners made it."""

    number: int
    answer: str  # the authored wrong answer (an expression or a block of code)
    feedback: str
    count: int


def _normalise(answer: str) -> str:
    """Group answers that differ only in spacing (code keeps its lines and indentation)."""
    if "\n" in answer.strip():
        return "\n".join(line.rstrip() for line in answer.strip("\n").splitlines())
    return " ".join(answer.split())


def _listed_feedback(messages_json: str | None) -> str:
    """Return the feedback of the listed mistake a verdict's messages name, or ""."""
    try:
        messages = json.loads(messages_json or "[]")
    except ValueError:
        return ""
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict) and message.get("code") == KNOWN_MISTAKE:
            return str(message.get("text", "")).strip()
    return ""


def _spec_mistakes(exercise: Exercise) -> list[dict[str, Any]]:
    mistakes = (exercise.spec or {}).get("mistakes") or []
    return [m for m in mistakes if isinstance(m, dict)]


def wrong_answers_by_diagnosis(*, exercise: Exercise, limit: int = 5000) -> list[DiagnosisGroup]:
    """Return the most common diagnoses of wrong attempts, each with its most common answers.

    Each listed mistake of the exercise (recognised by its feedback in the verdict) is a group
    of its own rather than one "known mistake" lump. Reads at most `limit` recent wrong
    attempts, grouped in the database by diagnosis, messages and answer.
    """
    wrong = (
        Submission.objects.filter(_counted(), exercise=exercise)
        .exclude(verdict__status="correct")
        .annotate(diagnosis=KT("verdict__diagnosis"), messages_text=KT("verdict__messages"))
    )
    per_key: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    totals: Counter[tuple[str, str]] = Counter()
    rows = wrong.values("diagnosis", "messages_text", "answer").annotate(n=Count("id"))
    for row in rows.order_by("-n")[:limit]:
        # A JSON null reads back as SQL NULL on PostgreSQL but as the text "null" on SQLite.
        code = row["diagnosis"] if row["diagnosis"] not in (None, "", "null") else NO_DIAGNOSIS
        feedback = _listed_feedback(row["messages_text"])
        key = (KNOWN_MISTAKE if feedback else code, feedback)
        per_key[key][_normalise(row["answer"])] += row["n"]
        totals[key] += row["n"]
    numbers = {
        str(m.get("feedback", "")).strip(): i
        for i, m in enumerate(_spec_mistakes(exercise), start=1)
    }
    everything = sum(totals.values())
    groups = []
    # Most common first; ties in a fixed order: listed mistakes by their place in the file,
    # then diagnoses by code, then the undiagnosed.
    ordered = sorted(
        totals.items(),
        key=lambda item: (
            -item[1],
            numbers.get(item[0][1], len(numbers) + 1),
            item[0][0] == NO_DIAGNOSIS,
            item[0],
        ),
    )
    for (code, feedback), count in ordered:
        answers = [
            WrongAnswer(
                answer=answer[:ANSWER_DISPLAY_CHARS],
                count=n,
                truncated=len(answer) > ANSWER_DISPLAY_CHARS,
            )
            for answer, n in per_key[(code, feedback)].most_common(ANSWERS_PER_DIAGNOSIS)
        ]
        groups.append(
            DiagnosisGroup(
                code=code,
                count=count,
                share=100 * count / everything,
                answers=answers,
                mistake=feedback,
                mistake_number=numbers.get(feedback),
            )
        )
    return groups


def listed_mistakes(*, exercise: Exercise, groups: list[DiagnosisGroup]) -> list[ListedMistake]:
    """Return every mistake the exercise file lists, with how many wrong attempts made each."""
    made = {group.mistake_number: group.count for group in groups if group.mistake_number}
    return [
        ListedMistake(
            number=i,
            answer=str(m.get("answer") or m.get("code") or m.get("diagnosis") or ""),
            feedback=str(m.get("feedback", "")).strip(),
            count=made.get(i, 0),
        )
        for i, m in enumerate(_spec_mistakes(exercise), start=1)
    ]


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
