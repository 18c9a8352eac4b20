"""Run untrusted submissions in a warm zygote's locked-down children, from the trusted worker.

One zygote per worker process, started lazily by exec with a scrubbed environment and reused;
restarted when it dies. The zygote keeps children forked and locked down ahead of time; per job
it hands the worker one child's two pipe ends over a Unix socket, and the zygote enforces the
deadline, reaps the child and reports how it ended. The job never passes through the zygote.
On the pipes the worker sends the source and reads the child's report on loading it, then sends
one call at a time and reads its answer before sending the next: the child never holds inputs
it has not yet been asked about.

Policy and limits come from the engine's configuration (grader.engine.config.EngineConfig, read
from GRADER_* variables): by default every isolation layer must be active (fail closed);
GRADER_ALLOW_REDUCED_SANDBOX=1 allows a reduced sandbox in development, and every verdict then
carries a warning. GRADER_CODE_TIMEOUT is the deadline of a submission, GRADER_MEMORY_MB the
address space a child may add to the zygote's, GRADER_CODE_FILE_MB the size of the files it may
write, GRADER_SANDBOX_UID the uid children run as when the worker is root.
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
from pathlib import Path
from typing import Any

from grader.engine.config import EngineConfig, engine_config
from grader.engine.sandbox.report import SandboxRun
from grader.engine.sandbox.runtime import write_all
from grader.engine.sandbox.wire import FrameTooLarge, WireError, WireLimits, encode, read_value
from grader.engine.sandbox.zygote import ZYGOTE_MARKER

logger = logging.getLogger("grader.sandbox")

PROJECT_ROOT = str(Path(__file__).resolve().parents[3])
# Not landlock_signals: Landlock scopes signals only from Linux 6.12, and requiring it would refuse
# every older kernel. Seccomp already keeps every signal inside the child on any kernel (kill,
# tkill and tgkill only to itself, fcntl's F_SETOWN family refused); the scoping is a second wall.
REQUIRED_LAYERS = (
    "network_namespace",
    "private_root",
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
# The project's folder goes first on the zygote's path, NumPy's last, before it imports anything.
# The closing comment is ZYGOTE_MARKER, by which every zygote, of this version or an earlier one,
# knows a live zygote's scratch folder from a dead one's.
ZYGOTE_BOOTSTRAP = (
    "import json, sys; sys.path.insert(0, sys.argv[3]); "
    "sys.path += [p for p in json.loads(sys.argv[2])['library_paths'] if p not in sys.path]; "
    f"from grader.engine.sandbox.zygote import main; main()  # {ZYGOTE_MARKER.decode()}"
)
# The answers of one run, all together, that the worker reads at most.
MAX_RESULT_BYTES = 64 * 1024 * 1024


class HandoverFailed(RuntimeError):
    """The zygote did not hand over a child, so no part of the job has run."""


class SandboxUnavailable(RuntimeError):
    """A required isolation layer is missing on this machine."""


class Sandbox:
    """A zygote process owned by this worker process, and the jobs run through it."""

    def __init__(self, config: EngineConfig | None = None, *, python: str = sys.executable) -> None:
        self.config = config or engine_config()
        self.python = python  # the interpreter the zygote runs
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._owner_pid = os.getpid()
        self.layers: dict[str, bool | str] = {}
        self.scratch_base: str | None = None
        self.starts = 0
        self._greeted = False  # the zygote said hello (launch() does not wait for it)

    # --- life cycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Exec a fresh zygote and wait for it to report the layers it can apply."""
        self.launch()
        self._await_hello()

    def launch(self) -> None:
        """Exec a fresh zygote without waiting for it: ensure_started() waits for its hello.

        A Celery pool process calls this as it starts, so its zygote imports NumPy while the
        process already reports for work, and the first code job finds it (nearly) ready.
        """
        self.close()
        parent_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        config = {
            "project_root": PROJECT_ROOT,
            "sandbox_uid": self.config.sandbox_uid,
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
                    self.python,
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
        self._greeted = False

    def _await_hello(self) -> None:
        parent_end = self._control
        assert parent_end is not None
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
        self._greeted = True
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
        elif not self._greeted:
            self._await_hello()

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
            if not self.config.allow_reduced_sandbox and not self.is_full():
                raise SandboxUnavailable(str(self.layers.get("full")))
            try:
                try:
                    return self._run_locked(
                        source, function, calls, timeout_s or self.config.code_timeout_s
                    )
                except HandoverFailed:
                    # The zygote died between jobs (before any child saw this job): start a
                    # new one and try once more.
                    logger.warning("sandbox zygote was gone; restarting it")
                    self.start()
                    return self._run_locked(
                        source, function, calls, timeout_s or self.config.code_timeout_s
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
            "memory_mb": self.config.memory_mb,
            "file_mb": self.config.code_file_mb,
            "require_full": not self.config.allow_reduced_sandbox,
            # The CPU limit is set before the job is known; the wall-clock deadline is per job.
            "cpu_s": max(int(self.config.code_timeout_s), 10),
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
            reason = str(started.get("error", ""))[:1000]
            return SandboxRun(
                infrastructure_error=f"the child could not lock itself down: {reason}"
            )
        if started.get("op") != "started" or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            raise HandoverFailed("the sandbox zygote did not hand over a child")
        job_write, result_read = fds
        run = SandboxRun()
        reader = _AnswerReader(result_read, MAX_RESULT_BYTES, time.monotonic() + timeout_s + 5)
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
        write_all(fd, frame)
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
    sandbox = _own_sandbox()
    with sandbox._lock:
        sandbox.ensure_started()
    return sandbox


def launch_zygote() -> None:
    """Start this process's zygote without waiting for it (a Celery pool process, as it starts)."""
    sandbox = _own_sandbox()
    with sandbox._lock:
        if sandbox._owner_pid != os.getpid() or not sandbox.alive():
            sandbox.launch()


def _own_sandbox() -> Sandbox:
    global _sandbox
    with _sandbox_lock:
        if _sandbox is None:
            _sandbox = Sandbox()
            atexit.register(_sandbox.close)
        return _sandbox


def sandbox_layers() -> dict[str, bool | str]:
    """Return each isolation layer with True when active or the reason it is not, plus 'full'."""
    return dict(get_sandbox().layers)


def warm_up() -> dict[str, bool | str]:
    """Start the zygote now, wait for it, and return its layers (a process that grades code itself)."""
    return sandbox_layers()
