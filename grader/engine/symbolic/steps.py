"""What counts as a step of a derivation, beyond each line being equal to the one before.

Equal values alone let a student type the target three times. A derivation must also move:

- each line differs in *form* from the one before: the lines' syntax trees are compared after
  the spelling is normalised (spacing, `**` or `^`, parentheses, implicit multiplication, and the
  order of terms in a sum and of factors in a product), so `1 - tanh(x)^2` after
  `-tanh(x)^2 + 1` is a repeat, while `exp(-x)/(1+exp(-x))^2` after
  `-(1+exp(-x))^(-2)*(-exp(-x))` is a step (the signs were cancelled);
- the first line that works on the start (line 1, or line 2 when line 1 copies the start) is not
  already the target's form, in a derivation of two or more lines;
- every milestone the author declares is reached by some line. A milestone is an intermediate
  form, such as the expression right after the chain rule; a line reaches it when both are the
  same after SymPy's own normalisation (signs and powers collected, helpers and diff kept as
  written) — a structural comparison, not one of values, so the line must be written in that
  form, not merely equal to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grader.engine.symbolic.expressions import ScalarBuilder
from grader.engine.symbolic.problem import SymbolicProblem
from grader.engine.symbolic.syntax import BinOp, Call, Name, Neg, Node, Num, Transpose
from grader.engine.types import Phrase, authored_text, gettext_noop, phrase


@dataclass(frozen=True)
class Milestone:
    form: Node
    step: str  # what the step is, as the student is told when it is missing
    index: int = 0  # its place in the exercise's milestones list


def read_milestones(problem: SymbolicProblem, spec: dict[str, Any]) -> list[Milestone]:
    """Read the author's milestones: [{form: expression, step: description}, ...]."""
    milestones = []
    for index, entry in enumerate(spec.get("milestones") or []):
        tree = problem.parse_author(entry.get("form"), "milestones", index, "form")
        milestones.append(Milestone(tree, str(entry.get("step", "")).strip(), index))
    return milestones


def form_key(node: Node) -> str:
    """Return the form of a tree with its spelling normalised (see the module docstring)."""
    if isinstance(node, Num):
        return _number_text(node.text)
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Neg):
        return f"neg({form_key(node.operand)})"
    if isinstance(node, Transpose):
        return f"T({form_key(node.operand)})"
    if isinstance(node, Call):
        return f"{node.func}({','.join(form_key(a) for a in node.args)})"
    if isinstance(node, BinOp):
        if node.op in "+-":
            return "sum(" + ",".join(sorted(_terms(node))) + ")"
        if node.op == "*":
            return "prod(" + ",".join(sorted(_factors(node))) + ")"
        return f"{'div' if node.op == '/' else 'pow'}({form_key(node.left)},{form_key(node.right)})"
    raise TypeError(f"unknown node {node!r}")


def _terms(node: Node) -> list[str]:
    if isinstance(node, BinOp) and node.op == "+":
        return _terms(node.left) + _terms(node.right)
    if isinstance(node, BinOp) and node.op == "-":
        return _terms(node.left) + [f"neg({form_key(node.right)})"]
    return [form_key(node)]


def _factors(node: Node) -> list[str]:
    if isinstance(node, BinOp) and node.op == "*":
        return _factors(node.left) + _factors(node.right)
    return [form_key(node)]


def _number_text(text: str) -> str:
    try:
        value = float(text)
    except ValueError:
        return text
    return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def step_problems(
    problem: SymbolicProblem,
    spec: dict[str, Any],
    trees: list[Node],
    numbers: list[int],
    *,
    start: Node,
    target: Node,
) -> list[Phrase]:
    """Return what keeps a derivation whose lines all follow from being a derivation."""
    keys = [form_key(tree) for tree in trees]
    problems = []
    # Writing the start as line 1 is how a derivation is often set out; the work begins after it.
    first = 1 if keys[0] == form_key(start) else 0
    if len(trees) > 1 and first < len(trees) and keys[first] == form_key(target):
        problems.append(
            phrase(
                gettext_noop(
                    "Line %(number)d is already the result: show the steps from the start to it."
                ),
                number=numbers[first],
            )
        )
    for k in range(1, len(keys)):
        if keys[k] == keys[k - 1]:
            problems.append(
                phrase(
                    gettext_noop(
                        "Line %(number)d repeats line %(previous)d (only the spelling or the "
                        "order changed): each line must take a step."
                    ),
                    number=numbers[k],
                    previous=numbers[k - 1],
                )
            )
    milestones = read_milestones(problem, spec)
    if milestones:
        written = ScalarBuilder(problem, as_written=True)
        forms = [written.build(tree) for tree in trees]
        for milestone in milestones:
            wanted = written.build(milestone.form)
            if not any(form == wanted for form in forms):
                step = authored_text(milestone.step, ("milestones", milestone.index, "step"))
                problems.append(phrase(gettext_noop("Show the step where %(step)s."), step=step))
    return problems
