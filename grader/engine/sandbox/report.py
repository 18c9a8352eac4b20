"""What a sandboxed child said, read into checked types: the one place the worker trusts its shape.

Every field below comes from the sandboxed child, that is from the submission: read_report() is
the one place that checks their types and makes their text storable, so nothing the child sends
reaches a comparison or a message as anything other than these. What an honest child never
sends is malformed output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grader.engine.sandbox.runtime import DESCRIBED_BASES, OUTPUT_TOO_LARGE
from grader.engine.sandbox.wire import storable_text


@dataclass
class SandboxRun:
    """How one job ended: the child's decoded report (if any) and the zygote's account of its exit."""

    # {"calls": [one answer per call answered, in order, each with the worker's id]} once the code
    # loaded; {"load_error" | "missing_function": ...} when it did not; None when the child said
    # nothing or its load report was malformed (a syntax error is one: the worker compiled first).
    result: Any = None
    timed_out: bool = False
    signal_name: str | None = None
    exit_code: int | None = None
    cpu_ms: float = 0.0
    wall_ms: float = 0.0
    output_too_large: bool = False
    unreadable: str | None = None  # why the child's report could not be read
    # The sandbox itself failed (only the zygote says so, never the child): not the student's fault.
    infrastructure_error: str | None = None


# The bases describe_exception() names, and the one encode_answer() uses for a too-large result.
ERROR_BASES = (*(base.__name__ for base in DESCRIBED_BASES), OUTPUT_TOO_LARGE)
ERROR_KEYS = frozenset({"type", "message", "traceback", "line", "base", "errno"})
MAX_TYPE_NAME = 200
MAX_MESSAGE = 1000
MAX_TRACEBACK = 10_000
MAX_DIGEST = 128


class MalformedReport(ValueError):
    """The child sent something an honest child never sends."""


@dataclass(frozen=True)
class RaisedError:
    """An exception the submission raised, as the child described it."""

    type_name: str
    message: str = ""
    traceback: str = ""
    line: int | None = None
    base: str | None = None  # one of ERROR_BASES when the exception is an instance of it
    errno: int | None = None


@dataclass(frozen=True)
class CallAnswer:
    """One call's answer: a return value and argument digests, an exception, or malformed."""

    output: Any = None
    returned: bool = False
    args_digest: tuple[str | None, ...] = ()
    error: RaisedError | None = None
    malformed: bool = False


@dataclass(frozen=True)
class ChildReport:
    """What the child said: the calls it answered, or why its code never reached them.

    None of loaded, load_error, missing_function and malformed: the child said nothing at all.
    """

    loaded: bool = False
    answers: dict[str, CallAnswer] = field(default_factory=dict)  # by call id, in answer order
    load_error: RaisedError | None = None
    missing_function: bool = False
    malformed: bool = False


def read_report(result: Any) -> ChildReport:
    """Return SandboxRun.result as a ChildReport; whatever an honest child never sends is malformed."""
    if not isinstance(result, dict):
        return ChildReport()
    if "calls" in result:
        # The list and each id are the worker's (_exchange); only the other fields are the child's.
        answers = {entry["id"]: _read_answer(entry) for entry in result["calls"]}
        return ChildReport(loaded=True, answers=answers)
    if "load_error" in result:
        try:
            return ChildReport(load_error=_read_error(result["load_error"]))
        except MalformedReport:
            return ChildReport(malformed=True)
    if result.get("missing_function") is True:
        return ChildReport(missing_function=True)
    # Also a syntax error: the worker compiled the code before sending it, so that report is forged.
    return ChildReport(malformed=True)


def _read_answer(entry: dict[str, Any]) -> CallAnswer:
    keys = set(entry) - {"id", "elapsed_ms"}
    elapsed = entry.get("elapsed_ms", 0.0)
    try:
        if type(elapsed) not in (int, float):
            raise MalformedReport("elapsed_ms")
        if keys == {"error"}:
            return CallAnswer(error=_read_error(entry["error"]))
        if keys == {"output", "args_digest"}:
            digests = entry["args_digest"]
            if not isinstance(digests, list) or not all(
                digest is None or (isinstance(digest, str) and len(digest) <= MAX_DIGEST)
                for digest in digests
            ):
                raise MalformedReport("args_digest")
            return CallAnswer(output=entry["output"], returned=True, args_digest=tuple(digests))
    except MalformedReport:
        pass
    return CallAnswer(malformed=True)


def _read_error(value: Any) -> RaisedError:
    if not isinstance(value, dict) or not set(value) <= ERROR_KEYS:
        raise MalformedReport("error")
    type_name = value.get("type")
    message, traceback = value.get("message", ""), value.get("traceback", "")
    line, base, errno = value.get("line"), value.get("base"), value.get("errno")
    if not (isinstance(type_name, str) and isinstance(message, str) and isinstance(traceback, str)):
        raise MalformedReport("error texts")
    if not (line is None or type(line) is int) or not (errno is None or type(errno) is int):
        raise MalformedReport("error numbers")
    if not (base is None or (isinstance(base, str) and base in ERROR_BASES)):
        raise MalformedReport("error base")
    return RaisedError(
        type_name=storable_text(type_name[:MAX_TYPE_NAME]),
        message=storable_text(message[:MAX_MESSAGE]),
        traceback=storable_text(traceback[:MAX_TRACEBACK]),
        line=line,
        base=base,
        errno=errno,
    )
