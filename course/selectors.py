"""Reads and access checks for the course: every view gets its objects through these.

Access goes through one function per object kind (`access_track`, `access_exercise`; groups in
selectors_groups, submissions in grader.selectors), and whether someone may teach is decided by
`can_teach` alone. Each raises 404 for what the user may not know exists, else PermissionDenied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import datetime

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import Http404

from course.catalogue import catalogue, reachable_exercise
from course.compiled import Compiled
from course.models import (
    Enrollment,
    Exercise,
    ExerciseProgress,
    Lesson,
    Module,
    Track,
    User,
)

AnyUser = User | AnonymousUser


def can_teach(user: AnyUser) -> bool:
    """Say whether the user gets the instructor tools (instructors, staff and superusers)."""
    return user.is_authenticated and user.is_instructor


def access_instructor(user: AnyUser) -> User:
    """Return the user if they may teach, else raise PermissionDenied: the instructor tools' gate."""
    if not can_teach(user):
        raise PermissionDenied("Only instructors can do that.")
    return user


def access_track(user: AnyUser, slug: str, *, teach: bool = False) -> Track:
    """Return the live track with this slug, or raise 404.

    Anyone may read a track; `teach=True` asks for its class progress, which is for instructors
    (PermissionDenied before the lookup, so the answer says nothing about which tracks exist).
    """
    if teach:
        access_instructor(user)
    track = Track.objects.live().filter(slug=slug).first()
    if track is None:
        raise Http404("No such track.")
    return track


def track_list() -> list[Track]:
    return list(Track.objects.live().order_by("order"))


def lesson_get(*, module_slug: str, lesson_slug: str) -> Lesson:
    """Return the live lesson, or raise 404."""
    lesson = (
        Lesson.objects.live()
        .select_related("module")
        .filter(module__slug=module_slug, module__retired_at__isnull=True, slug=lesson_slug)
        .first()
    )
    if lesson is None:
        raise Http404("No such lesson.")
    return lesson


def access_exercise(user: AnyUser, slug: str, *, teach: bool = False) -> Exercise:
    """Return the exercise if this user may open it, or raise.

    Published exercises are open to everyone, unpublished ones to instructors only (404 for the
    rest, as if they did not exist). `teach=True` asks for the instructor tools on it — every
    variant, the test bench, class statistics — and refuses everyone else with PermissionDenied.
    An exercise whose lesson or module was retired is gone for everyone.
    """
    if teach:
        access_instructor(user)
    exercise = reachable_exercise(slug)  # this process's copy (course.catalogue)
    if exercise is None or not may_open(user, exercise):
        raise Http404("No such exercise.")
    return exercise


def may_open(user: AnyUser, exercise: Exercise) -> bool:
    """Say whether the user may open a reachable exercise (access_exercise's rule, for one in hand)."""
    return exercise.published or can_teach(user)


def visible_exercises(user: AnyUser) -> Prefetch:
    return Prefetch(
        "exercises",
        queryset=Exercise.objects.live().filter(published=True).order_by("order", "slug"),
        to_attr="visible_exercises",
    )


@dataclass(frozen=True)
class ProgressRow:
    """One exercise's progress for one learner, as the learner's pages read it."""

    id: int
    exercise_id: int
    attempts: int
    best_score: float
    solved_at: datetime | None
    last_attempt_at: datetime | None
    gave_up_at: datetime | None

    @property
    def solved(self) -> bool:
        return self.solved_at is not None

    @property
    def gave_up(self) -> bool:
        return self.gave_up_at is not None


def learner_progress(user: AnyUser) -> dict[int, ProgressRow]:
    """Return the learner's progress rows by exercise id, in one query (a page reads it once)."""
    if not user.is_authenticated:
        return {}
    fields = [f.name for f in dataclass_fields(ProgressRow)]
    return {
        row["exercise_id"]: ProgressRow(**row)
        for row in ExerciseProgress.objects.filter(user=user).values(*fields)
    }


def solved_exercise_ids(user: AnyUser) -> set[int]:
    if not user.is_authenticated:
        return set()
    return set(
        ExerciseProgress.objects.filter(user=user, solved_at__isnull=False).values_list(
            "exercise_id", flat=True
        )
    )


def solved_in(progress: dict[int, ProgressRow]) -> set[int]:
    """Return the solved exercise ids of a learner_progress() result."""
    return {exercise_id for exercise_id, row in progress.items() if row.solved}


