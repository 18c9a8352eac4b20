"""A forked child reused for several checks: bounded, and nothing one check leaves reaches the next."""

from __future__ import annotations

import gc
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import mpmath
import numpy
import pytest
import sympy
import yaml

from grader import engine
from grader.engine import forked
from grader.engine.forked import Reuse
from grader.engine.symbolic import dispatch

EXERCISES = Path(__file__).resolve().parents[3] / "exercises"
QUIET = Reuse(save=lambda: lambda: None, settings=lambda: None, reset=lambda: None)
KEPT: list[bytes] = []  # what a job keeps alive in its child, to grow its memory


def _exercise(path: str) -> dict[str, Any]:
    return yaml.safe_load((EXERCISES / path).read_text(encoding="utf-8"))


def _pid_job(payload: dict[str, Any]) -> dict[str, Any]:
    return {"pid": os.getpid()}


def _pids(name: str, count: int, **limits: Any) -> list[int]:
    pids = []
    for _ in range(count):
        outcome = forked.run_job(name, {}, deadline_s=10, **limits)
        assert outcome.result is not None, outcome
        pids.append(outcome.result["pid"])
    return pids


@pytest.fixture(scope="module", autouse=True)
def warm_worker() -> None:
    dispatch.warm_up()


def test_a_child_runs_several_checks_then_a_fresh_one_takes_over() -> None:
    forked.register_job("reused_pid", _pid_job, reuse=QUIET)
    pids = _pids("reused_pid", 7, child_checks=3)
    assert os.getpid() not in pids
    assert len(set(pids[:3])) == 1 and len(set(pids[3:6])) == 1
    assert len({pids[0], pids[3], pids[6]}) == 3


def test_a_job_registered_without_reuse_still_gets_a_child_of_its_own() -> None:
    forked.register_job("own_pid", _pid_job)
    pids = _pids("own_pid", 3)
    assert len(set(pids)) == 3


def test_a_child_whose_memory_grew_past_its_budget_is_replaced() -> None:
    def grow(payload: dict[str, Any]) -> dict[str, Any]:
        KEPT.append(b"\x01" * (payload["mb"] * 1024 * 1024))  # resident, not just reserved
        return {"pid": os.getpid()}

    forked.register_job("grow", grow, reuse=QUIET)
    small = [forked.run_job("grow", {"mb": 0}, deadline_s=10).result for _ in range(3)]
    assert len({r["pid"] for r in small if r}) == 1  # no growth: the same child
    grown = forked.run_job("grow", {"mb": 48}, deadline_s=10, child_memory_mb=32).result
    after = forked.run_job("grow", {"mb": 0}, deadline_s=10, child_memory_mb=32).result
    assert grown is not None and after is not None
    assert grown["pid"] == small[0]["pid"]  # type: ignore[index]
    assert after["pid"] != grown["pid"]


def test_a_childs_collections_walk_only_what_it_made_not_what_it_was_forked_with() -> None:
    def tracked(payload: dict[str, Any]) -> dict[str, Any]:
        return {"tracked": len(gc.get_objects())}

    # Made by the parent after its warm-up froze the warm objects (a worker's rows, its state).
    made_since_warm_up = [[n] for n in range(200_000)]
    forked.register_job("tracked", tracked, reuse=QUIET)
    for _ in range(2):  # a fresh child, then the same child again
        outcome = forked.run_job("tracked", {}, deadline_s=10)
        assert outcome.result is not None, outcome
        assert outcome.result["tracked"] < len(made_since_warm_up) // 10
    del made_since_warm_up


def test_a_check_past_its_deadline_kills_its_child_and_the_next_check_gets_a_new_one() -> None:
    def sleepy(payload: dict[str, Any]) -> dict[str, Any]:
        time.sleep(payload["s"])
        return {"pid": os.getpid()}

    forked.register_job("sleepy", sleepy, reuse=QUIET)
    first = forked.run_job("sleepy", {"s": 0}, deadline_s=10).result
    assert first is not None
    assert forked.run_job("sleepy", {"s": 30}, deadline_s=0.3).failure == "timeout"
    with pytest.raises(ProcessLookupError):
        os.kill(first["pid"], 0)  # killed, and reaped
    after = forked.run_job("sleepy", {"s": 0}, deadline_s=10).result
    assert after is not None and after["pid"] != first["pid"]


