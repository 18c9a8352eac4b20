"""The exercise file as a schema: which fields each kind takes, and what shape each value has.

`schema_problems(spec)` checks a spec (the mapping loaded from an exercise file) against it and
returns each problem as a SpecProblem with the path of the field it concerns, such as
("mistakes", 2, "feedback"), so the course loader can name the file's line. Whether the values
make sense (a reference that parses, a reference function that runs) is the semantic validators'
job, which run only on a spec that fits the schema.

The same models publish exercises/schema.json (`python -m grader.engine.schema --write`) for an
author's editor. Every model forbids keys it does not declare; the kinds are told apart by `kind`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import types
import typing
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from grader.engine.types import SpecProblem

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "exercises" / "schema.json"


# --- value types -----------------------------------------------------------------------------------


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


def _by_type(*tags: tuple[str, type | tuple[type, ...]]) -> Discriminator:
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


class _Fields(BaseModel):
    """A mapping of fields that refuses any key it does not declare."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- fields every kind shares ---------------------------------------------------------------------


class _Exercise(_Fields):
    # The catalogue reads the id (course.content names a malformed one); editors check the format.
    id: Text = Field(
        description="The exercise's permanent id (a UUID): never change or reuse it.",
        json_schema_extra={"format": "uuid"},
    )
    title: Text = Field(description="The title students see.")
    prompt: Text = Field(
        description="Markdown + LaTeX shown to the student; {{a}} inserts parameter a."
    )
    order: Whole = Field(1000, description="Position in the lesson.")
    published: Switch = Field(
        True, description="false keeps it out of the course; instructors can still preview it."
    )
    hints: list[NonEmptyText] = Field(
        default_factory=list, description="At least two; they unlock one at a time."
    )
    hint_after: Annotated[Whole, Field(ge=0)] = Field(
        1, description="Wrong attempts before the first hint unlocks."
    )
    solution: Text | None = Field(
        None, description="A worked solution (Markdown + LaTeX, {{a}} placeholders allowed)."
    )
    slug: Text | None = Field(None, description="If given, the file name's slug.")


# --- expression, matrix and derivation exercises -------------------------------------------------


class Parameter(_Fields):
    """One parameter drawn per student: exactly one of integer, choice and uniform."""

    integer: tuple[Number, Number] | None = Field(None, description="[low, high], inclusive.")
    choice: Annotated[list[Number], Field(min_length=1)] | None = None
    uniform: tuple[Number, Number] | None = Field(None, description="[low, high].")
    digits: Annotated[Whole, Field(ge=0, le=6)] = Field(2, description="Decimals kept (uniform).")

    @model_validator(mode="after")
    def _one_way(self) -> Parameter:
        given = [self.integer, self.choice, self.uniform]
        if sum(value is not None for value in given) != 1:
            raise PydanticCustomError("one_draw", "give exactly one of integer, choice and uniform")
        return self


class ScalarVariable(_Fields):
    domain: Literal["real", "positive", "nonnegative", "negative", "integer"] = "real"
    sample: tuple[Real, Real] | None = Field(None, description="[low, high]: where points lie.")


class MatrixVariable(_Fields):
    shape: tuple[Size, Size] = Field(description="[rows, cols]: size names or numbers 1-8.")
    properties: list[Literal["symmetric", "positive_definite"]] = Field(default_factory=list)


Variable = Annotated[
    Annotated[MatrixVariable, Tag("a matrix {shape}")]
    | Annotated[ScalarVariable, Tag("a scalar {domain, sample}")],
    Discriminator(
        lambda v: (
            "a matrix {shape}"
            if isinstance(v, dict) and "shape" in v
            else "a scalar {domain, sample}"
        )
    ),
]
Helpers = Annotated[
    Annotated[dict[str, Expression], Tag("a mapping such as {sigma(x): 1/(1+exp(-x))}")]
    | Annotated[
        list[Annotated[str, Field(strict=True, pattern=":=")]],
        Tag("a list such as [sigma(x) := 1/(1+exp(-x))]"),
    ],
    _by_type(
        ("a mapping such as {sigma(x): 1/(1+exp(-x))}", dict),
        ("a list such as [sigma(x) := 1/(1+exp(-x))]", list),
    ),
]


