"""Install a seccomp allow-list as classic BPF built in pure Python, with no libseccomp."""

from __future__ import annotations

import ctypes
import errno
import os
import platform

# linux/audit.h
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000

# linux/seccomp.h
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_MODE_FILTER = 2
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22

# linux/filter.h
BPF_LD_W_ABS = 0x20
BPF_JMP_JEQ_K = 0x15
BPF_JMP_JSET_K = 0x45
BPF_JMP_JGE_K = 0x35
BPF_RET_K = 0x06

# struct seccomp_data offsets: nr (u32), arch (u32), instruction_pointer (u64), args[6] (u64 each)
OFFSET_NR = 0
OFFSET_ARCH = 4


def _offset_arg_low(index: int) -> int:
    return 16 + 8 * index  # little-endian: the low 32 bits come first


CLONE_THREAD = 0x00010000
TCGETS = 0x5401
FIONREAD = 0x541B
FIOCLEX = 0x5451
FIONBIO = 0x5421

# Syscalls NumPy and the interpreter need, from asm/unistd_64.h. Files are confined by Landlock.
X86_64_ALLOWED = {
    "read": 0, "write": 1, "open": 2, "close": 3, "stat": 4, "fstat": 5, "lstat": 6, "poll": 7,
    "lseek": 8, "mmap": 9, "mprotect": 10, "munmap": 11, "brk": 12, "rt_sigaction": 13,
    "rt_sigprocmask": 14, "rt_sigreturn": 15, "pread64": 17, "pwrite64": 18, "readv": 19,
    "writev": 20, "access": 21, "select": 23, "sched_yield": 24, "mremap": 25, "msync": 26,
    "mincore": 27, "madvise": 28, "dup": 32, "dup2": 33, "nanosleep": 35, "getitimer": 36,
    "alarm": 37, "setitimer": 38, "getpid": 39, "exit": 60, "uname": 63,
    "fsync": 74, "fdatasync": 75, "ftruncate": 77, "getcwd": 79, "chdir": 80, "fchdir": 81,
    "rename": 82, "mkdir": 83, "rmdir": 84, "unlink": 87, "readlink": 89, "umask": 95,
    "gettimeofday": 96, "getrlimit": 97, "getrusage": 98, "sysinfo": 99, "times": 100,
    "getuid": 102, "getgid": 104, "geteuid": 107, "getegid": 108, "getppid": 110, "getpgrp": 111,
    "getgroups": 115, "getresuid": 118, "getresgid": 120, "getpgid": 121, "getsid": 124,
    "sigaltstack": 131, "statfs": 137, "fstatfs": 138, "sched_getparam": 143,
    "sched_getscheduler": 145, "sched_get_priority_max": 146, "sched_get_priority_min": 147,
    "arch_prctl": 158, "gettid": 186, "time": 201, "futex": 202, "sched_getaffinity": 204,
    "getdents64": 217, "set_tid_address": 218, "restart_syscall": 219, "fadvise64": 221,
    "clock_gettime": 228, "clock_getres": 229, "clock_nanosleep": 230, "exit_group": 231,
    "openat": 257, "mkdirat": 258, "newfstatat": 262, "unlinkat": 263, "renameat": 264,
    "readlinkat": 267, "faccessat": 269, "pselect6": 270, "ppoll": 271, "set_robust_list": 273,
    "get_robust_list": 274, "dup3": 292, "pipe2": 293, "getcpu": 309, "renameat2": 316,
    "getrandom": 318, "membarrier": 324, "statx": 332, "rseq": 334, "close_range": 436,
    "faccessat2": 439, "futex_waitv": 449,
}  # fmt: skip
X86_64_CLONE = 56
X86_64_CLONE3 = 435
X86_64_KILL = 62
X86_64_TKILL = 200
X86_64_TGKILL = 234
X86_64_IOCTL = 16
X86_64_FCNTL = 72
X86_64_PRLIMIT64 = 302

ALLOWED_IOCTLS = (TCGETS, FIONREAD, FIOCLEX, FIONBIO)
# fcntl commands by which the kernel later signals a process: F_SETOWN and F_SETOWN_EX name any
# process (and answer ESRCH for a pid that does not exist), F_SETSIG picks the signal, O_ASYNC
# I/O then sends it, even SIGSTOP to the worker when it shares the child's uid; F_SETLEASE and
# F_NOTIFY arm SIGIO on a lease break or a directory change. Landlock scopes signals only from
# Linux 6.12 (ABI 6), so this filter refuses them on every kernel.
F_SETOWN, F_SETSIG, F_SETOWN_EX, F_SETLEASE, F_NOTIFY = 8, 10, 15, 1024, 1026
SIGNALLING_FCNTLS = (F_SETOWN, F_SETSIG, F_SETOWN_EX, F_SETLEASE, F_NOTIFY)


_libc = ctypes.CDLL(None, use_errno=True)


class SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(SockFilter))]


def supported_reason() -> str | None:
    """Return why this machine cannot use the filter, or None when it can."""
    if platform.machine() != "x86_64":
        return f"no syscall table for {platform.machine()}"
    try:
        with open("/proc/self/status") as status:
            if not any(line.startswith("Seccomp:") for line in status):
                return "kernel built without seccomp"
    except OSError:
        return "cannot read /proc/self/status"
    return None


