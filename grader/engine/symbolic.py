"""The symbolic grader: expression, matrix and derivation exercises.

Public interface (called through grader.engine.grade / preview / variant / validate_spec):
    grade_symbolic(spec, answer, *, seed) -> Verdict    judged in a forked, limited child
    preview_symbolic(spec, answer) -> dict              {"ok", "latex", "error": {"text", "position"}}
    variant_symbolic(spec, seed) -> dict                {"parameters", "prompt", "reference", "reference_latex"}
    validate_symbolic_spec(spec) -> list[str]           problems with the exercise, in words
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, TypeVar

from grader.engine.config import EngineConfig, engine_config
from grader.engine.isolation import ChildOutcome, register_job, run_job, warm_up
from grader.engine.parse import BinOp, Node, Num, ParseError, parse_expression, substitute
from grader.engine.printing import to_latex, to_text
from grader.engine.problem import COMMON_KEYS, KIND_KEYS, SYMBOLIC_KEYS, Problem, read_problem
from grader.engine.variants import (
    SpecError,
    draw_parameters,
    format_parameter,
    placeholders,
    render_prompt,
)
from grader.engine.verdict import Message, Status, Verdict

logger = logging.getLogger(__name__)
T = TypeVar("T")

AUDIT_DISAGREEMENT = "audit_disagreement"


# --- grading -----------------------------------------------------------------------------------


def grade_symbolic(
    spec: dict[str, Any], answer: str, *, seed: int, config: EngineConfig | None = None
) -> Verdict:
    """Judge an answer in a forked child with a memory limit and a hard deadline."""
    config = config or engine_config()
    started = time.perf_counter()
    if not isinstance(answer, str):
        answer = str(answer)
    if len(answer) > config.max_answer_chars:
        verdict = invalid(
            "too_large",
            f"Your answer is too long ({len(answer)} characters; "
            f"at most {config.max_answer_chars}).",
        )
    else:
        warm_up()
        payload = {"spec": spec, "answer": answer, "seed": seed, "config": asdict(config)}
        outcome = run_job(
            SYMBOLIC_JOB,
            payload,
            deadline_s=config.symbolic_timeout_s,
            memory_mb=config.memory_mb,
        )
        verdict = _verdict_from(outcome, config)
    verdict.elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
    if AUDIT_DISAGREEMENT in verdict.flags:
        logger.warning(
            "symbolic audit disagrees with numeric verdict %s on exercise %s for answer %r",
            verdict.status,
            spec.get("id"),
            answer[:200],
        )
    if verdict.status in (Status.UNDETERMINED, Status.ERROR):
        logger.warning(
            "exercise %s: %s", spec.get("id"), "; ".join(m.text for m in verdict.messages)
        )
    return verdict


def _verdict_from(outcome: ChildOutcome, config: EngineConfig) -> Verdict:
    if outcome.result is not None:
        return Verdict.from_dict(outcome.result)
    if outcome.failure == "timeout":
        return Verdict(
            status=Status.TIMEOUT,
            messages=[
                Message(
                    "timeout",
                    f"Checking your answer took longer than {config.symbolic_timeout_s:g} s and was "
                    "stopped. Write it in a simpler form.",
                )
            ],
        )
    if outcome.failure == "memory":
        return invalid(
            "too_large",
            "Your answer is too large to check (it needed too much memory). Write it in a "
            "simpler form.",
        )
    logger.error("symbolic check failed in its child: %s %s", outcome.failure, outcome.detail)
    return Verdict(
        status=Status.ERROR,
        messages=[
            Message(
                "grader_error",
                "The grader failed on this answer; it is not counted against you and has been "
                "reported.",
            )
        ],
        flags=["grader_error"],
    )


def invalid(code: str, text: str, parsed: str | None = None) -> Verdict:
    """Return an INVALID verdict: the answer could not be read, so it is not an attempt."""
    return Verdict(status=Status.INVALID, messages=[Message(code, text)], parsed=parsed)


def parse_error_verdict(error: ParseError, text: str, prefix: str = "") -> Verdict:
    """Return the INVALID verdict of a parse error, pointing at its position."""
    return invalid(error.code, prefix + error.describe(text))


def _grade_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Grade in the child: the job that grade_symbolic sends."""
    verdict = grade_in_process(
        payload["spec"],
        payload["answer"],
        seed=int(payload["seed"]),
        config=EngineConfig(**payload["config"]),
    )
    return verdict.to_dict()


