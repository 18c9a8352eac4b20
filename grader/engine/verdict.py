"""The result of grading one answer: what every grader returns and every caller reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


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
