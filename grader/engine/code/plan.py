"""The plan of one grading: every call of the submission, with its inputs and expected value.

The worker generates every input and computes every expected value itself, from the seed; the
submission sees a hidden test's inputs only after every other call has been answered (send_order
puts hidden tests last, and the worker sends them only once it has read every answer before them).
"""

from __future__ import annotations

import copy
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from grader.engine.code.spec import CodeExercise, TestCase, check_cases
from grader.engine.types import SpecError

# The random streams of each kind of call, so that adding a test never changes a check's inputs.
STABILITY_STREAM = 1000
GRADIENT_STREAM = 2000
SPEED_STREAM = 3000


@dataclass
class PlannedCall:
    """One call of the submission, with what the trusted side expects of it."""

    id: str
    kind: str  # test | stability | gradient
    args: list[Any]
    expected: Any
    test: TestCase | None = None
    case: str = ""
    # The other one-sided rule's value where the function has a kink (CodeExercise.subgradient).
    alternative: Any = None
    # Seconds the reference took on these inputs in the worker (None: not timed, a gradient call).
    reference_s: float | None = None


def plan_calls(exercise: CodeExercise, seed: int) -> list[PlannedCall]:
    """Return the calls of one grading, with their expected values (plan_inputs, then complete_plan)."""
    calls = plan_inputs(exercise, seed)
    complete_plan(exercise, calls)
    return calls


def plan_inputs(exercise: CodeExercise, seed: int) -> list[PlannedCall]:
    """Return the calls of one grading with their inputs only: the tests, then the checks.

    complete_plan() adds what the trusted side expects of each: grading does that while the
    sandboxed child already works on the calls.
    """
    calls = [
        PlannedCall(
            f"t{index}",
            "test",
            draw_inputs(exercise, seed, index, test.case),
            None,
            test,
            test.case,
        )
        for index, test in enumerate(exercise.tests)
    ]
    stability = exercise.checks.get("stability")
    if stability:
        calls += [
            PlannedCall(
                f"s{index}",
                "stability",
                draw_inputs(exercise, seed, STABILITY_STREAM + index, case),
                None,
                case=case,
            )
            for index, case in enumerate(check_cases(stability))
        ]
    gradient = exercise.checks.get("gradient")
    if gradient:
        case = str(gradient.get("case", exercise.tests[0].case))
        args = draw_inputs(exercise, seed, GRADIENT_STREAM, case)
        calls.append(PlannedCall("g", "gradient", args, None, case=case))
    return calls


def complete_plan(exercise: CodeExercise, calls: list[PlannedCall]) -> None:
    """Fill in each call's expected value (and the reference's time), from trusted code only.

    A test or stability call expects the reference's value on copies of its inputs (and, where
    the function has a kink, the other rule's); the gradient call expects finite differences of
    the forward pass.
    """
    for call in calls:
        if call.kind == "gradient":
            call.expected = numeric_gradient(exercise, call.args)
        else:
            call.expected, call.reference_s = timed_call(exercise.reference, call.args)
            call.alternative = _alternative(exercise, call.args)


def reference_seconds(calls: list[PlannedCall]) -> float:
    """Return how long the reference takes on every call of a run (untimed calls at the mean)."""
    timed = [call.reference_s for call in calls if call.reference_s is not None]
    if not timed:
        return 0.0
    return sum(timed) * len(calls) / len(timed)


def timed_call(function: Callable[..., Any], args: list[Any]) -> tuple[Any, float]:
    """Call a trusted function on copies of args; return its value and the seconds it took."""
    started = time.perf_counter()
    value = call_trusted(function, args)
    return value, time.perf_counter() - started


def _alternative(exercise: CodeExercise, args: list[Any]) -> Any:
    if exercise.subgradient is None:
        return None
    return call_trusted(exercise.subgradient, args)


def send_order(calls: list[PlannedCall]) -> list[PlannedCall]:
    """Return the calls in the order the child gets them: every hidden test after the rest.

    The child gets the hidden tests only after answering every call before them, so nothing it
    says on loading or on a visible test or check can carry a hidden test's inputs.
    """
    return sorted(calls, key=lambda call: bool(call.test and call.test.hidden))


def draw_inputs(exercise: CodeExercise, seed: int, stream: int, case: str) -> list[Any]:
    """Return the arguments make_inputs draws for case from the seed's stream, in parameter order."""
    generated = exercise.make_inputs(_rng(seed, stream), case)
    if not isinstance(generated, dict) or set(generated) != set(exercise.params):
        raise SpecError(
            f"make_inputs(rng, {case!r}) must return a dict with keys {exercise.params}, "
            f"not {sorted(generated) if isinstance(generated, dict) else type(generated).__name__}",
            ("inputs",),
        )
    return [generated[param] for param in exercise.params]


def call_trusted(function: Callable[..., Any], args: list[Any]) -> Any:
    """Call a trusted function (the reference, a known mistake) on copies of args."""
    with np.errstate(all="ignore"):
        return function(*copy.deepcopy(args))


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([abs(int(seed)) % (2**63), stream])


def numeric_gradient(exercise: CodeExercise, args: list[Any]) -> list[npt.NDArray[Any]]:
    """Return central finite differences of the forward pass for each parameter in wrt."""
    forward = exercise.forward
    assert forward is not None
    gradient = exercise.checks["gradient"]
    eps = float(gradient.get("eps", 1e-6))
    named = dict(zip(exercise.params, args, strict=True))
    upstream_name = gradient.get("upstream")
    forward_params = list(inspect.signature(forward).parameters)
    upstream = np.asarray(named[upstream_name], dtype=float) if upstream_name else None

    def objective(values: dict[str, Any]) -> float:
        out = forward(**{param: values[param] for param in forward_params})
        return float(np.sum(np.asarray(out) * upstream)) if upstream is not None else float(out)

    results = []
    for param in gradient["wrt"]:
        point = {
            key: np.array(value, dtype=float) if key == param else value
            for key, value in named.items()
        }
        target = point[param]
        numeric = np.zeros_like(target)
        for index in np.ndindex(target.shape):
            original = target[index]
            target[index] = original + eps
            plus = objective(point)
            target[index] = original - eps
            minus = objective(point)
            target[index] = original
            numeric[index] = (plus - minus) / (2 * eps)
        results.append(numeric)
    return results
