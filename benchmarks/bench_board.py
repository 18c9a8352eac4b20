"""Study-group pages under load: a group of 50 members with 100 exercises of history.

Seeds a throwaway test database, then requests the board, the dashboard, the group overview and the
progress table through Django's test client, printing p50/p95 page times and query counts (the
query counts of a 5-member group alongside show they do not grow with the group).
"""

from __future__ import annotations

import random
import time
from datetime import timedelta
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import (
    CaptureQueriesContext,
    setup_test_environment,
    teardown_test_environment,
)
from django.utils import timezone

from benchmarks.stats import print_table, summarize

MEMBERS = 50
SMALL_GROUP = 5
MODULES = 5
EXERCISES_PER_MODULE = 20  # 100 exercises in the track
HISTORY_DAYS = 90
RUNS = 40
WARMUP = 3


def _seed_catalogue() -> Any:
    from course.models import Exercise, Lesson, Module, Track, TrackModule

    track = Track.objects.create(slug="applied", title="Applied", order=1)
    modules = []
    for m in range(MODULES):
        module = Module.objects.create(slug=f"module-{m}", title=f"Module {m}", skill=f"Skill {m}")
        TrackModule.objects.create(track=track, module=module, order=m)
        lesson = Lesson.objects.create(
            module=module, slug=f"lesson-{m}", title=f"Lesson {m}", order=1, body="", body_html=""
        )
        Exercise.objects.bulk_create(
            Exercise(
                lesson=lesson,
                slug=f"ex-{m}-{e}",
                title=f"Exercise {m}.{e}",
                kind=Exercise.Kind.EXPRESSION,
                order=e,
                spec={},
            )
            for e in range(EXERCISES_PER_MODULE)
        )
        modules.append(module)
    return track, modules


def _seed_group(track: Any, modules: list[Any], size: int, tag: str, rng: random.Random) -> Any:
    """Create a group of `size` members, each with progress and daily activity on the track."""
    from course import services_groups
    from course.models import (
        ActivityDay,
        Exercise,
        ExerciseProgress,
        GroupMembership,
        GroupScheduleEntry,
        User,
    )
    from course.selectors_progress import week_start
    from course.usernames import username_key

    users = User.objects.bulk_create(
        User(username=f"{tag}-{i}", username_key=username_key(f"{tag}-{i}")) for i in range(size)
    )
    group = services_groups.group_create(creator=users[0], track=track, name=f"Group {tag}")
    GroupMembership.objects.bulk_create(
        GroupMembership(group=group, user=u, hide_details=(i % 7 == 3))
        for i, u in enumerate(users[1:], start=1)
    )
    monday = week_start(timezone.localdate())
    for offset, module in enumerate(modules):
        GroupScheduleEntry.objects.create(
            group=group,
            module=module,
            week_start=monday + timedelta(weeks=offset - 2),
            due_date=monday + timedelta(weeks=offset - 2, days=6),
        )
    exercises = list(
        Exercise.objects.filter(lesson__module__in=modules).values_list("id", flat=True)
    )
    now = timezone.now()
    progress, activity = [], []
    for user in users:
        for exercise_id in exercises:
            roll = rng.random()
            if roll < 0.15:
                continue
            attempts = rng.randint(1, 6)
            last = now - timedelta(days=rng.randint(0, HISTORY_DAYS), hours=rng.randint(0, 23))
            solved = roll < 0.65
            progress.append(
                ExerciseProgress(
                    user=user,
                    exercise_id=exercise_id,
                    attempts=attempts,
                    best_score=1.0 if solved else rng.random(),
                    solved_at=last if solved else None,
                    last_attempt_at=last,
                )
            )
        for day in range(HISTORY_DAYS):
            if rng.random() < 0.6:
                activity.append(
                    ActivityDay(
                        user=user,
                        day=timezone.localdate() - timedelta(days=day),
                        attempts=rng.randint(1, 12),
                        solved=rng.randint(0, 3),
                    )
                )
    ExerciseProgress.objects.bulk_create(progress, batch_size=2000)
    ActivityDay.objects.bulk_create(activity, batch_size=2000)
    thread = services_groups.thread_create(
        group=group, author=users[0], title="Why $\\nabla$?", body="$$x^2$$"
    )
    for user in users[1 : min(size, 30)]:
        services_groups.post_create(thread=thread, author=user, body="A reply with $e^x$.")
    return group, users


def _measure(client: Client, url: str) -> tuple[list[float], int]:
    for _ in range(WARMUP):
        assert client.get(url).status_code == 200, url
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, url
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return times, len(queries)


def main() -> None:
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        rng = random.Random(7)
        started = time.perf_counter()
        track, modules = _seed_catalogue()
        big, big_users = _seed_group(track, modules, MEMBERS, "big", rng)
        small, small_users = _seed_group(track, modules, SMALL_GROUP, "small", rng)
        print(
            f"seeded {MEMBERS}- and {SMALL_GROUP}-member groups, {MODULES * EXERCISES_PER_MODULE} "
            f"exercises, {HISTORY_DAYS} days of history in {time.perf_counter() - started:.1f} s "
            f"({connection.vendor})"
        )
        pages = {
            "board": "/groups/{g}/board/",
            "dashboard": "/dashboard/",
            "group overview": "/groups/{g}/",
            "progress table": "/groups/{g}/progress/",
            "progress csv": "/groups/{g}/progress/?format=csv",
            "thread (30 posts)": "/groups/{g}/threads/{t}/",
        }
        rows, counts = [], []
        for name, pattern in pages.items():
            measured = {}
            for label, group, users in (("50", big, big_users), ("5", small, small_users)):
                client = Client()
                client.force_login(users[0])
                url = pattern.format(g=group.pk, t=group.threads.get().pk)
                times, queries = _measure(client, url)
                measured[label] = (times, queries)
            rows.append(summarize(f"{name} ({MEMBERS} members)", measured["50"][0]))
            counts.append((name, measured["50"][1], measured["5"][1]))
        print_table(f"page time, {RUNS} requests each through the test client", rows)
        print(f"\n  {'page':<24} {'queries, 50 members':>20} {'queries, 5 members':>20}")
        for name, big_count, small_count in counts:
            flag = "" if big_count == small_count else "  <- grows with the group"
            print(f"  {name:<24} {big_count:>20} {small_count:>20}{flag}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()


if __name__ == "__main__":
    main()
