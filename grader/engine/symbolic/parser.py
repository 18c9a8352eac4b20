"""Read typed maths into a checked syntax tree, never through eval, sympify or parse_expr.

The recursive-descent parser here (over the tokens of grader.engine.symbolic.tokenizer) knows
only the names an exercise declares (`Vocabulary`), so every name and function in the tree is on
an allow-list before anything is built from it. Limits on length, literal size, exponent size,
nesting depth, node count and the size after helper expansion (grader.engine.symbolic.limits)
make hostile input fail fast with a positioned message.

This module imports no SymPy or NumPy: the web process can use it for the live preview cheaply.
"""

from __future__ import annotations

import difflib
import math
import re

from grader.engine.symbolic.forms import check_forms
from grader.engine.symbolic.limits import (
    FACTORIAL_FUNCTIONS,
    Work,
    check_growth,
    expanded_size,
)
from grader.engine.symbolic.syntax import (
    EXPONENTIAL_FUNCTIONS,
    BinOp,
    Call,
    Helper,
    Name,
    Neg,
    Node,
    Num,
    ParseError,
    Transpose,
    constant_value,
    diff_nesting,
)
from grader.engine.symbolic.tokenizer import Token, tokenize
from grader.engine.symbolic.vocabulary import (
    KNOWN_FUNCTIONS,
    MATRIX_FUNCTIONS,
    Vocabulary,
    canonical_function,
)
from grader.engine.types import Phrase, gettext_noop, phrase

# Past this length an unknown name gets no "did you mean" (no split, no close match) and is
# shown cut short: nobody types a known name that long by mistake.
MAX_SUGGESTED_NAME = 40


def _describe(token: Token) -> Phrase:
    if token.kind == "end":
        return phrase(gettext_noop("the end of the input"))
    return phrase("%(token)s", token=repr(token.text))


