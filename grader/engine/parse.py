"""Read typed maths into a checked syntax tree, never through eval, sympify or parse_expr.

The tokenizer and recursive-descent parser here know only the names an exercise declares
(`Vocabulary`), so every name and function in the tree is on an allow-list before anything is
built from it. Limits on length, literal size, exponent size, nesting depth, node count and the
size after helper expansion make hostile input fail fast with a positioned message.

This module imports no SymPy or NumPy: the web process can use it for the live preview cheaply.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from dataclasses import dataclass, field

# --- the syntax tree ---------------------------------------------------------------------------


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


# --- what an exercise allows -------------------------------------------------------------------

# Canonical function name -> (min args, max args). Aliases map onto these names.
KNOWN_FUNCTIONS: dict[str, tuple[int, int]] = {
    "exp": (1, 1),
    "log": (1, 2),
    "sqrt": (1, 1),
    "sin": (1, 1),
    "cos": (1, 1),
    "tan": (1, 1),
    "sinh": (1, 1),
    "cosh": (1, 1),
    "tanh": (1, 1),
    "sech": (1, 1),
    "asin": (1, 1),
    "acos": (1, 1),
    "atan": (1, 1),
    "erf": (1, 1),
    "erfc": (1, 1),
    "Phi": (1, 1),
    "abs": (1, 1),
    "max": (2, 4),
    "min": (2, 4),
    "gamma": (1, 1),
    "factorial": (1, 1),
    "binomial": (2, 2),
    "diff": (2, 3),
    # matrix functions
    "transpose": (1, 1),
    "inv": (1, 1),
    "trace": (1, 1),
    "det": (1, 1),
}
FUNCTION_ALIASES = {
    "ln": "log",
    "Abs": "abs",
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
    "tr": "trace",
    "Max": "max",
    "Min": "min",
}
MATRIX_FUNCTIONS = frozenset({"transpose", "inv", "trace", "det"})
GREEK_LETTERS = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho "
    "sigma tau upsilon phi chi psi omega"
).split()
_GREEK_BY_CHAR = {}
for _letter in GREEK_LETTERS:
    for _case in ("SMALL", "CAPITAL"):
        _spelling = "LAMDA" if _letter == "lambda" else _letter.upper()  # Unicode's spelling
        try:
            _char = unicodedata.lookup(f"GREEK {_case} LETTER {_spelling}")
        except KeyError:
            continue
        _GREEK_BY_CHAR[_char] = _letter if _case == "SMALL" else _letter.capitalize()
_GREEK_BY_CHAR["ς"] = "sigma"
_GREEK_BY_CHAR["ϕ"] = "phi"
_GREEK_BY_CHAR["ε"] = "epsilon"
_GREEK_BY_CHAR["ϵ"] = "epsilon"
_GREEK_BY_CHAR["µ"] = "mu"  # the micro sign, which keyboards type for μ


def canonical_function(name: str) -> str:
    """Return the canonical name of a function name or alias."""
    return FUNCTION_ALIASES.get(name, name)


def normalise_name(name: str) -> str:
    """Spell Greek letters by name, so `σ` and `sigma` are the same identifier."""
    return "".join(_GREEK_BY_CHAR.get(ch, ch) for ch in name)


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


@dataclass(frozen=True)
class Helper:
    name: str
    params: tuple[str, ...]
    body: Node


@dataclass
class Vocabulary:
    """The names and functions one reading may use."""

    variables: frozenset[str] = frozenset()
    parameters: frozenset[str] = frozenset()
    functions: frozenset[str] = frozenset()
    helpers: dict[str, Helper] = field(default_factory=dict)
    matrix: bool = False
    limits: Limits = field(default_factory=Limits)

    def constants(self) -> frozenset[str]:
        """Return the constant names not shadowed by a declared name."""
        own = self.variables | self.parameters
        names = {"pi", "e"} | ({"I"} if self.matrix else set())
        return frozenset(names - own)

    def value_names(self) -> frozenset[str]:
        """Return every name that stands for a value."""
        return self.variables | self.parameters | self.constants()


class ParseError(ValueError):
    """An answer could not be read; `position` is a 0-based offset into the text."""

    def __init__(self, message: str, position: int, code: str = "syntax") -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.code = code

    def describe(self, text: str) -> str:
        """Return the message prefixed with a human column (1-based)."""
        return f"At character {self.position + 1}: {self.message}"


# --- tokens ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # num name op ( ) , | ' end
    text: str
    pos: int


DIGITS = "0123456789"
_NUMBER = re.compile(r"\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?")
_TRANSLATE = {
    "−": "-",
    "–": "-",
    "·": "*",
    "×": "*",
    "∗": "*",
    "⋅": "*",
    "÷": "/",
    "’": "'",
    "′": "'",
    "ᵀ": "ᵀ",
    "[": "(",
    "]": ")",
    "{": "(",
    "}": ")",
}
_SUPERSCRIPTS = {"²": "2", "³": "3"}


def _is_name_start(ch: str) -> bool:
    return ch.isalpha() or ch == "_"


def tokenize(text: str, limits: Limits) -> list[Token]:
    """Split text into tokens, refusing unknown characters with their position."""
    if len(text) > limits.max_length:
        raise ParseError(
            f"the answer is too long ({len(text)} characters; at most {limits.max_length})",
            limits.max_length,
            code="too_large",
        )
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = _TRANSLATE.get(text[i], text[i])
        if ch.isspace():
            i += 1
            continue
        if ch in DIGITS or (ch == "." and i + 1 < len(text) and text[i + 1] in DIGITS):
            match = _NUMBER.match(text, i)
            assert match is not None
            literal = match.group()
            digits = sum(c in DIGITS for c in literal.split("e")[0].split("E")[0])
            if digits > limits.max_literal_digits:
                raise ParseError(
                    f"the number is too long (at most {limits.max_literal_digits} digits)",
                    i,
                    code="too_large",
                )
            exponent = re.search(r"[eE]([+-]?\d+)$", literal)
            if exponent and abs(int(exponent.group(1)[:6])) > 300:
                raise ParseError("the number is too large or too small", i, code="too_large")
            tokens.append(Token("num", literal, i))
            i = match.end()
            continue
        if ch == "ᵀ":
            tokens.append(Token("'", "'", i))
            i += 1
            continue
        if text[i] in _GREEK_BY_CHAR:
            # A Greek letter takes the digits and underscores after it: σ2 is sigma2, μ_1 mu_1.
            start, i = i, i + 1
            while i < len(text) and (text[i] in DIGITS or text[i] == "_"):
                i += 1
            tokens.append(Token("name", _GREEK_BY_CHAR[text[start]] + text[start + 1 : i], start))
            continue
        if _is_name_start(ch):
            start = i
            while i < len(text) and (_is_name_start(text[i]) or text[i] in DIGITS):
                if text[i] in _GREEK_BY_CHAR or text[i] in _SUPERSCRIPTS or text[i] == "ᵀ":
                    break  # "xσ" reads as x then σ
                i += 1
            tokens.append(Token("name", text[start:i], start))
            continue
        if ch in _SUPERSCRIPTS:
            tokens.append(Token("op", "^", i))
            tokens.append(Token("num", _SUPERSCRIPTS[ch], i))
            i += 1
            continue
        if ch == "*" and text[i : i + 2] == "**":
            tokens.append(Token("op", "^", i))
            i += 2
            continue
        if ch in "+-*/^":
            tokens.append(Token("op", ch, i))
            i += 1
            continue
        if ch in "(),|'":
            tokens.append(Token(ch, ch, i))
            i += 1
            continue
        if ch == "!":
            raise ParseError("'!' is not understood here; write factorial(n)", i)
        if ch == "=":
            raise ParseError("'=' is not allowed inside an expression; give only the expression", i)
        raise ParseError(f"the character {text[i]!r} is not understood", i)
    tokens.append(Token("end", "", len(text)))
    return tokens


# --- the parser --------------------------------------------------------------------------------


def _describe(token: Token) -> str:
    if token.kind == "end":
        return "the end of the input"
    return repr(token.text)


class _Parser:
    def __init__(self, text: str, vocab: Vocabulary, author: bool) -> None:
        self.text = text
        self.vocab = vocab
        self.author = author
        self.limits = vocab.limits
        self.tokens = tokenize(text, vocab.limits)
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
        self.index += 1
        return token

    def expect(self, kind: str, what: str) -> Token:
        if self.current.kind != kind:
            raise ParseError(f"expected {what}, found {_describe(self.current)}", self.current.pos)
        return self.advance()

    def count(self, node: Node) -> Node:
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise ParseError(
                f"the expression is too large (more than {self.limits.max_nodes} parts)",
                getattr(node, "pos", 0),
                code="too_large",
            )
        return node

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise ParseError(
                f"the expression is nested too deeply (at most {self.limits.max_depth} levels)",
                pos,
                code="too_large",
            )

    # grammar
    def parse(self) -> Node:
        if self.current.kind == "end":
            raise ParseError("the answer is empty; expected an expression", 0)
        node = self.sum()
        if self.current.kind != "end":
            token = self.current
            if token.kind == ")":
                raise ParseError("this ')' has no matching '('", token.pos)
            raise ParseError(
                f"expected an operator or the end of the input, found {_describe(token)}",
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
                raise ParseError("expected an exponent after '^'", self.current.pos)
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
                raise ParseError("the transpose mark ' is only for matrix answers", token.pos)
            node = self.count(Transpose(node, token.pos))
        return node

    def postfix(self) -> Node:
        return self.transpose_marks(self.atom())

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
                    f"expected ')' to close the '(' at character {token.pos + 1}, "
                    f"found {_describe(self.current)}",
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
                    f"expected '|' to close the '|' at character {token.pos + 1}, "
                    f"found {_describe(self.current)}",
                    self.current.pos,
                )
            self.advance()
            return self.count(Call("abs", (inner,), token.pos))
        if token.kind == "name":
            return self.name_or_call()
        if token.kind == "end":
            raise ParseError("expected a number, a name or '(' but the input ended", token.pos)
        raise ParseError(f"expected a number, a name or '(', found {_describe(token)}", token.pos)

    def name_or_call(self) -> Node:
        token = self.advance()
        name = token.text
        is_value = name in self.vocab.value_names()
        function = canonical_function(name)
        followed_by_paren = self.current.kind == "("
        if name in self.vocab.helpers and followed_by_paren:
            return self.call(token, name, helper=self.vocab.helpers[name])
        if function in KNOWN_FUNCTIONS and followed_by_paren and not is_value:
            if not self.function_allowed(function):
                available = sorted(self.vocab.functions | set(self.vocab.helpers))
                listed = ", ".join(available) if available else "none"
                raise ParseError(
                    f"the function '{name}' is not available in this exercise "
                    f"(available: {listed})",
                    token.pos,
                    code="unknown_name",
                )
            return self.call(token, function)
        if is_value:
            return self.count(Name(name, token.pos))
        if name in self.vocab.helpers or function in KNOWN_FUNCTIONS:
            raise ParseError(f"'{name}' is a function: write {name}(…)", token.pos, "unknown_name")
        raise ParseError(self.unknown_name_message(name), token.pos, code="unknown_name")

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
                f"expected ',' or ')' to close the call of {token.text} opened at character "
                f"{open_paren.pos + 1}, found {_describe(self.current)}",
                self.current.pos,
            )
        self.advance()
        if helper is not None:
            low = high = len(helper.params)
        else:
            low, high = KNOWN_FUNCTIONS[function]
        if not low <= len(args) <= high:
            wanted = str(low) if low == high else f"{low} to {high}"
            raise ParseError(
                f"{token.text} takes {wanted} argument{'s' if high > 1 else ''}, not {len(args)}",
                token.pos,
            )
        if function == "diff":
            self.check_diff(args, token.pos)
        if function in EXPONENTIAL_FUNCTIONS:
            value = constant_value(args[0])
            if value is not None and abs(value) > self.limits.max_exp_argument:
                raise ParseError(
                    f"{token.text} of a number this large is refused "
                    f"(at most {self.limits.max_exp_argument:g} in size)",
                    token.pos,
                    code="too_large",
                )
        if function in FACTORIAL_FUNCTIONS:
            values = [constant_value(arg) for arg in args]
            if any(v is not None and abs(v) > self.limits.max_factorial_argument for v in values):
                raise ParseError(
                    f"{token.text} of a number this large is refused "
                    f"(at most {self.limits.max_factorial_argument})",
                    token.pos,
                    code="too_large",
                )
        return self.count(Call(function, tuple(args), token.pos))

    def check_diff(self, args: list[Node], pos: int) -> None:
        if not isinstance(args[1], Name) or args[1].name not in self.vocab.variables:
            raise ParseError(
                "diff(expression, variable): the second argument must be a variable", pos
            )
        if len(args) == 3:
            order = constant_value(args[2])
            if order is None or order != int(order) or not 1 <= order <= 3:
                raise ParseError("the order of diff must be 1, 2 or 3", pos)
        if diff_nesting(args[0]) >= self.limits.max_diff_nesting:
            raise ParseError("diff is nested too deeply", pos, code="too_large")

    def check_exponent(self, base: Node, exponent: Node, pos: int) -> None:
        value = constant_value(exponent)
        if value is None:
            return
        if math.isnan(value) or abs(value) > self.limits.max_exponent:
            raise ParseError(
                f"the exponent is too large (at most {self.limits.max_exponent:g} in size)",
                pos,
                code="too_large",
            )
        base_value = constant_value(base)
        if base_value is not None and base_value != 0:
            magnitude = abs(value) * math.log10(abs(base_value)) if abs(base_value) != 1 else 0
            if abs(magnitude) > 300:
                raise ParseError("the number is too large or too small", pos, code="too_large")

    def unknown_name_message(self, name: str) -> str:
        known = sorted(self.vocab.value_names())
        split = split_into_names(name, self.vocab)
        if split:
            return f"unknown name '{name}' — did you mean {split}?"
        close = difflib.get_close_matches(name, known + sorted(self.vocab.helpers), n=1)
        if close:
            return f"unknown name '{name}' — did you mean {close[0]}?"
        listed = ", ".join(known) if known else "none"
        return f"unknown name '{name}' (the names you can use: {listed})"


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
        result = abs(left) ** right
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


def split_into_names(name: str, vocab: Vocabulary) -> str | None:
    """Return "x*y" when an unknown name is a run of known names, else None."""
    names = sorted(
        vocab.value_names() | vocab.functions | set(vocab.helpers), key=len, reverse=True
    )

    def split(rest: str) -> list[str] | None:
        if not rest:
            return []
        for known in names:
            if rest.startswith(known):
                tail = split(rest[len(known) :])
                if tail is not None:
                    return [known, *tail]
        if rest[0] in DIGITS:
            digits = re.match(r"\d+", rest)
            assert digits is not None
            tail = split(rest[digits.end() :])
            if tail is not None:
                return [digits.group(), *tail]
        return None

    if len(name) > 40:
        return None
    parts = split(name)
    if not parts or len(parts) < 2:
        return None
    functions = vocab.functions | set(vocab.helpers)
    if any(p in functions for p in parts[:-1]):
        return None
    if parts[-1] in functions:
        parts[-1] += "(…)"
    return "*".join(parts)


def expanded_size(node: Node, vocab: Vocabulary) -> int:
    """Return the node count once helper calls are expanded into their bodies."""
    memo: dict[int, int] = {}

    def size(current: Node) -> int:
        key = id(current)
        if key in memo:
            return memo[key]
        if isinstance(current, Call) and current.func in vocab.helpers:
            helper = vocab.helpers[current.func]
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


def parse_expression(text: str, vocab: Vocabulary, *, author: bool = False) -> Node:
    """Parse one expression against the allow-list of vocab; raise ParseError with a position.

    author=True allows every known function (references may use functions students are not
    offered); students get only the functions the exercise declares.
    """
    parser = _Parser(text, vocab, author)
    node = parser.parse()
    if expanded_size(node, vocab) > vocab.limits.max_expanded_nodes:
        raise ParseError(
            "the expression is too large once helper functions are expanded",
            0,
            code="too_large",
        )
    check_growth(node, vocab)
    return node


# Functions whose values explode: nested, they reach numbers no check can evaluate in time
# (exp(exp(exp(exp(x)))), x^x^x^x, factorial(factorial(100))).
GROWING_FUNCTIONS = frozenset({"exp", "sinh", "cosh", "factorial", "gamma", "binomial"})
EXPONENTIAL_FUNCTIONS = {"exp": math.exp, "sinh": math.sinh, "cosh": math.cosh}
FACTORIAL_FUNCTIONS = frozenset({"factorial", "gamma", "binomial"})


def check_growth(node: Node, vocab: Vocabulary) -> None:
    """Refuse fast-growing functions nested too deeply, and factorials of growing arguments."""
    depths: dict[int, int] = {}

    def depth(current: Node) -> int:
        key = id(current)
        if key not in depths:
            inner = max((depth(child) for child in children_of(current)), default=0)
            if isinstance(current, Call) and current.func in vocab.helpers:
                inner += depth(vocab.helpers[current.func].body)
            elif isinstance(current, Call) and current.func in GROWING_FUNCTIONS:
                inner += 1
            elif isinstance(current, BinOp) and current.op == "^":
                inner += constant_value(current.right) is None  # a variable exponent grows
            depths[key] = inner
        return depths[key]

    limit = vocab.limits.max_growth_nesting
    stack = [node]
    while stack:
        current = stack.pop()
        if depth(current) > limit:
            if all(depth(child) <= limit for child in children_of(current)):
                raise ParseError(
                    "exponentials, powers with a variable exponent and factorials are nested too "
                    f"deeply here (at most {limit} levels): the values are too large to check",
                    current.pos,
                    code="too_large",
                )
        if isinstance(current, Call) and current.func in FACTORIAL_FUNCTIONS:
            if any(depth(arg) for arg in current.args):
                raise ParseError(
                    f"{current.func} of an exponential, a power or a factorial is refused: "
                    "the values are too large to check",
                    current.pos,
                    code="too_large",
                )
        stack.extend(children_of(current))


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
