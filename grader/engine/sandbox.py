"""Run untrusted submissions in a warm zygote's locked-down children, from the trusted worker.

One zygote per worker process, started lazily by exec with a scrubbed environment and reused;
restarted when it dies. The zygote keeps children forked and locked down ahead of time; per job
it hands the worker one child's two pipe ends over a Unix socket, and the zygote enforces the
deadline, reaps the child and reports how it ended. The job never passes through the zygote.
On the pipes the worker sends the source and reads the child's report on loading it, then sends
one call at a time and reads its answer before sending the next: the child never holds inputs
it has not yet been asked about.

Policy: by default every isolation layer must be active (fail closed). Set
CHAINRULE_SANDBOX_REQUIRE_FULL=0, or call configure(require_full=False) (the Django layer passes
GRADER_ALLOW_REDUCED_SANDBOX this way), to allow a reduced sandbox in development; every verdict
then carries a warning. Other environment variables: CHAINRULE_SANDBOX_TIMEOUT (seconds per
submission, default 10), CHAINRULE_SANDBOX_MEMORY_MB (address space beyond the zygote's, default
1024), CHAINRULE_SANDBOX_UID (the uid children run as when the worker is root, default 65534).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.engine.sandbox_wire import (
    FrameTooLarge,
    WireError,
    WireLimits,
    encode,
    read_value,
    storable_text,
)
from grader.engine.sandbox_zygote import DESCRIBED_BASES

logger = logging.getLogger("grader.sandbox")

PROJECT_ROOT = str(Path(__file__).resolve().parent.parent.parent)
# Not landlock_signals: Landlock scopes signals only from Linux 6.12, and requiring it would refuse
# every older kernel. Seccomp already keeps every signal inside the child on any kernel (kill,
# tkill and tgkill only to itself, fcntl's F_SETOWN family refused); the scoping is a second wall.
REQUIRED_LAYERS = (
    "network_namespace",
    "rlimits",
    "unprivileged_uid",
    "no_new_privs",
    "landlock",
    "seccomp",
)
NOBODY_UID = 65534
# OpenBLAS's kernel choice, which some machines pin because the default kernel computes wrong
# results on their processors. The zygote inherits it so that the student's code runs the same
# kernel as the trusted worker that compares with it: on ill-conditioned inputs another kernel
# rounds differently, and "behaves like this known mistake" would stop matching.
BLAS_KERNEL_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
ZYGOTE_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[3]); "
    "from grader.engine.sandbox_zygote import main; main()"
)


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass
class SandboxSettings:
    """Limits and policy for every job; the Django layer overrides them through configure()."""

    require_full: bool = field(
        default_factory=lambda: _env_flag("CHAINRULE_SANDBOX_REQUIRE_FULL", True)
    )
    timeout_s: float = field(
        default_factory=lambda: float(os.environ.get("CHAINRULE_SANDBOX_TIMEOUT", "10"))
    )
    memory_mb: int = field(
        default_factory=lambda: int(os.environ.get("CHAINRULE_SANDBOX_MEMORY_MB", "1024"))
    )
    file_mb: int = 16
    max_result_bytes: int = 64 * 1024 * 1024
    sandbox_uid: int | None = field(
        default_factory=lambda: int(os.environ.get("CHAINRULE_SANDBOX_UID", str(NOBODY_UID)))
    )
    python: str = sys.executable


settings = SandboxSettings()


def configure(
    *,
    require_full: bool | None = None,
    timeout_s: float | None = None,
    memory_mb: int | None = None,
    sandbox_uid: int | None = None,
) -> SandboxSettings:
    """Override the sandbox policy and limits for this process; return the settings in force."""
    if require_full is not None:
        settings.require_full = require_full
    if timeout_s is not None:
        settings.timeout_s = float(timeout_s)
    if memory_mb is not None:
        settings.memory_mb = int(memory_mb)
    if sandbox_uid is not None:
        settings.sandbox_uid = sandbox_uid
    return settings


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


# --- what the child reported, in checked types --------------------------------------------------
# Every field below comes from the sandboxed child, that is from the submission: read_report() is
# the one place that checks their types and makes their text storable, so nothing the child sends
# reaches a comparison or a message as anything other than these. What an honest child never
# sends is malformed output.

# The bases describe_exception() names, and the one encode_answer() uses for a too-large result.
ERROR_BASES = (*(base.__name__ for base in DESCRIBED_BASES), "OutputTooLarge")
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


class HandoverFailed(RuntimeError):
    """The zygote did not hand over a child, so no part of the job has run."""


class SandboxUnavailable(RuntimeError):
    """A required isolation layer is missing on this machine."""


class Sandbox:
    """A zygote process owned by this worker process, and the jobs run through it."""

    def __init__(self, sandbox_settings: SandboxSettings | None = None) -> None:
        self.settings = sandbox_settings or settings
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._owner_pid = os.getpid()
        self.layers: dict[str, bool | str] = {}
        self.scratch_base: str | None = None
        self.starts = 0

    # --- life cycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Exec a fresh zygote and wait for it to report the layers it can apply."""
        self.close()
        parent_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        config = {
            "project_root": PROJECT_ROOT,
            "sandbox_uid": self.settings.sandbox_uid,
            "library_paths": _library_paths(),
        }
        environment = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        environment.update({n: os.environ[n] for n in BLAS_KERNEL_VARIABLES if n in os.environ})
        try:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv, our own interpreter
                [
                    self.settings.python,
                    "-I",
                    "-c",
                    ZYGOTE_BOOTSTRAP,
                    str(zygote_end.fileno()),
                    json.dumps(config),
                    PROJECT_ROOT,
                ],
                env=environment,
                pass_fds=[zygote_end.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                cwd="/",
            )
        finally:
            zygote_end.close()
        self._control = parent_end
        self._owner_pid = os.getpid()
        parent_end.settimeout(30)
        try:
            hello = json.loads(parent_end.recv(65536) or b"{}")
        except (OSError, ValueError) as error:
            self.close()
            raise RuntimeError(f"the sandbox zygote did not start: {error}") from None
        if hello.get("op") != "hello":
            self.close()
            raise RuntimeError("the sandbox zygote did not start")
        self.layers = self._summarise(hello["layers"])
        self.scratch_base = str(hello.get("scratch_base") or "") or None
        self.starts += 1
        _log_layers(self.layers)

    def _summarise(self, layers: dict[str, bool | str]) -> dict[str, bool | str]:
        summary = dict(layers)
        summary["running_as"] = "root" if os.getuid() == 0 else f"uid {os.getuid()}"
        missing = [name for name in REQUIRED_LAYERS if summary.get(name) is not True]
        summary["full"] = True if not missing else "missing: " + ", ".join(missing)
        return summary

    def alive(self) -> bool:
        """Say whether the zygote process is still running and belongs to this process."""
        return (
            self._process is not None
            and self._process.poll() is None
            and self._owner_pid == os.getpid()
            and self._control is not None
        )

    def ensure_started(self) -> None:
        """Start the zygote if it never started, died, or was inherited across a fork."""
        if self._owner_pid != os.getpid():
            # Inherited from a parent process: its zygote is not ours to talk to or clean up.
            self._process = None
            self._control = None
            self.scratch_base = None
        if not self.alive():
            self.start()

    def close(self) -> None:
        """Stop this process's zygote; closing the socket makes it exit, SIGKILL makes sure."""
        control, process = self._control, self._process
        self._control = None
        self._process = None
        if control is not None:
            control.close()
        if process is not None and self._owner_pid == os.getpid():
            try:
                process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            # A zygote that was killed could not clean up its scratch folders; do it for it.
            base = self.scratch_base
            if base and Path(base).name.startswith("chainrule-sandbox-"):
                shutil.rmtree(base, ignore_errors=True)
            self.scratch_base = None

    def pid(self) -> int | None:
        """Return the zygote's process id, for tests and the status command."""
        return self._process.pid if self._process is not None else None

    # --- jobs ------------------------------------------------------------------------------------

    def is_full(self) -> bool:
        """Say whether every required layer is active."""
        return self.layers.get("full") is True

    def run(
        self,
        source: str,
        function: str,
        calls: list[dict[str, Any]],
        *,
        timeout_s: float | None = None,
    ) -> SandboxRun:
        """Run function from source once per call inside a fresh child; return how it went."""
        with self._lock:
            self.ensure_started()
            if self.settings.require_full and not self.is_full():
                raise SandboxUnavailable(str(self.layers.get("full")))
            try:
                try:
                    return self._run_locked(
                        source, function, calls, timeout_s or self.settings.timeout_s
                    )
                except HandoverFailed:
                    # The zygote died between jobs (before any child saw this job): start a
                    # new one and try once more.
                    logger.warning("sandbox zygote was gone; restarting it")
                    self.start()
                    return self._run_locked(
                        source, function, calls, timeout_s or self.settings.timeout_s
                    )
            except (OSError, ValueError, RuntimeError) as error:
                logger.exception("sandbox job failed; restarting the zygote")
                self.close()
                return SandboxRun(infrastructure_error=f"{type(error).__name__}: {error}")
            except BaseException:
                # Interrupted mid-job (a Celery soft time limit, KeyboardInterrupt): the zygote's
                # half-finished exchange would confuse the next job, so start afresh next time.
                self.close()
                raise

    def _run_locked(
        self, source: str, function: str, calls: list[dict[str, Any]], timeout_s: float
    ) -> SandboxRun:
        assert self._control is not None
        request = {
            "op": "run",
            "timeout": timeout_s,
            "memory_mb": self.settings.memory_mb,
            "file_mb": self.settings.file_mb,
            "require_full": self.settings.require_full,
            # The CPU limit is set before the job is known; the wall-clock deadline is per job.
            "cpu_s": max(int(self.settings.timeout_s), 10),
        }
        self._control.settimeout(30)
        try:
            self._control.sendall(json.dumps(request).encode())
            message, fds, _, _ = socket.recv_fds(self._control, 65536, 2)
        except OSError as error:
            raise HandoverFailed(str(error)) from None
        started = json.loads(message or b"{}")
        if started.get("op") == "setup_failed" and not fds:
            # Reported by the zygote from a pipe the child closed before any job reached it.
            error = str(started.get("error", ""))[:1000]
            return SandboxRun(infrastructure_error=f"the child could not lock itself down: {error}")
        if started.get("op") != "started" or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            raise HandoverFailed("the sandbox zygote did not hand over a child")
        job_write, result_read = fds
        run = SandboxRun()
        reader = _AnswerReader(
            result_read, self.settings.max_result_bytes, time.monotonic() + timeout_s + 5
        )
        try:
            _exchange(run, job_write, reader, source, function, calls)
        finally:
            os.close(job_write)  # the child reads the end of its job and exits
            os.close(result_read)  # a child still writing now gets EPIPE and ends
        self._control.settimeout(max(reader.deadline - time.monotonic(), 0) + 5)
        done = json.loads(self._control.recv(65536) or b"{}")
        if done.get("op") != "done":
            raise RuntimeError("the sandbox zygote stopped answering")
        run.timed_out = bool(done.get("timed_out"))
        run.signal_name = done.get("signal_name")
        run.exit_code = done.get("exit_code")
        run.cpu_ms = float(done.get("cpu_ms", 0.0))
        run.wall_ms = float(done.get("wall_ms", 0.0))
        return run


