"""Hostile answers through the public grade(): answered within the deadline, worker still serving."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from grader import engine
from grader.engine import Status, forked
from grader.engine.config import engine_config
from grader.engine.symbolic import dispatch

EXERCISES = Path(__file__).resolve().parents[3] / "exercises"
SIGMOID = yaml.safe_load(
    (EXERCISES / "everyday-derivatives/02-activations/sigmoid-derivative.yaml").read_text(
        encoding="utf-8"
    )
)
STEPS = yaml.safe_load(
    (EXERCISES / "everyday-derivatives/02-activations/sigmoid-derivative-steps.yaml").read_text(
        encoding="utf-8"
    )
)
WITH_FACTORIAL = SIGMOID
PWNED = Path("/tmp/pwned")

HOSTILE: list[tuple[str, dict[str, Any], str]] = [
    ("import-system", SIGMOID, "__import__('os').system('touch /tmp/pwned')"),
    ("dunder-class", SIGMOID, "().__class__.__bases__[0].__subclasses__()"),
    ("eval-call", SIGMOID, "eval('1')"),
    ("exec-call", SIGMOID, "exec(\"open('/tmp/pwned','w')\")"),
    ("lambda", SIGMOID, "(lambda: __import__('os'))()"),
    ("semicolon", SIGMOID, "x; import os"),
    ("exponent-tower", SIGMOID, "10^10^10"),
    ("exponent-tower-stars", SIGMOID, "9**9**9**9"),
    ("big-power", SIGMOID, "(x+1)^10000"),
    ("factorial-bomb", WITH_FACTORIAL, "factorial(10^9)"),
    ("factorial-bomb-power", WITH_FACTORIAL, "factorial(10^10^10)"),
    ("gamma-bomb", WITH_FACTORIAL, "gamma(10^9)"),
    ("deep-nesting", SIGMOID, "(" * 500 + "x" + ")" * 500),
    ("deep-calls", SIGMOID, "exp(" * 300 + "x" + ")" * 300),
    ("deep-minus", SIGMOID, "-" * 5000 + "x"),
    ("100kB", SIGMOID, "x+" * 50_000 + "x"),
    ("100kB-one-name", SIGMOID, "x" * 100_000),
    ("long-number", SIGMOID, "9" * 5000),
    ("many-nodes", SIGMOID, "+".join(["sigma(x)"] * 300)),
    ("huge-literal-exponent", SIGMOID, "1e999999999"),
    ("derivation-bomb", STEPS, "\n".join(["diff(diff(diff(exp(x^2), x), x), x)"] * 40)),
    ("derivation-many-lines", STEPS, "\n".join(["sigma(x)"] * 500)),
]


WITH_GROWTH = SIGMOID
# Each of these ran into the 5 s deadline (a timeout, which uses an attempt) before the parser
# learnt to refuse them.
GROWTH_BOMBS = [
    "factorial(factorial(100))",
    "gamma(gamma(100))",
    "factorial(factorial(factorial(5)))",
    "binomial(10^20, 10^10)",
    "exp(exp(10^100))",
    "exp(exp(exp(10)))",
    "exp(exp(exp(exp(exp(exp(x))))))",
    "x^x^x^x^x^x",
    "cosh(cosh(cosh(cosh(x))))",
    "sigma(sigma(sigma(sigma(x))))",
]
GROWTH_READ = [
    "exp(-exp(x))",
    "exp(exp(exp(x)))",
    "x^x",
    "gamma(x + 1)",
    "factorial(5)",
    "exp(100)",
]


@pytest.mark.parametrize("answer", GROWTH_BOMBS)
def test_fast_growing_bombs_are_refused_as_too_large(answer: str) -> None:
    verdict = engine.grade(WITH_GROWTH, answer, seed=0)
    assert verdict.status == Status.INVALID, verdict.messages
    assert verdict.messages[0].code == "too_large"
    assert not verdict.counts_as_attempt


@pytest.mark.parametrize("answer", GROWTH_READ)
def test_ordinary_growth_is_still_read(answer: str) -> None:
    assert engine.grade(WITH_GROWTH, answer, seed=0).status == Status.INCORRECT


@pytest.fixture(scope="module", autouse=True)
def warm_worker() -> None:
    dispatch.warm_up()


@pytest.fixture(autouse=True)
def no_pwned_file() -> Iterator[None]:
    PWNED.unlink(missing_ok=True)
    yield
    assert not PWNED.exists(), "an answer ran code"


@pytest.mark.parametrize(("case", "exercise", "answer"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_input_is_answered_quickly_and_the_worker_keeps_serving(
    case: str, exercise: dict[str, Any], answer: str
) -> None:
    started = time.perf_counter()
    verdict = engine.grade(exercise, answer, seed=0)
    elapsed = time.perf_counter() - started
    assert elapsed < engine_config().symbolic_timeout_s + 1.0
    assert verdict.status in (Status.INVALID, Status.INCORRECT, Status.TIMEOUT), verdict.messages
    assert verdict.status != Status.CORRECT
    assert verdict.messages and verdict.messages[0].text
    follow_up = engine.grade(SIGMOID, "sigma(x)(1-sigma(x))", seed=0)
    assert follow_up.status == Status.CORRECT


def test_a_check_past_its_deadline_is_killed_and_reported_as_timeout() -> None:
    config = replace(engine_config(), symbolic_timeout_s=0.001)
    started = time.perf_counter()
    verdict = engine.grade(SIGMOID, "sigma(x)(1-sigma(x))", seed=0, config=config)
    assert time.perf_counter() - started < 1.0
    assert verdict.status == Status.TIMEOUT
    assert "took longer than" in verdict.messages[0].text
    assert engine.grade(SIGMOID, "sigma(x)(1-sigma(x))", seed=0).status == Status.CORRECT


def test_a_child_stuck_outside_python_is_killed_at_the_deadline() -> None:
    def stuck() -> dict[str, Any]:
        import signal

        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        time.sleep(30)
        return {}

    started = time.perf_counter()
    outcome = forked.run_in_child(stuck, deadline_s=0.3)
    assert outcome.failure == "timeout"
    assert time.perf_counter() - started < 2.0


def test_a_child_over_its_memory_budget_reports_memory() -> None:
    def greedy() -> dict[str, Any]:
        blocks = [bytearray(64 * 1024 * 1024) for _ in range(64)]
        return {"size": len(blocks)}

    outcome = forked.run_in_child(greedy, deadline_s=10, memory_mb=256)
    assert outcome.failure == "memory"


def test_a_child_killed_for_memory_becomes_a_clear_too_large_verdict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        dispatch,
        "run_job",
        lambda name, payload, **limits: forked.ChildOutcome(failure="memory"),
    )
    verdict = engine.grade(SIGMOID, "sigma(x)(1-sigma(x))", seed=0)
    assert verdict.status == Status.INVALID
    assert verdict.messages[0].code == "too_large"
    assert "too large to check" in verdict.messages[0].text


def test_a_crashing_child_is_an_error_not_a_hang() -> None:
    def crash() -> dict[str, Any]:
        os._exit(3)

    outcome = forked.run_in_child(crash, deadline_s=5)
    assert outcome.failure == "crashed"


def test_each_job_runs_in_its_own_fresh_child() -> None:
    forked.register_job("pid", lambda payload: {"pid": os.getpid(), "echo": payload["x"]})
    first = forked.run_job("pid", {"x": 1}, deadline_s=5)
    second = forked.run_job("pid", {"x": 2}, deadline_s=5)
    assert first.result is not None and second.result is not None
    assert first.result["echo"] == 1 and second.result["echo"] == 2
    assert len({first.result["pid"], second.result["pid"], os.getpid()}) == 3


def test_a_job_past_its_deadline_is_killed() -> None:
    forked.register_job("sleep", lambda payload: time.sleep(payload["s"]) or {})
    started = time.perf_counter()
    outcome = forked.run_job("sleep", {"s": 30}, deadline_s=0.3)
    assert outcome.failure == "timeout"
    assert time.perf_counter() - started < 2.0
    assert forked.run_job("sleep", {"s": 0}, deadline_s=5).result == {}


def test_a_job_over_its_memory_budget_reports_memory() -> None:
    forked.register_job("greedy", lambda payload: {"n": len(bytearray(payload["bytes"]))})
    outcome = forked.run_job("greedy", {"bytes": 2 * 1024**3}, deadline_s=10, memory_mb=256)
    assert outcome.failure == "memory"


def test_a_spare_child_killed_from_outside_is_replaced() -> None:
    forked.register_job("ok", lambda payload: {"ok": True})
    forked.run_job("ok", {}, deadline_s=5)
    spare = forked._children.spare
    assert spare is not None
    os.kill(spare.pid, 9)
    os.waitpid(spare.pid, 0)
    assert forked.run_job("ok", {}, deadline_s=5).result == {"ok": True}


def test_the_child_result_comes_back_as_json() -> None:
    outcome = forked.run_in_child(lambda: {"pid": os.getpid()}, deadline_s=5)
    assert outcome.result is not None
    assert outcome.result["pid"] != os.getpid()


LEAST_SQUARES = yaml.safe_load(
    (
        EXERCISES / "matrix-calculus/02-least-squares-and-layouts/least-squares-gradient.yaml"
    ).read_text(encoding="utf-8")
)


@pytest.mark.parametrize(
    ("exercise", "answer", "status"),
    [
        (SIGMOID, "sigma(x)(1-sigma(x))", "correct"),
        (SIGMOID, "2 sigma(x)(1-sigma(x))", "incorrect"),
        (STEPS, STEPS["also_correct"][1], "correct"),
        (LEAST_SQUARES, "-2 A^T (A x - b)", "incorrect"),
    ],
    ids=["expression", "expression-wrong", "derivation", "matrix-wrong"],
)
def test_warm_up_leaves_a_check_nothing_to_import_in_the_child(
    exercise: dict[str, Any], answer: str, status: str
) -> None:
    dispatch.warm_up()
    frozen = gc.get_freeze_count()
    dispatch.warm_up()
    assert frozen > 0 and gc.get_freeze_count() == frozen  # warmed and frozen once, not twice
    loaded = set(sys.modules)
    assert {"sympy", "numpy", "mpmath"} <= loaded

    def check() -> dict[str, Any]:
        verdict = dispatch.grade_in_process(exercise, answer, seed=0)
        return {"status": str(verdict.status), "imported": sorted(set(sys.modules) - loaded)}

    outcome = forked.run_in_child(check, deadline_s=30)
    assert outcome.result == {"status": status, "imported": []}


def test_the_engine_imports_no_django() -> None:
    code = (
        "import sys; sys.path.insert(0, '.');"
        "from grader.engine.symbolic import dispatch, matrices, derivation, parser;"
        "dispatch.warm_up();"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    )
    root = Path(__file__).resolve().parents[3]
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
