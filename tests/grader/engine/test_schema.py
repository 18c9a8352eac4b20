"""The exercise schema: every course file fits it, each mistake is named by its path, and the
published exercises/schema.json is the one the models generate."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from course.content import load_course
from grader.engine.code import CODE_KEYS, DEFAULT_CHECKS, KNOWN_CHECKS
from grader.engine.schema import schema_problems
from grader.engine.schema.models import KIND_MODELS, Checks, Limits
from grader.engine.schema.publish import SCHEMA_PATH, json_schema, json_schema_text
from grader.engine.symbolic.limits import Limits as ParserLimits
from grader.engine.symbolic.problem import KIND_KEYS, SYMBOLIC_KEYS
from grader.engine.types import COMMON_KEYS, SpecProblem

COURSE = Path(__file__).resolve().parents[3] / "exercises"
# A file per exercise; its translations beside it (name.zh-Hans.yaml) are not exercises.
EXERCISE_FILES = sorted(p for p in COURSE.glob("*/*/*.yaml") if "." not in p.stem)

SQUARE: dict[str, Any] = {
    "id": "44444444-4444-4444-8444-444444444444",
    "title": "Derivative of a square",
    "kind": "expression",
    "prompt": "Differentiate $x^2$.",
    "variables": {"x": {"domain": "real", "sample": [-3, 3]}},
    "answer": "2*x",
    "mistakes": [{"answer": "x", "feedback": "Bring the 2 down."}],
    "hints": ["Use the power rule."],
}
DOUBLE: dict[str, Any] = {
    "id": "55555555-5555-4555-8555-555555555555",
    "title": "Double",
    "kind": "code",
    "prompt": "Return twice the input.",
    "function": "double",
    "signature": "double(x) -> ndarray",
    "starter": "def double(x):\n    ...\n",
    "reference": "def double(x):\n    return 2 * x\n",
    "inputs": "def make_inputs(rng, case):\n    return {'x': rng.normal(size=5)}\n",
    "tests": [{"name": "five", "case": "basic"}],
    "mistakes": [{"code": "def double(x):\n    return x\n", "feedback": "Twice."}],
}


def test_the_published_schema_is_the_one_the_models_generate() -> None:
    published = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert published == json_schema(), "exercises/schema.json is stale: run `make schema`"
    assert SCHEMA_PATH.read_text(encoding="utf-8") == json_schema_text()


@pytest.mark.parametrize("path", EXERCISE_FILES, ids=[p.stem for p in EXERCISE_FILES])
def test_every_exercise_of_the_course_fits_the_schema(path: Path) -> None:
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert schema_problems(spec) == []
    assert list(jsonschema.Draft202012Validator(json_schema()).iter_errors(spec)) == []


def with_change(spec: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """Return a deep copy of spec with the value at path set (or removed when value is ...)."""
    changed = json.loads(json.dumps(spec))
    holder = changed
    for part in path[:-1]:
        holder = holder[part]
    if value is ...:
        del holder[path[-1]]
    else:
        holder[path[-1]] = value
    return changed


@pytest.mark.parametrize(
    ("spec", "path", "value", "problem"),
    [
        (SQUARE, ("answr",), "2*x", SpecProblem(("answr",), "unknown field 'answr' (allowed")),
        (SQUARE, ("answer",), ..., SpecProblem(("answer",), "missing required field 'answer'")),
        (SQUARE, ("samples",), "many", SpecProblem(("samples",), "samples: expected a number")),
        (SQUARE, ("hint_after",), True, SpecProblem(("hint_after",), "hint_after: expected a")),
        (SQUARE, ("published",), "yes", SpecProblem(("published",), "published: expected true")),
        (SQUARE, ("hints",), "Use it.", SpecProblem(("hints",), "hints: expected a list")),
        (SQUARE, ("kind",), "essay", SpecProblem(("kind",), "kind must be one of expression,")),
        (SQUARE, ("kind",), ..., SpecProblem(("kind",), "missing required field 'kind'")),
        (
            SQUARE,
            ("mistakes", 0, "feedback"),
            ...,
            SpecProblem(("mistakes", 0, "feedback"), "mistakes[0]: missing required field"),
        ),
        (
            SQUARE,
            ("mistakes", 0, "feedbak"),
            "No.",
            SpecProblem(
                ("mistakes", 0, "feedbak"), "mistakes[0]: unknown field 'feedbak' (allowed"
            ),
        ),
        (
            SQUARE,
            ("variables", "x", "domain"),
            "complex",
            SpecProblem(("variables", "x", "domain"), "variables.x.domain: input should be 'real'"),
        ),
        (
            SQUARE,
            ("variables", "A"),
            {"shape": [9, "n"]},
            SpecProblem(("variables", "A", "shape", 0), "variables.A.shape[0]: a size is a name"),
        ),
        (
            SQUARE,
            ("variables", "A"),
            {"shape": ["n", "12"]},
            SpecProblem(("variables", "A", "shape", 1), "variables.A.shape[1]: a size is a name"),
        ),
        (
            SQUARE,
            ("parameters",),
            {"a": {"integer": [1, 5], "choice": [2]}},
            SpecProblem(("parameters", "a"), "parameters.a: give exactly one of integer, choice"),
        ),
        (
            SQUARE,
            ("helpers",),
            3,
            SpecProblem(("helpers",), "helpers: expected a mapping such as {sigma(x): "),
        ),
        (SQUARE, ("answer",), ["2*x"], SpecProblem(("answer",), "answer: expected an expression")),
        (
            DOUBLE,
            ("tests", 0, "hiden"),
            True,
            SpecProblem(("tests", 0, "hiden"), "tests[0]: unknown field 'hiden' (allowed here: "),
        ),
        (DOUBLE, ("tests",), [], SpecProblem(("tests",), "tests: give at least 1")),
        (
            DOUBLE,
            ("checks",),
            {"gradient": True},
            SpecProblem(("checks", "gradient"), "checks.gradient: give the check's settings, or"),
        ),
        (
            DOUBLE,
            ("checks",),
            {"speed": {"name": "fast"}},
            SpecProblem(("checks", "speed"), "checks.speed: give case or cases"),
        ),
        (
            DOUBLE,
            ("also_correct",),
            [{"cod": "x"}],
            SpecProblem(("also_correct", 0, "cod"), "also_correct[0]: unknown field 'cod'"),
        ),
        (DOUBLE, ("function",), "2x", SpecProblem(("function",), "function: string should")),
    ],
)
def test_it_names_an_authors_mistake_by_its_path(
    spec: dict[str, Any], path: tuple[str | int, ...], value: Any, problem: SpecProblem
) -> None:
    found = schema_problems(with_change(spec, path, value))
    assert any(p.path == problem.path and p.message.startswith(problem.message) for p in found), (
        found
    )


@pytest.mark.parametrize(
    ("spec", "path", "value", "where", "fragment"),
    [
        (SQUARE, ("titel",), "x", [], "'titel' was unexpected"),
        (SQUARE, ("kind",), "essay", ["kind"], "is not one of"),
        (SQUARE, ("mistakes", 0, "feedback"), ..., ["mistakes", 0], "'feedback' is a required"),
        (DOUBLE, ("tests", 0, "hiden"), True, ["tests", 0], "'hiden' was unexpected"),
        (DOUBLE, ("checks",), {"shape": "no"}, ["checks", "shape"], "is not of type 'boolean'"),
    ],
)
def test_the_published_schema_names_the_place_of_a_mistake(
    spec: dict[str, Any], path: tuple[str | int, ...], value: Any, where: list[Any], fragment: str
) -> None:
    """What an editor reports: inside the kind's fields, not "matches none of four schemas"."""
    validator = jsonschema.Draft202012Validator(json_schema())
    assert list(validator.iter_errors(spec)) == []
    # An editor shows the most specific error, as best_match picks it (a field that may also
    # be null fails as "none of" its two forms, with the real error inside).
    error = jsonschema.exceptions.best_match(validator.iter_errors(with_change(spec, path, value)))
    assert error is not None
    assert list(error.absolute_path) == where
    assert fragment in error.message