def _library_paths() -> list[str]:
    """Return the folders holding NumPy, which an isolated (-I) zygote would not otherwise search."""
    import numpy

    return [str(Path(numpy.__file__).resolve().parent.parent)]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


ENDED = object()
LOAD_FAILURES = ("load_error", "missing_function")
ANSWER_KEYS = ("output", "error", "args_digest", "elapsed_ms")


def _exchange(
    run: SandboxRun,
    job_write: int,
    reader: _AnswerReader,
    source: str,
    function: str,
    calls: list[dict[str, Any]],
) -> None:
    """Send the source and read the load report; then send each call and read its answer.

    One call at a time, in the order given: the child never holds the inputs of a call before
    the worker has read every earlier answer, so callers put hidden tests last.
    """
    try:
        if not _send(job_write, encode({"source": source, "function": function})):
            return
        report = reader.next_value()
        if report is ENDED:
            return
        if not isinstance(report, dict):
            run.unreadable = "the report on loading the code is malformed"
            return
        if report.get("loaded") is not True:
            failure = [key for key in LOAD_FAILURES if key in report]
            if failure:
                run.result = {failure[0]: report[failure[0]]}
            else:
                run.unreadable = "the report on loading the code is malformed"
            return
        answers: list[dict[str, Any]] = []
        run.result = {"calls": answers}
        for call in calls:
            frame = encode({"args": call["args"], "digest": call.get("digest", True)})
            if not _send(job_write, frame):
                return
            answer = reader.next_value()
            if answer is ENDED:
                return
            entry = {"id": call["id"]}
            if isinstance(answer, dict):
                entry.update({key: answer[key] for key in ANSWER_KEYS if key in answer})
            answers.append(entry)
    except (FrameTooLarge, MemoryError):
        run.output_too_large = True
    except WireError as error:
        run.unreadable = str(error)