SYMBOLIC_JOB = "grade_symbolic"
register_job(SYMBOLIC_JOB, _grade_job)


def grade_in_process(
    spec: dict[str, Any], answer: str, *, seed: int, config: EngineConfig | None = None
) -> Verdict:
    """Judge an answer in this process (the child runs this; tests of limits use the child)."""
    try:
        problem = read_problem(spec, seed, config)
        if problem.kind == "matrix":
            from grader.engine.matrices import grade_matrix

            return grade_matrix(problem, spec, answer, seed=seed)
        if problem.kind == "derivation":
            from grader.engine.derivation import grade_derivation

            return grade_derivation(problem, spec, answer, seed=seed)
        return grade_expression(problem, spec, answer, seed=seed)
    except SpecError as exc:
        return Verdict(
            status=Status.ERROR,
            messages=[
                Message(
                    "spec_error",
                    "This exercise has a problem (not your answer); it has been reported to its "
                    f"author: {exc}",
                )
            ],
            flags=["spec_error"],
        )


def grade_expression(problem: Problem, spec: dict[str, Any], answer: str, *, seed: int) -> Verdict:
    """Judge a scalar expression answer against the reference."""
    from grader.engine.equivalence import symbolic_audit
    from grader.engine.expressions import ScalarBuilder
    from grader.engine.scalar_check import ScalarCheck, build_mistakes

    text = answer.strip()
    try:
        tree = parse_expression(text, problem.vocab)
    except ParseError as error:
        return parse_error_verdict(error, text)
    parsed = to_latex(tree)
    reference_tree = problem.parse_author(spec.get("answer"), "answer")
    builder = ScalarBuilder(problem)
    reference = builder.build(reference_tree)
    student = builder.build(tree)
    check = ScalarCheck(problem, builder, reference, seed)
    if not check.samples.enough:
        return undetermined(parsed)
    values = check.values(student)
    sampled_correct = check.agrees(values)
    audit = symbolic_audit(
        reference, student, problem.audit_seconds, numeric_correct=sampled_correct
    )
    # Sampling decides; an answer the audit cannot prove equal is sampled again, densely. A
    # proven difference within the tolerance stays accepted, flagged for the author.
    correct = sampled_correct and (audit == "equal" or check.confirm(student, seed))
    flags = audit_flags(correct, audit)
    if correct:
        return Verdict(
            status=Status.CORRECT,
            score=1.0,
            messages=[Message("correct", "Correct.")],
            parsed=parsed,
            flags=flags,
        )
    mistakes = build_mistakes(problem, builder, spec)
    diagnosis = check.known_mistake(values, mistakes) or best_effort(check.diagnose, values)
    counterexample = best_effort(check.counterexample, student)
    return incorrect(
        Message("incorrect", "Not equal to the expected answer."),
        diagnosis=diagnosis,
        counterexample=counterexample,
        parsed=parsed,
        flags=flags,
    )


def incorrect(
    headline: Message,
    *,
    diagnosis: Any,
    counterexample: dict[str, Any] | None,
    parsed: str | None,
    flags: list[str] | None = None,
) -> Verdict:
    """Build an incorrect verdict: the headline, then the diagnosis and the counterexample if any."""
    messages = [headline]
    if diagnosis is not None:
        messages.append(Message(diagnosis.code, diagnosis.text))
    if counterexample is not None:
        messages.append(Message("counterexample", counterexample["text"]))
    return Verdict(
        status=Status.INCORRECT,
        messages=messages,
        diagnosis=diagnosis.code if diagnosis else None,
        parsed=parsed,
        counterexample=counterexample,
        flags=flags or [],
    )


def best_effort(explain: Callable[..., T], *args: Any) -> T | None:
    """Return explain(*args), or None when explaining a wrong answer fails: the verdict stands."""
    try:
        return explain(*args)
    except (ArithmeticError, ValueError, TypeError, RecursionError):
        logger.debug("diagnosis failed", exc_info=True)
        return None


