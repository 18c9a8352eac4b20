"""check_course on small courses written to tmp_path: sound ones pass, each kind of breakage is named."""

from __future__ import annotations

import io
import json
import textwrap
import threading
import uuid
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

import grader.course_check
from course.content import ExerciseFile, Problem
from course.yaml_lines import parse_yaml
from grader import engine
from grader.course_check import _Expectation, _judge, course_check, exercise_check
from grader.engine import Message, Status, Verdict

SQUARE = """\
id: {id}
title: Derivative of a scaled square
kind: expression
prompt: Differentiate ${{a}} x^2$ with respect to $x$.
parameters:
  a: {{integer: [2, 9]}}
variables:
  x: {{domain: real, sample: [-3, 3]}}
answer: 2*a*x
also_correct:
  - a*x + a*x
mistakes:
  - answer: a*x
    feedback: The power rule brings the exponent down as a factor.
  - answer: a*x^2
    feedback: Differentiate; x^2 is the function itself.
hints:
  - Use the power rule.
  - The derivative of x^2 is 2x.
solution: |
  By the power rule, $\\frac{{d}}{{dx}}\\,{{{{a}}}} x^2 = 2\\cdot{{{{a}}}}\\,x$.
"""

DOUBLE = """\
id: {id}
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
      return {{"x": rng.normal(size=5)}}
tests:
  - {{name: five numbers, case: basic}}
hints:
  - Multiply by two.
  - Write 2 * x.
solution: Twice the input, elementwise, is `2 * x`.
"""
# Two known mistakes, for a code exercise with no others.
DOUBLE_MISTAKES = """\
mistakes:
  - code: |
      def double(x):
          return x
    feedback: Multiply by two.
  - code: |
      def double(x):
          return 3 * x
    feedback: Twice, not three times.
"""


def run(*args: str) -> tuple[int, str]:
    """Run check_course; return its exit code and everything it printed."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("check_course", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + err.getvalue()
    return 0, out.getvalue() + err.getvalue()


def new_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def course_root(tmp_path: Path) -> Path:
    """A one-module, one-lesson course with no exercises yet."""
    root = tmp_path / "course"
    lesson = root / "basics" / "01-first-steps"
    lesson.mkdir(parents=True)
    (root / "tracks.yaml").write_text(
        f"tracks:\n  - id: {new_id()}\n    slug: applied\n    title: Applied\n"
        "    summary: Tests.\n    modules: [basics]\n"
    )
    (root / "basics" / "module.yaml").write_text(
        f"id: {new_id()}\ntitle: Basics\nsummary: The first module.\nskill: Derivatives\n"
    )
    (lesson / "lesson.md").write_text(f"---\nid: {new_id()}\ntitle: First steps\n---\nText.\n")
    return root


def write(root: Path, name: str, text: str) -> Path:
    path = root / "basics" / "01-first-steps" / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def line_of(path: Path, fragment: str) -> int:
    """Return the 1-based line of the first line containing fragment."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(f"{fragment!r} is not in {path}")


def loaded(path: Path) -> ExerciseFile:
    """Wrap a written exercise file for exercise_check without the loader's own answer checks."""
    source = parse_yaml(path.read_text())
    spec = source.data
    return ExerciseFile(
        id=uuid.UUID(spec["id"]),
        slug=path.stem,
        title=spec["title"],
        kind=spec["kind"],
        spec=spec,
        module="basics",
        lesson="first-steps",
        order=1,
        published=True,
        path=path,
        source=source,
    )


def seeds_where(spec_text: str, name: str, value: int, seeds: range) -> list[int]:
    """Return the seeds among these whose variant draws this parameter value."""
    spec = yaml.safe_load(spec_text)
    return [s for s in seeds if engine.variant(spec, s)["parameters"][name] == value]


