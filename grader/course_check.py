"""Check course exercises end to end through the real grader, for authors and CI.

For every exercise in scope: the file must load (each problem with its file and line); over several
seeds, each variant must build with a defined reference, and the variants must not all be the same;
the reference answer and every `also_correct` form must grade correct; every known mistake must grade
non-correct with its feedback among the messages the student sees. A verdict the grader cannot decide
(undetermined, timeout, error) is a problem too. A reference that says which function it is the
derivative of (`derivative_of`) must match its finite differences, and every exercise must keep the
course's rules (two hints, two known mistakes, a worked solution) and no hint may give the answer
away (grader.hint_leaks). Nothing is written anywhere.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from course.content import (
    ContentError,
    ExerciseFile,
    Problem,
    exercise_files,
    load_course,
    read_exercise,
)
from course.translations import is_translation_file
from course.yaml_lines import YamlFile
from grader import engine
from grader.engine import Status, Verdict
from grader.engine.symbolic.reference_check import derivative_problems
from grader.hint_leaks import hint_leaks

DEFAULT_SEEDS = 5
UNDEFINED_VARIANT = (
    "the reference is undefined for this variant: too few sample points where it has a real value"
)
AUDIT_DISAGREEMENT = "audit_disagreement"  # a flag the symbolic grader puts on a verdict
UNDECIDED = (Status.UNDETERMINED, Status.TIMEOUT, Status.ERROR)
# Spellings of an undefined value in a reference's LaTeX or text (SymPy's zoo is complex infinity).
UNDEFINED_REFERENCE = re.compile(r"\bnan\b|\bzoo\b|\\tilde\{\\infty\}|\bundefined\b", re.IGNORECASE)


@dataclass
class ExerciseCheck:
    """What checking one exercise file found."""

    slug: str
    path: Path
    kind: str = ""
    published: bool = True
    problems: list[Problem] = field(default_factory=list)
    graded: int = 0  # answers run through the grader
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "path": str(self.path),
            "kind": self.kind,
            "published": self.published,
            "ok": self.ok,
            "problems": [_problem_dict(p) for p in self.problems],
            "graded": self.graded,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class CheckReport:
    """The outcome of one run: each exercise, other course-file problems, and the time taken."""

    scope: Path
    seeds: list[int]
    exercises: list[ExerciseCheck] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # tracks, modules, lessons, the scope
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems and all(e.ok for e in self.exercises)

    @property
    def failed(self) -> list[ExerciseCheck]:
        return [e for e in self.exercises if not e.ok]

    def summary(self) -> str:
        failed = len(self.failed)
        text = (
            f"Checked {len(self.exercises)} exercise{'s' if len(self.exercises) != 1 else ''} "
            f"over {len(self.seeds)} seed{'s' if len(self.seeds) != 1 else ''} "
            f"in {self.seconds:.1f} s: {len(self.exercises) - failed} ok, {failed} with problems"
        )
        if self.problems:
            text += f"; {len(self.problems)} problem(s) in other course files"
        return text + "."

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": str(self.scope),
            "seeds": self.seeds,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "exercises": [e.to_dict() for e in self.exercises],
            "problems": [_problem_dict(p) for p in self.problems],
            "summary": self.summary(),
        }


def _problem_dict(problem: Problem) -> dict[str, Any]:
    return {"path": str(problem.path), "line": problem.line, "message": problem.message}


def course_check(
    path: Path | str | None = None,
    *,
    seeds: int = DEFAULT_SEEDS,
    jobs: int | None = None,
    on_exercise: Callable[[ExerciseCheck], None] | None = None,
) -> CheckReport:
    """Check the course folder, a module folder, a lesson folder or one exercise file.

    jobs > 1 checks exercises in that many forked worker processes (default: up to 4 by CPU count
    when there are enough exercises), unless this process runs other threads; on_exercise is
    called with each result, in file order.
    """
    started = time.monotonic()
    scope = Path(path or settings.EXERCISES_DIR).resolve()
    report = CheckReport(scope=scope, seeds=list(range(1, max(1, seeds) + 1)))
    targets = _exercise_targets(scope, report.problems)
    file_problems = _course_problems(scope, [t.path for t in targets], report.problems)
    for result in _run(targets, file_problems, report.seeds, jobs):
        report.exercises.append(result)
        if on_exercise is not None:
            on_exercise(result)
    report.seconds = time.monotonic() - started
    return report


# --- which files ---------------------------------------------------------------------------------


@dataclass
class _Target:
    path: Path
    module: str
    lesson: str


def _visible_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def _exercise_targets(scope: Path, problems: list[Problem]) -> list[_Target]:
    """List the exercise files under scope the way the course loader finds them."""
    if not scope.exists():
        problems.append(Problem(scope, 1, "no such file or folder"))
        return []
    if scope.is_file():
        scope = _english_of(scope)
        if scope.suffix != ".yaml" or scope.name in ("tracks.yaml", "module.yaml"):
            problems.append(Problem(scope, 1, "not an exercise file (<slug>.yaml in a lesson)"))
            return []
        return [_Target(scope, scope.parent.parent.name, _lesson_slug(scope.parent))]
    if (scope / "tracks.yaml").exists():
        lessons = [lesson for module in _visible_dirs(scope) for lesson in _visible_dirs(module)]
    elif (scope / "module.yaml").exists():
        lessons = _visible_dirs(scope)
    elif (scope / "lesson.md").exists() or list(scope.glob("*.yaml")):
        lessons = [scope]
    else:
        problems.append(
            Problem(scope, 1, "not a course, module or lesson folder, nor an exercise file")
        )
        return []
    return [
        _Target(path, lesson.parent.name, _lesson_slug(lesson))
        for lesson in lessons
        for path in exercise_files(lesson)
    ]


def _english_of(path: Path) -> Path:
    """Return the English file a translation translates (x.zh-Hans.yaml -> x.yaml), else path."""
    if not is_translation_file(path):
        return path
    return path.with_name(path.stem.rsplit(".", 1)[0] + path.suffix)


def _lesson_slug(folder: Path) -> str:
    return folder.name.split("-", 1)[1] if folder.name[:1].isdigit() and "-" in folder.name else ""


def _course_root(scope: Path) -> Path | None:
    """Return the course folder (the one holding tracks.yaml) at or above scope, if any."""
    folder = scope if scope.is_dir() else scope.parent
    for candidate in [folder, *list(folder.parents)[:3]]:
        if (candidate / "tracks.yaml").exists():
            return candidate
    return None


def _course_problems(
    scope: Path, exercises: list[Path], scope_problems: list[Problem]
) -> dict[Path, list[Problem]]:
    """Load the whole course around scope; keep the problems that concern scope, by exercise file.

    Loading the whole course is what catches an id or slug that a file outside the scope already
    uses; such a problem is kept with the exercise it names. Problems of tracks, modules and
    lessons in scope go to scope_problems. The specs are not checked in this load: each exercise
    in scope is validated when it is read on its own, and the rest of the course is not checked.
    """
    root = _course_root(scope)
    if root is None:
        return {}
    try:
        course = load_course(root, check_specs=False)
    except ContentError as exc:
        found = exc.problems
    else:
        # A translation's problem is kept with the file it translates (an exercise in scope).
        found = [Problem(p.path, p.line, p.message) for p in course.translation_problems()]
    grouped: dict[Path, list[Problem]] = {}
    for problem in found:
        where = _english_of(problem.path.resolve())
        named = [path for path in exercises if str(path) in problem.message]
        if where in exercises or named:
            grouped.setdefault(where if where in exercises else named[0], []).append(problem)
        elif where == scope or scope in where.parents:
            scope_problems.append(problem)
    return grouped


# --- running --------------------------------------------------------------------------------------


def _run(
    targets: list[_Target],
    file_problems: dict[Path, list[Problem]],
    seeds: list[int],
    jobs: int | None,
) -> Iterator[ExerciseCheck]:
    work = [(t, file_problems.get(t.path, []), seeds) for t in targets]
    if jobs is None:
        jobs = min(4, os.cpu_count() or 1) if len(work) >= 4 else 1
    # Forking a process that runs other threads (a test server, a browser driver) can copy a lock
    # one of them holds into the workers, which then wait forever: check in this process instead.
    if jobs <= 1 or len(work) <= 1 or threading.active_count() > 1:
        yield from (_check_target(item) for item in work)
        return
    # Forked workers start from this process's imports and engine limits (grader.apps configures
    # them from settings); each forks one child per check and starts its own code sandbox.
    context = multiprocessing.get_context("fork")
    with context.Pool(processes=min(jobs, len(work))) as pool:
        yield from pool.imap(_check_target, work)


def _check_target(item: tuple[_Target, list[Problem], list[int]]) -> ExerciseCheck:
    target, known, seeds = item
    started = time.monotonic()
    problems: list[Problem] = []
    try:
        exercise = read_exercise(target.path, problems, module=target.module, lesson=target.lesson)
    except Exception as exc:  # noqa: BLE001 - a crashing spec validator is reported, not fatal
        exercise = None
        problems.append(
            Problem(target.path, 1, f"the spec validator crashed: {type(exc).__name__}: {exc}")
        )
    result = ExerciseCheck(slug=target.path.stem, path=target.path)
    # A file that reads cleanly can be graded even if it breaks a course rule (too few hints).
    gradable = not problems
    if exercise is not None:
        lines = _Lines(exercise.source)
        problems.extend(course_rule_problems(exercise.spec, target.path, lines))
    result.problems = _merge(problems, known)
    if exercise is not None:
        result.kind, result.published = exercise.kind, exercise.published
        if gradable:
            result.graded = exercise_check(exercise, seeds=seeds, problems=result.problems)
            result.problems.extend(
                Problem(target.path, lines.of("hints", leak.index), leak.describe())
                for leak in hint_leaks(exercise.spec, seed=seeds[0])
            )
    result.seconds = time.monotonic() - started
    return result


def _merge(first: list[Problem], second: list[Problem]) -> list[Problem]:
    """Return both lists without repeats (the course load re-reports each file's own problems)."""
    merged: dict[str, Problem] = {}
    for problem in [*first, *second]:
        merged.setdefault(str(problem), problem)
    return list(merged.values())


# --- course rules the grader's spec validators leave open ---------------------------------------

MIN_MISTAKES = 2  # known wrong answers with feedback, per exercise (issue 6's course policy)
MIN_HINTS = 2


def course_rule_problems(spec: dict[str, Any], path: Path, lines: _Lines) -> list[Problem]:
    """Return what breaks the course's own rules: the hint and mistake counts, the solution, the slug."""
    found: list[Problem] = []
    slug = spec.get("slug")
    if slug is not None and str(slug) != path.stem:
        found.append(
            Problem(
                path,
                lines.of("slug"),
                f"slug '{slug}' differs from the file name's slug '{path.stem}': the slug is "
                "the file name; rename the file or drop the field",
            )
        )
    hints = _listed(spec, "hints")
    if len(hints) < MIN_HINTS:
        found.append(
            Problem(
                path,
                lines.of("hints", fallback="kind"),
                f"an exercise needs at least {MIN_HINTS} hints (found {len(hints)})",
            )
        )
    if not _squash(spec.get("solution") or ""):
        found.append(
            Problem(
                path,
                lines.of("solution", fallback="kind"),
                "an exercise needs a worked solution (`solution:`, Markdown + LaTeX): students "
                "see it once they solve the exercise or give up",
            )
        )
    with_feedback = [
        m
        for m in _listed(spec, "mistakes")
        if isinstance(m, dict) and _squash(m.get("feedback") or "")
    ]
    if len(with_feedback) < MIN_MISTAKES:
        found.append(
            Problem(
                path,
                lines.of("mistakes", fallback="kind"),
                f"an exercise needs at least {MIN_MISTAKES} known mistakes with feedback "
                f"(found {len(with_feedback)})",
            )
        )
    return found


# --- checking one exercise -------------------------------------------------------------------------


@dataclass
class _Expectation:
    """One answer the exercise file writes down, and what it must grade as."""

    label: str  # "the reference answer", "also_correct #2", "mistake #1"
    answer: str
    line: int
    correct: bool
    feedback: str = ""


@dataclass
class _Finding:
    """One kind of failure, with the seeds it happened on and the details of the first."""

    line: int
    summary: str
    detail: str
    parameters: dict[str, Any] | None
    seeds: list[int] = field(default_factory=list)


class _Findings:
    """Collect failures across seeds, so a failure on every seed is reported once."""

    def __init__(self) -> None:
        self.found: dict[tuple[int, str], _Finding] = {}

    def note(
        self, line: int, summary: str, detail: str, seed: int, parameters: dict[str, Any] | None
    ) -> None:
        finding = self.found.setdefault(
            (line, summary), _Finding(line, summary, detail, parameters)
        )
        finding.seeds.append(seed)


def exercise_check(exercise: ExerciseFile, *, seeds: list[int], problems: list[Problem]) -> int:
    """Run one loaded exercise's variants and written answers through the grader.

    Appends a Problem for each failure (grouped across seeds); returns how many answers it graded.
    """
    lines = _Lines(exercise.source)
    spec = exercise.spec
    findings = _Findings()
    written = _expectations(spec, lines)
    graded = 0
    drawn_parameters: list[Any] = []
    for seed in seeds:
        drawn = _variant(spec, seed, lines, findings)
        parameters = drawn.get("parameters") if drawn else None
        if drawn is not None:
            drawn_parameters.append(parameters)
        for index, expected in enumerate(
            [*written, *_variant_reference(spec, drawn, lines, written)]
        ):
            graded += 1
            verdict = _grade(spec, expected.answer, seed)
            if index == 0 and expected.correct and verdict.status == Status.UNDETERMINED:
                # Every other answer of this variant would be undetermined for the same reason.
                findings.note(expected.line, UNDEFINED_VARIANT, "", seed, parameters)
                break
            failure = _judge(expected, verdict)
            if failure is not None:
                findings.note(expected.line, *failure, seed, parameters)
        _check_derivative(spec, seed, lines, findings, parameters)
    if (
        spec.get("parameters")
        and len(drawn_parameters) == len(seeds) > 1
        and all(p == drawn_parameters[0] for p in drawn_parameters)
    ):
        findings.note(
            lines.of("parameters"),
            f"the variants repeat: all {len(seeds)} seeds draw the same parameters",
            "widen the ranges or add choices",
            seeds[0],
            None,
        )
    if graded == 0 and drawn_parameters:
        problems.append(
            Problem(exercise.path, lines.of("kind"), "the file gives no reference answer to check")
        )
    for finding in findings.found.values():
        problems.append(Problem(exercise.path, finding.line, _describe(finding, len(seeds))))
    return graded


def _check_derivative(
    spec: dict[str, Any],
    seed: int,
    lines: _Lines,
    findings: _Findings,
    parameters: dict[str, Any] | None,
) -> None:
    """Note where the reference is not the derivative its `derivative_of` names, for one seed."""
    try:
        found = derivative_problems(spec, seed)
    except Exception as exc:  # noqa: BLE001 - the author's spec, reported with its line
        line = lines.of("derivative_of", fallback="answer")
        findings.note(
            line, "the derivative check crashed", f"{type(exc).__name__}: {exc}", seed, None
        )
        return
    for problem in found:
        line = lines.of(problem.key, fallback="answer")
        findings.note(line, problem.summary, problem.detail, seed, parameters)


def _expectations(spec: dict[str, Any], lines: _Lines) -> list[_Expectation]:
    """Return the answers the file writes down: the reference, other correct forms, mistakes."""
    code = spec.get("kind") in engine.CODE_KINDS
    reference_key = "reference" if code else "answer"
    answer_key = "code" if code else "answer"
    out: list[_Expectation] = []
    reference = spec.get(reference_key)
    if _is_text(reference):
        out.append(
            _Expectation("the reference answer", str(reference), lines.of(reference_key), True)
        )
    for i, item in enumerate(_listed(spec, "also_correct")):
        text = item.get(answer_key) if isinstance(item, dict) else item
        if _is_text(text):
            out.append(
                _Expectation(f"also_correct #{i + 1}", str(text), lines.of("also_correct", i), True)
            )
    for i, mistake in enumerate(_listed(spec, "mistakes")):
        if isinstance(mistake, dict) and _is_text(mistake.get(answer_key)):
            out.append(
                _Expectation(
                    f"mistake #{i + 1}",
                    str(mistake[answer_key]),
                    lines.of("mistakes", i),
                    False,
                    str(mistake.get("feedback") or ""),
                )
            )
    return out


def _listed(spec: dict[str, Any], key: str) -> list[Any]:
    value = spec.get(key) or []
    return value if isinstance(value, list) else []


def _is_text(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _variant_reference(
    spec: dict[str, Any],
    drawn: dict[str, Any] | None,
    lines: _Lines,
    written: list[_Expectation],
) -> list[_Expectation]:
    """Return the variant's reference as a student would type it, for exercises with parameters.

    With the parameters filled in, this is the answer a student of this variant gives. A derivation's
    reference (its start and target) is not an answer: its `also_correct` derivations are.
    """
    if (
        drawn is None
        or not drawn.get("parameters")
        or spec.get("kind") not in ("expression", "matrix")
    ):
        return []
    text = str(drawn.get("reference") or "").strip()
    if not text or any(e.correct and _squash(e.answer) == _squash(text) for e in written):
        return []
    return [_Expectation("the variant's reference", text, lines.of("answer"), True)]


def _grade(spec: dict[str, Any], answer: str, seed: int) -> Verdict:
    try:
        return engine.grade(spec, answer, seed=seed)
    except Exception as exc:  # noqa: BLE001 - a grader crash is a finding, not the end of the run
        return Verdict(
            status=Status.ERROR,
            messages=[engine.Message("crash", f"the grader raised {type(exc).__name__}: {exc}")],
        )


def _judge(expected: _Expectation, verdict: Verdict) -> tuple[str, str] | None:
    """Return (summary, detail) when the verdict is not what the file promises, else None."""
    said = _said(verdict)
    shown = _short(expected.answer)
    if verdict.status in UNDECIDED:
        return (f"{expected.label} {shown} grades {verdict.status}", said)
    if expected.correct and verdict.status != Status.CORRECT:
        return (f"{expected.label} {shown} grades {verdict.status}, not correct", said)
    if not expected.correct and verdict.status == Status.CORRECT:
        return (f"{expected.label} {shown} grades correct; a known mistake must be rejected", "")
    if (
        not expected.correct
        and expected.feedback
        and not _feedback_shown(expected.feedback, verdict)
    ):
        return (
            f"{expected.label} {shown} is rejected without its feedback "
            f"{_short(expected.feedback, 60)}",
            f"the student sees: {said}",
        )
    if AUDIT_DISAGREEMENT in verdict.flags:
        return (
            f"{expected.label} {shown} grades {verdict.status}, but the symbolic audit disagrees "
            "with the sampled check: the answers may differ outside the sample intervals",
            "look at the variables' domains and sample intervals",
        )
    return None


def _said(verdict: Verdict) -> str:
    return " | ".join(_squash(m.text) for m in verdict.messages) or "(no message)"


def _feedback_shown(feedback: str, verdict: Verdict) -> bool:
    """Say whether the feedback appears in what the student sees ({{name}} matches any value)."""
    pieces = re.split(r"\{\{\s*[A-Za-z_]\w*\s*\}\}", _squash(feedback))
    pattern = re.compile(".+?".join(re.escape(p) for p in pieces))
    return any(pattern.search(_squash(m.text)) for m in verdict.messages)


def _squash(text: str) -> str:
    return " ".join(str(text).split())


def _short(text: str, limit: int = 40) -> str:
    text = _squash(text)
    return f"`{text}`" if len(text) <= limit else f"`{text[: limit - 1]}…`"


def _variant(
    spec: dict[str, Any], seed: int, lines: _Lines, findings: _Findings
) -> dict[str, Any] | None:
    """Build one seed's variant; note it when it cannot be built or its reference is undefined."""
    try:
        drawn: dict[str, Any] = dict(engine.variant(spec, seed))
    except Exception as exc:  # noqa: BLE001 - the author's spec, reported with its line
        line = lines.of("parameters", fallback="kind")
        findings.note(line, "the variant cannot be built", str(exc), seed, None)
        return None
    reference = f"{drawn.get('reference', '')} {drawn.get('reference_latex', '')}"
    if spec.get("kind") not in engine.CODE_KINDS and UNDEFINED_REFERENCE.search(reference):
        findings.note(
            lines.of("answer", fallback="target"),
            "the reference is undefined for this variant",
            _squash(str(drawn.get("reference", ""))),
            seed,
            drawn.get("parameters"),
        )
    return drawn


def _describe(finding: _Finding, total_seeds: int) -> str:
    seeds = sorted(set(finding.seeds))
    if len(seeds) == total_seeds and total_seeds > 1:
        where = "on every seed"
    else:
        where = f"on seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"
        if finding.parameters:
            values = ", ".join(f"{k} = {v}" for k, v in finding.parameters.items())
            where += f"; seed {seeds[0]} has {values}"
    text = f"{finding.summary} ({where})"
    return f"{text}: {_squash(finding.detail)[:300]}" if finding.detail else text


@dataclass(frozen=True)
class _Lines:
    """The line of a field or of one item of a list field, or of another field when it is absent."""

    source: YamlFile

    def of(self, key: str, index: int | None = None, *, fallback: str | None = None) -> int:
        if key not in self.source.data:
            return self.of(fallback) if fallback else self.source.line()
        return self.source.line((key,) if index is None else (key, index))
