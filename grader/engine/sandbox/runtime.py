"""The in-jail runtime: what runs inside a locked-down child, next to the submission.

The only module both sides import: the child runs serve_job(), and the trusted worker reads the
names (DESCRIBED_BASES) and digests (digest_arguments) it defines. It imports nothing trusted:
only the standard library, NumPy and grader.engine.sandbox.wire (itself standard library and
NumPy only), so what a child holds in memory is this module, the wire and the submission.

The child loads the source it is sent and reports on that, then answers one call per frame until
the worker closes the job pipe. The worker sends a call only after it has read the answer to the
previous one, and the source before any call: what the code sends back at load time, or from one
call, cannot contain the inputs of a call it has not been given yet.
"""

from __future__ import annotations

import hashlib
import linecache
import os
import sys
import time
import traceback
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from grader.engine.sandbox.wire import WireError, WireLimits, encode, read_value

SUBMISSION_FILENAME = "submission.py"
MAX_JOB_BYTES = 64 * 1024 * 1024
# Checked per answer (approximately), below the worker's 64 MiB cap on all answers of a run.
MAX_RESULT_BYTES = 48 * 1024 * 1024
# The bases describe_exception() names when the exception is an instance of one.
DESCRIBED_BASES: tuple[type[BaseException], ...] = (
    MemoryError,
    PermissionError,
    FileNotFoundError,
    ImportError,
    SystemExit,
    RecursionError,
)
# The base encode_answer() names for a return value too large to send.
OUTPUT_TOO_LARGE = "OutputTooLarge"


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of data to fd."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exactly(fd: int, count: int) -> bytes:
    """Read count bytes from fd, or fewer when it ends first."""
    chunks = []
    while count > 0:
        chunk = os.read(fd, min(count, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def serve_job(job_fd: int, result_fd: int) -> None:
    """Load the submission and report on it; then answer one call per frame until the job ends."""
    limits = WireLimits(max_total_bytes=MAX_JOB_BYTES)
    ended = object()

    def next_job_value() -> Any:
        return read_value(lambda count: _read_exactly(job_fd, count), limits, ended)

    job = next_job_value()
    if job is ended:  # the worker sends the source first: a job pipe that ends before it is bad
        raise WireError("bad frame magic")
    function, report = load_submission(job["source"], job["function"])
    write_all(result_fd, encode(report))
    if function is None:
        return
    while (call := next_job_value()) is not ended:
        write_all(result_fd, encode_answer(run_call(function, call)))


def load_submission(
    source: str, function_name: str
) -> tuple[Callable[..., Any] | None, dict[str, Any]]:
    """Run the submission's file; return its function (or None) and the report for the worker."""
    lines = source.splitlines(keepends=True)
    linecache.cache[SUBMISSION_FILENAME] = (len(source), None, lines, SUBMISSION_FILENAME)
    try:
        code = compile(source, SUBMISSION_FILENAME, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as error:
        return None, {
            "syntax_error": {"line": getattr(error, "lineno", None), "message": str(error)}
        }
    module = types.ModuleType("submission")
    module.__file__ = SUBMISSION_FILENAME
    sys.modules["submission"] = module
    try:
        exec(code, module.__dict__)  # noqa: S102 - this is the sandboxed child
    except BaseException as error:  # noqa: BLE001
        return None, {"load_error": describe_exception(error)}
    function = module.__dict__.get(function_name)
    if not callable(function):
        return None, {"missing_function": True}
    return function, {"loaded": True}


def run_call(function: Callable[..., Any], call: dict[str, Any]) -> dict[str, Any]:
    """Call the submission's function once; report its output or its exception."""
    args = list(call["args"])
    started = time.perf_counter()
    answer: dict[str, Any]
    try:
        output = function(*args)
        digests = digest_arguments(args) if call.get("digest", True) else []
        answer = {"output": output, "args_digest": digests}
    except BaseException as error:  # noqa: BLE001
        answer = {"error": describe_exception(error)}
    answer["elapsed_ms"] = (time.perf_counter() - started) * 1000
    return answer


def encode_answer(answer: dict[str, Any]) -> bytes:
    """Return one call's answer as a frame; a return value too large to send becomes an error."""
    too_large = {
        "error": {
            "type": OUTPUT_TOO_LARGE,
            "base": OUTPUT_TOO_LARGE,
            "message": "",
            "traceback": "",
            "line": None,
        }
    }
    if _approximate_bytes(answer.get("output")) > MAX_RESULT_BYTES:
        return encode(too_large)
    try:
        return encode(answer)
    except MemoryError:
        del answer
        return encode(too_large)


def _approximate_bytes(value: Any, depth: int = 0) -> int:
    """Return roughly how many bytes value takes on the wire (arrays by nbytes, containers summed)."""
    if depth > 8:
        return 0
    nbytes = getattr(value, "nbytes", None)
    if type(nbytes) is int:
        return nbytes
    if isinstance(value, list | tuple):
        return 8 * len(value) + sum(_approximate_bytes(item, depth + 1) for item in value[:10_000])
    return 64


def digest_arguments(args: list[Any]) -> list[str | None]:
    """Return a digest of each array argument's dtype, shape and bytes, to detect mutation cheaply.

    Run in the child after the submission's code, which can replace this function: the digests
    reveal accidental in-place changes, not deliberate ones (see grader.engine.code.compare).
    """
    digests: list[str | None] = []
    for arg in args:
        if type(arg) is np.ndarray and arg.dtype.kind in "biufc":
            content = hashlib.sha256(f"{arg.dtype.str}{arg.shape}".encode())
            content.update(np.ascontiguousarray(arg).tobytes())
            digests.append(content.hexdigest())
        else:
            digests.append(None)
    return digests


def describe_exception(error: BaseException) -> dict[str, Any]:
    """Return the exception's type, message and the part of its traceback inside the submission."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename == SUBMISSION_FILENAME
    ]
    lines = [
        f"  line {frame.lineno}, in {frame.name}\n    {(frame.line or '').strip()}"
        for frame in frames
    ]
    try:
        message = str(error)[:1000]
    except BaseException:  # noqa: BLE001
        message = "(the exception's message could not be shown)"
    described: dict[str, Any] = {
        "type": type(error).__name__ if type(error).__module__ == "builtins" else _qualified(error),
        "message": message,
        "traceback": "\n".join(lines[-8:]),
        "line": frames[-1].lineno if frames else None,
    }
    for base in DESCRIBED_BASES:
        if isinstance(error, base):
            described["base"] = base.__name__
            break
    if isinstance(error, OSError):
        described["errno"] = error.errno if isinstance(error.errno, int) else None
    return described


def _qualified(error: BaseException) -> str:
    kind = type(error)
    return f"{kind.__module__}.{kind.__qualname__}"[:200]
