"""Writes to the course: syncing the catalogue from files, enrolment, visits and progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from course.catalogue import catalogue_forget
from course.content import (
    CatalogueNames,
    ContentError,
    Course,
    LessonFile,
    check_name_takeovers,
    rendered_hash,
    source_path,
)
from course.markdown import render_markdown
from course.models import (
    ActivityDay,
    CatalogueItem,
    Enrollment,
    Exercise,
    ExerciseProgress,
    Lesson,
    LessonVisit,
    Module,
    Track,
    TrackModule,
    User,
)
from course.translations import usable_fields


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    unchanged: int = 0

    def lines(self) -> list[str]:
        out = [f"added {name}" for name in self.added]
        out += [f"changed {name}" for name in self.changed]
        out += [f"retired {name}" for name in self.retired]
        out.append(
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.retired)} retired, "
            f"{self.unchanged} unchanged"
        )
        return out


def _upsert(
    model: type[CatalogueItem], uuid: Any, label: str, values: dict[str, Any], report: SyncReport
) -> Any:
    """Create or update one catalogue row by its permanent id, recording what happened."""
    values = {**values, "retired_at": None}
    obj = model.objects.filter(uuid=uuid).first()
    if obj is None:
        obj = model.objects.create(uuid=uuid, **values)
        report.added.append(label)
        return obj
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    if changed:
        for name in changed:
            setattr(obj, name, values[name])
        obj.save(update_fields=changed)
        report.changed.append(f"{label} ({', '.join(changed)})")
    else:
        report.unchanged += 1
    return obj


def _lesson_html(body: str, stored_hash: str | None) -> dict[str, str]:
    """Return the lesson's rendered fields, rendering only when the body or the renderer changed."""
    html_hash = rendered_hash(body)
    if html_hash == stored_hash:
        return {"html_hash": html_hash}
    return {"html_hash": html_hash, "body_html": render_markdown(body)}


def _lesson_translations(lesson: LessonFile, stored: dict[str, Any]) -> dict[str, Any]:
    """Return a lesson's usable translations with their HTML, rendering only changed bodies."""
    result = {}
    for language, fields in usable_fields(lesson.translations).items():
        html_hash = rendered_hash(fields["body"])
        before = stored.get(language) or {}
        html = (
            before["body_html"]
            if before.get("html_hash") == html_hash and "body_html" in before
            else render_markdown(fields["body"])
        )
        result[language] = {**fields, "body_html": html, "html_hash": html_hash}
    return result


def _catalogue_names() -> CatalogueNames:
    return CatalogueNames(
        tracks=dict(Track.objects.live().values_list("slug", "uuid")),
        modules=dict(Module.objects.live().values_list("slug", "uuid")),
        lessons={
            (module, slug): lesson
            for module, slug, lesson in Lesson.objects.live().values_list(
                "module__uuid", "slug", "uuid"
            )
        },
        exercises=dict(Exercise.objects.live().values_list("slug", "uuid")),
    )


@transaction.atomic
def course_sync(*, course: Course, now: datetime | None = None) -> SyncReport:
    """Make the database match the course files: add, update and retire by permanent id.

    Raise ContentError, changing nothing, when an item would take a name another one still holds.
    """
    problems = check_name_takeovers(course, _catalogue_names())
    if problems:
        raise ContentError(problems)
    now = now or timezone.now()
    report = SyncReport()
    # Retire first, so a live item may take over the slug of one that has gone.
    kept = {
        Track: {t.id for t in course.tracks},
        Module: {m.id for m in course.modules},
        Lesson: {lesson.id for lesson in course.lessons},
        Exercise: {e.id for e in course.exercises},
    }
    for model, ids in kept.items():
        for obj in model.objects.live().exclude(uuid__in=ids):
            obj.retired_at = now
            obj.save(update_fields=["retired_at"])
            report.retired.append(f"{model._meta.model_name} {getattr(obj, 'slug', obj.title)}")

    modules: dict[str, Module] = {}
    for m in course.modules:
        modules[m.slug] = _upsert(
            Module,
            m.id,
            f"module {m.slug}",
            {
                "slug": m.slug,
                "title": m.title,
                "summary": m.summary,
                "skill": m.skill,
                "source_path": source_path(m.path),
                "translations": usable_fields(m.translations),
            },
            report,
        )
    for m in course.modules:
        wanted = {modules[slug].pk for slug in m.prerequisites}
        current = set(modules[m.slug].prerequisites.values_list("pk", flat=True))
        if wanted != current:
            modules[m.slug].prerequisites.set(wanted)
            if f"module {m.slug}" not in report.added:
                report.changed.append(f"module {m.slug} (prerequisites)")

    for t in course.tracks:
        track = _upsert(
            Track,
            t.id,
            f"track {t.slug}",
            {
                "slug": t.slug,
                "title": t.title,
                "summary": t.summary,
                "order": t.order,
                "source_path": source_path(t.path),
                "translations": usable_fields(t.translations),
            },
            report,
        )
        wanted_order = [modules[slug].pk for slug in t.modules]
        current_order = list(
            TrackModule.objects.filter(track=track).values_list("module_id", flat=True)
        )
        if wanted_order != current_order:
            TrackModule.objects.filter(track=track).delete()
            TrackModule.objects.bulk_create(
                TrackModule(track=track, module_id=pk, order=i) for i, pk in enumerate(wanted_order)
            )
            if current_order:
                report.changed.append(f"track {t.slug} (modules)")

    lessons: dict[tuple[str, str], Lesson] = {}
    rendered = dict(Lesson.objects.values_list("uuid", "html_hash"))
    translated = dict(Lesson.objects.values_list("uuid", "translations"))
    for lf in course.lessons:
        lessons[(lf.module, lf.slug)] = _upsert(
            Lesson,
            lf.id,
            f"lesson {lf.module}/{lf.slug}",
            {
                "module": modules[lf.module],
                "slug": lf.slug,
                "title": lf.title,
                "order": lf.order,
                "body": lf.body,
                **_lesson_html(lf.body, rendered.get(lf.id)),
                "source_path": source_path(lf.path),
                "translations": _lesson_translations(lf, translated.get(lf.id) or {}),
            },
            report,
        )
    for ef in course.exercises:
        _upsert(
            Exercise,
            ef.id,
            f"exercise {ef.slug}",
            {
                "lesson": lessons[(ef.module, ef.lesson)],
                "slug": ef.slug,
                "title": ef.title,
                "kind": ef.kind,
                "order": ef.order,
                "published": ef.published,
                "spec": ef.spec,
                "source_path": source_path(ef.path),
                "translations": usable_fields(ef.translations),
                "source_hash": ef.source_hash,
            },
            report,
        )
    # The rows above changed in bulk too (bulk_create sends no signal): drop the outline once
    # this transaction has committed, so no page keeps one read before it.
    transaction.on_commit(catalogue_forget)
    return report


