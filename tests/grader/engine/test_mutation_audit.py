"""The second adversarial audit: single-node mutations of every expression reference are refused.

Each mutant changes one node of a reference (a constant, an operator, a function, a variable, a
dropped term); a mutant that differs from the reference at some point of the sample intervals
(checked independently at 40 digits) must not be graded correct. A budget of mutants per
exercise and two seeds keep the test to about half a minute; `AUDIT_MUTANTS=40` widens it.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import mpmath
import pytest
import sympy
import yaml

from grader import engine
from grader.engine.symbolic.expressions import Evaluator, ScalarBuilder
from grader.engine.symbolic.printing import to_text
from grader.engine.symbolic.problem import SymbolicProblem, read_problem
from grader.engine.symbolic.syntax import BinOp, Call, Name, Neg, Node, Num, children_of

EXERCISES = Path(__file__).resolve().parents[3] / "exercises"
EXPRESSION_FILES = sorted(
    path
    for path in EXERCISES.glob("*/*/*.yaml")
    if yaml.safe_load(path.read_text(encoding="utf-8")).get("kind") == "expression"
)
MUTANTS_PER_EXERCISE = int(os.environ.get("AUDIT_MUTANTS", "6"))
SWAP = {
    "sin": "cos",
    "cos": "sin",
    "exp": "log",
    "log": "exp",
    "tanh": "sinh",
    "sinh": "tanh",
    "sqrt": "abs",
    "abs": "sqrt",
}


def mutants(node: Node, names: list[str]) -> list[Node]:
    """Return every tree that differs from node in one place."""
    out: list[Node] = []
    if isinstance(node, Num):
        out += [Num(f"({node.text}+1)", node.pos), Num(f"(2*{node.text})", node.pos)]
    if isinstance(node, Name) and node.name in names:
        out += [Name(n, node.pos) for n in names if n != node.name][:2]
        out.append(BinOp("*", Num("2", 0), node, 0))
    if isinstance(node, BinOp):
        flip = {"+": "-", "-": "+", "*": "/", "/": "*", "^": "*"}[node.op]
        out.append(BinOp(flip, node.left, node.right, node.pos))
        if node.op in "+-":
            out += [node.left, node.right]
        if node.op == "^":
            out.append(BinOp("^", node.left, BinOp("+", node.right, Num("1", 0), 0), node.pos))
    if isinstance(node, Call) and node.func in SWAP and len(node.args) == 1:
        out.append(Call(SWAP[node.func], node.args, node.pos))
    if isinstance(node, Neg):
        out.append(node.operand)
    for index, child in enumerate(children_of(node)):
        out += [_with_child(node, index, m) for m in mutants(child, names)]
    return out


def _with_child(node: Node, index: int, new: Node) -> Node:
    if isinstance(node, BinOp):
        if index == 0:
            return BinOp(node.op, new, node.right, node.pos)
        return BinOp(node.op, node.left, new, node.pos)
    if isinstance(node, Neg):
        return Neg(new, node.pos)
    if isinstance(node, Call):
        args = list(node.args)
        args[index] = new
        return Call(node.func, tuple(args), node.pos)
    return node


def differs(
    problem: SymbolicProblem, reference: sympy.Expr, mutant: sympy.Expr, symbols: list[Any]
) -> bool:
    """Say whether mutant differs from reference at a random point of the sample intervals."""
    rng = random.Random(f"audit:{problem.exercise_id}")
    expected, got = Evaluator(reference, symbols), Evaluator(mutant, symbols)
    for _ in range(60):
        point = [
            mpmath.mpf(rng.randint(int(v.low), int(v.high)))
            if v.domain == "integer"
            else mpmath.mpf(rng.uniform(v.low, v.high))
            for v in problem.scalars.values()
        ]
        a, b = expected.at(point), got.at(point)
        if a is None or isinstance(a, mpmath.mpc):
            continue
        if b is None or isinstance(b, mpmath.mpc) or abs(a - b) > 1e-12 * max(1, abs(a)):
            return True
    return False


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("path", EXPRESSION_FILES, ids=[p.stem for p in EXPRESSION_FILES])
def test_no_single_node_mutation_of_the_reference_is_accepted(path: Path, seed: int) -> None:
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    problem = read_problem(spec, seed)
    builder = ScalarBuilder(problem)
    tree = problem.parse_author(spec["answer"], "answer")
    reference = builder.build(tree)
    symbols = [builder.symbols[name] for name in problem.scalars]
    candidates = mutants(tree, list(problem.scalars))
    random.Random(f"{path.stem}:{seed}").shuffle(candidates)
    graded, accepted = 0, []
    for mutant_tree in candidates:
        if graded >= MUTANTS_PER_EXERCISE:
            break
        try:
            mutant = builder.build(mutant_tree)
        except (ValueError, TypeError, ArithmeticError):
            continue
        if not differs(problem, reference, mutant, symbols):
            continue
        graded += 1
        text = to_text(mutant_tree)
        if engine.grade(spec, text, seed=seed).status == engine.Status.CORRECT:
            accepted.append(text)
    assert accepted == []
