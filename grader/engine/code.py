"""Grade submitted Python/NumPy functions against trusted references.

The worker generates every input and computes every expected value itself; the submission runs
only in the sandbox (grader.engine.sandbox), which sends back raw outputs. All comparisons happen
here. The exercise file (see exercises/README.md, "Code exercises") names the function, its
reference, the input generators, the tests, the checks and the tolerances.
"""

from __future__ import annotations

import ast
import builtins
import copy
import errno
import hashlib
import inspect
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.engine.problem import COMMON_KEYS
from grader.engine.sandbox import (
    CallAnswer,
    ChildReport,
    RaisedError,
    SandboxRun,
    SandboxUnavailable,
    get_sandbox,
    read_report,
)
from grader.engine.sandbox import settings as sandbox_settings
from grader.engine.sandbox_wire import Unsupported
from grader.engine.sandbox_zygote import digest_arguments
from grader.engine.verdict import Message, Status, TestResult, Verdict

KNOWN_CHECKS = ("shape", "dtype", "no_mutation", "stability", "gradient", "speed", "caret_power")
DEFAULT_CHECKS: dict[str, Any] = {
    "shape": True,
    "dtype": True,
    "no_mutation": True,
    "caret_power": True,
}
MAX_ANSWER_BYTES = 20_000
SIGNATURE_PATTERN = re.compile(
    r"^\s*(?P<name>[A-Za-z_]\w*)\s*\((?P<params>[^)]*)\)\s*(?:->\s*(?P<returns>.+?))?\s*$"
)
PRIORITY = (
    "timeout",
    "exception",
    "memory_limit",
    "output_too_large",
    "forbidden_operation",
    "exited",
    "crashed",
    "wrong_type",
    "wrong_shape",
    "wrong_dtype",
    "wrong_values",
    "mutated_input",
    "unstable",
    "gradient_check",
    "too_slow",
    "caret_power",
)


INTERFERED = (
    "Your code interfered with the way the grader collects results, so it could not be checked."
)


class SpecError(ValueError):
    """The exercise's grading fields are unusable; the author must fix the file."""


class SandboxFailed(RuntimeError):
    """The sandbox could not run a child (the zygote said so): not the student's fault."""


# What the speed check subtracts: a child's fixed cost, measured with a function that does nothing.
SPEED_BASELINE_SOURCE = "def speed_baseline(*args):\n    return None\n"


# --- the compiled exercise -------------------------------------------------------------------------


@dataclass
class TestCase:
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


_compiled: dict[str, CodeExercise] = {}


def parse_signature(signature: str) -> tuple[str, list[str], list[str] | None]:
    """Return the function name, parameter names and, for tuple returns, the names of the parts."""
    match = SIGNATURE_PATTERN.match(signature or "")
    if not match:
        raise SpecError(f"signature {signature!r} does not read as name(arg, ...) -> result")
    params = [
        part.strip().split("=")[0].split(":")[0].strip() for part in match["params"].split(",")
    ]
    params = [param for param in params if param]
    returns = (match["returns"] or "").strip()
    output_names = None
    if returns.startswith("(") and returns.endswith(")"):
        output_names = [part.strip() for part in returns[1:-1].split(",") if part.strip()]
    return match["name"], params, output_names