def audit_flags(numeric_correct: bool, audit: str) -> list[str]:
    """Return ["audit_disagreement"] when the symbolic audit contradicts the numeric verdict."""
    if (numeric_correct and audit == "different") or (not numeric_correct and audit == "equal"):
        return [AUDIT_DISAGREEMENT]
    return []


def undetermined(parsed: str | None) -> Verdict:
    """Return the verdict for an exercise whose reference has too few valid sample points."""
    return Verdict(
        status=Status.UNDETERMINED,
        messages=[
            Message(
                "undetermined",
                "This answer could not be checked automatically. It does not count as an attempt, "
                "and the exercise has been flagged for its author.",
            )
        ],
        parsed=parsed,
        flags=["undetermined"],
    )


# --- preview -----------------------------------------------------------------------------------


def preview_symbolic(
    spec: dict[str, Any], answer: str, config: EngineConfig | None = None
) -> dict[str, Any]:
    """Return how an answer is read, for the live preview: {"ok", "latex", "error"}.

    Runs in the calling process: it only tokenizes and parses (bounded by the parser's limits)
    and never builds SymPy objects, so the web process can call it on every keystroke.
    """
    config = config or engine_config()
    try:
        problem = read_problem(spec, None, config)
    except SpecError as exc:
        return {
            "ok": False,
            "latex": None,
            "error": {"text": f"Exercise problem: {exc}", "position": 0},
        }
    if len(answer) > config.max_answer_chars:
        return _preview_error(
            f"Your answer is too long (at most {config.max_answer_chars} characters).", 0
        )
    if problem.kind == "derivation":
        from grader.engine.derivation import preview_derivation

        return preview_derivation(problem, answer)
    text = answer.strip()
    offset = len(answer) - len(answer.lstrip())
    if not text:
        return {"ok": False, "latex": None, "error": None}
    try:
        tree = parse_expression(text, problem.vocab)
    except ParseError as error:
        return _preview_error(error.describe(text), error.position + offset)
    if problem.kind == "matrix":
        from grader.engine.matrices import ShapeError, infer_shape

        try:
            infer_shape(tree, problem)
        except ShapeError as error:
            return {
                "ok": False,
                "latex": to_latex(tree),
                "error": {"text": str(error), "position": error.position + offset},
            }
    return {"ok": True, "latex": to_latex(tree), "error": None}


def _preview_error(text: str, position: int) -> dict[str, Any]:
    return {"ok": False, "latex": None, "error": {"text": text, "position": position}}


# --- variants ----------------------------------------------------------------------------------


def variant_symbolic(spec: dict[str, Any], seed: int) -> dict[str, Any]:
    """Return this seed's parameters, prompt and reference answer (text and LaTeX)."""
    problem = read_problem(spec, seed)
    values = {name: _parameter_node(value) for name, value in problem.parameters.items()}
    if problem.kind == "derivation":
        start = substitute(problem.parse_author(spec.get("start"), "start"), values)
        target = substitute(problem.parse_author(spec.get("target"), "target"), values)
        reference = f"{to_text(start)}\n= {to_text(target)}"
        reference_latex = rf"{to_latex(start)} = {to_latex(target)}"
    else:
        tree = substitute(problem.parse_author(spec.get("answer"), "answer"), values)
        reference = to_text(tree)
        reference_latex = to_latex(tree)
    return {
        "parameters": {name: _json_number(value) for name, value in problem.parameters.items()},
        "prompt": render_prompt(str(spec.get("prompt", "")), problem.parameters),
        "reference": reference,
        "reference_latex": reference_latex,
    }


def _parameter_node(value: Any) -> Node:
    """Return a parameter as the tree the displayed reference shows: 2.5, or 1/3 as a division."""
    text = format_parameter(value)
    if "/" in text:
        numerator, denominator = text.split("/")
        return BinOp("/", Num(numerator, 0), Num(denominator, 0), 0)
    return Num(text, 0)


def _json_number(value: Any) -> int | float:
    return value if isinstance(value, int) else float(value)


# --- validation --------------------------------------------------------------------------------


