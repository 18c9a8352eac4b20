"""Read the grading fields of an expression, matrix or derivation exercise: a SymbolicProblem."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from grader.engine.config import EngineConfig, engine_config
from grader.engine.symbolic.forms import FORM_RULES
from grader.engine.symbolic.limits import Limits
from grader.engine.symbolic.parser import parse_expression
from grader.engine.symbolic.syntax import Helper, Node, ParseError
from grader.engine.symbolic.variants import ParameterValue, draw_parameters
from grader.engine.symbolic.vocabulary import (
    KNOWN_FUNCTIONS,
    MATRIX_FUNCTIONS,
    Vocabulary,
    canonical_function,
    normalise_name,
)
from grader.engine.types import SpecError, SpecProblem

SYMBOLIC_KEYS = frozenset(
    {
        "parameters",
        "variables",
        "forbid",
        "helpers",
        "answer",
        "also_correct",
        "mistakes",
        "tolerance",
        "samples",
        "audit_seconds",
        "limits",
    }
)
# derivative_of and derivative_order (and wrt for expressions) are read by check_course's
# reference check (grader/engine/symbolic/reference_check.py), not while grading.
KIND_KEYS = {
    "expression": frozenset({"derivative_of", "derivative_order", "wrt"}),
    "matrix": frozenset({"wrt", "increasing_sizes", "derivative_of", "derivative_order"}),
    "derivation": frozenset({"start", "target", "min_lines", "final_must_use", "milestones"}),
}
# Every safe function is available to students in every exercise (the parser's limits keep
# each of them cheap); an exercise that is about a function forbids it (`forbid: [tanh]`).
SCALAR_FUNCTIONS = frozenset(KNOWN_FUNCTIONS) - MATRIX_FUNCTIONS - {"diff"}
# Tolerances: exact scalar exercises (30-digit evaluation, see expressions.WORKING_DIGITS) leave
# fifteen digits for rounding in a student's form (cancellation, long products) and no more;
# matrix answers are evaluated in doubles.
EXACT_RTOL = 1e-15
EXACT_ATOL = 1e-20
FLOAT_RTOL = 1e-8
FLOAT_ATOL = 1e-12
DOMAINS = {
    "real": (-3.0, 3.0),
    "positive": (0.1, 5.0),
    "nonnegative": (0.0, 5.0),
    "negative": (-5.0, -0.1),
    "integer": (1, 20),
}
MATRIX_PROPERTIES = frozenset({"symmetric", "positive_definite"})
_HELPER_HEAD = re.compile(r"^\s*([^\W\d]\w*)\s*\(\s*([^)]*)\)\s*$")


@dataclass(frozen=True)
class ScalarVariable:
    name: str
    domain: str
    low: float
    high: float


@dataclass(frozen=True)
class MatrixVariable:
    name: str
    rows: str  # a size name such as "m", or "1", or a fixed size such as "3"
    cols: str
    properties: frozenset[str] = frozenset()


@dataclass
class SymbolicProblem:
    """Everything grading needs from a spec, for one seed's parameter values."""

    kind: str
    exercise_id: str
    scalars: dict[str, ScalarVariable]
    matrices: dict[str, MatrixVariable]
    parameters: dict[str, ParameterValue]
    vocab: Vocabulary  # what students may write
    author_vocab: Vocabulary  # what references, mistakes and starts may write
    rtol: float = 1e-8
    atol: float = 1e-12
    exact: bool = False  # no author tolerance: values must agree near the working precision
    samples: int = 20
    audit_seconds: float = 0.2
    wrt: str | None = None
    size_names: tuple[str, ...] = field(default_factory=tuple)
    increasing_sizes: tuple[str, ...] = ()  # size names drawn in increasing order (p ≥ n …)

    def parse_author(self, text: Any, *path: str | int) -> Node:
        """Parse an expression the author wrote at path ("mistakes", 0, "answer") in the file.

        A failure is a SpecError at that path, its message naming it (mistakes[0].answer: …).
        """
        where = SpecProblem(path, "").where
        if not isinstance(text, str | int | float) or isinstance(text, bool):
            raise SpecError(f"{where}: expected an expression, got {text!r}", path)
        try:
            return parse_expression(str(text), self.author_vocab, author=True)
        except ParseError as exc:
            raise SpecError(f"{where}: {exc.describe(str(text))} in {str(text)!r}", path) from exc