def test_it_passes_a_sound_course(course_root: Path) -> None:
    write(course_root, "square-derivative", SQUARE.format(id=new_id()))
    code, output = run(str(course_root), "--seeds", "3")
    assert code == 0, output
    assert "ok    " in output and "square-derivative.yaml" in output
    assert "Checked 1 exercise over 3 seeds in" in output
    assert "1 ok, 0 with problems." in output


def test_it_passes_a_sound_code_exercise(course_root: Path) -> None:
    write(course_root, "double", DOUBLE.format(id=new_id()) + DOUBLE_MISTAKES)
    code, output = run(str(course_root), "--seeds", "2")
    assert code == 0, output


def test_it_reports_bad_yaml_with_its_line(course_root: Path) -> None:
    text = SQUARE.format(id=new_id()).replace("answer: 2*a*x", "answer: [2*a*x")
    path = write(course_root, "square-derivative", text)
    code, output = run(str(course_root))
    assert code == 1
    # The unclosed bracket is noticed on the next line, where the parser meets a key.
    assert f"{path}:{line_of(path, 'also_correct')}: not valid YAML" in output
    assert "FAIL  " in output and "0 ok, 1 with problems" in output


def test_it_reports_a_reference_that_disagrees_with_a_worked_answer(course_root: Path) -> None:
    text = SQUARE.format(id=new_id()).replace("answer: 2*a*x", "answer: 2*a*x^2")
    path = write(course_root, "square-derivative", text)
    code, output = run(str(path), "--seeds", "2")
    assert code == 1
    at_item = f"{path}:{line_of(path, '- a*x + a*x')}:"
    problems = [line for line in output.splitlines() if at_item in line]
    assert problems and all("also_correct" in p and "a*x + a*x" in p for p in problems)


def test_it_reports_a_mistake_the_grader_accepts(course_root: Path) -> None:
    text = SQUARE.format(id=new_id()).replace("  - answer: a*x\n", "  - answer: a*x*2\n")
    path = write(course_root, "square-derivative", text)
    code, output = run(str(path), "--seeds", "2")
    assert code == 1
    at_item = f"{path}:{line_of(path, 'a*x*2')}:"
    problems = [line for line in output.splitlines() if at_item in line]
    assert problems and all("mistake" in p for p in problems)


def test_it_reports_a_mistake_accepted_only_on_some_variants(tmp_path: Path) -> None:
    """2*x is the reference a*x whenever a = 2: a seed-dependent hole the file's author missed."""
    text = (
        SQUARE.format(id=new_id())
        .replace("answer: 2*a*x", "answer: a*x")
        .replace("  - a*x + a*x\n", "  - x*a\n")
        .replace("  - answer: a*x\n", "  - answer: 2*x\n")
    )
    bad = seeds_where(text, "a", 2, range(1, 60))
    good = [s for s in range(1, 60) if s not in bad]
    assert bad and good, "the parameter range must draw a = 2 on some seeds and not on others"
    path = tmp_path / "scaled.yaml"
    path.write_text(text)
    problems: list[Problem] = []
    graded = exercise_check(loaded(path), seeds=[bad[0], good[0]], problems=problems)
    assert graded == 2 * 5  # reference, also_correct, 2 mistakes, the variant's reference, per seed
    (problem,) = problems
    assert problem.line == line_of(path, "- answer: 2*x")
    assert "mistake #1 `2*x` grades correct" in problem.message
    assert f"on seed {bad[0]}; seed {bad[0]} has a = 2" in problem.message


def test_it_reports_feedback_the_student_never_sees(course_root: Path) -> None:
    text = DOUBLE.format(id=new_id()) + textwrap.dedent(
        """\
        mistakes:
          - code: |
              def double(x):
                  return x
            feedback: Multiply by two.
          - code: |
              def double(x):
                  return 1.0 * x
            feedback: This one is never shown.
        """
    )
    path = write(course_root, "double", text)
    code, output = run(str(path), "--seeds", "2")
    assert code == 1
    (problem,) = [line for line in output.splitlines() if "mistake #" in line]
    assert f"{path}:{line_of(path, 'return 1.0 * x') - 2}:" in problem
    assert "mistake #2" in problem and "without its feedback" in problem
    assert "Multiply by two." in problem  # what the student sees instead


