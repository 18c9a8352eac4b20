"""Run untrusted submissions in a warm zygote's locked-down children, from the trusted worker.

One zygote per worker process, started lazily by exec with a scrubbed environment and reused;
restarted when it dies. The zygote keeps children forked and locked down ahead of time; per job
it hands the worker one child's two pipe ends over a Unix socket (asked for as soon as the job
before is done, so that the hand-over happens while that job's verdict is being judged), and from
the worker's "go" the zygote enforces the deadline, reaps the child and reports how it ended. The
job never passes through the zygote.
On the pipes the worker sends the source together with every call up to the first hidden test,
reads the child's report on loading it and its answers as they come, and sends the hidden tests
only once it has read every answer before them: the child never holds a hidden test's inputs
before everything it says about the rest has been read. The job pipe closes as soon as the last
call is written, so the child ends as soon as it has answered.

Policy and limits come from the engine's configuration (grader.engine.config.EngineConfig, read
from GRADER_* variables): by default every isolation layer must be active (fail closed);
GRADER_ALLOW_REDUCED_SANDBOX=1 allows a reduced sandbox in development, and every verdict then
carries a warning. GRADER_CODE_TIMEOUT is the deadline of a submission, GRADER_MEMORY_MB the
address space a child may add to the zygote's, GRADER_CODE_FILE_MB the size of the files it may
write, GRADER_SANDBOX_UID the uid children run as when the worker is root.
"""

from __future__ import annotations

import atexit
import ctypes
import functools
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grader.engine.config import EngineConfig, engine_config
from grader.engine.sandbox.report import SandboxRun
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
# The most buffers one writev() takes (POSIX guarantees at least 16; Linux takes 1024).
IOV_MAX = 64
_libc = ctypes.CDLL(None, use_errno=True)
# The answers of one run, all together, that the worker reads at most.
MAX_RESULT_BYTES = 64 * 1024 * 1024


class HandoverFailed(RuntimeError):
    """The zygote did not hand over a child, so no part of the job has run."""


