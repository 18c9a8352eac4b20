"""The shapes of matrix expressions, checked in symbols (m×n) before any number is drawn.

SymPy's MatrixSymbol with symbolic sizes checks no shapes (ARCHITECTURE.md), so shapes are
inferred here from the declared sizes, with the identity I taking its size from context. Plain
Python (no NumPy): the live preview uses it on every keystroke.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from grader.engine.symbolic.printing import to_text
from grader.engine.symbolic.problem import SymbolicProblem
from grader.engine.symbolic.syntax import (
    BinOp,
    Call,
    Name,
    Neg,
    Node,
    Num,
    Transpose,
    constant_value,
)
from grader.engine.types import TRANSPOSE, Phrase, gettext_noop, is_phrase, phrase, render_phrase

# The scalar functions a matrix answer may apply (to scalars; grader.engine.symbolic.matrices
# evaluates them with NumPy).
SCALAR_FUNCTIONS = frozenset({"exp", "log", "sqrt", "sin", "cos", "tanh", "abs"})

Shape = tuple[str, str] | None  # None is a scalar


class ShapeError(ValueError):
    """Sizes that do not fit, described in words with the position of the offending part."""

    def __init__(self, problem: str | Phrase, position: int) -> None:
        self.words: Phrase = problem if is_phrase(problem) else phrase("%(text)s", text=problem)
        super().__init__(render_phrase(self.words))
        self.position = position

    def describe_words(self) -> Phrase:
        """Return the message prefixed with a human column (1-based), as a Phrase."""
        return phrase(
            gettext_noop("At character %(column)d: %(problem)s"),
            column=self.position + 1,
            problem=self.words,
        )


class Sizes:
    """Union-find over size names, so the identity I can take its size from context."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.fresh = itertools.count(1)

    def new(self) -> str:
        return f"?{next(self.fresh)}"

    def find(self, dim: str) -> str:
        while dim in self.parent:
            dim = self.parent[dim]
        return dim

    def unify(self, a: str, b: str) -> bool:
        a, b = self.find(a), self.find(b)
        if a == b:
            return True
        if a.startswith("?"):
            self.parent[a] = b
            return True
        if b.startswith("?"):
            self.parent[b] = a
            return True
        return False

    def text(self, shape: Shape) -> str:
        if shape is None:
            return "a scalar"
        rows, cols = (self.find(d) for d in shape)
        return f"{dim_text(rows)}×{dim_text(cols)}"


def dim_text(dim: str) -> str:
    return "k" if dim.startswith("?") else dim


@dataclass
class ShapeInfo:
    shape: Shape
    sizes: Sizes
    identity_sizes: dict[int, str]  # id(I node) -> its size (possibly still "?k")


def infer_shape(tree: Node, problem: SymbolicProblem) -> ShapeInfo:
    """Return the shape of a matrix expression, or raise ShapeError saying what does not fit."""
    sizes = Sizes()
    identities: dict[int, str] = {}
    shape = _Inference(problem, sizes, identities).shape(tree)
    return ShapeInfo(shape, sizes, identities)


def is_one(sizes: Sizes, shape: Shape) -> bool:
    return shape is not None and sizes.find(shape[0]) == "1" and sizes.find(shape[1]) == "1"


