"""Check a code exercise for its author: compile it and run the reference on every case it declares.

Each problem is a SpecProblem with the path of the field at fault, which the course checker maps
to a line of the exercise file.
"""

from __future__ import annotations

import ast
import math
from typing import Any

from grader.engine.code.compare import compare_gradient, compare_output
from grader.engine.code.plan import PlannedCall, call_trusted, plan_calls
from grader.engine.code.spec import CodeExercise, compile_exercise
from grader.engine.types import SpecError, SpecProblem, Variant

# The fields a code exercise may use beside the common ones (the schema checks them).
CODE_KEYS = frozenset(
    {
        "function",
        "signature",
        "starter",
        "reference",
        "inputs",
        "tests",
        "checks",
        "tolerance",
        "outputs",
        "timeout",
        "max_answer_bytes",
        "mistakes",
        "also_correct",
        "subgradient",
    }
)
# The seed the references run with while a spec is checked.
VALIDATION_SEED = 12345


def variant_code(spec: dict[str, Any], seed: int) -> Variant:
    """Return the prompt and reference of a code exercise; code exercises have no parameters."""
    return Variant(
        parameters={},
        prompt=str(spec.get("prompt", "")),
        reference=str(spec.get("reference", "")),
        reference_latex=None,
        solution=str(spec.get("solution") or ""),
    )


def validate_code_spec(spec: dict[str, Any]) -> list[SpecProblem]:
    """Return the problems with a code spec; run the reference on every case it declares.

    The spec already has the schema's shape (grader.engine.schema, which also names unknown and
    missing fields): these are the problems only compiling and running it can find.
    """
    try:
        exercise = compile_exercise(spec)
    except SpecError as error:
        return [error.problem()]
    problems = _authoring_problems(spec, exercise)
    try:
        calls = plan_calls(exercise, seed=VALIDATION_SEED)
    except Exception as error:  # noqa: BLE001
        where = error.path if isinstance(error, SpecError) else ("inputs",)
        text = f"generators or reference fail: {type(error).__name__}: {error}"
        return [*problems, SpecProblem(where, text)]
    problems += [problem for call in calls if (problem := _reference_problem(call, exercise))]
    return problems


def _authoring_problems(spec: dict[str, Any], exercise: CodeExercise) -> list[SpecProblem]:
    """Return the problems a compiled spec can still have: starter, visible tests, tolerances."""
    problems = []
    try:
        ast.parse(str(spec.get("starter", "")))
    except SyntaxError as error:
        problems.append(
            SpecProblem(
                ("starter",), f"starter has a syntax error on line {error.lineno}: {error.msg}"
            )
        )
    if all(test.hidden for test in exercise.tests):
        problems.append(SpecProblem(("tests",), "at least one test must be visible"))
    for key in ("rtol", "atol"):
        value = (spec.get("tolerance") or {}).get(key, 0.0)
        if not isinstance(value, int | float) or value < 0 or math.isnan(value):
            problems.append(
                SpecProblem(("tolerance", key), f"tolerance.{key} must be a non-negative number")
            )
    return problems


def _reference_problem(call: PlannedCall, exercise: CodeExercise) -> SpecProblem | None:
    """Return what is wrong with the reference's own answer to a planned call, if anything."""
    if call.kind == "gradient":
        problem = compare_gradient(
            call_trusted(exercise.reference, call.args), call.expected, exercise
        )
        if problem:
            return SpecProblem(
                ("checks", "gradient"),
                f"the reference fails its own gradient check: {problem.text}",
            )
    elif compare_output(call.expected, call.expected, exercise=exercise) is not None:
        return SpecProblem(
            ("reference",), f"the reference returns unusable values on case {call.case!r}"
        )
    elif exercise.output_names and (
        not isinstance(call.expected, tuple | list)
        or len(call.expected) != len(exercise.output_names)
    ):
        return SpecProblem(
            ("reference",), f"the reference does not return {len(exercise.output_names)} values"
        )
    return None
