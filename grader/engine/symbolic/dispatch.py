"""Grade expression, matrix and derivation answers: each in a forked child of a warm process.

grade_symbolic(spec, answer, *, seed, config) sends the check to a child of the fork server
(grader.engine.forked) under the configured deadline and memory budget; grade_in_process is what
the child runs, and what the spec validators call directly. warm_up() loads and exercises
everything a check uses once in the parent, so every child starts warm.

A child runs several checks in turn (SYMBOLIC_REUSE): before each one the seeded generators of
Python, SymPy and NumPy and SymPy's Dummy numbering are put back as they were when the child was
forked, after each one SymPy's cache of results is emptied, and a change to mpmath's precision, SymPy's
global evaluation flags or NumPy's error handling retires the child (grader.engine.forked says
why nothing else a check leaves behind can reach the next).
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import mpmath
import numpy
import sympy

from grader.engine import forked
from grader.engine.config import EngineConfig, engine_config
from grader.engine.forked import ChildOutcome, Reuse, register_job, run_job
from grader.engine.symbolic.derivation import grade_derivation
from grader.engine.symbolic.expressions import Evaluator
from grader.engine.symbolic.matrices import grade_matrix
from grader.engine.symbolic.problem import read_problem
from grader.engine.symbolic.scalar_check import grade_expression
from grader.engine.symbolic.verdicts import AUDIT_DISAGREEMENT, invalid, spec_error
from grader.engine.types import SpecError, Status, Verdict, gettext_noop, message, phrase

logger = logging.getLogger(__name__)
SYMBOLIC_JOB = "grade_symbolic"


def grade_symbolic(
    spec: dict[str, Any], answer: str, *, seed: int, config: EngineConfig | None = None
) -> Verdict:
    """Judge an answer in a forked child with a memory limit and a hard deadline."""
    config = config or engine_config()
    started = time.perf_counter()
    answer = str(answer)  # an answer listed in an exercise file may be a number
    if len(answer) > config.max_answer_chars:
        verdict = invalid(
            "too_large",
            phrase(
                gettext_noop("Your answer is too long (%(length)d characters; at most %(limit)d)."),
                length=len(answer),
                limit=config.max_answer_chars,
            ),
        )
    else:
        warm_up()
        payload = {"spec": spec, "answer": answer, "seed": seed, "config": asdict(config)}
        outcome = run_job(
            SYMBOLIC_JOB,
            payload,
            deadline_s=config.symbolic_timeout_s,
            memory_mb=config.memory_mb,
        )
        verdict = _verdict_from(outcome, config)
    verdict.elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
    if AUDIT_DISAGREEMENT in verdict.flags:
        logger.warning(
            "symbolic audit disagrees with numeric verdict %s on exercise %s for answer %r",
            verdict.status,
            spec.get("id"),
            answer[:200],
        )
    if verdict.status in (Status.UNDETERMINED, Status.ERROR):
        logger.warning(
            "exercise %s: %s", spec.get("id"), "; ".join(m.text for m in verdict.messages)
        )
    return verdict


def _verdict_from(outcome: ChildOutcome, config: EngineConfig) -> Verdict:
    if outcome.result is not None:
        return Verdict.from_dict(outcome.result)
    if outcome.failure == "timeout":
        return Verdict(
            status=Status.TIMEOUT,
            messages=[
                message(
                    "timeout",
                    gettext_noop(
                        "Checking your answer took longer than %(seconds)s s and was stopped. "
                        "Write it in a simpler form."
                    ),
                    seconds=f"{config.symbolic_timeout_s:g}",
                )
            ],
        )
    if outcome.failure == "memory":
        return invalid(
            "too_large",
            phrase(
                gettext_noop(
                    "Your answer is too large to check (it needed too much memory). Write it in "
                    "a simpler form."
                )
            ),
        )
    logger.error("symbolic check failed in its child: %s %s", outcome.failure, outcome.detail)
    return Verdict(
        status=Status.ERROR,
        messages=[
            message(
                "grader_error",
                gettext_noop(
                    "The grader failed on this answer; it is not counted against you and has "
                    "been reported."
                ),
            )
        ],
        flags=["grader_error"],
    )


def grade_in_process(
    spec: dict[str, Any], answer: str, *, seed: int, config: EngineConfig | None = None
) -> Verdict:
    """Judge an answer in this process (the child runs this; tests of limits use the child)."""
    try:
        problem = read_problem(spec, seed, config)
        if problem.kind == "matrix":
            return grade_matrix(problem, spec, answer, seed=seed)
        if problem.kind == "derivation":
            return grade_derivation(problem, spec, answer, seed=seed)
        return grade_expression(problem, spec, answer, seed=seed)
    except SpecError as exc:
        return spec_error(exc)


def _grade_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Grade in the child: the job that grade_symbolic sends."""
    verdict = grade_in_process(
        payload["spec"],
        payload["answer"],
        seed=int(payload["seed"]),
        config=EngineConfig(**payload["config"]),
    )
    return verdict.to_dict()


def _save_generators() -> Callable[[], None]:
    """Save SymPy's and NumPy's seeded generators and Dummy's numbering; return what restores them."""
    generators = (sympy.core.random.rng, sympy.core.random._assumptions_rng)
    states = [generator.getstate() for generator in generators]
    numpy_state = numpy.random.get_state()
    dummies = sympy.Dummy._count

    def restore() -> None:
        for generator, state in zip(generators, states, strict=True):
            generator.setstate(state)
        numpy.random.set_state(numpy_state)
        sympy.Dummy._count = dummies

    return restore


