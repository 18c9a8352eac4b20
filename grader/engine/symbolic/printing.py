"""Render a parsed answer as LaTeX exactly as it was read, with every multiplication explicit.

Printing the syntax tree (not a simplified SymPy object) shows the student their own answer:
`1/2x` appears as \\frac{1}{2} \\cdot x, so a misreading is visible before submitting.
"""

from __future__ import annotations

import re

from grader.engine.symbolic.syntax import BinOp, Call, Name, Neg, Node, Num, Transpose
from grader.engine.symbolic.vocabulary import GREEK_LETTERS

_SUM, _PRODUCT, _UNARY, _POWER, _ATOM = 1, 2, 3, 4, 5

_NAMED_FUNCTIONS = {
    "exp": r"\exp",
    "log": r"\log",
    "sin": r"\sin",
    "cos": r"\cos",
    "tan": r"\tan",
    "sinh": r"\sinh",
    "cosh": r"\cosh",
    "tanh": r"\tanh",
    "sech": r"\operatorname{sech}",
    "sec": r"\sec",
    "csc": r"\csc",
    "cot": r"\cot",
    "asinh": r"\operatorname{arsinh}",
    "acosh": r"\operatorname{arcosh}",
    "atanh": r"\operatorname{artanh}",
    "sign": r"\operatorname{sgn}",
    "asin": r"\arcsin",
    "acos": r"\arccos",
    "atan": r"\arctan",
    "erf": r"\operatorname{erf}",
    "erfc": r"\operatorname{erfc}",
    "Phi": r"\Phi",
    "max": r"\max",
    "min": r"\min",
    "gamma": r"\Gamma",
    "trace": r"\operatorname{tr}",
    "det": r"\det",
}


def latex_name(name: str) -> str:
    """Return the LaTeX of a variable or helper name (Greek letters, subscripts)."""
    match = re.fullmatch(r"([A-Za-z]+?)_?(\d+|_[A-Za-z0-9]+)", name)
    if match and not name.isalpha():
        head, sub = match.group(1), match.group(2).lstrip("_")
        return f"{latex_name(head)}_{{{sub}}}"
    if name.lower() in GREEK_LETTERS:
        if name == "pi":
            return r"\pi"
        return "\\" + name
    if name == "e":
        return "e"
    if len(name) == 1:
        return name
    return rf"\mathrm{{{name}}}"


def _precedence(node: Node) -> int:
    if isinstance(node, BinOp):
        return {"+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _ATOM, "^": _POWER}[node.op]
    if isinstance(node, Neg):
        return _UNARY
    if isinstance(node, Num) and ("e" in node.text.lower()):
        return _PRODUCT
    return _ATOM


def _wrap(node: Node, minimum: int) -> str:
    text = to_latex(node)
    if _precedence(node) < minimum:
        return rf"\left({text}\right)"
    return text


def _number(text: str) -> str:
    match = re.fullmatch(r"([\d.]+)[eE]([+-]?\d+)", text)
    if match:
        return rf"{match.group(1)} \cdot 10^{{{int(match.group(2))}}}"
    return text


def _superscript(base: Node, script: str) -> str:
    text = _wrap(base, _ATOM)
    if not isinstance(base, Name | Num):
        text = "{" + text + "}"
    return f"{text}^{{{script}}}"


def to_latex(node: Node) -> str:
    """Return the LaTeX of a syntax tree."""
    if isinstance(node, Num):
        return _number(node.text)
    if isinstance(node, Name):
        return latex_name(node.name)
    if isinstance(node, Neg):
        return "-" + _wrap(node.operand, _PRODUCT if not isinstance(node.operand, Neg) else _ATOM)
    if isinstance(node, Transpose):
        return _superscript(node.operand, r"\top")
    if isinstance(node, BinOp):
        if node.op == "+":
            return f"{to_latex(node.left)} + {_wrap(node.right, _PRODUCT)}"
        if node.op == "-":
            return f"{to_latex(node.left)} - {_wrap(node.right, _PRODUCT)}"
        if node.op == "*":
            return rf"{_wrap(node.left, _PRODUCT)} \cdot {_wrap(node.right, _UNARY + 1)}"
        if node.op == "/":
            return rf"\frac{{{to_latex(node.left)}}}{{{to_latex(node.right)}}}"
        base = _wrap(node.left, _ATOM)
        if isinstance(node.left, Call) and node.left.func in ("abs", "sqrt"):
            base = to_latex(node.left)
        return f"{{{base}}}^{{{to_latex(node.right)}}}"
    return _call_latex(node)


def _call_latex(node: Call) -> str:
    args = [to_latex(a) for a in node.args]
    if node.func == "abs":
        return rf"\left|{args[0]}\right|"
    if node.func == "sqrt":
        return rf"\sqrt{{{args[0]}}}"
    if node.func == "transpose":
        return _superscript(node.args[0], r"\top")
    if node.func == "inv":
        return _superscript(node.args[0], "-1")
    if node.func == "factorial":
        return _wrap(node.args[0], _ATOM) + "!"
    if node.func == "binomial":
        return rf"\binom{{{args[0]}}}{{{args[1]}}}"
    if node.func == "log" and len(args) == 2:
        return rf"\log_{{{args[1]}}}\left({args[0]}\right)"
    if node.func == "diff":
        order = f"^{{{args[2]}}}" if len(args) == 3 else ""
        return rf"\frac{{d{order}}}{{d{args[1]}{order}}}\left({args[0]}\right)"
    head = _NAMED_FUNCTIONS.get(node.func)
    if head is None:
        name = latex_name(node.func)
        head = name if not name.startswith(r"\mathrm") else rf"\operatorname{{{node.func}}}"
    return rf"{head}\left({', '.join(args)}\right)"


_TEXT_PRECEDENCE = {"+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT, "^": _POWER}


def to_text(node: Node) -> str:
    """Return a tree as plain text the parser reads back to the same tree."""
    if isinstance(node, Num):
        return node.text
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Neg):
        return "-" + _text_wrap(node.operand, _POWER)
    if isinstance(node, Transpose):
        return f"transpose({to_text(node.operand)})"
    if isinstance(node, BinOp):
        own = _TEXT_PRECEDENCE[node.op]
        if node.op == "^":
            return f"{_text_wrap(node.left, _ATOM)}^{_text_wrap(node.right, _ATOM)}"
        right_minimum = own + 1 if node.op in "-/" else own
        if node.op == "*":
            right_minimum = _POWER
        left = _text_wrap(node.left, own)
        right = _text_wrap(node.right, right_minimum)
        separator = f" {node.op} " if node.op in "+-" else node.op
        return f"{left}{separator}{right}"
    return f"{node.func}({', '.join(to_text(a) for a in node.args)})"


def _text_precedence(node: Node) -> int:
    if isinstance(node, BinOp):
        return _TEXT_PRECEDENCE[node.op]
    if isinstance(node, Neg):
        return _UNARY
    return _ATOM


def _text_wrap(node: Node, minimum: int) -> str:
    text = to_text(node)
    return f"({text})" if _text_precedence(node) < minimum else text
