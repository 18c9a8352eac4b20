"""The spec compiler: an exercise's trusted sources and settings, compiled once and cached.

A code exercise names the function the student writes, its reference, the input generators, the
tests, the checks and the tolerances (exercises/README.md, "Code exercises"). compile_exercise()
runs the trusted sources (never the student's) and returns a CodeExercise, or raises SpecError
with the path of the field at fault. Compiled exercises are kept in a bounded LRU cache keyed by
a hash of the spec's content, so an edited exercise is compiled afresh and old ones age out.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.engine.types import SpecError, SpecPath

KNOWN_CHECKS = ("shape", "dtype", "no_mutation", "stability", "gradient", "speed", "caret_power")
DEFAULT_CHECKS: dict[str, Any] = {
    "shape": True,
    "dtype": True,
    "no_mutation": True,
    "caret_power": True,
}
SIGNATURE_PATTERN = re.compile(
    r"^\s*(?P<name>[A-Za-z_]\w*)\s*\((?P<params>[^)]*)\)\s*(?:->\s*(?P<returns>.+?))?\s*$"
)
# How many compiled exercises a process keeps: a course has a few dozen code exercises.
COMPILED_CACHE_SIZE = 128


@dataclass
class TestCase:
    """One authored test: the input case it draws, whether it is hidden, and its weight."""

    name: str
    case: str
    hidden: bool
    weight: float


@dataclass
class KnownMistake:
    """An authored wrong submission: matched by its behaviour, or by the diagnosis it earns."""

    function: Callable[..., Any] | None
    feedback: str
    diagnosis: str | None = None
    index: int = 0  # its place in the exercise's mistakes list


@dataclass
class CodeExercise:
    """An exercise's trusted parts, compiled once per spec and reused across submissions."""

    function: str
    params: list[str]
    output_names: list[str] | None
    reference: Callable[..., Any]
    make_inputs: Callable[[np.random.Generator, str], dict[str, Any]]
    tests: list[TestCase]
    checks: dict[str, Any]
    rtol: float
    atol: float
    timeout_s: float | None
    forward: Callable[..., Any] | None = None
    mistakes: list[KnownMistake] = field(default_factory=list)
    # Where the function has a kink (ReLU at 0), the trusted rule for the other one-sided
    # derivative: any value between the reference's and this one's is a valid subgradient.
    subgradient: Callable[..., Any] | None = None
    subgradient_note: str = ""


