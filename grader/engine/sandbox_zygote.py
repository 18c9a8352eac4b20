"""The zygote: a clean interpreter with NumPy warm that forks one locked-down child per submission.

Started by exec from grader.engine.sandbox with a scrubbed environment. It never reads job data:
it forks the next child ahead of time (the child applies every isolation layer, then blocks on
its job pipe), hands the worker the job pipe's write end and the result pipe's read end over a
Unix socket, enforces the wall-clock deadline, reaps, and reports the exit status and the
kernel's CPU accounting. The child loads the source it is sent, reports on that, then answers
one call per frame until the worker closes the job pipe.
"""

from __future__ import annotations

import ctypes
import fcntl
import gc
import json
import linecache
import os
import resource
import select
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
import types
from dataclasses import dataclass
from typing import Any

# Modules a submission may import: loaded here, because the child may not be able to read them.
PRELOADED_MODULES = (
    "numpy",
    "numpy.linalg",
    "numpy.random",
    "numpy.fft",
    "math",
    "cmath",
    "itertools",
    "functools",
    "collections",
    "operator",
    "statistics",
    "random",
    "typing",
    "dataclasses",
    "heapq",
    "bisect",
    "fractions",
    "decimal",
    "string",
    "re",
    "time",
    "copy",
    "threading",
    "warnings",
    "hashlib",
    "socket",
    "encodings.idna",
    "glob",
)
SUBMISSION_FILENAME = "submission.py"
CLONE_NEWUSER = 0x10000000
CLONE_NEWNS = 0x00020000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x8, 0x4000, 0x40000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PR_GET_NO_NEW_PRIVS = 39
CHILD_SETUP_FAILED = 70
SPARE_CHILDREN = 2
JOB_FD = 3
RESULT_FD = 4
STATUS_FD = 5
READY = b"ready"
SETUP_TIMEOUT_S = 10.0
MAX_JOB_BYTES = 64 * 1024 * 1024
# Checked per answer (approximately), below the worker's 64 MiB cap on all answers of a run.
MAX_RESULT_BYTES = 48 * 1024 * 1024
LIMIT_KEYS = ("memory_mb", "file_mb", "require_full", "cpu_s")
# The bases describe_exception() names when the exception is an instance of one.
DESCRIBED_BASES = (MemoryError, PermissionError, ImportError, SystemExit, RecursionError)

_libc = ctypes.CDLL(None, use_errno=True)


def _unshare(flags: int) -> None:
    if _libc.unshare(ctypes.c_int(flags)) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"unshare: {os.strerror(error)}")


def _mount(
    source: bytes, target: bytes, fstype: bytes | None, flags: int, data: bytes | None
) -> None:
    if _libc.mount(source, target, fstype, ctypes.c_ulong(flags), data) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount {target.decode(errors='replace')}: {os.strerror(error)}")


def make_private_scratch(scratch: str, *, owner_uid: int | None, size_mb: int) -> None:
    """Mount a size-capped tmpfs over scratch in a mount namespace of this process's own.

    As root a mount namespace suffices; otherwise this process first enters a user namespace
    that maps its own uid and gid to themselves, so files it creates keep a valid owner.
    """
    if os.geteuid() == 0:
        _unshare(CLONE_NEWNS)
    else:
        uid, gid = os.getuid(), os.getgid()
        _unshare(CLONE_NEWUSER | CLONE_NEWNS)
        for name, text in (
            ("setgroups", "deny"),
            ("uid_map", f"{uid} {uid} 1"),
            ("gid_map", f"{gid} {gid} 1"),
        ):
            with open(f"/proc/self/{name}", "w") as mapping:
                mapping.write(text)
    _mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None)
    options = f"size={size_mb}m,mode=0700,nr_inodes=4096"
    if os.geteuid() == 0 and owner_uid is not None:
        options += f",uid={owner_uid},gid={owner_uid}"
    _mount(b"tmpfs", scratch.encode(), b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options.encode())


