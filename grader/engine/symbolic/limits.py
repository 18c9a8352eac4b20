"""The limits that make hostile input fail fast: sizes, nesting and fast-growing functions.

`Limits` holds an exercise's bounds (its `limits:` field may change them); `expanded_size` and
`check_growth` run on a parsed tree, before anything is built from it. `Work` bounds the steps
one reading of an answer may take, wherever they are spent.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.engine.symbolic.syntax import (
    BinOp,
    Call,
    Helper,
    Name,
    Node,
    ParseError,
    children_of,
    constant_value,
)
from grader.engine.types import gettext_noop, phrase


@dataclass(frozen=True)
class Limits:
    max_length: int = 2000
    max_nodes: int = 400
    max_depth: int = 40
    max_literal_digits: int = 30
    max_exponent: float = 100
    max_expanded_nodes: int = 5000
    max_factorial_argument: int = 200
    max_diff_nesting: int = 2
    max_growth_nesting: int = 3
    max_exp_argument: float = 10_000


# The steps (Work) one reading of an answer may take. The worst answer within the other limits
# takes about (5 + known names) steps per character (tests/grader/engine/test_preview_work.py
# generates them for every exercise), far below this; past it the answer is refused, so a reading
# in the web process (the live preview) stops after a bounded amount of work whatever it meets.
MAX_WORK = 250_000


class Work:
    """Count the steps of one reading of an answer and refuse the answer past `limit` steps.

    A budget of steps, not of time: the live preview runs in a threaded web process, where no
    deadline can stop a thread (SIGALRM reaches only the main thread) and forking a threaded
    process to impose one is unsafe; and counting gives the same answer on a busy machine as on
    an idle one. Every loop whose length depends on the answer spends here: characters read,
    tokens, tree nodes, tree walks, and the searches behind "did you mean".
    """

    def __init__(self, limit: int = MAX_WORK) -> None:
        self.limit = limit
        self.spent = 0

    def spend(self, steps: int, position: int) -> None:
        """Count steps; raise ParseError (code too_complex) once more than the limit are spent."""
        self.spent += steps
        if self.spent > self.limit:
            raise ParseError(
                "this answer takes too much work to read; shorten it or split it into parts",
                position,
                code="too_complex",
            )


def expanded_size(node: Node, helpers: dict[str, Helper]) -> int:
    """Return the node count once helper calls are expanded into their bodies."""
    memo: dict[int, int] = {}

    def size(current: Node) -> int:
        key = id(current)
        if key in memo:
            return memo[key]
        if isinstance(current, Call) and current.func in helpers:
            helper = helpers[current.func]
            uses = _name_uses(helper.body)
            total = _node_count(helper.body)
            for param, arg in zip(helper.params, current.args, strict=True):
                total += uses.get(param, 0) * size(arg)
        else:
            total = 1 + sum(size(child) for child in children_of(current))
        memo[key] = min(total, 10**9)
        return memo[key]

    return size(node)


def _name_uses(node: Node) -> dict[str, int]:
    uses: dict[str, int] = {}
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Name):
            uses[current.name] = uses.get(current.name, 0) + 1
        stack.extend(children_of(current))
    return uses


def _node_count(node: Node) -> int:
    return 1 + sum(_node_count(child) for child in children_of(node))


# Functions whose values explode: nested, they reach numbers no check can evaluate in time
# (exp(exp(exp(exp(x)))), x^x^x^x, factorial(factorial(100))).
GROWING_FUNCTIONS = frozenset({"exp", "sinh", "cosh", "factorial", "gamma", "binomial"})
FACTORIAL_FUNCTIONS = frozenset({"factorial", "gamma", "binomial"})


def check_growth(node: Node, helpers: dict[str, Helper], limits: Limits) -> None:
    """Refuse fast-growing functions nested too deeply, and factorials of growing arguments."""
    depths: dict[int, int] = {}

    def depth(current: Node) -> int:
        key = id(current)
        if key not in depths:
            inner = max((depth(child) for child in children_of(current)), default=0)
            if isinstance(current, Call) and current.func in helpers:
                inner += depth(helpers[current.func].body)
            elif isinstance(current, Call) and current.func in GROWING_FUNCTIONS:
                inner += 1
            elif isinstance(current, BinOp) and current.op == "^":
                inner += constant_value(current.right) is None  # a variable exponent grows
            depths[key] = inner
        return depths[key]

    limit = limits.max_growth_nesting
    stack = [node]
    while stack:
        current = stack.pop()
        if depth(current) > limit:
            if all(depth(child) <= limit for child in children_of(current)):
                raise ParseError(
                    phrase(
                        gettext_noop(
                            "exponentials, powers with a variable exponent and factorials are "
                            "nested too deeply here (at most %(limit)d levels): the values are too "
                            "large to check"
                        ),
                        limit=limit,
                    ),
                    current.pos,
                    code="too_large",
                )
        if isinstance(current, Call) and current.func in FACTORIAL_FUNCTIONS:
            if any(depth(arg) for arg in current.args):
                raise ParseError(
                    phrase(
                        gettext_noop(
                            "%(function)s of an exponential, a power or a factorial is refused: "
                            "the values are too large to check"
                        ),
                        function=current.func,
                    ),
                    current.pos,
                    code="too_large",
                )
        stack.extend(children_of(current))
