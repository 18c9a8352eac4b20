"""The sandbox when the worker itself is unprivileged: user + network namespaces instead of a uid drop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy
import pytest

ROOT = Path(__file__).resolve().parents[3]
NOBODY = 65534

HELPER = r"""
import json, sys
from grader.engine.sandbox import Sandbox, SandboxSettings

box = Sandbox(SandboxSettings(require_full=True, timeout_s=3.0))
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


def _interpreter_for(uid: int) -> tuple[str, dict[str, str]]:
    """Return an interpreter the given uid can run, and the environment that finds NumPy and the project."""
    site_packages = str(Path(numpy.__file__).resolve().parent.parent)
    environment = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": f"{ROOT}:{site_packages}",
        "LANG": "C.UTF-8",
    }
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (sys.executable, f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        if not os.path.exists(candidate):
            continue
        try:
            probe = subprocess.run(
                [candidate, "-c", "import numpy, grader.engine.sandbox"],
                env=environment,
                user=uid,
                group=uid,
                extra_groups=[],
                cwd="/",
                capture_output=True,
                check=False,
            )
        except PermissionError:
            continue  # e.g. an interpreter under /root, which other users cannot reach
        if probe.returncode == 0:
            return candidate, environment
    pytest.fail(
        f"no {version} interpreter that uid {uid} can run with NumPy ({sysconfig.get_paths()['purelib']})"
    )


def test_an_unprivileged_worker_gets_the_full_sandbox(tmp_path: Path) -> None:
    outside = tmp_path / "pwned"
    os.chmod(tmp_path, 0o777)  # noqa: S103 - only Landlock may stop the write
    if os.getuid() == 0:
        python, environment = _interpreter_for(NOBODY)
        extra = {"user": NOBODY, "group": NOBODY, "extra_groups": []}
    else:
        python, environment = sys.executable, {**os.environ, "PYTHONPATH": str(ROOT)}
        extra = {}
    completed = subprocess.run(
        [python, "-c", HELPER, str(ROOT / "config" / "settings.py"), str(outside)],
        env=environment,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **extra,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])

    assert report["uid"] != 0
    assert report["layers"]["full"] is True, report["layers"]
    assert report["layers"]["network_namespace"] is True
    assert report["layers"]["private_scratch_tmpfs"] is True
    assert report["correct"]["output"] == "6"
    for name in ("passwd", "settings", "write", "kill parent"):
        assert report[name]["error"] == "PermissionError", (name, report[name])
    assert report["socket"]["error"] in ("PermissionError", "OSError"), report["socket"]
    assert report["fork"]["error"] == "PermissionError"
    assert report["thread"]["error"] == "RuntimeError"
    assert report["unshare"]["output"] == "-1"
    assert report["loop"]["timed_out"] is True
    assert report["zygote alive"] is True
    assert not outside.exists()