def _exec_trusted(source: str, what: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": f"exercise_{what}"}
    try:
        exec(compile(source, f"<{what}>", "exec"), namespace)  # noqa: S102 - authored exercise content
    except Exception as error:  # noqa: BLE001
        raise SpecError(f"{what} does not run: {type(error).__name__}: {error}") from None
    return namespace


def _defined(namespace: dict[str, Any], name: str, what: str) -> Callable[..., Any]:
    function = namespace.get(name)
    if not callable(function):
        raise SpecError(f"{what} does not define {name}()")
    return function


def compile_exercise(spec: dict[str, Any]) -> CodeExercise:
    """Compile a code spec's trusted sources, caching by content; raise SpecError when unusable."""
    key = hashlib.sha256(
        repr(sorted((str(k), repr(v)) for k, v in spec.items())).encode()
    ).hexdigest()
    if key in _compiled:
        return _compiled[key]
    function = spec.get("function")
    if not isinstance(function, str) or not function.isidentifier():
        raise SpecError("function must name the function the student writes")
    name, params, output_names = parse_signature(str(spec.get("signature", "")))
    if name != function:
        raise SpecError(f"signature names {name}() but function is {function}")
    if isinstance(spec.get("outputs"), list):
        output_names = [str(part) for part in spec["outputs"]]
    reference = _defined(
        _exec_trusted(str(spec.get("reference", "")), "reference"), function, "reference"
    )
    make_inputs = _defined(
        _exec_trusted(str(spec.get("inputs", "")), "inputs"), "make_inputs", "inputs"
    )
    checks = dict(DEFAULT_CHECKS)
    given_checks = spec.get("checks") or {}
    if not isinstance(given_checks, dict):
        raise SpecError("checks must be a mapping of check name to settings")
    unknown = sorted(set(given_checks) - set(KNOWN_CHECKS))
    if unknown:
        raise SpecError(f"unknown check(s) {', '.join(unknown)}; known: {', '.join(KNOWN_CHECKS)}")
    checks.update(given_checks)
    tests = []
    for index, test in enumerate(spec.get("tests") or []):
        if not isinstance(test, dict) or "case" not in test:
            raise SpecError(f"test {index + 1} needs a case")
        tests.append(
            TestCase(
                name=str(test.get("name") or f"test {index + 1}"),
                case=str(test["case"]),
                hidden=bool(test.get("hidden", False)),
                weight=float(test.get("weight", 1.0)),
            )
        )
    if not tests:
        raise SpecError("tests must list at least one test")
    tolerance = spec.get("tolerance") or {}
    exercise = CodeExercise(
        function=function,
        params=params,
        output_names=output_names,
        reference=reference,
        make_inputs=make_inputs,
        tests=tests,
        checks=checks,
        rtol=float(tolerance.get("rtol", 1e-7)),
        atol=float(tolerance.get("atol", 1e-9)),
        timeout_s=float(spec["timeout"]) if spec.get("timeout") else None,
    )
    gradient = checks.get("gradient")
    if gradient:
        if not isinstance(gradient, dict) or "forward" not in gradient:
            raise SpecError("checks.gradient needs forward: source defining forward(...)")
        exercise.forward = _defined(
            _exec_trusted(str(gradient["forward"]), "gradient.forward"),
            "forward",
            "gradient.forward",
        )
        wrt = gradient.get("wrt") or []
        if not wrt or any(param not in params for param in wrt):
            raise SpecError(f"checks.gradient.wrt must name parameters among {params}")
    for check_name in ("stability", "speed"):
        settings = checks.get(check_name)
        if settings and (not isinstance(settings, dict) or not _check_cases(settings)):
            raise SpecError(f"checks.{check_name} needs a case")
    for index, mistake in enumerate(spec.get("mistakes") or []):
        if not isinstance(mistake, dict):
            raise SpecError(f"mistake {index + 1} must be a mapping with code and feedback")
        diagnosis = mistake.get("diagnosis")
        try:
            namespace = _exec_trusted(str(mistake.get("code", "")), f"mistake {index + 1}")
        except SpecError:
            if not diagnosis:
                raise
            namespace = {}
        mistake_function = namespace.get(function) if callable(namespace.get(function)) else None
        exercise.mistakes.append(
            KnownMistake(mistake_function, str(mistake.get("feedback", "")), diagnosis)
        )
    _compiled[key] = exercise
    return exercise


def _check_cases(settings: dict[str, Any]) -> list[str]:
    cases = settings.get("cases") or ([settings["case"]] if settings.get("case") else [])
    return [str(case) for case in cases]


# --- inputs and expected values --------------------------------------------------------------------


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([abs(int(seed)) % (2**63), stream])


def _inputs(exercise: CodeExercise, seed: int, stream: int, case: str) -> list[Any]:
    generated = exercise.make_inputs(_rng(seed, stream), case)
    if not isinstance(generated, dict) or set(generated) != set(exercise.params):
        raise SpecError(
            f"make_inputs(rng, {case!r}) must return a dict with keys {exercise.params}, "
            f"not {sorted(generated) if isinstance(generated, dict) else type(generated).__name__}"
        )
    return [generated[param] for param in exercise.params]


def _call_trusted(function: Callable[..., Any], args: list[Any]) -> Any:
    with np.errstate(all="ignore"):
        return function(*copy.deepcopy(args))


@dataclass
class PlannedCall:
    """One call of the submission, with what the trusted side expects of it."""

    id: str
    kind: str  # test | stability | gradient
    args: list[Any]
    expected: Any
    test: TestCase | None = None
    case: str = ""


def _plan_calls(exercise: CodeExercise, seed: int) -> list[PlannedCall]:
    calls = []
    for index, test in enumerate(exercise.tests):
        args = _inputs(exercise, seed, index, test.case)
        calls.append(
            PlannedCall(
                f"t{index}", "test", args, _call_trusted(exercise.reference, args), test, test.case
            )
        )
    stability = exercise.checks.get("stability")
    if stability:
        for index, case in enumerate(_check_cases(stability)):
            args = _inputs(exercise, seed, 1000 + index, case)
            calls.append(
                PlannedCall(
                    f"s{index}",
                    "stability",
                    args,
                    _call_trusted(exercise.reference, args),
                    case=case,
                )
            )
    gradient = exercise.checks.get("gradient")
    if gradient:
        case = str(gradient.get("case", exercise.tests[0].case))
        args = _inputs(exercise, seed, 2000, case)
        calls.append(
            PlannedCall("g", "gradient", args, _numeric_gradient(exercise, args), case=case)
        )
    return calls


def _numeric_gradient(exercise: CodeExercise, args: list[Any]) -> list[np.ndarray]:
    """Return central finite differences of the forward pass for each parameter in wrt."""
    assert exercise.forward is not None
    gradient = exercise.checks["gradient"]
    eps = float(gradient.get("eps", 1e-6))
    named = dict(zip(exercise.params, args, strict=True))
    upstream_name = gradient.get("upstream")
    forward_params = list(inspect.signature(exercise.forward).parameters)
    upstream = np.asarray(named[upstream_name], dtype=float) if upstream_name else None

    def objective(values: dict[str, Any]) -> float:
        out = exercise.forward(**{param: values[param] for param in forward_params})
        return float(np.sum(np.asarray(out) * upstream)) if upstream is not None else float(out)

    results = []
    for param in gradient["wrt"]:
        point = {
            key: np.array(value, dtype=float) if key == param else value
            for key, value in named.items()
        }
        target = point[param]
        numeric = np.zeros_like(target)
        for index in np.ndindex(target.shape):
            original = target[index]
            target[index] = original + eps
            plus = objective(point)
            target[index] = original - eps
            minus = objective(point)
            target[index] = original
            numeric[index] = (plus - minus) / (2 * eps)
        results.append(numeric)
    return results


# --- comparing one value ---------------------------------------------------------------------------


# A hidden test's words for the problems whose builders give none: nothing in them comes from
# its inputs, its expected values or what the child sent. (The comparisons and exceptions build
# their own hidden wording from the exercise's names and Python's built-in exception names.)
HIDDEN_WORDS = {
    "mutated_input": "Your function changed one of its inputs in place.",
    "forbidden_operation": "Your code tried something the grader does not allow.",
    "crashed": "Your function did not return from this call.",
}


@dataclass
class Problem:
    """What is wrong with one call: all the details for a visible test, fixed words for a hidden one.

    Whatever a hidden test's message says about the answer can be made to say something about the
    inputs: the child chooses its line numbers, shapes, lengths, class names and where its values
    go wrong, and the size of an error spells out the reference output in a few attempts. So a
    hidden test shows hidden_text, built only from fixed words (HIDDEN_WORDS when empty); every
    builder fills text freely, and words() is the one place that chooses.
    """

    code: str
    text: str
    hidden_text: str = ""

    def words(self, *, hidden: bool) -> str:
        """Return the message for a visible test, or the fixed one for a hidden test."""
        if not hidden:
            return self.text
        return self.hidden_text or HIDDEN_WORDS.get(self.code, "Failed.")


def _describe_type(value: Any) -> str:
    """Name what the code returned, for visible tests only: the code chooses the names and shapes."""
    if isinstance(value, Unsupported):
        return f"a {value.type_name}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if value is None:
        return "None"
    return f"a {type(value).__name__}"


def _as_number_array(value: Any) -> np.ndarray | None:
    """Return value as a numeric array, or None when it is not numbers.

    Only numbers, numeric arrays and lists of them reach np.asarray: given a list holding one
    long string, NumPy pads every element to that length, and a small answer fills the worker.
    """
    if not _holds_only_numbers(value):
        return None
    try:
        array = np.asarray(value)
    except (ValueError, TypeError, OverflowError):
        return None
    # An integer beyond 64 bits becomes an array of Python objects, which NumPy cannot compare.
    return array if array.dtype.kind in "biufc" else None


def _holds_only_numbers(value: Any) -> bool:
    """Say whether value is a number, a numeric array, or a list whose leaves are only those."""
    if isinstance(value, bool | int | float):
        return True
    if isinstance(value, np.ndarray | np.generic):
        return value.dtype.kind in "biufc"
    return isinstance(value, list) and all(_holds_only_numbers(item) for item in value)


def _index_text(index: tuple[int, ...]) -> str:
    return "" if not index else f" at index {index if len(index) > 1 else index[0]}"


def compare_value(
    got: Any,
    expected: Any,
    *,
    label: str,
    exercise: CodeExercise,
    check_dtype: bool = True,
) -> Problem | None:
    """Return what is wrong with got compared with expected, or None when they agree.

    The hidden wording names only the label (the exercise's own name for the part) and the kind
    of problem: never a shape, an index, a count, an error or a value.
    """
    expected_array = np.asarray(expected)
    got_array = _as_number_array(got)
    scalar_expected = expected_array.ndim == 0
    if got_array is None:
        wanted = "a number" if scalar_expected else f"a NumPy array of shape {expected_array.shape}"
        return Problem(
            "wrong_type",
            f"{label} is {_describe_type(got)}; expected {wanted}.",
            f"{label} has the wrong type.",
        )
    if got_array.shape != expected_array.shape:
        if not exercise.checks.get("shape", True) and got_array.size == expected_array.size:
            got_array = got_array.reshape(expected_array.shape)
        else:
            wanted = "a single number" if scalar_expected else f"{expected_array.shape}"
            return Problem(
                "wrong_shape",
                f"{label} has shape {got_array.shape}; expected {wanted}.",
                f"{label} has the wrong shape.",
            )
    wrong_kind = f"{label} holds the wrong kind of numbers."
    if check_dtype and exercise.checks.get("dtype", True) and expected_array.dtype.kind == "f":
        if got_array.dtype.kind not in "f":
            return Problem(
                "wrong_dtype",
                f"{label} holds {got_array.dtype} values; expected floating-point numbers "
                f"({expected_array.dtype}). Integer or boolean results usually mean a missing float conversion.",
                wrong_kind,
            )
    if got_array.dtype.kind == "c" and expected_array.dtype.kind != "c":
        return Problem(
            "wrong_dtype", f"{label} holds complex numbers; expected real ones.", wrong_kind
        )
    got_values = got_array.astype(np.result_type(got_array.dtype, np.float64))
    expected_values = (
        expected_array.astype(np.float64) if expected_array.dtype.kind in "biuf" else expected_array
    )
    with np.errstate(all="ignore"):
        error = np.abs(got_values - expected_values)
        allowed = exercise.atol + exercise.rtol * np.abs(expected_values)
        same_special = (np.isnan(got_values) & np.isnan(expected_values)) | (
            np.isinf(got_values) & (got_values == expected_values)
        )
        bad = ~same_special & ~(error <= allowed)
    if not np.any(bad):
        return None
    error = np.where(bad, np.nan_to_num(error, nan=np.inf, posinf=np.inf), 0.0)
    index = np.unravel_index(int(np.argmax(error)), error.shape) if error.ndim else ()
    index = tuple(int(i) for i in index)
    got_at, expected_at = got_values[index], expected_values[index]
    wrong_values = f"{label} has wrong values."
    if not np.isfinite(got_at) and np.isfinite(expected_at):
        return Problem(
            "wrong_values",
            f"{label} contains {got_at}{_index_text(index)} where the answer is finite "
            f"({float(expected_at):.6g}).",
            wrong_values,
        )
    count = int(np.sum(bad))
    where = f"{count} of {bad.size} values are wrong; " if bad.size > 1 else ""
    largest = float(error[index])
    return Problem(
        "wrong_values",
        f"{label} is wrong: {where}largest error {largest:.3g}{_index_text(index)} "
        f"(got {_fmt(got_at)}, expected {_fmt(expected_at)}; tolerance rtol={exercise.rtol:g}, atol={exercise.atol:g}).",
        wrong_values,
    )


def _fmt(value: Any) -> str:
    return f"{complex(value):.6g}" if np.iscomplexobj(value) else f"{float(value):.6g}"


def compare_output(
    got: Any, expected: Any, *, exercise: CodeExercise, check_dtype: bool = True
) -> Problem | None:
    """Compare a whole return value, part by part for tuple outputs."""
    names = exercise.output_names
    if names:
        parts = ", ".join(names)
        if not isinstance(got, tuple | list):
            return Problem(
                "wrong_type",
                f"Your function returned {_describe_type(got)}; expected a tuple ({parts}).",
                f"Your function did not return a tuple ({parts}).",
            )
        if len(got) != len(names):
            return Problem(
                "wrong_type",
                f"Your function returned {len(got)} values; expected {len(names)} ({parts}).",
                f"Your function did not return one value for each of {parts}.",
            )
        for name, got_part, expected_part in zip(names, got, expected, strict=True):
            problem = compare_value(
                got_part, expected_part, label=name, exercise=exercise, check_dtype=check_dtype
            )
            if problem:
                return problem
        return None
    return compare_value(
        got, expected, label="Your result", exercise=exercise, check_dtype=check_dtype
    )


def _mutation(
    original: list[Any], digests: tuple[str | None, ...], exercise: CodeExercise
) -> Problem | None:
    """Return a problem when an array argument's digest after the call differs from the original's.

    The digests are taken in the child, where the submission runs: this catches an accidental
    in-place change, not a deliberate forger, who can report the digests of untouched arguments.
    That hides only its own mistake (the child changes its own copies, never the worker's), and
    read_report() has already refused digests of any other form as malformed output.
    """
    if len(digests) != len(original):
        return None
    for name, before, digest in zip(exercise.params, original, digests, strict=True):
        if (
            isinstance(before, np.ndarray)
            and before.dtype.kind in "biufc"
            and digest != digest_arguments([before])[0]
        ):
            return Problem(
                "mutated_input",
                f"Your function changed its input {name} in place. Work on a copy "
                f"({name} = {name}.copy()) or build a new array instead.",
            )
    return None


# --- static checks ---------------------------------------------------------------------------------


def caret_power_lines(tree: ast.AST) -> list[int]:
    """Return the lines where ^ is used with a number operand, as if it were a power."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitXor):
            operands = (node.left, node.right)
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.BitXor):
            operands = (node.value,)
        else:
            continue
        if any(isinstance(op, ast.Constant) and type(op.value) in (int, float) for op in operands):
            lines.append(node.lineno)
    return sorted(set(lines))


def _defines_function(tree: ast.Module, name: str) -> bool:
    """Say whether the code defines or assigns name anywhere; the sandbox has the final word."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return True
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store):
            return True
        if isinstance(node, ast.alias) and (node.asname or node.name) == name:
            return True
    return False