class Tolerance(_Fields):
    rtol: NonNegativeReal | None = None
    atol: NonNegativeReal | None = None


class Limits(_Fields):
    """Raised parser limits for this exercise's answers (grader.engine.parse.Limits)."""

    max_length: PositiveReal | None = None
    max_nodes: PositiveReal | None = None
    max_depth: PositiveReal | None = None
    max_literal_digits: PositiveReal | None = None
    max_exponent: PositiveReal | None = None
    max_expanded_nodes: PositiveReal | None = None
    max_factorial_argument: PositiveReal | None = None
    max_diff_nesting: PositiveReal | None = None
    max_growth_nesting: PositiveReal | None = None
    max_exp_argument: PositiveReal | None = None


class SymbolicMistake(_Fields):
    answer: Expression = Field(description="A known wrong answer, matched numerically.")
    feedback: NonEmptyText = Field(description="Shown instead of the generic diagnosis.")


class _Symbolic(_Exercise):
    parameters: dict[str, Parameter] | None = Field(
        None, description="Drawn per student from the seed."
    )
    variables: dict[str, Variable | None] | None = None
    forbid: list[Text] | None = Field(
        None,
        description="Functions students may not use here (every other known function is "
        "available), e.g. [tanh] when the task is to write tanh with exp.",
    )
    helpers: Helpers | None = Field(
        None, description="name(arguments): body, usable by students and authors."
    )
    also_correct: list[Expression] | None = Field(
        None, description="Other correct answers: check_course requires each accepted."
    )
    mistakes: list[SymbolicMistake] | None = Field(
        None, description="Known wrong answers with feedback, at least two."
    )
    tolerance: Tolerance | None = None
    samples: PositiveReal | None = Field(None, description="Sample points per check.")
    audit_seconds: PositiveReal | None = Field(
        None, description="Time limit of the symbolic audit."
    )
    limits: Limits | None = None


class _ReferenceCheck(_Fields):
    derivative_of: Expression | None = Field(
        None, description="The function the reference is the derivative of (check_course)."
    )
    derivative_order: Literal[1, 2] | None = None


class ExpressionExercise(_Symbolic, _ReferenceCheck):
    kind: Literal["expression"]
    answer: Expression = Field(description="The reference answer.")
    wrt: Text | None = Field(None, description="The variable derivative_of is taken in.")


class MatrixExercise(_Symbolic, _ReferenceCheck):
    kind: Literal["matrix"]
    answer: Expression = Field(description="The reference answer.")
    wrt: Text | None = Field(None, description="The matrix variable the gradient is taken in.")
    increasing_sizes: list[Text] | None = Field(
        None, description="Size names drawn in increasing order."
    )


class DerivationExercise(_Symbolic):
    kind: Literal["derivation"]
    start: Expression = Field(description="What line 1 must equal, e.g. diff(f(x), x).")
    target: Expression = Field(description="What the last line must equal.")
    min_lines: Annotated[Whole, Field(ge=1)] | None = None
    final_must_use: list[Text] | None = Field(None, description="Names the last line must use.")


# --- code exercises --------------------------------------------------------------------------------


class CodeTest(_Fields):
    case: Text = Field(description="The case make_inputs(rng, case) builds.")
    name: Text | None = Field(None, description="Shown to the student.")
    hidden: Switch = False
    weight: PositiveReal = 1


class _CasesCheck(_Fields):
    case: Text | None = None
    cases: list[Text] | None = None

    @model_validator(mode="after")
    def _has_a_case(self) -> _CasesCheck:
        if not (self.case or self.cases):
            raise PydanticCustomError("no_case", "give case or cases")
        return self


class StabilityCheck(_CasesCheck):
    name: Text | None = None
    describe: Text | None = Field(None, description="How the inputs are extreme, in words.")
    feedback: Text | None = Field(None, description="Advice appended on failure.")
    weight: PositiveReal | None = None


class SpeedCheck(_CasesCheck):
    name: Text | None = None
    max_slowdown: PositiveReal | None = None
    margin_ms: NonNegativeReal | None = None
    timeout: PositiveReal | None = None