def _probe_in_child(action: Any) -> str | bool:
    """Run action in a forked child; return True when it succeeded, else its error in words."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(reader)
            action()
            os.write(writer, b"ok")
        except BaseException as error:  # noqa: BLE001 - any failure means the layer is missing
            os.write(writer, (str(error) or type(error).__name__).encode()[:200])
        finally:
            os._exit(0)
    os.close(writer)
    answer = os.read(reader, 256).decode(errors="replace")
    os.close(reader)
    os.waitpid(pid, 0)
    return True if answer == "ok" else (answer or "the probe failed")


def probe_private_scratch() -> str | bool:
    """Return True when a child can mount a private tmpfs scratch folder, else the reason."""
    folder = tempfile.mkdtemp(prefix="chainrule-probe-")

    def mount_and_write() -> None:
        make_private_scratch(folder, owner_uid=None, size_mb=1)
        with open(os.path.join(folder, "probe"), "w") as probe:
            probe.write("ok")
        if os.path.exists(os.path.join(folder, "..", os.path.basename(folder), "probe")) is False:
            raise OSError("tmpfs not visible at the scratch path")

    try:
        return _probe_in_child(mount_and_write)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def probe_network_namespace(sandbox_uid: int | None) -> str | bool:
    """Return True when a forked child can get its own network namespace, else the reason."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        try:
            if os.getuid() == 0:
                _unshare(CLONE_NEWNET)
            else:
                _unshare(CLONE_NEWUSER | CLONE_NEWNET)
            os.write(writer, b"ok")
        except OSError as error:
            os.write(writer, str(error).encode()[:200])
        os._exit(0)
    os.close(writer)
    answer = os.read(reader, 256).decode(errors="replace")
    os.close(reader)
    os.waitpid(pid, 0)
    return True if answer == "ok" else (answer or "unshare failed")


def probe_rlimits() -> str | bool:
    """Return True when a child can set the limits a sandboxed child sets, else the reason."""
    return _probe_in_child(_check_rlimits)


def probe_no_new_privs() -> str | bool:
    """Return True when a child can set NO_NEW_PRIVS and reads it back, else the reason."""
    return _probe_in_child(_check_no_new_privs)


def _check_rlimits() -> None:
    """Set limits the way a child does and check that the kernel holds and enforces them."""
    wanted = _child_rlimits(cpu_seconds=5, memory_mb=1024, file_mb=1)
    for kind, limit in wanted.items():
        resource.setrlimit(kind, limit)
        if resource.getrlimit(kind) != limit:
            raise OSError(f"rlimit {kind} reads back as {resource.getrlimit(kind)}")
    opened = []
    try:
        for _ in range(40):
            opened.append(os.open("/dev/null", os.O_RDONLY))
    except OSError:
        return  # EMFILE before the 32nd descriptor: the limit holds
    finally:
        for fd in opened:
            os.close(fd)
    raise OSError("RLIMIT_NOFILE did not stop 40 open files")


def _check_no_new_privs() -> None:
    from grader.engine import sandbox_seccomp

    sandbox_seccomp.set_no_new_privs()
    if _libc.prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1:
        raise OSError("NO_NEW_PRIVS does not read back as set")


def probe_unprivileged_uid(sandbox_uid: int | None) -> str | bool:
    """Return True when a child runs as a uid other than root that cannot regain root or fork.

    As root the child drops to sandbox_uid exactly as a sandboxed child does; otherwise it keeps
    the worker's own uid. Either way it then checks every id, setuid(0) and RLIMIT_NPROC.
    """
    if os.getuid() == 0 and sandbox_uid is None:
        return "no sandbox uid configured"

    def drop_and_check() -> None:
        if os.getuid() == 0:
            assert sandbox_uid is not None
            _drop_to_uid(sandbox_uid)
        ids = (*os.getresuid(), *os.getresgid())
        if 0 in ids or 0 in os.getgroups():
            raise OSError(f"the child still has a root id: {ids}")
        try:
            os.setuid(0)
        except PermissionError:
            pass
        else:
            raise OSError("the child could become root again")
        resource.setrlimit(resource.RLIMIT_NPROC, (1, 1))
        try:
            pid = os.fork()
        except OSError:
            return  # one process per uid: no fork, no threads
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        raise OSError("RLIMIT_NPROC did not stop a fork")

    return _probe_in_child(drop_and_check)


def probe_layers(sandbox_uid: int | None) -> dict[str, bool | str]:
    """Return which isolation layers this machine supports: True, or the reason it does not."""
    from grader.engine import sandbox_landlock, sandbox_seccomp

    layers: dict[str, bool | str] = {}
    layers["network_namespace"] = probe_network_namespace(sandbox_uid)
    layers["private_scratch_tmpfs"] = probe_private_scratch()
    layers["rlimits"] = probe_rlimits()
    layers["unprivileged_uid"] = probe_unprivileged_uid(sandbox_uid)
    layers["no_new_privs"] = probe_no_new_privs()
    abi = sandbox_landlock.abi_version()
    layers["landlock"] = True if abi >= 1 else "Landlock is not enabled in this kernel"
    layers["landlock_abi"] = str(abi)
    layers["landlock_network"] = True if abi >= 4 else f"Landlock ABI {abi} cannot restrict TCP"
    layers["landlock_signals"] = True if abi >= 6 else f"Landlock ABI {abi} cannot scope signals"
    reason = sandbox_seccomp.supported_reason()
    layers["seccomp"] = True if reason is None else reason
    return layers


