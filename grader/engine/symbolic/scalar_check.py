"""Compare scalar expressions with a reference at seeded sample points and explain differences.

grade_expression judges an expression exercise's answer with it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import mpmath
import sympy

from grader.engine.symbolic import probe_points
from grader.engine.symbolic.diagnosis import (
    Diagnosis,
    diagnose_missing_factor,
    diagnose_scalar,
    diagnosis,
)
from grader.engine.symbolic.equivalence import (
    AuditTimeout,
    Samples,
    as_json_number,
    close,
    draw_point_value,
    draw_samples,
    format_pair,
    format_point,
    matches,
    nice_points,
    symbolic_audit,
    time_budget,
)
from grader.engine.symbolic.expressions import Evaluator, ScalarBuilder, Value
from grader.engine.symbolic.parser import parse_expression
from grader.engine.symbolic.printing import to_latex
from grader.engine.symbolic.problem import SymbolicProblem
from grader.engine.symbolic.syntax import Node, Num, ParseError, children_of
from grader.engine.symbolic.verdicts import (
    audit_flags,
    best_effort,
    correct,
    incorrect,
    parse_error_verdict,
    undetermined,
)
from grader.engine.types import (
    DECIMAL_APPROXIMATION,
    KNOWN_MISTAKE,
    Phrase,
    Verdict,
    gettext_noop,
    message,
    phrase,
    render_phrase,
)

FACTOR_SECONDS = 0.05
CONFIRM_POINTS = 200
KINK_WIDTH = 1e-20  # an argument this close to 0 puts a point on a kink
# A typed decimal that agrees with an exact reference to this relative error or better is read
# as a rounding of it ("0.3333" for 1/3), not as a different value.
DECIMAL_CLOSENESS = 5e-3


@dataclass
class ScalarMistake:
    expr: sympy.Expr
    feedback: str
    index: int = 0  # its place in the exercise's mistakes list


class ScalarCheck:
    """One reference expression, its sample points, and comparisons against it."""

    def __init__(
        self, problem: SymbolicProblem, builder: ScalarBuilder, reference: sympy.Expr, seed: int
    ):
        self.problem = problem
        self.builder = builder
        self.symbols = [builder.symbols[name] for name in problem.scalars]
        self.reference = reference
        self.reference_evaluator = Evaluator(reference, self.symbols)
        self.samples: Samples = draw_samples(problem, self.reference_evaluator, seed)

    def values(self, expr: sympy.Expr) -> list[Value]:
        """Return expr's values at the sample points."""
        return self._values_at(expr, self.samples.points)

    def agrees(self, values: list[Value]) -> bool:
        """Say whether values match the reference's at every sample point."""
        return matches(self.samples.reference, values, self.problem, self.samples.scale)

    def confirm(self, expr: sympy.Expr, seed: int) -> bool:
        """Check a numerically accepted answer again on many more points (and the interval ends).

        Run when the symbolic audit could not prove equality: it catches answers that differ
        only on a small part of the domain (a max, an abs or a shifted kink) between the points.
        """
        return self.first_dense_disagreement([expr], seed) is None

    def first_dense_disagreement(self, lines: list[sympy.Expr], seed: int) -> int | None:
        """Return the 1-based k where lines[k - 1] differs from the line before, or None.

        The line before the first is the reference. The points are CONFIRM_POINTS more draws
        from the sample intervals and their ends, then points of the whole declared domain
        (probe_points: far values, the lines' landmarks, a lattice of small values). Where the
        line before is real, a line must be real there too and close to it; where it is complex
        or undefined, the exercise does not say what the answer is there, and nothing is compared
        (so log(x^2)/2 stands for log(x), while (a^b)^c against a^(b*c) is caught at the lattice
        points where one is real and the other is not or is another real).
        """
        points = self._away_from_kinks(self.confirmation_points(lines, seed), lines)
        previous = [self.reference_evaluator.at(point) for point in points]
        keep = [i for i, value in enumerate(previous) if value is not None]
        points = [points[i] for i in keep]
        previous = [previous[i] for i in keep]
        for k, line in enumerate(lines, start=1):
            values = self._values_at(line, points)
            if not all(self._same(p, v) for p, v in zip(previous, values, strict=True)):
                return k
            previous = values
        return None

    def confirmation_points(self, lines: list[sympy.Expr], seed: int) -> list[list[Any]]:
        """Return the points an answer is checked at before a numeric acceptance stands."""
        rng = random.Random(f"chainrule-confirm:{seed}:{self.problem.exercise_id}")
        variables = list(self.problem.scalars.values())
        dense = [[draw_point_value(v, rng) for v in variables] for _ in range(CONFIRM_POINTS)]
        base = self.samples.points[0]
        return [
            *dense,
            *self._interval_ends(),
            *probe_points.far_points(self.problem, base, seed),
            *probe_points.landmark_points(self.problem, self.symbols, lines, base),
            *probe_points.lattice_points(self.problem, seed),
        ]

    def _away_from_kinks(self, points: list[list[Any]], lines: list[sympy.Expr]) -> list[list[Any]]:
        """Drop the points where the reference or a line has a kink (probe_points explains)."""
        arguments = probe_points.kink_arguments([self.reference, *lines])
        if not arguments:
            return points
        evaluators = [Evaluator(argument, self.symbols) for argument in arguments]

        def at_kink(point: list[Any]) -> bool:
            for evaluator in evaluators:
                value = evaluator.at(point)
                if value is not None and abs(value) <= KINK_WIDTH:
                    return True
            return False

        return [point for point in points if not at_kink(point)]

    def _same(self, expected: Value, got: Value) -> bool:
        if not is_real(expected):
            return True  # not real for the line before: the exercise says nothing here
        return is_real(got) and close(expected, got, self.problem, self.samples.scale)

    def _values_at(self, expr: sympy.Expr, points: list[list[Any]]) -> list[Value]:
        evaluator = Evaluator(expr, self.symbols)
        return [evaluator.at(point) for point in points]

    def _interval_ends(self) -> list[list[Any]]:
        variables = list(self.problem.scalars.values())
        corners = []
        for index, variable in enumerate(variables):
            for end in (variable.low, variable.high):
                point = list(self.samples.points[0])
                point[index] = mpmath.mpf(end)
                corners.append(point)
        return corners

    def known_mistake(self, values: list[Value], mistakes: list[ScalarMistake]) -> Diagnosis | None:
        """Return the author's feedback when values match one of the listed mistakes."""
        for mistake in mistakes:
            if matches(self.values(mistake.expr), values, self.problem, self.samples.scale):
                return Diagnosis(
                    KNOWN_MISTAKE, mistake.feedback, source=("mistakes", mistake.index, "feedback")
                )
        return None

    def diagnose(
        self,
        values: list[Value],
        expected: list[Value] | None = None,
        expected_expr: sympy.Expr | None = None,
    ) -> Diagnosis | None:
        """Return the generic diagnosis of wrong values (against the reference by default)."""
        reference = self.samples.reference if expected is None else expected
        reference_expr = self.reference if expected_expr is None else expected_expr
        if all(
            close(r, v, self.problem, self.samples.scale)
            for r, v in zip(reference, values, strict=True)
        ):
            return None  # only the dense confirmation found the difference
        found = diagnose_scalar(reference, values, self._factor_candidates())
        if found is not None:
            return found
        factor_values = [self.values(factor) for factor in _factors(reference_expr)[:6]]
        return diagnose_missing_factor(reference, values, factor_values)

    def _factor_candidates(self) -> dict[str, list[Any]]:
        candidates: dict[str, list[Any]] = {}
        for index, (name, variable) in enumerate(self.problem.scalars.items()):
            if variable.domain not in ("integer", "positive"):
                continue
            column = [point[index] for point in self.samples.points]
            if variable.domain == "integer" and variable.low >= 2:
                candidates[f"{name}/({name}−1)"] = [_ratio(v, v - 1) for v in column]
                candidates[f"({name}−1)/{name}"] = [_ratio(v - 1, v) for v in column]
            candidates[name] = list(column)
            candidates[f"1/{name}"] = [_ratio(1, v) for v in column]
        return candidates

    def counterexample(
        self,
        expr: sympy.Expr,
        what: Phrase | None = None,
        against: sympy.Expr | None = None,
        against_what: Phrase | None = None,
    ) -> dict[str, Any] | None:
        """Return an easy-to-read point where expr and the reference (or `against`) differ.

        what/against_what name the two sides: "your answer" and "expected" unless given.
        """
        evaluator = Evaluator(expr, self.symbols)
        expected_evaluator = (
            self.reference_evaluator if against is None else Evaluator(against, self.symbols)
        )
        for count, point in enumerate(nice_points(self.problem, self.samples)):
            if count > 40:
                break
            expected = expected_evaluator.at(point)
            if against is not None and self.reference_evaluator.at(point) is None:
                continue
            if expected is None or isinstance(expected, mpmath.mpc):
                continue
            got = evaluator.at(point)
            if close(expected, got, self.problem, self.samples.scale):
                continue
            names = self.samples.names
            where = format_point(names, point)
            shown_got, shown_expected = format_pair(got, expected)
            words = phrase(
                gettext_noop("At %(point)s %(what)s gives %(got)s, %(against)s %(expected)s."),
                point=where,
                what=what or phrase(gettext_noop("your answer")),
                got=shown_got,
                against=against_what or phrase(gettext_noop("expected")),
                expected=shown_expected,
            )
            return {
                "point": {n: float(v) for n, v in zip(names, point, strict=True)},
                "answer": as_json_number(got),
                "expected": as_json_number(expected),
                "text": render_phrase(words),
                "words": words,
            }
        return None