@pytest.mark.parametrize(
    ("how", "failure"),
    [("exit", "crashed"), ("raise", "crashed"), ("memory", "memory")],
)
def test_a_failed_check_retires_its_child_and_the_next_check_works(how: str, failure: str) -> None:
    def fragile(payload: dict[str, Any]) -> dict[str, Any]:
        if payload.get("fail") == "exit":
            os._exit(3)
        if payload.get("fail") == "raise":
            raise ValueError("broken")
        if payload.get("fail") == "memory":
            return {"n": len(bytearray(2 * 1024**3))}
        return {"pid": os.getpid()}

    forked.register_job("fragile", fragile, reuse=QUIET)
    first = forked.run_job("fragile", {}, deadline_s=10).result
    outcome = forked.run_job("fragile", {"fail": how}, deadline_s=10, memory_mb=256)
    assert outcome.failure == failure
    after = forked.run_job("fragile", {}, deadline_s=10).result
    assert first is not None and after is not None and after["pid"] != first["pid"]


def test_seeded_generators_start_every_check_in_the_state_the_child_was_forked_with() -> None:
    def draw(payload: dict[str, Any]) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "python": random.random(),
            "sympy": sympy.core.random.rng.random(),
            "numpy": float(numpy.random.random()),
            "dummy": sympy.Dummy().dummy_index,
        }

    forked.register_job("draw", draw, reuse=dispatch.SYMBOLIC_REUSE)
    draws = [forked.run_job("draw", {}, deadline_s=10).result for _ in range(3)]
    assert draws[0] is not None
    assert draws == [draws[0]] * 3  # one child, and each check drew the same numbers


def test_a_check_that_changes_a_global_setting_retires_its_child() -> None:
    def precise(payload: dict[str, Any]) -> dict[str, Any]:
        seen = mpmath.mp.dps
        if payload.get("raise"):
            mpmath.mp.dps = 50
        return {"pid": os.getpid(), "dps": seen}

    forked.register_job("precise", precise, reuse=dispatch.SYMBOLIC_REUSE)
    first = forked.run_job("precise", {}, deadline_s=10).result
    changed = forked.run_job("precise", {"raise": True}, deadline_s=10).result
    after = forked.run_job("precise", {}, deadline_s=10).result
    assert first is not None and changed is not None and after is not None
    assert changed["pid"] == first["pid"]
    assert after["pid"] != first["pid"] and after["dps"] == first["dps"] == 15


def test_sympy_holds_nothing_a_previous_check_built() -> None:
    def build(payload: dict[str, Any]) -> dict[str, Any]:
        cached = sympy.Symbol._Symbol__xnew_cached_.cache_info().currsize  # type: ignore[attr-defined]
        sympy.Symbol(payload["name"], positive=True) ** 2
        return {"pid": os.getpid(), "cached_symbols": cached}

    forked.register_job("build", build, reuse=dispatch.SYMBOLIC_REUSE)
    first = forked.run_job("build", {"name": "alice_secret"}, deadline_s=10).result
    second = forked.run_job("build", {"name": "bob"}, deadline_s=10).result
    assert first is not None and second is not None
    assert second["pid"] == first["pid"]
    assert second["cached_symbols"] == 0


