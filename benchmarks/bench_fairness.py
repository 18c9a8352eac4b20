"""Fair grading under a flood: an honest learner's verdict while ten accounts send infinite loops.

Starts the same site as the pipeline benchmark (gunicorn, a symbolic and a code worker with one
process each, PostgreSQL and Redis when they answer) and measures one honest learner checking a
correct relu-backward answer over HTTP, first alone (the baseline, in the same run) and then while
ten other accounts keep sending `while True: pass` to the same exercise as fast as the site lets
them (each waits what Retry-After says when its budget is spent). Prints the honest learner's
p50/p95 submit-to-verdict in both phases, their ratio, and what the flood cost: loops graded,
answers refused, worker seconds charged to the flooders and the deadline a loop got.

Target (issue 13.2): the honest learner's p95 under the flood stays at or below 1 s.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace

from benchmarks.bench_pipeline import (
    RELU_RIGHT,
    VERDICT_TIMEOUT,
    Site,
    StudentSession,
    parse_options,
    running_site,
)
from benchmarks.stats import print_table, ratio, summarize

FLOODERS = int(os.environ.get("CHAINRULE_BENCH_FLOODERS", "10"))
HONEST_ROUNDS = int(os.environ.get("CHAINRULE_BENCH_HONEST_ROUNDS", "20"))
THINK_SECONDS = 0.5
TARGET_P95_MS = 1000.0
LOOP = "import numpy as np\n\ndef relu_backward(x, grad_out):\n    while True:\n        pass\n"
SLUG = "relu-backward"

COST = """
import django
django.setup()
from django.db.models import Count, Sum
from grader.models import GradingTicket, Submission
flood = GradingTicket.objects.exclude(user__username="bench{honest}")
settled = flood.filter(state="settled")
print(settled.count(), settled.aggregate(s=Sum("cost_s"))["s"] or 0.0,
      flood.filter(state="held").count())
rows = list(Submission.objects.filter(queue__endswith="-code").exclude(claimed_at=None)
            .order_by("claimed_at").values_list("claimed_at", "finished_at", "grading_ms"))
gaps = sorted((b[0] - a[1]).total_seconds() * 1000 for a, b in zip(rows, rows[1:]) if a[1])
busy = sorted((r[1] - r[0]).total_seconds() * 1000 for r in rows if r[1])
print(f"{gaps[len(gaps) // 2] if gaps else 0:.0f} {busy[len(busy) // 2] if busy else 0:.0f}")
for s in Submission.objects.exclude(user__username="bench{honest}").exclude(verdict=None)[:1]:
    print(s.verdict["messages"][0]["text"])
"""


def signed_in(site: Site, index: int) -> StudentSession:
    """Return student `index` signed in by the session the benchmark made for them."""
    session = StudentSession(site.url, timeout=30)
    session.use_session(site.sessions[f"bench{index}"])
    session.request(f"/exercises/{SLUG}/")
    return session


def honest_learner(site: Site, index: int, rounds: int) -> list[float]:
    """Check a correct answer `rounds` times; return each submit-to-verdict time in ms."""
    session = signed_in(site, index)
    times = []
    for _ in range(rounds):
        outcome = session.answer(SLUG, RELU_RIGHT, timeout=VERDICT_TIMEOUT)
        if outcome.verdict != "correct":
            raise RuntimeError(f"the honest answer got {outcome.status}/{outcome.verdict}")
        times.append(outcome.seconds * 1000)
        time.sleep(THINK_SECONDS)
    return times


def flooder(site: Site, index: int, stop: threading.Event, counts: dict[str, int]) -> None:
    """Send infinite loops as fast as the site accepts them; wait Retry-After when refused."""
    session = signed_in(site, index)
    while not stop.is_set():
        reply = session.request(f"/exercises/{SLUG}/", {"answer": LOOP}, htmx=True)
        if reply.status == 429:
            counts["refused"] += 1
            stop.wait(1.0)  # look again soon: the refill is steady
            continue
        counts["accepted"] += 1
        stop.wait(0.05)


def main() -> None:
    honest = FLOODERS
    print(f"1 honest learner x {HONEST_ROUNDS} answers, alone and beside {FLOODERS} flooders…")
    with running_site(replace(parse_options([]), students=FLOODERS + 1)) as site:
        print(f"backends: {site.backends}; site at {site.url}", flush=True)
        warm = signed_in(site, honest)
        warm.answer(SLUG, RELU_RIGHT, timeout=VERDICT_TIMEOUT)
        alone = honest_learner(site, honest, HONEST_ROUNDS)
        stop = threading.Event()
        counts = {"accepted": 0, "refused": 0}
        threads = [
            threading.Thread(target=flooder, args=(site, i, stop, counts), daemon=True)
            for i in range(FLOODERS)
        ]
        for thread in threads:
            thread.start()
        time.sleep(3.0)  # let the flood fill its lines before the honest learner comes back
        flooded_started = time.perf_counter()
        try:
            flooded = honest_learner(site, honest, HONEST_ROUNDS)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=35)
        flood_seconds = time.perf_counter() - flooded_started
        cost = site.manage("-c", COST.replace("{honest}", str(honest))).splitlines()
    rows = [summarize("honest, alone", alone), summarize(f"honest, {FLOODERS} flooders", flooded)]
    print_table("Submit-to-verdict of a correct code answer (ms)", rows)
    graded, charged, held = cost[0].split()
    handover, claimed_to_finished = cost[1].split()
    print(f"\n  slowdown under the flood (p50 ratio): {1 / ratio(rows[0], rows[1]):.2f}x")
    print(
        f"  the flood, over {flood_seconds:.1f} s: {counts['accepted']} loops accepted, "
        f"{counts['refused']} refused (budget spent), {graded} graded, {held} still held; "
        f"{float(charged):.1f} worker-seconds charged to the flooders"
    )
    print(
        f"  the code worker: median {claimed_to_finished} ms from claim to verdict, median "
        f"{handover} ms from one verdict to the next claim (the slot's hand-over)"
    )
    if len(cost) > 2:
        print(f"  a loop's verdict: {cost[2][:120]}")
    p95 = rows[1]["p95"]
    verdict = "meets" if p95 <= TARGET_P95_MS else "MISSES"
    print(
        f"  target: honest p95 under the flood <= {TARGET_P95_MS:.0f} ms: {verdict} ({p95:.0f} ms)"
    )