def _factors(expr: sympy.Expr) -> list[sympy.Expr]:
    """Return the non-constant factors of expr, factoring it within a small time budget."""
    factors = [f for f in sympy.Mul.make_args(expr) if f.free_symbols]
    try:
        with time_budget(FACTOR_SECONDS):
            factored = [f for f in sympy.Mul.make_args(sympy.factor_terms(expr)) if f.free_symbols]
            if len(factored) == 1:
                factored = [
                    f for f in sympy.Mul.make_args(sympy.factor(factored[0])) if f.free_symbols
                ]
            if len(factored) > len(factors):
                factors = factored
    except (AuditTimeout, ArithmeticError, ValueError, TypeError, RecursionError):
        pass
    return factors


def rounded_digits(tree: Node) -> list[int]:
    """Return the significant digits of each decimal in the answer that has two or more."""
    if isinstance(tree, Num):
        mantissa = tree.text.lower().split("e", 1)[0]
        if "." not in mantissa and "e" not in tree.text.lower():
            return []
        digits = len(mantissa.replace(".", "").lstrip("0"))
        return [digits] if digits >= 2 else []
    return [d for child in children_of(tree) for d in rounded_digits(child)]


def decimal_approximation(check: ScalarCheck, tree: Node, values: list[Value]) -> Diagnosis | None:
    """Name a decimal rounding of an exact answer ("0.3333" for 1/3) as such.

    A rounding to d significant digits is off by up to 5·10^-d of the value, at nearly every
    point; an exact formula with a stray term is exact at most points and off at a few.
    """
    digits = rounded_digits(tree)
    if not digits:
        return None
    closeness = min(DECIMAL_CLOSENESS, 5 * 10.0 ** -min(digits))
    reference = check.samples.reference
    off = 0
    with mpmath.workdps(30):
        for r, v in zip(reference, values, strict=True):
            if not is_real(v) or abs(v - r) > closeness * max(abs(r), check.samples.scale):
                return None
            off += not close(r, v, check.problem, check.samples.scale)
    if off < len(reference) / 2:
        return None
    return diagnosis(
        DECIMAL_APPROXIMATION,
        gettext_noop(
            "Your answer is a rounded decimal of the right value: write the exact value instead, "
            "with fractions, roots and constants (1/3, sqrt(2), pi, e)."
        ),
    )


