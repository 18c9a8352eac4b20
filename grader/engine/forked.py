"""The fork server: run each check in a forked child of a warm process, under limits.

The parent (a Celery worker or the CLI) runs a grader's warm-up callable once (`warm_up(prepare)`;
the symbolic grader's imports and exercises SymPy, NumPy and the printers); each check forks, so
it starts warm (~ms instead of ~1 s for a fresh interpreter). The child sets RLIMIT_AS, computes,
writes its result to a pipe as JSON and leaves with os._exit, so no atexit handler, Django
connection or buffered file of the parent runs in it.
The parent waits on the pipe until a hard deadline and then SIGKILLs the child: SIGALRM alone
cannot stop C code or a child that ignores signals.

Two entry points: run_in_child(compute) forks when called; run_job(name, payload) hands a JSON
job to a child forked ahead of time (one per check, never reused) and forks the next one while
this one computes, which takes the fork off the check's latency. Register jobs at import time
(register_job), before the first spare is forked. Without an explicit deadline and memory budget,
a child gets the engine's symbolic ones (grader.engine.config).
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import resource
import select
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grader.engine.config import engine_config

_PR_SET_PDEATHSIG = 1
_warmed: set[Callable[[], object]] = set()  # the warm-up callables this process has run


def warm_up(prepare: Callable[[], object]) -> None:
    """Run prepare() once in this process, then freeze the warm objects: children start warm.

    prepare imports and exercises what the checks will use (each grader passes its own). Call it
    once in the parent; graders call it lazily before their first job. gc.freeze() moves the warm
    objects out of the collector's sight, so forked children do not touch (and copy) those pages
    when they collect garbage.
    """
    if prepare in _warmed:
        return
    prepare()
    gc.collect()
    gc.freeze()
    _warmed.add(prepare)


@dataclass
class ChildOutcome:
    """What came back from one child: a result, or why there is none."""

    result: dict[str, Any] | None = None
    failure: str | None = None  # "timeout" | "memory" | "crashed"
    detail: str = ""


def _address_space_now() -> int:
    try:
        # Bytes, not text: the child runs this first, and a text codec would be imported there.
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _child_prepare() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    # The check is short and the child exits at once: cyclic garbage is freed by exiting, and a
    # collection would only touch (and copy) pages shared with the parent.
    gc.disable()


def _child_limit(memory_mb: int) -> None:
    budget = _address_space_now() + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (budget, budget))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _child_run(compute: Callable[[], dict[str, Any]], write_end: int) -> None:
    """Compute in the child and write the JSON result (or why there is none) to the pipe."""
    payload: dict[str, Any]
    try:
        payload = {"result": compute()}
    except MemoryError:
        payload = {"failure": "memory"}
    except RecursionError:
        payload = {"failure": "memory", "detail": "recursion"}
    except BaseException as exc:  # noqa: BLE001 - every failure must reach the parent
        payload = {"failure": "crashed", "detail": f"{type(exc).__name__}: {exc}"[:2000]}
    _write_all(write_end, json.dumps(payload).encode())


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def run_in_child(
    compute: Callable[[], dict[str, Any]],
    *,
    deadline_s: float | None = None,
    memory_mb: int | None = None,
) -> ChildOutcome:
    """Run compute() in a forked child and return its JSON-able dict, or why there is none."""
    config = engine_config()
    deadline_s = config.symbolic_timeout_s if deadline_s is None else deadline_s
    memory_mb = config.memory_mb if memory_mb is None else memory_mb
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return from here
        code = 0
        try:
            os.close(read_end)
            _child_prepare()
            _child_limit(memory_mb)
            _child_run(compute, write_end)
        except BaseException:  # noqa: BLE001
            code = 70
        finally:
            os._exit(code)
    os.close(write_end)
    return _collect(pid, read_end, time.monotonic() + deadline_s)


# --- named jobs in a child forked ahead of time --------------------------------------------------

JOBS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def register_job(name: str, function: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Make function(payload) -> dict runnable by name in a child (see run_job)."""
    JOBS[name] = function


