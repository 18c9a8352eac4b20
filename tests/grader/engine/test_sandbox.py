"""The code sandbox: its layers, and hostile submissions checked from outside the sandbox."""

from __future__ import annotations

import errno
import json
import os
import re
import socket
import subprocess
import textwrap
import tracemalloc
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from grader.engine import grade
from grader.engine.code.plan import plan_calls
from grader.engine.code.spec import compile_exercise
from grader.engine.sandbox import worker as sandbox
from grader.engine.sandbox.probes import (
    probe_no_new_privs,
    probe_rlimits,
    probe_unprivileged_uid,
)
from grader.engine.sandbox.worker import (
    BLAS_KERNEL_VARIABLES,
    REQUIRED_LAYERS,
    get_sandbox,
    sandbox_layers,
)
from grader.engine.sandbox.zygote import SPARE_CHILDREN
from grader.engine.types import Status

ROOT = Path(__file__).resolve().parents[3]
RELU = yaml.safe_load(
    (ROOT / "exercises/backprop-by-hand/01-relu-and-linear-layers/relu-backward.yaml").read_text()
)
CANARY_SECRET = f"canary-secret-{uuid.uuid4().hex}"
PASSWD_MARKER = "root:x:0:0"
# What the worker may allocate to read and judge one hostile answer to relu-backward, whose inputs
# are a few hundred KiB: small frames once expanded into hundreds of MiB, even gigabytes.
WORKER_MEMORY_BOUND = 64 * 2**20
SETTINGS_MARKER = "def describe_backends"


@pytest.fixture(scope="module", autouse=True)
def short_limits() -> Iterator[None]:
    """Keep deadlines short so runaway submissions cost two seconds, not ten."""
    box = get_sandbox()
    previous = box.config
    box.config = replace(previous, code_timeout_s=2.0)
    os.environ["CHAINRULE_CANARY_SECRET"] = CANARY_SECRET
    yield
    box.config = previous
    os.environ.pop("CHAINRULE_CANARY_SECRET", None)


@pytest.fixture
def canary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a path outside the sandbox that no submission may create."""
    folder = tmp_path_factory.mktemp("outside")
    os.chmod(folder, 0o777)  # noqa: S103 - the sandbox uid could write here, were it not for Landlock
    return folder / "pwned"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """Listen on 127.0.0.1 so a submission that reached the host network would be seen."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()


def test_it_reports_every_layer() -> None:
    layers = sandbox_layers()
    for name in REQUIRED_LAYERS:
        assert name in layers
    assert "full" in layers and "running_as" in layers


def test_the_rlimit_uid_and_no_new_privs_layers_are_probed_not_assumed() -> None:
    assert probe_rlimits() is True
    assert probe_no_new_privs() is True
    assert probe_unprivileged_uid(sandbox.NOBODY_UID) is True
    if os.getuid() == 0:
        # A child that would stay root is reported as such, not as dropped.
        assert "root id" in str(probe_unprivileged_uid(0))
        assert probe_unprivileged_uid(None) == "no sandbox uid configured"


def test_the_full_sandbox_is_active_on_this_machine() -> None:
    # CI and this machine must run the full sandbox; a missing layer fails loudly here.
    assert sandbox_layers()["full"] is True, sandbox_layers()


def test_seccomp_refuses_a_call_outside_its_allow_list_in_the_child() -> None:
    # getpriority() is harmless and nothing else in the sandbox stops it: only the filter can.
    source = textwrap.dedent(
        """
        import os
        def f():
            try:
                os.getpriority(os.PRIO_PROCESS, 0)
            except OSError as error:
                return error.errno
            return 'allowed'
        """
    )
    assert isinstance(os.getpriority(os.PRIO_PROCESS, 0), int)  # allowed outside the sandbox
    run = get_sandbox().run(source, "f", [{"id": "a", "args": []}])
    (entry,) = _runner_result(run).get("calls", [{}])
    assert entry.get("output") == errno.EPERM, entry


def test_seccomp_kills_a_child_that_calls_through_another_abi() -> None:
    # The x32 bit in the call number selects another system-call table, which an allow-list
    # written for x86-64 numbers cannot describe: the filter kills before it looks further.
    source = "import ctypes\ndef f():\n    return ctypes.CDLL(None).syscall(0x40000000 | 39)\n"
    run = get_sandbox().run(source, "f", [{"id": "a", "args": []}])
    assert run.signal_name == "SIGSYS", run
    assert _runner_result(run).get("calls") == []


def test_the_zygote_environment_is_scrubbed() -> None:
    pid = get_sandbox().pid()
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    names = {entry.split(b"=", 1)[0].decode() for entry in environ if entry}
    assert "OPENBLAS_NUM_THREADS" in names
    assert not names & {
        "SECRET_KEY",
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "CHAINRULE_CANARY_SECRET",
    }


