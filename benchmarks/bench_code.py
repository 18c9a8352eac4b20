"""Code grading: per-submission sandbox overhead and a full relu-backward grade, against its floor.

Targets (ARCHITECTURE.md, issues 4 and 17): overhead p50 <= 12 ms, full grade p50 <= 40 ms, at
least 10x faster than spawning a fresh interpreter per submission, and a full grade at most 1.6x
its in-process floor: the same grading (compile, plan, judge, score) with the submission loaded
and called in this process instead of a sandboxed child. Grades and floor run side by side,
alternating, in the same run. Jobs run as grading runs them (return_when_answered): the child's
exit and the next child's hand-over overlap the judging, and back-to-back jobs pay for them in
the next job's wait. Grading computes the expected values while the child runs the calls; the
floor computes them first, then runs the calls.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from benchmarks.stats import print_table, ratio, summarize
from grader.engine import grade
from grader.engine.code import grade as code_grade
from grader.engine.sandbox import runtime
from grader.engine.sandbox.report import SandboxRun
from grader.engine.sandbox.worker import Sandbox, get_sandbox
from grader.engine.types import Status

ROOT = Path(__file__).resolve().parent.parent
RELU = ROOT / "exercises/backprop-by-hand/01-relu-and-linear-layers/relu-backward.yaml"
RUNS = int(os.environ.get("CHAINRULE_BENCH_RUNS", "200"))
TARGET_OVERHEAD_MS = 12.0
TARGET_GRADE_MS = 40.0
TARGET_SPEEDUP = 10.0
TARGET_FLOOR_RATIO = 1.6

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


class InProcessRunner:
    """The floor: run the submission's calls in this process, as the sandboxed child would.

    Loaded and called by the in-jail runtime's own functions, on copies of the arguments (the
    child gets its own copies over the pipe); nothing crosses a process or the wire.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        self.config = sandbox.config
        self.layers = sandbox.layers

    def run(
        self,
        source: str,
        function: str,
        calls: list[dict[str, Any]],
        *,
        timeout_s: float | None = None,
        return_when_answered: bool = False,
        meanwhile: Callable[[], float] | None = None,
    ) -> SandboxRun:
        if meanwhile is not None:
            meanwhile()  # in-process, the expected values come before the calls
        loaded, report = runtime.load_submission(source, function)
        if loaded is None:
            return SandboxRun(result=report)
        answers = [
            {"id": call["id"], **runtime.run_call(loaded, {"args": copy.deepcopy(call["args"])})}
            for call in calls
        ]
        return SandboxRun(result={"calls": answers})


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
        run = box.run(empty, "noop", [{"id": "a", "args": []}], return_when_answered=True)
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

    in_process = InProcessRunner(box)

    def floor_grade() -> None:
        code_grade.get_sandbox = lambda: in_process  # type: ignore[assignment,return-value]
        try:
            full_grade()
        finally:
            code_grade.get_sandbox = get_sandbox

    for action in (sandbox_overhead, full_grade, floor_grade, fresh_interpreter):
        _timed(action, 5)  # warm every path before measuring
    overhead = summarize("sandbox overhead (empty job)", _timed(sandbox_overhead, RUNS))
    grades: list[float] = []
    floors: list[float] = []
    for _ in range(RUNS):
        floors += _timed(floor_grade, 1)
        grades += _timed(full_grade, 1)
    full = summarize("full relu-backward grade", grades)
    floor = summarize("the same grade in-process (floor)", floors)
    fresh = summarize("fresh interpreter per submission", _timed(fresh_interpreter, RUNS))
    print_table(f"Code grading, {RUNS} runs each", [overhead, full, floor, fresh])
    print(f"  load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
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
        (
            f"full grade / in-process floor = {ratio(full, floor):.2f}x (median), "
            f"{full['p95'] / floor['p95']:.2f}x (p95) <= {TARGET_FLOOR_RATIO:g}x",
            ratio(full, floor) <= TARGET_FLOOR_RATIO,
        ),
        (f"fresh interpreter / full grade = {ratio(fresh, full):.1f}x (for reference)", True),
    ]
    for text, met in checks:
        print(f"  [{'ok' if met else 'MISSED'}] {text}")
