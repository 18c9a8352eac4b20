"""Check an expression, matrix or derivation exercise file before any student sees it.

validate_symbolic_spec returns SpecProblems, each with the path in the file it is about. Beyond
reading the fields, it grades the listed answers (also_correct, mistakes) as a student's would
be graded, for a few seeds when the exercise has parameters.
"""

from __future__ import annotations

from typing import Any

from grader.engine.symbolic.dispatch import grade_in_process
from grader.engine.symbolic.expressions import ScalarBuilder
from grader.engine.symbolic.matrices import reference_check
from grader.engine.symbolic.parser import parse_expression
from grader.engine.symbolic.problem import read_problem
from grader.engine.symbolic.scalar_check import ScalarCheck
from grader.engine.symbolic.steps import read_milestones
from grader.engine.symbolic.syntax import ParseError, names_used
from grader.engine.symbolic.variants import draw_parameters, placeholders
from grader.engine.types import SpecError, SpecProblem, Status


def validate_symbolic_spec(spec: dict[str, Any]) -> list[SpecProblem]:
    """Return the problems of an expression, matrix or derivation spec, each with its path."""
    # The schema (grader.engine.schema) has already checked the kind, the keys and their types;
    # it lets an empty text through, which no required field may be.
    problems: list[SpecProblem] = []
    kind = spec.get("kind")
    required = ("start", "target") if kind == "derivation" else ("answer",)
    for key in ("id", "title", "prompt", *required):
        if spec.get(key) is None or spec.get(key) == "":
            problems.append(SpecProblem((key,), f"{key} is missing"))
    try:
        draw_parameters(spec, 0)
        problem = read_problem(spec, 0)
    except SpecError as exc:
        return [*problems, exc.problem()]
    for variable in problem.scalars.values():
        if variable.domain == "integer" and variable.high - variable.low < 4:
            problems.append(
                SpecProblem(
                    ("variables", variable.name),
                    f"variable {variable.name}: an integer sample range with fewer than 5 values "
                    "cannot tell answers apart",
                )
            )
    missing = placeholders(str(spec.get("prompt", ""))) - set(problem.parameters)
    if missing:
        problems.append(
            SpecProblem(
                ("prompt",),
                f"the prompt uses {{{{…}}}} for undeclared parameters: {', '.join(sorted(missing))}",
            )
        )
    if any(key not in spec for key in required):
        return problems
    mistakes = spec.get("mistakes") or []
    if not isinstance(mistakes, list) or not all(
        isinstance(m, dict) and set(m) == {"answer", "feedback"} for m in mistakes
    ):
        return [
            *problems,
            SpecProblem(("mistakes",), "mistakes must be a list of {answer, feedback}"),
        ]
    if not isinstance(spec.get("also_correct") or [], list):
        return [*problems, SpecProblem(("also_correct",), "also_correct must be a list")]
    # Without parameters every seed is the same exercise; with them, check a few variants.
    for seed in (0, 1, 2) if spec.get("parameters") else (0,):
        try:
            if kind == "matrix":
                found = _validate_matrix(spec, seed)
            elif kind == "derivation":
                found = _validate_derivation(spec, seed)
            else:
                found = _validate_expression(spec, seed)
        except SpecError as exc:
            found = [exc.problem()]
        for found_problem in found:
            if found_problem not in problems:
                problems.append(found_problem)
    return problems


def _validate_expression(spec: dict[str, Any], seed: int) -> list[SpecProblem]:
    problem = read_problem(spec, seed)
    builder = ScalarBuilder(problem)
    reference = builder.build(problem.parse_author(spec["answer"], "answer"))
    check = ScalarCheck(problem, builder, reference, seed)
    if not check.samples.enough:
        return [
            SpecProblem(
                ("variables",),
                f"the reference has too few valid sample points (seed {seed}): widen or move the "
                "variables' sample intervals",
            )
        ]
    return check_listed_answers(spec, seed)


