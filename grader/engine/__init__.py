"""The grading engine: an exercise spec plus an answer and a seed in, a Verdict out.

Plain Python with no Django import, so the CLI, the Celery worker, the benchmarks and the tests
all call the same functions. A spec is the dict loaded from an exercise file (see
exercises/README.md); `kind` selects the grader.

Public interface (stable; others build on it):
    grade(spec, answer, *, seed[, config]) -> Verdict   judge one answer
    run_visible_tests(spec, answer, *, seed) -> Verdict  a code answer on the visible tests only
    preview(spec, answer) -> Preview                     how a typed answer is read, for the preview
    variant(spec, seed) -> Variant                       this seed's parameters, prompt and reference
    validate_spec(spec) -> list[SpecProblem]             problems with a spec, each with its path

The types are in grader.engine.types, the limits in grader.engine.config (EngineConfig; without
an explicit config, the process's own, read once from the GRADER_* environment variables).
"""

from __future__ import annotations

from typing import Any

from grader.engine.config import EngineConfig
from grader.engine.types import (
    Message,
    Preview,
    SpecProblem,
    Status,
    TestResult,
    Variant,
    Verdict,
    gettext_noop,
    message,
)

SYMBOLIC_KINDS = ("expression", "matrix", "derivation")
CODE_KINDS = ("code",)
KINDS = SYMBOLIC_KINDS + CODE_KINDS

__all__ = [
    "KINDS",
    "EngineConfig",
    "Message",
    "Preview",
    "SpecProblem",
    "Status",
    "TestResult",
    "Variant",
    "Verdict",
    "grade",
    "preview",
    "run_visible_tests",
    "validate_spec",
    "variant",
]


def grade(
    spec: dict[str, Any], answer: str, *, seed: int, config: EngineConfig | None = None
) -> Verdict:
    """Judge one answer to the exercise described by spec, for the variant drawn from seed."""
    # The graders are imported when first used. Importing grader.engine (for its types: in the
    # web process, Django's settings and the code sandbox's jail) loads none of them; grading
    # loads NumPy, SymPy or the sandbox, and even the parser behind previews costs ~30 ms.
    kind = spec.get("kind")
    if kind in CODE_KINDS:
        from grader.engine.code import grade_code

        return grade_code(spec, answer, seed=seed, config=config)
    if kind in SYMBOLIC_KINDS:
        from grader.engine.symbolic.dispatch import grade_symbolic

        return grade_symbolic(spec, answer, seed=seed, config=config)
    return Verdict(
        status=Status.ERROR,
        messages=[
            message(
                "unknown_kind",
                gettext_noop("This exercise has an unknown kind %(kind)s."),
                kind=repr(kind),
            )
        ],
    )


def preview(spec: dict[str, Any], answer: str) -> Preview:
    """Return how a typed answer is read (LaTeX, or an error with its position)."""
    from grader.engine.symbolic.preview import preview_symbolic  # see grade()

    return preview_symbolic(spec, answer)


def variant(spec: dict[str, Any], seed: int) -> Variant:
    """Return the parameters, rendered prompt, reference answer and worked solution of one variant."""
    if spec.get("kind") in CODE_KINDS:
        from grader.engine.code import variant_code  # NumPy and the sandbox: see grade()

        return variant_code(spec, seed)
    from grader.engine.symbolic.preview import variant_symbolic  # see grade()

    return variant_symbolic(spec, seed)


def validate_spec(spec: dict[str, Any]) -> list[SpecProblem]:
    """Return the problems of an exercise spec, each with its field's path; empty when it is sound.

    The schema comes first (grader.engine.schema: every field of every kind, and the shape of its
    value); the kind's own checks (references that parse, code that runs) only run on a spec of
    the right shape, so they never see an unknown key or a list where a text belongs.
    """
    # Building the schema's models takes about 0.1 s; only authoring tools validate specs.
    from grader.engine.schema import schema_problems

    problems = schema_problems(spec)
    if problems:
        return problems
    if spec["kind"] in CODE_KINDS:
        from grader.engine.code import validate_code_spec  # see grade()

        return validate_code_spec(spec)
    from grader.engine.symbolic.validation import validate_symbolic_spec  # see grade()

    return validate_symbolic_spec(spec)


def run_visible_tests(
    spec: dict[str, Any], answer: str, *, seed: int, config: EngineConfig | None = None
) -> Verdict:
    """Run a code answer on the exercise's visible tests only: a practice run, never an attempt.

    The same sandbox and comparisons as grade(), without the hidden tests and the extra checks
    (stability, gradient, speed); the verdict is marked practice, so it never counts.
    """
    if spec.get("kind") not in CODE_KINDS:
        return Verdict(
            status=Status.INVALID,
            messages=[Message("not_code", "Only code exercises have tests to run.")],
        )
    visible = [test for test in spec.get("tests") or [] if not test.get("hidden")]
    if not visible:
        return Verdict(
            status=Status.INVALID,
            messages=[Message("no_visible_tests", "This exercise has no visible tests to run.")],
        )
    checks = {
        name: value
        for name, value in (spec.get("checks") or {}).items()
        if name not in PRACTICE_SKIPS
    }
    checks["caret_power"] = False  # on by default; the real check still runs it
    verdict = grade({**spec, "tests": visible, "checks": checks}, answer, seed=seed, config=config)
    verdict.practice = True
    return verdict


# The extra checks a practice run leaves to the real check (their own calls or their own runs).
PRACTICE_SKIPS = frozenset({"stability", "gradient", "speed", "caret_power"})