class CompiledExercises:
    """Compiled exercises by content hash, the least recently used dropped beyond `size`."""

    def __init__(self, size: int = COMPILED_CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[str, CodeExercise] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> CodeExercise | None:
        """Return the exercise compiled under key, marking it recently used, or None."""
        with self._lock:
            exercise = self._items.get(key)
            if exercise is not None:
                self._items.move_to_end(key)
            return exercise

    def put(self, key: str, exercise: CodeExercise) -> None:
        """Keep exercise under key, dropping the least recently used beyond the size."""
        with self._lock:
            self._items[key] = exercise
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


compiled_exercises = CompiledExercises()


def spec_key(spec: dict[str, Any]) -> str:
    """Return a hash of the spec's content: equal specs share it, any edit changes it."""
    return hashlib.sha256(
        repr(sorted((str(k), repr(v)) for k, v in spec.items())).encode()
    ).hexdigest()


def compile_exercise(spec: dict[str, Any]) -> CodeExercise:
    """Compile a code spec's trusted sources, cached by content; raise SpecError when unusable."""
    key = spec_key(spec)
    cached = compiled_exercises.get(key)
    if cached is not None:
        return cached
    exercise = _compile(spec)
    compiled_exercises.put(key, exercise)
    return exercise


def parse_signature(signature: str) -> tuple[str, list[str], list[str] | None]:
    """Return the function name, parameter names and, for tuple returns, the names of the parts."""
    match = SIGNATURE_PATTERN.match(signature or "")
    if not match:
        raise SpecError(
            f"signature {signature!r} does not read as name(arg, ...) -> result", ("signature",)
        )
    params = [
        part.strip().split("=")[0].split(":")[0].strip() for part in match["params"].split(",")
    ]
    params = [param for param in params if param]
    returns = (match["returns"] or "").strip()
    output_names = None
    if returns.startswith("(") and returns.endswith(")"):
        output_names = [part.strip() for part in returns[1:-1].split(",") if part.strip()]
    return match["name"], params, output_names


def check_cases(settings: dict[str, Any]) -> list[str]:
    """Return the input cases a check (stability, speed) runs on: `cases`, or its one `case`."""
    cases = settings.get("cases") or ([settings["case"]] if settings.get("case") else [])
    return [str(case) for case in cases]


def _compile(spec: dict[str, Any]) -> CodeExercise:
    function, params, output_names = _read_function(spec)
    tolerance = spec.get("tolerance") or {}
    exercise = CodeExercise(
        function=function,
        params=params,
        output_names=output_names,
        reference=_defined(_exec_trusted(spec, "reference"), function, "reference"),
        make_inputs=_defined(_exec_trusted(spec, "inputs"), "make_inputs", "inputs"),
        checks=_read_checks(spec),
        tests=_read_tests(spec),
        rtol=float(tolerance.get("rtol", 1e-7)),
        atol=float(tolerance.get("atol", 1e-9)),
        timeout_s=float(spec["timeout"]) if spec.get("timeout") else None,
    )
    exercise.forward = _read_gradient(exercise)
    for check_name in ("stability", "speed"):
        settings = exercise.checks.get(check_name)
        if settings and (not isinstance(settings, dict) or not check_cases(settings)):
            raise SpecError(f"checks.{check_name} needs a case", ("checks", check_name))
    exercise.mistakes = _read_mistakes(spec, function)
    kinks = spec.get("subgradient")
    if kinks:
        source = str(kinks.get("reference", ""))
        namespace = _run_trusted(source, "subgradient.reference", ("subgradient", "reference"))
        exercise.subgradient = _defined(
            namespace, function, "subgradient.reference", ("subgradient", "reference")
        )
        exercise.subgradient_note = str(kinks.get("note", "")).strip()
    return exercise


def _read_function(spec: dict[str, Any]) -> tuple[str, list[str], list[str] | None]:
    function = spec.get("function")
    if not isinstance(function, str) or not function.isidentifier():
        raise SpecError("function must name the function the student writes", ("function",))
    name, params, output_names = parse_signature(str(spec.get("signature", "")))
    if name != function:
        raise SpecError(f"signature names {name}() but function is {function}", ("signature",))
    if isinstance(spec.get("outputs"), list):
        output_names = [str(part) for part in spec["outputs"]]
    return function, params, output_names


def _read_checks(spec: dict[str, Any]) -> dict[str, Any]:
    checks = dict(DEFAULT_CHECKS)
    given = spec.get("checks") or {}
    if not isinstance(given, dict):
        raise SpecError("checks must be a mapping of check name to settings", ("checks",))
    unknown = sorted(set(given) - set(KNOWN_CHECKS))
    if unknown:
        raise SpecError(
            f"unknown check(s) {', '.join(unknown)}; known: {', '.join(KNOWN_CHECKS)}",
            ("checks", unknown[0]),
        )
    checks.update(given)
    return checks


def _read_tests(spec: dict[str, Any]) -> list[TestCase]:
    tests = []
    for index, test in enumerate(spec.get("tests") or []):
        if not isinstance(test, dict) or "case" not in test:
            raise SpecError(f"test {index + 1} needs a case", ("tests", index))
        tests.append(
            TestCase(
                name=str(test.get("name") or f"test {index + 1}"),
                case=str(test["case"]),
                hidden=bool(test.get("hidden", False)),
                weight=float(test.get("weight", 1.0)),
            )
        )
    if not tests:
        raise SpecError("tests must list at least one test", ("tests",))
    return tests


def _read_gradient(exercise: CodeExercise) -> Callable[..., Any] | None:
    """Return the gradient check's trusted forward pass, or None without a gradient check."""
    gradient = exercise.checks.get("gradient")
    if not gradient:
        return None
    if not isinstance(gradient, dict) or "forward" not in gradient:
        raise SpecError(
            "checks.gradient needs forward: source defining forward(...)", ("checks", "gradient")
        )
    path: SpecPath = ("checks", "gradient", "forward")
    namespace = _run_trusted(str(gradient["forward"]), "gradient.forward", path)
    forward = _defined(namespace, "forward", "gradient.forward", path)
    wrt = gradient.get("wrt") or []
    if not wrt or any(param not in exercise.params for param in wrt):
        raise SpecError(
            f"checks.gradient.wrt must name parameters among {exercise.params}",
            ("checks", "gradient", "wrt"),
        )
    return forward


def _read_mistakes(spec: dict[str, Any], function: str) -> list[KnownMistake]:
    mistakes = []
    for index, mistake in enumerate(spec.get("mistakes") or []):
        if not isinstance(mistake, dict):
            raise SpecError(
                f"mistake {index + 1} must be a mapping with code and feedback", ("mistakes", index)
            )
        diagnosis = mistake.get("diagnosis")
        try:
            namespace = _run_trusted(
                str(mistake.get("code", "")), f"mistake {index + 1}", ("mistakes", index, "code")
            )
        except SpecError:
            if not diagnosis:
                raise
            namespace = {}
        found = namespace.get(function)
        mistakes.append(
            KnownMistake(
                found if callable(found) else None,
                str(mistake.get("feedback", "")),
                diagnosis,
                index,
            )
        )
    return mistakes


def _exec_trusted(spec: dict[str, Any], key: str) -> dict[str, Any]:
    """Run the authored source in the spec's field key and return its namespace."""
    return _run_trusted(str(spec.get(key, "")), key, (key,))


def _run_trusted(source: str, what: str, path: SpecPath) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": f"exercise_{what}"}
    try:
        exec(compile(source, f"<{what}>", "exec"), namespace)  # noqa: S102 - authored exercise content
    except Exception as error:  # noqa: BLE001
        raise SpecError(f"{what} does not run: {type(error).__name__}: {error}", path) from None
    return namespace


def _defined(
    namespace: dict[str, Any], name: str, what: str, path: SpecPath | None = None
) -> Callable[..., Any]:
    function: object = namespace.get(name)
    if not callable(function):
        raise SpecError(f"{what} does not define {name}()", path or (what,))
    return function
