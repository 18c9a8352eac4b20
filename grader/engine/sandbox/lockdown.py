"""The child's lock-down: what a freshly forked child does to itself before it may see a job.

In order: its own session, descriptors 0-5 only, a private size-capped scratch folder as its
working folder, no environment, its own network namespace, resource limits, the sandbox uid (when
the zygote is root), one process per uid, death with its parent, NO_NEW_PRIVS, Landlock and
seccomp. Then it says "ready" on its status pipe, closes it, and runs the in-jail runtime.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
from dataclasses import dataclass
from typing import Any

from grader.engine.sandbox import landlock, runtime, seccomp

CLONE_NEWUSER = 0x10000000
CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x8, 0x4000, 0x40000
PR_SET_PDEATHSIG = 1
PR_GET_NO_NEW_PRIVS = 39
CHILD_SETUP_FAILED = 70
JOB_FD = 3
RESULT_FD = 4
STATUS_FD = 5
READY = b"ready"

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class Jail:
    """What a child needs to lock itself down, prepared once by the zygote."""

    zygote_pid: int
    layers: dict[str, bool | str]
    sandbox_uid: int | None
    read_only: list[str]
    seccomp_filter: seccomp.PreparedFilter


def unshare(flags: int) -> None:
    """Move this process into new namespaces (CLONE_* flags)."""
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
        unshare(CLONE_NEWNS)
    else:
        uid, gid = os.getuid(), os.getgid()
        unshare(CLONE_NEWUSER | CLONE_NEWNS)
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


def child_rlimits(*, cpu_seconds: int, memory_mb: int, file_mb: int) -> dict[int, tuple[int, int]]:
    """Return the resource limits a sandboxed child sets, by kind."""
    address_space = _current_vm_size() + memory_mb * 1024 * 1024
    return {
        resource.RLIMIT_CPU: (cpu_seconds, cpu_seconds + 1),
        resource.RLIMIT_AS: (address_space, address_space),
        resource.RLIMIT_FSIZE: (file_mb * 1024 * 1024,) * 2,
        resource.RLIMIT_NOFILE: (32, 32),
        resource.RLIMIT_CORE: (0, 0),
    }


def drop_to_uid(uid: int) -> None:
    """Give up root for uid: no supplementary groups, and uid as every user and group id."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def no_new_privs_is_set() -> bool:
    """Say whether NO_NEW_PRIVS reads back as set for this process."""
    return bool(_libc.prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)


def _current_vm_size() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 512 * 1024 * 1024


def child_main(
    jail: Jail,
    limits: dict[str, Any],
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
        lock_down(jail, limits, scratch)
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
        runtime.serve_job(JOB_FD, RESULT_FD)
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


def lock_down(jail: Jail, limits: dict[str, Any], scratch: str) -> None:
    """Apply every isolation layer after the descriptors, in order."""
    required = bool(limits.get("require_full", True))
    in_own_user_namespace = _enter_scratch(jail, scratch, file_mb=int(limits.get("file_mb", 16)))
    _isolate_network(jail, required=required, in_own_user_namespace=in_own_user_namespace)
    _limit_resources(jail, limits, required=required)
    if _libc.prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), 0, 0, 0) != 0:
        raise OSError("PR_SET_PDEATHSIG failed")
    if os.getppid() != jail.zygote_pid:
        os._exit(CHILD_SETUP_FAILED)
    _restrict_calls(jail, scratch, required=required)


def _enter_scratch(jail: Jail, scratch: str, *, file_mb: int) -> bool:
    """Make scratch private and the working folder, with output and environment inside it.

    Return whether this process entered a user namespace of its own to mount it.
    """
    in_own_user_namespace = False
    if jail.layers.get("private_scratch_tmpfs") is True:
        make_private_scratch(scratch, owner_uid=jail.sandbox_uid, size_mb=2 * file_mb)
        in_own_user_namespace = os.geteuid() != 0
    scratch_fd = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    os.fchdir(scratch_fd)
    os.close(scratch_fd)
    # Printed output goes to a file in scratch, capped by RLIMIT_FSIZE.
    output = os.open("output.txt", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    os.dup2(output, 1, inheritable=False)
    os.dup2(output, 2, inheritable=False)
    os.close(output)
    os.environ.clear()
    os.environ.update({"HOME": scratch, "TMPDIR": scratch, "OPENBLAS_NUM_THREADS": "1"})
    return in_own_user_namespace


def _isolate_network(jail: Jail, *, required: bool, in_own_user_namespace: bool) -> None:
    if jail.layers.get("network_namespace") is True:
        as_root = os.geteuid() == 0
        unshare(CLONE_NEWNET if as_root or in_own_user_namespace else CLONE_NEWUSER | CLONE_NEWNET)
    elif required:
        raise OSError("network namespace unavailable")


def _limit_resources(jail: Jail, limits: dict[str, Any], *, required: bool) -> None:
    """Set the rlimits, drop to the sandbox uid when root, and allow one process for this uid."""
    chosen = child_rlimits(
        cpu_seconds=int(limits.get("cpu_s") or 10) + 1,
        memory_mb=int(limits.get("memory_mb", 1024)),
        file_mb=int(limits.get("file_mb", 16)),
    )
    for kind, limit in chosen.items():
        resource.setrlimit(kind, limit)
    if os.geteuid() == 0:
        if jail.sandbox_uid is None:
            if required:
                raise OSError("running as root with no sandbox uid")
        else:
            drop_to_uid(jail.sandbox_uid)
    # Threads count as processes: with one allowed, this uid can neither fork nor start threads.
    resource.setrlimit(resource.RLIMIT_NPROC, (1, 1))


def _restrict_calls(jail: Jail, scratch: str, *, required: bool) -> None:
    """Set NO_NEW_PRIVS, then Landlock (files, TCP, signals), then the seccomp allow-list."""
    seccomp.set_no_new_privs()
    if jail.layers.get("landlock") is True:
        abi = int(str(jail.layers.get("landlock_abi", "0")))
        landlock.restrict_self(read_only=jail.read_only, writable=[scratch], abi=abi)
    elif required:
        raise OSError("Landlock unavailable")
    if jail.layers.get("seccomp") is True:
        jail.seccomp_filter.install(os.getpid())
    elif required:
        raise OSError("seccomp unavailable")
