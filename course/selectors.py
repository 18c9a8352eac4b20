"""Reads and access checks for the course: every view gets its objects through these.

Access goes through one function per object kind (`access_track`, `access_exercise`; groups in
selectors_groups, submissions in grader.selectors), and whether someone may teach is decided by
`can_teach` alone. Each raises 404 for what the user may not know exists, else PermissionDenied.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import Http404

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
    exercise = (
        Exercise.objects.reachable().select_related("lesson__module").filter(slug=slug).first()
    )
    if exercise is None or not (exercise.published or can_teach(user)):
        raise Http404("No such exercise.")
    return exercise


def visible_exercises(user: AnyUser) -> Prefetch:
    return Prefetch(
        "exercises",
        queryset=Exercise.objects.live().filter(published=True).order_by("order", "slug"),
        to_attr="visible_exercises",
    )


def solved_exercise_ids(user: AnyUser) -> set[int]:
    if not user.is_authenticated:
        return set()
    return set(
        ExerciseProgress.objects.filter(user=user, solved_at__isnull=False).values_list(
            "exercise_id", flat=True
        )
    )


def attempted_exercise_ids(user: AnyUser) -> set[int]:
    if not user.is_authenticated:
        return set()
    return set(
        ExerciseProgress.objects.filter(user=user, attempts__gt=0).values_list(
            "exercise_id", flat=True
        )
    )


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


def lesson_track(*, lesson: Lesson, user: AnyUser, requested: str | None) -> Track | None:
    """Choose the track a lesson is read in: the requested one, else an enrolled one, else the first."""
    tracks = list(Track.objects.live().filter(modules=lesson.module).order_by("order"))
    if requested:
        for track in tracks:
            if track.slug == requested:
                return track
    if user.is_authenticated:
        enrolled = set(Enrollment.objects.filter(user=user).values_list("track_id", flat=True))
        for track in tracks:
            if track.id in enrolled:
                return track
    return tracks[0] if tracks else None


def lesson_neighbours(
    *, lesson: Lesson, track: Track | None
) -> tuple[Lesson | None, Lesson | None]:
    """Return the lessons before and after this one in the track's reading order."""
    if track is None:
        sequence = list(lesson.module.lessons.live().order_by("order"))
    else:
        sequence = [item for module in track_modules(track) for item in module.live_lessons]
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


@dataclass
class SkillProgress:
    skill: str
    module: Module
    exercises: int
    solved: int
    attempted: int

    @property
    def percent(self) -> int:
        return round(100 * self.solved / self.exercises) if self.exercises else 0


def enrolled_track_progress(*, user: User) -> list[TrackProgress]:
    solved = solved_exercise_ids(user)
    out = []
    for enrollment in Enrollment.objects.filter(
        user=user, track__retired_at__isnull=True
    ).select_related("track"):
        ids = [
            e.id
            for module in track_modules(enrollment.track)
            for lesson in module.live_lessons
            for e in lesson.visible_exercises
        ]
        out.append(
            TrackProgress(
                track=enrollment.track, exercises=len(ids), solved=len(solved.intersection(ids))
            )
        )
    return out


def skill_progress(*, user: User) -> list[SkillProgress]:
    """Return the learner's progress per skill (a module's topic) across both tracks."""
    solved = solved_exercise_ids(user)
    attempted = attempted_exercise_ids(user)
    per_module: dict[int, list[int]] = defaultdict(list)
    for exercise_id, module_id in (
        Exercise.objects.live()
        .filter(published=True, lesson__retired_at__isnull=True)
        .values_list("id", "lesson__module_id")
    ):
        per_module[module_id].append(exercise_id)
    rows = []
    for module in Module.objects.live().order_by("title"):
        ids = per_module.get(module.id, [])
        if not ids:
            continue
        rows.append(
            SkillProgress(
                skill=module.skill,
                module=module,
                exercises=len(ids),
                solved=len(solved.intersection(ids)),
                attempted=len(attempted.intersection(ids)),
            )
        )
    return rows