def enrollment_create(*, user: User, track: Track) -> Enrollment:
    """Enrol a learner in a track; enrolling twice is harmless."""
    enrollment, _ = Enrollment.objects.get_or_create(user=user, track=track)
    return enrollment


def enrollment_delete(*, user: User, track: Track) -> None:
    """Leave a track; progress on its exercises is kept."""
    Enrollment.objects.filter(user=user, track=track).delete()


def lesson_visit_record(*, user: User, lesson: Lesson) -> bool:
    """Remember that a learner opened a lesson now; return whether anything was written.

    Visits are read only as the learner's latest activity ("Continue" in course/selectors_path.py
    weighs them against answers and give-ups), so re-opening the lesson that is still the latest
    thing they did changes nothing and writes nothing: reading a lesson again is a pure read.
    """
    last = (
        LessonVisit.objects.filter(user=user)
        .order_by("-visited_at")
        .values_list("lesson_id", "visited_at")
        .first()
    )
    if last is not None and last[0] == lesson.pk:
        since = Q(last_attempt_at__gt=last[1]) | Q(gave_up_at__gt=last[1])
        if not ExerciseProgress.objects.filter(since, user=user).exists():
            return False
    LessonVisit.objects.update_or_create(
        user=user, lesson=lesson, defaults={"visited_at": timezone.now()}
    )
    return True


def progress_record_verdict(
    *, user: User, exercise: Exercise, score: float, correct: bool, at: datetime
) -> int:
    """Count one graded attempt on the exercise and on the learner's day; return its number.

    Call it inside the transaction that stores the verdict."""
    return progress_count_attempt(
        user_id=user.pk, exercise_id=exercise.pk, score=score, correct=correct, at=at
    )


# Takes the learner's progress row, created empty when missing, and locks it until commit: the
# no-op DO UPDATE makes a conflicting insert wait for any other transaction holding the row and
# then return its latest values, so what follows is computed from the row as it stands.
_PROGRESS_TAKE = """
INSERT INTO {table} (user_id, exercise_id, attempts, best_score)
VALUES (%s, %s, 0, 0)
ON CONFLICT (user_id, exercise_id) DO UPDATE SET attempts = {table}.attempts
RETURNING id, attempts, best_score, solved_at
"""
_PROGRESS_COUNT = """
UPDATE {table}
SET attempts = attempts + 1, best_score = %s, solved_at = COALESCE(solved_at, %s),
  last_attempt_at = %s
WHERE id = %s
"""
# One attempt on the learner's calendar day (in the site's time zone), created or counted at once.
_ACTIVITY_COUNT = """
INSERT INTO {table} (user_id, day, attempts, solved)
VALUES (%s, %s, 1, %s)
ON CONFLICT (user_id, day) DO UPDATE
SET attempts = {table}.attempts + 1, solved = {table}.solved + EXCLUDED.solved
"""


def progress_count_attempt(
    *, user_id: int, exercise_id: int, score: float, correct: bool, at: datetime
) -> int:
    """Count one graded attempt in three statements; return its number (the verdict stores it).

    Call it inside the transaction that stores the verdict: the progress row stays locked until
    that commits, so the number returned is this attempt's, and a first solve is counted on the
    learner's day exactly once.
    """
    when = connection.ops.adapt_datetimefield_value(at)
    table = connection.ops.quote_name(ExerciseProgress._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(_PROGRESS_TAKE.format(table=table), [user_id, exercise_id])
        progress_id, attempts, best_score, solved_at = cursor.fetchone()
        first_solve = correct and solved_at is None
        cursor.execute(
            _PROGRESS_COUNT.format(table=table),
            [max(score, best_score), when if first_solve else None, when, progress_id],
        )
        cursor.execute(
            _ACTIVITY_COUNT.format(table=connection.ops.quote_name(ActivityDay._meta.db_table)),
            [user_id, timezone.localdate(at), 1 if first_solve else 0],
        )
    return int(attempts) + 1


def progress_give_up(*, user: User, exercise: Exercise) -> ExerciseProgress:
    """Record that the learner gave up on an exercise and asked for its solution (the first time)."""
    now = timezone.now()
    with transaction.atomic():
        progress, _ = ExerciseProgress.objects.select_for_update().get_or_create(
            user=user, exercise=exercise
        )
        if progress.gave_up_at is None:
            progress.gave_up_at = now
            progress.save(update_fields=["gave_up_at"])
    return progress