# --- the verdict ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One graded test with the code of its problem, if any."""

    result: TestResult
    code: str = ""
    weight: float = 1.0
    static: bool = False  # read from the source, not from running it


def _invalid(code: str, text: str, started: float) -> Verdict:
    return Verdict(
        status=Status.INVALID,
        messages=[Message(code, text)],
        diagnosis=code,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )


def grade_code(spec: dict[str, Any], answer: str, *, seed: int) -> Verdict:
    """Grade a submitted function against the exercise's reference, tests and checks."""
    started = time.perf_counter()
    if len(answer.encode("utf-8", "replace")) > int(spec.get("max_answer_bytes", MAX_ANSWER_BYTES)):
        return _invalid(
            "too_long", "Your code is too long to grade; keep it under 20 000 characters.", started
        )
    try:
        tree = ast.parse(answer, filename="submission.py")
        # Compiling (which runs nothing) also finds what the parser accepts, such as a return
        # outside a function: the child need never report a syntax error, so it is never trusted to.
        compile(tree, "submission.py", "exec", dont_inherit=True)
    except SyntaxError as error:
        line = error.lineno or 0
        lines = answer.splitlines()
        text = (error.text or (lines[line - 1] if 0 < line <= len(lines) else "")).rstrip()
        shown = f"\n    {text.strip()}" if text else ""
        return _invalid(
            "syntax_error", f"Syntax error on line {line}: {error.msg}.{shown}", started
        )
    except (RecursionError, MemoryError, ValueError):
        return _invalid(
            "syntax_error",
            "Your code could not be read: it is nested too deeply or contains a null character.",
            started,
        )
    try:
        exercise = compile_exercise(spec)
    except SpecError as error:
        return _grader_error(f"This exercise is misconfigured ({error}).", "spec_error", started)
    if not _defines_function(tree, exercise.function):
        signature = spec.get("signature") or exercise.function
        return _invalid(
            "missing_function",
            f"Your code does not define {signature}. Keep the function's name.",
            started,
        )
    try:
        calls = _plan_calls(exercise, seed)
    except SpecError as error:
        return _grader_error(f"This exercise is misconfigured ({error}).", "spec_error", started)
    except Exception as error:  # noqa: BLE001 - a failing generator is the author's bug
        return _grader_error(
            f"This exercise's generators failed ({type(error).__name__}).", "spec_error", started
        )

    order = _send_order(calls)
    try:
        sandbox = get_sandbox()
        run = sandbox.run(
            answer,
            exercise.function,
            [{"id": call.id, "args": call.args} for call in order],
            timeout_s=exercise.timeout_s,
        )
    except SandboxUnavailable as error:
        return _sandbox_unavailable(error, started)
    report = read_report(run.result)
    outcomes, fatal = _judge_run(
        run,
        report,
        calls,
        exercise,
        order=order,
        timeout_s=exercise.timeout_s or sandbox_settings.timeout_s,
    )
    if fatal is not None:
        fatal.elapsed_ms = (time.perf_counter() - started) * 1000
        return _with_sandbox_warning(fatal, sandbox.layers)
    if exercise.checks.get("speed"):
        if all(outcome.result.passed for outcome in outcomes):
            try:
                outcomes.append(_speed_outcome(exercise, answer, seed))
            except SandboxUnavailable as error:
                return _sandbox_unavailable(error, started)
            except SandboxFailed:
                verdict = _sandbox_failed(calls)
                verdict.elapsed_ms = (time.perf_counter() - started) * 1000
                return _with_sandbox_warning(verdict, sandbox.layers)
            except SpecError as error:
                return _grader_error(
                    f"This exercise's speed check failed ({error}).", "spec_error", started
                )
        else:
            name = str(exercise.checks["speed"].get("name", "fast enough on a large input"))
            message = "Not timed until the other tests pass."
            outcomes.append(
                Outcome(TestResult(name=name, passed=False, message=message), code="not_run")
            )
    if exercise.checks.get("caret_power"):
        outcomes.append(_caret_outcome(tree))
    verdict = _verdict(outcomes)
    _attach_mistake_feedback(verdict, exercise, report, calls)
    verdict.elapsed_ms = (time.perf_counter() - started) * 1000
    return _with_sandbox_warning(verdict, sandbox.layers)