class GradientCheck(_Fields):
    forward: NonEmptyText = Field(description="Source defining forward(...).")
    wrt: Annotated[list[Text], Field(min_length=1)]
    upstream: Text | None = None
    case: Text | None = None
    eps: PositiveReal | None = None
    rtol: NonNegativeReal | None = None
    atol: NonNegativeReal | None = None


# A check is given as its settings, or switched off with false.
StabilitySettings = Annotated[
    Annotated[StabilityCheck, Tag("settings")] | Annotated[SwitchedOff, Tag("false")],
    _by_type(("settings", dict), ("false", bool)),
]
GradientSettings = Annotated[
    Annotated[GradientCheck, Tag("settings")] | Annotated[SwitchedOff, Tag("false")],
    _by_type(("settings", dict), ("false", bool)),
]
SpeedSettings = Annotated[
    Annotated[SpeedCheck, Tag("settings")] | Annotated[SwitchedOff, Tag("false")],
    _by_type(("settings", dict), ("false", bool)),
]


class Checks(_Fields):
    shape: Switch = True
    dtype: Switch = True
    no_mutation: Switch = True
    caret_power: Switch = True
    stability: StabilitySettings | None = None
    gradient: GradientSettings | None = None
    speed: SpeedSettings | None = None


class CodeMistake(_Fields):
    code: NonEmptyText = Field(description="A complete wrong submission.")
    feedback: NonEmptyText
    diagnosis: Text | None = Field(
        None, description="Match a verdict with a failing test of this code (e.g. too_slow)."
    )


class CodeSolution(_Fields):
    code: NonEmptyText


CodeAnswer = Annotated[
    Annotated[Text, Tag("the code")] | Annotated[CodeSolution, Tag("{code: ...}")],
    _by_type(("the code", str), ("{code: ...}", dict)),
]


class CodeExercise(_Exercise):
    kind: Literal["code"]
    function: Name = Field(description="The name the student must define.")
    signature: NonEmptyText = Field(description="e.g. relu_backward(x, grad_out) -> ndarray")
    starter: NonEmptyText = Field(description="Shown in the editor.")
    reference: NonEmptyText = Field(description="Trusted source defining the function.")
    inputs: NonEmptyText = Field(description="Trusted source defining make_inputs(rng, case).")
    tests: Annotated[list[CodeTest], Field(min_length=1)]
    checks: Checks | None = None
    tolerance: Tolerance | None = None
    outputs: list[Text] | None = Field(None, description="Names of the returned tuple's parts.")
    timeout: PositiveReal | None = Field(None, description="Seconds for the whole run.")
    max_answer_bytes: Annotated[Whole, Field(gt=0)] | None = None
    also_correct: list[CodeAnswer] | None = None
    mistakes: list[CodeMistake] | None = None


# --- the exercise file ----------------------------------------------------------------------------

KIND_MODELS: dict[str, type[_Exercise]] = {
    "expression": ExpressionExercise,
    "matrix": MatrixExercise,
    "derivation": DerivationExercise,
    "code": CodeExercise,
}
ExerciseFile = Annotated[
    ExpressionExercise | MatrixExercise | DerivationExercise | CodeExercise,
    Field(discriminator="kind"),
]
EXERCISE = TypeAdapter(ExerciseFile)


def schema_problems(spec: Any) -> list[SpecProblem]:
    """Return how spec breaks the schema, each problem with the path of its field."""
    if not isinstance(spec, dict):
        return [SpecProblem((), "expected a mapping of fields")]
    try:
        EXERCISE.validate_python(spec)
    except ValidationError as error:
        problems = [_problem(spec, detail) for detail in error.errors(include_url=False)]
        return list(dict.fromkeys(problems))
    return []


# Pydantic's wording where an author's words are plainer.
WORDING = {
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "string_type": "expected text",
    "list_type": "expected a list, one item per line starting with '- '",
    "dict_type": "expected a mapping of names to values",
    "model_type": "expected a mapping of fields",
    "model_attributes_type": "expected a mapping of fields",
    "tuple_type": "expected a list such as [low, high]",
}


