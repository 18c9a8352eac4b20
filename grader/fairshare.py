"""A fair share of the code workers: each learner's code answers wait in their own line.

A code submission is stored with a HELD ticket and is not put on the broker. Its turn comes when
the code queue has a free slot (fewer than GRADER_CODE_SLOTS code jobs sent and still pending)
and its learner has no other code job sent and pending. Among the learners waiting, the one with
the most left in their grading budget (grader.ratelimit) goes first — the least recent usage —
then the one waiting longest. Turns are chosen under a lock on the queue's FairLane row, so two
choosers never send more than the free slots.

The guarantees: a learner never has more than one code job on the broker or running; the broker
never holds more than GRADER_CODE_SLOTS code jobs, so an answer that reaches it waits behind at
most that many deadlines; and a learner who has used less grading time is never served after one
who has used more. Flooding with infinite loops therefore costs the flooder their own budget and
delays another learner by at most the deadline of the loop already running (which
grader.engine.config.sized_code_timeout keeps near the exercise's own needs).

Turns are chosen when an answer is stored, when a code job ends (grader.tasks) and on every sweep
(grader.tasks.requeue_stuck_submissions), so a lost trigger delays a turn by one sweep at most.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction

from course.models import User
from grader import ratelimit
from grader.models import FairLane, GradingTicket, Submission

PENDING = (Submission.Status.QUEUED, Submission.Status.RUNNING)


def is_fair(queue: str) -> bool:
    """Say whether a queue's jobs wait in their learners' lines (the code queue does)."""
    return queue == settings.GRADER_CODE_QUEUE


def ticket_open(*, submission: Submission, user: User, reserved_s: float, now: datetime) -> bool:
    """Record what a new submission set aside; hold it in its learner's line if its queue is fair.

    Return whether it is held.
    """
    held = is_fair(submission.queue)
    GradingTicket.objects.create(
        submission=submission,
        user=user,
        queue=submission.queue,
        state=GradingTicket.State.HELD if held else GradingTicket.State.SENT,
        reserved_s=reserved_s,
        held_at=now,
        sent_at=None if held else now,
    )
    return held


def is_held(submission: Submission) -> bool:
    """Say whether a submission is waiting in its learner's line (not yet sent to the broker)."""
    return GradingTicket.objects.filter(
        submission_id=submission.pk, state=GradingTicket.State.HELD
    ).exists()


def turns_take(*, queue: str, now: datetime, slot_freed: bool = False) -> list[int]:
    """Mark the next turns of a queue as sent while it has free slots; return their submissions.

    slot_freed says the caller has just ended one of the queue's jobs: a turn is then due
    whenever anyone waits, so the first look (below) is skipped. The caller sends the turns to
    the broker once this has committed.
    """
    # A first look without the lane's lock: when it finds no turn due, there is none, and no lock
    # to take. Each event that makes a turn due (an answer committed HELD, a job's end committed)
    # asks for turns once it has committed, so the look its own asking takes finds that turn.
    if not slot_freed and not _waiting(queue).turn_due():
        return []
    with transaction.atomic():
        _lock_lane(queue)
        waiting = _waiting(queue, now=now)
        if not waiting.turn_due():
            return []
        free = settings.GRADER_CODE_SLOTS - waiting.running
        first_held = waiting.first_held
        if len(first_held) > free:
            # Most budget left first (least recent usage), then the longest wait.
            levels = waiting.levels
            order = sorted(first_held, key=lambda uid: (-levels[uid], *first_held[uid]))
        else:
            order = list(first_held)  # a turn for everyone waiting: no one goes before another
        chosen = [first_held[user_id][1] for user_id in order[:free]]
        GradingTicket.objects.filter(submission_id__in=chosen).update(
            state=GradingTicket.State.SENT, sent_at=now
        )
        # The sweeper's "stuck in QUEUED" clock starts when a job reaches the broker.
        Submission.objects.filter(pk__in=chosen).update(enqueued_at=now)
    return chosen


@dataclass
class _Waiting:
    """A queue's jobs sent and still pending, and the first held answer of each learner who may go."""

    running: int
    first_held: dict[int, tuple[datetime, int]]  # learner: (held_at, submission)
    levels: dict[int, float]  # learner with a held answer: their grading budget's level

    def turn_due(self) -> bool:
        return bool(self.first_held) and self.running < settings.GRADER_CODE_SLOTS


