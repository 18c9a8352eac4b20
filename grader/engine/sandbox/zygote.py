"""The zygote: a clean interpreter with NumPy warm that forks one locked-down child per submission.

Started by exec from grader.engine.sandbox.worker with a scrubbed environment. It never reads job
data: it forks the next child ahead of time (the child locks itself down, see lockdown, then
blocks on its job pipe), hands the worker the job pipe's write end and the result pipe's read end
over a Unix socket, enforces the wall-clock deadline from the worker's "go", reaps, and reports
the exit status and the kernel's CPU accounting.
"""

from __future__ import annotations

import ctypes
import fcntl
import gc
import json
import os
import select
import shutil
import signal
import socket
import sys
import sysconfig
import tempfile
import time
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.engine.sandbox import runtime, wire
from grader.engine.sandbox.lockdown import READY, Jail, child_main
from grader.engine.sandbox.probes import probe_layers
from grader.engine.sandbox.seccomp import PreparedFilter

# Modules a submission may import: loaded here once, not in every child. NumPy also imports some
# of its own parts on first use (np.median and np.quantile load numpy.ma, np.char and np.strings
# their string helpers): those are loaded here too. (A child can read the interpreter's library
# and NumPy in its own root, root_binds, but loading them there would cost every job the time.)
PRELOADED_MODULES = (
    "numpy",
    "numpy.linalg",
    "numpy.random",
    "numpy.fft",
    "numpy.ma",
    "numpy.ma.extras",
    "numpy.polynomial",
    "numpy.char",
    "numpy.strings",
    "numpy.lib.stride_tricks",
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
# Children kept ready: the one handed over for the worker's next job, and spares.
SPARE_CHILDREN = 2
SETUP_TIMEOUT_S = 10.0
LIMIT_KEYS = ("memory_mb", "file_mb", "require_full", "cpu_s")
# What the command line of every live zygote holds (the worker's ZYGOTE_BOOTSTRAP ends with it):
# never change it, or zygotes of different versions on one machine remove each other's folders.
ZYGOTE_MARKER = b"sandbox_zygote"


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


def root_binds(project_root: str) -> tuple[list[str], list[str]]:
    """Return what a child's own root holds, and the folders beneath those it finds empty.

    It holds the interpreter's library, NumPy and two devices:

    The interpreter's standard library (a submission may import a module not preloaded), NumPy's
    folder and the libraries its wheel vendors beside it (numpy.libs), every folder of a shared
    library this process has mapped (the C library, NumPy's BLAS), /dev/null and /dev/urandom.
    Never the project, the rest of the virtualenv, or a folder holding either; the interpreter's
    own package folders (site-packages beneath its library) are covered empty. (A NumPy installed
    inside the standard library's folder, with no virtualenv, cannot be shown alone: the child
    then fails to build its root and the probe reports why.)
    """
    numpy_folder = os.path.dirname(os.path.realpath(np.__file__))
    site_packages = os.path.dirname(numpy_folder)
    numpy_parts = (numpy_folder, os.path.join(site_packages, "numpy.libs"))
    # NumPy also at the path this interpreter imported it from (through a symlinked virtualenv,
    # say): its lazy imports look there.
    seen_folder = os.path.dirname(os.path.abspath(np.__file__))
    seen_parts = (seen_folder, os.path.join(os.path.dirname(seen_folder), "numpy.libs"))
    base = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}
    package_folders = {
        os.path.realpath(sysconfig.get_path(kind, vars=vars_))
        for kind in ("purelib", "platlib")
        for vars_ in (base, None)
    }
    candidates = {sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib"), *numpy_parts}
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[5].startswith("/") and ".so" in fields[5]:
                candidates.add(os.path.dirname(fields[5].strip()))
    private = (os.path.realpath(project_root), site_packages)
    chosen: list[str] = []
    for path in sorted({os.path.realpath(p) for p in candidates if os.path.exists(p)}):
        is_numpy = any(_within(path, part) for part in numpy_parts)
        near_private = any(_within(path, x) or _within(x, path) for x in private)
        if (near_private and not is_numpy) or any(_within(path, other) for other in chosen):
            continue
        chosen.append(path)
    chosen += [part for part in seen_parts if part not in chosen and os.path.exists(part)]
    hidden = sorted(
        folder
        for folder in package_folders
        if os.path.isdir(folder) and any(_within(folder, bind) for bind in chosen)
    )
    return [*chosen, "/dev/null", "/dev/urandom"], hidden


def _within(path: str, folder: str) -> bool:
    """Say whether path is folder or lies beneath it."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


class Zygote:
    """The long-lived parent of every sandboxed child of one worker."""

    def __init__(self, control: socket.socket, config: dict[str, Any]) -> None:
        self.control = control
        self.pid = os.getpid()
        sandbox_uid = config.get("sandbox_uid")
        self.sandbox_uid: int | None = sandbox_uid if isinstance(sandbox_uid, int) else None
        self.scratch_base = tempfile.mkdtemp(prefix=f"chainrule-sandbox-{os.getpid()}-")
        _remove_stale_scratch(os.path.dirname(self.scratch_base))
        os.chmod(self.scratch_base, 0o711)  # noqa: S103 - children (another uid) must reach their own folder
        binds, hidden = root_binds(str(config["project_root"]))
        self.layers = probe_layers(
            self.sandbox_uid,
            root_binds=binds,
            root_hidden=hidden,
            project_root=str(config["project_root"]),
        )
        self.spares: list[Spare] = []
        self.jail = Jail(
            zygote_pid=self.pid,
            layers=self.layers,
            sandbox_uid=self.sandbox_uid,
            # Landlock's rules name paths as the child's root shows them: the binds are there.
            read_only=list(dict.fromkeys([*_read_only_paths(str(config["project_root"])), *binds])),
            seccomp_filter=PreparedFilter(),
            root_binds=binds,
            root_hidden=hidden,
        )

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
                    self.run(request)
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
        try:
            if fds:
                socket.send_fds(self.control, [data], fds)
            else:
                self.control.sendall(data)
        except OSError:
            raise WorkerGone from None

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
            warm_spare()
            child_main(self.jail, limits, job_read, result_write, status_write, scratch)
        for end in (job_read, result_write, status_write):
            os.close(end)
        return Spare(pid, os.pidfd_open(pid), job_write, result_read, status_read, scratch, limits)

    def _discard(self, spare: Spare) -> None:
        _kill(spare.pid, spare.pidfd)
        os.waitpid(spare.pid, 0)
        spare.close()
        _remove_scratch(spare.scratch)

    def run(self, request: dict[str, Any]) -> None:
        """Hand a locked-down child's pipes to the worker, enforce the deadline, report how it ended.

        Only a child that said it is locked down is handed over; when two in a row cannot lock
        themselves down, the answer is "setup_failed" and no part of the job has run. The worker
        asks for its next child as soon as a job is done, and says "go" with the job's deadline
        when the job starts: the deadline runs from then, and until then the child has no job.
        """
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
            self._send({"op": "setup_failed", "error": failure})
            return
        try:
            # The worker writes the job straight to the child and reads its results straight
            # back: the submission and its data never pass through this process.
            try:
                self._send(
                    {"op": "started", "pid": spare.pid}, [spare.job_write, spare.result_read]
                )
                spare.close_pipes()
                # Prepare the next job's child while the worker has yet to start this one: with
                # it ready, back-to-back jobs never wait for a child to lock itself down.
                while len(self.spares) < SPARE_CHILDREN - 1:
                    self.spares.append(self._prefork(request))
                timeout = self._await_go()
            except WorkerGone:
                _kill(spare.pid, spare.pidfd)
                os.waitpid(spare.pid, 0)
                raise
            started = time.perf_counter()
            outcome = self._await_child(spare.pid, spare.pidfd, timeout)
            outcome["wall_ms"] = (time.perf_counter() - started) * 1000
            outcome["op"] = "done"
            # The worker judges while this process tidies up (the folder is empty: the child's
            # files were in its own tmpfs, gone with it).
            self._send(outcome)
        finally:
            spare.close()
            _remove_scratch(spare.scratch)

    def _await_go(self) -> float:
        """Wait for the worker to start the job it holds the child for; return its deadline.

        When the worker closes the socket or breaks the protocol instead, the zygote ends.
        """
        try:
            message = self.control.recv(65536)
            go = json.loads(message) if message else {}
        except (OSError, ValueError):
            go = {}
        if go.get("op") != "go":
            raise WorkerGone
        return float(go.get("timeout", 10.0))

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
            ready, _, _ = select.select([pidfd, self.control.fileno()], [], [], remaining)
            if pidfd in ready:
                break
            if self.control.fileno() in ready:
                # The worker writes mid-job only once it has read every answer (it asks for its
                # next child), or when it closed the socket or broke the protocol: in every case
                # this child ends now; a request waits in the socket until this one is reported.
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


def _remove_scratch(scratch: str) -> None:
    """Remove a child's scratch folder, usually empty here: its files were in its private tmpfs."""
    try:
        os.rmdir(scratch)
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)


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
                if ZYGOTE_MARKER in cmdline.read():
                    continue  # a live zygote's folder
        except OSError:
            pass
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)