def _sandbox_unavailable(error: Exception, started: float) -> Verdict:
    return _grader_error(
        "Code exercises cannot be graded on this server right now: the sandbox is incomplete "
        f"({error}). Your answer was not counted.",
        "sandbox_unavailable",
        started,
    )


def _grader_error(text: str, code: str, started: float) -> Verdict:
    return Verdict(
        status=Status.ERROR,
        messages=[Message(code, text)],
        diagnosis=code,
        flags=[code],
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )


def _with_sandbox_warning(verdict: Verdict, layers: dict[str, bool | str]) -> Verdict:
    if layers.get("full") is not True:
        verdict.messages.append(
            Message(
                "sandbox_reduced",
                f"Warning: graded in a reduced sandbox (development setting; {layers.get('full')}).",
            )
        )
        verdict.flags.append("sandbox_reduced")
    return verdict


def _verdict(outcomes: list[Outcome]) -> Verdict:
    """Score the outcomes and name the most basic failure.

    A static check earns its share only once some behavioural test passes: otherwise code that
    does nothing (the starter's `...`) would score for not using ^.
    """
    total = sum(outcome.weight for outcome in outcomes) or 1.0
    behaves = any(outcome.result.passed and not outcome.static for outcome in outcomes)
    for outcome in outcomes:
        earns = outcome.result.passed and (behaves or not outcome.static)
        outcome.result.score = outcome.weight / total if earns else 0.0
    failed = [outcome for outcome in outcomes if not outcome.result.passed]
    messages: list[Message] = []
    seen_codes: set[str] = set()
    for outcome in failed:
        if outcome.code not in seen_codes:
            seen_codes.add(outcome.code)
            prefix = "Hidden test" if outcome.result.hidden else "Test"
            messages.append(
                Message(outcome.code, f"{prefix} '{outcome.result.name}': {outcome.result.message}")
            )
    diagnosis = None
    if failed:
        codes = [outcome.code for outcome in failed]
        diagnosis = min(
            codes, key=lambda code: PRIORITY.index(code) if code in PRIORITY else len(PRIORITY)
        )
    status = Status.INCORRECT if failed else Status.CORRECT
    if diagnosis == "timeout":
        status = Status.TIMEOUT
    return Verdict(
        status=status,
        score=round(sum(outcome.result.score for outcome in outcomes), 6),
        messages=messages,
        diagnosis=diagnosis,
        tests=[outcome.result for outcome in outcomes],
    )


