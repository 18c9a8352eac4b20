"""The worker's warm-up: chosen from its queues, each kind loading only what it grades with."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.celery import kinds_for_queues

ROOT = Path(__file__).resolve().parent.parent
WARM = """
import json, os, sys
import django
django.setup()
from config.celery import warm_up_engine
from grader.engine.sandbox import worker
warmed = warm_up_engine(sys.argv[1].split(","))
print(json.dumps({
    "warmed": warmed,
    "sympy": "sympy" in sys.modules,
    "numpy": "numpy" in sys.modules,
    "zygote": worker._sandbox is not None and worker._sandbox.pid() is not None,
}))
"""


@pytest.mark.parametrize(
    ("queues", "kinds"),
    [
        (["symbolic"], ["symbolic"]),
        (["code"], ["code"]),
        (["code", "symbolic", "celery"], ["symbolic", "code"]),
        (["celery"], []),
    ],
)
def test_a_worker_grades_the_kinds_of_its_queues(settings, queues, kinds):
    settings.GRADER_SYMBOLIC_QUEUE = "symbolic"
    settings.GRADER_CODE_QUEUE = "code"
    assert kinds_for_queues(queues) == kinds


def warm(kinds: str) -> dict[str, object]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1"}
    done = subprocess.run(
        [sys.executable, "-c", WARM, kinds],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_warming_for_code_loads_no_sympy_and_starts_no_zygote():
    assert warm("code") == {"warmed": ["code"], "sympy": False, "numpy": True, "zygote": False}


def test_warming_for_symbolic_starts_no_zygote():
    assert warm("symbolic") == {
        "warmed": ["symbolic"],
        "sympy": True,
        "numpy": True,
        "zygote": False,
    }
