"""Find hints that give the answer away, for check_course.

A hint should move a student towards the answer, not hand it over. A hint leaks when it contains
the reference answer:
- as text, spaces ignored (`grad_out*(x>0)` in "multiply: `grad_out * (x > 0)`");
- for code exercises, as the expression a `return` of the reference gives back;
- for expression and matrix exercises, as math that grades correct: each `$…$`, `$$…$$` or
  backticked part of the hint, and each side of an "=" in it, is read (simple LaTeX such as
  \\frac, \\cdot and \\sigma turned into the answer syntax) and graded as an answer would be.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from grader import engine
from grader.engine import CODE_KINDS, Status

MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|`([^`]+)`", re.DOTALL)
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}")
# Shorter references ("x", "2*a") are too likely to turn up in a hint by chance.
MIN_TEXT_MATCH = 6
SPLITTERS = re.compile(r"=|\\approx|\\quad|\\qquad|,\s|\\text\{[^}]*\}|\\implies|\\Rightarrow")
LATEX_WORDS = {
    r"\cdot": "*",
    r"\times": "*",
    r"\left": "",
    r"\right": "",
    r"\,": "",
    r"\;": "",
    r"\!": "",
    r"\top": "T",
    r"\ln": "log",
    r"\operatorname": "",
    r"\mathrm": "",
    r"\mathbf": "",
    r"\boldsymbol": "",
    r"\bigl": "",
    r"\bigr": "",
    r"\Bigl": "",
    r"\Bigr": "",
    r"\dfrac": r"\frac",
    r"\tfrac": r"\frac",
}


@dataclass(frozen=True)
class HintLeak:
    index: int  # 0-based, in the file's hints list
    found: str  # the part of the hint that is the answer

    def describe(self) -> str:
        return (
            f"hint {self.index + 1} gives the answer away: `{self.found}` is the reference answer; "
            "point towards it instead"
        )


def hint_leaks(spec: dict[str, Any], *, seed: int) -> list[HintLeak]:
    """Return the hints of an exercise that contain its reference answer (checked for one seed)."""
    hints = [str(h) for h in spec.get("hints") or []]
    if spec.get("kind") in CODE_KINDS:
        returned = _returned_expressions(str(spec.get("reference") or ""), spec.get("function"))
        return [
            HintLeak(i, found)
            for i, hint in enumerate(hints)
            if (found := _text_match(hint, returned)) is not None
        ]
    if spec.get("kind") not in ("expression", "matrix"):
        return []
    try:
        drawn = engine.variant(spec, seed)
    except Exception:  # noqa: BLE001 - a variant that cannot be built is reported elsewhere
        return []
    references = [str(spec.get("answer") or ""), drawn["reference"]]
    leaks = []
    for i, hint in enumerate(hints):
        filled = PLACEHOLDER.sub(lambda m: _parameter(drawn["parameters"], m), hint)
        found = _text_match(filled, references) or _graded_match(spec, filled, seed)
        if found is not None:
            leaks.append(HintLeak(i, found))
    return leaks


def _parameter(parameters: dict[str, int | float], match: re.Match[str]) -> str:
    value = parameters.get(match.group(1))
    return match.group(0) if value is None else str(value)


def _squeeze(text: str) -> str:
    return "".join(text.split()).replace("**", "^")


def _text_match(hint: str, references: list[str]) -> str | None:
    squeezed = _squeeze(hint.replace("`", ""))
    for reference in references:
        if len(_squeeze(reference)) >= MIN_TEXT_MATCH and _squeeze(reference) in squeezed:
            return " ".join(reference.split())
    return None


def _returned_expressions(code: str, function: Any) -> list[str]:
    """Return the expressions the reference function returns (names and constants left out)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and (function is None or node.name == function):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Return) and _computes(inner.value):
                    found.append(ast.unparse(inner.value))
    return found


def _computes(node: ast.expr | None) -> bool:
    """Say whether an expression computes something (not only names and constants, as in a tuple)."""
    if node is None:
        return False
    return any(
        isinstance(inner, ast.BinOp | ast.UnaryOp | ast.Call | ast.Compare | ast.Subscript)
        for inner in ast.walk(node)
    )


def _graded_match(spec: dict[str, Any], hint: str, seed: int) -> str | None:
    """Return a part of the hint's math that grades correct, if any."""
    for match in MATH.finditer(hint):
        segment = next(group for group in match.groups() if group is not None)
        for part in SPLITTERS.split(segment):
            candidate = latex_to_answer(part).strip()
            if len(candidate) < 2 or not any(c.isalnum() for c in candidate):
                continue
            try:
                verdict = engine.grade(spec, candidate, seed=seed)
            except Exception:  # noqa: BLE001, S112 - a hint that crashes the grader is no leak
                continue
            if verdict.status == Status.CORRECT:
                return " ".join(part.split())
    return None


def latex_to_answer(latex: str) -> str:
    """Turn simple LaTeX (fractions, products, Greek names, braces) into the answer syntax."""
    text = latex
    for word, plain in LATEX_WORDS.items():
        text = re.sub(re.escape(word) + r"(?![A-Za-z])", lambda _m, p=plain: p, text)
    text = _replace_command(text, r"\frac", 2, "(({0})/({1}))")
    text = _replace_command(text, r"\sqrt", 1, "sqrt({0})")
    text = re.sub(r"\\([A-Za-z]+)", r"\1", text)
    text = text.replace("{", "(").replace("}", ")")
    return text.rstrip(".;:, ")


def _replace_command(text: str, command: str, arity: int, template: str) -> str:
    """Replace command{a}{b}… by template.format(a, b, …), innermost first, braces matched."""
    while (start := text.find(command + "{")) != -1:
        position = start + len(command)
        arguments = []
        for _n in range(arity):
            end = _closing_brace(text, position)
            if end is None:
                return text
            arguments.append(text[position + 1 : end])
            position = end + 1
        inner = [_replace_command(a, command, arity, template) for a in arguments]
        text = text[:start] + template.format(*inner) + text[position:]
    return text


def _closing_brace(text: str, opening: int) -> int | None:
    if opening >= len(text) or text[opening] != "{":
        return None
    depth = 0
    for i in range(opening, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i
    return None