def _fatal(
    code: str, text: str, calls: list[PlannedCall], status: Status = Status.INCORRECT
) -> Verdict:
    tests = [
        TestResult(name=call.test.name, passed=False, message=text, hidden=call.test.hidden)
        for call in calls
        if call.test is not None
    ]
    return Verdict(status=status, messages=[Message(code, text)], diagnosis=code, tests=tests)


def _exception_problem(error: RaisedError, *, during: str) -> Problem:
    """Turn an exception raised by the submission into words a student can act on.

    The hidden wording drops the line number, the message and the traceback, and names the
    exception only when it is one of Python's built-in ones.
    """
    line = error.line
    at = f" on line {line}" if line is not None and 0 < line <= 100_000 else ""
    message, trace = error.message[:500], error.traceback
    detail = (f": {message}" if message else "") + (
        f"\nTraceback (your code only):\n{trace}" if trace else ""
    )
    visible = _exception_words(error, kind=error.type_name, at=at, during=during, detail=detail)
    hidden = _exception_words(
        error, kind=_builtin_exception_name(error.type_name), at="", during=during, detail="."
    )
    return Problem(visible.code, visible.text, hidden.text)


def _exception_words(
    error: RaisedError, *, kind: str, at: str, during: str, detail: str
) -> Problem:
    if error.base == "MemoryError":
        return Problem(
            "memory_limit",
            f"Your code ran out of memory{at} {during}. Avoid building huge intermediate arrays.",
        )
    if error.base == "OutputTooLarge":
        return Problem(
            "output_too_large",
            f"Your function returned too much data {during}. Return only the array the exercise asks for.",
        )
    if error.errno in (errno.EFBIG, errno.ENOSPC, errno.EDQUOT):
        return Problem(
            "output_too_large",
            f"Your code wrote too much to a file or to the screen{at} {during}. Remove large prints and files.",
        )
    if error.base == "SystemExit":
        return Problem(
            "exited", f"Your code called exit(){at} {during}. Return a value instead of exiting."
        )
    if error.base in ("PermissionError", "ImportError") or (
        error.type_name == "RuntimeError" and "thread" in error.message
    ):
        return Problem(
            "forbidden_operation",
            f"Your code tried something the grader does not allow{at} {during} ({kind}): files outside "
            "its working folder, the network, other processes, threads and most modules other than "
            "numpy and math are off limits.",
        )
    return Problem("exception", f"Your code raised {kind}{at} {during}{detail}")


def _builtin_exception_name(kind: str) -> str:
    """Return the exception's type name if it is one of Python's built-in exceptions.

    The child reports the name, and a submission can name its own exception classes after the
    inputs it was given: on a hidden test only the names of Python's built-in exceptions are shown.
    """
    builtin = getattr(builtins, kind, None) if kind.isidentifier() else None
    if isinstance(builtin, type) and issubclass(builtin, BaseException):
        return kind
    return "an exception of its own type"