def test_the_zygote_runs_the_workers_blas_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    # Known mistakes are matched by comparing the student's output with the mistake's, computed
    # here: on ill-conditioned inputs that only holds when both run the same OpenBLAS kernel.
    monkeypatch.setenv("OPENBLAS_L2_SIZE", os.environ.get("OPENBLAS_L2_SIZE", "512"))
    box = get_sandbox()
    box.start()
    environ = Path(f"/proc/{box.pid()}/environ").read_bytes().split(b"\0")
    values = dict(entry.decode().split("=", 1) for entry in environ if entry)
    for name in BLAS_KERNEL_VARIABLES:
        assert values.get(name) == os.environ.get(name)
    assert values["OPENBLAS_L2_SIZE"] == os.environ["OPENBLAS_L2_SIZE"]


def test_a_dead_zygote_is_restarted() -> None:
    box = get_sandbox()
    old_pid = box.pid()
    assert old_pid is not None
    os.kill(old_pid, 9)
    verdict = grade(RELU, RELU["reference"], seed=3)
    assert verdict.status == Status.CORRECT
    assert get_sandbox().pid() != old_pid


def test_production_policy_refuses_a_reduced_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    box = get_sandbox()
    monkeypatch.setitem(box.layers, "full", "missing: seccomp")
    verdict = grade(RELU, RELU["reference"], seed=3)
    assert verdict.status == Status.ERROR
    assert verdict.diagnosis == "sandbox_unavailable"
    assert not verdict.counts_as_attempt


def test_development_policy_warns_on_every_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    box = get_sandbox()
    monkeypatch.setattr(box, "config", replace(box.config, allow_reduced_sandbox=True))
    monkeypatch.setitem(box.layers, "full", "missing: seccomp")
    verdict = grade(RELU, RELU["reference"], seed=3)
    assert verdict.status == Status.CORRECT
    assert "sandbox_reduced" in [message.code for message in verdict.messages]


# Writes a hand-made answer frame straight to the result pipe, as a hostile child can.
FORGE = """
import json, os, struct
def forge(header_json, body=b''):
    header = ('{"value": ' + header_json + ', "buffers": ' + json.dumps([len(body)] if body else []) + '}').encode()
    os.write(4, b'CRW1' + struct.pack('<I', len(header)) + header + body)
    os._exit(0)
"""


def _submission(attack: str, body: str = "raise RuntimeError('attack failed')") -> str:
    return (
        textwrap.dedent(attack).strip()
        + "\n\ndef relu_backward(x, grad_out):\n"
        + textwrap.indent(textwrap.dedent(body).strip(), "    ")
        + "\n"
    )