@dataclass
class LessonRow:
    lesson: Lesson
    exercises: int
    solved: int

    @property
    def done(self) -> bool:
        return self.exercises > 0 and self.solved == self.exercises


@dataclass
class ModuleRow:
    module: Module
    lessons: list[LessonRow] = field(default_factory=list)

    @property
    def exercises(self) -> int:
        return sum(row.exercises for row in self.lessons)

    @property
    def solved(self) -> int:
        return sum(row.solved for row in self.lessons)

    @property
    def percent(self) -> int:
        return round(100 * self.solved / self.exercises) if self.exercises else 0


def track_modules(track: Track) -> list[Module]:
    """Return the track's live modules in order, with live lessons, published exercises, prerequisites."""
    lessons = Lesson.objects.live().order_by("order").prefetch_related(visible_exercises(None))
    return list(
        track.modules.live()
        .order_by("trackmodule__order")
        .prefetch_related(
            Prefetch("lessons", queryset=lessons, to_attr="live_lessons"),
            Prefetch("prerequisites", queryset=Module.objects.live(), to_attr="live_prerequisites"),
        )
    )


def track_outline(*, track: Track, user: AnyUser) -> list[ModuleRow]:
    """Return the modules and lessons of a track with this learner's solved counts."""
    solved = solved_exercise_ids(user)
    rows = []
    for module in track_modules(track):
        row = ModuleRow(module=module)
        for lesson in module.live_lessons:
            ids = [e.id for e in lesson.visible_exercises]
            row.lessons.append(
                LessonRow(lesson=lesson, exercises=len(ids), solved=len(solved.intersection(ids)))
            )
        rows.append(row)
    return rows


def is_enrolled(*, user: AnyUser, track: Track) -> bool:
    return user.is_authenticated and Enrollment.objects.filter(user=user, track=track).exists()


def enrolled_track_ids(user: AnyUser) -> set[int]:
    if not user.is_authenticated:
        return set()
    return {enrollment.track_id for enrollment in _ENROLLMENTS(user_id=user.pk)}


_ENROLLMENTS = Compiled(
    lambda user_id: Enrollment.objects.filter(user_id=user_id).only("track_id"), user_id=int
)


def lesson_track(
    *, lesson: Lesson, user: AnyUser, requested: str | None, enrolled: set[int] | None = None
) -> Track | None:
    """Choose the track a lesson is read in: the requested one, else an enrolled one, else the first.

    enrolled: the learner's enrolled track ids, when the caller has them already.
    """
    outline = catalogue()
    tracks = [t for t in outline.tracks if lesson.module_id in outline.track_modules.get(t.pk, [])]
    if requested:
        for track in tracks:
            if track.slug == requested:
                return track
    if user.is_authenticated:
        enrolled = enrolled_track_ids(user) if enrolled is None else enrolled
        for track in tracks:
            if track.id in enrolled:
                return track
    return tracks[0] if tracks else None


def lesson_neighbours(
    *, lesson: Lesson, track: Track | None
) -> tuple[Lesson | None, Lesson | None]:
    """Return the lessons before and after this one in the track's reading order."""
    outline = catalogue()
    if track is None:
        sequence = [outline.lessons[pk] for pk in outline.module_lessons.get(lesson.module_id, [])]
    else:
        sequence = list(outline.track_lessons(track.pk))
    ids = [item.id for item in sequence]
    if lesson.id not in ids:
        return None, None
    i = ids.index(lesson.id)
    return (sequence[i - 1] if i > 0 else None, sequence[i + 1] if i + 1 < len(sequence) else None)


@dataclass
class TrackProgress:
    track: Track
    exercises: int
    solved: int

    @property
    def percent(self) -> int:
        return round(100 * self.solved / self.exercises) if self.exercises else 0


def enrolled_track_progress(
    *, user: User, progress: dict[int, ProgressRow] | None = None
) -> list[TrackProgress]:
    """Return each enrolled track with how many of its exercises the learner solved (one query)."""
    solved = solved_in(learner_progress(user) if progress is None else progress)
    outline = catalogue()
    enrolled = enrolled_track_ids(user)
    out = []
    for track in outline.tracks:
        if track.pk in enrolled:
            ids = outline.track_exercise_ids(track.pk)
            out.append(
                TrackProgress(track=track, exercises=len(ids), solved=len(solved.intersection(ids)))
            )
    return out


def exercise_hashes_validated() -> set[str]:
    """Return the validated hashes of the exercise files the database holds (see sync_course)."""
    return set(Exercise.objects.exclude(source_hash="").values_list("source_hash", flat=True))
