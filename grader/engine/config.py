"""Every limit and setting of the grading engine, in one frozen EngineConfig.

The values come from the environment, under one prefix (GRADER_), read when
`EngineConfig.from_env()` is called and never at import. Every process that grades (the Celery
worker, the web process's instructor bench, the `grade` and `check_course` commands, the
benchmarks and the tests) gets its configuration from `engine_config()`, which reads the
environment once per process; Django's settings hold the same object as `GRADER_ENGINE`.
A caller that needs other limits (a test of the deadline) passes `dataclasses.replace(...)` of it
to the engine explicitly. Every variable is documented in .env.example.

The limits of the expression language itself (answer length, nesting, literal size) belong to
each exercise (its `limits:` field; grader.engine.symbolic.limits), not to the deployment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any

ENV_PREFIX = "GRADER_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """An environment variable holds a value of the wrong type."""


def _setting(default: Any, env: str, doc: str) -> Any:
    return field(default=default, metadata={"env": ENV_PREFIX + env, "doc": doc})


@dataclass(frozen=True)
class EngineConfig:
    """The engine's limits and policy (each field's environment variable is in its metadata)."""

    symbolic_timeout_s: float = _setting(
        5.0, "SYMBOLIC_TIMEOUT", "hard deadline (seconds) of one symbolic check"
    )
    memory_mb: int = _setting(
        1024, "MEMORY_MB", "memory (MiB) the child running one check may add to its parent"
    )
    child_checks: int = _setting(
        200,
        "CHILD_CHECKS",
        "symbolic checks one forked child runs before a fresh child replaces it",
    )
    child_memory_mb: int = _setting(
        128,
        "CHILD_MEMORY_MB",
        "memory (MiB) a forked child's resident set may grow by over its checks before it is replaced",
    )
    max_answer_chars: int = _setting(
        20_000, "MAX_ANSWER_CHARS", "answers longer than this (characters) are refused"
    )
    samples: int = _setting(
        20, "SAMPLES", "sample points per scalar check, for exercises that set no samples:"
    )
    audit_seconds: float = _setting(
        0.2,
        "AUDIT_SECONDS",
        "seconds the symbolic audit may spend, for exercises that set no audit_seconds:",
    )
    code_timeout_s: float = _setting(
        10.0, "CODE_TIMEOUT", "hard deadline (seconds) of one code submission"
    )
    allow_reduced_sandbox: bool = _setting(
        False,
        "ALLOW_REDUCED_SANDBOX",
        "grade code on a machine missing a sandbox layer (development only; verdicts warn)",
    )
    sandbox_uid: int = _setting(
        65534, "SANDBOX_UID", "the uid a code submission runs as when the worker is root"
    )
    code_file_mb: int = _setting(
        16, "CODE_FILE_MB", "size (MiB) of the files and printed output a code submission may write"
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EngineConfig:
        """Read every field from its GRADER_* variable; an unset or blank one keeps its default."""
        source = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            name = spec.metadata["env"]
            raw = source.get(name)
            if raw is None or raw.strip() == "":
                continue
            values[spec.name] = _convert(name, raw, type(spec.default))
        return cls(**values)

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Return every environment variable the engine reads, with what it sets."""
        return {spec.metadata["env"]: spec.metadata["doc"] for spec in fields(cls)}


def _convert(name: str, raw: str, kind: type) -> Any:
    text = raw.strip()
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ConfigError(f"{name} must be a boolean (1/0, true/false), not {raw!r}")
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{name} must be {what}, not {raw!r}") from None
    if not value > 0:
        raise ConfigError(f"{name} must be above 0, not {raw!r}")
    return value


@cache
def engine_config() -> EngineConfig:
    """Return this process's configuration, read from the environment on the first call."""
    return EngineConfig.from_env()
