"""The second adversarial audit: single-node mutations of every reference are refused.

Each mutant changes one node of a reference (a constant, an operator, a function, a variable, a
dropped term); a mutant that differs from the reference at some point of the sample intervals
(checked independently at 40 digits; matrices on fresh random draws) must not be graded correct.
A derivation is checked by ending its reference derivation on a mutated target. A budget of mutants per
exercise and two seeds keep the test to about half a minute; `AUDIT_MUTANTS=40` widens it.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import pytest
import sympy
import yaml

from grader import engine
from grader.engine.symbolic.expressions import Evaluator, ScalarBuilder
from grader.engine.symbolic.lines import split_lines
from grader.engine.symbolic.matrices import evaluate, make_draws
from grader.engine.symbolic.printing import to_text
from grader.engine.symbolic.problem import SymbolicProblem, read_problem
from grader.engine.symbolic.shapes import ShapeError, infer_shape
from grader.engine.symbolic.syntax import BinOp, Call, Name, Neg, Node, Num, Transpose, children_of

EXERCISES = Path(__file__).resolve().parents[3] / "exercises"


def _files(kind: str) -> list[Path]:
    return sorted(
        path
        for path in EXERCISES.glob("*/*/*.yaml")
        if yaml.safe_load(path.read_text(encoding="utf-8")).get("kind") == kind
    )


EXPRESSION_FILES = _files("expression")
MATRIX_FILES = _files("matrix")
DERIVATION_FILES = _files("derivation")
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
        out += [BinOp("+", node, Num("1", 0), 0), BinOp("*", Num("2", 0), node, 0)]
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
    if isinstance(node, Neg | Transpose):
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
    if isinstance(node, Transpose):
        return Transpose(new, node.pos)
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


def _scalar_mutant_differs(
    problem: SymbolicProblem,
    builder: ScalarBuilder,
    reference: sympy.Expr,
    mutant: Node,
    symbols: list[Any],
) -> bool:
    try:
        built = builder.build(mutant)
    except (ValueError, TypeError, ArithmeticError):
        return False
    return differs(problem, reference, built, symbols)


def accepted_mutants(
    spec: dict[str, Any],
    seed: int,
    candidates: list[Node],
    *,
    differs: Callable[[Node], bool],
    answer: Callable[[Node], str],
    rng: str,
    budget: int = MUTANTS_PER_EXERCISE,
) -> list[str]:
    """Grade up to budget candidates that differ from the reference; return those accepted."""
    random.Random(rng).shuffle(candidates)
    graded, accepted = 0, []
    for mutant in candidates:
        if graded >= budget:
            break
        if not differs(mutant):
            continue
        graded += 1
        if engine.grade(spec, answer(mutant), seed=seed).status == engine.Status.CORRECT:
            accepted.append(answer(mutant))
    return accepted


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

    def scalar_differs(mutant_tree: Node) -> bool:
        return _scalar_mutant_differs(problem, builder, reference, mutant_tree, symbols)

    accepted = accepted_mutants(
        spec, seed, candidates, differs=scalar_differs, answer=to_text, rng=f"{path.stem}:{seed}"
    )
    assert accepted == []


def matrix_differs(problem: SymbolicProblem, reference: Node, mutant: Node) -> bool | None:
    """Say whether a matrix mutant differs on fresh draws; None when it has another shape."""
    try:
        reference_info, mutant_info = infer_shape(reference, problem), infer_shape(mutant, problem)
    except ShapeError:
        return None
    if mutant_info.shape != reference_info.shape:
        return None
    for draw in make_draws(problem, 424242):
        try:
            with np.errstate(all="ignore"):
                expected = np.asarray(evaluate(reference, reference_info, draw), dtype=float)
                got = np.asarray(evaluate(mutant, mutant_info, draw), dtype=float)
        except (ArithmeticError, ValueError, ShapeError):
            continue
        if not np.all(np.isfinite(expected)):
            continue
        if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-9, atol=1e-9):
            return True
    return False


@pytest.mark.parametrize("path", MATRIX_FILES, ids=[p.stem for p in MATRIX_FILES])
def test_no_single_node_mutation_of_a_matrix_reference_is_accepted(path: Path) -> None:
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    problem = read_problem(spec, 1)
    tree = problem.parse_author(spec["answer"], "answer")
    candidates = mutants(tree, list(problem.matrices) + list(problem.scalars))
    accepted = accepted_mutants(
        spec,
        1,
        candidates,
        differs=lambda mutant: bool(matrix_differs(problem, tree, mutant)),
        answer=to_text,
        rng=path.stem,
        budget=MUTANTS_PER_EXERCISE * 2,
    )
    assert accepted == []


@pytest.mark.parametrize("path", DERIVATION_FILES, ids=[p.stem for p in DERIVATION_FILES])
def test_a_derivation_ending_on_a_mutated_target_is_not_accepted(path: Path) -> None:
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    problem = read_problem(spec, 1)
    builder = ScalarBuilder(problem)
    target = problem.parse_author(spec["target"], "target")
    reference = builder.build(target)
    symbols = [builder.symbols[name] for name in problem.scalars]
    lines = [line.text for line in split_lines(str(spec["also_correct"][0]))]
    candidates = mutants(target, list(problem.scalars))
    accepted = accepted_mutants(
        spec,
        1,
        candidates,
        differs=lambda mutant: _scalar_mutant_differs(problem, builder, reference, mutant, symbols),
        answer=lambda mutant: "\n".join([*lines[:-1], to_text(mutant)]),
        rng=path.stem,
    )
    assert accepted == []
