"""Every contract code exercise: its reference and other correct answers pass, its known mistakes fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from grader.engine import grade, validate_spec
from grader.engine.types import Status

EXERCISES = Path(__file__).resolve().parents[3] / "exercises"
CONTRACT = {
    "relu-backward": (
        "backprop-by-hand/01-relu-and-linear-layers",
        "relu_backward(x, grad_out) -> ndarray",
    ),
    "linear-backward": (
        "backprop-by-hand/01-relu-and-linear-layers",
        "linear_backward(x, W, b, grad_out) -> (dx, dW, db)",
    ),
    "softmax-cross-entropy-backward": (
        "backprop-by-hand/02-softmax-cross-entropy",
        "softmax_cross_entropy_backward(logits, labels) -> ndarray",
    ),
    "logsumexp": ("numerical-stability/01-log-sum-exp", "logsumexp(x) -> float"),
    "gaussian-log-likelihood": (
        "likelihood-and-mle/01-likelihood-and-logs",
        "gaussian_log_likelihood(x, mu, sigma2) -> float",
    ),
    "gaussian-mle": ("likelihood-and-mle/02-gaussian-mle", "gaussian_mle(x) -> (mu, sigma2)"),
    "pairwise-sq-dists": (
        "vectors-and-shapes/02-loops-to-matrix-products",
        "pairwise_sq_dists(X, Y) -> ndarray",
    ),
}

# Correct answers written differently from the references, so a too-tight tolerance shows up here.
OTHER_CORRECT = {
    "relu-backward": "import numpy as np\ndef relu_backward(x, grad_out):\n    return np.where(x > 0, grad_out, 0.0)\n",
    "linear-backward": (
        "import numpy as np\n"
        "def linear_backward(x, W, b, grad_out):\n"
        "    return np.dot(grad_out, W.T), np.einsum('nd,nm->dm', x, grad_out), np.sum(grad_out, axis=0)\n"
    ),
    "softmax-cross-entropy-backward": (
        "import numpy as np\n"
        "def softmax_cross_entropy_backward(logits, labels):\n"
        "    z = logits - np.max(logits, axis=1, keepdims=True)\n"
        "    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)\n"
        "    return (p - np.eye(logits.shape[1])[labels]) / len(labels)\n"
    ),
    "logsumexp": "import numpy as np\ndef logsumexp(x):\n    return np.logaddexp.reduce(x)\n",
    "gaussian-log-likelihood": (
        "import math\nimport numpy as np\n"
        "def gaussian_log_likelihood(x, mu, sigma2):\n"
        "    return np.sum(-0.5 * math.log(2 * math.pi * sigma2) - (x - mu) ** 2 / (2 * sigma2))\n"
    ),
    "gaussian-mle": "import numpy as np\ndef gaussian_mle(x):\n    return np.mean(x), np.var(x)\n",
    "pairwise-sq-dists": (
        "import numpy as np\n"
        "def pairwise_sq_dists(X, Y):\n"
        "    return ((X[:, None, :] - Y[None, :, :]) ** 2).sum(axis=-1)\n"
    ),
}


def _load(slug: str) -> dict[str, Any]:
    folder, _ = CONTRACT[slug]
    return yaml.safe_load((EXERCISES / folder / f"{slug}.yaml").read_text())


def _all_text(verdict_dict: dict[str, Any]) -> str:
    return json.dumps(verdict_dict, ensure_ascii=False)


@pytest.mark.parametrize("slug", list(CONTRACT))
def test_the_exercise_keeps_its_contract(slug: str) -> None:
    spec = _load(slug)
    assert spec["kind"] == "code"
    assert spec["signature"] == CONTRACT[slug][1]
    assert validate_spec(spec) == []
    assert len(spec["hints"]) >= 2 and len(spec["mistakes"]) >= 2
    assert all(isinstance(hint, str) and hint.strip() for hint in spec["hints"])
    assert any(not test.get("hidden") for test in spec["tests"])
    assert any(test.get("hidden") for test in spec["tests"])


@pytest.mark.parametrize("slug", list(CONTRACT))
def test_the_reference_is_correct_for_several_seeds(slug: str) -> None:
    spec = _load(slug)
    for seed in (0, 1, 2**40 + 7):
        verdict = grade(spec, spec["reference"], seed=seed)
        assert verdict.status == Status.CORRECT, verdict.to_dict()
        assert verdict.score == pytest.approx(1.0)


@pytest.mark.parametrize("slug", list(CONTRACT))
def test_another_correct_answer_is_accepted(slug: str) -> None:
    verdict = grade(_load(slug), OTHER_CORRECT[slug], seed=4)
    assert verdict.status == Status.CORRECT, verdict.to_dict()


@pytest.mark.parametrize(
    ("slug", "index"),
    [(slug, index) for slug in CONTRACT for index in range(len(_load(slug)["mistakes"]))],
)
def test_a_known_mistake_is_rejected_with_its_feedback(slug: str, index: int) -> None:
    spec = _load(slug)
    mistake = spec["mistakes"][index]
    verdict = grade(spec, mistake["code"], seed=8)
    assert verdict.status == Status.INCORRECT, verdict.to_dict()
    assert verdict.counts_as_attempt
    assert 0.0 <= verdict.score < 1.0
    assert mistake["feedback"].strip() in _all_text(verdict.to_dict())


@pytest.mark.parametrize("slug", list(CONTRACT))
def test_the_starter_is_not_accepted(slug: str) -> None:
    spec = _load(slug)
    verdict = grade(spec, spec["starter"], seed=1)
    assert verdict.status != Status.CORRECT


def test_the_double_loop_fails_pairwise_sq_dists_as_too_slow() -> None:
    spec = _load("pairwise-sq-dists")
    verdict = grade(spec, spec["mistakes"][0]["code"], seed=3)
    assert verdict.diagnosis == "too_slow"
    assert "Correct but" in _all_text(verdict.to_dict())
    assert "slower than a vectorised solution" in _all_text(verdict.to_dict())
