"""The engine's public types: what every grader returns and every caller reads.

One home for the verdict (Verdict, Status, Message, TestResult), the live preview (Preview),
one seed's variant (Variant), the author's error (SpecError) and a problem found in an exercise
file (SpecProblem). Plain Python: the web layer, the CLI, the worker and the tests import these.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, TypedDict

# The fields every exercise file may have, whatever its kind (each grader adds its own).
COMMON_KEYS = frozenset(
    {
        "id",
        "title",
        "kind",
        "prompt",
        "hints",
        "hint_after",
        "solution",
        "published",
        "order",
        "slug",
    }
)
# The diagnosis codes of a wrong answer (Verdict.diagnosis): stable, instructors' dashboards group
# by them (grader.engine.symbolic.diagnosis says how each is found).
SIGN_ERROR = "sign_error"
CONSTANT_FACTOR = "constant_factor"
CONSTANT_OFFSET = "constant_offset"
MISSING_FACTOR = "missing_factor"
TRANSPOSE = "transpose"
ASSUMED_SYMMETRY = "assumed_symmetry"
KNOWN_MISTAKE = "known_mistake"
DECIMAL_APPROXIMATION = "decimal_approximation"
# The message code of a readable answer whose shape differs from the reference's (status invalid).
WRONG_SHAPE = "wrong_shape"
# A place in an exercise file: keys and list indexes from the top, e.g. ("mistakes", 2, "answer").
SpecPath = tuple[str | int, ...]


class Status(StrEnum):
    CORRECT = "correct"
    INCORRECT = "incorrect"
    INVALID = "invalid"  # could not be read (syntax, unknown name, shape mismatch): not an attempt
    # The grader could not decide: flagged for the author, not an attempt.
    UNDETERMINED = "undetermined"
    TIMEOUT = "timeout"
    ERROR = "error"  # the grader itself failed: not counted against the student


@dataclass
class Message:
    code: str
    text: str


@dataclass
class TestResult:
    name: str
    passed: bool
    message: str = ""
    hidden: bool = False
    score: float = 0.0


@dataclass
class Verdict:
    status: Status
    score: float = 0.0
    messages: list[Message] = field(default_factory=list)
    diagnosis: str | None = None
    parsed: str | None = None  # LaTeX of how the answer was read
    counterexample: dict[str, Any] | None = None
    elapsed_ms: float = 0.0
    tests: list[TestResult] | None = None
    # Facts for the exercise's author, never shown to students: "audit_disagreement", "undetermined", ...
    flags: list[str] = field(default_factory=list)

    @property
    def counts_as_attempt(self) -> bool:
        """Say whether this verdict uses one of the student's attempts."""
        return self.status in (Status.CORRECT, Status.INCORRECT, Status.TIMEOUT)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = str(self.status)
        if self.tests is None:
            del data["tests"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        tests = data.get("tests")
        return cls(
            status=Status(data["status"]),
            score=float(data.get("score", 0.0)),
            messages=[Message(**m) for m in data.get("messages", [])],
            diagnosis=data.get("diagnosis"),
            parsed=data.get("parsed"),
            counterexample=data.get("counterexample"),
            elapsed_ms=float(data.get("elapsed_ms", 0.0)),
            tests=[TestResult(**t) for t in tests] if tests is not None else None,
            flags=list(data.get("flags", [])),
        )


class PreviewError(TypedDict):
    text: str
    position: int | None  # 0-based offset into the typed answer; None when it is the whole answer


class Preview(TypedDict):
    """How a typed answer is read, for the live preview (the template and JSON read these keys)."""

    ok: bool
    latex: str | None
    error: PreviewError | None


def read_preview(latex: str) -> Preview:
    """Return the preview of an answer that reads as `latex`."""
    return Preview(ok=True, latex=latex, error=None)


def error_preview(text: str, position: int | None, *, latex: str | None = None) -> Preview:
    """Return the preview of an answer that cannot be used, pointing at the position."""
    return Preview(ok=False, latex=latex, error=PreviewError(text=text, position=position))


def empty_preview(*, ok: bool = False) -> Preview:
    """Return the preview of nothing typed yet."""
    return Preview(ok=ok, latex=None, error=None)


class Variant(TypedDict):
    """One seed's variant of an exercise: its parameters, prompt, reference and worked solution."""

    parameters: dict[str, int | float]
    prompt: str
    reference: str
    reference_latex: str | None
    solution: str  # Markdown + LaTeX with this variant's parameters filled in; "" when none


class SpecError(ValueError):
    """The exercise file itself is wrong (the author's problem, never the student's).

    `path` says where in the file, when known: ("mistakes", 2, "answer").
    """

    def __init__(self, message: str, path: SpecPath = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def problem(self) -> SpecProblem:
        """Return this error as a SpecProblem."""
        return SpecProblem(self.path, self.message)


@dataclass(frozen=True)
class SpecProblem:
    """One problem with an exercise file: where (a path of keys and indexes) and what, in words.

    str() is the message alone; `where` spells the path as `mistakes[2].answer`.
    """

    path: SpecPath
    message: str

    def __str__(self) -> str:
        return self.message

    @property
    def where(self) -> str:
        """Return the path as written in messages: `mistakes[2].answer`, or "" for the file."""
        text = ""
        for part in self.path:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
        return text
