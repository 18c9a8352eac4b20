"""The live preview's work is bounded: generated worst cases over every exercise's own names.

The guarantee (grader.engine.symbolic.limits.Work): reading an answer for the preview takes at
most 8 steps per character of the answer plus 41 per character of the exercise's known names
(the "did you mean" searches), whatever the answer, and never more than MAX_WORK steps in all;
past that budget the answer is refused with a message, not read.
Work is counted in steps (characters, tokens, nodes, tree walks, the "did you mean" searches),
never timed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from course.content import load_exercise_path
from grader.engine.symbolic.limits import MAX_WORK, Work
from grader.engine.symbolic.preview import preview_symbolic
from grader.engine.symbolic.problem import read_problem

ROOT = Path(__file__).resolve().parents[3]
PREVIEW_MAX_CHARS = 2000  # what the exercise page sends (grader.views.PREVIEW_MAX_CHARS)
# A file per exercise; translations beside them (name.zh-Hans.yaml) hold no names of their own.
SYMBOLIC = sorted(
    path
    for path in (ROOT / "exercises").glob("*/*/*.yaml")
    if "." not in path.stem and "kind: code" not in path.read_text(encoding="utf-8")
)


def known_names(spec: dict[str, Any]) -> list[str]:
    vocab = read_problem(spec, None).vocab
    return sorted(vocab.value_names() | vocab.functions | set(vocab.helpers))


def glued(names: list[str], length: int) -> str:
    """Return names written one after another without separators, cut to length."""
    text = "".join(names) or "x"
    return (text * (length // len(text) + 1))[:length]


def worst_cases(names: list[str], seed: int) -> Iterator[str]:
    """Yield answers built from the exercise's own names that make reading them work hardest.

    Unknown names glued from known ones that almost split (the split search, then "did you
    mean"), long runs of names (the node limit), deep calls (the depth limit), and random text
    over the names' characters.
    """
    longest = max(names, key=len)
    for length in (39, 40, 41, 400, PREVIEW_MAX_CHARS - 1):
        yield glued(names, length) + "Q"  # never splits: the last character is no name's
        yield glued([longest, *names], length) + "Q"
        yield glued(sorted(names, key=len, reverse=True), length) + "Q"
    for name in names:
        yield (name * 40)[:39] + "Q"
        yield (name + "2") * 13 + "Q"  # s2s2…: overlapping with s and s2 when both are names
        yield " ".join([name] * (PREVIEW_MAX_CHARS // (len(name) + 1)))
        yield f"{name}(" * 50 + "x" + ")" * 50
        yield f"{name}*" * 300 + glued(names, 39) + "Q"
    alphabet = sorted(set("".join(names)) | set("0123456789()*^+- "))
    rng = random.Random(seed)
    for length in (60, 500, PREVIEW_MAX_CHARS):
        yield "".join(rng.choice(alphabet) for _ in range(length))


@pytest.mark.parametrize("path", SYMBOLIC, ids=lambda p: p.stem)
def test_previewing_the_worst_answers_takes_bounded_work(path: Path) -> None:
    spec = load_exercise_path(path)
    names = known_names(spec)
    vocabulary_chars = sum(len(name) + 1 for name in names)
    answers = list(worst_cases(names, seed=len(SYMBOLIC)))
    if spec["kind"] == "derivation":
        answers.append("\n".join(answers[:40])[:PREVIEW_MAX_CHARS])
    for answer in answers:
        work = Work()
        preview = preview_symbolic(spec, answer, work=work)
        bound = 8 * (len(answer) + 1) + 41 * vocabulary_chars
        assert work.spent <= bound, (answer[:80], work.spent, bound)
        assert work.spent <= MAX_WORK
        error = preview["error"]
        assert error is None or "too much work" not in error["text"], answer[:80]


def test_an_answer_past_the_budget_is_refused_with_a_message() -> None:
    spec = load_exercise_path(SYMBOLIC[0])
    answer = " + ".join(["1"] * 200)
    within = preview_symbolic(spec, answer, work=Work())
    assert within["error"] is None
    refused = preview_symbolic(spec, answer, work=Work(limit=100))
    assert refused["error"] is not None
    assert "this answer takes too much work to read" in refused["error"]["text"]