def _send_order(calls: list[PlannedCall]) -> list[PlannedCall]:
    """Return the calls in the order the child gets them: every hidden test after the rest.

    The child gets each call only after answering the one before, so nothing it says on loading
    or on a visible test or check can carry a hidden test's inputs.
    """
    return sorted(calls, key=lambda call: bool(call.test and call.test.hidden))


def _timeout_text(timeout_s: float) -> str:
    return (
        f"Your code did not finish within {timeout_s:g} seconds. Look for an infinite loop, or for "
        "Python loops that NumPy operations could replace."
    )


def _abnormal_end(
    run: SandboxRun,
    report: ChildReport,
    calls: list[PlannedCall],
    order: list[PlannedCall],
    exercise: CodeExercise,
) -> Verdict | None:
    """Return the verdict for a run that crashed, was stopped or never loaded, else None."""
    if run.signal_name == "SIGXFSZ" or run.output_too_large:
        return _fatal(
            "output_too_large",
            "Your code produced too much output (printing or writing files, or returning a huge result). "
            "Remove large prints and return only what the function should.",
            calls,
        )
    if run.signal_name == "SIGSYS":
        return _fatal(
            "forbidden_operation",
            "Your code made a system call the grader does not allow and was stopped.",
            calls,
        )
    if run.signal_name:
        # A process can end itself with the signal of its choice: once it held a hidden test's
        # inputs, the signal's name could be one of them.
        which = "" if _saw_hidden_inputs(report, order) else f" ({run.signal_name})"
        return _fatal(
            "crashed",
            f"The Python process running your code crashed{which}. This can happen when "
            "memory runs out inside NumPy; check the sizes of the arrays you build.",
            calls,
        )
    if run.unreadable is not None or report.malformed:
        return _fatal("forbidden_operation", INTERFERED, calls)
    if report.load_error is not None:
        # Before any call: nothing the code says at load time can carry a test's inputs.
        problem = _exception_problem(report.load_error, during="while your file was loading")
        return _fatal(problem.code, problem.text, calls)
    if report.missing_function:
        # The code defines the name but, once it ran, the name was not a function: counted.
        return _fatal(
            "missing_function",
            f"After your code ran, {exercise.function} was not a function. Define it with "
            f"def {exercise.function}(...) at the top level of your code.",
            calls,
        )
    if not report.loaded:
        return _fatal(
            "exited",
            f"Your code stopped the program (exit code {run.exit_code}) before its results could be "
            "checked. Remove calls to exit() or os._exit().",
            calls,
        )
    return None


def _saw_hidden_inputs(report: ChildReport, order: list[PlannedCall]) -> bool:
    """Say whether the child may have been sent a hidden test's inputs before it ended.

    order is the calls in the order they were sent (_send_order).
    """
    if not report.loaded:
        return False
    sent = order[: len(report.answers) + 1]
    return any(call.test is not None and call.test.hidden for call in sent)


def _sandbox_failed(calls: list[PlannedCall]) -> Verdict:
    verdict = _fatal(
        "sandbox_failed",
        "The grader could not run your code because of a problem on our side; it was not counted. Try again.",
        calls,
        Status.ERROR,
    )
    verdict.flags.append("sandbox_failed")
    return verdict


def _judge_run(
    run: SandboxRun,
    report: ChildReport,
    calls: list[PlannedCall],
    exercise: CodeExercise,
    *,
    order: list[PlannedCall],
    timeout_s: float,
) -> tuple[list[Outcome], Verdict | None]:
    """Return one outcome per test and check, or a verdict for a run that ended abnormally.

    When the deadline ends a run that had loaded, the calls answered before it are judged as
    usual, the call that was running fails with a timeout and the calls after it were not run.
    """
    if run.infrastructure_error:
        return [], _sandbox_failed(calls)
    timed_out = run.timed_out or run.signal_name == "SIGXCPU"
    if timed_out and not report.loaded:
        return [], _fatal("timeout", _timeout_text(timeout_s), calls, Status.TIMEOUT)
    if not timed_out:
        fatal = _abnormal_end(run, report, calls, order, exercise)
        if fatal is not None:
            return [], fatal
    answered = len(report.answers)
    running = order[answered].id if timed_out and answered < len(order) else None
    outcomes: list[Outcome] = []
    stability_problems: list[Problem] = []
    gradient_problem: Problem | None = None
    for call in calls:
        answer = report.answers.get(call.id)
        hidden = bool(call.test and call.test.hidden)
        if running is not None and answer is None:
            # Which call was running is all these say: the deadline is the exercise's.
            timeout_text = _timeout_text(timeout_s)
            not_run_text = "Not run: an earlier test did not finish in time."
            problem = (
                Problem("timeout", timeout_text, timeout_text)
                if call.id == running
                else Problem("not_run", not_run_text, not_run_text)
            )
        else:
            problem = _judge_call(call, answer, exercise)
        if call.kind == "test" and call.test is not None:
            outcomes.append(
                Outcome(
                    TestResult(
                        name=call.test.name,
                        passed=problem is None,
                        message=problem.words(hidden=hidden) if problem else "Passed.",
                        hidden=call.test.hidden,
                    ),
                    code=problem.code if problem else "",
                    weight=call.test.weight,
                )
            )
        elif call.kind == "stability" and problem is not None:
            stability_problems.append(problem)
        elif call.kind == "gradient":
            gradient_problem = problem
    stability = exercise.checks.get("stability")
    if stability:
        outcomes.append(_stability_outcome(stability, stability_problems))
    if exercise.checks.get("gradient"):
        outcomes.append(
            _check_outcome("matches finite differences", gradient_problem, "gradient_check")
        )
    return outcomes, None


def _judge_call(
    call: PlannedCall, answer: CallAnswer | None, exercise: CodeExercise
) -> Problem | None:
    if answer is None:
        return Problem("crashed", "Your function did not return from this call.")
    if answer.error is not None:
        return _exception_problem(answer.error, during="while running this test")
    if not answer.returned:
        return Problem("forbidden_operation", INTERFERED)
    got = answer.output
    if call.kind == "gradient":
        return _judge_gradient(got, call.expected, exercise)
    problem = compare_output(got, call.expected, exercise=exercise)
    if problem is None and exercise.checks.get("no_mutation", True):
        problem = _mutation(call.args, answer.args_digest, exercise)
    return problem


