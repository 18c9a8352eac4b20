"""Split typed maths into tokens, refusing unknown characters with their position."""

from __future__ import annotations

import re
from dataclasses import dataclass

from grader.engine.symbolic.limits import Limits
from grader.engine.symbolic.syntax import ParseError
from grader.engine.symbolic.vocabulary import GREEK_BY_CHAR


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
        if text[i] in GREEK_BY_CHAR:
            # A Greek letter takes the digits and underscores after it: σ2 is sigma2, μ_1 mu_1.
            start, i = i, i + 1
            while i < len(text) and (text[i] in DIGITS or text[i] == "_"):
                i += 1
            tokens.append(Token("name", GREEK_BY_CHAR[text[start]] + text[start + 1 : i], start))
            continue
        if _is_name_start(ch):
            start = i
            while i < len(text) and (_is_name_start(text[i]) or text[i] in DIGITS):
                if text[i] in GREEK_BY_CHAR or text[i] in _SUPERSCRIPTS or text[i] == "ᵀ":
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
