"""The child's lock-down: what a freshly forked child does to itself before it may see a job.

In order: its own session, descriptors 0-5 only, a private size-capped scratch folder as its
working folder, a root of its own (the interpreter's library, NumPy and its scratch folder, nothing
else: no project, no database, no /proc), no environment, its own network namespace, resource
limits, the sandbox uid (when the zygote is root), one process per uid, death with its parent,
NO_NEW_PRIVS, Landlock and seccomp. Then it says "ready" on its status pipe, closes it, and runs
the in-jail runtime.
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
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 0x1, 0x2, 0x4, 0x8, 0x4000, 0x40000
MS_REMOUNT, MS_BIND, MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 0x20, 0x1000, 0x400, 0x800, 0x200000
MNT_DETACH = 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
# A mount's flags that a user namespace may not clear on a bind of it (statvfs bit: mount flag).
_LOCKED_FLAGS = {
    os.ST_NOSUID: MS_NOSUID,
    os.ST_NODEV: MS_NODEV,
    os.ST_NOEXEC: MS_NOEXEC,
    os.ST_NOATIME: MS_NOATIME,
    os.ST_NODIRATIME: MS_NODIRATIME,
    os.ST_RELATIME: MS_RELATIME,
}
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
    # What the child's own root holds besides its scratch folder, read-only, at the same paths,
    # and the folders beneath those that it finds empty.
    root_binds: list[str]
    root_hidden: list[str]


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


def make_private_root(
    scratch: str, *, binds: list[str], hidden: list[str], owner_uid: int | None
) -> None:
    """Make the tmpfs at scratch this process's whole filesystem, with scratch its working folder.

    Call after make_private_scratch. Each path in binds (a folder or a file) appears read-only at
    its own path, each folder in hidden (beneath a bind) empty; scratch appears at its own path,
    empty and writable; nothing else exists: not
    the project, its database, the virtualenv's other packages, the home folders or /proc. Both
    pivot_root and the binds happen before any uid drop, so the binds reach NumPy even in a
    checkout only its owner may enter; the folders above them are new, and anyone may pass them.
    """
    for source in binds:
        target = scratch + source
        if os.path.isdir(source):
            os.makedirs(target, mode=0o755, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644))
        # Not recursive: a mount beneath the source would keep its own, writable, flags.
        _mount(source.encode(), target.encode(), None, MS_BIND, None)
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | _locked_flags(source)
        _mount(b"none", target.encode(), None, flags, None)
    for folder in hidden:
        empty = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
        _mount(b"tmpfs", (scratch + folder).encode(), b"tmpfs", empty, b"size=4k,mode=0555")
    work = scratch + scratch
    os.makedirs(work, mode=0o700)
    if os.geteuid() == 0 and owner_uid is not None:
        os.chown(work, owner_uid, owner_uid)
    os.chdir(scratch)
    # pivot_root(".", ".") stacks the old root on the new one; detaching it leaves the new one.
    _pivot_root(b".", b".")
    if _libc.umount2(b".", ctypes.c_int(MNT_DETACH)) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"umount the old root: {os.strerror(error)}")
    os.chdir("/")


def _locked_flags(path: str) -> int:
    """Return the flags of the mount holding path that a read-only bind of it must keep."""
    held = os.statvfs(path).f_flag
    flags = 0
    for bit, flag in _LOCKED_FLAGS.items():
        if held & bit:
            flags |= flag
    return flags


def _pivot_root(new_root: bytes, put_old: bytes) -> None:
    number = SYS_PIVOT_ROOT.get(os.uname().machine)
    if number is None:
        raise OSError(f"no pivot_root system call number for {os.uname().machine}")
    if _libc.syscall(ctypes.c_long(number), new_root, put_old) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"pivot_root: {os.strerror(error)}")


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
    # Read from /proc, which the child's own root does not have.
    chosen = child_rlimits(
        cpu_seconds=int(limits.get("cpu_s") or 10) + 1,
        memory_mb=int(limits.get("memory_mb", 1024)),
        file_mb=int(limits.get("file_mb", 16)),
    )
    in_own_user_namespace = _enter_scratch(
        jail, scratch, file_mb=int(limits.get("file_mb", 16)), required=required
    )
    _isolate_network(jail, required=required, in_own_user_namespace=in_own_user_namespace)
    _limit_resources(jail, chosen, required=required)
    if _libc.prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), 0, 0, 0) != 0:
        raise OSError("PR_SET_PDEATHSIG failed")
    if os.getppid() != jail.zygote_pid:
        os._exit(CHILD_SETUP_FAILED)
    _restrict_calls(jail, scratch, required=required)


def _enter_scratch(jail: Jail, scratch: str, *, file_mb: int, required: bool) -> bool:
    """Make scratch private, the root of its own filesystem and the working folder, with output
    and environment inside it.

    Return whether this process entered a user namespace of its own to mount it.
    """
    in_own_user_namespace = False
    if jail.layers.get("private_scratch_tmpfs") is True:
        make_private_scratch(scratch, owner_uid=jail.sandbox_uid, size_mb=2 * file_mb)
        in_own_user_namespace = os.geteuid() != 0
    if jail.layers.get("private_root") is True:
        make_private_root(
            scratch, binds=jail.root_binds, hidden=jail.root_hidden, owner_uid=jail.sandbox_uid
        )
    elif required:
        raise OSError("no root of its own")
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


def _limit_resources(jail: Jail, chosen: dict[int, tuple[int, int]], *, required: bool) -> None:
    """Set the rlimits, drop to the sandbox uid when root, and allow one process for this uid."""
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