HOSTILE: dict[str, tuple[str, str]] = {
    "read /etc/passwd": (
        "import numpy as np\nLEAK = open('/etc/passwd').read()",
        "raise ValueError(LEAK)",
    ),
    "read the Django settings": (
        f"LEAK = open('{ROOT}/config/settings.py').read()",
        "raise ValueError(LEAK)",
    ),
    "read .env": (f"LEAK = open('{ROOT}/.env').read()", "raise ValueError(LEAK)"),
    "read another submission": (
        """
        import glob
        LEAK = ''
        for path in glob.glob('/tmp/chainrule-sandbox-*/*/*'):
            LEAK += open(path).read()
        for path in glob.glob('/tmp/*'):
            LEAK += path
        """,
        "raise ValueError(LEAK or 'nothing found')",
    ),
    "read the zygote's memory": (
        "import os\nLEAK = open(f'/proc/{os.getppid()}/environ').read()",
        "raise ValueError(LEAK)",
    ),
    "environment variables": ("import os", "raise ValueError(repr(dict(os.environ)))"),
    "os.system": ("import os\nCODE = os.system('touch {canary}')", "raise ValueError(CODE)"),
    "subprocess": (
        "import subprocess\nsubprocess.run(['touch', '{canary}'])",
        "raise ValueError('ran')",
    ),
    "ctypes system()": (
        "import ctypes\nctypes.CDLL(None).system(b'touch {canary}')\nopen('{canary}', 'w').write('x')",
        "raise ValueError('ran')",
    ),
    "write outside the scratch folder": (
        "open('{canary}', 'w').write('pwned')",
        "return grad_out * (x > 0)",
    ),
    "socket to redis": (
        "import socket\nsocket.create_connection(('127.0.0.1', 6379), timeout=1)",
        "return grad_out * (x > 0)",
    ),
    "socket to postgres": (
        "import socket\nsocket.create_connection(('127.0.0.1', 5432), timeout=1)",
        "return grad_out * (x > 0)",
    ),
    "socket to the host": (
        "import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)",
        "return grad_out * (x > 0)",
    ),
    "fork bomb": ("import os\nwhile True:\n    os.fork()", "return grad_out * (x > 0)"),
    "infinite loop": ("", "while True:\n    pass"),
    "ignore SIGTERM": (
        "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)",
        "while True:\n    pass",
    ),
    "20 GB allocation": (
        "import numpy as np\nBIG = np.ones(20 * 2**30 // 8)",
        "return grad_out * (x > 0)",
    ),
    "2 GB file": (
        "chunk = b'x' * 2**20\nwith open('big.bin', 'wb') as f:\n    for _ in range(2048):\n        f.write(chunk)",
        "return grad_out * (x > 0)",
    ),
    "fill the disk with many files": (
        "chunk = b'x' * 2**20\nfor i in range(200):\n    with open(f'part{i}.bin', 'wb') as f:\n        f.write(chunk * 8)",
        "return grad_out * (x > 0)",
    ),
    "100 MB of stdout": (
        "import sys\nfor _ in range(100):\n    sys.stdout.write('x' * 2**20)",
        "return grad_out * (x > 0)",
    ),
    "threads": (
        "import threading\nthreading.Thread(target=lambda: None).start()",
        "return grad_out * (x > 0)",
    ),
    "kill the parent": (
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
        "return grad_out * (x > 0)",
    ),
    "signal the parent through fcntl F_SETOWN": (
        "import fcntl, os\nREAD, WRITE = os.pipe()\nfcntl.fcntl(READ, fcntl.F_SETOWN, os.getppid())",
        "return grad_out * (x > 0)",
    ),
    "kill every process": (
        "import os, signal\nos.kill(-1, signal.SIGKILL)",
        "return grad_out * (x > 0)",
    ),
    "gc hunting for the reference": (
        "import gc, numpy as np",
        """
        for obj in gc.get_objects():
            if callable(obj) and getattr(obj, '__name__', '') == 'relu_backward' and obj is not relu_backward:
                return obj(x, grad_out)
        return np.zeros_like(x)
        """,
    ),
    "frame inspection hunting for expected values": (
        "import sys, numpy as np",
        """
        frame = sys._getframe(1)
        while frame is not None:
            for name, value in frame.f_locals.items():
                if 'expect' in name or 'reference' in name:
                    return value
            frame = frame.f_back
        return np.zeros_like(x)
        """,
    ),
    "frame and gc inspection hunting for hidden inputs": (
        """
        import gc, sys
        import numpy as np
        FOUND = []
        def arrays(value, depth=0):
            if isinstance(value, np.ndarray):
                yield value
            elif depth < 5 and isinstance(value, (list, tuple)):
                for item in value:
                    yield from arrays(item, depth + 1)
            elif depth < 5 and isinstance(value, dict):
                for item in list(value.values()):
                    yield from arrays(item, depth + 1)
        def hunt():
            found = list(FOUND)
            frame = sys._getframe(1)
            while frame is not None:
                found.extend(arrays(list(frame.f_locals.values())))
                frame = frame.f_back
            for obj in gc.get_objects():
                if isinstance(obj, (list, dict)) and obj is not found:
                    found.extend(arrays(obj, 4))
            large = [array for array in found if array.size >= 1000]
            return repr(large[0].ravel()[:8].tolist()) if large else ''
        LEAK = hunt()
        if LEAK:
            raise ValueError(LEAK)
        """,
        "FOUND.append(x)\nraise ValueError(hunt() or 'nothing found')",
    ),
    "patch np.allclose": (
        "import numpy as np\nnp.allclose = lambda *a, **k: True\nnp.isclose = lambda *a, **k: True\n"
        "np.array_equal = lambda *a, **k: True",
        "return np.zeros_like(x)",
    ),
    "fake __eq__": (
        "class Anything:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__",
        "return Anything()",
    ),
    "object array": (
        "import numpy as np\nclass Anything:\n    def __eq__(self, other):\n        return True",
        "out = np.empty(x.shape, dtype=object)\nout[...] = Anything()\nreturn out",
    ),
    "ndarray subclass with fake comparisons": (
        "import numpy as np\nclass Liar(np.ndarray):\n    def __eq__(self, other):\n        return True",
        "return np.zeros_like(x).view(Liar)",
    ),
    "pickle-style payload": (
        "import os\nclass Payload:\n    def __reduce__(self):\n        return (os.system, ('touch {canary}',))",
        "return Payload()",
    ),
    "read ahead on the job pipe hunting for hidden inputs": (
        """
        import json, os, sys
        WIRE = sys.modules['grader.engine.sandbox.wire']
        def read_ahead():
            os.set_blocking(3, False)
            data = b''
            try:
                while chunk := os.read(3, 1 << 20):
                    data += chunk
            except BlockingIOError:
                pass
            values = []
            while data[:4] == b'CRW1':
                size = int.from_bytes(data[4:8], 'little')
                end = 8 + size + sum(json.loads(data[8 : 8 + size])['buffers'])
                # The calls furthest ahead first: the message shown is cut at 1000 characters.
                values[:0] = [repr(float(v)) for a in WIRE.decode(data[:end])['args'] for v in a.flat[:8]]
                data = data[end:]
            return values
        """,
        "raise ValueError(' '.join(read_ahead()) or 'nothing ahead')",
    ),
    "forged result frame": (
        "import os",
        "os.write(4, b'CRW1' + b'\\xff' * 64)\nos._exit(0)",
    ),
    "forged infrastructure error at import": (
        "import os, sys\nWIRE = sys.modules['grader.engine.sandbox.wire']\n"
        "os.write(4, WIRE.encode({'sandbox_error': 'the grader broke'}))",
        "return grad_out * (x > 0)",
    ),
    "forged infrastructure error in a call": (
        "import os, sys\nWIRE = sys.modules['grader.engine.sandbox.wire']",
        "os.write(4, WIRE.encode({'sandbox_error': 'the grader broke'}))\nos._exit(0)",
    ),
    "forged syntax error report": (
        "import os, sys\nWIRE = sys.modules['grader.engine.sandbox.wire']\n"
        "os.write(4, WIRE.encode({'syntax_error': {'line': 1, 'message': 'nothing'}}))\nos._exit(0)",
        "return grad_out * (x > 0)",
    ),
    "forged missing-function report": (
        "import os, sys\nWIRE = sys.modules['grader.engine.sandbox.wire']\n"
        "os.write(4, WIRE.encode({'missing_function': True}))\nos._exit(0)",
        "return grad_out * (x > 0)",
    ),
    "forged integer that only looks like digits": (
        FORGE,
        """forge('{"__dict__": {"output": {"__bigint__": "--5"}}}')""",
    ),
    "forged integer in superscript digits": (
        FORGE,
        """forge('{"__dict__": {"output": {"__bigint__": "\\u00b2"}}}')""",
    ),
    "forged array with a list for its dtype": (
        FORGE,
        """forge('{"__dict__": {"output": {"__array__": 0, "dtype": [], "shape": []}}}', bytes(8))""",
    ),
    "forged errno of the wrong type": (
        "import os, sys\nimport numpy as np\nWIRE = sys.modules['grader.engine.sandbox.wire']",
        """
        error = {'type': 'OSError', 'message': '', 'traceback': '', 'line': None, 'errno': np.zeros(3)}
        os.write(4, WIRE.encode({'error': error, 'elapsed_ms': 1.0}))
        os._exit(0)
        """,
    ),
    "forged argument digests of the wrong type": (
        "import os, sys\nimport numpy as np\nWIRE = sys.modules['grader.engine.sandbox.wire']",
        """
        answer = {'output': grad_out * (x > 0), 'args_digest': [np.zeros(3), np.zeros(3)]}
        os.write(4, WIRE.encode({**answer, 'elapsed_ms': 1.0}))
        os._exit(0)
        """,
    ),
    "forged exception fields of the wrong types": (
        "import os, sys\nimport numpy as np\nWIRE = sys.modules['grader.engine.sandbox.wire']",
        """
        error = {'type': 'ValueError', 'base': np.zeros(3), 'line': np.zeros(3), 'message': np.zeros(2)}
        os.write(4, WIRE.encode({'error': error, 'elapsed_ms': 1.0}))
        os._exit(0)
        """,
    ),
    "NUL and lone surrogates in a message and a class name": (
        "class Odd:\n    pass\nOdd.__qualname__ = 'Odd\\x00\\ud800'",
        "if x.ndim == 1:\n    return Odd()\nraise ValueError('\\x00 \\udfff \\ud800')",
    ),
    "a huge return value": ("import numpy as np", "return np.zeros(20_000_000)"),
    "one buffer referenced by many arrays": (
        "import json, os, struct",
        """
        buffer = b'\\0' * (1 << 20)
        array = {'__array__': 0, 'dtype': 'float64', 'shape': [1 << 17]}
        value = {'__dict__': {'output': [array] * 300, 'calls': [array] * 300}}
        header = json.dumps({'value': value, 'buffers': [len(buffer)]}).encode()
        os.write(4, b'CRW1' + struct.pack('<I', len(header)) + header + buffer)
        os._exit(0)
        """,
    ),
    "a list of one long string and many short ones": (
        "",
        "return ['x' * 100_000] + ['a'] * 1000",
    ),
    "a header listing two million empty buffers": (
        FORGE,
        """
        import json
        header = {'value': None, 'buffers': [0] * 2_000_000}
        data = json.dumps(header, separators=(',', ':')).replace('{"value":', '{"value": ', 1)
        os.write(4, b'CRW1' + struct.pack('<I', len(data)) + data.encode())
        os._exit(0)
        """,
    ),
    "a header of a million empty lists": (
        FORGE,
        "forge('[' + ','.join(['[]'] * 1_000_000) + ']')",
    ),
    "sys.exit at import": ("import sys\nsys.exit(0)", "return grad_out * (x > 0)"),
    "os._exit at import": ("import os\nos._exit(0)", "return grad_out * (x > 0)"),
    "raise SystemExit in the function": ("", "raise SystemExit(0)"),
    "ptrace the parent through ctypes": (
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nRESULT = libc.ptrace(16, os.getppid(), 0, 0)",
        "raise ValueError(RESULT)",
    ),
    "unshare back into a new namespace": (
        "import ctypes\nRESULT = ctypes.CDLL(None).unshare(0x10000000)",
        "raise ValueError(RESULT)",
    ),
}


