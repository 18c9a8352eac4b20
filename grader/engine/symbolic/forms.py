"""Form rules: an exercise that asks for an answer in a form forbids the forms that skip the work.

`forbid:` lists functions (`tanh`) and these rules by name. A rule is checked on the tree as the
student typed it, before anything is evaluated, so the live preview shows the refusal at once;
a refusal under a form rule names the rule and is not an attempt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from grader.engine.symbolic.syntax import (
    BinOp,
    Call,
    Neg,
    Node,
    Num,
    ParseError,
    Transpose,
    children_of,
)
from grader.engine.types import gettext_noop, phrase


def _is_product(node: Node) -> bool:
    return isinstance(node, BinOp) and node.op in "*/"


def _is_sum(node: Node) -> bool:
    return isinstance(node, BinOp) and node.op in "+-"


def _operand(node: Node, function: str) -> Node | None:
    if isinstance(node, Call) and node.func == function and len(node.args) == 1:
        return node.args[0]
    return None


def _transpose_of_product(node: Node) -> bool:
    inner = node.operand if isinstance(node, Transpose) else _operand(node, "transpose")
    return inner is not None and _is_product(inner)


def _inverse_of_product(node: Node) -> bool:
    inner = _operand(node, "inv")
    if inner is None and isinstance(node, BinOp) and node.op == "^":
        exponent = node.right
        if (
            isinstance(exponent, Neg)
            and isinstance(exponent.operand, Num)
            and exponent.operand.text == "1"
        ):
            inner = node.left
    return inner is not None and _is_product(inner)


def _power_of_sum(node: Node) -> bool:
    return isinstance(node, BinOp) and node.op == "^" and _is_sum(node.left)


@dataclass(frozen=True)
class FormRule:
    name: str
    applies: Callable[[Node], bool]
    message: str


FORM_RULES: dict[str, FormRule] = {
    rule.name: rule
    for rule in (
        FormRule(
            "transpose of a product",
            _transpose_of_product,
            gettext_noop(
                "write the transpose of a product as the product of the transposes (the rule: "
                "no transpose of a product)"
            ),
        ),
        FormRule(
            "inverse of a product",
            _inverse_of_product,
            gettext_noop(
                "write the inverse of a product as the product of the inverses (the rule: no "
                "inverse of a product)"
            ),
        ),
        FormRule(
            "power of a sum",
            _power_of_sum,
            gettext_noop("expand the power of a sum (the rule: no power of a sum)"),
        ),
    )
}


def _nodes(node: Node) -> Iterator[Node]:
    yield node
    for child in children_of(node):
        yield from _nodes(child)


def check_forms(tree: Node, rules: frozenset[str]) -> None:
    """Raise ParseError (code form_rule) at the first part of tree a forbidden form rule matches."""
    if not rules:
        return
    active = [FORM_RULES[name] for name in sorted(rules)]
    for node in _nodes(tree):
        for rule in active:
            if rule.applies(node):
                raise ParseError(
                    phrase(
                        gettext_noop("this exercise asks for another form: %(rule)s"),
                        rule=phrase(rule.message),
                    ),
                    getattr(node, "pos", 0),
                    code="form_rule",
                )