def test_it_reports_a_variant_whose_reference_is_undefined(tmp_path: Path) -> None:
    text = SQUARE.format(id=new_id()).replace("answer: 2*a*x", "answer: 2*a*x*log(a - 3)")
    text = text.replace("also_correct:\n  - a*x + a*x\n", "").replace(
        "a*x\n    feedback", "x\n    feedback"
    )
    spec = yaml.safe_load(text)
    undefined = [s for s in range(1, 40) if engine.variant(spec, s)["parameters"]["a"] <= 3]
    defined = [s for s in range(1, 40) if s not in undefined]
    path = tmp_path / "undefined.yaml"
    path.write_text(text)
    problems: list[Problem] = []
    exercise_check(loaded(path), seeds=[undefined[0], defined[0]], problems=problems)
    (problem,) = problems
    assert problem.line == line_of(path, "answer: 2*a*x")
    assert "the reference is undefined for this variant" in problem.message
    a = engine.variant(spec, undefined[0])["parameters"]["a"]
    assert f"(on seed {undefined[0]}; seed {undefined[0]} has a = {a})" in problem.message


def test_it_reports_variants_that_repeat(course_root: Path) -> None:
    text = SQUARE.format(id=new_id()).replace("{integer: [2, 9]}", "{choice: [3]}")
    path = write(course_root, "square-derivative", text)
    code, output = run(str(path), "--seeds", "3")
    assert code == 1
    assert f"{path}:{line_of(path, 'parameters:')}: the variants repeat" in output


def test_it_reports_a_mistake_that_times_out(course_root: Path) -> None:
    text = DOUBLE.format(id=new_id()) + textwrap.dedent(
        """\
        timeout: 1
        mistakes:
          - code: |
              def double(x):
                  while True:
                      pass
            feedback: Loops forever.
        """
    )
    path = write(course_root, "double", text)
    code, output = run(str(path), "--seeds", "1")
    assert code == 1
    assert "mistake #1" in output and "grades timeout" in output


def test_it_checks_only_the_scope_it_is_given(course_root: Path) -> None:
    write(course_root, "square-derivative", SQUARE.format(id=new_id()))
    broken = write(course_root, "broken", "id: [\n")
    lesson = course_root / "basics" / "01-first-steps"
    for scope, checked in [
        (course_root / "basics", 2),
        (lesson, 2),
        (lesson / "square-derivative.yaml", 1),
    ]:
        report = course_check(scope, seeds=1, jobs=1)
        assert len(report.exercises) == checked
    assert course_check(lesson / "square-derivative.yaml", seeds=1).ok
    report = course_check(broken, seeds=1)
    assert not report.ok and "not valid YAML" in report.failed[0].problems[0].message


def test_it_reports_course_files_outside_exercises(course_root: Path) -> None:
    write(course_root, "square-derivative", SQUARE.format(id=new_id()))
    (course_root / "basics" / "02-empty").mkdir()
    code, output = run(str(course_root), "--seeds", "1")
    assert code == 1
    assert "02-empty/lesson.md:1: missing" in output
    assert "1 ok, 0 with problems; 1 problem(s) in other course files" in output


def test_it_reports_an_id_another_file_uses(course_root: Path) -> None:
    shared = new_id()
    write(course_root, "square-derivative", SQUARE.format(id=shared))
    copy = write(course_root, "square-again", SQUARE.format(id=shared))
    code, output = run(str(copy), "--seeds", "1")
    assert code == 1
    assert f"id {shared} is already used" in output


def test_it_refuses_a_path_that_is_not_course_content(tmp_path: Path) -> None:
    code, output = run(str(tmp_path / "nowhere"))
    assert code == 1 and "no such file or folder" in output
    (tmp_path / "notes.txt").write_text("hello")
    code, output = run(str(tmp_path / "notes.txt"))
    assert code == 1 and "not an exercise file" in output