def test_the_schema_knows_every_field_the_grader_reads() -> None:
    symbolic = COMMON_KEYS | SYMBOLIC_KEYS
    expected = {kind: symbolic | keys for kind, keys in KIND_KEYS.items()}
    # A derivation's reference is its start and target: the grader ignores an `answer`, which
    # the schema refuses rather than let an author believe it is checked.
    expected["derivation"] -= {"answer"}
    expected["code"] = COMMON_KEYS | CODE_KEYS
    assert {kind: set(model.model_fields) for kind, model in KIND_MODELS.items()} == expected
    assert set(Checks.model_fields) == set(KNOWN_CHECKS)
    assert {name for name, field in Checks.model_fields.items() if field.default is True} == set(
        DEFAULT_CHECKS
    )
    assert set(Limits.model_fields) == set(ParserLimits.__dataclass_fields__)


def test_a_spec_that_is_not_a_mapping_is_one_problem() -> None:
    assert schema_problems(["kind", "code"]) == [SpecProblem((), "expected a mapping of fields")]


def test_the_editor_settings_the_readme_gives_find_the_schema_from_an_exercise_file() -> None:
    readme = (COURSE / "README.md").read_text(encoding="utf-8")
    modeline = re.search(r"# yaml-language-server: \$schema=(\S+)", readme)
    assert modeline is not None
    exercise = EXERCISE_FILES[0]
    assert (exercise.parent / modeline[1]).resolve() == SCHEMA_PATH
    setting = re.search(r'"\./(exercises/schema\.json)": \[([^\]]+)\]', readme)
    assert setting is not None
    checkout = COURSE.parent
    assert (checkout / setting[1]).resolve() == SCHEMA_PATH
    patterns = re.findall(r'"([^"]+)"', setting[2])
    matched: set[Path] = set()
    for pattern in patterns:  # in order; a leading ! takes matches out again
        if pattern.startswith("!"):
            matched -= set(checkout.glob(pattern[1:]))
        else:
            matched |= set(checkout.glob(pattern))
    exercises = load_course(COURSE, check_specs=False).exercises
    assert matched == {exercise.path for exercise in exercises}