def _read_only_paths(project_root: str) -> list[str]:
    """Return the library folders a child may read: the interpreter's and the system's, never the project's."""
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    candidates.update(path for path in sys.path if path and os.path.isdir(path))
    candidates.update(
        ["/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib", "/usr/share/zoneinfo"]
    )
    root = os.path.realpath(project_root)
    paths = []
    for path in sorted(candidates):
        real = os.path.realpath(path)
        # Granting a folder grants everything beneath it: never the project or one of its parents.
        if (
            real == root
            or root.startswith(real.rstrip(os.sep) + os.sep)
            or real == tempfile.gettempdir()
        ):
            continue
        paths.append(real)
    paths.append("/dev/null")
    paths.append("/dev/urandom")
    return list(dict.fromkeys(paths))


class Zygote:
    """The long-lived parent of every sandboxed child of one worker."""

    def __init__(self, control: socket.socket, config: dict[str, Any]) -> None:
        self.control = control
        self.pid = os.getpid()
        self.sandbox_uid: int | None = config.get("sandbox_uid")
        self.project_root: str = config["project_root"]
        self.scratch_base = tempfile.mkdtemp(prefix=f"chainrule-sandbox-{os.getpid()}-")
        _remove_stale_scratch(os.path.dirname(self.scratch_base))
        os.chmod(self.scratch_base, 0o711)  # noqa: S103 - children (another uid) must reach their own folder
        self.layers = probe_layers(self.sandbox_uid)
        self.spares: list[Spare] = []
        from grader.engine.sandbox_seccomp import PreparedFilter

        self.seccomp_filter = PreparedFilter()
        self.read_only = _read_only_paths(self.project_root)

    def serve(self) -> None:
        """Answer run requests until the worker closes the control socket."""
        self._send(
            {
                "op": "hello",
                "pid": os.getpid(),
                "layers": self.layers,
                "python": sys.version,
                "scratch_base": self.scratch_base,
            }
        )
        try:
            while True:
                message = self.control.recv(65536)
                if not message:
                    return
                request = json.loads(message)
                if request.get("op") == "run":
                    self._send(self.run(request))
                    # Prepare the next children while the worker reads this verdict: with two
                    # ready, back-to-back jobs never wait for a child to lock itself down.
                    while len(self.spares) < SPARE_CHILDREN:
                        self.spares.append(self._prefork(request))
                else:
                    self._send({"op": "pong", "pid": os.getpid()})
        except WorkerGone:
            return
        finally:
            while self.spares:
                self._discard(self.spares.pop())
            shutil.rmtree(self.scratch_base, ignore_errors=True)

    def _send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        data = json.dumps(message).encode()
        if fds:
            socket.send_fds(self.control, [data], fds)
        else:
            self.control.sendall(data)

    def _prefork(self, request: dict[str, Any]) -> Spare:
        """Fork a child that locks itself down now and then waits for its job on a pipe."""
        scratch = tempfile.mkdtemp(prefix="job-", dir=self.scratch_base)
        if os.getuid() == 0 and self.sandbox_uid is not None:
            os.chown(scratch, self.sandbox_uid, self.sandbox_uid)
        job_read, job_write = os.pipe()
        result_read, result_write = os.pipe()
        status_read, status_write = os.pipe()
        for end in (job_write, result_read):
            _widen_pipe(end)
        limits = {key: request.get(key) for key in LIMIT_KEYS}
        pid = os.fork()
        if pid == 0:
            for end in (job_write, result_read, status_read):
                os.close(end)
            _child_main(
                self, limits, job_read, result_write, status_write, scratch
            )  # never returns
        for end in (job_read, result_write, status_write):
            os.close(end)
        return Spare(pid, os.pidfd_open(pid), job_write, result_read, status_read, scratch, limits)

    def _discard(self, spare: Spare) -> None:
        _kill(spare.pid, spare.pidfd)
        os.waitpid(spare.pid, 0)
        spare.close()
        shutil.rmtree(spare.scratch, ignore_errors=True)

    def run(self, request: dict[str, Any]) -> dict[str, Any]:
        """Hand a locked-down child's pipes to the worker, enforce the deadline, report how it ended.

        Only a child that said it is locked down is handed over; when two in a row cannot lock
        themselves down, the answer is "setup_failed" and no part of the job has run.
        """
        started = time.perf_counter()
        limits = {key: request.get(key) for key in LIMIT_KEYS}
        spare = None
        failure = ""
        for _ in range(2):
            spare = self._ready_spare(request, limits)
            failure = spare.await_ready()
            if not failure:
                break
            self._discard(spare)
            spare = None
        if spare is None:
            return {"op": "setup_failed", "error": failure}
        try:
            # The worker writes the job straight to the child and reads its results straight
            # back: the submission and its data never pass through this process.
            self._send({"op": "started", "pid": spare.pid}, [spare.job_write, spare.result_read])
            spare.close_pipes()
            outcome = self._await_child(spare.pid, spare.pidfd, float(request.get("timeout", 10.0)))
        finally:
            spare.close()
            shutil.rmtree(spare.scratch, ignore_errors=True)
        outcome["wall_ms"] = (time.perf_counter() - started) * 1000
        outcome["op"] = "done"
        return outcome

    def _ready_spare(self, request: dict[str, Any], limits: dict[str, Any]) -> Spare:
        """Return a pre-forked child made with these limits, forking a new one when none is left."""
        while self.spares:
            candidate = self.spares.pop(0)
            if candidate.limits == limits and not _has_exited(candidate.pidfd):
                return candidate
            self._discard(candidate)
        return self._prefork(request)

    def _await_child(self, pid: int, pidfd: int, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        timed_out = False
        worker_gone = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([pidfd, self.control], [], [], remaining)
            if pidfd in ready:
                break
            if self.control in ready:
                # The worker never writes mid-job: readable means it closed the socket, or
                # broke the protocol; either way this child ends now.
                worker_gone = not self.control.recv(1, socket.MSG_PEEK)
                break
        if timed_out or worker_gone or not _has_exited(pidfd):
            _kill(pid, pidfd)
        _, status, usage = os.wait4(pid, 0)
        if worker_gone:
            raise WorkerGone
        outcome: dict[str, Any] = {
            "timed_out": timed_out,
            "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1000,
            "max_rss_kb": usage.ru_maxrss,
        }
        if os.WIFSIGNALED(status):
            outcome["signal"] = os.WTERMSIG(status)
            outcome["signal_name"] = signal.Signals(outcome["signal"]).name
        else:
            outcome["exit_code"] = os.WEXITSTATUS(status)
        return outcome


class WorkerGone(Exception):
    """The worker closed the control socket: the zygote ends with it."""


@dataclass
class Spare:
    """A forked, locked-down child waiting for its job, and the pipe ends the worker will get."""

    pid: int
    pidfd: int
    job_write: int
    result_read: int
    status_read: int
    scratch: str
    limits: dict[str, Any]

    def await_ready(self) -> str:
        """Read the child's set-up status to its end: "" when it is locked down, else why not.

        The child closes the status pipe before it can receive a job, so nothing the submission
        does can write here: a set-up failure is only ever reported on this pipe.
        """
        status = b""
        deadline = time.monotonic() + SETUP_TIMEOUT_S
        while (remaining := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.status_read], [], [], remaining)
            if not ready:
                return "the child did not finish locking itself down in time"
            chunk = os.read(self.status_read, 4096)
            if not chunk:
                break
            status += chunk
        os.close(self.status_read)
        self.status_read = -1
        if status == READY:
            return ""
        return status.decode(errors="replace")[:1000] or "the child ended while locking itself down"

    def close_pipes(self) -> None:
        for fd in (self.job_write, self.result_read, self.status_read):
            if fd >= 0:
                os.close(fd)
        self.job_write = self.result_read = self.status_read = -1

    def close(self) -> None:
        self.close_pipes()
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1


