"""Probe which isolation layers this machine supports, each in a throwaway forked child.

Run by the zygote at start: a layer counts as active only when a child really applied it and
the kernel held it, never because the configuration asks for it.
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
from collections.abc import Callable

from grader.engine.sandbox import landlock, seccomp
from grader.engine.sandbox.lockdown import (
    CLONE_NEWNET,
    CLONE_NEWUSER,
    child_rlimits,
    drop_to_uid,
    make_private_root,
    make_private_scratch,
    no_new_privs_is_set,
    unshare,
)


def probe_layers(
    sandbox_uid: int | None, *, root_binds: list[str], root_hidden: list[str], project_root: str
) -> dict[str, bool | str]:
    """Return which isolation layers this machine supports: True, or the reason it does not."""
    layers: dict[str, bool | str] = {}
    layers["network_namespace"] = probe_network_namespace(sandbox_uid)
    layers["private_scratch_tmpfs"] = probe_private_scratch()
    layers["private_root"] = probe_private_root(sandbox_uid, root_binds, root_hidden, project_root)
    layers["rlimits"] = probe_rlimits()
    layers["unprivileged_uid"] = probe_unprivileged_uid(sandbox_uid)
    layers["no_new_privs"] = probe_no_new_privs()
    abi = landlock.abi_version()
    layers["landlock"] = True if abi >= 1 else "Landlock is not enabled in this kernel"
    layers["landlock_abi"] = str(abi)
    layers["landlock_network"] = True if abi >= 4 else f"Landlock ABI {abi} cannot restrict TCP"
    layers["landlock_signals"] = True if abi >= 6 else f"Landlock ABI {abi} cannot scope signals"
    reason = seccomp.supported_reason()
    layers["seccomp"] = True if reason is None else reason
    return layers


def _probe_in_child(action: Callable[[], None]) -> str | bool:
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


def probe_private_root(
    sandbox_uid: int | None, root_binds: list[str], root_hidden: list[str], project_root: str
) -> str | bool:
    """Return True when a child gets a root of its own holding only root_binds, else the reason.

    The child builds the root as a sandboxed child does, drops to the sandbox uid when root,
    then checks from inside: the project and /proc are gone, each bind is there and readable,
    each hidden folder is empty, and the binds refuse writes.
    """
    folder = tempfile.mkdtemp(prefix="chainrule-probe-")
    if os.getuid() == 0 and sandbox_uid is not None:
        os.chown(folder, sandbox_uid, sandbox_uid)

    def enter_and_look() -> None:
        make_private_scratch(folder, owner_uid=sandbox_uid, size_mb=1)
        make_private_root(folder, binds=root_binds, hidden=root_hidden, owner_uid=sandbox_uid)
        if os.getuid() == 0 and sandbox_uid is not None:
            drop_to_uid(sandbox_uid)
        if os.path.lexists("/proc"):
            raise OSError("/proc is visible from the child's root")
        # The project's folder may hold only the way to a bind (a virtualenv inside it).
        on_the_way = {
            os.path.relpath(path, project_root).split(os.sep)[0]
            for path in root_binds
            if path.startswith(project_root.rstrip(os.sep) + os.sep)
        }
        if os.path.lexists(project_root) and set(os.listdir(project_root)) - on_the_way:
            raise OSError(f"{project_root} is visible from the child's root")
        for path in root_binds:
            if not os.path.exists(path):
                raise OSError(f"{path} is missing from the child's root")
            if os.path.isdir(path):
                os.listdir(path)
        for path in root_hidden:
            if os.listdir(path):
                raise OSError(f"{path} is not empty in the child's root")
        folder_bind = next(path for path in root_binds if os.path.isdir(path))
        try:
            os.close(os.open(os.path.join(folder_bind, "probe"), os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError:
            pass
        else:
            raise OSError(f"{folder_bind} is writable from the child's root")
        os.chdir(folder)
        with open("probe", "w") as probe:
            probe.write("ok")

    try:
        return _probe_in_child(enter_and_look)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def probe_network_namespace(sandbox_uid: int | None) -> str | bool:
    """Return True when a forked child can get its own network namespace, else the reason."""

    def enter() -> None:
        unshare(CLONE_NEWNET if os.getuid() == 0 else CLONE_NEWUSER | CLONE_NEWNET)

    return _probe_in_child(enter)


def probe_rlimits() -> str | bool:
    """Return True when a child can set the limits a sandboxed child sets, else the reason."""
    return _probe_in_child(_check_rlimits)


def probe_no_new_privs() -> str | bool:
    """Return True when a child can set NO_NEW_PRIVS and reads it back, else the reason."""
    return _probe_in_child(_check_no_new_privs)


def _check_rlimits() -> None:
    """Set limits the way a child does and check that the kernel holds and enforces them."""
    wanted = child_rlimits(cpu_seconds=5, memory_mb=1024, file_mb=1)
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
    seccomp.set_no_new_privs()
    if not no_new_privs_is_set():
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
            drop_to_uid(sandbox_uid)
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
