"""Split typed maths into tokens, refusing unknown characters with their position."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from grader.engine.symbolic.limits import Limits
from grader.engine.symbolic.syntax import ParseError
from grader.engine.symbolic.vocabulary import GREEK_BY_CHAR
from grader.engine.types import Phrase, gettext_noop, phrase


@dataclass(frozen=True)
class Token:
    kind: str  # num name op ( ) , | ' ! end
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
_SUPERSCRIPTS = {
    "⁰": "0",
    "¹": "1",
    "²": "2",
    "³": "3",
    "⁴": "4",
    "⁵": "5",
    "⁶": "6",
    "⁷": "7",
    "⁸": "8",
    "⁹": "9",
}
_SUPERSCRIPT_MINUS = "⁻"
# Characters that cannot be read, with what to type instead.
_SUGGESTIONS = {
    "≤": gettext_noop("an answer is an expression, not an inequality"),
    "≥": gettext_noop("an answer is an expression, not an inequality"),
    "≠": gettext_noop("an answer is an expression, not a comparison"),
    "≈": gettext_noop("give the exact expression, not an approximation"),
    "∞": gettext_noop("infinity is not a value an answer can use"),
    "∂": gettext_noop("write diff(expression, x) for a derivative"),
    "∫": gettext_noop("integrals cannot be typed; carry the integral out"),
    "∑": gettext_noop("sums cannot be typed; write the terms or the closed form"),
    "∏": gettext_noop("products cannot be typed; write the factors or the closed form"),
    "→": gettext_noop("give only the expression"),
}


def normalise(text: str) -> str:
    """Fold what an input method types to plain ASCII maths, one character for one.

    Full-width characters from a Chinese or Japanese input method (（ ）＋ － ＊ ／ ＾ ， and
    full-width digits and letters) and other compatibility forms become their plain forms (NFKC),
    character by character so that every position still points at what the student typed.
    Superscripts and the characters the tokenizer translates itself (ᵀ, ×, −, …) are kept: x² is
    x^2, not x2, and Aᵀ is a transpose, not the name AT.
    """
    out = []
    for ch in text:
        if ch in _SUPERSCRIPTS or ch == _SUPERSCRIPT_MINUS or ch in _TRANSLATE or ch.isascii():
            out.append(ch)
            continue
        folded = unicodedata.normalize("NFKC", ch)
        out.append(folded if len(folded) == 1 else ch)
    return "".join(out)


def _unknown_character(ch: str) -> Phrase:
    """Name a character that cannot be read, and say what to type instead."""
    name = unicodedata.name(ch, "").lower()
    shown = f"{ch!r}" + (f" ({name})" if name else "")
    hint = _SUGGESTIONS.get(ch)
    if hint:
        return phrase(
            gettext_noop("the character %(character)s is not understood: %(hint)s"),
            character=shown,
            hint=phrase(hint),
        )
    return phrase(
        gettext_noop(
            "the character %(character)s is not understood; type maths with + - * / ^ ( ), "
            "digits and letters"
        ),
        character=shown,
    )


def _is_name_start(ch: str) -> bool:
    return ch.isalpha() or ch == "_"


def tokenize(text: str, limits: Limits) -> list[Token]:
    """Split text into tokens, refusing unknown characters with their position."""
    if len(text) > limits.max_length:
        raise ParseError(
            phrase(
                gettext_noop("the answer is too long (%(length)d characters; at most %(limit)d)"),
                length=len(text),
                limit=limits.max_length,
            ),
            limits.max_length,
            code="too_large",
        )
    text = normalise(text)
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
                    phrase(
                        gettext_noop("the number is too long (at most %(limit)d digits)"),
                        limit=limits.max_literal_digits,
                    ),
                    i,
                    code="too_large",
                )
            exponent = re.search(r"[eE]([+-]?\d+)$", literal)
            if exponent and abs(int(exponent.group(1)[:6])) > 300:
                raise ParseError(
                    phrase(gettext_noop("the number is too large or too small")),
                    i,
                    code="too_large",
                )
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
        if ch in _SUPERSCRIPTS or ch == _SUPERSCRIPT_MINUS:
            # A run of superscripts is one exponent: x⁻¹ is x^-1, x¹⁰ is x^10.
            tokens.append(Token("op", "^", i))
            if text[i] == _SUPERSCRIPT_MINUS:
                tokens.append(Token("op", "-", i))
                i += 1
            start = i
            while i < len(text) and text[i] in _SUPERSCRIPTS:
                i += 1
            if i == start:
                raise ParseError(
                    phrase(gettext_noop("a superscript minus needs superscript digits after it")),
                    start,
                )
            exponent_digits = "".join(_SUPERSCRIPTS[c] for c in text[start:i])
            tokens.append(Token("num", exponent_digits, start))
            continue
        if ch == "√":
            tokens.append(Token("name", "sqrt", i))
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
        if ch in "(),|'!":
            tokens.append(Token(ch, ch, i))
            i += 1
            continue
        if ch == "=":
            raise ParseError(
                phrase(
                    gettext_noop(
                        "'=' is not allowed inside an expression; give only the expression"
                    )
                ),
                i,
            )
        raise ParseError(_unknown_character(text[i]), i)
    tokens.append(Token("end", "", len(text)))
    return tokens