def _judge_gradient(got: Any, numeric: list[np.ndarray], exercise: CodeExercise) -> Problem | None:
    gradient = exercise.checks["gradient"]
    wrt = list(gradient["wrt"])
    parts = list(got) if exercise.output_names and isinstance(got, tuple | list) else [got]
    names = exercise.output_names or [f"the gradient with respect to {wrt[0]}"]
    if len(parts) != len(wrt):
        return Problem(
            "gradient_check", f"Your function returned {len(parts)} gradients; expected {len(wrt)}."
        )
    rtol, atol = float(gradient.get("rtol", 1e-4)), float(gradient.get("atol", 1e-6))
    for name, part, expected in zip(names, parts, numeric, strict=True):
        array = _as_number_array(part)
        if array is None or array.shape != expected.shape:
            return Problem(
                "gradient_check",
                f"{name} cannot be compared with finite differences ({_describe_type(part)}).",
            )
        with np.errstate(all="ignore"):
            difference = np.abs(array.astype(float) - expected)
            bad = ~(difference <= atol + rtol * np.abs(expected))
        if np.any(bad):
            largest = float(np.nanmax(np.where(bad, np.nan_to_num(difference, nan=np.inf), 0.0)))
            return Problem(
                "gradient_check",
                f"{name} does not match a finite-difference gradient of the forward pass "
                f"(largest difference {largest:.3g}). Check each step of the chain rule.",
            )
    return None


def _stability_outcome(settings: dict[str, Any], problems: list[Problem]) -> Outcome:
    name = str(settings.get("name", "stable on extreme inputs"))
    if not problems:
        return Outcome(
            TestResult(name=name, passed=True, message="Passed."),
            weight=float(settings.get("weight", 1.0)),
        )
    first = problems[0]
    advice = str(settings.get("feedback", "")).strip()
    if first.code in ("wrong_values", "wrong_type", "wrong_shape", "wrong_dtype"):
        text = f"On extreme inputs ({settings.get('describe', 'very large or very small values')}): {first.text}"
        if advice:
            text += f" {advice}"
        return Outcome(
            TestResult(name=name, passed=False, message=text),
            code="unstable",
            weight=float(settings.get("weight", 1.0)),
        )
    return Outcome(
        TestResult(name=name, passed=False, message=first.text),
        code=first.code,
        weight=float(settings.get("weight", 1.0)),
    )


def _check_outcome(name: str, problem: Problem | None, code: str) -> Outcome:
    if problem is None:
        return Outcome(TestResult(name=name, passed=True, message="Passed."))
    chosen = code if problem.code in ("wrong_values", "gradient_check") else problem.code
    return Outcome(TestResult(name=name, passed=False, message=problem.text), code=chosen)


def _caret_outcome(tree: ast.AST) -> Outcome:
    lines = caret_power_lines(tree)
    name = "no ^ used as a power"
    if not lines:
        return Outcome(TestResult(name=name, passed=True, message="Passed."), static=True)
    where = ", ".join(str(line) for line in lines)
    text = (
        f"Line {where} uses ^ with a number. In Python ^ is bitwise XOR, not a power: "
        "write x ** 2 (or np.square(x)) instead of x ^ 2."
    )
    return Outcome(
        TestResult(name=name, passed=False, message=text), code="caret_power", static=True
    )


def _speed_outcome(exercise: CodeExercise, answer: str, seed: int) -> Outcome:
    """Time the submission against the reference on a large input, by the kernel's CPU accounting.

    The zygote measures the CPU time of the whole child that runs the submission on the large
    input, which the submission can raise but never lower. The fixed cost of a child comes off:
    the CPU time of an identical child, given the same input, that runs a trusted function doing
    nothing. No student code runs in that child, and nothing the submission reports is trusted.
    """
    settings = exercise.checks["speed"]
    name = str(settings.get("name", "fast enough on a large input"))
    case = _check_cases(settings)[0]
    reference_ms = []
    expected = None
    try:
        args = _inputs(exercise, seed, 3000, case)
        for _ in range(3):
            copies = copy.deepcopy(args)
            begun = time.process_time()
            expected = exercise.reference(*copies)
            reference_ms.append((time.process_time() - begun) * 1000)
    except SpecError:
        raise
    except Exception as error:  # noqa: BLE001 - the generator or reference failed: the author's bug
        raise SpecError(type(error).__name__) from None
    best_reference = max(min(reference_ms), 0.05)
    timeout = float(settings.get("timeout", 5.0))
    # No mutation digest: the tests checked that. Both children get the very same job frames.
    job = [{"id": "speed", "args": args, "digest": False}]
    baseline = get_sandbox().run(SPEED_BASELINE_SOURCE, "speed_baseline", job, timeout_s=timeout)
    run = get_sandbox().run(answer, exercise.function, job, timeout_s=timeout)
    for measured in (baseline, run):
        if measured.infrastructure_error:
            raise SandboxFailed(measured.infrastructure_error)
    if len(read_report(baseline.result).answers) != 1:
        raise SandboxFailed("the speed check's baseline child did not answer")
    factor = float(settings.get("max_slowdown", 10.0))
    margin = float(settings.get("margin_ms", 30.0))
    if run.timed_out or run.signal_name == "SIGXCPU":
        return Outcome(
            TestResult(
                name=name,
                passed=False,
                message=f"Your code did not finish within {timeout:g} s on a large input, where a "
                f"vectorised solution takes {best_reference:.1f} ms. Replace Python loops with array operations.",
            ),
            code="too_slow",
        )
    speed_calls = [
        PlannedCall("speed", "test", args, expected, TestCase(name, case, False, 1.0), case)
    ]
    outcomes, fatal = _judge_run(
        run, read_report(run.result), speed_calls, exercise, order=speed_calls, timeout_s=timeout
    )
    if fatal is not None:
        return Outcome(
            TestResult(name=name, passed=False, message=fatal.messages[0].text),
            code=fatal.diagnosis or "",
        )
    if outcomes and not outcomes[0].result.passed:
        return Outcome(
            TestResult(
                name=name, passed=False, message=f"On a large input: {outcomes[0].result.message}"
            ),
            code=outcomes[0].code,
        )
    student_ms = max(run.cpu_ms - baseline.cpu_ms, 0.0)
    if student_ms > factor * best_reference + margin:
        slower = student_ms / best_reference
        return Outcome(
            TestResult(
                name=name,
                passed=False,
                message=f"Correct but {slower:.0f}× slower than a vectorised solution on a large input "
                f"({student_ms:.0f} ms against {best_reference:.1f} ms). Replace Python loops with array operations.",
            ),
            code="too_slow",
        )
    return Outcome(TestResult(name=name, passed=True, message="Passed."))


