"""Every exercise of the real course, end to end through the real grader.

Its reference answer and every other correct form grade correct, every known mistake is rejected
with its feedback, and its variants build and differ: `manage.py check_course --json` over
exercises/ with its default seeds, run once for the whole course and reported per exercise, so a
failure names the exercise. This is CI's one check of the course (`.ci/run` does not also run
`make check-course`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from course.content import Course, exercise_files, load_course
from grader.course_check import DEFAULT_SEEDS

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "exercises"
EXERCISE_FILES = sorted(
    path
    for module in COURSE.iterdir()
    if module.is_dir() and not module.name.startswith((".", "_"))
    for lesson in module.iterdir()
    if lesson.is_dir()
    for path in exercise_files(lesson)
)
SEEDS = DEFAULT_SEEDS  # what `make check-course` checks, so passing here means passing there


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    """Run `manage.py check_course --json` over the course and return its report.

    A process of its own checks exercises in parallel worker processes, which this one may not
    fork once other tests have started threads (see grader.course_check._run).
    """
    env = {**os.environ, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DATABASE_URL", None)  # the check reads files only
    command = [sys.executable, str(ROOT / "manage.py"), "check_course", str(COURSE), "--json"]
    done = subprocess.run(
        [*command, "--seeds", str(SEEDS)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=1800,
    )
    assert done.stdout.startswith("{"), done.stderr[-3000:]
    return json.loads(done.stdout[: done.stdout.rindex("}") + 1])


def problems_text(problems: list[dict[str, Any]]) -> str:
    return "\n".join(f"{p['path']}:{p['line']}: {p['message']}" for p in problems)


# Issue 6's minimum course: modules, lessons, published exercises, and exercises of each kind.
MINIMUM = {"modules": 22, "lessons": 60, "exercises": 150}  # course v2 (issue 15)
MINIMUM_BY_KIND = {"expression": 50, "matrix": 16, "derivation": 14, "code": 55}
# The public contract of /work/shared/CURRICULUM.md ("Exercises that must exist with exactly these
# slugs and signatures"): documentation, tests and benchmarks refer to these exercises.
CONTRACT: dict[str, dict[str, Any]] = {
    "sigmoid-derivative": {"kind": "expression", "variables": {"x": None}, "helpers": ["sigma"]},
    "sigmoid-derivative-steps": {"kind": "derivation", "start": "diff(1/(1+exp(-x)), x)"},
    "gaussian-variance-mle": {
        "kind": "expression",
        "variables": {"S1": None, "S2": None, "n": None},
    },
    "least-squares-gradient": {
        "kind": "matrix",
        "variables": {"A": ["m", "n"], "x": ["n", 1], "b": ["m", 1]},
    },
    "quadratic-form-gradient": {"kind": "matrix", "variables": {"B": ["n", "n"], "x": ["n", 1]}},
    "relu-backward": {"kind": "code", "signature": "relu_backward(x, grad_out) -> ndarray"},
    "logsumexp": {"kind": "code", "signature": "logsumexp(x) -> float"},
    "gaussian-log-likelihood": {
        "kind": "code",
        "signature": "gaussian_log_likelihood(x, mu, sigma2) -> float",
    },
    "gaussian-mle": {"kind": "code", "signature": "gaussian_mle(x) -> (mu, sigma2)"},
    "softmax-cross-entropy-backward": {
        "kind": "code",
        "signature": "softmax_cross_entropy_backward(logits, labels) -> ndarray",
    },
    "linear-backward": {
        "kind": "code",
        "signature": "linear_backward(x, W, b, grad_out) -> (dx, dW, db)",
    },
    "pairwise-sq-dists": {"kind": "code", "signature": "pairwise_sq_dists(X, Y) -> ndarray"},
    # Course v2's contract exercises.
    "beta-binomial-posterior-mean": {"kind": "expression"},
    "ridge-closed-form": {
        "kind": "matrix",
        "variables": {"X": ["m", "n"], "y": ["m", 1], "lam": None},
    },
    "categorical-kl": {"kind": "code", "signature": "kl_divergence(p, q) -> float"},
    "adam-step": {
        "kind": "code",
        "signature": "adam_step(w, grad, m, v, t, lr, beta1, beta2, eps) -> (w, m, v)",
    },
    "batchnorm-backward": {
        "kind": "code",
        "signature": "batchnorm_backward(x, gamma, grad_out, eps) -> (dx, dgamma, dbeta)",
    },
    "conv1d-backward": {"kind": "code", "signature": "conv1d_backward(x, w, grad_out) -> (dx, dw)"},
    "tiny-autodiff": {"kind": "code", "defines": "class Value"},
    "gmm-responsibilities": {
        "kind": "code",
        "signature": "gmm_responsibilities(X, means, covs, weights) -> ndarray",
    },
    "low-rank-approximation": {"kind": "code", "signature": "low_rank_approx(A, k) -> ndarray"},
    "fit-censored-regression": {
        "kind": "code",
        "signature": "fit_censored_regression(x, y, upper) -> (w, b, sigma)",
    },
}


@pytest.fixture(scope="module")
def loaded_course() -> Course:
    return load_course(COURSE, check_specs=False)  # the report below validates every spec


def test_the_course_has_the_size_the_issue_requires(loaded_course: Course) -> None:
    published = [e for e in loaded_course.exercises if e.published]
    sizes = {
        "modules": len(loaded_course.modules),
        "lessons": len(loaded_course.lessons),
        "exercises": len(published),
    }
    by_kind = Counter(e.kind for e in published)
    assert all(sizes[k] >= n for k, n in MINIMUM.items()), sizes
    assert all(by_kind[k] >= n for k, n in MINIMUM_BY_KIND.items()), dict(by_kind)


@pytest.mark.parametrize("slug", list(CONTRACT))
def test_the_contract_exercise_exists_as_specified(loaded_course: Course, slug: str) -> None:
    (exercise,) = [e for e in loaded_course.exercises if e.slug == slug]
    promised = CONTRACT[slug]
    spec = exercise.spec
    assert exercise.published
    assert exercise.kind == promised["kind"]
    if "signature" in promised:
        assert spec["signature"] == promised["signature"]
        assert spec["function"] == promised["signature"].split("(", 1)[0]
    if "start" in promised:
        assert "".join(spec["start"].split()) == "".join(promised["start"].split())
    if "variables" in promised:  # the names the learner's answer is written in, exactly
        assert set(spec["variables"]) == set(promised["variables"])
        for name, shape in promised["variables"].items():
            if shape is not None:
                assert spec["variables"][name]["shape"] == shape, f"{slug}: the shape of {name}"
    if "defines" in promised:  # the learner's answer defines this (the starter shows it)
        assert promised["defines"] in spec["starter"] and promised["defines"] in spec["reference"]
    for helper in promised.get("helpers", []):
        assert any(str(head).split("(", 1)[0] == helper for head in spec["helpers"])


def test_the_course_files_around_the_exercises_load(report: dict[str, Any]) -> None:
    assert report["seeds"] == list(range(1, SEEDS + 1))
    assert not report["problems"], problems_text(report["problems"])


@pytest.mark.parametrize("path", EXERCISE_FILES, ids=[p.stem for p in EXERCISE_FILES])
def test_the_exercise_grades_as_its_file_says(report: dict[str, Any], path: Path) -> None:
    (checked,) = [e for e in report["exercises"] if e["path"] == str(path.resolve())]
    assert checked["ok"], problems_text(checked["problems"])
    assert checked["graded"] >= SEEDS  # at least the reference, on every seed
