"""The course's structure, read once per process: tracks, modules, lessons and exercises in order.

Every learner's page needs the same outline (which exercises a track or a skill has, in what order),
and it changes only when `sync_course` runs. So it is read in a handful of queries into a frozen
snapshot and shared by every request of the process for COURSE_CATALOGUE_SECONDS; pages then spend
their queries on the learner's own rows. A write to any catalogue table in this process (sync, the
admin, a test's factory) forgets the snapshot at once; another process sees the change within
COURSE_CATALOGUE_SECONDS (deploys run `sync_course` before the new processes start, so in practice
at once). The snapshot's outline holds only light fields (no spec, no lesson body); the exercises a
page opens are kept beside it with their spec (reachable_exercise). Its model instances are shared
across threads: treat them as read-only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models.signals import m2m_changed, post_delete, post_save

from course.models import Exercise, Lesson, Module, Track, TrackModule

CATALOGUE_MODELS = (Track, Module, Lesson, Exercise, TrackModule)


@dataclass(frozen=True)
class Catalogue:
    """What is live and published, in course order; ids point into the dictionaries."""

    tracks: list[Track]
    modules: dict[int, Module]
    lessons: dict[int, Lesson]
    exercises: dict[int, Exercise]
    track_modules: dict[int, list[int]] = field(default_factory=dict)  # track → its modules
    module_lessons: dict[int, list[int]] = field(default_factory=dict)  # module → its lessons
    lesson_exercises: dict[int, list[int]] = field(default_factory=dict)  # lesson → its exercises
    prerequisites: dict[int, list[int]] = field(default_factory=dict)  # module → modules it needs
    # Reachable exercises (published or not) with their whole spec, by slug, read as asked for.
    full_exercises: dict[str, Exercise] = field(default_factory=dict)

    def module_exercise_ids(self, module_id: int) -> list[int]:
        """Return a module's exercise ids, lesson by lesson."""
        return [
            x
            for lesson in self.module_lessons.get(module_id, [])
            for x in self.lesson_exercises.get(lesson, [])
        ]

    def track_exercise_ids(self, track_id: int) -> list[int]:
        """Return a track's exercise ids in the order a learner meets them."""
        return [
            x
            for module in self.track_modules.get(track_id, [])
            for x in self.module_exercise_ids(module)
        ]

    def track_lessons(self, track_id: int) -> Iterator[Lesson]:
        """Yield a track's lessons in order."""
        for module in self.track_modules.get(track_id, []):
            for lesson in self.module_lessons.get(module, []):
                yield self.lessons[lesson]


_lock = threading.Lock()
_cached: tuple[float, Catalogue] | None = None


def catalogue() -> Catalogue:
    """Return the shared snapshot, reading it again when it is older than COURSE_CATALOGUE_SECONDS."""
    global _cached
    snapshot = _cached
    if snapshot is not None and time.monotonic() - snapshot[0] < settings.COURSE_CATALOGUE_SECONDS:
        return snapshot[1]
    with _lock:
        if _cached is snapshot:  # nobody read it again while this thread waited
            _cached = (time.monotonic(), _read())
        return _cached[1]


def reachable_exercise(slug: str) -> Exercise | None:
    """Return the reachable exercise with this slug (published or not, with its spec), or None.

    Kept with the snapshot once read, so checking answers and previews do not read the exercise
    (and parse its spec) again on every request; forgotten with it. A slug that names nothing is
    read each time (it is not remembered, so made-up slugs cannot fill the memory).
    """
    snapshot = catalogue()
    found = snapshot.full_exercises.get(slug)
    if found is None:
        found = (
            Exercise.objects.reachable().select_related("lesson__module").filter(slug=slug).first()
        )
        if found is not None:
            snapshot.full_exercises[slug] = found
    return found


def catalogue_forget(**_kwargs: object) -> None:
    """Drop the snapshot: the next page reads the catalogue again."""
    global _cached
    _cached = None


def _read() -> Catalogue:
    tracks = list(Track.objects.live().order_by("order", "slug"))
    modules = {m.pk: m for m in Module.objects.live().order_by("title")}
    lessons = {
        lesson.pk: lesson
        for lesson in Lesson.objects.live()
        .filter(module_id__in=list(modules))
        .defer("body", "body_html")
        .order_by("module_id", "order")
    }
    exercises = {
        x.pk: x
        for x in Exercise.objects.live()
        .filter(published=True, lesson_id__in=list(lessons))
        .defer("spec")
        .order_by("lesson_id", "order", "slug")
    }
    read = Catalogue(tracks=tracks, modules=modules, lessons=lessons, exercises=exercises)
    live_tracks = {t.pk for t in tracks}
    for track_id, module_id in TrackModule.objects.order_by("track_id", "order").values_list(
        "track_id", "module_id"
    ):
        if track_id in live_tracks and module_id in modules:
            read.track_modules.setdefault(track_id, []).append(module_id)
    for lesson in lessons.values():
        read.module_lessons.setdefault(lesson.module_id, []).append(lesson.pk)
        lesson.module = modules[lesson.module_id]  # no query when a page names the module
    for exercise in exercises.values():
        read.lesson_exercises.setdefault(exercise.lesson_id, []).append(exercise.pk)
        exercise.lesson = lessons[exercise.lesson_id]
    through = Module.prerequisites.through
    for needs, needed in through.objects.values_list("from_module_id", "to_module_id"):
        if needs in modules and needed in modules:
            read.prerequisites.setdefault(needs, []).append(needed)
    return read


for _model in CATALOGUE_MODELS:
    post_save.connect(catalogue_forget, sender=_model, dispatch_uid=f"catalogue-{_model.__name__}")
    post_delete.connect(
        catalogue_forget, sender=_model, dispatch_uid=f"catalogue-d-{_model.__name__}"
    )
m2m_changed.connect(
    catalogue_forget, sender=Module.prerequisites.through, dispatch_uid="catalogue-m2m"
)
