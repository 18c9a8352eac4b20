"""A code run's deadline is sized from the reference's own time, not a flat GRADER_CODE_TIMEOUT.

The guarantee: an exercise without its own `timeout:` lets a submission run for
GRADER_CODE_TIMEOUT_BASE + GRADER_CODE_TIMEOUT_FACTOR x the reference's time on the same calls,
never more than GRADER_CODE_TIMEOUT, so an infinite loop costs a worker about what the exercise
itself needs.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from grader.engine import grade
from grader.engine.code.plan import PlannedCall, plan_calls, reference_seconds
from grader.engine.code.spec import compile_exercise
from grader.engine.config import engine_config, sized_code_timeout
from grader.engine.types import Status

ROOT = Path(__file__).resolve().parents[3]
RELU = yaml.safe_load(
    (ROOT / "exercises/backprop-by-hand/01-relu-and-linear-layers/relu-backward.yaml").read_text()
)
LOOP = "def relu_backward(x, grad_out):\n    while True:\n        pass\n"
CONFIG = replace(
    engine_config(), code_timeout_s=10.0, code_timeout_base_s=0.5, code_timeout_factor=10
)


@pytest.mark.parametrize(
    ("reference_s", "deadline"),
    [(0.0, 0.5), (0.001, 0.51), (0.2, 2.5), (5.0, 10.0), (-1.0, 0.5)],
)
def test_the_deadline_is_the_base_plus_a_multiple_of_the_reference_capped(
    reference_s: float, deadline: float
) -> None:
    assert sized_code_timeout(reference_s, CONFIG) == pytest.approx(deadline)


def test_untimed_calls_count_at_the_mean_of_the_timed_ones() -> None:
    def call(took: float | None) -> PlannedCall:
        return PlannedCall("c", "test", [], None, reference_s=took)

    assert reference_seconds([call(0.1), call(0.3), call(None)]) == pytest.approx(0.6)
    assert reference_seconds([call(None)]) == 0.0


def test_every_test_and_stability_call_of_a_plan_is_timed() -> None:
    calls = plan_calls(compile_exercise(RELU), 1)
    timed = [call for call in calls if call.kind != "gradient"]
    assert timed and all(call.reference_s is not None for call in timed)
    assert all(call.reference_s is not None and call.reference_s >= 0 for call in timed)


def test_an_infinite_loop_stops_at_the_sized_deadline_not_the_flat_one() -> None:
    verdict = grade(RELU, LOOP, seed=1, config=CONFIG)
    assert verdict.status == Status.TIMEOUT
    said = re.search(r"within ([0-9.]+) seconds", verdict.messages[0].text)
    assert said is not None
    # relu's reference takes well under 0.1 s on its calls, so the deadline is far below 10 s.
    assert 0.5 <= float(said.group(1)) < 1.5


def test_an_exercise_timeout_still_wins() -> None:
    verdict = grade({**RELU, "timeout": 1}, LOOP, seed=1, config=CONFIG)
    assert verdict.status == Status.TIMEOUT
    assert "within 1 seconds" in verdict.messages[0].text