def _widen_pipe(fd: int) -> None:
    """Grow a pipe's buffer to 1 MiB so arrays cross in a few large copies, not many 64 KiB ones."""
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
    except OSError:
        pass  # a lower system maximum only costs speed


def _remove_stale_scratch(folder: str) -> None:
    """Remove the scratch folders of zygotes that were killed before they could clean up."""
    for entry in os.scandir(folder):
        parts = entry.name.split("-")
        if (
            not entry.name.startswith("chainrule-sandbox-")
            or len(parts) < 4
            or not parts[2].isdigit()
        ):
            continue
        pid = int(parts[2])
        if pid == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if b"sandbox_zygote" in cmdline.read():
                    continue  # a live zygote's folder
        except OSError:
            pass
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)


def _has_exited(pidfd: int) -> bool:
    ready, _, _ = select.select([pidfd], [], [], 0)
    return bool(ready)


def _kill(pid: int, pidfd: int) -> None:
    for target in (
        lambda: os.killpg(pid, signal.SIGKILL),
        lambda: signal.pidfd_send_signal(pidfd, signal.SIGKILL),
    ):
        try:
            target()
        except (ProcessLookupError, PermissionError):
            pass


# --- the child -----------------------------------------------------------------------------------


def _child_main(
    zygote: Zygote,
    request: dict[str, Any],
    job_fd: int,
    result_fd: int,
    status_fd: int,
    scratch: str,
) -> None:
    """Lock this freshly forked process down, say so, then read, run and answer one job; never return."""
    status = status_fd
    try:
        os.setsid()
        _arrange_descriptors(job_fd, result_fd, status_fd)
        status = STATUS_FD
        _lock_down(zygote, request, scratch)
    except BaseException as error:  # noqa: BLE001 - the child must never fall back into the zygote loop
        try:
            os.write(status, f"{type(error).__name__}: {error}".encode(errors="replace")[:1000])
        except BaseException:  # noqa: BLE001,S110
            pass
        os._exit(CHILD_SETUP_FAILED)
    try:
        # Closed before the job can arrive: from here on only the zygote's view of this process
        # (its exit and CPU time) and the result pipe speak for it.
        os.write(STATUS_FD, READY)
        os.close(STATUS_FD)
        _serve_job(JOB_FD, RESULT_FD)
    finally:
        os._exit(0)


