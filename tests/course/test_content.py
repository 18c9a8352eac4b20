"""The course loader: a valid course loads; every invalid file is named with its line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from course.content import ContentError, exercise_spec_by_slug, load_course, load_exercise_path
from tests.conftest import FIXTURE_COURSE


def problems_of(root: Path) -> list[str]:
    with pytest.raises(ContentError) as caught:
        load_course(root)
    return [str(p) for p in caught.value.problems]


def test_it_loads_the_fixture_course(course_dir: Path) -> None:
    course = load_course(course_dir)
    assert [t.slug for t in course.tracks] == ["applied"]
    assert [m.slug for m in course.modules] == ["basics"]
    assert [(lesson.slug, lesson.order) for lesson in course.lessons] == [
        ("first-steps", 1),
        ("second-steps", 2),
    ]
    assert [e.slug for e in course.exercises] == ["square-derivative"]
    assert course.exercises[0].spec["answer"] == "2*x"


def test_it_reports_bad_yaml_with_its_line(course_dir: Path) -> None:
    path = course_dir / "basics" / "01-first-steps" / "square-derivative.yaml"
    path.write_text(path.read_text().replace("kind: expression", "kind: [expression"))
    (problem,) = problems_of(course_dir)
    assert problem.startswith(f"{path}:")
    assert "not valid YAML" in problem


def test_it_reports_unknown_fields_and_bad_values_at_their_line(course_dir: Path) -> None:
    module = course_dir / "basics" / "module.yaml"
    module.write_text(module.read_text() + "skil: typo\n")
    exercise = course_dir / "basics" / "01-first-steps" / "square-derivative.yaml"
    exercise.write_text(exercise.read_text() + "hint_after: -1\n")
    problems = problems_of(course_dir)
    assert (
        f"{module}:6: unknown field 'skil' (allowed: id, prerequisites, skill, summary, title)"
        in problems
    )
    line = exercise.read_text().splitlines().index("hint_after: -1") + 1
    assert f"{exercise}:{line}: 'hint_after' cannot be negative" in problems


def test_it_requires_a_uuid_id(course_dir: Path) -> None:
    path = course_dir / "basics" / "module.yaml"
    path.write_text(path.read_text().replace("22222222-2222-4222-8222-222222222222", "basics-1"))
    (problem,) = problems_of(course_dir)
    assert problem.startswith(f"{path}:1:") and "must be a UUID" in problem


def test_it_refuses_a_reused_id(course_dir: Path) -> None:
    path = course_dir / "basics" / "02-second-steps" / "lesson.md"
    path.write_text(
        path.read_text().replace(
            "55555555-5555-4555-8555-555555555555", "33333333-3333-4333-8333-333333333333"
        )
    )
    problems = problems_of(course_dir)
    assert any("is already used by" in p for p in problems)


def test_it_refuses_a_track_naming_a_missing_module(course_dir: Path) -> None:
    path = course_dir / "tracks.yaml"
    path.write_text(path.read_text().replace("modules: [basics]", "modules: [basics, nowhere]"))
    (problem,) = problems_of(course_dir)
    assert "lists module 'nowhere', which has no folder" in problem


def test_it_requires_lesson_text_and_front_matter(course_dir: Path) -> None:
    (course_dir / "basics" / "02-second-steps" / "lesson.md").write_text("No front matter here.\n")
    (problem,) = problems_of(course_dir)
    assert "front matter" in problem


def test_it_reports_a_missing_required_field(course_dir: Path) -> None:
    path = course_dir / "basics" / "01-first-steps" / "square-derivative.yaml"
    path.write_text(path.read_text().replace("title: Derivative of a square\n", ""))
    (problem,) = problems_of(course_dir)
    assert "missing required field 'title'" in problem


def test_it_finds_an_exercise_by_slug_or_path(course_dir: Path) -> None:
    spec = exercise_spec_by_slug("square-derivative", course_dir)
    assert spec["kind"] == "expression"
    assert (
        load_exercise_path(course_dir / "basics" / "01-first-steps" / "square-derivative.yaml")
        == spec
    )
    with pytest.raises(ContentError, match="no exercise with slug 'nope'"):
        exercise_spec_by_slug("nope", course_dir)


def test_every_file_of_the_real_course_is_well_formed() -> None:
    course = load_course(check_specs=False)
    assert len(course.tracks) == 2
    assert {t.slug for t in course.tracks} == {"applied", "research"}
    assert len(course.lessons) >= 28


def test_it_explains_a_hint_that_yaml_read_as_a_mapping(course_dir: Path) -> None:
    path = course_dir / "basics" / "01-first-steps" / "square-derivative.yaml"
    path.write_text(
        path.read_text().replace("  - Bring the 2 down.", "  - Shapes first, like x: n by 1.")
    )
    line = path.read_text().splitlines().index("  - Shapes first, like x: n by 1.") + 1
    (problem,) = problems_of(course_dir)
    assert problem == (
        f"{path}:{line}: hints item 2 is not text: YAML read it as a mapping because it contains ': ' "
        "— put the text in quotes"
    )


def test_it_refuses_two_lessons_with_one_slug_in_a_module(course_dir: Path) -> None:
    basics = course_dir / "basics"
    (basics / "02-second-steps").rename(basics / "02-first-steps")
    (problem,) = problems_of(course_dir)
    assert problem == (
        f"{basics / '02-first-steps' / 'lesson.md'}:1: lesson slug 'first-steps' is also used by "
        f"{basics / '01-first-steps' / 'lesson.md'} in module 'basics'"
    )


SECOND_TRACK = """  - id: {id}
    slug: {slug}
    title: Another
    summary: A second track.
    modules: [basics]