def test_it_prints_json(course_root: Path) -> None:
    write(course_root, "square-derivative", SQUARE.format(id=new_id()))
    write(course_root, "broken", "id: [\n")
    code, output = run(str(course_root), "--seeds", "1", "--json", "--jobs", "2")
    assert code == 1
    report = json.loads(output[: output.rindex("}") + 1])
    assert [(e["slug"], e["ok"]) for e in report["exercises"]] == [
        ("broken", False),
        ("square-derivative", True),
    ]
    assert report["exercises"][0]["problems"][0]["line"] == 2  # where the YAML stream ends
    assert report["seeds"] == [1] and report["ok"] is False


def test_quiet_prints_only_problems_and_the_summary(course_root: Path) -> None:
    write(course_root, "square-derivative", SQUARE.format(id=new_id()))
    code, output = run(str(course_root), "--seeds", "1", "--quiet")
    assert code == 0
    assert output.strip().splitlines() == [output.strip().splitlines()[-1]]
    assert output.startswith("Checked 1 exercise")


@pytest.mark.parametrize(
    ("correct", "verdict", "expected"),
    [
        (True, Verdict(Status.CORRECT), None),
        (True, Verdict(Status.INCORRECT), "grades incorrect, not correct"),
        (True, Verdict(Status.TIMEOUT), "grades timeout"),
        (False, Verdict(Status.ERROR), "grades error"),
        (False, Verdict(Status.UNDETERMINED), "grades undetermined"),
        (False, Verdict(Status.CORRECT), "a known mistake must be rejected"),
        (False, Verdict(Status.INVALID, messages=[Message("k", "Say why.")]), None),
        (
            False,
            Verdict(Status.INCORRECT, messages=[Message("k", "Not this.")]),
            "without its feedback",
        ),
        (
            True,
            Verdict(Status.CORRECT, flags=["audit_disagreement"]),
            "the symbolic audit disagrees",
        ),
    ],
)
def test_it_judges_each_verdict_against_the_file(correct, verdict, expected) -> None:
    promise = _Expectation("mistake #1", "x", 3, correct, "" if correct else "Say why.")
    found = _judge(promise, verdict)
    if expected is None:
        assert found is None
    else:
        assert found is not None and expected in found[0]


def test_it_checks_in_this_process_while_other_threads_run(course_root: Path, monkeypatch) -> None:
    """Forked workers could inherit a lock another thread holds and hang: no forking then."""

    def no_fork(method: str) -> None:
        raise AssertionError(f"forked a {method} pool while another thread runs")

    monkeypatch.setattr(grader.course_check.multiprocessing, "get_context", no_fork)
    for name in ("one", "two", "three", "four"):
        write(course_root, name, SQUARE.format(id=new_id()))
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        report = course_check(course_root, seeds=1, jobs=2)
    finally:
        stop.set()
    assert [e.slug for e in report.exercises] == ["four", "one", "three", "two"]
    assert report.ok


def test_it_grades_other_correct_code_solutions(course_root: Path) -> None:
    text = DOUBLE.format(id=new_id()) + textwrap.dedent(
        """\
        also_correct:
          - code: |
              def double(x):
                  return x + x
          - |
            def double(x):
                return x * 3
        """
    )
    path = write(course_root, "double", text)
    code, output = run(str(path), "--seeds", "1")
    assert code == 1
    (problem,) = [line for line in output.splitlines() if "also_correct" in line]
    assert f"{path}:{line_of(path, 'return x * 3') - 2}: also_correct #2" in problem
    assert "grades incorrect, not correct" in problem


def test_it_passes_a_reference_that_is_the_derivative_it_names(course_root: Path) -> None:
    text = SQUARE.format(id=new_id()).replace(
        "answer: 2*a*x", "derivative_of: a*x^2\nanswer: 2*a*x"
    )
    write(course_root, "square-derivative", text)
    code, output = run(str(course_root), "--seeds", "2")
    assert code == 0, output


