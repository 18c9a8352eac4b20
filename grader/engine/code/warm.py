"""Warm the trusted side of code grading once in a worker's parent, before it forks its pool.

warm_up() imports NumPy and the code grader and runs one small exercise through the trusted
steps of a grading (compile the spec, plan the calls, move them across the wire, compare), then
freezes the warm objects (grader.engine.forked.warm_up). It starts no sandbox zygote: a zygote
belongs to the one process that started it (grader.engine.sandbox.worker.launch_zygote).
"""

from __future__ import annotations

from typing import Any

from grader.engine import forked
from grader.engine.code.compare import compare_output
from grader.engine.code.plan import plan_calls
from grader.engine.code.spec import compile_exercise
from grader.engine.sandbox.wire import decode, encode

WARM_UP_SPEC: dict[str, Any] = {
    "id": "warm-up-code",
    "kind": "code",
    "function": "scaled",
    "signature": "scaled(x, w) -> ndarray",
    "reference": "import numpy as np\n\ndef scaled(x, w):\n    return np.tanh(x) * w\n",
    "inputs": (
        "def make_inputs(rng, case):\n"
        "    x = rng.normal(size=(8, 16))\n"
        "    return {'x': x, 'w': rng.uniform(0.5, 2.0, size=x.shape)}\n"
    ),
    "tests": [{"name": "small", "case": "small"}],
}


def warm_up() -> None:
    """Warm this process once for the trusted side of code grading (the Celery worker calls it)."""
    forked.warm_up(_prepare)


def _prepare() -> None:
    exercise = compile_exercise(WARM_UP_SPEC)
    for call in plan_calls(exercise, 0):
        returned = decode(encode({"args": call.args, "output": call.expected}))
        compare_output(returned["output"], call.expected, exercise=exercise)