def _waiting(queue: str, now: datetime | None = None) -> _Waiting:
    """Read a queue's sent and held tickets of pending submissions (one query).

    A learner with a job running waits for it to end. With now, the same query reads the grading
    budget of each learner with a held answer, and levels gives its level at now.
    """
    running = 0
    running_users: set[int] = set()
    held: list[tuple[datetime, int, int]] = []
    levels: dict[int, float] = {}
    columns = ["state", "user_id", "held_at", "submission_id", "submission__status"]
    if now is not None:
        columns += ["user__grading_budget__seconds", "user__grading_budget__updated_at"]
    for state, user_id, held_at, pk, status, *budget in GradingTicket.objects.filter(
        queue=queue,
        state__in=[GradingTicket.State.SENT, GradingTicket.State.HELD],
        submission__status__in=PENDING,
    ).values_list(*columns):
        if state == GradingTicket.State.SENT:
            running += 1
            running_users.add(user_id)
        elif status == Submission.Status.QUEUED:
            held.append((held_at, pk, user_id))
            if now is not None:
                levels[user_id] = ratelimit.level_at(*budget, now)
    first_held: dict[int, tuple[datetime, int]] = {}
    for held_at, pk, user_id in sorted(held):
        if user_id not in running_users:
            first_held.setdefault(user_id, (held_at, pk))
    return _Waiting(running=running, first_held=first_held, levels=levels)


def _lock_lane(queue: str) -> None:
    """Lock the queue's lane row until the transaction ends, creating it the first time."""
    if list(FairLane.objects.select_for_update().filter(queue=queue).values_list("pk", flat=True)):
        return
    # In a savepoint: when another chooser creates it meanwhile, theirs is taken.
    FairLane.objects.get_or_create(queue=queue)
    FairLane.objects.select_for_update().get(queue=queue)


def ticket_settle(*, submission_id: int, now: datetime) -> bool:
    """Charge a settled submission's grading cost to its learner, once; return whether this charged it.

    The cost is the grading time the worker measured, or, for a submission that ended without a
    verdict (a time limit, a lost worker), the time from its claim to its end.
    """
    submission = (
        Submission.objects.filter(pk=submission_id)
        .exclude(status__in=PENDING)
        .values("user_id", "grading_ms", "claimed_at", "finished_at")
        .first()
    )
    if submission is None:
        return False
    with transaction.atomic():
        return ticket_charge(
            submission_id=submission_id,
            user_id=submission["user_id"],
            cost_s=_cost_seconds(submission),
            now=now,
        )


# The ticket's guarded update returns what it set aside, so a charge is two statements.
_CHARGE = """
UPDATE {table} SET state = %s, cost_s = %s, settled_at = %s
WHERE submission_id = %s AND state <> %s
RETURNING reserved_s
"""


def ticket_charge(*, submission_id: int, user_id: int, cost_s: float, now: datetime) -> bool:
    """Charge a submission's cost to its learner unless it was charged before; say whether this did.

    Call it inside the transaction that settles the submission: the ticket turns SETTLED through a
    guarded update in the same commit as the budget's change, so a cost is charged once, however
    often a job is settled.
    """
    settled = GradingTicket.State.SETTLED
    with connection.cursor() as cursor:
        cursor.execute(
            _CHARGE.format(table=connection.ops.quote_name(GradingTicket._meta.db_table)),
            [
                settled,
                cost_s,
                connection.ops.adapt_datetimefield_value(now),
                submission_id,
                settled,
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return False
    ratelimit.budget_settle(user_id=user_id, reserved=float(row[0]), cost=cost_s, now=now)
    return True


def _cost_seconds(submission: dict[str, object]) -> float:
    grading_ms = submission["grading_ms"]
    if isinstance(grading_ms, float | int):
        return float(grading_ms) / 1000
    claimed, finished = submission["claimed_at"], submission["finished_at"]
    if isinstance(claimed, datetime) and isinstance(finished, datetime):
        return max(0.0, (finished - claimed).total_seconds())
    return 0.0
