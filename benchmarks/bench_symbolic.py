"""Time symbolic checks in a warm worker against the same work in-process and a fresh interpreter.

`python -m benchmarks symbolic`. The corpus is the five contract exercises with correct answers,
their known mistakes, generic near misses and unreadable input, plus hostile input. Figures are
printed (median, p95) with ratios measured in the same run; nothing is asserted.

Side by side, check after check: a fresh forked child per check (forked ahead of time, as the
worker did before children were reused), the in-process floor (grade_in_process in this warm
process, SymPy's result cache emptied before each check as the worker's child empties it after
each: the same work, without isolation), and the worker's path (engine.grade: a reused forked
child, hand-over included). In-process with SymPy's cache kept over all rounds is shown too
(measured first, alone): there a repeated answer is a cache hit, which the worker gives up on
purpose so that no student's check reaches another's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.stats import print_table, ratio, summarize
from grader import engine
from grader.engine import forked
from grader.engine.symbolic import dispatch

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = {
    "sigmoid-derivative": "everyday-derivatives/02-activations/sigmoid-derivative.yaml",
    "sigmoid-derivative-steps": "everyday-derivatives/02-activations/sigmoid-derivative-steps.yaml",
    "gaussian-variance-mle": "likelihood-and-mle/02-gaussian-mle/gaussian-variance-mle.yaml",
    "least-squares-gradient": "matrix-calculus/02-least-squares-and-layouts/least-squares-gradient.yaml",
    "quadratic-form-gradient": "matrix-calculus/01-linear-and-quadratic-forms/quadratic-form-gradient.yaml",
}
EXTRA_ANSWERS = {
    "sigmoid-derivative": [
        ("sigma(x)(1-sigma(x))", "correct"),
        ("2 sigma(x)(1 - sigma(x))", "incorrect"),
        ("sigma(x)(1-sigma(x)) + 1e-6", "incorrect"),
        ("sigma(x)", "incorrect"),
        ("sigma(x)(1-sigma(x)", "invalid"),
        ("xy", "invalid"),
    ],
    "sigmoid-derivative-steps": [
        (
            "= exp(-x)/(1+exp(-x))^2\n= sigma(x) exp(-x)/(1+exp(-x))\n= 2 sigma(x)(1-sigma(x))",
            "incorrect",
        ),
        ("= exp(-x)/(1+exp(-x))^2\n= (1+exp(-x)\n= sigma(x)", "invalid"),
    ],
    "gaussian-variance-mle": [
        ("S2/n - S1^2/n^2", "correct"),
        ("2 (S2/n - (S1/n)^2)", "incorrect"),
        ("S2 - S1^2", "incorrect"),
    ],
    "least-squares-gradient": [
        ("2 A'(A x - b)", "correct"),
        ("-2 A^T (A x - b)", "incorrect"),
        ("2 (A x - b)^T A", "invalid"),
    ],
    "quadratic-form-gradient": [
        ("B x + B^T x", "correct"),
        ("3 B x", "incorrect"),
        ("x^T (B + B^T)", "invalid"),
    ],
}
HOSTILE = [
    ("sigmoid-derivative", "__import__('os').system('touch /tmp/pwned')"),
    ("sigmoid-derivative", "10^10^10"),
    ("sigmoid-derivative", "(x+1)^10000"),
    ("sigmoid-derivative", "(" * 500 + "x" + ")" * 500),
    ("sigmoid-derivative", "x+" * 50_000 + "x"),
    ("sigmoid-derivative-steps", "\n".join(["diff(diff(exp(x^2), x), x)"] * 40)),
]
ROUNDS = 5
TARGET_RATIO = 1.5  # the worker's check against the in-process floor, by medians
FRESH_CHILD_JOB = "bench_grade_in_a_fresh_child"
FRESH_SUBSET = 8
FRESH_SCRIPT = """
import json, sys
sys.path.insert(0, {root!r})
from grader import engine
spec, answer = json.loads(sys.stdin.read())
print(json.dumps(engine.grade(spec, answer, seed=0).to_dict()))
"""


def load_corpus() -> tuple[dict[str, dict[str, Any]], list[tuple[str, str, str]]]:
    """Return the specs and the (exercise, answer, expected status) checks."""
    specs = {
        slug: yaml.safe_load((ROOT / "exercises" / path).read_text(encoding="utf-8"))
        for slug, path in EXERCISES.items()
    }
    checks: list[tuple[str, str, str]] = []
    for slug, spec in specs.items():
        checks.extend((slug, str(answer), "correct") for answer in spec.get("also_correct", []))
        if spec["kind"] != "derivation":
            checks.append((slug, str(spec["answer"]), "correct"))
        checks.extend((slug, str(m["answer"]), "incorrect") for m in spec.get("mistakes", []))
        checks.extend((slug, answer, status) for answer, status in EXTRA_ANSWERS[slug])
    return specs, checks


def _grade_job(payload: dict[str, Any]) -> dict[str, Any]:
    verdict = dispatch.grade_in_process(payload["spec"], payload["answer"], seed=0)
    return {"status": str(verdict.status)}


def time_side_by_side(
    specs: dict[str, dict[str, Any]], checks: list[tuple[str, str, str]]
) -> dict[str, Any]:
    """Grade every check ROUNDS times each way, one after the other; return timings and mismatches."""
    forked.register_job(FRESH_CHILD_JOB, _grade_job)  # no reuse: a child of its own per check
    samples: dict[str, list[float]] = {}
    wrong: list[str] = []

    def timed(series: str, action: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        value = action(*args, **kwargs)
        samples.setdefault(series, []).append((time.perf_counter() - started) * 1000)
        return value

    for _ in range(ROUNDS):  # first, alone: nothing here empties SymPy's cache
        for slug, answer, _expected in checks:
            timed("cache kept", dispatch.grade_in_process, specs[slug], answer, seed=0)
    for _ in range(ROUNDS):
        for slug, answer, expected in checks:
            spec = specs[slug]
            timed("fresh child", forked.run_job, FRESH_CHILD_JOB, {"spec": spec, "answer": answer})
            dispatch.SYMBOLIC_REUSE.reset()  # as the worker's child does after every check
            timed("floor", dispatch.grade_in_process, spec, answer, seed=0)
            verdict = timed("worker", engine.grade, spec, answer, seed=0)
            samples.setdefault(f"worker ({spec['kind']})", []).append(samples["worker"][-1])
            if verdict.status != expected:
                wrong.append(f"{slug}: {answer!r} graded {verdict.status}, expected {expected}")
    return {"samples": samples, "wrong": sorted(set(wrong))}


def time_inside_child(
    specs: dict[str, dict[str, Any]], checks: list[tuple[str, str, str]]
) -> list[float]:
    """Time the check's own work, measured inside the forked child (fork and exit excluded)."""

    def timed(spec: dict[str, Any], answer: str) -> dict[str, Any]:
        started = time.perf_counter()
        dispatch.grade_in_process(spec, answer, seed=0)
        return {"ms": (time.perf_counter() - started) * 1000}

    samples = []
    for slug, answer, _ in checks:
        outcome = forked.run_in_child(lambda s=specs[slug], a=answer: timed(s, a))
        if outcome.result is not None:
            samples.append(outcome.result["ms"])
    return samples