def _arrange_descriptors(job_fd: int, result_fd: int, status_fd: int) -> None:
    """Leave only 0, 1 and 2 = /dev/null (until the scratch folder exists), 3 = job, 4 = result, 5 = status."""
    output = os.open("/dev/null", os.O_WRONLY)
    devnull = os.open("/dev/null", os.O_RDONLY)
    # Move the pipes above every fd we are about to reuse before placing them at 3, 4 and 5.
    job_high = os.dup(job_fd)
    result_high = os.dup(result_fd)
    status_high = os.dup(status_fd)
    for source, target in (
        (devnull, 0),
        (output, 1),
        (output, 2),
        (job_high, JOB_FD),
        (result_high, RESULT_FD),
        (status_high, STATUS_FD),
    ):
        os.dup2(source, target, inheritable=False)
    os.closerange(STATUS_FD + 1, 65536)


def _lock_down(zygote: Zygote, request: dict[str, Any], scratch: str) -> None:
    """Apply every isolation layer after the descriptors, in order."""
    from grader.engine import sandbox_landlock, sandbox_seccomp

    layers = zygote.layers
    required = bool(request.get("require_full", True))
    zygote_pid = zygote.pid
    as_root = os.geteuid() == 0
    in_own_user_namespace = False
    file_mb = int(request.get("file_mb", 16))
    if layers.get("private_scratch_tmpfs") is True:
        make_private_scratch(scratch, owner_uid=zygote.sandbox_uid, size_mb=2 * file_mb)
        in_own_user_namespace = not as_root
    scratch_fd = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    os.fchdir(scratch_fd)
    os.close(scratch_fd)
    # Printed output goes to a file in scratch, capped by RLIMIT_FSIZE below.
    output = os.open("output.txt", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    os.dup2(output, 1, inheritable=False)
    os.dup2(output, 2, inheritable=False)
    os.close(output)
    os.environ.clear()
    os.environ.update({"HOME": scratch, "TMPDIR": scratch, "OPENBLAS_NUM_THREADS": "1"})

    if layers.get("network_namespace") is True:
        _unshare(CLONE_NEWNET if as_root or in_own_user_namespace else CLONE_NEWUSER | CLONE_NEWNET)
    elif required:
        raise OSError("network namespace unavailable")

    limits = _child_rlimits(
        cpu_seconds=int(request.get("cpu_s") or 10) + 1,
        memory_mb=int(request.get("memory_mb", 1024)),
        file_mb=file_mb,
    )
    for kind, limit in limits.items():
        resource.setrlimit(kind, limit)

    if as_root:
        uid = zygote.sandbox_uid
        if uid is None:
            if required:
                raise OSError("running as root with no sandbox uid")
        else:
            _drop_to_uid(uid)
    # Threads count as processes: with one allowed, this uid can neither fork nor start threads.
    resource.setrlimit(resource.RLIMIT_NPROC, (1, 1))

    if _libc.prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), 0, 0, 0) != 0:
        raise OSError("PR_SET_PDEATHSIG failed")
    if os.getppid() != zygote_pid:
        os._exit(CHILD_SETUP_FAILED)

    sandbox_seccomp.set_no_new_privs()
    if layers.get("landlock") is True:
        abi = int(str(layers.get("landlock_abi", "0")))
        sandbox_landlock.restrict_self(read_only=zygote.read_only, writable=[scratch], abi=abi)
    elif required:
        raise OSError("Landlock unavailable")
    if layers.get("seccomp") is True:
        zygote.seccomp_filter.install(os.getpid())
    elif required:
        raise OSError("seccomp unavailable")


