"""Fixtures for the grading pipeline: a small lesson with one exercise of each queue's kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from course.models import Exercise, Lesson, Module, Track, TrackModule

SIGMOID_SPEC: dict[str, Any] = {
    "id": "0f6f5a3e-5d2b-4a59-9a0e-6a1b3c5d7e01",
    "kind": "expression",
    "prompt": "Differentiate $\\sigma(x) = 1/(1+e^{-x})$ with respect to $x$.",
    "variables": {"x": {"domain": "real"}},
    "helpers": {"sigma(x)": "1/(1+exp(-x))"},
    "answer": "sigma(x)*(1-sigma(x))",
    "hints": ["Write the sigmoid as $(1+e^{-x})^{-1}$.", "Use the chain rule on the power."],
    "hint_after": 1,
}

# The contract exercise itself, so the code grader sees a real spec.
RELU_FILE = next(Path(__file__).resolve().parents[2].glob("exercises/*/*/relu-backward.yaml"))
RELU_SPEC: dict[str, Any] = yaml.safe_load(RELU_FILE.read_text())

SIGMOID_RIGHT = "sigma(x)*(1-sigma(x))"
SIGMOID_WRONG = "sigma(x)"
RELU_RIGHT = RELU_SPEC["reference"]
RELU_WRONG = (
    "import numpy as np\n\ndef relu_backward(x, grad_out):\n    return (x > 0).astype(float)\n"
)


@pytest.fixture
def lesson(db: None) -> Lesson:
    track = Track.objects.create(slug="pipeline", title="Pipeline")
    module = Module.objects.create(slug="pipeline", title="Pipeline", skill="Checking answers")
    TrackModule.objects.create(track=track, module=module, order=0)
    return Lesson.objects.create(module=module, slug="checking", title="Checking", order=1)


@pytest.fixture
def sigmoid(lesson: Lesson) -> Exercise:
    return Exercise.objects.create(
        lesson=lesson,
        slug="pipeline-sigmoid",
        title="Derivative of the sigmoid",
        kind="expression",
        order=1,
        spec=SIGMOID_SPEC,
    )


@pytest.fixture
def relu(lesson: Lesson) -> Exercise:
    return Exercise.objects.create(
        lesson=lesson,
        slug="pipeline-relu",
        title="ReLU backward",
        kind="code",
        order=2,
        spec=RELU_SPEC,
    )
