"""Code references that return gradients the code grader's gradient check cannot express.

checks.gradient differentiates one forward pass; regression-loss-gradients returns the gradients of
two different losses with respect to the same argument, so its reference is checked here instead,
against central finite differences of both losses on the exercise's own generated inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

EXERCISE = (
    Path(__file__).resolve().parent.parent
    / "exercises/everyday-derivatives/03-losses/regression-loss-gradients.yaml"
)


def defined(source: str, name: str) -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(source, str(EXERCISE), "exec"), namespace)  # noqa: S102 - the course's own trusted code
    return namespace[name]


def central_difference(loss: Any, yhat: np.ndarray, y: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    gradient = np.zeros_like(yhat)
    for i in range(len(yhat)):
        step = np.zeros_like(yhat)
        step[i] = eps
        gradient[i] = (loss(yhat + step, y) - loss(yhat - step, y)) / (2 * eps)
    return gradient


def mse(yhat: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((yhat - y) ** 2))


def mae(yhat: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.abs(yhat - y)))


@pytest.mark.parametrize("case", ["small", "one", "outlier", "ties"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_reference_is_the_gradient_of_both_losses(case: str, seed: int) -> None:
    spec = yaml.safe_load(EXERCISE.read_text(encoding="utf-8"))
    reference = defined(spec["reference"], spec["function"])
    inputs = defined(spec["inputs"], "make_inputs")(np.random.default_rng(seed), case)
    yhat, y = inputs["yhat"], inputs["y"]
    g_mse, g_mae = reference(yhat.copy(), y.copy())
    # MSE is quadratic, so its central difference is exact but for rounding (an outlier makes the
    # loss ~1000: hence the step 1e-4); at a perfect prediction the central difference of |r| is 0,
    # the convention the prompt asks for.
    np.testing.assert_allclose(g_mse, central_difference(mse, yhat, y), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(g_mae, central_difference(mae, yhat, y), rtol=1e-6, atol=1e-9)