def time_fresh(specs: dict[str, dict[str, Any]], checks: list[tuple[str, str, str]]) -> list[float]:
    """Grade a subset, each in a freshly spawned interpreter (import, warm-up, fork, check)."""
    step = max(1, len(checks) // FRESH_SUBSET)
    subset = checks[::step][:FRESH_SUBSET]
    script = FRESH_SCRIPT.format(root=str(ROOT))
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    samples = []
    for slug, answer, expected in subset:
        started = time.perf_counter()
        result = subprocess.run(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", script],
            input=json.dumps([specs[slug], answer]),
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        samples.append((time.perf_counter() - started) * 1000)
        status = json.loads(result.stdout)["status"]
        if status != expected:
            print(f"  fresh interpreter disagreed: {slug} {answer!r} -> {status}")
    return samples


def time_empty_jobs(rounds: int = 50) -> dict[str, list[float]]:
    """Time isolation with no work: a child forked on demand, and a child forked ahead of time."""
    forked.register_job("bench_empty", lambda payload: {})
    samples: dict[str, list[float]] = {"on demand": [], "ahead": []}
    for _ in range(rounds):
        started = time.perf_counter()
        forked.run_in_child(dict)
        samples["on demand"].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        forked.run_job("bench_empty", {})
        samples["ahead"].append((time.perf_counter() - started) * 1000)
    return samples


def time_hostile(specs: dict[str, dict[str, Any]]) -> list[float]:
    """Grade each hostile input, then check the worker still answers a normal check."""
    samples = []
    for slug, answer in HOSTILE:
        started = time.perf_counter()
        verdict = engine.grade(specs[slug], answer, seed=0)
        samples.append((time.perf_counter() - started) * 1000)
        follow_up = engine.grade(specs["sigmoid-derivative"], "sigma(x)(1-sigma(x))", seed=0)
        print(
            f"  hostile {answer[:40]!r:<44} -> {verdict.status:<10} "
            f"{samples[-1]:8.1f} ms; worker still serving: {follow_up.status == 'correct'}"
        )
    return samples


def main() -> None:
    specs, checks = load_corpus()
    started = time.perf_counter()
    dispatch.warm_up()
    print(
        f"warm-up in the parent: {(time.perf_counter() - started) * 1000:.0f} ms (once per worker)"
    )
    engine.grade(specs["sigmoid-derivative"], "sigma(x)", seed=0)
    empty = time_empty_jobs()
    side = time_side_by_side(specs, checks)
    inside = time_inside_child(specs, checks)
    fresh = time_fresh(specs, checks)
    hostile = time_hostile(specs)
    series = side["samples"]
    floor = summarize("in-process floor (the same work, no isolation)", series["floor"])
    kept = summarize("in-process, SymPy's cache kept across checks", series["cache kept"])
    worker = summarize("worker: reused forked child (all)", series["worker"])
    rows = [floor, kept, worker]
    for kind in ("expression", "matrix", "derivation"):
        rows.append(summarize(f"worker: reused forked child ({kind})", series[f"worker ({kind})"]))
    fresh_child = summarize("a fresh forked child per check (before)", series["fresh child"])
    rows.append(fresh_child)
    fresh_row = summarize("fresh interpreter per check (subset)", fresh)
    rows.append(fresh_row)
    rows.append(summarize("hostile input, worker", hostile))
    rows.append(summarize("check work inside a fresh child (no fork/exit)", inside))
    rows.append(summarize("empty job, child forked ahead", empty["ahead"]))
    rows.append(summarize("empty job, child forked on demand", empty["on demand"]))
    print_table(f"symbolic checks: {len(checks)} answers x {ROUNDS} rounds, side by side", rows)
    load = os.getloadavg()[0]
    print(f"\n  load average during the run: {load:.1f} on {os.cpu_count()} CPUs")
    for name, row in (("worker", worker), ("fresh child per check", fresh_child)):
        print(
            f"  {name} / in-process floor: median {ratio(row, floor):.2f}x, "
            f"p95 {row['p95'] / floor['p95']:.2f}x"
        )
    print(
        f"  worker / in-process with SymPy's cache kept: median {ratio(worker, kept):.2f}x "
        "(repeated answers hit that cache; the worker empties it between students)"
    )
    met = ratio(worker, floor) <= TARGET_RATIO
    print(
        f"  [{'ok' if met else 'MISSED'}] worker check <= {TARGET_RATIO:g}x the in-process floor "
        f"(median)\n  fresh interpreter / worker (median): {ratio(fresh_row, worker):.1f}x"
    )
    if side["wrong"]:
        print("\n  verdicts that differ from the corpus:")
        for line in side["wrong"]:
            print(f"    {line}")
    else:
        print(f"  every verdict matched the corpus ({len(checks)} answers; no false accept)")
