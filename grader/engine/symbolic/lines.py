"""A derivation's lines: split, parsed and printed, for grading and for the live preview.

The student writes one expression per line (an optional leading "=" is ignored). Plain Python
(no SymPy or NumPy), so the web process can preview a derivation on every keystroke.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.engine.symbolic.limits import Work
from grader.engine.symbolic.parser import parse_expression
from grader.engine.symbolic.printing import to_latex
from grader.engine.symbolic.problem import SymbolicProblem
from grader.engine.symbolic.syntax import Node, ParseError
from grader.engine.types import (
    Phrase,
    Preview,
    empty_preview,
    error_preview,
    gettext_noop,
    phrase,
    read_preview,
)

MAX_LINES = 40


@dataclass
class Line:
    number: int  # 1-based, counting only non-blank lines
    text: str
    offset: int  # where the expression starts in the whole answer


def split_lines(answer: str) -> list[Line]:
    """Return the non-blank lines of a derivation, without a leading "="."""
    lines: list[Line] = []
    offset = 0
    for raw in answer.split("\n"):
        stripped = raw.strip()
        start = offset + (len(raw) - len(raw.lstrip()))
        if stripped.startswith("="):
            body = stripped[1:]
            start += 1 + (len(body) - len(body.lstrip()))
            stripped = body.strip()
        if stripped:
            lines.append(Line(len(lines) + 1, stripped, start))
        offset += len(raw) + 1
    return lines


class DerivationError(ValueError):
    """A line could not be read; carries the line and the position in the whole answer."""

    def __init__(self, line: Line, error: ParseError) -> None:
        super().__init__(error.message)
        self.line = line
        self.error = error

    @property
    def words(self) -> Phrase:
        return phrase(
            gettext_noop("Line %(number)d: %(problem)s"),
            number=self.line.number,
            problem=self.error.describe_words(self.line.text),
        )

    @property
    def position(self) -> int:
        return self.line.offset + self.error.position


def parse_lines(
    answer: str, problem: SymbolicProblem, work: Work | None = None
) -> list[tuple[Line, Node]]:
    """Parse every line; raise DerivationError at the first that cannot be read.

    The lines share one budget of steps (work), so many lines cost no more than one long one.
    """
    work = work or Work()
    lines = split_lines(answer)
    if len(lines) > MAX_LINES:
        raise DerivationError(
            lines[MAX_LINES],
            ParseError(
                phrase(
                    gettext_noop("a derivation may have at most %(limit)d lines"), limit=MAX_LINES
                ),
                0,
                "too_large",
            ),
        )
    parsed = []
    for line in lines:
        try:
            parsed.append((line, parse_expression(line.text, problem.vocab, work=work)))
        except ParseError as error:
            raise DerivationError(line, error) from error
    return parsed


# KaTeX's \htmlClass with this class (the page's KaTeX trusts exactly it) marks the first wrong line.
WRONG_LINE_CLASS = "wrong-step"


def lines_latex(trees: list[Node], *, wrong: int | None = None) -> str:
    """Return the lines as an aligned LaTeX block, each after "=" as read.

    wrong is the 0-based index of a line to mark (boxed, and with the class WRONG_LINE_CLASS).
    """
    rows = [
        rf"&= \htmlClass{{{WRONG_LINE_CLASS}}}{{\boxed{{{to_latex(tree)}}}}}"
        if i == wrong
        else rf"&= {to_latex(tree)}"
        for i, tree in enumerate(trees)
    ]
    return r"\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}"


def preview_derivation(problem: SymbolicProblem, answer: str, work: Work | None = None) -> Preview:
    """Return the live preview of a derivation (all lines, or the first unreadable one)."""
    try:
        parsed = parse_lines(answer, problem, work)
    except DerivationError as error:
        return error_preview(error.words, error.position)
    if not parsed:
        return empty_preview()
    return read_preview(lines_latex([tree for _, tree in parsed]))
