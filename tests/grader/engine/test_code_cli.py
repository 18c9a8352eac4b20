"""`manage.py grade` grades code exercises and prints the same JSON verdict, with tests added."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

from django.core.management import call_command

RELU_CORRECT = (
    "import numpy as np\n\ndef relu_backward(x, grad_out):\n    return grad_out * (x > 0)\n"
)
RELU_WRONG = (
    "import numpy as np\n\ndef relu_backward(x, grad_out):\n    return (x > 0).astype(float)\n"
)


def _grade(*args: str, **options: object) -> list[dict[str, object]]:
    out = StringIO()
    call_command("grade", *args, stdout=out, **options)
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def test_it_grades_a_code_answer_from_a_file(tmp_path: Path) -> None:
    answer = tmp_path / "answer.py"
    answer.write_text(RELU_CORRECT)
    [verdict] = _grade("relu-backward", answer_file=str(answer), seed=3)
    assert verdict["status"] == "correct"
    assert [test["passed"] for test in verdict["tests"]] == [True] * len(verdict["tests"])


def test_it_grades_a_batch_of_code_answers(tmp_path: Path) -> None:
    batch = tmp_path / "batch.jsonl"
    rows = [
        {"exercise": "relu-backward", "answer": RELU_WRONG, "seed": 1},
        {"exercise": "logsumexp", "answer": "def logsumexp(x)\n    return 0\n"},
    ]
    batch.write_text("\n".join(json.dumps(row) for row in rows))
    wrong, invalid = _grade(batch=str(batch))
    assert wrong["status"] == "incorrect"
    assert any(message["code"] == "known_mistake" for message in wrong["messages"])
    assert invalid["status"] == "invalid" and invalid["diagnosis"] == "syntax_error"
