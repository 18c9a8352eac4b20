"""A learner's path through a track: its steps in order, the step after an exercise, and where to continue.

A track's steps are its lessons' published exercises in reading order (modules in the track's
order, lessons in the module's, exercises in the lesson's), and a lesson without exercises is a
step of its own, to read. "Next" after an exercise is simply the following step; "Continue" is the
first unfinished step from where the learner was last active in that track.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from course.catalogue import catalogue
from course.models import Exercise, Lesson, LessonVisit, Track, User
from course.selectors import ProgressRow, learner_progress, lesson_track


@dataclass(frozen=True)
class Step:
    lesson: Lesson
    exercise: Exercise | None = None  # None: a lesson without exercises, to read

    @property
    def url(self) -> str:
        target = self.exercise if self.exercise is not None else self.lesson
        return target.get_absolute_url()


@dataclass(frozen=True)
class NextStep:
    """What follows an exercise: the next step of its track, or None at the track's end."""

    track: Track | None
    step: Step | None
    # The next step starts another lesson: the page offers to read that lesson first.
    new_lesson: bool = False


@dataclass(frozen=True)
class Continuation:
    """Where a learner picks up a track: the step, whether they have begun, whether it is done."""

    track: Track
    step: Step | None
    started: bool
    finished: bool
    lesson_read: bool = True  # the learner has opened the step's lesson before

    @property
    def url(self) -> str:
        """Return where the button goes: the step's lesson until it has been read, then the step."""
        if self.step is None:
            return self.track.get_absolute_url()
        if not self.lesson_read:
            return self.step.lesson.get_absolute_url() + f"?track={self.track.slug}"
        return self.step.url

    @property
    def lesson(self) -> Lesson | None:
        return self.step.lesson if self.step else None

    @property
    def exercise(self) -> Exercise | None:
        return self.step.exercise if self.step else None


def track_steps(track: Track) -> list[Step]:
    """Return the track's steps in reading order (from the shared catalogue: no query)."""
    outline = catalogue()
    steps: list[Step] = []
    for lesson in outline.track_lessons(track.pk):
        exercises = outline.lesson_exercises.get(lesson.pk, [])
        steps.extend(Step(lesson, outline.exercises[pk]) for pk in exercises)
        if not exercises:
            steps.append(Step(lesson))
    return steps


def exercise_next(*, user: User, exercise: Exercise) -> NextStep:
    """Return the step after an exercise in the track the learner reads its lesson in."""
    track = lesson_track(lesson=exercise.lesson, user=user, requested=None)
    if track is None:
        return NextStep(track=None, step=None)
    steps = track_steps(track)
    ids = [step.exercise.id if step.exercise else None for step in steps]
    if exercise.id not in ids:
        return NextStep(track=track, step=None)
    i = ids.index(exercise.id)
    if i + 1 == len(steps):
        return NextStep(track=track, step=None)
    following = steps[i + 1]
    return NextStep(
        track=track, step=following, new_lesson=following.lesson.id != exercise.lesson_id
    )


@dataclass
class _Standing:
    """The learner's record on a track's steps: what is done and where they were last active."""

    solved: set[int]
    passed: set[int]  # solved or given up: nothing more to do there for now
    entered: set[int]  # lessons opened, or with an exercise answered or given up
    opened: set[int] = field(default_factory=set)  # lessons opened (a reading step is done)
    last_at: datetime | None = None
    last_index: int | None = None
    last_inclusive: bool = True  # continue at the last step itself (not yet done there)


def _lesson_visits(user: User) -> dict[int, datetime]:
    """Return when the learner last opened each lesson, by lesson id (one query)."""
    return dict(LessonVisit.objects.filter(user=user).values_list("lesson_id", "visited_at"))


