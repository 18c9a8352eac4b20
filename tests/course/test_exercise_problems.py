"""An author's mistake in an exercise file is reported as `file:line: message`, at its own line.

The file is read once by the course loader, checked by the grader's spec validator (the exercise
schema first), and each problem's path is mapped to the line by the one YAML line mapper.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from course.content import ContentError, Problem, load_exercise_path, read_exercise

SQUARE = """\
id: 44444444-4444-4444-8444-444444444444
title: Derivative of a square
kind: expression
prompt: Differentiate $x^2$ with respect to $x$.
variables:
  x: {domain: real, sample: [-3, 3]}
answer: 2*x
mistakes:
  - answer: x
    feedback: The power rule brings the exponent down as a factor.
  - answer: x^2
    feedback: Differentiate.
hints:
  - Use the power rule.
  - Bring the 2 down.
"""
DOUBLE = """\
id: 55555555-5555-4555-8555-555555555555
title: Double an array
kind: code
prompt: Return twice the input.
function: double
signature: double(x) -> ndarray
starter: |
  def double(x):
      ...
reference: |
  def double(x):
      return 2 * x
inputs: |
  def make_inputs(rng, case):
      return {"x": rng.normal(size=5)}
tests:
  - {name: five numbers, case: basic}
  - name: hidden
    case: basic
    hidden: true
checks:
  speed:
    case: basic
    max_slowdown: 10
mistakes:
  - code: |
      def double(x):
          return x
    feedback: Multiply by two.
  - code: |
      def double(x):
          return 3 * x
    feedback: Twice, not three times.
hints:
  - Multiply by two.
  - Write 2 * x.
"""


def problems_in(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "exercise.yaml"
    path.write_text(text)
    problems: list[Problem] = []
    read_exercise(path, problems)
    return [str(p) for p in problems]


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if fragment in line)


@pytest.mark.parametrize(
    ("base", "old", "new", "at", "message"),
    [
        (  # an unknown key, at its own line
            SQUARE,
            "answer: 2*x\n",
            "answer: 2*x\nanswr: 2*x\n",
            "answr:",
            "unknown field 'answr' (allowed here: also_correct, answer, audit_seconds,",
        ),
        (  # a value of the wrong type
            SQUARE,
            "answer: 2*x\n",
            "answer: 2*x\nsamples: many\n",
            "samples:",
            "samples: expected a number above 0",
        ),
        (  # a missing field: the file's first line
            SQUARE,
            "answer: 2*x\n",
            "",
            "id:",
            "missing required field 'answer'",
        ),
        (  # a kind that does not exist
            SQUARE,
            "kind: expression",
            "kind: expresion",
            "kind:",
            "kind must be one of expression, matrix, derivation, code, not 'expresion'",
        ),
        (  # inside one item of a list: its key's line
            SQUARE,
            "    feedback: Differentiate.",
            "    feedbak: Differentiate.",
            "feedbak:",
            "mistakes[1]: unknown field 'feedbak' (allowed here: answer, feedback)",
        ),
        (  # a field an item lacks: the line where the item starts
            SQUARE,
            "    feedback: Differentiate.\n",
            "",
            "- answer: x^2",
            "mistakes[1]: missing required field 'feedback'",
        ),
        (  # deep inside a mapping of names
            SQUARE,
            "{domain: real, sample: [-3, 3]}",
            "{domain: complex, sample: [-3, 3]}",
            "domain: complex",
            "variables.x.domain: input should be 'real', 'positive', 'nonnegative', 'negative' or 'integer'",
        ),
        (  # a typo in a code test's key
            DOUBLE,
            "    hidden: true",
            "    hiden: true",
            "hiden:",
            "tests[1]: unknown field 'hiden' (allowed here: case, hidden, name, weight)",
        ),
        (  # a typo in a check's settings
            DOUBLE,
            "    max_slowdown: 10",
            "    max_slowdow: 10",
            "max_slowdow:",
            "checks.speed: unknown field 'max_slowdow' (allowed here: case, cases, margin_ms,"
            " max_slowdown, name, timeout)",
        ),
        (  # what the grader's own checks find, at the item they name
            SQUARE,
            "  - answer: x^2\n",
            "  - answer: 2*x + 0\n",
            "- answer: 2*x + 0",
            "mistakes[1] '2*x + 0' equals the reference",
        ),
    ],
)
def test_it_reports_an_authors_mistake_at_its_file_and_line(
    tmp_path: Path, base: str, old: str, new: str, at: str, message: str
) -> None:
    assert old in base
    text = base.replace(old, new, 1)
    path = tmp_path / "exercise.yaml"
    expected = f"{path}:{line_of(text, at)}: {message}"
    found = problems_in(tmp_path, text)
    assert any(p.startswith(expected) for p in found), found


@pytest.mark.parametrize("text", [SQUARE, DOUBLE], ids=["expression", "code"])
def test_a_sound_file_has_no_problems(tmp_path: Path, text: str) -> None:
    assert problems_in(tmp_path, text) == []


def test_a_problem_the_loader_reports_is_not_repeated_by_the_schema(tmp_path: Path) -> None:
    text = SQUARE.replace("  - Bring the 2 down.", "  - Shapes first, like x: n by 1.")
    (problem,) = problems_in(tmp_path, text)
    assert problem.endswith(
        "hints item 2 is not text: YAML read it as a mapping because it "
        "contains ': ' — put the text in quotes"
    )


def test_an_exercise_file_by_path_refuses_what_the_schema_refuses(tmp_path: Path) -> None:
    path = tmp_path / "exercise.yaml"
    path.write_text(SQUARE + "colour: red\n")
    with pytest.raises(ContentError) as caught:
        load_exercise_path(path)
    assert str(caught.value).startswith(f"{path}:{line_of(SQUARE, 'Bring') + 1}: unknown field")