def read_problem(
    spec: dict[str, Any], seed: int | None, config: EngineConfig | None = None
) -> SymbolicProblem:
    """Build the SymbolicProblem of a spec; seed None leaves parameters as names (for previews).

    config gives the defaults of samples and audit_seconds (the process's when None).
    """
    config = config or engine_config()
    kind = spec.get("kind")
    if kind not in KIND_KEYS:
        raise SpecError(f"kind must be expression, matrix or derivation, not {kind!r}", ("kind",))
    parameters = draw_parameters(spec, seed) if seed is not None else {}
    parameter_names = frozenset(normalise_name(str(p)) for p in (spec.get("parameters") or {}))
    scalars, matrices = _read_variables(spec.get("variables"), kind)
    if kind != "matrix" and matrices:
        raise SpecError("only matrix exercises may give variables a shape", ("variables",))
    clash = parameter_names & (set(scalars) | set(matrices))
    if clash:
        raise SpecError(
            f"{', '.join(sorted(clash))} is both a parameter and a variable", ("parameters",)
        )
    forbidden, forms = _read_forbidden(spec.get("forbid"))
    functions = SCALAR_FUNCTIONS - forbidden
    limits = _read_limits(spec.get("limits"))
    variables = frozenset(scalars) | frozenset(matrices)
    matrix = kind == "matrix"
    if kind == "derivation":
        functions = functions | ({"diff"} - forbidden)
    author_vocab = Vocabulary(variables, parameter_names, functions, {}, matrix, limits)
    helpers = _read_helpers(spec.get("helpers"), author_vocab)
    author_vocab.helpers = helpers
    vocab = Vocabulary(variables, parameter_names, functions, helpers, matrix, limits, forms)
    tolerance = spec.get("tolerance") or {}
    if not isinstance(tolerance, dict) or set(tolerance) - {"rtol", "atol"}:
        raise SpecError("tolerance must be a mapping with rtol and/or atol", ("tolerance",))
    sizes = sorted({d for m in matrices.values() for d in (m.rows, m.cols) if d.isidentifier()})
    # Scalars are evaluated in 30-digit arithmetic, so an exact exercise compares near that
    # precision; matrices are evaluated in doubles. An author's tolerance allows decimals.
    exact = not tolerance and not matrix
    default_rtol, default_atol = (EXACT_RTOL, EXACT_ATOL) if exact else (FLOAT_RTOL, FLOAT_ATOL)
    return SymbolicProblem(
        kind=kind,
        exercise_id=str(spec.get("id", "")),
        scalars=scalars,
        matrices=matrices,
        parameters=parameters,
        vocab=vocab,
        author_vocab=author_vocab,
        rtol=_positive_number(tolerance.get("rtol", default_rtol), "tolerance.rtol"),
        atol=_positive_number(tolerance.get("atol", default_atol), "tolerance.atol"),
        exact=exact,
        samples=int(_positive_number(spec.get("samples", config.samples), "samples")),
        audit_seconds=_positive_number(
            spec.get("audit_seconds", config.audit_seconds), "audit_seconds"
        ),
        wrt=normalise_name(str(spec["wrt"])) if spec.get("wrt") is not None else None,
        size_names=tuple(sizes),
        increasing_sizes=_read_increasing_sizes(spec.get("increasing_sizes"), sizes),
    )


