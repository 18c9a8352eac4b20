"""Code grading: per-submission sandbox overhead and a full relu-backward grade, against a fresh interpreter.

Targets (ARCHITECTURE.md, issue 4): overhead p50 <= 12 ms, full grade p50 <= 40 ms, and at least
10x faster than spawning a fresh interpreter per submission, measured in the same run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from benchmarks.stats import print_table, ratio, summarize
from grader.engine import grade
from grader.engine.sandbox.worker import get_sandbox
from grader.engine.types import Status

ROOT = Path(__file__).resolve().parent.parent
RELU = ROOT / "exercises/backprop-by-hand/01-relu-and-linear-layers/relu-backward.yaml"
RUNS = int(os.environ.get("CHAINRULE_BENCH_RUNS", "200"))
TARGET_OVERHEAD_MS = 12.0
TARGET_GRADE_MS = 40.0
TARGET_SPEEDUP = 10.0

# What a fresh interpreter per submission has to do: start, import NumPy, run the function, answer.
FRESH_INTERPRETER = r"""
import json, sys
import numpy as np
job = json.loads(sys.stdin.read())
namespace = {}
exec(compile(job["source"], "submission.py", "exec"), namespace)
x = np.asarray(job["x"]); grad_out = np.asarray(job["grad_out"])
out = namespace[job["function"]](x, grad_out)
sys.stdout.write(json.dumps(np.asarray(out).tolist()))
"""


def _timed(action: object, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    """Measure and print the code-grading figures with their targets."""
    spec = yaml.safe_load(RELU.read_text())
    box = get_sandbox()
    print(f"sandbox layers: {json.dumps(box.layers)}")
    empty = "def noop():\n    return 0\n"

    def sandbox_overhead() -> None:
        run = box.run(empty, "noop", [{"id": "a", "args": []}])
        assert run.result == {
            "calls": [
                {
                    "id": "a",
                    "output": 0,
                    "args_digest": [],
                    "elapsed_ms": run.result["calls"][0]["elapsed_ms"],
                }
            ]
        }

    seeds = iter(range(10**9))

    def full_grade() -> None:
        verdict = grade(spec, spec["reference"], seed=next(seeds))
        assert verdict.status == Status.CORRECT, verdict.to_dict()

    job = json.dumps(
        {
            "source": spec["reference"],
            "function": "relu_backward",
            "x": [[1.0, -2.0, 3.0]] * 4,
            "grad_out": [[0.5, 0.5, 0.5]] * 4,
        }
    )
    environment = {"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1", "LANG": "C.UTF-8"}

    def fresh_interpreter() -> None:
        subprocess.run(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-I", "-c", FRESH_INTERPRETER],
            input=job.encode(),
            env={
                **environment,
                "PYTHONPATH": os.pathsep.join(p for p in sys.path if "site-packages" in p),
            },
            capture_output=True,
            check=True,
        )

    for action in (sandbox_overhead, full_grade, fresh_interpreter):
        _timed(action, 5)  # warm every path before measuring
    overhead = summarize("sandbox overhead (empty job)", _timed(sandbox_overhead, RUNS))
    full = summarize("full relu-backward grade", _timed(full_grade, RUNS))
    fresh = summarize("fresh interpreter per submission", _timed(fresh_interpreter, RUNS))
    print_table(f"Code grading, {RUNS} runs each", [overhead, full, fresh])
    checks = [
        (
            f"overhead p50 {overhead['p50']:.1f} ms <= {TARGET_OVERHEAD_MS:g} ms",
            overhead["p50"] <= TARGET_OVERHEAD_MS,
        ),
        (
            f"full grade p50 {full['p50']:.1f} ms <= {TARGET_GRADE_MS:g} ms",
            full["p50"] <= TARGET_GRADE_MS,
        ),
        (
            f"fresh interpreter / sandbox overhead = {ratio(fresh, overhead):.1f}x >= {TARGET_SPEEDUP:g}x",
            ratio(fresh, overhead) >= TARGET_SPEEDUP,
        ),
        (f"fresh interpreter / full grade = {ratio(fresh, full):.1f}x (for reference)", True),
    ]
    for text, met in checks:
        print(f"  [{'ok' if met else 'MISSED'}] {text}")