SIGMOID = "everyday-derivatives/02-activations/sigmoid-derivative.yaml"
STEPS = "everyday-derivatives/02-activations/sigmoid-derivative-steps.yaml"
LEAST_SQUARES = "matrix-calculus/02-least-squares-and-layouts/least-squares-gradient.yaml"
CHECKS = [
    (SIGMOID, "sigma(x)(1-sigma(x))"),
    (SIGMOID, "exp(-x)/(1+exp(-x))^2"),
    (SIGMOID, "2 sigma(x)(1-sigma(x))"),
    (SIGMOID, "sigma(x)(1-sigma(x)"),
    (SIGMOID, "(x+1)^10000"),
    (STEPS, "= exp(-x)/(1+exp(-x))^2\n= sigma(x)(1-sigma(x))"),
    (STEPS, "= exp(-x)/(1+exp(-x))^2\n= 2 sigma(x)(1-sigma(x))"),
    (LEAST_SQUARES, "2 A'(A x - b)"),
    (LEAST_SQUARES, "-2 A^T (A x - b)"),
    (LEAST_SQUARES, "2 (A x - b)^T A"),
]


def _comparable(verdict: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in verdict.items() if key != "elapsed_ms"}


def test_checks_in_one_child_in_any_order_get_the_verdicts_of_fresh_children() -> None:
    specs = {path: _exercise(path) for path, _ in CHECKS}
    alone = {}
    for path, answer in CHECKS:
        outcome = forked.run_in_child(
            lambda p=path, a=answer: dispatch.grade_in_process(specs[p], a, seed=3).to_dict(),
            deadline_s=30,
        )
        assert outcome.result is not None, outcome
        alone[(path, answer)] = _comparable(outcome.result)
    for order in (CHECKS, CHECKS[::-1], CHECKS[1::2] + CHECKS[::2]):
        for path, answer in order:
            verdict = engine.grade(specs[path], answer, seed=3)
            assert _comparable(verdict.to_dict()) == alone[(path, answer)], (path, answer)


def test_a_check_interrupted_in_the_parent_ends_its_child(monkeypatch: pytest.MonkeyPatch) -> None:
    forked.register_job("interrupted", _pid_job, reuse=QUIET)
    first = forked.run_job("interrupted", {}, deadline_s=10).result
    assert first is not None

    def interrupt(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(forked, "_collect_job", interrupt)
    with pytest.raises(KeyboardInterrupt):
        forked.run_job("interrupted", {}, deadline_s=10)
    monkeypatch.undo()
    with pytest.raises(ProcessLookupError):
        os.kill(first["pid"], 0)
    after = forked.run_job("interrupted", {}, deadline_s=10).result
    assert after is not None and after["pid"] != first["pid"]


def test_checks_from_two_threads_at_once_each_get_a_child() -> None:
    def nap(payload: dict[str, Any]) -> dict[str, Any]:
        time.sleep(0.5)
        return {"pid": os.getpid()}

    forked.register_job("nap", nap, reuse=QUIET)
    forked.run_job("nap", {}, deadline_s=10)
    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = list(pool.map(lambda _: forked.run_job("nap", {}, deadline_s=20), range(3)))
    pids = [outcome.result["pid"] for outcome in outcomes if outcome.result]
    assert len(pids) == 3 and len(set(pids)) == 3
    assert forked.run_job("nap", {}, deadline_s=10).result is not None


def _ended(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_checks_go_on_after_the_thread_that_forked_the_waiting_children_ended() -> None:
    """A threaded web server grades in a thread per request: when that thread ends, the children
    it forked die with it (PR_SET_PDEATHSIG follows the forking thread), the reused one and the
    spare alike; the next check, from another thread, still gets a verdict."""
    forked.register_job("per_request", _pid_job, reuse=QUIET)
    seen: list[int] = []

    def request() -> None:  # three checks: the last runs in a child this thread forked
        for _ in range(3):
            outcome = forked.run_job("per_request", {}, deadline_s=10, child_checks=2)
            assert outcome.result is not None
            seen.append(outcome.result["pid"])

    thread = threading.Thread(target=request)
    thread.start()
    thread.join()
    deadline = time.monotonic() + 10
    while not _ended(seen[-1]) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _ended(seen[-1])  # the idle child went with its thread
    outcome = forked.run_job("per_request", {}, deadline_s=10, child_checks=2)
    assert outcome.result is not None, outcome
