"""What a student sees before grading: how a typed answer is read, and one seed's variant.

Both run in the calling process (the web process, on every keystroke for the preview): they only
tokenize, parse, check shapes and print, bounded by the parser's limits and its budget of steps
(grader.engine.symbolic.limits.Work), and never build SymPy or NumPy objects.
"""

from __future__ import annotations

from typing import Any

from grader.engine.config import EngineConfig, engine_config
from grader.engine.symbolic.limits import Work
from grader.engine.symbolic.lines import preview_derivation
from grader.engine.symbolic.parser import parse_expression
from grader.engine.symbolic.printing import to_latex, to_text
from grader.engine.symbolic.problem import read_problem
from grader.engine.symbolic.shapes import ShapeError, infer_shape
from grader.engine.symbolic.syntax import BinOp, Neg, Node, Num, ParseError, substitute
from grader.engine.symbolic.variants import (
    ParameterValue,
    format_parameter,
    render_prompt,
)
from grader.engine.types import (
    Preview,
    SpecError,
    Variant,
    empty_preview,
    error_preview,
    gettext_noop,
    phrase,
    read_preview,
)


def preview_symbolic(
    spec: dict[str, Any], answer: str, config: EngineConfig | None = None, work: Work | None = None
) -> Preview:
    """Return how an answer is read, for the live preview: its LaTeX, or where it goes wrong.

    Reading the answer, checking its shape and printing it take at most work's limit of steps
    (MAX_WORK by default): past it the preview says the answer takes too much work to read.
    """
    work = work or Work()
    config = config or engine_config()
    try:
        problem = read_problem(spec, None, config)
    except SpecError as exc:
        return error_preview(
            phrase(gettext_noop("Exercise problem: %(problem)s"), problem=str(exc)), 0
        )
    if len(answer) > config.max_answer_chars:
        return error_preview(
            phrase(
                gettext_noop("Your answer is too long (at most %(limit)d characters)."),
                limit=config.max_answer_chars,
            ),
            0,
        )
    if problem.kind == "derivation":
        return preview_derivation(problem, answer, work)
    text = answer.strip()
    offset = len(answer) - len(answer.lstrip())
    if not text:
        return empty_preview()
    try:
        tree = parse_expression(text, problem.vocab, work=work)
    except ParseError as error:
        return error_preview(error.describe_words(text), error.position + offset)
    if problem.kind == "matrix":
        try:
            infer_shape(tree, problem)
        except ShapeError as error:
            return error_preview(error.words, error.position + offset, latex=to_latex(tree))
    return read_preview(to_latex(tree))


def variant_symbolic(spec: dict[str, Any], seed: int) -> Variant:
    """Return this seed's parameters, prompt, reference answer (text and LaTeX) and solution."""
    problem = read_problem(spec, seed)
    values = {name: _parameter_node(value) for name, value in problem.parameters.items()}
    if problem.kind == "derivation":
        start = substitute(problem.parse_author(spec.get("start"), "start"), values)
        target = substitute(problem.parse_author(spec.get("target"), "target"), values)
        reference = f"{to_text(start)}\n= {to_text(target)}"
        reference_latex = rf"{to_latex(start)} = {to_latex(target)}"
    else:
        tree = substitute(problem.parse_author(spec.get("answer"), "answer"), values)
        reference = to_text(tree)
        reference_latex = to_latex(tree)
    return Variant(
        parameters={name: _json_number(value) for name, value in problem.parameters.items()},
        prompt=render_prompt(str(spec.get("prompt", "")), problem.parameters),
        reference=reference,
        reference_latex=reference_latex,
        solution=render_prompt(str(spec.get("solution") or ""), problem.parameters),
    )


def _parameter_node(value: ParameterValue) -> Node:
    """Return a parameter as the tree the displayed reference shows: 2.5, or 1/3 as a division.

    A negative value is a negation node, so the printer puts it in parentheses where it must:
    with m = -2, `x - m^2` shows as `x - (-2)^2`, not `x - -2^2` (which reads as x + 4).
    """
    text = format_parameter(value)
    if text.startswith("-"):
        return Neg(_parameter_node_of(text[1:]), 0)
    return _parameter_node_of(text)


def _parameter_node_of(text: str) -> Node:
    if "/" in text:
        numerator, denominator = text.split("/")
        return BinOp("/", Num(numerator, 0), Num(denominator, 0), 0)
    return Num(text, 0)


def _json_number(value: ParameterValue) -> int | float:
    return value if isinstance(value, int) else float(value)
