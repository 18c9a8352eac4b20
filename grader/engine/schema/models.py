"""The exercise file as pydantic models: the fields of each kind and the form of each value.

Every model forbids keys it does not declare, so a typo (`hiden: true`, `feedbak:`) is an error
rather than a field the grader silently ignores; `kind` chooses the model.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, model_validator
from pydantic_core import PydanticCustomError

from grader.engine.schema.values import (
    Expression,
    Name,
    NonEmptyText,
    NonNegativeReal,
    Number,
    PositiveReal,
    Real,
    Size,
    Switch,
    SwitchedOff,
    Text,
    Whole,
    by_type,
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
        default_factory=list,
        description="At least two; a student asks for them one at a time; none gives the answer.",
    )
    hint_after: Annotated[Whole, Field(ge=0)] = Field(
        0, description="A lock: wrong attempts before a student may ask for the first hint."
    )
    solution: Text | None = Field(
        None,
        description="A worked solution (Markdown + LaTeX, {{a}} placeholders allowed), shown "
        "once the student solves the exercise or gives up; check_course requires it.",
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
    by_type(
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
        "available), e.g. [tanh] when the task is to write tanh with exp, and form rules the "
        "answer must not break: 'transpose of a product', 'inverse of a product', 'power of a sum'.",
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


class Milestone(_Fields):
    form: Expression = Field(
        description="The form a line must be written in, e.g. right after the chain rule."
    )
    step: NonEmptyText = Field(
        description="The step, as the student is told when it is missing: "
        "'you apply the chain rule to the outer power'."
    )


class DerivationExercise(_Symbolic):
    kind: Literal["derivation"]
    start: Expression = Field(description="What line 1 must equal, e.g. diff(f(x), x).")
    target: Expression = Field(description="What the last line must equal.")
    min_lines: Annotated[Whole, Field(ge=1)] | None = None
    final_must_use: list[Text] | None = Field(None, description="Names the last line must use.")
    milestones: list[Milestone] | None = Field(
        None,
        description="Intermediate forms some line must reach (compared by structure, not value).",
    )


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
    by_type(("settings", dict), ("false", bool)),
]
GradientSettings = Annotated[
    Annotated[GradientCheck, Tag("settings")] | Annotated[SwitchedOff, Tag("false")],
    by_type(("settings", dict), ("false", bool)),
]
SpeedSettings = Annotated[
    Annotated[SpeedCheck, Tag("settings")] | Annotated[SwitchedOff, Tag("false")],
    by_type(("settings", dict), ("false", bool)),
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
    by_type(("the code", str), ("{code: ...}", dict)),
]


class Subgradient(_Fields):
    reference: NonEmptyText = Field(
        description="Trusted source defining the function with the other one-sided derivative "
        "at the kinks (ReLU: grad_out * (x >= 0)); any value between the two is accepted."
    )
    note: NonEmptyText = Field(
        description="Shown when an answer takes another valid value at a kink than the reference."
    )


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
    subgradient: Subgradient | None = Field(
        None, description="Where the function has a kink: the other valid rule, and a note."
    )


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