def _problem(spec: dict[str, Any], detail: Any) -> SpecProblem:
    kind, loc = detail["type"], tuple(detail["loc"])
    if kind == "union_tag_not_found":
        return SpecProblem(("kind",), "missing required field 'kind'")
    if kind == "union_tag_invalid":
        return SpecProblem(
            ("kind",),
            f"kind must be one of {', '.join(KIND_MODELS)}, not {detail['input'].get('kind')!r}",
        )
    names_a_key = kind in ("missing", "extra_forbidden")
    path = _data_path(spec, loc[1:], names_a_key)  # loc[0] is the kind that chose the model
    where = _dotted(path[:-1] if names_a_key else path)
    if kind == "missing":
        text = f"missing required field '{path[-1]}'"
    elif kind == "extra_forbidden":
        allowed = _allowed_keys(spec, path[:-1])
        text = f"unknown field '{path[-1]}'" + (
            f" (allowed here: {', '.join(allowed)})" if allowed else ""
        )
    elif kind == "too_short":
        text = f"give at least {detail['ctx']['min_length']}"
    else:
        text = WORDING.get(kind) or _lower_first(detail["msg"])
    return SpecProblem(path, f"{where}: {text}" if where else text)


def _data_path(
    spec: dict[str, Any], loc: Sequence[Any], names_a_key: bool
) -> tuple[str | int, ...]:
    """Return the places of loc that exist in the file, plus a final missing key if it names one.

    Pydantic's loc also names the member a union chose (its tag): that is no place in the file.
    """
    path: list[str | int] = []
    node: Any = spec
    for index, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif names_a_key and index == len(loc) - 1 and isinstance(node, dict):
            pass  # a missing field
        else:
            continue
        path.append(part)
    return tuple(path)


def _dotted(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _allowed_keys(spec: dict[str, Any], path: Sequence[str | int]) -> list[str]:
    """Return the keys the mapping at path may hold, from the model that describes it."""
    model = KIND_MODELS.get(str(spec.get("kind")))
    if model is None:
        return []
    candidates: list[type[BaseModel]] = [model]
    node: Any = spec
    for part in path:
        node = node[part]
        if isinstance(part, str):
            fields = [c.model_fields[part] for c in candidates if part in c.model_fields]
            if fields:
                candidates = [m for f in fields for m in _models_in(f.annotation)]
        # else: an item of a list or a name in a mapping of names: the same models describe it
    if not candidates or not isinstance(node, dict):
        return []
    best = max(candidates, key=lambda c: len(set(c.model_fields) & set(map(str, node))))
    return sorted(best.model_fields)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """Return the models a field's type holds, through unions, lists and mappings."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _models_in(typing.get_args(annotation)[0])
    args = typing.get_args(annotation)
    if origin in (Union, types.UnionType, list, dict, tuple):
        return [m for arg in args for m in _models_in(arg)]
    return []


# --- the published JSON Schema --------------------------------------------------------------------


def json_schema() -> dict[str, Any]:
    """Return the JSON Schema of an exercise file, as published in exercises/schema.json.

    The kinds are chosen with if/then on `kind` rather than pydantic's oneOf: an editor then
    reports a mistake inside the kind's fields instead of "matches none of four schemas".
    """
    generated = EXERCISE.json_schema()
    mapping: dict[str, str] = generated["discriminator"]["mapping"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Chainrule exercise file",
        "description": (
            "One exercise of the course (exercises/<module>/<NN-lesson>/<slug>.yaml); "
            "see exercises/README.md. Generated by `make schema`: do not edit."
        ),
        "type": "object",
        "required": ["kind"],
        "properties": {"kind": {"enum": list(KIND_MODELS), "description": "How it is graded."}},
        "allOf": [
            {
                "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                "then": {"$ref": mapping[kind]},
            }
            for kind in KIND_MODELS
        ],
        "$defs": generated["$defs"],
    }


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print or write exercises/schema.json.")
    parser.add_argument(
        "--write", action="store_true", help=f"write {SCHEMA_PATH.name} instead of printing it"
    )
    args = parser.parse_args(argv)
    if args.write:
        SCHEMA_PATH.write_text(json_schema_text(), encoding="utf-8")
    else:
        sys.stdout.write(json_schema_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