def _ret(action: int) -> tuple[int, int, int, int]:
    return (BPF_RET_K, 0, 0, action)


def _errno(code: int) -> int:
    return SECCOMP_RET_ERRNO | (code & 0xFFFF)


def build_program(own_pid: int) -> list[tuple[int, int, int, int]]:
    """Return the BPF instructions for a process whose pid is own_pid."""
    deny = _errno(errno.EPERM)
    program: list[tuple[int, int, int, int]] = [
        (BPF_LD_W_ABS, 0, 0, OFFSET_ARCH),
        (BPF_JMP_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        _ret(SECCOMP_RET_KILL_PROCESS),
        (BPF_LD_W_ABS, 0, 0, OFFSET_NR),
        (BPF_JMP_JGE_K, 0, 1, X32_SYSCALL_BIT),
        _ret(SECCOMP_RET_KILL_PROCESS),
    ]
    for number in sorted(set(X86_64_ALLOWED.values())):
        program += [(BPF_JMP_JEQ_K, 0, 1, number), _ret(SECCOMP_RET_ALLOW)]
    # clone3 passes its flags in memory BPF cannot read: ENOSYS makes glibc fall back to clone.
    program += [(BPF_JMP_JEQ_K, 0, 1, X86_64_CLONE3), _ret(_errno(errno.ENOSYS))]
    allow = SECCOMP_RET_ALLOW
    program += _argument_rule(X86_64_CLONE, 0, jset=CLONE_THREAD, on_match=allow, otherwise=deny)
    for number in (X86_64_KILL, X86_64_TKILL, X86_64_TGKILL):
        program += _argument_rule(number, 0, equal=(own_pid,), on_match=allow, otherwise=deny)
    program += _argument_rule(
        X86_64_PRLIMIT64, 0, equal=(0, own_pid), on_match=allow, otherwise=deny
    )
    program += _argument_rule(
        X86_64_IOCTL, 1, equal=ALLOWED_IOCTLS, on_match=allow, otherwise=_errno(errno.ENOTTY)
    )
    # The kernel reads fcntl's cmd as an unsigned int, so its low 32 bits are all there is to test.
    program += _argument_rule(
        X86_64_FCNTL, 1, equal=SIGNALLING_FCNTLS, on_match=deny, otherwise=allow
    )
    program.append(_ret(deny))
    return program


def _argument_rule(
    number: int,
    arg: int,
    *,
    on_match: int,
    otherwise: int,
    equal: tuple[int, ...] = (),
    jset: int | None = None,
) -> list[tuple[int, int, int, int]]:
    """For syscall `number`, return `on_match` when its argument `arg` matches, else `otherwise`."""
    tests: list[tuple[int, int, int, int]] = []
    if jset is not None:
        tests.append((BPF_JMP_JSET_K, 0, 0, jset))
    tests += [(BPF_JMP_JEQ_K, 0, 0, value & 0xFFFFFFFF) for value in equal]
    body: list[tuple[int, int, int, int]] = [(BPF_LD_W_ABS, 0, 0, _offset_arg_low(arg))]
    # Each test jumps to the on_match return (just past the otherwise return) when true.
    for index, (code, _, _, k) in enumerate(tests):
        remaining = len(tests) - index - 1
        body.append((code, remaining + 1, 0, k))
    body += [_ret(otherwise), _ret(on_match)]
    # Reload nr afterwards is unnecessary: every path through body returns.
    return [(BPF_JMP_JEQ_K, 0, len(body), number), *body]


PID_PLACEHOLDER = 0x7FFFFFF0


class PreparedFilter:
    """The filter as a ready ctypes array, built once in the zygote; each child writes in its pid."""

    def __init__(self) -> None:
        program = build_program(PID_PLACEHOLDER)
        self.filters = (SockFilter * len(program))(
            *[SockFilter(*instruction) for instruction in program]
        )
        self.pid_slots = [
            index for index, instruction in enumerate(program) if instruction[3] == PID_PLACEHOLDER
        ]

    def install(self, own_pid: int) -> None:
        """Install the filter for the calling process; NO_NEW_PRIVS must already be set."""
        if platform.machine() != "x86_64":
            raise OSError(f"no syscall table for {platform.machine()}")
        for index in self.pid_slots:
            self.filters[index].k = own_pid & 0xFFFFFFFF
        fprog = SockFprog(len(self.filters), ctypes.cast(self.filters, ctypes.POINTER(SockFilter)))
        result = _libc.prctl(
            PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(fprog), 0, 0
        )
        if result != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"seccomp: {os.strerror(error)}")


def set_no_new_privs() -> None:
    """Forbid gaining privileges through execve for this process and its descendants."""
    if (
        _libc.prctl(
            PR_SET_NO_NEW_PRIVS,
            ctypes.c_ulong(1),
            ctypes.c_ulong(0),
            ctypes.c_ulong(0),
            ctypes.c_ulong(0),
        )
        != 0
    ):
        error = ctypes.get_errno()
        raise OSError(error, f"no_new_privs: {os.strerror(error)}")
