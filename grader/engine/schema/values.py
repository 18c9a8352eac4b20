"""The forms a value of an exercise file may take, each checked with one plain message.

Expressions and numbers are kept as written (the grader reads them); a value of the wrong form
fails with words an author understands rather than one error per member of a union.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Annotated, Any

from pydantic import Discriminator, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError


def _accept(name: str, accepts: Callable[[Any], bool], wording: str) -> PlainValidator:
    """Return a validator that keeps a value as it is when accepts(value), else fails with wording.

    One check with one message: a union of types would report a failure for each member.
    """

    def check(value: Any) -> Any:
        if not accepts(value):
            raise PydanticCustomError(name, wording)
        return value

    return PlainValidator(check)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    """Say whether value reads as a number: YAML 1.1 reads `1e-6` (no dot) as text."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return False
    return _is_number(value) and math.isfinite(value)


def _is_fraction(text: str) -> bool:
    try:
        Fraction(text)
    except (ValueError, ZeroDivisionError):
        return False
    return True


def _is_size(value: Any) -> bool:
    """Say whether value names a matrix size: a name such as n, or a whole number from 1 to 8."""
    text = (
        str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    )
    return text.isidentifier() or (text.isdigit() and 1 <= int(text) <= 8)


Expression = Annotated[
    Any,
    _accept(
        "expression",
        lambda v: isinstance(v, str) or _is_number(v),
        "expected an expression such as 2*x (text or a number)",
    ),
    WithJsonSchema(
        {
            "type": ["string", "number"],
            "description": "An expression, e.g. sigma(x)*(1 - sigma(x)).",
        }
    ),
]
Number = Annotated[
    Any,
    _accept(
        "number",
        lambda v: _is_number(v) or (isinstance(v, str) and _is_fraction(v)),
        "expected a number such as 2, 0.5 or 1/3",
    ),
    WithJsonSchema(
        {
            "type": ["number", "string"],
            "description": "A number; an exact fraction may be written 1/3.",
        }
    ),
]
Real = Annotated[
    Any, _accept("real", _is_real, "expected a number"), WithJsonSchema({"type": "number"})
]
PositiveReal = Annotated[
    Any,
    _accept("positive", lambda v: _is_real(v) and float(v) > 0, "expected a number above 0"),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0}),
]
NonNegativeReal = Annotated[
    Any,
    _accept(
        "non_negative", lambda v: _is_real(v) and float(v) >= 0, "expected a number of 0 or more"
    ),
    WithJsonSchema({"type": "number", "minimum": 0}),
]
Size = Annotated[
    Any,
    _accept("size", _is_size, "a size is a name such as n or a number from 1 to 8"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": 8},
                {"type": "string", "pattern": r"^[A-Za-z_]\w*$"},
            ]
        }
    ),
]
SwitchedOff = Annotated[
    Any,
    _accept(
        "switched_off", lambda v: v is False, "give the check's settings, or false to switch it off"
    ),
    WithJsonSchema({"const": False}),
]
Text = Annotated[str, Field(strict=True)]
NonEmptyText = Annotated[str, Field(strict=True, min_length=1)]
Name = Annotated[str, Field(strict=True, pattern=r"^[A-Za-z_]\w*$")]
Whole = Annotated[int, Field(strict=True)]
Switch = Annotated[bool, Field(strict=True)]


def by_type(*tags: tuple[str, type | tuple[type, ...]]) -> Discriminator:
    """Choose a union's member by the value's Python type, so a mistake reads as one error."""

    def choose(value: Any) -> str | None:
        for tag, kind in tags:
            if isinstance(value, kind):
                return tag
        return None

    return Discriminator(
        choose,
        custom_error_type="wrong_form",
        custom_error_message=f"expected {' or '.join(tag for tag, _ in tags)}",
    )