def _validate_matrix(spec: dict[str, Any], seed: int) -> list[SpecProblem]:
    problem = read_problem(spec, seed)
    problems = []
    if spec.get("helpers"):
        problems.append(SpecProblem(("helpers",), "helpers are not available in matrix exercises"))
    if problem.wrt is not None and problem.wrt not in problem.matrices:
        problems.append(SpecProblem(("wrt",), f"wrt: {problem.wrt} is not a matrix variable"))
    check = reference_check(problem, spec, seed)
    info = check.reference.info
    if any(info.sizes.find(d).startswith("?") for d in info.shape or ()):
        problems.append(
            SpecProblem(
                ("answer",), "answer: the size of the identity I cannot be told from the answer"
            )
        )
    if len(check.draws) < 3:
        problems.append(
            SpecProblem(
                ("answer",), f"the reference is undefined for most random matrices (seed {seed})"
            )
        )
        return problems
    return problems + check_listed_answers(spec, seed)


def _validate_derivation(spec: dict[str, Any], seed: int) -> list[SpecProblem]:
    problem = read_problem(spec, seed)
    builder = ScalarBuilder(problem)
    start = builder.build(problem.parse_author(spec["start"], "start"))
    target_tree = problem.parse_author(spec["target"], "target")
    target = builder.build(target_tree)
    check = ScalarCheck(problem, builder, start, seed)
    if not check.samples.enough:
        return [SpecProblem(("start",), f"the start has too few valid sample points (seed {seed})")]
    problems = []
    if not check.agrees(check.values(target)):
        problems.append(SpecProblem(("target",), "target is not equal to start"))
    for name in spec.get("final_must_use") or []:
        if name not in names_used(target_tree):
            problems.append(
                SpecProblem(
                    ("final_must_use",), f"final_must_use: the target itself does not use {name}"
                )
            )
    for index, milestone in enumerate(read_milestones(problem, spec)):
        if not check.agrees(check.values(builder.build(milestone.form))):
            problems.append(
                SpecProblem(
                    ("milestones", index, "form"),
                    f"milestones[{index}].form is not equal to the start, so no line can reach it",
                )
            )
    for index, entry in enumerate(spec.get("mistakes") or []):
        tree = problem.parse_author(entry["answer"], "mistakes", index, "answer")
        if check.agrees(check.values(builder.build(tree))):
            problems.append(
                SpecProblem(
                    ("mistakes", index),
                    f"mistakes[{index}] equals the start, so it can never be a wrong step",
                )
            )
    for index, other in enumerate(spec.get("also_correct") or []):
        verdict = grade_in_process(spec, str(other), seed=seed)
        if verdict.status != Status.CORRECT:
            problems.append(
                SpecProblem(
                    ("also_correct", index),
                    f"also_correct[{index}] is graded {verdict.status} (seed {seed}): "
                    + "; ".join(m.text for m in verdict.messages),
                )
            )
    try:
        parse_expression(str(spec["target"]), problem.vocab)
    except ParseError as error:
        problems.append(
            SpecProblem(
                ("target",), f"target uses something students cannot write: {error.message}"
            )
        )
    return problems


def check_listed_answers(spec: dict[str, Any], seed: int) -> list[SpecProblem]:
    """Grade each also_correct and mistake entry in-process; return what does not hold."""
    problems = []
    for index, other in enumerate(spec.get("also_correct") or []):
        verdict = grade_in_process(spec, str(other), seed=seed)
        if verdict.status != Status.CORRECT:
            problems.append(
                SpecProblem(
                    ("also_correct", index),
                    f"also_correct[{index}] {other!r} is graded {verdict.status} (seed {seed}): "
                    + "; ".join(m.text for m in verdict.messages),
                )
            )
    for index, mistake in enumerate(spec.get("mistakes") or []):
        verdict = grade_in_process(spec, str(mistake["answer"]), seed=seed)
        if verdict.status == Status.CORRECT:
            problems.append(
                SpecProblem(
                    ("mistakes", index),
                    f"mistakes[{index}] {mistake['answer']!r} equals the reference (seed {seed})",
                )
            )
        elif verdict.diagnosis != "known_mistake" or not any(
            m.text == str(mistake["feedback"]) for m in verdict.messages
        ):
            problems.append(
                SpecProblem(
                    ("mistakes", index),
                    f"mistakes[{index}] {mistake['answer']!r} is not matched with its feedback "
                    f"(seed {seed}); graded {verdict.status}: "
                    + "; ".join(m.text for m in verdict.messages),
                )
            )
    return problems
