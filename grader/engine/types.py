"""The engine's public types: what every grader returns and every caller reads.

One home for the verdict (Verdict, Status, Message, TestResult), the live preview (Preview),
one seed's variant (Variant), the author's error (SpecError) and a problem found in an exercise
file (SpecProblem). Plain Python: the web layer, the CLI, the worker and the tests import these.

The grader's words in every language. The engine imports no Django, yet what it says is shown in
the learner's language, so a message keeps how it was built as well as its English text:

    from grader.engine.types import gettext_noop, message, phrase

    message("shape_mismatch", gettext_noop("Your answer is %(got)s; expected %(want)s."),
            got="1×n", want="n×1")

`gettext_noop` only marks the template for extraction (makemessages and tests/test_i18n.py find
its literal argument, so it needs a zh-Hans entry in locale/); `message` returns a Message whose
`text` is the English (`template % params`) and which keeps `template` and `params`, and the web
layer (grader/rendering.py) renders `gettext(template) % params` in the active language. Templates
use only named placeholders (`%(name)s`, `%(n)d`, `%%` for a percent sign). A parameter that is
itself words (a reason, a "found …") is a `phrase(template, **params)`, rendered the same way;
an author's text inside the words (a milestone's step) is `authored_text(text, path)`; any other
parameter (math, a name the learner typed, a number) is shown as it is. A whole message an author
wrote (a mistake's feedback) is `authored(code, text, path)`. The path into the exercise file,
("mistakes", 2, "feedback"), says where the exercise's translation holds the author's words.
A code test's message is `test_result(name, passed, phrase(...))` (TestResult.words), and the code
grader's Problem takes phrases for its visible and hidden words. Plain English text is still
accepted everywhere (Message(code, text)); it is shown as it is, in every language, so new words
should come with a marked template and a zh-Hans entry (tests/test_i18n.py checks the templates).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, TypedDict, TypeGuard

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


class Phrase(TypedDict):
    """Words built from a template marked with gettext_noop and their parameters (see above)."""

    template: str
    params: dict[str, Any]


def gettext_noop(template: str) -> str:
    """Mark a message template for extraction (makemessages's keyword); return it unchanged."""
    return template


def phrase(template: str, /, **params: Any) -> Phrase:
    """Return words to render in the reader's language: a marked template and its parameters."""
    return Phrase(template=template, params=params)


class Authored(TypedDict):
    """A parameter that is an author's text: its English and where the exercise file has it."""

    text: str
    source: list[str | int]


def is_phrase(value: object) -> TypeGuard[Phrase]:
    """Say whether a parameter is itself words to translate (a Phrase, possibly from JSON)."""
    return isinstance(value, Mapping) and set(value) == {"template", "params"}


def is_authored(value: object) -> TypeGuard[Authored]:
    """Say whether a parameter is an author's text (an Authored, possibly from JSON)."""
    return isinstance(value, Mapping) and set(value) == {"text", "source"}


def authored_text(text: str, source: SpecPath) -> Authored:
    """Return an author's text as a parameter, so that its translation can stand in for it."""
    return Authored(text=text, source=list(source))


def render_phrase(
    words: Phrase,
    translate: Callable[[str], str] | None = None,
    author_text: Callable[[Authored], str] | None = None,
) -> str:
    """Return the words in English, or through `translate` (gettext) in another language.

    Nested phrases are rendered first, an author's text through `author_text` (its translation);
    a translation whose placeholders do not fit the parameters falls back to the English
    template rather than failing.
    """
    values = {
        name: _render_value(value, translate, author_text)
        for name, value in words["params"].items()
    }
    template = words["template"]
    if translate is not None:
        try:
            return str(translate(template)) % values
        except (KeyError, ValueError, TypeError):
            pass
    return template % values


def _render_value(
    value: Any,
    translate: Callable[[str], str] | None,
    author_text: Callable[[Authored], str] | None,
) -> Any:
    if is_phrase(value):
        return render_phrase(value, translate, author_text)
    if is_authored(value):
        return author_text(value) if author_text is not None else value["text"]
    return value


@dataclass
class Message:
    """One thing the grader says: a stable code, the English text, and how to say it again.

    `template`/`params` rebuild the text in another language (grader/rendering.py); `source` is
    the path of an author's text in the exercise file (("mistakes", 2, "feedback")), whose
    translation the exercise's translation holds. A message from an older verdict may have
    neither: it is shown as its text.
    """

    code: str
    text: str
    template: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    source: list[str | int] | None = None


def message(code: str, template: str, /, **params: Any) -> Message:
    """Build a Message from a gettext_noop-marked template and its parameters (module docstring)."""
    return phrase_message(code, phrase(template, **params))


def phrase_message(code: str, words: Phrase) -> Message:
    """Build a Message from a Phrase."""
    return Message(
        code, render_phrase(words), template=words["template"], params=dict(words["params"])
    )


def authored(code: str, text: str, source: SpecPath) -> Message:
    """Build a Message of an author's text, found at `source` in the exercise file."""
    return Message(code, text, source=list(source))


@dataclass
class TestResult:
    name: str
    passed: bool
    message: str = ""  # English
    hidden: bool = False
    score: float = 0.0
    words: Phrase | None = None  # the message again, to render in the reader's language
    # A failing visible test's inputs, expected and returned values as short texts
    # (grader.engine.code.shown), and its exception's traceback (the student's own lines).
    shown: dict[str, Any] | None = None
    traceback: str = ""


def test_result(name: str, passed: bool, words: Phrase, *, hidden: bool = False) -> TestResult:
    """Build a TestResult whose message is said in words (a Phrase): English now, any language later."""
    return TestResult(
        name=name, passed=passed, message=render_phrase(words), hidden=hidden, words=words
    )


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
    # A run of the visible tests only (grader.engine.run_visible_tests): never an attempt.
    practice: bool = False

    @property
    def counts_as_attempt(self) -> bool:
        """Say whether this verdict uses one of the student's attempts."""
        if self.practice:
            return False
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
            messages=[_message_from_dict(m) for m in data.get("messages", [])],
            diagnosis=data.get("diagnosis"),
            parsed=data.get("parsed"),
            counterexample=data.get("counterexample"),
            elapsed_ms=float(data.get("elapsed_ms", 0.0)),
            tests=[TestResult(**t) for t in tests] if tests is not None else None,
            flags=list(data.get("flags", [])),
            practice=bool(data.get("practice", False)),
        )


def _message_from_dict(data: dict[str, Any]) -> Message:
    return Message(
        code=data["code"],
        text=data["text"],
        template=data.get("template") or "",
        params=dict(data.get("params") or {}),
        source=list(data["source"]) if data.get("source") is not None else None,
    )


class PreviewError(TypedDict):
    text: str  # English
    position: int | None  # 0-based offset into the typed answer; None when it is the whole answer
    words: Phrase | None  # the text again, to render in the reader's language; None for plain text


class Preview(TypedDict):
    """How a typed answer is read, for the live preview (the template and JSON read these keys)."""

    ok: bool
    latex: str | None
    error: PreviewError | None


def read_preview(latex: str) -> Preview:
    """Return the preview of an answer that reads as `latex`."""
    return Preview(ok=True, latex=latex, error=None)


def error_preview(text: str | Phrase, position: int | None, *, latex: str | None = None) -> Preview:
    """Return the preview of an answer that cannot be used, pointing at the position."""
    words = text if is_phrase(text) else None
    error = PreviewError(
        text=render_phrase(words) if words is not None else str(text),
        position=position,
        words=words,
    )
    return Preview(ok=False, latex=latex, error=error)


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