@dataclass
class _Spare:
    pid: int
    job_end: int  # the parent writes the job here
    result_end: int  # and reads the result here
    owner: int  # the pid of the process that forked it
    jobs: frozenset[str]  # the jobs registered when it was forked: all it can run


_spare: _Spare | None = None
_spare_lock = threading.Lock()


def _fork_spare() -> _Spare:
    job_read, job_write = os.pipe()
    result_read, result_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: wait for one job, run it, leave
        code = 0
        try:
            os.close(job_write)
            os.close(result_read)
            _child_prepare()
            job = json.loads(_read_all(job_read))
            _child_limit(int(job["memory_mb"]))
            function = JOBS[job["name"]]
            _child_run(lambda: function(job["payload"]), result_write)
        except BaseException:  # noqa: BLE001
            code = 70
        finally:
            os._exit(code)
    os.close(job_read)
    os.close(result_write)
    return _Spare(pid, job_write, result_read, os.getpid(), frozenset(JOBS))


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def _discard(spare: _Spare) -> None:
    for fd in (spare.job_end, spare.result_end):
        try:
            os.close(fd)
        except OSError:
            pass
    if spare.owner == os.getpid():
        try:
            os.kill(spare.pid, signal.SIGKILL)
            os.waitpid(spare.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def _take_spare(name: str) -> _Spare:
    global _spare
    with _spare_lock:
        spare, _spare = _spare, None
    if spare is not None and spare.owner != os.getpid():
        spare = None  # inherited from the process we were forked from: not ours to use
    elif spare is not None and name not in spare.jobs:
        _discard(spare)  # forked before this job was registered
        spare = None
    return spare if spare is not None else _fork_spare()


def _replenish() -> None:
    global _spare
    with _spare_lock:
        if _spare is None or _spare.owner != os.getpid():
            _spare = _fork_spare()


def run_job(
    name: str,
    payload: dict[str, Any],
    *,
    deadline_s: float | None = None,
    memory_mb: int | None = None,
) -> ChildOutcome:
    """Run the registered job `name` on payload in its own child, forked ahead of time.

    Each job gets a fresh child (one per check, never reused), forked from the warm parent
    before the job arrived: the fork is off the check's critical path, because the next spare
    is forked while this child computes. The limits apply from the moment the job is sent.
    """
    config = engine_config()
    deadline_s = config.symbolic_timeout_s if deadline_s is None else deadline_s
    memory_mb = config.memory_mb if memory_mb is None else memory_mb
    job = json.dumps(
        {"name": name, "payload": payload, "memory_mb": memory_mb}, default=str
    ).encode()
    for attempt in range(2):
        spare = _take_spare(name)
        deadline = time.monotonic() + deadline_s
        try:
            _write_all(spare.job_end, job)
            os.close(spare.job_end)
        except OSError:  # the spare died while waiting (killed from outside): use a fresh one
            _discard(spare)
            if attempt == 1:
                raise
            continue
        _replenish()
        return _collect(spare.pid, spare.result_end, deadline)
    raise AssertionError("unreachable")


def _collect(pid: int, read_end: int, deadline: float) -> ChildOutcome:
    chunks: list[bytes] = []
    timed_out = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([read_end], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
        if timed_out:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:  # a SIGCHLD handler in the parent reaped it first
            status = 0
    if timed_out:
        return ChildOutcome(failure="timeout")
    try:
        payload = json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError):
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGKILL, signal.SIGSEGV):
            return ChildOutcome(failure="memory", detail=f"signal {os.WTERMSIG(status)}")
        return ChildOutcome(failure="crashed", detail=f"no result (status {status})")
    if "result" in payload:
        return ChildOutcome(result=payload["result"])
    return ChildOutcome(failure=payload.get("failure", "crashed"), detail=payload.get("detail", ""))
