"""A rate limit on grading cost, not on clicks: a bucket of grading seconds per learner.

Each learner's bucket holds at most GRADER_BUDGET_SECONDS and refills at
GRADER_BUDGET_SECONDS / GRADER_BUDGET_WINDOW_SECONDS per second. Accepting an answer sets aside
its deadline (the most its grading can cost); once graded, it is charged what grading really
cost and the rest is given back. An answer refused before it reaches a worker (empty, too long)
costs nothing, and one a worker could not read costs the milliseconds it took.

The guarantee: the answers a learner has waiting or running can never hold more worker time
than the bucket's capacity, and over any period T their grading costs at most
capacity + T x refill rate (plus one deadline's overrun) — whatever they click.
"""

from __future__ import annotations

import math
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction

from course.models import Exercise, User
from grader.engine import CODE_KINDS
from grader.errors import AnswersRateLimited
from grader.models import GradingBudget


def capacity() -> float:
    """Return how many seconds a full bucket holds."""
    return float(settings.GRADER_BUDGET_SECONDS)


def refill_rate() -> float:
    """Return the seconds of grading a bucket regains per second."""
    return capacity() / float(settings.GRADER_BUDGET_WINDOW_SECONDS)


def reserve_for(exercise: Exercise) -> float:
    """Return the seconds set aside for an answer: its deadline, never more than a full bucket."""
    config = settings.GRADER_ENGINE
    if exercise.kind in CODE_KINDS:
        timeout = exercise.spec.get("timeout")
        deadline = float(timeout) if timeout else config.code_timeout_s
    else:
        deadline = config.symbolic_timeout_s
    return min(deadline, capacity())


def level(budget: GradingBudget, now: datetime) -> float:
    """Return the seconds in a bucket at now: its stored level plus the refill since, capped."""
    return level_at(budget.seconds, budget.updated_at, now)


def level_at(seconds: float | None, updated_at: datetime | None, now: datetime) -> float:
    """Return the level at now of a bucket holding seconds at updated_at (full when it has none)."""
    if seconds is None or updated_at is None:
        return capacity()  # a learner who never answered
    elapsed = max(0.0, (now - updated_at).total_seconds())
    return min(capacity(), seconds + elapsed * refill_rate())


def _locked_budget(user_id: int, now: datetime) -> GradingBudget:
    budget, _created = GradingBudget.objects.select_for_update().get_or_create(
        user_id=user_id, defaults={"seconds": capacity(), "updated_at": now}
    )
    return budget


# A bucket's level at a time, where the row is: what `level` computes, for each database that says
# how many seconds lie between two times. Its parameters: capacity, the time, the refill rate.
_LEVEL = {
    "postgresql": (
        "LEAST(%s, seconds + GREATEST(0, EXTRACT(EPOCH FROM (%s - updated_at))::float8) * %s)"
    ),
    "sqlite": "MIN(%s, seconds + MAX(0, (julianday(%s) - julianday(updated_at)) * 86400.0) * %s)",
}
# Take from a bucket that holds enough, in one guarded UPDATE (which locks the row: two requests
# at once cannot both spend the same seconds).
_TAKE = (
    "UPDATE {table} SET seconds = {level} - %s, updated_at = %s "
    "WHERE user_id = %s AND {level} >= %s"
)
# Charge an answer's cost in place of what was set aside for it (a refund when less), capped.
_SETTLE = "UPDATE {table} SET seconds = {capped}, updated_at = %s WHERE user_id = %s"
_CAPPED = {"postgresql": "LEAST(%s, {level} + %s)", "sqlite": "MIN(%s, {level} + %s)"}


def _update(sql: str, params: list[object]) -> bool:
    """Run _TAKE or _SETTLE; return whether it changed the learner's bucket."""
    level_sql = _LEVEL[connection.vendor]
    with connection.cursor() as cursor:
        cursor.execute(
            sql.format(
                table=connection.ops.quote_name(GradingBudget._meta.db_table),
                level=level_sql,
                capped=_CAPPED[connection.vendor].format(level=level_sql),
            ),
            params,
        )
        return cursor.rowcount > 0


def budget_take(*, user: User, seconds: float, now: datetime) -> None:
    """Set seconds aside from the learner's bucket, or raise AnswersRateLimited saying how long to wait.

    Call it inside the transaction that stores the answer. One statement on PostgreSQL and
    SQLite when the bucket holds enough; otherwise the bucket is read under a lock (made full
    for a learner's first answer) to take from it or to say how long to wait.
    """
    if connection.vendor in _LEVEL:
        at = connection.ops.adapt_datetimefield_value(now)
        level_params = [capacity(), at, refill_rate()]
        if _update(_TAKE, [*level_params, seconds, at, user.pk, *level_params, seconds]):
            return
    # Lock the student's row so two quick first answers cannot both make and spend a bucket.
    list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
    budget = _locked_budget(user.pk, now)
    available = level(budget, now)
    if available < seconds:
        wait = max(1, math.ceil((seconds - available) / refill_rate()))
        raise AnswersRateLimited(retry_after=wait)
    budget.seconds, budget.updated_at = available - seconds, now
    budget.save(update_fields=["seconds", "updated_at"])


def budget_settle(*, user_id: int, reserved: float, cost: float, now: datetime) -> None:
    """Charge what an answer cost in place of what was set aside for it (a refund when less).

    One statement on PostgreSQL and SQLite (the worker settles every verdict); three elsewhere,
    or when the learner has no bucket yet.
    """
    if connection.vendor in _LEVEL:
        at = connection.ops.adapt_datetimefield_value(now)
        if _update(
            _SETTLE, [capacity(), capacity(), at, refill_rate(), reserved - cost, at, user_id]
        ):
            return
    with transaction.atomic():
        budget = _locked_budget(user_id, now)
        budget.seconds = min(capacity(), level(budget, now) + reserved - cost)
        budget.updated_at = now
        budget.save(update_fields=["seconds", "updated_at"])
