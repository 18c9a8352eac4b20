"""How many live previews one learner may ask for: a token bucket per learner and web process.

The guarantee: a learner gets at most GRADER_PREVIEW_BURST previews at once and
GRADER_PREVIEW_PER_SECOND a second after that from each web process; past it the preview answers
429 with Retry-After and a message the page shows in place of the preview, and the answer typed
so far is kept. Each preview reads at most grader.engine.symbolic.limits.MAX_WORK steps, so one
learner's share of a web process is bounded whatever they type; fresh accounts each get their
own bucket, and the threads of the web server bound how many previews run at once.

The buckets live in the process's memory, not the database: a preview is asked for on every
pause in typing, and a row written per keystroke would cost more than the preview itself. With
several web processes a learner's rate is at most their number times the rate above.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

# Buckets that have refilled completely are dropped once this many are held.
MAX_BUCKETS = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class PreviewBuckets:
    """One token bucket per learner, shared by the threads of one process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._buckets: dict[int, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, user_id: int, *, burst: int, per_second: float) -> int:
        """Take one preview from the learner's bucket; return 0, or the seconds to wait."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(user_id) or _Bucket(tokens=float(burst), updated=now)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(burst), bucket.tokens + elapsed * per_second)
            bucket.updated = now
            if bucket.tokens < 1.0:
                self._buckets[user_id] = bucket
                return max(1, math.ceil((1.0 - bucket.tokens) / per_second))
            bucket.tokens -= 1.0
            self._buckets[user_id] = bucket
            if len(self._buckets) > MAX_BUCKETS:
                self._forget_full(now, burst=burst, per_second=per_second)
            return 0

    def clear(self) -> None:
        """Forget every bucket (a test starts from full buckets)."""
        with self._lock:
            self._buckets.clear()

    def _forget_full(self, now: float, *, burst: int, per_second: float) -> None:
        # A bucket that would have refilled by now is the same as no bucket.
        full_after = burst / per_second
        self._buckets = {
            user_id: bucket
            for user_id, bucket in self._buckets.items()
            if now - bucket.updated < full_after
        }


buckets = PreviewBuckets()


def preview_wait(user_id: int) -> int:
    """Count one preview for the learner; return 0, or the seconds until they may have another."""
    return buckets.take(
        user_id, burst=settings.GRADER_PREVIEW_BURST, per_second=settings.GRADER_PREVIEW_PER_SECOND
    )