class MeanwhileFailed(Exception):
    """The caller's work during a job raised: Sandbox.run() raises its exception in turn."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


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
        # The limits of the child asked for ahead of the next job, which the zygote hands over.
        self._asked_for: dict[str, Any] | None = None
        # The deadline of a job whose child's end the zygote has yet to report (return_when_answered).
        self._unsettled: float | None = None

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
        self._asked_for = None

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
        self._unsettled = None
        control, process = self._control, self._process
        self._control = None
        self._process = None
        self._asked_for = None
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
        return_when_answered: bool = False,
        meanwhile: Callable[[], float] | None = None,
    ) -> SandboxRun:
        """Run function from source once per call inside a fresh child; return how it went.

        meanwhile, when given, is the caller's own trusted work, done once the child has its
        first calls and works on them: it returns the job's deadline in seconds (timeout_s is
        then unused), which runs from its return. Should it raise, the child is ended, and run()
        raises the same exception once the sandbox is ready for the next job.

        With return_when_answered, a run whose every call was answered returns as soon as the
        last answer is read, without the child's exit status, CPU time or wall time: such a run
        is judged by its answers alone (the child can only end itself after its last answer).
        The zygote's account of its end is read meanwhile, before the next job starts.
        """
        with self._lock:
            self._settle()
            self.ensure_started()
            if not self.config.allow_reduced_sandbox and not self.is_full():
                raise SandboxUnavailable(str(self.layers.get("full")))
            run_once = functools.partial(
                self._run_locked,
                source,
                function,
                calls,
                meanwhile or (lambda: timeout_s or self.config.code_timeout_s),
                return_when_answered,
                own_work=meanwhile is not None,
            )
            try:
                try:
                    return run_once()
                except HandoverFailed:
                    # The zygote died between jobs (before any child saw this job): start a
                    # new one and try once more.
                    logger.warning("sandbox zygote was gone; restarting it")
                    self.start()
                    return run_once()
            except MeanwhileFailed as failed:
                raise failed.error from None
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
        self,
        source: str,
        function: str,
        calls: list[dict[str, Any]],
        meanwhile: Callable[[], float],
        return_when_answered: bool,
        *,
        own_work: bool,
    ) -> SandboxRun:
        limits = self._child_limits()
        if self._asked_for not in (None, limits):
            self._drop_child()  # asked for with other limits (the configuration changed)
        started, fds = self._take_child(limits)
        if started.get("op") == "setup_failed" and not fds:
            # Reported by the zygote from a pipe the child closed before any job reached it.
            reason = str(started.get("error", ""))[:1000]
            return SandboxRun(
                infrastructure_error=f"the child could not lock itself down: {reason}"
            )
        job_write, result_read = fds
        run = SandboxRun()
        writer = _JobWriter(job_write)
        reader = _AnswerReader(result_read, MAX_RESULT_BYTES, time.monotonic() + 30, writer)
        failure: Exception | None = None
        elsewhere = _Elsewhere(int(started.get("pid", 0))) if own_work else None

        def begun() -> None:
            # The child starts on its first batch at once; the caller's own work happens now,
            # and the zygote enforces the deadline from "go", sent when that work is done.
            nonlocal failure
            try:
                timeout_s = meanwhile()
            except Exception as error:  # noqa: BLE001 - the caller's: raised once this job ends
                failure, timeout_s = error, 0.0  # the zygote ends the child at once
            finally:
                if elsewhere is not None:
                    elsewhere.end()
            reader.deadline = time.monotonic() + timeout_s + 5
            self._start_deadline(timeout_s)

        try:
            _exchange(run, writer, reader, source, function, calls, started=begun)
        finally:
            writer.close()  # the child reads the end of its job and exits
            os.close(result_read)  # a child still writing now gets EPIPE and ends
        if failure is not None:
            self._await_done(SandboxRun(), reader.deadline)
            self._ask_ahead(limits)
            raise MeanwhileFailed(failure)
        if return_when_answered and _answered_every_call(run, calls):
            # Asking for the next child tells the zygote that this one is done with: it ends
            # the child if it has not ended yet, and reports on it before handing over the next.
            self._ask_ahead(limits)
            self._unsettled = reader.deadline
            return run
        self._await_done(run, reader.deadline)
        # The next job's child: the zygote hands it over while this verdict is being judged.
        self._ask_ahead(limits)
        return run

    def _ask_ahead(self, limits: dict[str, Any]) -> None:
        """Ask for the next job's child; a zygote gone by now is the next job's to restart."""
        try:
            self._ask_for_child(limits)
        except HandoverFailed:
            self._asked_for = None

    def _settle(self) -> None:
        """Read the zygote's report on the last job's child; restart the zygote if it failed."""
        deadline, self._unsettled = self._unsettled, None
        if deadline is None or not self.alive():
            return
        try:
            self._await_done(SandboxRun(), deadline)
        except (OSError, ValueError, RuntimeError) as error:
            logger.warning("sandbox zygote failed after a job (%s); restarting it", error)
            self.close()

    def _child_limits(self) -> dict[str, Any]:
        """Return the limits a child is locked down with, set before its job is known."""
        return {
            "memory_mb": self.config.memory_mb,
            "file_mb": self.config.code_file_mb,
            "require_full": not self.config.allow_reduced_sandbox,
            # The CPU limit is set before the job is known; the wall-clock deadline is per job.
            "cpu_s": max(int(self.config.code_timeout_s), 10),
        }

    def _start_deadline(self, timeout_s: float) -> None:
        """Say "go": the zygote enforces the job's deadline from now on."""
        try:
            self._send_control({"op": "go", "timeout": timeout_s})
        except HandoverFailed as error:
            # The child may have started on the job: this is no longer a hand-over to retry.
            raise RuntimeError(f"the sandbox zygote stopped answering: {error}") from None

    def _send_control(self, message: dict[str, Any]) -> None:
        assert self._control is not None
        self._control.settimeout(30)
        try:
            self._control.sendall(json.dumps(message).encode())
        except OSError as error:
            raise HandoverFailed(str(error)) from None

    def _ask_for_child(self, limits: dict[str, Any]) -> None:
        """Ask the zygote for a locked-down child now; _take_child() receives it."""
        self._send_control({"op": "run", **limits})
        self._asked_for = limits

    def _take_child(self, limits: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
        """Return the zygote's answer to a request for a child and the child's two pipe ends."""
        if self._asked_for is None:
            self._ask_for_child(limits)
        self._asked_for = None
        assert self._control is not None
        try:
            message, fds, _, _ = socket.recv_fds(self._control, 65536, 2)
            started = json.loads(message or b"{}")
        except (OSError, ValueError) as error:
            raise HandoverFailed(str(error)) from None
        if started.get("op") == "setup_failed" and not fds:
            return started, []
        if started.get("op") != "started" or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            raise HandoverFailed("the sandbox zygote did not hand over a child")
        return started, list(fds)

    def _drop_child(self) -> None:
        """Take the child asked for earlier and end it unused: it reads an empty job and exits."""
        assert self._asked_for is not None
        started, fds = self._take_child(self._asked_for)
        if not fds:
            return
        for fd in fds:
            os.close(fd)
        self._send_control({"op": "go", "timeout": 1.0})
        self._await_done(SandboxRun(), time.monotonic() + 1.0)

    def _await_done(self, run: SandboxRun, deadline: float) -> None:
        """Read the zygote's account of how the child ended into run."""
        assert self._control is not None
        self._control.settimeout(max(deadline - time.monotonic(), 0) + 5)
        done = json.loads(self._control.recv(65536) or b"{}")
        if done.get("op") != "done":
            raise RuntimeError("the sandbox zygote stopped answering")
        run.timed_out = bool(done.get("timed_out"))
        run.signal_name = done.get("signal_name")
        run.exit_code = done.get("exit_code")
        run.cpu_ms = float(done.get("cpu_ms", 0.0))
        run.wall_ms = float(done.get("wall_ms", 0.0))


def _library_paths() -> list[str]:
    """Return the folders holding NumPy, which an isolated (-I) zygote would not otherwise search."""
    import numpy

    return [str(Path(numpy.__file__).resolve().parent.parent)]


ENDED = object()
LOAD_FAILURES = ("load_error", "missing_function")
ANSWER_KEYS = ("output", "error", "args_digest", "elapsed_ms")


def _exchange(
    run: SandboxRun,
    writer: _JobWriter,
    reader: _AnswerReader,
    source: str,
    function: str,
    calls: list[dict[str, Any]],
    *,
    started: Callable[[], None],
) -> None:
    """Send the job in batches and read the load report and one answer per call.

    started() is called once the first batch is on its way (it tells the zygote the job began).

    The source and every call up to the first hidden one go at once, and the child answers them
    in order while the rest is still being written; each later batch goes only once every answer
    before it has been read (_batches). So nothing the child says on loading or on a visible test
    or check can carry a hidden test's inputs, however far it reads ahead on its job pipe.
    """
    batches = _batches(calls)
    try:
        writer.send(
            [encode({"source": source, "function": function}), *_frames(batches[0])],
            last=len(batches) == 1,
        )
        started()
        # Encoded while the child loads the code and answers the first batch.
        later = [_frames(batch) for batch in batches[1:]]
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
        for index, batch in enumerate(batches):
            if index > 0:
                writer.send(later[index - 1], last=index == len(batches) - 1)
            for call in batch:
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


def _answered_every_call(run: SandboxRun, calls: list[dict[str, Any]]) -> bool:
    """Say whether the child's answers were all read: one per call, and nothing unreadable."""
    return (
        isinstance(run.result, dict)
        and len(run.result.get("calls", ())) == len(calls)
        and run.unreadable is None
        and not run.output_too_large
    )


def _frames(calls: list[dict[str, Any]]) -> list[bytes]:
    return [encode({"args": call["args"], "digest": call.get("digest", True)}) for call in calls]


def _batches(calls: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split the calls where a hidden one follows one that is not: each part is sent at once.

    A call marked "hidden" reaches the child only after the worker has read the answer to every
    call before it; calls in one part travel together (their order is kept).
    """
    batches: list[list[dict[str, Any]]] = [[]]
    for call in calls:
        hidden = bool(call.get("hidden"))
        if hidden and batches[-1] and not batches[-1][-1].get("hidden"):
            batches.append([])
        batches[-1].append(call)
    return batches


class _Elsewhere:
    """Keep a child off this thread's CPU while both have work, when another CPU may run it.

    Writing to a pipe wakes its reader on the writer's CPU (a "sync" wake-up: the kernel expects
    the writer to wait for the answer now), however many CPUs are idle. While the worker does
    its own work as the child starts on a job, both would then take turns on one CPU. Only a
    hint: where this process may not move the child, or this is its only CPU, nothing changes.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.allowed: set[int] = set()
        try:
            allowed = os.sched_getaffinity(pid)
            others = allowed - {_libc.sched_getcpu()}
            if pid > 0 and others and others != allowed:
                os.sched_setaffinity(pid, others)
                self.allowed = allowed
        except OSError:
            pass

    def end(self) -> None:
        """Let the child run on every CPU it could before (the worker waits from now on)."""
        if self.allowed:
            try:
                os.sched_setaffinity(self.pid, self.allowed)
            except OSError:
                pass
            self.allowed = set()


class _JobWriter:
    """Write frames to the child's job pipe without blocking, while its answers are being read.

    A batch can be larger than the pipes hold: the child answers the first calls while the worker
    is still writing the last ones, so the worker writes only when the pipe has room (the reader
    asks) and never waits on a full job pipe while the child waits on a full result pipe.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        os.set_blocking(fd, False)
        self.pending: list[memoryview] = []
        self.last = False

    def send(self, frames: list[bytes], *, last: bool) -> None:
        """Queue frames and write what fits now; after the last batch, close once all is written."""
        self.pending.extend(memoryview(frame) for frame in frames)
        self.last = last
        self.flush()

    def waiting(self) -> bool:
        """Say whether some frames are still to be written."""
        return bool(self.pending) and self.fd >= 0

    def flush(self) -> None:
        """Write as much as the pipe takes now; when the job is all written, close the pipe.

        Closing early lets the child end as soon as it has answered its last call, while the
        worker still reads its answers. A child that is gone takes nothing more (the zygote
        says why it ended).
        """
        while self.pending and self.fd >= 0:
            try:
                # All frames in one call: the child wakes once, to a whole batch.
                written = os.writev(self.fd, self.pending[:IOV_MAX])
            except BlockingIOError:
                return
            except BrokenPipeError:
                self.pending.clear()
                break
            while written and self.pending:
                taken = min(written, len(self.pending[0]))
                written -= taken
                self.pending[0] = self.pending[0][taken:]
                if not self.pending[0]:
                    self.pending.pop(0)
        if self.last and not self.pending:
            self.close()

    def close(self) -> None:
        """Close the job pipe (once): the child reads the end of its job."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class _AnswerReader:
    """Read the child's frames one at a time, within a deadline and a cap on all bytes read."""

    def __init__(self, fd: int, cap: int, deadline: float, writer: _JobWriter) -> None:
        self.fd = fd
        self.deadline = deadline
        self.limits = WireLimits(max_total_bytes=cap)
        self.total = 0
        self.writer = writer

    def read(self, count: int) -> bytes:
        """Return count bytes, or fewer when the child ends its output or the deadline passes.

        While waiting, write whatever part of the job the child's pipe has room for.
        """
        chunks: list[bytes] = []
        while count > 0:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                break
            writable = [self.writer.fd] if self.writer.waiting() else []
            ready, room, _ = select.select([self.fd], writable, [], remaining)
            if room:
                self.writer.flush()
            if not ready:
                if room:
                    continue
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