def _send(fd: int, frame: bytes) -> bool:
    """Write a frame to the child; say False when the child is gone (the zygote says why)."""
    try:
        _write_all(fd, frame)
    except BrokenPipeError:
        return False
    return True


class _AnswerReader:
    """Read the child's frames one at a time, within a deadline and a cap on all bytes read."""

    def __init__(self, fd: int, cap: int, deadline: float) -> None:
        self.fd = fd
        self.deadline = deadline
        self.limits = WireLimits(max_total_bytes=cap)
        self.total = 0

    def read(self, count: int) -> bytes:
        """Return count bytes, or fewer when the child ends its output or the deadline passes."""
        chunks: list[bytes] = []
        while count > 0:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                break
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if not ready:
                break
            chunk = os.read(self.fd, min(count, 1 << 20))
            if not chunk:
                break
            self.total += len(chunk)
            if self.total > self.limits.max_total_bytes:
                raise FrameTooLarge("the answers exceed the byte cap")
            chunks.append(chunk)
            count -= len(chunk)
        return b"".join(chunks)

    def next_value(self) -> Any:
        """Return the next frame's value, or ENDED when the child's output ended first."""
        return read_value(self.read, self.limits, ENDED)


def _log_layers(layers: dict[str, bool | str]) -> None:
    active = [name for name, value in layers.items() if value is True]
    missing = {
        name: value
        for name, value in layers.items()
        if value is not True and name in REQUIRED_LAYERS
    }
    if missing:
        logger.warning(
            "code sandbox is REDUCED: missing %s; active: %s", missing, ", ".join(active)
        )
    else:
        logger.info("code sandbox: all layers active (%s)", ", ".join(active))


_sandbox: Sandbox | None = None
_sandbox_lock = threading.Lock()


def get_sandbox() -> Sandbox:
    """Return this process's sandbox, starting its zygote on first use or after it died."""
    global _sandbox
    with _sandbox_lock:
        if _sandbox is None:
            _sandbox = Sandbox()
            atexit.register(_sandbox.close)
        sandbox = _sandbox
    with sandbox._lock:
        sandbox.ensure_started()
    return sandbox


def sandbox_layers() -> dict[str, bool | str]:
    """Return each isolation layer with True when active or the reason it is not, plus 'full'."""
    return dict(get_sandbox().layers)


def warm_up() -> dict[str, bool | str]:
    """Start the zygote now (the Celery worker calls this at start) and return its layers."""
    return sandbox_layers()