def _hidden_values(seed: int) -> list[str]:
    """Return the first values of each hidden test's inputs, written as a leak would write them."""
    calls = plan_calls(compile_exercise(RELU), seed)
    hidden = [call for call in calls if call.test is not None and call.test.hidden]
    assert hidden, "relu-backward needs a hidden test for this check"
    return [repr(float(value)) for call in hidden for arg in call.args for value in arg.flat[:8]]


def _leaks(verdict_json: str, seed: int) -> list[str]:
    markers = [CANARY_SECRET, PASSWD_MARKER, SETTINGS_MARKER, "SECRET_KEY", "grad_out * (x > 0)\n"]
    markers += _hidden_values(seed)
    return [marker for marker in markers if marker in verdict_json]


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_submission_fails_safely(
    name: str, canary: Path, listener: socket.socket
) -> None:
    attack, body = HOSTILE[name]
    source = _submission(attack, body)
    source = source.replace("{canary}", str(canary)).replace(
        "{port}", str(listener.getsockname()[1])
    )
    zygote_before = get_sandbox().pid()

    tracemalloc.start()
    try:
        verdict = grade(RELU, source, seed=11)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < WORKER_MEMORY_BOUND, f"the worker allocated {peak / 2**20:.0f} MiB"

    assert verdict.status != Status.CORRECT, verdict.to_dict()
    assert verdict.status != Status.ERROR, verdict.to_dict()  # the student's fault, not ours
    as_json = json.dumps(verdict.to_dict())
    assert _leaks(as_json, seed=11) == []
    # Saved as PostgreSQL jsonb, which refuses NUL and unpaired surrogates (UTF-8 cannot hold them).
    stored = json.dumps(verdict.to_dict(), ensure_ascii=False)
    assert "\x00" not in stored and stored.encode("utf-8")
    assert not canary.exists(), "the submission wrote outside its scratch folder"
    with pytest.raises(BlockingIOError):
        listener.accept()
    # The worker and its zygote survive and grade the next submission.
    assert get_sandbox().pid() == zygote_before
    assert grade(RELU, RELU["reference"], seed=12).status == Status.CORRECT