def _attach_mistake_feedback(
    verdict: Verdict, exercise: CodeExercise, report: ChildReport, calls: list[PlannedCall]
) -> None:
    """Add a known mistake's feedback when the submission earns its diagnosis or behaves like it."""
    if verdict.status is Status.CORRECT or not exercise.mistakes:
        return
    failed_codes = {message.code for message in verdict.messages}
    for mistake in exercise.mistakes:
        if mistake.diagnosis and mistake.diagnosis in failed_codes:
            verdict.messages.insert(0, Message("known_mistake", mistake.feedback))
            return
    for call in calls:
        answer = report.answers.get(call.id)
        if call.kind == "gradient" or answer is None or not answer.returned:
            continue
        got, after = answer.output, answer.args_digest
        wrong = compare_output(got, call.expected, exercise=exercise)
        if wrong is None and _mutation(call.args, after, exercise) is None:
            continue
        for mistake in exercise.mistakes:
            if mistake.function is not None and _behaves_like(
                mistake.function, call.args, got, after, exercise
            ):
                verdict.messages.insert(0, Message("known_mistake", mistake.feedback))
                return
        return


def _behaves_like(
    mistake: Callable[..., Any],
    args: list[Any],
    got: Any,
    after: tuple[str | None, ...],
    exercise: CodeExercise,
) -> bool:
    """Say whether the mistake, on the same inputs, returns what the student returned and mutates alike."""
    copies = copy.deepcopy(args)
    try:
        with np.errstate(all="ignore"):
            mistaken = mistake(*copies)
    except Exception:  # noqa: BLE001 - a mistake that raises cannot match an output
        return False
    if compare_output(got, mistaken, exercise=exercise, check_dtype=False) is not None:
        return False
    if len(after) != len(args):
        return True
    return tuple(digest_arguments(copies)) == after


# --- variants and validation -----------------------------------------------------------------------


def variant_code(spec: dict[str, Any], seed: int) -> dict[str, Any]:
    """Return the prompt and reference of a code exercise; code exercises have no parameters."""
    return {
        "parameters": {},
        "prompt": str(spec.get("prompt", "")),
        "reference": str(spec.get("reference", "")),
        "reference_latex": None,
    }


CODE_KEYS = frozenset(
    {
        "function",
        "signature",
        "starter",
        "reference",
        "inputs",
        "tests",
        "checks",
        "tolerance",
        "outputs",
        "timeout",
        "max_answer_bytes",
        "mistakes",
        "also_correct",
    }
)


def validate_code_spec(spec: dict[str, Any]) -> list[str]:
    """Return the problems with a code spec, in words; run the reference on every case it declares."""
    problems: list[str] = []
    if spec.get("kind") != "code":
        problems.append("kind must be code")
    unknown = sorted(set(spec) - COMMON_KEYS - CODE_KEYS)
    if unknown:
        problems.append(
            f"unknown field(s) {', '.join(unknown)} (a code exercise may use: "
            f"{', '.join(sorted(CODE_KEYS))})"
        )
    for key in ("function", "signature", "starter", "reference", "inputs", "tests"):
        if not spec.get(key):
            problems.append(f"{key} is missing")
    if problems:
        return problems
    try:
        exercise = compile_exercise(spec)
    except SpecError as error:
        return [str(error)]
    try:
        ast.parse(str(spec["starter"]))
    except SyntaxError as error:
        problems.append(f"starter has a syntax error on line {error.lineno}: {error.msg}")
    if all(test.hidden for test in exercise.tests):
        problems.append("at least one test must be visible")
    for key in ("rtol", "atol"):
        value = (spec.get("tolerance") or {}).get(key, 0.0)
        if not isinstance(value, int | float) or value < 0 or math.isnan(value):
            problems.append(f"tolerance.{key} must be a non-negative number")
    try:
        calls = _plan_calls(exercise, seed=12345)
    except Exception as error:  # noqa: BLE001
        return [*problems, f"generators or reference fail: {type(error).__name__}: {error}"]
    for call in calls:
        if call.kind == "gradient":
            reference_output = _call_trusted(exercise.reference, call.args)
            problem = _judge_gradient(reference_output, call.expected, exercise)
            if problem:
                problems.append(f"the reference fails its own gradient check: {problem.text}")
        elif compare_output(call.expected, call.expected, exercise=exercise) is not None:
            problems.append(f"the reference returns unusable values on case {call.case!r}")
        elif exercise.output_names and (
            not isinstance(call.expected, tuple | list)
            or len(call.expected) != len(exercise.output_names)
        ):
            problems.append(f"the reference does not return {len(exercise.output_names)} values")
    for index, mistake in enumerate(spec.get("mistakes") or []):
        if not isinstance(mistake, dict) or not mistake.get("code") or not mistake.get("feedback"):
            problems.append(f"mistake {index + 1} needs code and feedback")
    return problems
