"""Per-student variants: parameters drawn from a seed, and the prompt with them filled in."""

from __future__ import annotations

import random
import re
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

from grader.engine.types import SpecError

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
ParameterValue = int | Fraction


def draw_parameters(spec: dict[str, Any], seed: int) -> dict[str, ParameterValue]:
    """Draw this seed's value of every parameter, in the order the spec lists them."""
    declared = spec.get("parameters") or {}
    if not isinstance(declared, dict):
        raise SpecError(
            "parameters must be a mapping of name to {integer|choice|uniform: …}", ("parameters",)
        )
    rng = random.Random(f"chainrule-parameters:{seed}")
    return {name: _draw(name, rule, rng) for name, rule in declared.items()}


def _draw(name: str, rule: Any, rng: random.Random) -> ParameterValue:
    if not isinstance(rule, dict):
        raise SpecError(
            f"parameter {name}: expected a mapping such as {{integer: [2, 6]}}",
            ("parameters", name),
        )
    kinds = [k for k in ("integer", "choice", "uniform") if k in rule]
    unknown = set(rule) - {"integer", "choice", "uniform", "digits"}
    if len(kinds) != 1 or unknown:
        raise SpecError(
            f"parameter {name}: give exactly one of integer, choice, uniform (and digits)",
            ("parameters", name),
        )
    kind = kinds[0]
    values = rule[kind]
    if kind == "choice":
        if not isinstance(values, list) or not values:
            raise SpecError(
                f"parameter {name}: choice needs a non-empty list", ("parameters", name)
            )
        return _exact(rng.choice(values), name)
    if not isinstance(values, list) or len(values) != 2:
        raise SpecError(f"parameter {name}: {kind} needs [low, high]", ("parameters", name))
    low, high = (_exact(v, name) for v in values)
    if low > high:
        raise SpecError(f"parameter {name}: low {low} is above high {high}", ("parameters", name))
    if kind == "integer":
        if low.denominator != 1 or high.denominator != 1:
            raise SpecError(
                f"parameter {name}: integer bounds must be whole numbers", ("parameters", name)
            )
        return rng.randint(int(low), int(high))
    digits = rule.get("digits", 2)
    if not isinstance(digits, int) or not 0 <= digits <= 6:
        raise SpecError(
            f"parameter {name}: digits must be a whole number from 0 to 6", ("parameters", name)
        )
    value = round(rng.uniform(float(low), float(high)), digits)
    return _exact(value, name)


def _exact(value: Any, name: str) -> ParameterValue:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SpecError(f"parameter {name}: {value!r} is not a number", ("parameters", name))
    try:
        exact = Fraction(str(value))
    except ValueError as exc:
        raise SpecError(
            f"parameter {name}: {value!r} is not a number", ("parameters", name)
        ) from exc
    return int(exact) if exact.denominator == 1 else exact


def format_parameter(value: ParameterValue) -> str:
    """Return a parameter exactly as the student reads it in the prompt (1.5, not 3/2).

    Exactly: the grader uses the exact value, so a prompt showing 344.499 for 344.4989 would
    mark the number the student was given wrong. A value with no finite decimal reads as 1/3.
    """
    if isinstance(value, int):
        return str(value)
    denominator = value.denominator
    for factor in (2, 5):
        while denominator % factor == 0:
            denominator //= factor
    if denominator != 1:
        return f"{value.numerator}/{value.denominator}"
    with localcontext() as context:
        context.prec = 60  # more than any finite decimal a spec can write
        text = format(Decimal(value.numerator) / Decimal(value.denominator), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def render_prompt(prompt: str, values: dict[str, ParameterValue]) -> str:
    """Fill the {{name}} placeholders of a prompt with this variant's parameter values."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        return format_parameter(values[name])

    return PLACEHOLDER.sub(fill, prompt)


def placeholders(prompt: str) -> set[str]:
    """Return the names used as {{name}} in a prompt."""
    return set(PLACEHOLDER.findall(prompt))