def _standing(
    steps: list[Step], progress: dict[int, ProgressRow], visits: dict[int, datetime]
) -> _Standing:
    position = {s.exercise.id: i for i, s in enumerate(steps) if s.exercise is not None}
    lesson_of = {s.exercise.id: s.lesson.id for s in steps if s.exercise is not None}
    first_of_lesson: dict[int, int] = {}
    for i, step in enumerate(steps):
        first_of_lesson.setdefault(step.lesson.id, i)
    standing = _Standing(solved=set(), passed=set(), entered=set())
    for row in progress.values():
        if row.exercise_id not in position:
            continue
        standing.entered.add(lesson_of[row.exercise_id])
        if row.solved:
            standing.solved.add(row.exercise_id)
        if row.solved or row.gave_up:
            standing.passed.add(row.exercise_id)
        times = [t for t in (row.last_attempt_at, row.gave_up_at) if t is not None]
        if times and (standing.last_at is None or max(times) > standing.last_at):
            standing.last_at = max(times)
            standing.last_index = position[row.exercise_id]
            standing.last_inclusive = row.exercise_id not in standing.passed
    for lesson_id, visited_at in visits.items():
        if lesson_id not in first_of_lesson:
            continue
        standing.entered.add(lesson_id)
        standing.opened.add(lesson_id)
        if standing.last_at is None or visited_at > standing.last_at:
            standing.last_at = visited_at
            standing.last_index = first_of_lesson[lesson_id]
            standing.last_inclusive = True
    return standing


def track_continuation(
    *,
    user: User,
    track: Track,
    progress: dict[int, ProgressRow] | None = None,
    visits: dict[int, datetime] | None = None,
) -> Continuation | None:
    """Return where the learner continues this track (its first step when they have not begun).

    Continue is the first unfinished step (an unsolved exercise, an unread lesson) at or after
    the learner's last activity in the track, or else the first unfinished step anywhere in it.
    progress and visits: the learner's rows, when the caller has read them already.
    """
    steps = track_steps(track)
    if not steps:
        return None
    standing = _standing(
        steps,
        learner_progress(user) if progress is None else progress,
        _lesson_visits(user) if visits is None else visits,
    )

    def unfinished(step: Step) -> bool:
        if step.exercise is None:
            return step.lesson.id not in standing.opened
        return step.exercise.id not in standing.solved

    if standing.last_index is None:
        return Continuation(
            track=track, step=steps[0], started=False, finished=False, lesson_read=False
        )
    start = standing.last_index + (0 if standing.last_inclusive else 1)
    for step in [*steps[start:], *steps[:start]]:
        if unfinished(step):
            read = step.lesson.id in standing.entered
            return Continuation(
                track=track, step=step, started=True, finished=False, lesson_read=read
            )
    return Continuation(track=track, step=None, started=True, finished=True)


def continue_where_left_off(
    *, user: User, tracks: list[Track], progress: dict[int, ProgressRow] | None = None
) -> Continuation | None:
    """Return where the learner continues: in the track of their latest activity, else their first.

    tracks are the learner's enrolled tracks; activity in another track (a lesson read there)
    counts too, and is continued in the track its lesson is read in. Activity is a lesson
    opened, an answer graded or a solution asked for.
    """
    progress = learner_progress(user) if progress is None else progress
    visits = _lesson_visits(user)
    last = _last_activity_lesson(progress, visits)
    enrolled = {t.pk for t in tracks}
    track = (
        lesson_track(lesson=last, user=user, requested=None, enrolled=enrolled) if last else None
    )
    if track is None and tracks:
        track = tracks[0]
    if track is None:
        return None
    return track_continuation(user=user, track=track, progress=progress, visits=visits)


def _last_activity_lesson(
    progress: dict[int, ProgressRow], visits: dict[int, datetime]
) -> Lesson | None:
    """Return the live lesson of the learner's latest activity, if any."""
    outline = catalogue()
    candidates: list[tuple[datetime, Lesson]] = [
        (at, outline.lessons[lesson_id])
        for lesson_id, at in visits.items()
        if lesson_id in outline.lessons
    ]
    for row in progress.values():
        exercise = outline.exercises.get(row.exercise_id)
        if exercise is None:
            continue
        for at in (row.last_attempt_at, row.gave_up_at):
            if at is not None:
                candidates.append((at, outline.lessons[exercise.lesson_id]))
    if not candidates:
        return None
    return max(candidates, key=lambda pair: pair[0])[1]