def _global_settings() -> object:
    """Return the process-wide settings of mpmath, SymPy and NumPy that a check must not change."""
    parameters = sympy.core.parameters.global_parameters
    return (
        mpmath.mp.prec,
        parameters.evaluate,
        parameters.distribute,
        parameters.exp_is_pow,
        tuple(sorted(numpy.geterr().items())),
    )


def _clear_sympy_cache() -> None:
    """Empty SymPy's caches of results, keeping the tables its functions without parameters build.

    Those (known facts, simplification patterns, transform rules) are built the same whichever
    check asks first, and hold nothing of it; rebuilding them would cost every check.
    """
    for function in _cached_with_parameters():
        function.cache_clear()


_CACHED_WITH_PARAMETERS: list[Any] = []
_CACHED_SEEN = [0]  # how many of SymPy's cached functions _CACHED_WITH_PARAMETERS covers


def _cached_with_parameters() -> list[Any]:
    registry = sympy.core.cache.CACHE
    if _CACHED_SEEN[0] != len(registry):  # a module imported since registered more
        _CACHED_WITH_PARAMETERS[:] = [
            function for function in map(_lru_wrapper, registry) if _takes_parameters(function)
        ]
        _CACHED_SEEN[0] = len(registry)
    return _CACHED_WITH_PARAMETERS


def _lru_wrapper(function: Any) -> Any:
    """Return the functools cache wrapper inside SymPy's decorators (as SymPy's clear_cache does)."""
    while not hasattr(function, "cache_clear") and hasattr(function, "__wrapped__"):
        function = function.__wrapped__
    return function


def _takes_parameters(function: Any) -> bool:
    if not hasattr(function, "cache_clear"):
        return False
    try:
        return bool(inspect.signature(function.__wrapped__).parameters)
    except (TypeError, ValueError):
        return True


SYMBOLIC_REUSE = Reuse(save=_save_generators, settings=_global_settings, reset=_clear_sympy_cache)
register_job(SYMBOLIC_JOB, _grade_job, reuse=SYMBOLIC_REUSE)


# --- warming the parent --------------------------------------------------------------------------


def warm_up() -> None:
    """Warm this process once for symbolic checks (the Celery worker calls it at start)."""
    forked.warm_up(_prepare)


def _prepare() -> None:
    """Exercise SymPy, NumPy, mpmath, the evaluator and the printers, and grade each kind once.

    Grading here loads the lazily imported parts of SymPy and fills the caches of common
    subexpressions once in the parent instead of in every child.
    """
    x = sympy.Symbol("x", real=True)
    n = sympy.Symbol("n", integer=True)
    sigmoid = 1 / (1 + sympy.exp(-x))
    derivative = sympy.diff(sigmoid, x)
    Evaluator(derivative - sigmoid * (1 - sigmoid), [x]).at([mpmath.mpf("0.5")])
    sympy.simplify(derivative - sigmoid * (1 - sigmoid))
    sympy.simplify((x**2 - 1) / (x - 1) + sympy.log(x) * sympy.sqrt(x) / n)
    sympy.cancel(sympy.together(sympy.expand(sympy.erf(x) + sympy.Max(x, 0) + sympy.tanh(x))))
    sympy.latex(derivative)
    matrix = numpy.random.default_rng(0).standard_normal((3, 3))
    numpy.linalg.inv(matrix @ matrix.T + 3 * numpy.eye(3))
    for spec, answers in WARM_UP_CHECKS:
        for answer in answers:
            grade_in_process(spec, answer, seed=0)


_SIGMOID_HELPER = {"sigma(x)": "1/(1+exp(-x))"}
WARM_UP_CHECKS: list[tuple[dict[str, Any], list[str]]] = [
    (
        {
            "id": "warm-up-expression",
            "kind": "expression",
            "variables": {"x": {"domain": "real"}, "n": {"domain": "integer", "sample": [2, 9]}},
            "helpers": _SIGMOID_HELPER,
            "answer": "sigma(x)*(1 - sigma(x)) + log(n)/n",
            "mistakes": [{"answer": "-sigma(x)*(1 - sigma(x))", "feedback": "sign"}],
        },
        ["exp(-x)/(1+exp(-x))^2 + log(n)/n", "2 sigma(x)(1 - sigma(x))", "cos(x^2) sqrt(x)", "xy"],
    ),
    (
        {
            "id": "warm-up-matrix",
            "kind": "matrix",
            "variables": {"A": {"shape": ["m", "n"]}, "x": {"shape": ["n", 1]}},
            "answer": "A^T*A*x",
            "mistakes": [{"answer": "2*A^T*A*x", "feedback": "factor"}],
        },
        ["A' A x", "-A^T A x", "x^T A^T"],
    ),
    (
        {
            "id": "warm-up-derivation",
            "kind": "derivation",
            "variables": {"x": {"domain": "real"}},
            "helpers": _SIGMOID_HELPER,
            "start": "diff(1/(1+exp(-x)), x)",
            "target": "sigma(x)*(1 - sigma(x))",
        },
        ["= exp(-x)/(1+exp(-x))^2\n= sigma(x)*(1-sigma(x))", "= exp(-x)\n= sigma(x)"],
    ),
]
