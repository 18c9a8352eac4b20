"""The sandbox when the worker itself is unprivileged: user + network namespaces instead of a uid drop.

Run as root, the test starts its worker as uid 65534 (nobody). That uid must read the checkout, as
any worker reads its own code, wherever the checkout is: a checkout in a folder nobody may enter
(a root home folder, `mktemp -d`) is shown to it through a readable view (_readable_view).
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy
import pytest

ROOT = Path(__file__).resolve().parents[3]
NOBODY = 65534
CLONE_NEWNS = 0x00020000
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000

HELPER = r"""
import json, sys
from dataclasses import replace
from grader.engine.config import engine_config
from grader.engine.sandbox.worker import Sandbox

box = Sandbox(replace(engine_config(), allow_reduced_sandbox=False, code_timeout_s=3.0))
box.start()
report = {"layers": box.layers, "uid": __import__("os").getuid()}
ATTACKS = {
    "correct": "def f(x):\n    return x * 2\n",
    "passwd": "def f(x):\n    return open('/etc/passwd').read()\n",
    "settings": "def f(x):\n    return open(%(settings)r).read()\n",
    "socket": "import socket\ndef f(x):\n    socket.create_connection(('127.0.0.1', 5432), timeout=1)\n",
    "fork": "import os\ndef f(x):\n    return os.fork()\n",
    "thread": "import threading\ndef f(x):\n    threading.Thread(target=print).start()\n",
    "write": "def f(x):\n    open(%(outside)r, 'w').write('pwned')\n",
    "kill parent": "import os\ndef f(x):\n    os.kill(os.getppid(), 9)\n",
    "unshare": "import ctypes\ndef f(x):\n    return ctypes.CDLL(None).unshare(0x10000000)\n",
    "loop": "def f(x):\n    while True:\n        pass\n",
}
for name, source in ATTACKS.items():
    source = source % {"settings": sys.argv[1], "outside": sys.argv[2]}
    run = box.run(source, "f", [{"id": "a", "args": [3]}])
    result = run.result if isinstance(run.result, dict) else {}
    call = (result.get("calls") or [{}])[0]
    report[name] = {
        "output": repr(call.get("output"))[:200],
        "error": (call.get("error") or result.get("load_error") or {}).get("type"),
        "timed_out": run.timed_out,
    }
report["zygote alive"] = box.alive()
box.close()
print(json.dumps(report))
"""


def _readable_view(folder: Path) -> Callable[[], None]:
    """Return a pre-exec step that shows the checkout at folder/checkout, then becomes NOBODY.

    In a mount namespace of the child's own it mounts a world-readable tmpfs at folder and binds
    the checkout beneath it, so NOBODY reaches the project (and a virtualenv inside it) whatever
    the folders above the checkout allow. The checkout's own files keep their modes.
    """
    libc = ctypes.CDLL(None, use_errno=True)

    def mount(source: str, target: Path, fstype: str | None, flags: int, data: str | None) -> None:
        if libc.mount(
            source.encode(),
            str(target).encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ):
            raise OSError(ctypes.get_errno(), f"mount {target}")

    def enter() -> None:
        if libc.unshare(CLONE_NEWNS):
            raise OSError(ctypes.get_errno(), "unshare")
        mount("none", Path("/"), None, MS_REC | MS_PRIVATE, None)
        mount("tmpfs", folder, "tmpfs", 0, "mode=0755,size=1m")
        (folder / "checkout").mkdir()
        mount(str(ROOT), folder / "checkout", None, MS_BIND | MS_REC, None)
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)

    return enter


def _seen_from(checkout: Path, path: str) -> str:
    """Return path as the child sees it: beneath the view's checkout when it is in the project."""
    for form in (Path(path).absolute(), Path(path).resolve()):
        if form.is_relative_to(ROOT):
            return str(checkout / form.relative_to(ROOT))
    return path


def _interpreter_for(view: Path) -> tuple[str, dict[str, str], Callable[[], None]]:
    """Return an interpreter NOBODY can run, the environment that finds NumPy and the project
    through the view, and the pre-exec step that makes the view."""
    checkout = view / "checkout"
    site_packages = _seen_from(checkout, str(Path(numpy.__file__).resolve().parent.parent))
    environment = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": f"{checkout}:{site_packages}",
        "LANG": "C.UTF-8",
    }
    enter = _readable_view(view)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (sys.executable, f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        if not os.path.exists(candidate):
            continue
        seen = _seen_from(checkout, candidate)
        try:
            probe = subprocess.run(
                [seen, "-c", "import numpy, grader.engine.sandbox.worker"],
                env=environment,
                preexec_fn=enter,  # noqa: PLW1509 - no thread of this process runs meanwhile
                cwd="/",
                capture_output=True,
                check=False,
            )
        except (PermissionError, subprocess.SubprocessError):
            continue  # e.g. an interpreter under /root, which other users cannot reach
        if probe.returncode == 0:
            return seen, environment, enter
    pytest.fail(
        f"no {version} interpreter that uid {NOBODY} can run with NumPy ({sysconfig.get_paths()['purelib']})"
    )


def test_an_unprivileged_worker_gets_the_full_sandbox(tmp_path: Path) -> None:
    outside = tmp_path / "pwned"
    os.chmod(tmp_path, 0o777)  # noqa: S103 - only Landlock may stop the write
    view = Path(tempfile.mkdtemp(prefix="chainrule-view-"))
    try:
        if os.getuid() == 0:
            python, environment, enter = _interpreter_for(view)
            checkout = view / "checkout"
            extra: dict[str, Any] = {"preexec_fn": enter}
        else:
            python, environment = sys.executable, {**os.environ, "PYTHONPATH": str(ROOT)}
            checkout, extra = ROOT, {}
        completed = subprocess.run(
            [python, "-c", HELPER, str(checkout / "config" / "settings.py"), str(outside)],
            env=environment,
            cwd="/",
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            **extra,
        )
    finally:
        view.rmdir()
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])

    assert report["uid"] != 0
    assert report["layers"]["full"] is True, report["layers"]
    assert report["layers"]["network_namespace"] is True
    assert report["layers"]["private_scratch_tmpfs"] is True
    assert report["layers"]["private_root"] is True
    assert report["correct"]["output"] == "6"
    # Outside its own root nothing exists; what does exist beyond scratch is read-only.
    for name in ("passwd", "settings", "write"):
        assert report[name]["error"] == "FileNotFoundError", (name, report[name])
    assert report["kill parent"]["error"] == "PermissionError"
    assert report["socket"]["error"] in ("PermissionError", "OSError"), report["socket"]
    assert report["fork"]["error"] == "PermissionError"
    assert report["thread"]["error"] == "RuntimeError"
    assert report["unshare"]["output"] == "-1"
    assert report["loop"]["timed_out"] is True
    assert report["zygote alive"] is True
    assert not outside.exists()
