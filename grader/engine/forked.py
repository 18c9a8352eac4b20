"""The fork server: run each check in a forked child of a warm process, under limits.

The parent (a Celery worker or the CLI) runs a grader's warm-up callable once (`warm_up(prepare)`;
the symbolic grader's imports and exercises SymPy, NumPy and the printers); children are forked
from it, so they start warm (~ms instead of ~1 s for a fresh interpreter). A child sets its
memory limit, computes, and writes its result to a pipe as JSON; it leaves with os._exit, so no
atexit handler, Django connection or buffered file of the parent runs in it. The parent waits on
the pipe until a hard deadline and then SIGKILLs the child: SIGALRM alone cannot stop C code or
a child that ignores signals.

Two entry points. run_in_child(compute) forks when called. run_job(name, payload) sends a JSON job
to a child forked ahead of time (a spare, forked while the previous job computes, so the fork is
off the check's latency). Register jobs at import time (register_job), before the first spare is
forked. Without an explicit deadline and memory budget, a job gets the engine's symbolic ones
(grader.engine.config).

A job registered without `reuse` runs in a child of its own that leaves after it. A job
registered with a Reuse runs in a child that stays for the next job of that name: a freshly
forked child pays for its first touches of the parent's memory (copy-on-write faults, cold
allocator) about twice the work itself; a child that has run a check before runs the next one at
about the speed of the same work in the parent. The child is bounded: it leaves after
`child_checks` jobs, after a job that left its resident memory more than `child_memory_mb` above
what it was forked with, and after any job that failed. Each job still has its own deadline (the
parent SIGKILLs that child, and only that child) and its own memory limit (RLIMIT_AS set to the
child's address space when the job arrives plus the job's budget).

Why nothing one job leaves in a reused child reaches the next. What survives a job in the
child's memory, and why it cannot change the next job's result:
- Seeded random generators (Python's `random`, and those the job's Reuse names: SymPy's two,
  NumPy's global one) and counters (SymPy's Dummy numbering): put back before every job to what
  they were when the child was forked, so every job starts from the same state as in a fresh child.
- Caches of results (SymPy's cache of constructed expressions and of every cached function that
  takes arguments): emptied by the Reuse's `reset` after every job, so the next job builds its own
  objects and never receives one another job built. This runs after the result is sent, off the
  check's latency. SymPy's cached functions without parameters (its tables of known facts and
  rewrite patterns) are kept: they take nothing from the job that first asked for them.
- Other memo tables (SymPy's polynomial rings by symbols, mpmath's digits of constants, the
  prime sieve) are keyed by exact values and hold facts (a ring over those symbols, the digits of
  pi, the primes) that do not depend on who computed them first: they change speed, never a
  result, and their growth counts towards the memory bound.
- Facts SymPy caches on long-lived objects (its singletons, module constants) are deductions that
  hold whoever asked; SymPy stores a fact only after deducing it, so a job interrupted mid-way
  (its audit's alarm, a RecursionError) leaves no false one.
- Process-wide settings (mpmath's precision, SymPy's evaluate and distribute flags, NumPy's error
  handling; here the recursion limit, the SIGALRM handler and timer, the threads, Python's warning
  filters) are read before the first job and after every job; any difference retires the child.
- Garbage is collected after every job (what the child was forked with is frozen, so this walks
  only the child's own); a job that raised, ran out of memory or time, or crashed retires the child.
A malicious answer cannot add to this list: the symbolic grader reads it with an allow-list
parser that builds SymPy objects itself (never eval, never sympify), under limits on length,
literal size and nesting, so an answer only chooses which allow-listed functions run on which
values; it cannot set a global, patch a function or write to a file. Each result is the one
frame the child writes after receiving its job, and a child that overran its deadline is killed
with its pipes, so no late result can be read as another job's.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import json
import os
import random
import resource
import select
import signal
import struct
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
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
    return _statm_bytes(0)


def _resident_now() -> int:
    return _statm_bytes(1)


_PAGE_BYTES = resource.getpagesize()


def _statm_bytes(field: int) -> int:
    """Return a field of /proc/self/statm (0: the address space, 1: the resident set) in bytes.

    statm rather than status: one line of numbers, a quarter of the cost to produce and read,
    and a reused child reads it around every check.
    """
    try:
        # Bytes, not text: the child runs this first, and a text codec would be imported there.
        statm = os.open("/proc/self/statm", os.O_RDONLY)
        try:
            fields = os.read(statm, 256).split()
        finally:
            os.close(statm)
        return int(fields[field]) * _PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0


def _child_prepare() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    # No automatic collection: it would touch (and copy) pages shared with the parent in the
    # middle of a check. A child that leaves after its check frees its garbage by exiting; a
    # reused one collects its own between checks, off the check's latency. Everything it was
    # forked with is frozen first (the parent's objects made since its warm-up: a worker's
    # database rows, its Celery state), so those collections walk only the child's own objects.
    gc.disable()
    gc.freeze()


def _child_limit(memory_mb: int) -> None:
    """Let this process's address space grow by memory_mb from now (the soft limit: it can be reset)."""
    budget = _address_space_now() + memory_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        budget = min(budget, hard)
    resource.setrlimit(resource.RLIMIT_AS, (budget, hard))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _child_payload(compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Compute in the child; return the result, or why there is none, as a JSON-able dict."""
    try:
        return {"result": compute()}
    except MemoryError:
        return {"failure": "memory"}
    except RecursionError:
        return {"failure": "memory", "detail": "recursion"}
    except BaseException as exc:  # noqa: BLE001 - every failure must reach the parent
        return {"failure": "crashed", "detail": f"{type(exc).__name__}: {exc}"[:2000]}


def _child_run(compute: Callable[[], dict[str, Any]], write_end: int) -> None:
    """Compute in the child and write the JSON result (or why there is none) to the pipe."""
    _write_all(write_end, json.dumps(_child_payload(compute)).encode())


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


# --- named jobs in children forked ahead of time -------------------------------------------------


@dataclass(frozen=True)
class Reuse:
    """What lets one child run a job again and again without one run reaching the next.

    save() runs in the child before its first job and returns what puts the job's seeded state
    back (run before every job); settings() returns the process-wide settings the job must leave
    as it found them (read before the first job and after each one: a difference retires the
    child); reset() drops what a job leaves behind (its caches), after the result is sent.
    """

    save: Callable[[], Callable[[], None]]
    settings: Callable[[], object]
    reset: Callable[[], None]


JOBS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
REUSE: dict[str, Reuse] = {}
FRAME_LENGTH = struct.Struct(">I")
MAX_FRAME_BYTES = 64 * 1024 * 1024
READY = b"ready"
READY_TIMEOUT_S = 5.0  # how long a reused child may take to tidy up after its job


def register_job(
    name: str, function: Callable[[dict[str, Any]], dict[str, Any]], *, reuse: Reuse | None = None
) -> None:
    """Make function(payload) -> dict runnable by name in a child (see run_job).

    With reuse, a child runs several jobs of this name in turn (see the module's docstring for
    what must hold); without, each job gets a child of its own.
    """
    JOBS[name] = function
    if reuse is None:
        REUSE.pop(name, None)
    else:
        REUSE[name] = reuse


@dataclass
class _Child:
    pid: int
    job_end: int  # the parent writes jobs here
    result_end: int  # and reads results here
    owner: int  # the pid of the process that forked it
    jobs: frozenset[str]  # the jobs registered when it was forked: all it can run
    runs: int = 0  # jobs sent to it so far
    # Forked by the main thread: PR_SET_PDEATHSIG kills a child when the *thread* that forked it
    # ends, so only a main-thread child may wait (as the spare, or idle for reuse) past its job.
    lasting: bool = True


@dataclass
class _Children:
    """This process's children waiting for a job: one fresh spare, and reused ones by job name."""

    spare: _Child | None = None
    idle: dict[str, _Child] = field(default_factory=dict)
    live: dict[int, _Child] = field(default_factory=dict)  # every child not yet reaped, by pid


_children = _Children()
_children_lock = threading.Lock()


def _fork_child() -> _Child:
    """Fork a child that serves jobs from its pipe (call with _children_lock held)."""
    job_read, job_write = os.pipe()
    result_read, result_write = os.pipe()
    inherited = [
        end
        for child in _children.live.values()
        if child.owner == os.getpid()
        for end in (child.job_end, child.result_end)
    ]
    pid = os.fork()
    if pid == 0:  # the child: serve jobs, then leave
        code = 0
        try:
            for end in (job_write, result_read, *inherited):
                os.close(end)
            _child_prepare()
            _serve(job_read, result_write)
        except BaseException:  # noqa: BLE001
            code = 70
        finally:
            os._exit(code)
    os.close(job_read)
    os.close(result_write)
    child = _Child(
        pid,
        job_write,
        result_read,
        os.getpid(),
        frozenset(JOBS),
        lasting=threading.current_thread() is threading.main_thread(),
    )
    _children.live[pid] = child
    return child


@dataclass
class _Reused:
    """A reused child's view of the state it must find again before every job."""

    restore: Callable[[], None]
    settings: object
    resident: int


def _serve(job_read: int, result_write: int) -> None:
    """Run jobs from the pipe until it ends, or until this child must be replaced."""
    kept: _Reused | None = None
    runs = 0
    while (frame := _read_frame(job_read, None)) is not None:
        job = json.loads(frame)
        name = job["name"]
        reuse = REUSE.get(name)
        if reuse is not None and kept is None:
            kept = _Reused(_save_state(reuse), _settings(reuse), _resident_now())
        elif kept is not None:
            kept.restore()
        _child_limit(int(job["memory_mb"]))
        payload = _child_payload(functools.partial(JOBS[name], job["payload"]))
        _write_frame(result_write, json.dumps(payload).encode())
        runs += 1
        if reuse is None or kept is None or "result" not in payload:
            return
        if runs >= int(job["child_checks"]):
            return
        reuse.reset()
        gc.collect()
        grown = _resident_now() - kept.resident
        if _settings(reuse) != kept.settings or grown > int(job["child_memory_mb"]) * 1024 * 1024:
            return
        _write_frame(result_write, READY)


def _save_state(reuse: Reuse) -> Callable[[], None]:
    """Save Python's random state and the job's; return what puts both back."""
    state = random.getstate()
    restore_job = reuse.save()

    def restore() -> None:
        random.setstate(state)
        restore_job()

    return restore


def _settings(reuse: Reuse) -> object:
    """Return the process-wide settings a job must leave as it found them, the job's own included."""
    return (
        sys.getrecursionlimit(),
        signal.getsignal(signal.SIGALRM),
        signal.getitimer(signal.ITIMER_REAL),
        threading.active_count(),
        tuple(warnings.filters),
        reuse.settings(),
    )


def _write_frame(fd: int, data: bytes) -> None:
    _write_all(fd, FRAME_LENGTH.pack(len(data)) + data)


def _read_frame(fd: int, deadline: float | None) -> bytes | None:
    """Return the next frame's bytes; None when the pipe ends (or the deadline passes) first."""
    header = _read_exactly(fd, FRAME_LENGTH.size, deadline)
    if header is None:
        return None
    (length,) = FRAME_LENGTH.unpack(header)
    if length > MAX_FRAME_BYTES:
        return None
    return _read_exactly(fd, length, deadline)


def _read_exactly(fd: int, count: int, deadline: float | None) -> bytes | None:
    chunks: list[bytes] = []
    while count > 0:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
        chunk = os.read(fd, min(count, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def _reap(child: _Child, *, kill: bool) -> int:
    """Close the parent's ends of child's pipes, end it when kill, and return its wait status."""
    # Forgotten before its descriptors close: a child forked now must not close their numbers,
    # which a new pipe may already reuse.
    with _children_lock:
        _children.live.pop(child.pid, None)
    for fd in (child.job_end, child.result_end):
        try:
            os.close(fd)
        except OSError:
            pass
    if child.owner != os.getpid():
        return 0
    if kill:
        try:
            os.kill(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        _, status = os.waitpid(child.pid, 0)
    except ChildProcessError:  # a SIGCHLD handler in the parent reaped it first
        status = 0
    return status


def _discard(child: _Child) -> None:
    _reap(child, kill=True)


def _take_child(name: str) -> _Child:
    """Return a child for job name: one that ran it before and is ready, the spare, or a new one."""
    pid = os.getpid()
    with _children_lock:
        reused = _children.idle.pop(name, None)
        spare, _children.spare = _children.spare, None
    if reused is not None and reused.owner == pid:
        if _read_frame(reused.result_end, time.monotonic() + READY_TIMEOUT_S) == READY:
            _keep_spare(spare)
            return reused
        _discard(reused)  # it left (its bounds were reached) or did not tidy up in time
    if spare is not None and spare.owner == pid and name in spare.jobs:
        return spare
    if spare is not None and spare.owner == pid:
        _discard(spare)  # forked before this job was registered
    with _children_lock:
        return _fork_child()


def _keep_spare(spare: _Child | None) -> None:
    if spare is None:
        return
    with _children_lock:
        if _children.spare is None:
            _children.spare = spare
            return
    _discard(spare)


def _replenish() -> None:
    """Fork the next spare now, while a job computes, unless one is waiting (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return
    with _children_lock:
        if _children.spare is None or _children.spare.owner != os.getpid():
            _children.spare = _fork_child()


def _give_back(name: str, child: _Child) -> None:
    with _children_lock:
        if child.lasting and name not in _children.idle:
            _children.idle[name] = child
            return
    _discard(child)  # another child already waits for this job, or this one dies with its thread


def run_job(
    name: str,
    payload: dict[str, Any],
    *,
    deadline_s: float | None = None,
    memory_mb: int | None = None,
    child_checks: int | None = None,
    child_memory_mb: int | None = None,
) -> ChildOutcome:
    """Run the registered job `name` on payload in a child, within its deadline and memory limit.

    The child was forked from the warm parent before the job arrived (the next spare is forked
    while this job computes). A job registered with a Reuse goes to the child that ran the last
    one, when it is ready and within child_checks and child_memory_mb (the engine's by default);
    any failure retires that child. The limits apply from the moment the job is sent.
    """
    config = engine_config()
    deadline_s = config.symbolic_timeout_s if deadline_s is None else deadline_s
    job = json.dumps(
        {
            "name": name,
            "payload": payload,
            "memory_mb": config.memory_mb if memory_mb is None else memory_mb,
            "child_checks": config.child_checks if child_checks is None else child_checks,
            "child_memory_mb": (
                config.child_memory_mb if child_memory_mb is None else child_memory_mb
            ),
        },
        default=str,
    ).encode()
    for attempt in range(2):
        if attempt == 0:
            child = _take_child(name)
        else:
            with _children_lock:
                child = _fork_child()
        deadline = time.monotonic() + deadline_s
        try:
            _write_frame(child.job_end, job)
        except OSError:
            # The child died while it waited: killed from outside, or (PR_SET_PDEATHSIG follows
            # the forking *thread*) the thread that forked it has ended. A waiting spare may have
            # died the same way, so the second try forks a child of this very thread.
            _discard(child)
            if attempt == 1:
                raise
            continue
        child.runs += 1
        try:
            _replenish()
            return _collect_job(name, child, deadline)
        except BaseException:
            # Interrupted while the child computes (a Celery soft time limit): it ends now.
            if child.pid in _children.live:
                _discard(child)
            raise
    raise AssertionError("unreachable")


def _collect_job(name: str, child: _Child, deadline: float) -> ChildOutcome:
    frame = _read_frame(child.result_end, deadline)
    timed_out = frame is None and time.monotonic() >= deadline
    outcome = _outcome_from(frame) if frame is not None else None
    if outcome is not None and outcome.result is not None and name in REUSE:
        _give_back(name, child)
        return outcome
    status = _reap(child, kill=outcome is None or outcome.result is None)
    if timed_out:
        return ChildOutcome(failure="timeout")
    return outcome if outcome is not None else _died(status)


def _outcome_from(frame: bytes) -> ChildOutcome:
    try:
        payload = json.loads(frame)
    except (ValueError, UnicodeDecodeError):
        return ChildOutcome(failure="crashed", detail="unreadable result")
    if "result" in payload:
        return ChildOutcome(result=payload["result"])
    return ChildOutcome(failure=payload.get("failure", "crashed"), detail=payload.get("detail", ""))


def _died(status: int) -> ChildOutcome:
    """Say why a child that sent no result ended, from its wait status."""
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGKILL, signal.SIGSEGV):
        return ChildOutcome(failure="memory", detail=f"signal {os.WTERMSIG(status)}")
    return ChildOutcome(failure="crashed", detail=f"no result (status {status})")


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
        return _died(status)
    if "result" in payload:
        return ChildOutcome(result=payload["result"])
    return ChildOutcome(failure=payload.get("failure", "crashed"), detail=payload.get("detail", ""))