def test_it_reports_a_reference_that_is_not_the_derivative_it_names(course_root: Path) -> None:
    """The file agrees with itself, but its reference is twice the derivative."""
    text = (
        SQUARE.format(id=new_id())
        .replace("answer: 2*a*x", "derivative_of: a*x^2\nwrt: x\nanswer: 4*a*x")
        .replace("  - a*x + a*x\n", "  - 2*a*x + 2*a*x\n")
    )
    path = write(course_root, "square-derivative", text)
    code, output = run(str(path), "--seeds", "2")
    assert code == 1
    (problem,) = [line for line in output.splitlines() if "derivative_of" in line]
    assert problem.strip() == (
        f"{path}:{line_of(path, 'answer: 4*a*x')}: the reference is not the derivative of "
        "derivative_of with respect to x: central finite differences disagree (on every seed): "
        + problem.split("(on every seed): ", 1)[1]
    )
    assert "the reference gives" in problem and "finite differences" in problem


def test_it_reports_a_matrix_reference_that_is_not_the_gradient(course_root: Path) -> None:
    text = f"""\
        id: {new_id()}
        title: Least squares
        kind: matrix
        prompt: Give the gradient of |Ax - b|^2.
        variables:
          A: {{shape: [m, n]}}
          x: {{shape: [n, 1]}}
          b: {{shape: [m, 1]}}
        wrt: x
        derivative_of: (A*x - b)^T*(A*x - b)
        answer: A^T*(A*x - b)
        mistakes:
          - answer: A^T*(A*x + b)
            feedback: Mind the sign of b.
          - answer: -A^T*(A*x - b)
            feedback: Mind the sign.
        hints:
          - Expand the square.
          - Use the chain rule.
        """
    path = write(course_root, "least-squares", text)
    code, output = run(str(path), "--seeds", "1")
    assert code == 1
    assert (
        f"{path}:{line_of(path, 'answer: A^T')}: the reference is not the derivative of "
        "derivative_of with respect to x"
    ) in output


def test_it_requires_two_hints_and_two_known_mistakes(course_root: Path) -> None:
    text = SQUARE.format(id=new_id())
    text = text[: text.index("mistakes:")] + "mistakes: []\nhints: []\n"
    path = write(course_root, "square-derivative", text)
    code, output = run(str(path), "--seeds", "1")
    assert code == 1
    assert (
        f"{path}:{line_of(path, 'hints: []')}: an exercise needs at least 2 hints (found 0)"
        in output
    )
    assert (
        f"{path}:{line_of(path, 'mistakes: []')}: an exercise needs at least 2 known mistakes "
        "with feedback (found 0)"
    ) in output


def test_it_requires_the_known_mistakes_to_have_feedback(course_root: Path) -> None:
    text = DOUBLE.format(id=new_id()) + DOUBLE_MISTAKES.replace(
        "    feedback: Twice, not three times.\n", ""
    )
    path = write(course_root, "double", text)
    code, output = run(str(path), "--seeds", "1")
    assert code == 1
    assert "an exercise needs at least 2 known mistakes with feedback (found 1)" in output


def test_it_refuses_typos_in_the_keys_of_code_tests_and_checks(course_root: Path) -> None:
    text = (
        DOUBLE.format(id=new_id())
        .replace(
            "  - {name: five numbers, case: basic}\n",
            "  - {name: five numbers, case: basic}\n"
            "  - {name: hidden five, case: basic, hiden: true, wieght: 2}\n",
        )
        .replace(
            "hints:\n",
            "checks:\n  shape: {rtol: 1}\n  speed:\n    case: basic\n    max_slowdow: 5\n"
            "  gradient:\n    forward: 'def forward(x):\\n    return x'\n    wrt: [x]\n"
            "    epsilon: 1e-6\nhints:\n",
        )
    )
    path = write(course_root, "double", text + DOUBLE_MISTAKES)
    code, output = run(str(path), "--seeds", "1")
    assert code == 1
    test_line = line_of(path, "hiden: true")
    assert (
        f"{path}:{test_line}: tests[1]: unknown field 'hiden' (allowed here: case, hidden, name, "
        "weight)"
    ) in output
    assert f"{path}:{test_line}: tests[1]: unknown field 'wieght'" in output
    assert (
        f"{path}:{line_of(path, 'max_slowdow')}: checks.speed: unknown field 'max_slowdow' "
        "(allowed here: case, cases, margin_ms, max_slowdown, name, timeout)"
    ) in output
    assert f"{path}:{line_of(path, 'epsilon')}: checks.gradient: unknown field 'epsilon'" in output
    assert f"{path}:{line_of(path, 'shape: {')}: checks.shape: expected true or false" in output


