"""The code sandbox: run an untrusted submission in a locked-down child of a warm zygote.

Modules, by the side they run on:
    worker    the trusted side: Sandbox, get_sandbox(), the job exchange over the child's pipes
    report    what the child said, read into checked types (read_report)
    zygote    the zygote server: forks children ahead of time, enforces deadlines, reaps
    probes    which isolation layers this machine supports, probed in throwaway children
    lockdown  what a freshly forked child does to itself before it may see a job
    landlock  file, TCP and signal restrictions (Landlock, raw syscalls)
    seccomp   the system-call allow-list (classic BPF, no libseccomp)
    runtime   the in-jail runtime: loads the submission and answers calls inside the child;
              the only module both sides import, and it imports nothing trusted
    wire      the frames both sides exchange (JSON plus raw array bytes; never pickle)

This file imports nothing, so that the zygote, which imports grader.engine.sandbox.zygote,
loads no part of the worker side.
"""
