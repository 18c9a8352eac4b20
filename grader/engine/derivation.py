"""Multi-line derivations: each line must equal the one before, from the start to the target.

The student writes one expression per line (an optional leading "=" is ignored). Line 1 must
equal the start, each later line the line before it, and the last line the target, written
without diff and using the names in final_must_use. The verdict names the first line that does
not follow and how it differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grader.engine.parse import Node, ParseError, names_used, parse_expression
from grader.engine.printing import to_latex
from grader.engine.problem import Problem, read_problem
from grader.engine.verdict import Message, Status, Verdict

MAX_LINES = 40


@dataclass
class Line:
    number: int  # 1-based, counting only non-blank lines
    text: str
    offset: int  # where the expression starts in the whole answer


def split_lines(answer: str) -> list[Line]:
    """Return the non-blank lines of a derivation, without a leading "="."""
    lines = []
    offset = 0
    for raw in answer.split("\n"):
        stripped = raw.strip()
        start = offset + (len(raw) - len(raw.lstrip()))
        if stripped.startswith("="):
            body = stripped[1:]
            start += 1 + (len(body) - len(body.lstrip()))
            stripped = body.strip()
        if stripped:
            lines.append(Line(len(lines) + 1, stripped, start))
        offset += len(raw) + 1
    return lines


class DerivationError(ValueError):
    """A line could not be read; carries the line and the position in the whole answer."""

    def __init__(self, line: Line, error: ParseError) -> None:
        super().__init__(error.message)
        self.line = line
        self.error = error

    @property
    def text(self) -> str:
        return f"Line {self.line.number}: {self.error.describe(self.line.text)}"

    @property
    def position(self) -> int:
        return self.line.offset + self.error.position


def parse_lines(answer: str, problem: Problem) -> list[tuple[Line, Node]]:
    """Parse every line; raise DerivationError at the first that cannot be read."""
    lines = split_lines(answer)
    if len(lines) > MAX_LINES:
        raise DerivationError(
            lines[MAX_LINES],
            ParseError(f"a derivation may have at most {MAX_LINES} lines", 0, "too_large"),
        )
    parsed = []
    for line in lines:
        try:
            parsed.append((line, parse_expression(line.text, problem.vocab)))
        except ParseError as error:
            raise DerivationError(line, error) from error
    return parsed


def lines_latex(trees: list[Node]) -> str:
    """Return the lines as an aligned LaTeX block, each after "=" as read."""
    rows = [rf"&= {to_latex(tree)}" for tree in trees]
    return r"\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}"


def preview_derivation(problem: Problem, answer: str) -> dict[str, Any]:
    """Return the live preview of a derivation (all lines, or the first unreadable one)."""
    try:
        parsed = parse_lines(answer, problem)
    except DerivationError as error:
        return {
            "ok": False,
            "latex": None,
            "error": {"text": error.text, "position": error.position},
        }
    if not parsed:
        return {"ok": False, "latex": None, "error": None}
    return {"ok": True, "latex": lines_latex([tree for _, tree in parsed]), "error": None}


def grade_derivation(problem: Problem, spec: dict[str, Any], answer: str, *, seed: int) -> Verdict:
    """Judge a derivation: first line = start, each line = the previous, last line = target."""
    from grader.engine.equivalence import symbolic_audit
    from grader.engine.expressions import ScalarBuilder
    from grader.engine.scalar_check import ScalarCheck, build_mistakes
    from grader.engine.symbolic import audit_flags, best_effort, incorrect, invalid, undetermined

    try:
        parsed_lines = parse_lines(answer, problem)
    except DerivationError as error:
        return invalid(error.error.code, error.text)
    if not parsed_lines:
        return invalid("syntax", "The derivation is empty: write one expression per line.")
    trees = [tree for _, tree in parsed_lines]
    parsed = lines_latex(trees)
    builder = ScalarBuilder(problem)
    start = builder.build(problem.parse_author(spec.get("start"), "start"))
    target = builder.build(problem.parse_author(spec.get("target"), "target"))
    check = ScalarCheck(problem, builder, start, seed)
    if not check.samples.enough:
        return undetermined(parsed)
    expressions = [builder.build(tree) for tree in trees]
    chain = [start, *expressions]
    broken = _first_broken_step(check, chain, seed)
    if broken is None:
        return _judge_final(problem, spec, check, parsed_lines, expressions, target, parsed)
    line = parsed_lines[broken - 1][0]
    previous_expr, expr = chain[broken - 1], chain[broken]
    previous_values, values = check.values(previous_expr), check.values(expr)
    before = "the start" if line.number == 1 else f"line {line.number - 1}"
    audit = symbolic_audit(previous_expr, expr, problem.audit_seconds, numeric_correct=False)
    mistakes = build_mistakes(problem, builder, spec)
    diagnosis = check.known_mistake(values, mistakes) or best_effort(
        check.diagnose, values, previous_values, previous_expr
    )
    counterexample = best_effort(
        check.counterexample, expr, f"line {line.number}", previous_expr, f"{before} gives"
    )
    return incorrect(
        Message(
            "step_does_not_follow",
            f"Line {line.number} does not follow from {before}: it is not equal to it.",
        ),
        diagnosis=diagnosis,
        counterexample=counterexample,
        parsed=parsed,
        flags=audit_flags(False, audit),
    )


def _first_broken_step(check: Any, chain: list[Any], seed: int) -> int | None:
    """Return the index in chain of the first line not equal to the one before it, or None.

    The sample points decide first; a chain that passes them is checked again on the dense
    points, so a line that differs only on a small part of the domain is still caught.
    """
    previous = check.samples.reference
    for k, expr in enumerate(chain[1:], start=1):
        values = check.values(expr)
        if not _agree(check, previous, values):
            return k
        previous = values
    return check.first_dense_disagreement(chain[1:], seed)


def _agree(check: Any, expected: list[Any], values: list[Any]) -> bool:
    from grader.engine.equivalence import matches

    return matches(expected, values, check.problem, check.samples.scale)


def _judge_final(
    problem: Problem,
    spec: dict[str, Any],
    check: Any,
    parsed_lines: list[tuple[Line, Node]],
    expressions: list[Any],
    target: Any,
    parsed: str,
) -> Verdict:
    from grader.engine.equivalence import symbolic_audit
    from grader.engine.symbolic import audit_flags

    last_line, last_tree = parsed_lines[-1]
    last_values = check.values(expressions[-1])
    reaches_target = check.agrees(last_values) and _agree(check, check.values(target), last_values)
    audit = symbolic_audit(
        check.reference, expressions[-1], problem.audit_seconds, numeric_correct=reaches_target
    )
    flags = audit_flags(reaches_target, audit)
    min_lines = int(spec.get("min_lines", 2))
    problems = []
    if len(parsed_lines) < min_lines:
        problems.append(
            f"Show your steps: a derivation here needs at least {min_lines} lines "
            f"(you wrote {len(parsed_lines)})."
        )
    used = names_used(last_tree)
    if "diff" in used:
        problems.append(f"Line {last_line.number} still contains diff: carry the derivative out.")
    missing = [name for name in spec.get("final_must_use") or [] if name not in used]
    if missing:
        problems.append(
            f"Your last line is equal to the target but not in the asked form: write it using "
            f"{', '.join(missing)}."
        )
    if not reaches_target:
        problems.insert(0, "Every line follows, but the last line is not the target yet.")
    if problems:
        return Verdict(
            status=Status.INCORRECT,
            messages=[Message("derivation_incomplete", text) for text in problems],
            parsed=parsed,
            flags=flags,
        )
    return Verdict(
        status=Status.CORRECT,
        score=1.0,
        messages=[Message("correct", f"Correct: all {len(parsed_lines)} lines follow.")],
        parsed=parsed,
        flags=flags,
    )


def validate_derivation(spec: dict[str, Any], seed: int) -> list[str]:
    """Return the problems of a derivation spec for one seed."""
    from grader.engine.expressions import ScalarBuilder
    from grader.engine.scalar_check import ScalarCheck
    from grader.engine.symbolic import grade_in_process

    problem = read_problem(spec, seed)
    builder = ScalarBuilder(problem)
    start = builder.build(problem.parse_author(spec["start"], "start"))
    target = builder.build(problem.parse_author(spec["target"], "target"))
    check = ScalarCheck(problem, builder, start, seed)
    if not check.samples.enough:
        return [f"the start has too few valid sample points (seed {seed})"]
    problems = []
    if not check.agrees(check.values(target)):
        problems.append("target is not equal to start")
    for name in spec.get("final_must_use") or []:
        if name not in names_used(problem.parse_author(spec["target"], "target")):
            problems.append(f"final_must_use: the target itself does not use {name}")
    for index, entry in enumerate(spec.get("mistakes") or []):
        tree = problem.parse_author(entry["answer"], f"mistakes[{index}].answer")
        if check.agrees(check.values(builder.build(tree))):
            problems.append(f"mistakes[{index}] equals the start, so it can never be a wrong step")
    for index, other in enumerate(spec.get("also_correct") or []):
        verdict = grade_in_process(spec, str(other), seed=seed)
        if verdict.status != Status.CORRECT:
            problems.append(
                f"also_correct[{index}] is graded {verdict.status} (seed {seed}): "
                + "; ".join(m.text for m in verdict.messages)
            )
    try:
        parse_expression(str(spec["target"]), problem.vocab)
    except ParseError as error:
        problems.append(f"target uses something students cannot write: {error.message}")
    return problems
