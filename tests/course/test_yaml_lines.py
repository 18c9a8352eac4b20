"""The YAML line mapper: one parse gives the data and the line of every field and list item."""

from __future__ import annotations

import pytest

from course.yaml_lines import YamlSyntaxError, parse_yaml

TEXT = """\
# a comment first
id: 7d4b2f8e-3c1a-4e5f-8b9d-0a1c2e3f4a5b
kind: code
tests:
  - {name: small, case: small}
  - name: large
    case: large
    hidden: true
checks:
  speed:
    case: large
    max_slowdown: 10
mistakes:
  - code: |
      def f(x):
          return x
    feedback: Not this.
  -
    code: pass
    feedback: Nor this.
matrix: [[1, 2],
         [3, 4]]
"""


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ((), 1),
        (("id",), 2),
        (("tests",), 4),
        (("tests", 0), 5),
        (("tests", 0, "case"), 5),  # a flow mapping's keys are on the item's line
        (("tests", 1), 6),
        (("tests", 1, "hidden"), 8),
        (("checks", "speed", "max_slowdown"), 12),
        (("mistakes", 0, "feedback"), 17),
        (("mistakes", 1), 19),  # an item starts where its content does, below a bare '-'
        (("mistakes", 1, "feedback"), 20),
        (("matrix", 1, 0), 22),
    ],
)
def test_it_finds_the_line_of_a_field_or_item(path: tuple[str | int, ...], line: int) -> None:
    assert parse_yaml(TEXT).line(path) == line


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("tests", 0, "weight"), 5),  # a missing key: the mapping that lacks it
        (("tests", 7), 4),  # past the end of a list: the list
        (("checks", "gradient", "wrt"), 9),
        (("nowhere",), 1),
        (("id", "deeper"), 2),  # a path through a scalar stops at it
    ],
)
def test_a_path_that_leaves_the_file_names_the_last_place_that_exists(
    path: tuple[str | int, ...], line: int
) -> None:
    assert parse_yaml(TEXT).line(path) == line


def test_it_builds_the_data_from_the_same_parse() -> None:
    source = parse_yaml(TEXT)
    assert source.data["tests"][1] == {"name": "large", "case": "large", "hidden": True}
    assert source.data["mistakes"][0]["code"] == "def f(x):\n    return x\n"


def test_a_repeated_key_points_at_the_value_yaml_keeps() -> None:
    source = parse_yaml("a: 1\nb: 2\na: 3\n")
    assert source.data["a"] == 3
    assert source.line(("a",)) == 3


def test_lines_count_from_the_start_of_the_file_when_the_text_is_part_of_it() -> None:
    source = parse_yaml("id: x\ntitle: A lesson\n", line_offset=1)  # after a '---' line
    assert source.line() == 2
    assert source.line(("title",)) == 3


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: [1, 2\nb: 3\n", 2),  # noticed where the next key starts
        ("a: 1\n b: 2\n", 2),
        ("a: !!python/object:os.system x\n", 1),  # only safe tags
    ],
)
def test_invalid_yaml_names_its_line(text: str, line: int) -> None:
    with pytest.raises(YamlSyntaxError) as caught:
        parse_yaml(text)
    assert caught.value.line == line


def test_an_empty_document_holds_nothing() -> None:
    source = parse_yaml("# only a comment\n")
    assert source.data is None
    assert source.line(("anything",)) == 1