EXPECTED_DIAGNOSES: dict[str, set[str]] = {
    "read /etc/passwd": {"forbidden_operation"},
    "read the Django settings": {"forbidden_operation"},
    "read ahead on the job pipe hunting for hidden inputs": {"exception"},
    "infinite loop": {"timeout"},
    "ignore SIGTERM": {"timeout"},
    "20 GB allocation": {"memory_limit"},
    "2 GB file": {"output_too_large"},
    "100 MB of stdout": {"output_too_large"},
    "fill the disk with many files": {"output_too_large"},
    "threads": {"forbidden_operation"},
    "fork bomb": {"forbidden_operation"},
    "kill the parent": {"forbidden_operation"},
    "signal the parent through fcntl F_SETOWN": {"forbidden_operation"},
    "socket to redis": {"forbidden_operation"},
    "socket to postgres": {"forbidden_operation"},
    "fake __eq__": {"wrong_type"},
    "object array": {"wrong_type"},
    "pickle-style payload": {"wrong_type"},
    "patch np.allclose": {"wrong_values"},
    "a huge return value": {"output_too_large"},
    "NUL and lone surrogates in a message and a class name": {"exception"},
    "forged infrastructure error at import": {"forbidden_operation"},
    "forged infrastructure error in a call": {"forbidden_operation"},
    "forged syntax error report": {"forbidden_operation"},
    "forged missing-function report": {"missing_function"},
    "one buffer referenced by many arrays": {"forbidden_operation"},
    "a list of one long string and many short ones": {"wrong_type"},
    "a header listing two million empty buffers": {"output_too_large"},
    "a header of a million empty lists": {"output_too_large"},
    "sys.exit at import": {"exited"},
    "os._exit at import": {"exited"},
    "forged result frame": {"forbidden_operation"},
    "forged errno of the wrong type": {"forbidden_operation"},
    "forged argument digests of the wrong type": {"forbidden_operation"},
    "forged exception fields of the wrong types": {"forbidden_operation"},
    "forged integer that only looks like digits": {"forbidden_operation"},
    "forged integer in superscript digits": {"forbidden_operation"},
    "forged array with a list for its dtype": {"forbidden_operation"},
    "write outside the scratch folder": {"forbidden_operation"},
}