def is_real(value: Value) -> bool:
    return value is not None and not isinstance(value, mpmath.mpc)


def _ratio(numerator: Any, denominator: Any) -> Any:
    return None if denominator == 0 else numerator / denominator


def build_mistakes(
    problem: SymbolicProblem, builder: ScalarBuilder, spec: dict[str, Any]
) -> list[ScalarMistake]:
    """Build the known mistakes an exercise lists (answer + feedback)."""
    mistakes = []
    for index, entry in enumerate(spec.get("mistakes") or []):
        tree: Node = problem.parse_author(entry.get("answer"), "mistakes", index, "answer")
        mistakes.append(ScalarMistake(builder.build(tree), str(entry.get("feedback", "")), index))
    return mistakes


def grade_expression(
    problem: SymbolicProblem, spec: dict[str, Any], answer: str, *, seed: int
) -> Verdict:
    """Judge a scalar expression answer against the reference."""
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
    # difference the audit proves is wrong in an exact exercise however small; with an author's
    # tolerance it stays accepted, flagged for the author.
    correct_answer = sampled_correct and (audit == "equal" or check.confirm(student, seed))
    if correct_answer and audit == "different" and problem.exact:
        correct_answer = False
    flags = audit_flags(correct_answer, audit)
    if correct_answer:
        return correct(parsed, flags=flags)
    mistakes = build_mistakes(problem, builder, spec)
    diagnosis = (
        check.known_mistake(values, mistakes)
        or (decimal_approximation(check, tree, values) if problem.exact else None)
        or best_effort(check.diagnose, values)
    )
    counterexample = best_effort(check.counterexample, student)
    return incorrect(
        message("incorrect", gettext_noop("Not equal to the expected answer.")),
        diagnosis=diagnosis,
        counterexample=counterexample,
        parsed=parsed,
        flags=flags,
    )
