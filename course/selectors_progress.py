"""Reads for learner progress: per-skill mastery, the review queue and weekly activity."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.utils import dateformat, timezone
from django.utils.translation import ngettext, pgettext

from course.calendar_days import days_between, start_of_day_ago
from course.catalogue import catalogue
from course.charts import HBarChart, VBarChart, hbar_chart, vbar_chart
from course.models import ActivityDay, Exercise, Module, User
from course.selectors import ProgressRow, learner_progress

# An unsolved attempt earns half its best partial score: attempted-but-wrong is not mastery.
PARTIAL_WEIGHT = 0.5
# Solved only after this many attempts, and long enough ago: worth solving again from memory.
REVIEW_STRUGGLE_ATTEMPTS = 3
REVIEW_AFTER_DAYS = 7


def exercise_credit(*, solved: bool, best_score: float) -> float:
    """Return how much one exercise counts towards mastery: 1 if solved, else a partial share."""
    if solved:
        return 1.0
    return PARTIAL_WEIGHT * max(0.0, min(1.0, best_score))


@dataclass
class SkillMastery:
    skill: str
    module: Module
    exercises: int
    solved: int
    attempted: int
    mastery: float  # 0..100

    @property
    def percent(self) -> int:
        return round(self.mastery)


def learner_mastery(
    *, user: User, progress: dict[int, ProgressRow] | None = None
) -> list[SkillMastery]:
    """Return per-skill mastery across both tracks, from the learner's graded attempts."""
    progress = learner_progress(user) if progress is None else progress
    outline = catalogue()
    rows = []
    for module in outline.modules.values():  # by title
        ids = outline.module_exercise_ids(module.pk)
        if not ids:
            continue
        credit = solved = attempted = 0.0
        for exercise_id in ids:
            row = progress.get(exercise_id)
            if row is None:
                continue
            credit += exercise_credit(solved=row.solved, best_score=row.best_score)
            solved += row.solved
            attempted += row.attempts > 0
        rows.append(
            SkillMastery(
                skill=module.skill or module.title,
                module=module,
                exercises=len(ids),
                solved=int(solved),
                attempted=int(attempted),
                mastery=100 * credit / len(ids),
            )
        )
    return rows


def mastery_chart(rows: list[SkillMastery]) -> HBarChart:
    return hbar_chart([(row.skill, row.mastery, None) for row in rows])


@dataclass
class ReviewItem:
    exercise: Exercise
    progress: ProgressRow
    reason: str


def review_queue(
    *,
    user: User,
    now: datetime | None = None,
    limit: int = 6,
    progress: dict[int, ProgressRow] | None = None,
) -> list[ReviewItem]:
    """Return exercises worth retrying: unsolved attempts first, then hard-won solves gone cold."""
    now = now or timezone.now()
    # Solved at least REVIEW_AFTER_DAYS calendar days ago: before midnight of the day after that.
    cold = start_of_day_ago(REVIEW_AFTER_DAYS - 1, now)
    progress = learner_progress(user) if progress is None else progress
    exercises = catalogue().exercises
    rows = sorted(
        (
            p
            for p in progress.values()
            if p.exercise_id in exercises
            and (
                (p.solved_at is None and p.attempts > 0)
                or (
                    p.solved_at is not None
                    and p.attempts >= REVIEW_STRUGGLE_ATTEMPTS
                    and p.solved_at < cold
                )
            )
        ),
        key=lambda p: (p.last_attempt_at or now, p.id),
    )
    unsolved = [p for p in rows if p.solved_at is None]
    cooled = sorted((p for p in rows if p.solved_at is not None), key=lambda p: p.solved_at)
    items = [
        ReviewItem(
            exercise=exercises[p.exercise_id],
            progress=p,
            reason=ngettext(
                "not solved yet after %(count)d attempt",
                "not solved yet after %(count)d attempts",
                p.attempts,
            )
            % {"count": p.attempts},
        )
        for p in unsolved
    ]
    items += [
        ReviewItem(
            exercise=exercises[p.exercise_id],
            progress=p,
            reason=_took_and_solved(p.attempts, days_between(p.solved_at, now)),
        )
        for p in cooled
    ]
    return items[:limit]


def _took_and_solved(attempts: int, days: int) -> str:
    """Say how hard a solved exercise was and how long ago: "took 4 attempts; solved 20 days ago"."""
    took = ngettext("took %(count)d attempt", "took %(count)d attempts", attempts) % {
        "count": attempts
    }
    solved = ngettext("solved %(count)d day ago", "solved %(count)d days ago", days) % {
        "count": days
    }
    return took + pgettext("clause separator", "; ") + solved


@dataclass
class WeekActivity:
    start: date
    attempts: int
    active_days: int


@dataclass
class Activity:
    today: date
    streak: int
    active_today: bool
    days: dict[date, int] = field(default_factory=dict)
    weeks: list[WeekActivity] = field(default_factory=list)
    last_7: list[tuple[date, int]] = field(default_factory=list)

    @property
    def chart(self) -> VBarChart:
        return vbar_chart(
            [
                (
                    dateformat.format(w.start, pgettext("date format of a week's label", "d M")),
                    w.attempts,
                )
                for w in self.weeks
            ],
            bar_width=20,
            gap=6,
        )

    @property
    def attempts_this_week(self) -> int:
        return self.weeks[-1].attempts if self.weeks else 0


def activity_days(*, user: User, since: date) -> dict[date, int]:
    """Return graded attempts per day since a date."""
    return dict(
        ActivityDay.objects.filter(user=user, day__gte=since, attempts__gt=0).values_list(
            "day", "attempts"
        )
    )


def week_start(day: date) -> date:
    """Return the Monday of the week a day falls in."""
    return day - timedelta(days=day.weekday())


def learner_activity(*, user: User, today: date | None = None, weeks: int = 12) -> Activity:
    """Return the learner's streak of consecutive active days and attempts per week."""
    today = today or timezone.localdate()
    days = activity_days(user=user, since=today - timedelta(days=366))
    streak = 0
    cursor = today if days.get(today) else today - timedelta(days=1)
    while days.get(cursor):
        streak += 1
        cursor -= timedelta(days=1)
    first_monday = week_start(today) - timedelta(weeks=weeks - 1)
    per_week = []
    for i in range(weeks):
        start = first_monday + timedelta(weeks=i)
        counts = [days.get(start + timedelta(days=d), 0) for d in range(7)]
        per_week.append(
            WeekActivity(start=start, attempts=sum(counts), active_days=sum(1 for c in counts if c))
        )
    last_7 = [
        (today - timedelta(days=d), days.get(today - timedelta(days=d), 0))
        for d in range(6, -1, -1)
    ]
    return Activity(
        today=today,
        streak=streak,
        active_today=bool(days.get(today)),
        days=days,
        weeks=per_week,
        last_7=last_7,
    )