def test_it_refuses_a_slug_field_that_differs_from_the_file_name(course_root: Path) -> None:
    text = SQUARE.format(id=new_id()).replace(
        "kind: expression\n", "kind: expression\nslug: square\n"
    )
    path = write(course_root, "square-derivative", text)
    code, output = run(str(path), "--seeds", "1")
    assert code == 1
    assert (
        f"{path}:{line_of(path, 'slug: square')}: slug 'square' differs from the file name's "
        "slug 'square-derivative'"
    ) in output
    path.write_text(text.replace("slug: square\n", "slug: square-derivative\n"))
    assert run(str(path), "--seeds", "1")[0] == 0


def test_it_refuses_underscored_keys_in_symbolic_exercises_as_in_code_ones(
    course_root: Path,
) -> None:
    square = write(course_root, "square-derivative", SQUARE.format(id=new_id()) + "_draft: x\n")
    double = write(
        course_root, "double", DOUBLE.format(id=new_id()) + DOUBLE_MISTAKES + "_draft: x\n"
    )
    code, output = run(str(course_root), "--seeds", "1")
    assert code == 1
    assert f"{square}:{line_of(square, '_draft')}: unknown field '_draft' (allowed here: " in output
    assert f"{double}:{line_of(double, '_draft')}: unknown field '_draft' (allowed here: " in output


def test_it_requires_a_worked_solution(course_root: Path) -> None:
    text = SQUARE.format(id=new_id())
    path = write(course_root, "square-derivative", text[: text.index("solution:")])
    code, output = run(str(path), "--seeds", "1")
    assert code == 1
    assert (
        f"{path}:{line_of(path, 'kind: expression')}: an exercise needs a worked solution"
    ) in output


def test_it_reports_a_code_hint_that_holds_the_returned_expression(course_root: Path) -> None:
    text = DOUBLE.format(id=new_id()).replace("return 2 * x", "return 2 * x.copy()")
    text = text.replace("- Write 2 * x.", "- 'Write: `2*x.copy()`.'") + DOUBLE_MISTAKES
    path = write(course_root, "double", text)
    code, output = run(str(path), "--seeds", "1")
    assert code == 1
    assert (
        f"{path}:{line_of(path, 'Write: ')}: hint 2 gives the answer away: `2 * x.copy()`"
    ) in output


def test_it_reports_a_hint_whose_math_grades_correct(course_root: Path) -> None:
    text = SQUARE.format(id=new_id()).replace(
        "- The derivative of x^2 is 2x.", "- 'You should reach $\\dfrac{4 a x}{2}$.'"
    )
    path = write(course_root, "square-derivative", text)
    code, output = run(str(path), "--seeds", "1")
    assert code == 1
    assert f"{path}:{line_of(path, 'You should reach')}: hint 2 gives the answer away" in output


def test_a_hint_that_only_points_towards_the_answer_passes(course_root: Path) -> None:
    text = SQUARE.format(id=new_id()).replace(
        "- The derivative of x^2 is 2x.", "- 'The derivative of $x^2$ is $2x$; keep the factor.'"
    )
    path = write(course_root, "square-derivative", text)
    code, output = run(str(path), "--seeds", "1")
    assert code == 0, output
