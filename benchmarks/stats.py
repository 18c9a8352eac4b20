"""Summaries and tables shared by every benchmark: medians, p95 and ratios against a baseline."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Return the fraction-th percentile (0..1) of samples, by linear interpolation."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(name: str, samples_ms: Sequence[float]) -> dict[str, Any]:
    """Describe one series of timings in milliseconds."""
    return {
        "name": name,
        "n": len(samples_ms),
        "p50": statistics.median(samples_ms),
        "p95": percentile(samples_ms, 0.95),
        "p99": percentile(samples_ms, 0.99),
        "max": max(samples_ms),
    }


def ratio(baseline: dict[str, Any], measured: dict[str, Any]) -> float:
    """Return how many times faster measured is than baseline, by their medians."""
    return baseline["p50"] / measured["p50"] if measured["p50"] else float("inf")


def print_table(title: str, rows: Sequence[dict[str, Any]]) -> None:
    """Print summaries as an aligned table of milliseconds."""
    print(f"\n{title}")
    header = (
        f"  {'series':<44} {'n':>6} {'p50 ms':>10} {'p95 ms':>10} {'p99 ms':>10} {'max ms':>10}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for row in rows:
        print(
            f"  {row['name']:<44} {row['n']:>6} {row['p50']:>10.2f} {row['p95']:>10.2f}"
            f" {row['p99']:>10.2f} {row['max']:>10.2f}"
        )
