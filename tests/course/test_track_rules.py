"""Tracks stand alone: every prerequisite and cross-reference of a track's modules stays in it.

The fixture course gets a second track, `research`, with one module of its own, `advanced`, whose
lesson and exercise can point back at `basics` (a module only the `applied` track shows).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from course.content import ContentError, load_course
from course.track_rules import track_problems

RESEARCH = """  - id: 66666666-6666-4666-8666-666666666666
    slug: research
    title: Research
    summary: A second track.
    modules: [{modules}]
"""
MODULE = """id: {id}
title: {title}
summary: A module added by the test.
skill: {title}
prerequisites: [{prerequisites}]
"""
LESSON = """---
id: {id}
title: Going deeper
---
{body}
"""
EXERCISE = """id: 99999999-9999-4999-8999-999999999999
title: Derivative of a cube
kind: expression
prompt: Differentiate $x^3$ with respect to $x$.
variables:
  x: {{domain: real, sample: [-3, 3]}}
answer: 3*x^2
mistakes:
  - answer: x^2
    feedback: The power rule brings the exponent down as a factor.
hints:
  - {hint}
  - Bring the 3 down.
"""
BASICS = "basics/module.yaml"
ADVANCED = "advanced/module.yaml"
ADVANCED_LESSON = "advanced/01-deeper/lesson.md"
ADVANCED_EXERCISE = "advanced/01-deeper/cube-derivative.yaml"
NOT_IN_RESEARCH = "which is not in track 'research' with 'advanced'"


def build(
    course_dir: Path,
    *,
    research: str = "advanced",
    prerequisites: str = "",
    body: str = "A lesson that stands on its own.",
    hint: str = "Use the power rule.",
    basics_body: str | None = None,
    orphan: bool = False,
) -> None:
    """Add the research track, the `advanced` module (a lesson and an exercise) and, optionally,
    a module no track lists."""
    tracks = course_dir / "tracks.yaml"
    tracks.write_text(tracks.read_text() + RESEARCH.format(modules=research))
    modules = [("advanced", "77777777-7777-4777-8777-777777777777", "Advanced")]
    if orphan:
        modules.append(("orphan", "88888888-8888-4888-8888-888888888888", "Orphan"))
    for number, (slug, id_, title) in enumerate(modules):
        lesson = course_dir / slug / "01-deeper"
        lesson.mkdir(parents=True)
        (course_dir / slug / "module.yaml").write_text(
            MODULE.format(id=id_, title=title, prerequisites=prerequisites)
        )
        (lesson / "lesson.md").write_text(
            LESSON.format(id=f"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaa{number}", body=body)
        )
        if slug == "advanced":
            (lesson / "cube-derivative.yaml").write_text(EXERCISE.format(hint=hint))
    if basics_body is not None:
        path = course_dir / "basics" / "02-second-steps" / "lesson.md"
        path.write_text(path.read_text() + basics_body + "\n")


def problems(course_dir: Path) -> list[str]:
    """The problems load_course reports, with paths relative to the course folder."""
    try:
        load_course(course_dir)
    except ContentError as exc:
        return [str(p).replace(f"{course_dir}/", "") for p in exc.problems]
    return []


REFERENCES = [
    pytest.param({}, [], id="a track that stands alone"),
    pytest.param(
        {"prerequisites": "basics"},
        [
            f"{ADVANCED}:5: module 'advanced' lists the prerequisite 'basics', {NOT_IN_RESEARCH}: "
            "replace the reference or add 'basics' to the track"
        ],
        id="a prerequisite outside the track",
    ),
    pytest.param(
        {"prerequisites": "basics", "research": "basics, advanced"},
        [],
        id="a prerequisite in a module both tracks share",
    ),
    pytest.param(
        {"prerequisites": "nowhere"},
        [f"{ADVANCED}:1: prerequisite 'nowhere' is not a module"],
        id="a prerequisite that is not a module is reported once, by the loader",
    ),
    pytest.param(
        {"prerequisites": "basics", "research": "advanced, basics"},
        [
            f"{ADVANCED}:5: module 'advanced' lists the prerequisite 'basics', which comes after "
            "it in track 'research': move 'basics' earlier in tracks.yaml"
        ],
        id="a prerequisite later in the track",
    ),
    pytest.param(
        {"body": "Intro.\n\nRevise the sigmoid (basics) first."},
        [f"{ADVANCED_LESSON}:7: module 'advanced' refers to module 'basics', {NOT_IN_RESEARCH}"],
        id="a slug alone in parentheses",
    ),
    pytest.param(
        {"body": "See `basics` for the power rule."},
        [f"{ADVANCED_LESSON}:5: module 'advanced' refers to module 'basics', {NOT_IN_RESEARCH}"],
        id="a slug in backticks",
    ),
    pytest.param(
        {"body": "The Basics module derives it."},
        [f"{ADVANCED_LESSON}:5: module 'advanced' refers to module 'basics', {NOT_IN_RESEARCH}"],
        id="the module named by its title",
    ),
    pytest.param(
        {"body": "As the module on basics showed, it is easy."},
        [f"{ADVANCED_LESSON}:5: module 'advanced' refers to module 'basics', {NOT_IN_RESEARCH}"],
        id="a module on its slug",
    ),
    pytest.param(
        {"body": "Recall [the sigmoid](../basics/01-first-steps/lesson.md)."},
        [f"{ADVANCED_LESSON}:5: module 'advanced' links to module 'basics', {NOT_IN_RESEARCH}"],
        id="a relative link to a lesson file",
    ),
    pytest.param(
        {"body": "Recall [the sigmoid](/modules/basics/first-steps/)."},
        [f"{ADVANCED_LESSON}:5: module 'advanced' links to module 'basics', {NOT_IN_RESEARCH}"],
        id="a link to a lesson's page",
    ),
    pytest.param(
        {"body": "Try [this one](/exercises/square-derivative/) first."},
        [f"{ADVANCED_LESSON}:5: module 'advanced' links to module 'basics', {NOT_IN_RESEARCH}"],
        id="a link to another module's exercise",
    ),
    pytest.param(
        {"body": "Try [the next one](/exercises/cube-derivative/) and (advanced) again."},
        [],
        id="references to its own module",
    ),
    pytest.param(
        {"body": "Mastering the basics of calculus, basics first, is the aim of (all) modules."},
        [],
        id="the word without naming a module",
    ),
    pytest.param(
        {"body": "```python\nprint('(basics)')  # see the basics module\n```"},
        [],
        id="inside a fenced code block",
    ),
    pytest.param(
        {"hint": "The power rule, as in (basics)."},
        [f"{ADVANCED_EXERCISE}:12: module 'advanced' refers to module 'basics', {NOT_IN_RESEARCH}"],
        id="an exercise's hint",
    ),
    pytest.param(
        {"basics_body": "The advanced module goes further."},
        [
            "basics/02-second-steps/lesson.md:6: module 'basics' refers to module 'advanced', "
            "which is not in track 'applied' with 'basics'"
        ],
        id="the applied track pointing at a research-only module",
    ),
    pytest.param(
        {"orphan": True, "prerequisites": "basics", "research": "basics, advanced"},
        [],
        id="a module no track lists is not checked",
    ),
]


@pytest.mark.parametrize(("change", "expected"), REFERENCES)
def test_every_reference_stays_in_the_track(
    course_dir: Path, change: dict[str, object], expected: list[str]
) -> None:
    build(course_dir, **change)  # type: ignore[arg-type]
    found = problems(course_dir)
    assert len(found) == len(expected), found
    for problem, start in zip(found, expected, strict=True):
        assert problem.startswith(start), (problem, start)


def test_the_shared_module_must_stand_in_both_tracks(course_dir: Path) -> None:
    build(course_dir, research="basics, advanced")
    module = course_dir / BASICS
    module.write_text(module.read_text().replace("prerequisites: []", "prerequisites: [advanced]"))
    assert problems(course_dir) == [
        f"{BASICS}:5: module 'basics' lists the prerequisite 'advanced', which is not in track "
        "'applied' with 'basics': replace the reference or add 'advanced' to the track",
        f"{BASICS}:5: module 'basics' lists the prerequisite 'advanced', which comes after it in "
        "track 'research': move 'advanced' earlier in tracks.yaml",
    ]


def test_the_real_course_stands_alone_in_each_track(settings) -> None:  # noqa: ANN001
    settings.COURSE_SPEC_VALIDATOR = ""
    course = load_course()
    assert track_problems(course) == []


def test_check_course_reports_a_reference_outside_the_track_at_its_line(course_dir: Path) -> None:
    build(course_dir, body="Intro.\n\nRevise the sigmoid (basics) first.")
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_course", str(course_dir / "advanced"), "--seeds", "1", stdout=out)
    assert (
        f"{course_dir / ADVANCED_LESSON}:7: module 'advanced' refers to module 'basics', "
        f"{NOT_IN_RESEARCH}"
    ) in out.getvalue()
