"""The syntax tree of a typed expression, the error of reading one, and walks over trees.

Plain Python (no SymPy or NumPy): the tokenizer, the parser, the printers and the checks of
limits share these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from grader.engine.types import Phrase, gettext_noop, is_phrase, phrase, render_phrase


@dataclass(frozen=True)
class Num:
    text: str
    pos: int


@dataclass(frozen=True)
class Name:
    name: str
    pos: int


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Node, ...]
    pos: int


@dataclass(frozen=True)
class Neg:
    operand: Node
    pos: int


@dataclass(frozen=True)
class BinOp:
    op: str  # + - * / ^
    left: Node
    right: Node
    pos: int


@dataclass(frozen=True)
class Transpose:
    operand: Node
    pos: int


Node = Num | Name | Call | Neg | BinOp | Transpose


@dataclass(frozen=True)
class Helper:
    """A function the exercise defines, such as sigma(x) := 1/(1+exp(-x))."""

    name: str
    params: tuple[str, ...]
    body: Node


class ParseError(ValueError):
    """An answer could not be read; `position` is a 0-based offset into the text.

    The problem is a Phrase (grader.engine.types) so that it can be shown in the reader's
    language; `message` is its English.
    """

    def __init__(self, problem: str | Phrase, position: int, code: str = "syntax") -> None:
        self.words: Phrase = problem if is_phrase(problem) else phrase("%(text)s", text=problem)
        self.message = render_phrase(self.words)
        super().__init__(self.message)
        self.position = position
        self.code = code

    def describe(self, text: str) -> str:
        """Return the message prefixed with a human column (1-based)."""
        return render_phrase(self.describe_words(text))

    def describe_words(self, text: str) -> Phrase:
        """Return describe()'s words as a Phrase."""
        return phrase(
            gettext_noop("At character %(column)d: %(problem)s"),
            column=self.position + 1,
            problem=self.words,
        )


# Functions whose value constant_value computes, and whose size the parser bounds.
EXPONENTIAL_FUNCTIONS = {"exp": math.exp, "sinh": math.sinh, "cosh": math.cosh}


def constant_value(node: Node) -> float | None:
    """Return the value of a tree made of numbers only, or None when it holds a name."""
    try:
        return _constant_value(node)
    except (OverflowError, ZeroDivisionError, ValueError):
        return math.inf


def _constant_value(node: Node) -> float | None:
    if isinstance(node, Num):
        return float(node.text)
    if isinstance(node, Call) and node.func in EXPONENTIAL_FUNCTIONS:
        inner = _constant_value(node.args[0])
        return None if inner is None else EXPONENTIAL_FUNCTIONS[node.func](inner)
    if isinstance(node, Neg):
        inner = _constant_value(node.operand)
        return None if inner is None else -inner
    if isinstance(node, BinOp):
        left = _constant_value(node.left)
        right = _constant_value(node.right)
        if left is None or right is None:
            return None
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        if node.op == "/":
            return left / right
        if abs(right) > 1000 or (left != 0 and abs(right * math.log10(abs(left))) > 300):
            return math.inf
        result: float = abs(left) ** right
        return result if left >= 0 else -result
    return None


def diff_nesting(node: Node) -> int:
    """Return how deeply diff calls nest inside node."""
    children = children_of(node)
    inner = max((diff_nesting(child) for child in children), default=0)
    return inner + (1 if isinstance(node, Call) and node.func == "diff" else 0)


def children_of(node: Node) -> tuple[Node, ...]:
    """Return the direct subtrees of node."""
    if isinstance(node, Call):
        return node.args
    if isinstance(node, BinOp):
        return (node.left, node.right)
    if isinstance(node, Neg | Transpose):
        return (node.operand,)
    return ()


def names_used(node: Node) -> set[str]:
    """Return the value names and function names used in a tree."""
    found: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Name):
            found.add(current.name)
        elif isinstance(current, Call):
            found.add(current.func)
        stack.extend(children_of(current))
    return found


def substitute(node: Node, values: dict[str, Node]) -> Node:
    """Return node with the named leaves replaced (parameters by their values)."""
    if isinstance(node, Name):
        return values.get(node.name, node)
    if isinstance(node, Call):
        return Call(node.func, tuple(substitute(a, values) for a in node.args), node.pos)
    if isinstance(node, BinOp):
        return BinOp(
            node.op, substitute(node.left, values), substitute(node.right, values), node.pos
        )
    if isinstance(node, Neg):
        return Neg(substitute(node.operand, values), node.pos)
    if isinstance(node, Transpose):
        return Transpose(substitute(node.operand, values), node.pos)
    return node
