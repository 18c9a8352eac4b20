"""The grading engine: an exercise spec plus an answer and a seed in, a Verdict out.

Plain Python with no Django import, so the CLI, the Celery worker, the benchmarks and the tests
all call the same functions. A spec is the dict loaded from an exercise file (see
exercises/README.md); `kind` selects the grader.

Public interface (stable; others build on it):
    grade(spec, answer, *, seed[, config]) -> Verdict   judge one answer
    preview(spec, answer) -> Preview                     how a typed answer is read, for the preview
    variant(spec, seed) -> Variant                       this seed's parameters, prompt and reference
    validate_spec(spec) -> list[str]                     problems with a spec, in words, empty when fine

The types are in grader.engine.types, the limits in grader.engine.config (EngineConfig; without
an explicit config, the process's own, read once from the GRADER_* environment variables).
"""

from __future__ import annotations

from typing import Any

from grader.engine.config import EngineConfig
from grader.engine.symbolic.preview import preview_symbolic, variant_symbolic
from grader.engine.types import Message, Preview, Status, TestResult, Variant, Verdict

SYMBOLIC_KINDS = ("expression", "matrix", "derivation")
CODE_KINDS = ("code",)
KINDS = SYMBOLIC_KINDS + CODE_KINDS

__all__ = [
    "KINDS",
    "EngineConfig",
    "Message",
    "Preview",
    "Status",
    "TestResult",
    "Variant",
    "Verdict",
    "grade",
    "preview",
    "validate_spec",
    "variant",
]


def grade(
    spec: dict[str, Any], answer: str, *, seed: int, config: EngineConfig | None = None
) -> Verdict:
    """Judge one answer to the exercise described by spec, for the variant drawn from seed."""
    # The graders are imported when first used: they load NumPy, SymPy or the sandbox, which a
    # process that only reads verdicts, previews or variants (the web process) does not need.
    kind = spec.get("kind")
    if kind in CODE_KINDS:
        from grader.engine.code import grade_code

        return grade_code(spec, answer, seed=seed)
    if kind in SYMBOLIC_KINDS:
        from grader.engine.symbolic.dispatch import grade_symbolic

        return grade_symbolic(spec, answer, seed=seed, config=config)
    return Verdict(
        status=Status.ERROR,
        messages=[Message("unknown_kind", f"This exercise has an unknown kind {kind!r}.")],
    )


def preview(spec: dict[str, Any], answer: str) -> Preview:
    """Return how a typed answer is read (LaTeX, or an error with its position)."""
    return preview_symbolic(spec, answer)


def variant(spec: dict[str, Any], seed: int) -> Variant:
    """Return the parameters, rendered prompt and reference answer of one variant."""
    if spec.get("kind") in CODE_KINDS:
        from grader.engine.code import variant_code  # NumPy and the sandbox: see grade()

        return variant_code(spec, seed)
    return variant_symbolic(spec, seed)


def validate_spec(spec: dict[str, Any]) -> list[str]:
    """Return the problems with a spec's grading fields, each in words; empty when it is sound."""
    kind = spec.get("kind")
    if kind in CODE_KINDS:
        from grader.engine.code import validate_code_spec  # see grade()

        return validate_code_spec(spec)
    if kind in SYMBOLIC_KINDS:
        from grader.engine.symbolic.validation import validate_symbolic_spec  # see grade()

        return [problem.message for problem in validate_symbolic_spec(spec)]
    return [f"kind must be one of {', '.join(KINDS)}, not {kind!r}"]