"""


def add_track(course_dir: Path, *, id: str, slug: str) -> tuple[Path, int]:
    """Append a second track to tracks.yaml; return the file and the line of the new entry."""
    path = course_dir / "tracks.yaml"
    text = path.read_text()
    path.write_text(text + SECOND_TRACK.format(id=id, slug=slug))
    return path, text.count("\n") + 1


def test_it_refuses_two_tracks_with_one_slug(course_dir: Path) -> None:
    path, line = add_track(course_dir, id="66666666-6666-4666-8666-666666666666", slug="applied")
    (problem,) = problems_of(course_dir)
    assert problem == f"{path}:{line + 1}: track slug 'applied' is also used by the track at line 2"


def test_it_refuses_a_track_id_used_twice_in_tracks_yaml(course_dir: Path) -> None:
    path, line = add_track(course_dir, id="11111111-1111-4111-8111-111111111111", slug="other")
    (problem,) = problems_of(course_dir)
    assert problem == (
        f"{path}:{line}: id 11111111-1111-4111-8111-111111111111 is already used by {path}:2"
    )


def test_it_reports_a_lesson_that_is_not_utf8(course_dir: Path) -> None:
    path = course_dir / "basics" / "02-second-steps" / "lesson.md"
    lines = path.read_bytes().split(b"\n")
    lines[4] = "Caf\u00e9 au lait".encode("latin-1")
    path.write_bytes(b"\n".join(lines))
    (problem,) = problems_of(course_dir)
    assert problem == (
        f"{path}:5: the file is not UTF-8 text (byte 0xe9 cannot be read); save it as UTF-8"
    )


def test_it_reports_an_exercise_file_that_is_not_utf8(course_dir: Path) -> None:
    path = course_dir / "basics" / "01-first-steps" / "square-derivative.yaml"
    path.write_bytes(path.read_bytes().replace(b"a square", "a carr\u00e9".encode("cp1252")))
    (problem,) = problems_of(course_dir)
    assert problem == (
        f"{path}:2: the file is not UTF-8 text (byte 0xe9 cannot be read); save it as UTF-8"
    )


def test_it_refuses_a_title_longer_than_the_database_keeps(course_dir: Path) -> None:
    path = course_dir / "basics" / "01-first-steps" / "square-derivative.yaml"
    path.write_text(path.read_text().replace("Derivative of a square", "x" * 201))
    (problem,) = problems_of(course_dir)
    assert problem == f"{path}:2: 'title' is 201 characters long; at most 200 fit"


def test_it_refuses_slugs_longer_than_the_database_keeps(course_dir: Path) -> None:
    long = "a" * 101
    lesson = course_dir / "basics" / "01-first-steps"
    exercise = lesson / f"{long}.yaml"
    (lesson / "square-derivative.yaml").rename(exercise)
    tracks = course_dir / "tracks.yaml"
    tracks.write_text(tracks.read_text().replace("slug: applied", f"slug: {long}"))
    assert problems_of(course_dir) == [
        f"{tracks}:3: 'slug' is 101 characters long; at most 100 fit",
        f"{exercise}:1: the slug '{long}' (the file name) is 101 characters long; at most 100 fit",
    ]


def test_it_refuses_a_course_whose_paths_are_longer_than_the_database_keeps(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 240) / ("e" * 240) / "course"
    shutil.copytree(FIXTURE_COURSE, deep)
    problems = problems_of(deep)
    assert len(problems) == 5
    assert (
        f"{deep / 'tracks.yaml'}:1: the file's full path is longer than 500 characters" in problems
    )
