"""Multi-line derivations: each line must equal the one before, from the start to the target.

The student writes one expression per line (an optional leading "=" is ignored). Line 1 must
equal the start, each later line the line before it, and the last line the target, written
without diff and using the names in final_must_use. The verdict names the first line that does
not follow and how it differs. Lines that all follow must also be steps (grader.engine.symbolic
.steps): each changes the form of the one before, the first works on the start, and the author's
milestones are reached.
"""

from __future__ import annotations

from typing import Any

import sympy

from grader.engine.symbolic.equivalence import matches, symbolic_audit
from grader.engine.symbolic.expressions import ScalarBuilder, Value
from grader.engine.symbolic.lines import DerivationError, Line, lines_latex, parse_lines
from grader.engine.symbolic.problem import SymbolicProblem
from grader.engine.symbolic.scalar_check import ScalarCheck, build_mistakes
from grader.engine.symbolic.steps import step_problems
from grader.engine.symbolic.syntax import Node, names_used
from grader.engine.symbolic.verdicts import (
    audit_flags,
    best_effort,
    correct,
    incorrect,
    invalid,
    undetermined,
)
from grader.engine.types import (
    Phrase,
    Status,
    Verdict,
    gettext_noop,
    message,
    phrase,
    phrase_message,
)


def grade_derivation(
    problem: SymbolicProblem, spec: dict[str, Any], answer: str, *, seed: int
) -> Verdict:
    """Judge a derivation: first line = start, each line = the previous, last line = target."""
    try:
        parsed_lines = parse_lines(answer, problem)
    except DerivationError as error:
        return invalid(error.error.code, error.words)
    if not parsed_lines:
        return invalid(
            "syntax",
            phrase(gettext_noop("The derivation is empty: write one expression per line.")),
        )
    trees = [tree for _, tree in parsed_lines]
    parsed = lines_latex(trees)
    builder = ScalarBuilder(problem)
    start_tree = problem.parse_author(spec.get("start"), "start")
    target_tree = problem.parse_author(spec.get("target"), "target")
    start, target = builder.build(start_tree), builder.build(target_tree)
    check = ScalarCheck(problem, builder, start, seed)
    if not check.samples.enough:
        return undetermined(parsed)
    expressions = [builder.build(tree) for tree in trees]
    chain = [start, *expressions]
    broken = _first_broken_step(check, chain, seed)
    if broken is None:
        numbers = [line.number for line, _ in parsed_lines]
        steps = step_problems(problem, spec, trees, numbers, start=start_tree, target=target_tree)
        return _judge_final(problem, spec, check, parsed_lines, expressions, target, parsed, steps)
    line = parsed_lines[broken - 1][0]
    previous_expr, expr = chain[broken - 1], chain[broken]
    previous_values, values = check.values(previous_expr), check.values(expr)
    before = (
        phrase(gettext_noop("the start"))
        if line.number == 1
        else phrase(gettext_noop("line %(number)d"), number=line.number - 1)
    )
    audit = symbolic_audit(previous_expr, expr, problem.audit_seconds, numeric_correct=False)
    mistakes = build_mistakes(problem, builder, spec)
    diagnosis = check.known_mistake(values, mistakes) or best_effort(
        check.diagnose, values, previous_values, previous_expr
    )
    counterexample = best_effort(
        check.counterexample,
        expr,
        phrase(gettext_noop("line %(number)d"), number=line.number),
        previous_expr,
        phrase(gettext_noop("%(before)s gives"), before=before),
    )
    return incorrect(
        message(
            "step_does_not_follow",
            gettext_noop("Line %(number)d does not follow from %(before)s: it is not equal to it."),
            number=line.number,
            before=before,
        ),
        diagnosis=diagnosis,
        counterexample=counterexample,
        parsed=lines_latex(trees, wrong=broken - 1),
        flags=audit_flags(False, audit),
    )


def _first_broken_step(check: ScalarCheck, chain: list[sympy.Expr], seed: int) -> int | None:
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


def _agree(check: ScalarCheck, expected: list[Value], values: list[Value]) -> bool:
    return matches(expected, values, check.problem, check.samples.scale)


def _judge_final(
    problem: SymbolicProblem,
    spec: dict[str, Any],
    check: ScalarCheck,
    parsed_lines: list[tuple[Line, Node]],
    expressions: list[sympy.Expr],
    target: sympy.Expr,
    parsed: str,
    steps: list[Phrase],
) -> Verdict:
    last_line, last_tree = parsed_lines[-1]
    last_values = check.values(expressions[-1])
    reaches_target = check.agrees(last_values) and _agree(check, check.values(target), last_values)
    audit = symbolic_audit(
        check.reference, expressions[-1], problem.audit_seconds, numeric_correct=reaches_target
    )
    if reaches_target and audit == "different" and problem.exact:
        reaches_target = False  # a proven difference, however small, is not the target
    flags = audit_flags(reaches_target, audit)
    min_lines = int(spec.get("min_lines", 2))
    problems: list[Phrase] = []
    if len(parsed_lines) < min_lines:
        problems.append(
            phrase(
                gettext_noop(
                    "Show your steps: a derivation here needs at least %(minimum)d lines "
                    "(you wrote %(count)d)."
                ),
                minimum=min_lines,
                count=len(parsed_lines),
            )
        )
    used = names_used(last_tree)
    if "diff" in used:
        problems.append(
            phrase(
                gettext_noop("Line %(number)d still contains diff: carry the derivative out."),
                number=last_line.number,
            )
        )
    missing = [name for name in spec.get("final_must_use") or [] if name not in used]
    if missing:
        problems.append(
            phrase(
                gettext_noop(
                    "Your last line is equal to the target but not in the asked form: write it "
                    "using %(names)s."
                ),
                names=", ".join(missing),
            )
        )
    problems.extend(steps)
    if not reaches_target:
        problems.insert(
            0, phrase(gettext_noop("Every line follows, but the last line is not the target yet."))
        )
    if problems:
        return Verdict(
            status=Status.INCORRECT,
            messages=[phrase_message("derivation_incomplete", words) for words in problems],
            parsed=parsed,
            flags=flags,
        )
    done = phrase(gettext_noop("Correct: all %(count)d lines follow."), count=len(parsed_lines))
    return correct(parsed, done, flags)