def _read_increasing_sizes(declared: Any, sizes: list[str]) -> tuple[str, ...]:
    if declared is None:
        return ()
    if not isinstance(declared, list) or len(set(map(str, declared))) != len(declared):
        raise SpecError(
            "increasing_sizes must list size names once each, smallest first", ("increasing_sizes",)
        )
    unknown = [str(name) for name in declared if str(name) not in sizes]
    if unknown:
        raise SpecError(
            f"increasing_sizes: {', '.join(unknown)} is not a size of any matrix "
            f"(sizes: {', '.join(sizes) or 'none'})",
            ("increasing_sizes",),
        )
    return tuple(str(name) for name in declared)


def _positive_number(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise SpecError(
            f"{where} must be a number, not {value!r}", tuple(where.split("."))
        ) from exc
    if not number > 0:
        raise SpecError(f"{where} must be above 0", tuple(where.split(".")))
    return number


def _read_variables(
    declared: Any, kind: str
) -> tuple[dict[str, ScalarVariable], dict[str, MatrixVariable]]:
    if declared is None:
        declared = {}
    if not isinstance(declared, dict):
        raise SpecError(
            "variables must be a mapping of name to {domain, sample} or {shape}", ("variables",)
        )
    scalars: dict[str, ScalarVariable] = {}
    matrices: dict[str, MatrixVariable] = {}
    for raw_name, rule in declared.items():
        name = normalise_name(str(raw_name))
        if not name.isidentifier() or name in ("pi", "e"):
            raise SpecError(
                f"variable {raw_name!r}: not a usable name", ("variables", str(raw_name))
            )
        rule = rule or {}
        if not isinstance(rule, dict):
            raise SpecError(
                f"variable {name}: expected a mapping such as {{domain: real}}", ("variables", name)
            )
        if "shape" in rule:
            matrices[name] = _read_matrix_variable(name, rule)
        else:
            scalars[name] = _read_scalar_variable(name, rule)
    return scalars, matrices


def _read_scalar_variable(name: str, rule: dict[str, Any]) -> ScalarVariable:
    unknown = set(rule) - {"domain", "sample"}
    if unknown:
        raise SpecError(
            f"variable {name}: unknown keys {', '.join(sorted(unknown))}", ("variables", name)
        )
    domain = rule.get("domain", "real")
    if domain not in DOMAINS:
        raise SpecError(
            f"variable {name}: domain must be one of {', '.join(DOMAINS)}", ("variables", name)
        )
    low, high = DOMAINS[domain]
    if "sample" in rule:
        sample = rule["sample"]
        if not isinstance(sample, list) or len(sample) != 2:
            raise SpecError(f"variable {name}: sample must be [low, high]", ("variables", name))
        try:
            low, high = float(sample[0]), float(sample[1])
        except (TypeError, ValueError) as exc:
            raise SpecError(
                f"variable {name}: sample bounds must be numbers", ("variables", name)
            ) from exc
    if not low < high:
        raise SpecError(
            f"variable {name}: the sample interval [{low}, {high}] is empty", ("variables", name)
        )
    if (
        domain == "positive"
        and low <= 0
        or domain == "nonnegative"
        and low < 0
        or domain == "negative"
        and high >= 0
    ):
        raise SpecError(
            f"variable {name}: the sample interval leaves the {domain} domain", ("variables", name)
        )
    if domain == "integer" and (low != int(low) or high != int(high)):
        raise SpecError(
            f"variable {name}: integer sample bounds must be whole numbers", ("variables", name)
        )
    return ScalarVariable(name, domain, low, high)


def _read_matrix_variable(name: str, rule: dict[str, Any]) -> MatrixVariable:
    unknown = set(rule) - {"shape", "properties"}
    if unknown:
        raise SpecError(
            f"variable {name}: unknown keys {', '.join(sorted(unknown))}", ("variables", name)
        )
    shape = rule["shape"]
    if not isinstance(shape, list) or len(shape) != 2:
        raise SpecError(
            f"variable {name}: shape must be [rows, cols], e.g. [m, n] or [n, 1]",
            ("variables", name),
        )
    dims = []
    for dim in shape:
        text = str(dim).strip()
        if not (text.isidentifier() or (text.isdigit() and 1 <= int(text) <= 8)):
            raise SpecError(
                f"variable {name}: size {dim!r} must be a name or a number 1–8", ("variables", name)
            )
        dims.append(text)
    properties = frozenset(rule.get("properties") or [])
    if properties - MATRIX_PROPERTIES:
        raise SpecError(
            f"variable {name}: properties must be among {', '.join(sorted(MATRIX_PROPERTIES))}",
            ("variables", name, "properties"),
        )
    if properties and dims[0] != dims[1]:
        raise SpecError(
            f"variable {name}: only a square matrix can be symmetric or definite",
            ("variables", name),
        )
    return MatrixVariable(name, dims[0], dims[1], properties)


def _read_forbidden(declared: Any) -> tuple[frozenset[str], frozenset[str]]:
    """Return the forbidden functions and the forbidden form rules."""
    if declared is None:
        return frozenset(), frozenset()
    if not isinstance(declared, list):
        raise SpecError("forbid must be a list of function names and form rules", ("forbid",))
    functions, forms = set(), set()
    for index, name in enumerate(declared):
        if str(name) in FORM_RULES:
            forms.add(str(name))
            continue
        function = canonical_function(str(name))
        if function not in KNOWN_FUNCTIONS:
            rules = ", ".join(FORM_RULES)
            raise SpecError(
                f"forbid: unknown function or form rule {name!r} (form rules: {rules})",
                ("forbid", index),
            )
        functions.add(function)
    return frozenset(functions), frozenset(forms)


def _read_limits(declared: Any) -> Limits:
    if declared is None:
        return Limits()
    if not isinstance(declared, dict):
        raise SpecError("limits must be a mapping", ("limits",))
    allowed = set(Limits.__dataclass_fields__)
    unknown = set(declared) - allowed
    if unknown:
        raise SpecError(f"limits: unknown keys {', '.join(sorted(unknown))}", ("limits",))
    return Limits(**{key: type(getattr(Limits(), key))(value) for key, value in declared.items()})


def _read_helpers(declared: Any, author_vocab: Vocabulary) -> dict[str, Helper]:
    if declared is None:
        return {}
    if isinstance(declared, list) and all(isinstance(d, str) and ":=" in d for d in declared):
        declared = dict(d.split(":=", 1) for d in declared)  # ["sigma(x) := 1/(1+exp(-x))"]
    if not isinstance(declared, dict):
        raise SpecError(
            'helpers must be a mapping such as {"sigma(x)": "1/(1+exp(-x))"} '
            'or a list such as ["sigma(x) := 1/(1+exp(-x))"]',
            ("helpers",),
        )
    helpers: dict[str, Helper] = {}
    for head, body in declared.items():
        match = _HELPER_HEAD.match(str(head))
        if not match:
            raise SpecError(
                f"helper {head!r}: write the name with its arguments, e.g. sigma(x)",
                ("helpers", str(head)),
            )
        name = normalise_name(match.group(1))
        params = tuple(normalise_name(p.strip()) for p in match.group(2).split(",") if p.strip())
        if not params:
            raise SpecError(f"helper {name}: give at least one argument", ("helpers", str(head)))
        if canonical_function(name) in KNOWN_FUNCTIONS:
            raise SpecError(
                f"helper {name}: the name is already a built-in function", ("helpers", str(head))
            )
        body_vocab = Vocabulary(
            variables=frozenset(params),
            parameters=author_vocab.parameters,
            functions=author_vocab.functions,
            helpers=dict(helpers),
            matrix=False,
            limits=author_vocab.limits,
        )
        try:
            tree = parse_expression(str(body), body_vocab, author=True)
        except ParseError as exc:
            raise SpecError(
                f"helper {name}: {exc.describe(str(body))} in {str(body)!r}", ("helpers", str(head))
            ) from exc
        helpers[name] = Helper(name, params, tree)
    return helpers