def _child_rlimits(*, cpu_seconds: int, memory_mb: int, file_mb: int) -> dict[int, tuple[int, int]]:
    """Return the resource limits a sandboxed child sets, by kind."""
    address_space = _current_vm_size() + memory_mb * 1024 * 1024
    return {
        resource.RLIMIT_CPU: (cpu_seconds, cpu_seconds + 1),
        resource.RLIMIT_AS: (address_space, address_space),
        resource.RLIMIT_FSIZE: (file_mb * 1024 * 1024,) * 2,
        resource.RLIMIT_NOFILE: (32, 32),
        resource.RLIMIT_CORE: (0, 0),
    }


def _drop_to_uid(uid: int) -> None:
    """Give up root for uid: no supplementary groups, and uid as every user and group id."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def _current_vm_size() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 512 * 1024 * 1024


def _write_all(fd: int, data: bytes) -> None:
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


def _serve_job(job_fd: int, result_fd: int) -> None:
    """Load the submission and report on it; then answer one call per frame until the job ends.

    The worker sends a call only after it has read the answer to the previous one, and the source
    before any call: what the code sends back at load time, or from one call, cannot contain the
    inputs of a call it has not been given yet.
    """
    from grader.engine.sandbox_wire import WireError, WireLimits, encode, read_value

    limits = WireLimits(max_total_bytes=MAX_JOB_BYTES)
    ended = object()

    def next_job_value() -> Any:
        return read_value(lambda count: _read_exactly(job_fd, count), limits, ended)

    job = next_job_value()
    if job is ended:  # the worker sends the source first: a job pipe that ends before it is bad
        raise WireError("bad frame magic")
    function, report = load_submission(job["source"], job["function"])
    _write_all(result_fd, encode(report))
    if function is None:
        return
    while (call := next_job_value()) is not ended:
        _write_all(result_fd, encode_answer(run_call(function, call)))


def load_submission(source: str, function_name: str) -> tuple[Any, dict[str, Any]]:
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


def run_call(function: Any, call: dict[str, Any]) -> dict[str, Any]:
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
    from grader.engine.sandbox_wire import encode

    too_large = {
        "error": {
            "type": "OutputTooLarge",
            "base": "OutputTooLarge",
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
    reveal accidental in-place changes, not deliberate ones (see code._mutation).
    """
    import hashlib

    import numpy as np

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


def warm_numpy() -> None:
    """Touch the NumPy code paths submissions use so each child starts hot."""
    import numpy as np

    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(64, 64))
    (matrix @ matrix.T).sum()
    np.linalg.solve(matrix + 64 * np.eye(64), np.ones(64))
    np.exp(matrix).max(axis=1, keepdims=True)
    np.log1p(np.abs(matrix)).mean()
    np.einsum("ij,ij->i", matrix, matrix)
    np.where(matrix > 0, matrix, 0.0)
    np.allclose(matrix, matrix)


def main() -> None:
    """Run the zygote: argv[1] is the control socket's descriptor, argv[2] the JSON config."""
    control = socket.socket(fileno=int(sys.argv[1]))
    config = json.loads(sys.argv[2])
    for path in config.get("library_paths", []):
        if path not in sys.path:
            sys.path.append(path)
    for name in PRELOADED_MODULES:
        __import__(name)
    from grader.engine import sandbox_landlock, sandbox_seccomp, sandbox_wire  # noqa: F401

    warm_numpy()
    # The project root was only needed to import the engine: children must not find it.
    sys.path[:] = [
        path
        for path in sys.path
        if os.path.realpath(path) != os.path.realpath(config["project_root"])
    ]
    gc.collect()
    gc.freeze()
    try:
        Zygote(control, config).serve()
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        raise