@pytest.mark.parametrize("name", list(EXPECTED_DIAGNOSES))
def test_a_hostile_submission_gets_plain_words(name: str, canary: Path) -> None:
    attack, body = HOSTILE[name]
    source = _submission(attack, body).replace("{canary}", str(canary)).replace("{port}", "1")
    verdict = grade(RELU, source, seed=5)
    assert verdict.diagnosis in EXPECTED_DIAGNOSES[name], verdict.to_dict()
    assert verdict.messages and all(message.text for message in verdict.messages)


@pytest.mark.parametrize("name", [name for name in HOSTILE if name.startswith("forged")])
def test_a_forged_report_counts_as_an_attempt(name: str) -> None:
    # Only the zygote reports set-up failures, and syntax is checked before the code runs: what
    # the child says after the code ran is the student's output, never a free retry.
    verdict = grade(RELU, _submission(*HOSTILE[name]), seed=5)
    assert verdict.status == Status.INCORRECT, verdict.to_dict()
    assert verdict.counts_as_attempt


def test_a_child_that_cannot_lock_itself_down_is_our_error_not_the_students(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box = get_sandbox()
    # The scratch tmpfs refuses a negative size.
    monkeypatch.setattr(box, "config", replace(box.config, code_file_mb=-1))
    verdict = grade(RELU, RELU["reference"], seed=1)
    assert verdict.status == Status.ERROR
    assert verdict.diagnosis == "sandbox_failed"
    assert not verdict.counts_as_attempt
    monkeypatch.undo()
    assert grade(RELU, RELU["reference"], seed=1).status == Status.CORRECT


def test_a_submission_cannot_read_the_previous_ones_files() -> None:
    secret = f"other-student-{uuid.uuid4().hex}"
    writer = _submission(
        f"open('notes.txt', 'w').write({secret!r})\nimport os\nos.mkdir('keep')",
        "return grad_out * (x > 0)",
    )
    assert grade(RELU, writer, seed=1).status == Status.CORRECT
    reader = _submission(
        """
        import glob, os
        FOUND = []
        for pattern in ('../*/*', '../../*/*/*', '/tmp/chainrule-sandbox-*/*/*', '/tmp/*/*/*/notes.txt'):
            for path in glob.glob(pattern):
                try:
                    FOUND.append(open(path).read())
                except OSError as error:
                    FOUND.append(type(error).__name__)
        """,
        "raise ValueError(repr(FOUND))",
    )
    verdict = grade(RELU, reader, seed=1)
    assert verdict.status == Status.INCORRECT
    assert secret not in json.dumps(verdict.to_dict())


def test_a_timeout_is_its_own_status() -> None:
    verdict = grade(RELU, _submission("", "while True:\n    pass"), seed=1)
    assert verdict.status == Status.TIMEOUT
    # The deadline is sized from relu's reference (well under the 2 s cap set above).
    assert re.search(r"did not finish within 0\.\d+ seconds", verdict.messages[0].text)


def test_scratch_folders_are_removed_after_each_job() -> None:
    source = _submission("open('note.txt', 'w').write('mine')", "return grad_out * (x > 0)")
    assert grade(RELU, source, seed=1).status == Status.CORRECT
    base = get_sandbox().scratch_base
    assert base is not None and Path(base).is_dir()
    # Only the pre-forked children's fresh folders may remain.
    assert len(list(Path(base).iterdir())) <= SPARE_CHILDREN
    assert list(Path(base).rglob("note.txt")) == []


def test_a_new_zygote_removes_folders_left_by_dead_ones(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    stale = Path("/tmp") / f"chainrule-sandbox-{2**22 + 12345}-stale"
    (stale / "job-old").mkdir(parents=True, exist_ok=True)
    (stale / "job-old" / "left.txt").write_text("old")
    box = get_sandbox()
    box.start()
    assert not stale.exists()
    assert box.scratch_base is not None and Path(box.scratch_base).exists()


def test_a_killed_zygotes_scratch_folder_is_removed_on_restart() -> None:
    box = get_sandbox()
    base, pid = box.scratch_base, box.pid()
    assert base is not None and pid is not None
    os.kill(pid, 9)
    assert grade(RELU, RELU["reference"], seed=2).status == Status.CORRECT
    assert not Path(base).exists()


def test_the_child_cannot_import_the_project() -> None:
    source = _submission(
        "import grader.engine.code as leaked\nRESULT = leaked.__file__", "raise ValueError(RESULT)"
    )
    verdict = grade(RELU, source, seed=1)
    as_json = json.dumps(verdict.to_dict())
    # grader.engine itself is in the zygote, but the exercise files and settings are not readable.
    assert SETTINGS_MARKER not in as_json
    source = _submission("import config.settings", "return grad_out * (x > 0)")
    assert grade(RELU, source, seed=1).status != Status.CORRECT


def _runner_result(run: Any) -> dict[str, Any]:
    return run.result if isinstance(run.result, dict) else {}


def test_fcntl_commands_that_signal_other_processes_are_refused_in_the_child() -> None:
    # Refused by seccomp whatever the kernel's Landlock ABI, so no submission can SIGSTOP the
    # next child, the zygote or (running as the worker's uid) the worker through O_ASYNC.
    source = textwrap.dedent(
        """
        import errno, fcntl, os, struct
        def f():
            read, write = os.pipe()
            folder = os.open('.', os.O_RDONLY)
            owner = struct.pack('ii', 1, os.getppid())  # F_OWNER_PID
            attempts = {
                'F_SETOWN': (read, 8, os.getppid()),
                'F_SETSIG': (read, 10, 19),
                'F_SETOWN_EX': (read, 15, owner),
                'F_SETLEASE': (read, 1024, 0),
                'F_NOTIFY': (folder, 1026, 0x80000001),
            }
            refused = {}
            for name, (fd, command, argument) in attempts.items():
                try:
                    fcntl.fcntl(fd, command, argument)
                except OSError as error:
                    refused[name] = errno.errorcode.get(error.errno, str(error.errno))
                else:
                    refused[name] = 'allowed'
            flags = fcntl.fcntl(read, fcntl.F_GETFL)
            fcntl.fcntl(read, fcntl.F_SETFL, flags | os.O_NONBLOCK)
            refused['F_SETFL still works'] = bool(fcntl.fcntl(read, fcntl.F_GETFL) & os.O_NONBLOCK)
            return refused
        """
    )
    run = get_sandbox().run(source, "f", [{"id": "a", "args": []}])
    (entry,) = _runner_result(run).get("calls", [{}])
    assert entry.get("output") == {
        "F_SETOWN": "EPERM",
        "F_SETSIG": "EPERM",
        "F_SETOWN_EX": "EPERM",
        "F_SETLEASE": "EPERM",
        "F_NOTIFY": "EPERM",
        "F_SETFL still works": True,
    }, entry


def test_the_child_sees_no_network_interfaces_but_loopback() -> None:
    source = "import os\ndef f():\n    return sorted(os.listdir('/sys/class/net'))\n"
    run = get_sandbox().run(source, "f", [{"id": "a", "args": []}])
    entry = _runner_result(run).get("calls", [{}])[0]
    # /sys is not readable under Landlock; either way the host's eth0 is not visible.
    assert "eth0" not in json.dumps(entry, default=str)


def test_an_interrupted_job_leaves_the_next_one_unaffected(monkeypatch: pytest.MonkeyPatch) -> None:
    box = get_sandbox()

    class SoftTimeLimit(Exception):
        pass

    def interrupt(*_: object, **__: object) -> bytes:
        raise SoftTimeLimit

    with monkeypatch.context() as patch:
        patch.setattr(sandbox._AnswerReader, "read", interrupt)
        with pytest.raises(SoftTimeLimit):
            box.run(_submission("", "return grad_out * (x > 0)"), "relu_backward", [])
    assert grade(RELU, RELU["reference"], seed=4).status == Status.CORRECT


def test_the_callers_work_meanwhile_gives_the_deadline() -> None:
    box = get_sandbox()
    asked = []

    def meanwhile() -> float:
        asked.append(True)
        return 0.3  # well under the sandbox's own 2 s: a loop must end at this deadline

    loop = _submission("", "while True:\n    pass")
    run = box.run(loop, "relu_backward", [{"id": "a", "args": [1, 2]}], meanwhile=meanwhile)
    assert asked == [True]
    assert run.timed_out


def test_a_failure_meanwhile_ends_the_child_and_is_raised_with_the_sandbox_ready() -> None:
    box = get_sandbox()
    zygote = box.pid()

    def meanwhile() -> float:
        raise ZeroDivisionError("the caller's own mistake")

    loop = _submission("", "while True:\n    pass")
    with pytest.raises(ZeroDivisionError, match="the caller's own mistake"):
        box.run(loop, "relu_backward", [{"id": "a", "args": [1, 2]}], meanwhile=meanwhile)
    assert box.pid() == zygote  # no restart: the child was ended and reported on
    assert grade(RELU, RELU["reference"], seed=2).status == Status.CORRECT


def test_a_reference_that_fails_while_the_child_runs_is_the_exercises_error() -> None:
    # The expected values are computed while the child works on the calls: a reference that
    # raises on the hidden test's inputs is the author's mistake, not the student's.
    spec = {
        **RELU,
        "reference": RELU["reference"].replace(
            "return grad_out", "assert x.size < 1000\n    return grad_out"
        ),
    }
    zygote = get_sandbox().pid()
    verdict = grade(spec, RELU["reference"], seed=3)
    assert verdict.status == Status.ERROR, verdict.to_dict()
    assert verdict.diagnosis == "spec_error"
    assert "AssertionError" in verdict.messages[0].text
    assert not verdict.counts_as_attempt
    assert get_sandbox().pid() == zygote


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to steer between")
def test_a_child_is_kept_off_the_workers_cpu_only_while_the_worker_works() -> None:
    sleeper = subprocess.Popen(["sleep", "30"])  # noqa: S603,S607 - a stand-in child
    try:
        allowed = os.sched_getaffinity(sleeper.pid)
        elsewhere = sandbox._Elsewhere(sleeper.pid)
        steered = os.sched_getaffinity(sleeper.pid)
        assert steered < allowed and len(steered) == len(allowed) - 1
        elsewhere.end()
        assert os.sched_getaffinity(sleeper.pid) == allowed
    finally:
        sleeper.kill()
        sleeper.wait()


def test_text_the_child_chose_reaches_the_verdict_storable() -> None:
    name = "NUL and lone surrogates in a message and a class name"
    verdict = grade(RELU, _submission(*HOSTILE[name]), seed=3)
    texts = [test.message for test in verdict.tests or []]
    assert any("ValueError" in text and "\ufffd \ufffd \ufffd" in text for text in texts), texts
    assert any("submission.Odd\ufffd\ufffd" in text for text in texts), texts
    stored = json.dumps(verdict.to_dict(), ensure_ascii=False).encode("utf-8")
    assert b"\x00" not in stored and b"\\u0000" not in stored
    assert json.loads(stored) == verdict.to_dict()


METADATA_PROBE = """
import errno, os
import numpy

def _seen(action):
    try:
        return action()
    except OSError as error:
        return errno.errorcode.get(error.errno, str(error.errno))

def f(paths):
    numpy_folder = os.path.dirname(numpy.__file__)
    site_packages = os.path.dirname(numpy_folder)
    seen = {name: _seen(lambda p=path: str(os.stat(p).st_size)) for name, path in paths.items()}
    seen["/proc"] = _seen(lambda: sorted(os.listdir("/proc")))
    seen["/proc/1"] = _seen(lambda: str(os.stat("/proc/1").st_uid))
    seen["site-packages"] = _seen(lambda: sorted(os.listdir(site_packages)))
    seen["numpy"] = _seen(lambda: open(numpy.__file__).read(7))
    seen["project listing"] = _seen(lambda: sorted(os.listdir(paths["project"])))
    return seen
"""


def test_a_submission_sees_no_file_but_the_interpreter_numpy_and_its_scratch(
    tmp_path: Path,
) -> None:
    database = tmp_path / "db.sqlite3"
    database.write_bytes(b"SQLite format 3\x00")
    paths = {
        "settings": str(ROOT / "config" / "settings.py"),
        "database": str(database),
        "project": str(ROOT),
        "standard library": json.__file__,
        "passwd": "/etc/passwd",
    }
    site = Path(__import__("numpy").__file__).resolve().parent.parent
    outside_numpy = sorted(p.name for p in site.iterdir() if not p.name.startswith("numpy"))
    assert outside_numpy, "the virtualenv holds packages besides NumPy"
    paths["another package"] = str(site / outside_numpy[0])
    run = get_sandbox().run(METADATA_PROBE, "f", [{"id": "a", "args": [paths]}])
    (entry,) = _runner_result(run).get("calls", [{}])
    seen = entry.get("output")
    assert isinstance(seen, dict), entry
    for name in ("settings", "database", "passwd", "another package"):
        assert seen[name] == "ENOENT", (name, seen[name])
    assert seen["/proc"] == "ENOENT" and seen["/proc/1"] == "ENOENT"
    # The project's folder holds at most the way to NumPy (a virtualenv inside the checkout).
    assert seen["project listing"] in ("ENOENT", "EACCES", [], [".venv"]), seen["project listing"]
    # NumPy's own folder and what the wheel vendors beside it (numpy.libs) only, if Landlock
    # lets the folder be listed at all.
    listed = seen["site-packages"]
    assert listed == "EACCES" or (listed and all(n.startswith("numpy") for n in listed)), listed
    assert seen["numpy"] == Path(__import__("numpy").__file__).read_text()[:7]
    assert seen["standard library"].isdigit()  # the interpreter's own library is there


def test_the_private_root_is_probed_and_required() -> None:
    assert "private_root" in REQUIRED_LAYERS
    assert sandbox_layers()["private_root"] is True


def test_a_submission_imports_the_standard_library_wherever_the_interpreter_lives() -> None:
    # The interpreter may live in a folder only its owner may enter (here /root/.pyenv, mode
    # 0700): the child's own root shows its library at the same path through folders anyone
    # may pass, so a module the zygote did not load still imports after the uid drop.
    source = textwrap.dedent(
        """
        import sys
        def f():
            loaded_before = 'csv' in sys.modules
            import csv
            return [loaded_before, csv.__name__]
        """
    )
    run = get_sandbox().run(source, "f", [{"id": "a", "args": []}])
    (entry,) = _runner_result(run).get("calls", [{}])
    assert entry.get("output") == [False, "csv"], entry