def validate_symbolic_spec(spec: dict[str, Any]) -> list[str]:
    """Return the problems of an expression, matrix or derivation spec, in words."""
    problems: list[str] = []
    kind = spec.get("kind")
    if kind not in KIND_KEYS:
        return [f"kind must be expression, matrix or derivation, not {kind!r}"]
    allowed = COMMON_KEYS | SYMBOLIC_KEYS | KIND_KEYS[kind]
    unknown = sorted(str(k) for k in spec if k not in allowed)
    if unknown:
        problems.append(f"unknown keys: {', '.join(unknown)}")
    required = ("start", "target") if kind == "derivation" else ("answer",)
    for key in ("id", "title", "prompt", *required):
        if spec.get(key) is None or spec.get(key) == "":
            problems.append(f"{key} is missing")
    hints = spec.get("hints", [])
    if not isinstance(hints, list) or not all(isinstance(h, str) for h in hints):
        problems.append("hints must be a list of texts")
    try:
        draw_parameters(spec, 0)
        problem = read_problem(spec, 0)
    except SpecError as exc:
        return [*problems, str(exc)]
    for variable in problem.scalars.values():
        if variable.domain == "integer" and variable.high - variable.low < 4:
            problems.append(
                f"variable {variable.name}: an integer sample range with fewer than 5 values "
                "cannot tell answers apart"
            )
    missing = placeholders(str(spec.get("prompt", ""))) - set(problem.parameters)
    if missing:
        problems.append(
            f"the prompt uses {{{{…}}}} for undeclared parameters: {', '.join(sorted(missing))}"
        )
    if any(key not in spec for key in required):
        return problems
    mistakes = spec.get("mistakes") or []
    if not isinstance(mistakes, list) or not all(
        isinstance(m, dict) and set(m) == {"answer", "feedback"} for m in mistakes
    ):
        return [*problems, "mistakes must be a list of {answer, feedback}"]
    if not isinstance(spec.get("also_correct") or [], list):
        return [*problems, "also_correct must be a list"]
    from grader.engine.derivation import validate_derivation
    from grader.engine.matrices import validate_matrix

    # Without parameters every seed is the same exercise; with them, check a few variants.
    for seed in (0, 1, 2) if spec.get("parameters") else (0,):
        try:
            if kind == "matrix":
                found = validate_matrix(spec, seed)
            elif kind == "derivation":
                found = validate_derivation(spec, seed)
            else:
                found = _validate_expression(spec, seed)
        except SpecError as exc:
            found = [str(exc)]
        for problem_text in found:
            if problem_text not in problems:
                problems.append(problem_text)
    return problems


def _validate_expression(spec: dict[str, Any], seed: int) -> list[str]:
    from grader.engine.expressions import ScalarBuilder
    from grader.engine.scalar_check import ScalarCheck

    problem = read_problem(spec, seed)
    builder = ScalarBuilder(problem)
    reference = builder.build(problem.parse_author(spec["answer"], "answer"))
    check = ScalarCheck(problem, builder, reference, seed)
    if not check.samples.enough:
        return [
            f"the reference has too few valid sample points (seed {seed}): widen or move the "
            "variables' sample intervals"
        ]
    return check_listed_answers(spec, seed)


def check_listed_answers(spec: dict[str, Any], seed: int) -> list[str]:
    """Grade each also_correct and mistake entry in-process; return what does not hold."""
    problems = []
    for index, other in enumerate(spec.get("also_correct") or []):
        verdict = grade_in_process(spec, str(other), seed=seed)
        if verdict.status != Status.CORRECT:
            problems.append(
                f"also_correct[{index}] {other!r} is graded {verdict.status} (seed {seed}): "
                + "; ".join(m.text for m in verdict.messages)
            )
    for index, mistake in enumerate(spec.get("mistakes") or []):
        verdict = grade_in_process(spec, str(mistake["answer"]), seed=seed)
        if verdict.status == Status.CORRECT:
            problems.append(
                f"mistakes[{index}] {mistake['answer']!r} equals the reference (seed {seed})"
            )
        elif verdict.diagnosis != "known_mistake" or not any(
            m.text == str(mistake["feedback"]) for m in verdict.messages
        ):
            problems.append(
                f"mistakes[{index}] {mistake['answer']!r} is not matched with its feedback "
                f"(seed {seed}); graded {verdict.status}: "
                + "; ".join(m.text for m in verdict.messages)
            )
    return problems
