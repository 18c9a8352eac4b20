"""`manage.py grade`: one JSON verdict per answer, exit 0 whatever the verdict, 2 on bad usage."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

ROOT = Path(__file__).resolve().parents[2]
SIGMOID_FILE = ROOT / "exercises/everyday-derivatives/02-activations/sigmoid-derivative.yaml"
QUADRATIC_FILE = (
    ROOT / "exercises/matrix-calculus/01-linear-and-quadratic-forms/quadratic-form-gradient.yaml"
)
VERDICT_KEYS = {
    "status",
    "score",
    "messages",
    "diagnosis",
    "parsed",
    "counterexample",
    "elapsed_ms",
}


def grade(*args: str) -> list[dict[str, Any]]:
    out = io.StringIO()
    call_command("grade", *args, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def answer_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "answer.txt"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("exercise", "answer", "status", "diagnosis"),
    [
        ("sigmoid-derivative", "sigma(x)(1 - sigma(x))\n", "correct", None),
        ("sigmoid-derivative", "-sigma(x)(1 - sigma(x))", "incorrect", "known_mistake"),
        ("sigmoid-derivative", "sigma(x)(1 - sigma(x)", "invalid", None),
        ("gaussian-variance-mle", "(S2 - S1^2/n)/(n-1)", "incorrect", "known_mistake"),
        ("least-squares-gradient", "2 A' (A x - b)", "correct", None),
        ("least-squares-gradient", "2 (A x - b)' A", "invalid", "transpose"),
        ("quadratic-form-gradient", "2 B x", "incorrect", "known_mistake"),
        (
            "sigmoid-derivative-steps",
            "= exp(-x)/(1+exp(-x))^2\n= sigma(x) exp(-x)/(1+exp(-x))\n= sigma(x)(1-sigma(x))",
            "correct",
            None,
        ),
    ],
)
def test_it_grades_one_answer_by_slug(
    tmp_path: Path, exercise: str, answer: str, status: str, diagnosis: str | None
) -> None:
    [verdict] = grade(exercise, "--answer-file", answer_file(tmp_path, answer))
    assert VERDICT_KEYS <= set(verdict)
    assert verdict["status"] == status
    assert verdict["diagnosis"] == diagnosis
    assert verdict["score"] == (1.0 if status == "correct" else 0.0)
    assert all(
        set(m) == {"code", "text", "template", "params", "source"} for m in verdict["messages"]
    )


def test_it_grades_an_exercise_file_by_path(tmp_path: Path) -> None:
    [verdict] = grade(str(SIGMOID_FILE), "--answer-file", answer_file(tmp_path, "2 sigma(x)"))
    assert verdict["status"] == "incorrect"
    assert verdict["parsed"] == r"2 \cdot \sigma\left(x\right)"
    assert verdict["counterexample"]["point"] == {"x": 0.5}


def test_it_grades_an_exercise_folder_with_one_file(tmp_path: Path) -> None:
    folder = tmp_path / "draft"
    folder.mkdir()
    shutil.copy(QUADRATIC_FILE, folder / "quadratic-form-gradient.yaml")
    [verdict] = grade(str(folder), "--answer-file", answer_file(tmp_path, "(B + B') x"))
    assert verdict["status"] == "correct"


def test_the_seed_selects_the_variant(tmp_path: Path) -> None:
    exercise = tmp_path / "power-rule.yaml"
    exercise.write_text(
        "id: 3d8f8f1e-6f55-4f0e-9f7e-1f4c7e0b9a11\n"
        "title: Power rule\n"
        "kind: expression\n"
        "prompt: Differentiate $x^{{a}}$.\n"
        "hints: [Bring the power down., Lower the power by one.]\n"
        "parameters:\n  a: {integer: [2, 30]}\n"
        "variables:\n  x: {domain: positive, sample: [0.5, 2]}\n"
        "answer: a*x^(a-1)\n",
        encoding="utf-8",
    )
    from grader import engine
    from grader.engine.symbolic.variants import draw_parameters

    spec = {"parameters": {"a": {"integer": [2, 30]}}}
    a = draw_parameters(spec, 5)["a"]
    other = next(s for s in range(100) if draw_parameters(spec, s)["a"] != a)
    answer = answer_file(tmp_path, f"{a} x^{a - 1}")
    [right] = grade(str(exercise), "--answer-file", answer, "--seed", "5")
    [wrong] = grade(str(exercise), "--answer-file", answer, "--seed", str(other))
    assert right["status"] == "correct"
    assert wrong["status"] == "incorrect"
    assert engine.variant({"kind": "expression", **spec, "answer": "a"}, 5)["parameters"] == {
        "a": a
    }


def test_batch_prints_one_verdict_per_line_in_order(tmp_path: Path) -> None:
    batch = tmp_path / "answers.jsonl"
    lines = [
        {"exercise": "sigmoid-derivative", "answer": "sigma(x)(1-sigma(x))", "seed": 1},
        {"exercise": str(QUADRATIC_FILE), "answer": "2 B x"},
        {"exercise": "sigmoid-derivative", "answer": "xy"},
        {"exercise": "least-squares-gradient", "answer": "10^10^10"},
    ]
    batch.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n", encoding="utf-8")
    verdicts = grade("--batch", str(batch))
    assert [v["status"] for v in verdicts] == ["correct", "incorrect", "invalid", "invalid"]
    assert verdicts[1]["diagnosis"] == "known_mistake"


def test_a_grader_failure_on_one_line_does_not_stop_the_batch(tmp_path: Path, monkeypatch) -> None:
    from grader import engine

    real_grade = engine.grade

    def failing_on_xy(spec: dict[str, Any], answer: str, *, seed: int) -> Any:
        if answer == "xy":
            raise RuntimeError("a bug in the engine")
        return real_grade(spec, answer, seed=seed)

    monkeypatch.setattr(engine, "grade", failing_on_xy)
    batch = tmp_path / "answers.jsonl"
    answers = ["sigma(x)(1-sigma(x))", "xy", "sigma(x)"]
    batch.write_text(
        "\n".join(json.dumps({"exercise": "sigmoid-derivative", "answer": a}) for a in answers),
        encoding="utf-8",
    )
    verdicts = grade("--batch", str(batch))
    assert [v["status"] for v in verdicts] == ["correct", "error", "incorrect"]
    assert verdicts[1]["flags"] == ["engine_exception"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-exercise", "--answer-file", "{answer}"], "no exercise with slug"),
        (["sigmoid-derivative", "--answer-file", "/nonexistent/answer.txt"], "cannot read"),
        (["sigmoid-derivative"], "usage: grade EXERCISE --answer-file FILE"),
        (["--batch", "/nonexistent.jsonl"], "cannot read the batch file"),
        (["--batch", "{bad_json}"], ":2: not valid JSON"),
        (["--batch", "{no_answer}"], ":1: 'answer' must be a string"),
        (["--batch", "{bad_seed}"], ":1: 'seed' must be a whole number"),
        (["--batch", "{answer}", "sigmoid-derivative"], "give either --batch FILE"),
        (["/nonexistent/exercise.yaml", "--answer-file", "{answer}"], "no such file"),
    ],
)
def test_bad_usage_exits_2_with_a_clear_message(
    tmp_path: Path, args: list[str], message: str
) -> None:
    files = {
        "answer": answer_file(tmp_path, "x"),
        "bad_json": tmp_path / "bad.jsonl",
        "no_answer": tmp_path / "no-answer.jsonl",
        "bad_seed": tmp_path / "bad-seed.jsonl",
    }
    files["bad_json"].write_text(
        '{"exercise": "sigmoid-derivative", "answer": "x"}\n{oops\n', encoding="utf-8"
    )
    files["no_answer"].write_text('{"exercise": "sigmoid-derivative"}\n', encoding="utf-8")
    files["bad_seed"].write_text(
        '{"exercise": "sigmoid-derivative", "answer": "x", "seed": "3"}\n', encoding="utf-8"
    )
    with pytest.raises(CommandError) as raised:
        grade(*[a.format(**{k: str(v) for k, v in files.items()}) for a in args])
    assert raised.value.returncode == 2
    assert message in str(raised.value)


def test_the_real_command_exits_0_on_wrong_answers_and_2_on_bad_usage(tmp_path: Path) -> None:
    env = {**os.environ, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DATABASE_URL", None)
    answer = answer_file(tmp_path, "-sigma(x)(1-sigma(x))")
    command = [sys.executable, str(ROOT / "manage.py"), "grade"]
    graded = subprocess.run(
        [*command, "sigmoid-derivative", "--answer-file", answer, "--seed", "3"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert graded.returncode == 0, graded.stderr
    verdict = json.loads(graded.stdout)
    assert verdict["status"] == "incorrect" and verdict["diagnosis"] == "known_mistake"
    refused = subprocess.run(
        [*command, "no-such-exercise", "--answer-file", answer],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert refused.returncode == 2
    assert "no exercise with slug 'no-such-exercise'" in refused.stderr
    assert refused.stdout == ""


def test_exercises_dir_is_the_course() -> None:
    assert Path(settings.EXERCISES_DIR) == ROOT / "exercises"