class _Parser:
    def __init__(self, text: str, vocab: Vocabulary, author: bool, work: Work) -> None:
        self.text = text
        self.vocab = vocab
        self.author = author
        self.limits = vocab.limits
        self.work = work
        work.spend(min(len(text), vocab.limits.max_length + 1), 0)
        self.tokens = tokenize(text, vocab.limits)
        self.value_names = vocab.value_names()  # asked for every name token: computed once
        self.index = 0
        self.nodes = 0
        self.depth = 0
        self.abs_depth = 0

    # token helpers
    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.work.spend(1, token.pos)
        self.index += 1
        return token

    def expect(self, kind: str, what: str) -> Token:
        if self.current.kind != kind:
            raise ParseError(
                phrase(
                    gettext_noop("expected %(expected)s, found %(found)s"),
                    expected=what,
                    found=_describe(self.current),
                ),
                self.current.pos,
            )
        return self.advance()

    def count(self, node: Node) -> Node:
        self.work.spend(1, getattr(node, "pos", 0))
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise ParseError(
                phrase(
                    gettext_noop("the expression is too large (more than %(limit)d parts)"),
                    limit=self.limits.max_nodes,
                ),
                getattr(node, "pos", 0),
                code="too_large",
            )
        return node

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise ParseError(
                phrase(
                    gettext_noop("the expression is nested too deeply (at most %(limit)d levels)"),
                    limit=self.limits.max_depth,
                ),
                pos,
                code="too_large",
            )

    # grammar
    def parse(self) -> Node:
        if self.current.kind == "end":
            raise ParseError(phrase(gettext_noop("the answer is empty; expected an expression")), 0)
        node = self.sum()
        if self.current.kind != "end":
            token = self.current
            if token.kind == ")":
                raise ParseError(phrase(gettext_noop("this ')' has no matching '('")), token.pos)
            raise ParseError(
                phrase(
                    gettext_noop("expected an operator or the end of the input, found %(found)s"),
                    found=_describe(token),
                ),
                token.pos,
            )
        return node

    def sum(self) -> Node:
        self.enter(self.current.pos)
        node = self.product()
        while self.current.kind == "op" and self.current.text in "+-":
            op = self.advance()
            right = self.product()
            node = self.count(BinOp(op.text, node, right, op.pos))
        self.depth -= 1
        return node

    def starts_operand(self, token: Token) -> bool:
        if token.kind in ("num", "name", "("):
            return True
        return token.kind == "|" and self.abs_depth == 0

    def product(self) -> Node:
        node = self.unary()
        while True:
            token = self.current
            if token.kind == "op" and token.text in "*/":
                self.advance()
                right = self.unary()
                node = self.count(BinOp(token.text, node, right, token.pos))
            elif self.starts_operand(token):
                right = self.power()  # implicit multiplication: "2x", "2(x+1)", "x y"
                node = self.count(BinOp("*", node, right, token.pos))
            else:
                return node

    def unary(self) -> Node:
        token = self.current
        if token.kind == "op" and token.text in "+-":
            self.advance()
            self.enter(token.pos)
            operand = self.unary()
            self.depth -= 1
            if token.text == "+":
                return operand
            return self.count(Neg(operand, token.pos))
        return self.power()

    def power(self) -> Node:
        base = self.postfix()
        while self.current.kind == "op" and self.current.text == "^":
            caret = self.advance()
            if self.vocab.matrix and self._at_transpose_mark():
                mark = self.advance()
                base = self.transpose_marks(self.count(Transpose(base, mark.pos)))
                continue
            if self.current.kind == "end":
                raise ParseError(
                    phrase(gettext_noop("expected an exponent after '^'")), self.current.pos
                )
            self.enter(caret.pos)
            exponent = self.unary()
            self.depth -= 1
            self.check_exponent(base, exponent, caret.pos)
            return self.count(BinOp("^", base, exponent, caret.pos))
        return base

    def _at_transpose_mark(self) -> bool:
        token = self.current
        return token.kind == "name" and token.text == "T" and "T" not in self.vocab.variables

    def transpose_marks(self, node: Node) -> Node:
        while self.current.kind == "'":
            token = self.advance()
            if not self.vocab.matrix:
                raise ParseError(
                    phrase(gettext_noop("the transpose mark ' is only for matrix answers")),
                    token.pos,
                )
            node = self.count(Transpose(node, token.pos))
        return node

    def postfix(self) -> Node:
        node = self.transpose_marks(self.atom())
        while self.current.kind == "!":
            bang = self.advance()  # n! is factorial(n), binding tighter than ^ as in textbooks
            node = self.finish_call(Token("name", "factorial", bang.pos), "factorial", [node])
        return node

    def atom(self) -> Node:
        token = self.current
        if token.kind == "num":
            self.advance()
            return self.count(Num(token.text, token.pos))
        if token.kind == "(":
            self.advance()
            self.enter(token.pos)
            inner = self.sum()
            self.depth -= 1
            if self.current.kind != ")":
                raise ParseError(
                    phrase(
                        gettext_noop(
                            "expected ')' to close the '(' at character %(column)d, found %(found)s"
                        ),
                        column=token.pos + 1,
                        found=_describe(self.current),
                    ),
                    self.current.pos,
                )
            self.advance()
            return inner
        if token.kind == "|":
            self.advance()
            self.enter(token.pos)
            self.abs_depth += 1
            inner = self.sum()
            self.abs_depth -= 1
            self.depth -= 1
            if self.current.kind != "|":
                raise ParseError(
                    phrase(
                        gettext_noop(
                            "expected '|' to close the '|' at character %(column)d, found %(found)s"
                        ),
                        column=token.pos + 1,
                        found=_describe(self.current),
                    ),
                    self.current.pos,
                )
            self.advance()
            return self.count(Call("abs", (inner,), token.pos))
        if token.kind == "name":
            return self.name_or_call()
        if token.kind == "end":
            raise ParseError(
                phrase(gettext_noop("expected a number, a name or '(' but the input ended")),
                token.pos,
            )
        raise ParseError(
            phrase(
                gettext_noop("expected a number, a name or '(', found %(found)s"),
                found=_describe(token),
            ),
            token.pos,
        )

    def name_or_call(self) -> Node:
        token = self.advance()
        name = token.text
        is_value = name in self.value_names
        function = canonical_function(name)
        followed_by_paren = self.current.kind == "("
        if name in self.vocab.helpers and followed_by_paren:
            return self.call(token, name, helper=self.vocab.helpers[name])
        if function in KNOWN_FUNCTIONS and not is_value and self.applies_without_parens():
            return self.call_without_parens(token, function)
        if function in KNOWN_FUNCTIONS and followed_by_paren and not is_value:
            self.require_allowed(token, function)
            return self.call(token, function)
        if is_value:
            return self.count(Name(name, token.pos))
        if name in self.vocab.helpers or function in KNOWN_FUNCTIONS:
            raise ParseError(
                phrase(gettext_noop("'%(name)s' is a function: write %(name)s(…)"), name=name),
                token.pos,
                "unknown_name",
            )
        raise ParseError(self.unknown_name_message(name, token.pos), token.pos, code="unknown_name")

    def require_allowed(self, token: Token, function: str) -> None:
        """Refuse a function this exercise does not allow, saying why."""
        if not self.function_allowed(function):
            if function in MATRIX_FUNCTIONS:
                reason = gettext_noop("it applies to matrices, and this exercise has none")
            elif function == "diff":
                reason = gettext_noop("carry the derivative out instead")
            else:
                reason = gettext_noop("this exercise asks you to write it with other functions")
            raise ParseError(
                phrase(
                    gettext_noop("the function '%(function)s' is not allowed here: %(reason)s"),
                    function=token.text,
                    reason=phrase(reason),
                ),
                token.pos,
                code="unknown_name",
            )

    def applies_without_parens(self) -> bool:
        """Say whether a function name is written textbook-style: sin^2(x), sin^2 x, sin x, √x."""
        following = self.current
        if following.kind == "op" and following.text == "^":
            after = self.tokens[self.index + 1]
            return after.kind == "num"
        return following.kind in ("num", "name")

    def call_without_parens(self, token: Token, function: str) -> Node:
        """Read sin^2(x) and sin^2 x as (sin x)^2, and sin x, log 2x, √x as applied to one factor.

        Textbooks apply a function written without parentheses to the next factor: an optional
        number and one power (sin 2x is sin(2x), log x^2 is log(x^2), sin x cos x is
        sin(x)·cos(x)); a power written on the function name squares its value. The preview
        shows the reading with the parentheses written out.
        """
        self.require_allowed(token, function)
        exponent: Node | None = None
        caret_pos = 0
        if self.current.kind == "op" and self.current.text == "^":
            caret_pos = self.advance().pos
            exponent_token = self.advance()
            exponent = self.count(Num(exponent_token.text, exponent_token.pos))
        if self.current.kind == "(":
            node = self.call(token, function)
        elif self.current.kind in ("num", "name"):
            self.enter(token.pos)  # "sin sin sin … x" nests as deeply as parentheses do
            argument = self.function_argument()
            self.depth -= 1
            node = self.finish_call(token, function, [argument])
        else:
            raise ParseError(
                phrase(
                    gettext_noop("'%(function)s' needs an argument: write %(function)s(…)"),
                    function=token.text,
                ),
                token.pos,
            )
        if exponent is None:
            return node
        self.check_exponent(node, exponent, caret_pos)
        return self.count(BinOp("^", node, exponent, caret_pos))

    def function_argument(self) -> Node:
        """Read the one factor a function written without parentheses applies to."""
        first = self.power()
        following = self.current
        if isinstance(first, Num) and following.kind == "name" and not self.is_function(following):
            second = self.power()
            return self.count(BinOp("*", first, second, following.pos))
        return first

    def is_function(self, token: Token) -> bool:
        name = token.text
        if name in self.value_names:
            return False
        return name in self.vocab.helpers or canonical_function(name) in KNOWN_FUNCTIONS

    def function_allowed(self, function: str) -> bool:
        if function in MATRIX_FUNCTIONS:
            return self.vocab.matrix
        return self.author or function in self.vocab.functions

    def call(self, token: Token, function: str, helper: Helper | None = None) -> Node:
        open_paren = self.advance()
        self.enter(open_paren.pos)
        args: list[Node] = []
        if self.current.kind != ")":
            args.append(self.sum())
            while self.current.kind == ",":
                self.advance()
                args.append(self.sum())
        self.depth -= 1
        if self.current.kind != ")":
            raise ParseError(
                phrase(
                    gettext_noop(
                        "expected ',' or ')' to close the call of %(function)s opened at "
                        "character %(column)d, found %(found)s"
                    ),
                    function=token.text,
                    column=open_paren.pos + 1,
                    found=_describe(self.current),
                ),
                self.current.pos,
            )
        self.advance()
        return self.finish_call(token, function, args, helper)

    def finish_call(
        self, token: Token, function: str, args: list[Node], helper: Helper | None = None
    ) -> Node:
        """Check a call's arguments against the function's arity and limits; return its node."""
        if helper is None:
            self.require_allowed(token, function)
        if helper is not None:
            low = high = len(helper.params)
        else:
            low, high = KNOWN_FUNCTIONS[function]
        if not low <= len(args) <= high:
            if low == high:
                template = (
                    gettext_noop("%(function)s takes %(low)d argument, not %(count)d")
                    if high == 1
                    else gettext_noop("%(function)s takes %(low)d arguments, not %(count)d")
                )
            else:
                template = gettext_noop(
                    "%(function)s takes %(low)d to %(high)d arguments, not %(count)d"
                )
            raise ParseError(
                phrase(template, function=token.text, low=low, high=high, count=len(args)),
                token.pos,
            )
        if function == "diff":
            self.check_diff(args, token.pos)
        if function in EXPONENTIAL_FUNCTIONS:
            value = constant_value(args[0])
            if value is not None and abs(value) > self.limits.max_exp_argument:
                raise ParseError(
                    phrase(
                        gettext_noop(
                            "%(function)s of a number this large is refused "
                            "(at most %(limit)s in size)"
                        ),
                        function=token.text,
                        limit=f"{self.limits.max_exp_argument:g}",
                    ),
                    token.pos,
                    code="too_large",
                )
        if function in FACTORIAL_FUNCTIONS:
            values = [constant_value(arg) for arg in args]
            if any(v is not None and abs(v) > self.limits.max_factorial_argument for v in values):
                raise ParseError(
                    phrase(
                        gettext_noop(
                            "%(function)s of a number this large is refused (at most %(limit)s)"
                        ),
                        function=token.text,
                        limit=str(self.limits.max_factorial_argument),
                    ),
                    token.pos,
                    code="too_large",
                )
        return self.count(Call(function, tuple(args), token.pos))

    def check_diff(self, args: list[Node], pos: int) -> None:
        if not isinstance(args[1], Name) or args[1].name not in self.vocab.variables:
            raise ParseError(
                phrase(
                    gettext_noop(
                        "diff(expression, variable): the second argument must be a variable"
                    )
                ),
                pos,
            )
        if len(args) == 3:
            order = constant_value(args[2])
            if order is None or order != int(order) or not 1 <= order <= 3:
                raise ParseError(phrase(gettext_noop("the order of diff must be 1, 2 or 3")), pos)
        if diff_nesting(args[0]) >= self.limits.max_diff_nesting:
            raise ParseError(
                phrase(gettext_noop("diff is nested too deeply")), pos, code="too_large"
            )

    def check_exponent(self, base: Node, exponent: Node, pos: int) -> None:
        value = constant_value(exponent)
        if value is None:
            return
        if math.isnan(value) or abs(value) > self.limits.max_exponent:
            raise ParseError(
                phrase(
                    gettext_noop("the exponent is too large (at most %(limit)s in size)"),
                    limit=f"{self.limits.max_exponent:g}",
                ),
                pos,
                code="too_large",
            )
        base_value = constant_value(base)
        if base_value is not None and base_value != 0:
            magnitude = abs(value) * math.log10(abs(base_value)) if abs(base_value) != 1 else 0
            if abs(magnitude) > 300:
                raise ParseError(
                    phrase(gettext_noop("the number is too large or too small")),
                    pos,
                    code="too_large",
                )

    def unknown_name_message(self, name: str, position: int) -> Phrase:
        known = sorted(self.vocab.value_names())
        shown = name if len(name) <= MAX_SUGGESTED_NAME else name[:MAX_SUGGESTED_NAME] + "…"
        suggestion = split_into_names(name, self.vocab, self.work, position)
        candidates = known + sorted(self.vocab.helpers)
        if not suggestion and len(name) <= MAX_SUGGESTED_NAME:
            # A comparison costs about the product of the two lengths.
            self.work.spend(len(name) * sum(len(c) + 1 for c in candidates), position)
            close = difflib.get_close_matches(name, candidates, n=1)
            suggestion = close[0] if close else None
        if suggestion:
            return phrase(
                gettext_noop("unknown name '%(name)s' — did you mean %(suggestion)s?"),
                name=shown,
                suggestion=suggestion,
            )
        if not known:
            return phrase(
                gettext_noop("unknown name '%(name)s' (this exercise has no names to use)"),
                name=shown,
            )
        return phrase(
            gettext_noop("unknown name '%(name)s' (the names you can use: %(names)s)"),
            name=shown,
            names=", ".join(known),
        )