def _has_exited(pidfd: int) -> bool:
    ready, _, _ = select.select([pidfd], [], [], 0)
    return bool(ready)


def _kill(pid: int, pidfd: int) -> None:
    """SIGKILL the child's process group, and the child itself through its pidfd."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# --- the child -----------------------------------------------------------------------------------


def warm_numpy() -> None:
    """Touch the NumPy code paths submissions use so each child starts hot."""
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(64, 64))
    (matrix @ matrix.T).sum()
    np.linalg.solve(matrix + 64 * np.eye(64), np.ones(64))
    np.exp(matrix).max(axis=1, keepdims=True)
    np.log1p(np.abs(matrix)).mean()
    np.einsum("ij,ij->i", matrix, matrix)
    np.where(matrix > 0, matrix, 0.0)
    np.allclose(matrix, matrix)


_libc = ctypes.CDLL(None)
# glibc's mallopt parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# Heap a spare touches before its job: what a typical job's arrays, their copies on the wire and
# their digests take (a large hidden test of 128 x 256 floats moves about 2 MiB through it).
PREFAULTED_HEAP_BYTES = 4 << 20


def _keep_freed_memory() -> None:
    """Serve this child's allocations from one heap that keeps the pages it has touched.

    By default glibc gives each block of 128 KiB or more its own mapping and unmaps it when freed:
    every array of a job, and every copy of it on the wire, then costs fresh page faults in a
    child that runs only one job. With mapping and trimming raised, a freed block's pages are
    reused; touching PREFAULTED_HEAP_BYTES here, while the spare waits, moves the first faults
    off the job's time. The child's address-space limit still caps what it can allocate.
    """
    _libc.mallopt(M_MMAP_THRESHOLD, ctypes.c_int(32 << 20))
    _libc.mallopt(M_TRIM_THRESHOLD, ctypes.c_int(64 << 20))
    block = np.ones(PREFAULTED_HEAP_BYTES // 8)
    del block


def warm_spare() -> None:
    """Touch, in a spare child before any job exists, the pages every job touches.

    A forked child copies each page of the zygote's heap it first writes to (reference counts
    included): done here, while the spare waits, instead of during the job. The same code paths
    as a job's (NumPy, the wire both ways, a call and its digests) on small inputs of the grader's
    own: large arrays are fresh memory in any case, and would only cost time. Never raises: the child must not fall back into the zygote's loop.
    """
    try:
        _keep_freed_memory()
        warm_numpy()
        rng = np.random.default_rng(1)
        inputs = {"args": [rng.normal(size=(8, 16)), rng.normal(size=(8, 16))]}
        call = wire.decode(wire.encode(inputs))
        answer = runtime.run_call(lambda x, grad: grad * (x > 0), call)
        wire.decode(runtime.encode_answer(answer))
    except BaseException:  # noqa: BLE001,S110 - a cold child is only slower
        pass


def main() -> None:
    """Run the zygote: argv[1] is the control socket's descriptor, argv[2] the JSON config."""
    control = socket.socket(fileno=int(sys.argv[1]))
    config = json.loads(sys.argv[2])
    # ZYGOTE_BOOTSTRAP put the project and NumPy's folders on sys.path before importing this.
    for name in PRELOADED_MODULES:
        __import__(name)
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