class _Inference:
    def __init__(self, problem: SymbolicProblem, sizes: Sizes, identities: dict[int, str]) -> None:
        self.problem = problem
        self.sizes = sizes
        self.identities = identities

    def describe(self, node: Node, shape: Shape) -> str:
        return f"{to_plain(node)} ({self.sizes.text(shape)})"

    def shape(self, node: Node) -> Shape:
        sizes = self.sizes
        if isinstance(node, Num):
            return None
        if isinstance(node, Name):
            if node.name in self.problem.matrices:
                matrix = self.problem.matrices[node.name]
                return (matrix.rows, matrix.cols)
            if node.name == "I" and "I" not in self.problem.vocab.variables:
                size = sizes.new()
                self.identities[id(node)] = size
                return (size, size)
            return None
        if isinstance(node, Neg):
            return self.shape(node.operand)
        if isinstance(node, Transpose):
            inner = self.shape(node.operand)
            return None if inner is None else (inner[1], inner[0])
        if isinstance(node, BinOp):
            return self.binary(node)
        return self.call(node)

    def binary(self, node: BinOp) -> Shape:
        sizes = self.sizes
        left = self.shape(node.left)
        if node.op == "^":
            return self.power(node, left)
        right = self.shape(node.right)
        if node.op in "+-":
            if left is None and right is None:
                return None
            if left is None or right is None:
                matrix = left if left is not None else right
                if is_one(sizes, matrix):
                    return matrix
                scalar_side = node.left if left is None else node.right
                matrix_side = node.right if left is None else node.left
                template = (
                    gettext_noop("cannot add the scalar %(scalar)s and %(matrix)s")
                    if node.op == "+"
                    else gettext_noop("cannot subtract the scalar %(scalar)s and %(matrix)s")
                )
                raise ShapeError(
                    phrase(
                        template,
                        scalar=to_plain(scalar_side),
                        matrix=self.describe(matrix_side, matrix),
                    ),
                    node.pos,
                )
            if sizes.unify(left[0], right[0]) and sizes.unify(left[1], right[1]):
                return left
            template = (
                gettext_noop("cannot add %(left)s and %(right)s: the sizes differ")
                if node.op == "+"
                else gettext_noop("cannot subtract %(left)s and %(right)s: the sizes differ")
            )
            raise ShapeError(
                phrase(
                    template,
                    left=self.describe(node.left, left),
                    right=self.describe(node.right, right),
                ),
                node.pos,
            )
        if node.op == "/":
            if right is not None and not is_one(sizes, right):
                raise ShapeError(
                    phrase(
                        gettext_noop(
                            "cannot divide by the matrix %(matrix)s; multiply by inv(…) instead"
                        ),
                        matrix=self.describe(node.right, right),
                    ),
                    node.pos,
                )
            return left
        if left is None or is_one(sizes, left) and right is not None:
            return right if right is not None else left
        if right is None or is_one(sizes, right):
            return left
        if sizes.unify(left[1], right[0]):
            return (left[0], right[1])
        raise ShapeError(
            phrase(
                gettext_noop(
                    "cannot multiply %(left)s by %(right)s: the inner sizes %(inner_left)s and "
                    "%(inner_right)s differ"
                ),
                left=self.describe(node.left, left),
                right=self.describe(node.right, right),
                inner_left=dim_text(sizes.find(left[1])),
                inner_right=dim_text(sizes.find(right[0])),
            ),
            node.pos,
        )

    def power(self, node: BinOp, base: Shape) -> Shape:
        exponent_shape = self.shape(node.right)
        if exponent_shape is not None:
            raise ShapeError(phrase(gettext_noop("an exponent must be a scalar")), node.pos)
        if base is None or is_one(self.sizes, base):
            return base
        value = constant_value(node.right)
        if value is None or value != int(value) or not -1 <= value <= 8 or value == 0:
            raise ShapeError(
                phrase(
                    gettext_noop(
                        "a matrix can only be raised to a whole power from 1 to 8, or -1 (inverse)"
                    )
                ),
                node.pos,
            )
        self.square(
            node.left, base, gettext_noop("cannot raise %(matrix)s to a power: it is not square")
        )
        return base

    def square(self, node: Node, shape: Shape, refusal: str) -> None:
        """Refuse a non-square matrix; refusal is a marked template naming %(matrix)s."""
        if shape is None:
            return
        if not self.sizes.unify(shape[0], shape[1]):
            raise ShapeError(phrase(refusal, matrix=self.describe(node, shape)), node.pos)

    def call(self, node: Call) -> Shape:
        shapes = [self.shape(arg) for arg in node.args]
        if node.func == "transpose":
            inner = shapes[0]
            return None if inner is None else (inner[1], inner[0])
        if node.func == "inv":
            self.square(
                node.args[0],
                shapes[0],
                gettext_noop("cannot invert %(matrix)s: it is not square"),
            )
            return shapes[0]
        if node.func in ("trace", "det"):
            refusal = (
                gettext_noop("cannot take the trace of %(matrix)s: it is not square")
                if node.func == "trace"
                else gettext_noop("cannot take the det of %(matrix)s: it is not square")
            )
            self.square(node.args[0], shapes[0], refusal)
            return None
        for arg, shape in zip(node.args, shapes, strict=True):
            if shape is not None and not is_one(self.sizes, shape):
                raise ShapeError(
                    phrase(
                        gettext_noop("%(function)s needs a scalar, not %(matrix)s"),
                        function=node.func,
                        matrix=self.describe(arg, shape),
                    ),
                    node.pos,
                )
        if node.func not in SCALAR_FUNCTIONS:
            raise ShapeError(
                phrase(
                    gettext_noop("%(function)s is not available in matrix answers"),
                    function=node.func,
                ),
                node.pos,
            )
        return None


def to_plain(node: Node) -> str:
    """Return a short plain-text name for a part of an answer, for messages."""
    text = to_text(node)
    return text if len(text) <= 30 else text[:27] + "…"


def shape_message(
    problem: SymbolicProblem, answer: ShapeInfo, reference: ShapeInfo
) -> tuple[Phrase, str | None]:
    """Return the words for an answer of the wrong shape, and TRANSPOSE when it is transposed."""
    got = _shape_words(answer.sizes, answer.shape)
    want = _shape_words(reference.sizes, reference.shape)
    swapped = (
        answer.shape is not None
        and reference.shape is not None
        and (answer.sizes.find(answer.shape[0]), answer.sizes.find(answer.shape[1]))
        == (reference.sizes.find(reference.shape[1]), reference.sizes.find(reference.shape[0]))
    )
    if problem.wrt and swapped:
        template = gettext_noop(
            "Your answer is %(got)s; the gradient with respect to %(wrt)s is %(want)s — transpose?"
        )
    elif problem.wrt:
        template = gettext_noop(
            "Your answer is %(got)s; the gradient with respect to %(wrt)s is %(want)s."
        )
    elif swapped:
        template = gettext_noop(
            "Your answer is %(got)s; the expected answer is %(want)s — transpose?"
        )
    else:
        template = gettext_noop("Your answer is %(got)s; the expected answer is %(want)s.")
    words = phrase(template, got=got, want=want, wrt=problem.wrt or "")
    return words, (TRANSPOSE if swapped else None)


def _shape_words(sizes: Sizes, shape: Shape) -> str | Phrase:
    return phrase(gettext_noop("a scalar")) if shape is None else sizes.text(shape)


def same_shape(answer: ShapeInfo, reference: ShapeInfo) -> bool:
    if answer.shape is None or reference.shape is None:
        one = answer.shape is None and reference.shape is None
        return one or is_one(answer.sizes, answer.shape) or is_one(reference.sizes, reference.shape)
    if any(answer.sizes.find(d).startswith("?") for d in answer.shape):
        return all(
            answer.sizes.unify(a, reference.sizes.find(r))
            for a, r in zip(answer.shape, reference.shape, strict=True)
        )
    return tuple(answer.sizes.find(d) for d in answer.shape) == tuple(
        reference.sizes.find(d) for d in reference.shape
    )