def split_into_names(name: str, vocab: Vocabulary, work: Work, position: int) -> str | None:
    """Return "x*y" when an unknown name is a run of known names, else None.

    The split is found by dynamic programming over the positions of the name (longest known name
    first at each position, then a run of digits), so it costs at most len(name) × known names
    steps: trying every split without remembering the failed tails took seconds of CPU for a
    40-character name when the known names overlap (`s`, `s2`).
    """
    if len(name) > MAX_SUGGESTED_NAME:
        return None
    names = sorted(
        vocab.value_names() | vocab.functions | set(vocab.helpers), key=len, reverse=True
    )
    # tail[i]: the parts of name[i:], or None when no split exists; filled from the end.
    tail: list[list[str] | None] = [None] * len(name) + [[]]
    for start in range(len(name) - 1, -1, -1):
        rest = name[start:]
        work.spend(len(names) + 1, position + start)
        for known in names:
            after = tail[start + len(known)] if rest.startswith(known) else None
            if after is not None:
                tail[start] = [known, *after]
                break
        else:
            digits = re.match(r"\d+", rest)
            if digits is not None and tail[start + digits.end()] is not None:
                tail[start] = [digits.group(), *tail[start + digits.end()]]  # type: ignore[misc]
    parts = tail[0]
    if not parts or len(parts) < 2:
        return None
    functions = vocab.functions | set(vocab.helpers)
    if any(p in functions for p in parts[:-1]):
        return None
    if parts[-1] in functions:
        parts = [*parts[:-1], parts[-1] + "(…)"]
    return "*".join(parts)


def parse_expression(
    text: str, vocab: Vocabulary, *, author: bool = False, work: Work | None = None
) -> Node:
    """Parse one expression against the allow-list of vocab; raise ParseError with a position.

    author=True allows every known function (references may use functions students are not
    offered); students get only the functions the exercise declares. work counts the steps
    taken (a fresh Work when None; pass one to share a budget across several expressions).
    """
    work = work or Work()
    parser = _Parser(text, vocab, author, work)
    node = parser.parse()
    # Five walks of the tree, each about its size with helpers expanded (at most
    # max_expanded_nodes): the size itself, the form and growth checks below, and the caller's
    # printing and shape check.
    size = expanded_size(node, vocab.helpers)
    work.spend(5 * min(size, vocab.limits.max_expanded_nodes + 1), 0)
    if not author:
        check_forms(node, vocab.forbidden_forms)
    if size > vocab.limits.max_expanded_nodes:
        raise ParseError(
            phrase(gettext_noop("the expression is too large once helper functions are expanded")),
            0,
            code="too_large",
        )
    check_growth(node, vocab.helpers, vocab.limits)
    return node
