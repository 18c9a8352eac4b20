"""Compare what the submission returned with what the trusted side expects, value by value.

Each comparison returns a Problem (see wording) or None. Only numbers and numeric arrays are
compared: anything else the child sent is a wrong type, described by its type name alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from grader.engine.code.spec import CodeExercise
from grader.engine.code.wording import Problem
from grader.engine.sandbox.runtime import digest_arguments
from grader.engine.sandbox.wire import Unsupported
from grader.engine.types import Phrase, gettext_noop, phrase


def describe_type(value: Any) -> Phrase:
    """Name what the code returned, for visible tests only: the code chooses the names and shapes."""
    if isinstance(value, Unsupported):
        return phrase(gettext_noop("a %(type)s"), type=value.type_name)
    if isinstance(value, np.ndarray):
        return phrase(gettext_noop("an array of shape %(shape)s"), shape=str(value.shape))
    if value is None:
        return phrase("%(none)s", none="None")
    return phrase(gettext_noop("a %(type)s"), type=type(value).__name__)


def as_number_array(value: Any) -> npt.NDArray[Any] | None:
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


def _index_text(index: tuple[int, ...]) -> str | Phrase:
    if not index:
        return ""
    return phrase(
        gettext_noop(" at index %(index)s"), index=str(index if len(index) > 1 else index[0])
    )


def compare_value(
    got: Any,
    expected: Any,
    *,
    label: str | Phrase,
    exercise: CodeExercise,
    check_dtype: bool = True,
) -> Problem | None:
    """Return what is wrong with got compared with expected, or None when they agree."""
    expected_array = np.asarray(expected)
    got_array = as_number_array(got)
    scalar_expected = expected_array.ndim == 0
    if got_array is None:
        wanted = (
            phrase(gettext_noop("a number"))
            if scalar_expected
            else phrase(
                gettext_noop("a NumPy array of shape %(shape)s"), shape=str(expected_array.shape)
            )
        )
        return Problem(
            "wrong_type",
            phrase(
                gettext_noop("%(label)s is %(got)s; expected %(wanted)s."),
                label=label,
                got=describe_type(got),
                wanted=wanted,
            ),
        )
    if got_array.shape != expected_array.shape:
        if not exercise.checks.get("shape", True) and got_array.size == expected_array.size:
            got_array = got_array.reshape(expected_array.shape)
        else:
            shape_wanted: str | Phrase = (
                phrase(gettext_noop("a single number"))
                if scalar_expected
                else str(expected_array.shape)
            )
            return Problem(
                "wrong_shape",
                phrase(
                    gettext_noop("%(label)s has shape %(shape)s; expected %(wanted)s."),
                    label=label,
                    shape=str(got_array.shape),
                    wanted=shape_wanted,
                ),
            )
    if check_dtype and exercise.checks.get("dtype", True) and expected_array.dtype.kind == "f":
        if got_array.dtype.kind not in "f":
            return Problem(
                "wrong_dtype",
                phrase(
                    gettext_noop(
                        "%(label)s holds %(got)s values; expected floating-point numbers "
                        "(%(expected)s). Integer or boolean results usually mean a missing float "
                        "conversion."
                    ),
                    label=label,
                    got=str(got_array.dtype),
                    expected=str(expected_array.dtype),
                ),
            )
    if got_array.dtype.kind == "c" and expected_array.dtype.kind != "c":
        return Problem(
            "wrong_dtype",
            phrase(
                gettext_noop("%(label)s holds complex numbers; expected real ones."), label=label
            ),
        )
    got_values = got_array.astype(np.result_type(got_array.dtype, np.float64))
    expected_values = (
        expected_array.astype(np.float64) if expected_array.dtype.kind in "biuf" else expected_array
    )
    bad = disagreeing(got_values, expected_values, rtol=exercise.rtol, atol=exercise.atol)
    if not np.any(bad):
        return None
    with np.errstate(all="ignore"):
        error = np.abs(got_values - expected_values)
    error = np.where(bad, np.nan_to_num(error, nan=np.inf, posinf=np.inf), 0.0)
    flat = int(np.argmax(error))
    index = tuple(int(i) for i in np.unravel_index(flat, error.shape)) if error.ndim else ()
    got_at, expected_at = got_values[index], expected_values[index]
    if not np.isfinite(got_at) and np.isfinite(expected_at):
        return Problem(
            "wrong_values",
            phrase(
                gettext_noop(
                    "%(label)s contains %(got)s%(at)s where the answer is finite (%(expected)s)."
                ),
                label=label,
                got=str(got_at),
                at=_index_text(index),
                expected=f"{float(expected_at):.6g}",
            ),
        )
    if not np.isfinite(expected_at):
        return Problem(
            "wrong_values",
            phrase(
                gettext_noop("%(label)s is %(got)s%(at)s where the answer is %(expected)s."),
                label=label,
                got=_fmt(got_at),
                at=_index_text(index),
                expected=_fmt(expected_at),
            ),
        )
    count = int(np.sum(bad))
    where = (
        phrase(gettext_noop("%(count)d of %(size)d values are wrong; "), count=count, size=bad.size)
        if bad.size > 1
        else ""
    )
    largest = float(error[index])
    return Problem(
        "wrong_values",
        phrase(
            gettext_noop(
                "%(label)s is wrong: %(where)slargest error %(largest)s%(at)s (got %(got)s, "
                "expected %(expected)s; tolerance rtol=%(rtol)s, atol=%(atol)s)."
            ),
            label=label,
            where=where,
            largest=f"{largest:.3g}",
            at=_index_text(index),
            got=_fmt(got_at),
            expected=_fmt(expected_at),
            rtol=f"{exercise.rtol:g}",
            atol=f"{exercise.atol:g}",
        ),
    )


def disagreeing(
    got: npt.NDArray[Any], expected: npt.NDArray[Any], *, rtol: float, atol: float
) -> npt.NDArray[np.bool_]:
    """Return where got and expected disagree, elementwise.

    Where the expected value is finite, got must be finite and within atol + rtol·|expected|.
    Where it is inf, -inf or NaN, got must be that same special value: a tolerance scaled by an
    infinite value would accept anything (inf <= inf), a finite number and -inf included.
    """
    with np.errstate(all="ignore"):
        finite = np.isfinite(expected)
        within = np.abs(got - expected) <= atol + rtol * np.abs(np.where(finite, expected, 0))
        same_special = (np.isnan(got) & np.isnan(expected)) | (
            ~np.isnan(expected) & (got == expected)
        )
        result: npt.NDArray[np.bool_] = np.where(finite, ~within, ~same_special)
    return result


def within_subgradients(
    got: Any, expected: Any, alternative: Any, *, exercise: CodeExercise
) -> bool:
    """Say whether got lies, everywhere, between the reference's value and the other rule's.

    At a kink (ReLU's backward pass at x = 0) every value between the two one-sided derivatives
    is a valid subgradient; elsewhere the two rules agree and got must match them.
    """
    names = exercise.output_names
    if names:
        if not isinstance(got, tuple | list) or len(got) != len(names):
            return False
        return all(
            _between(g, e, a, exercise) for g, e, a in zip(got, expected, alternative, strict=True)
        )
    return _between(got, expected, alternative, exercise)


def _between(got: Any, expected: Any, alternative: Any, exercise: CodeExercise) -> bool:
    values = as_number_array(got)
    low_side, high_side = np.asarray(expected, dtype=float), np.asarray(alternative, dtype=float)
    if values is None or values.shape != low_side.shape or values.dtype.kind == "c":
        return False
    values = values.astype(float)
    low, high = np.minimum(low_side, high_side), np.maximum(low_side, high_side)
    with np.errstate(all="ignore"):
        slack = exercise.atol + exercise.rtol * np.maximum(np.abs(low), np.abs(high))
        inside = (values >= low - slack) & (values <= high + slack)
    finite = np.isfinite(low) & np.isfinite(high)
    exact = ~np.isnan(values) & ((values == low_side) | (values == high_side))
    return bool(np.all(np.where(finite, inside, exact)))


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
                phrase(
                    gettext_noop("Your function returned %(got)s; expected a tuple (%(parts)s)."),
                    got=describe_type(got),
                    parts=parts,
                ),
            )
        if len(got) != len(names):
            return Problem(
                "wrong_type",
                phrase(
                    gettext_noop(
                        "Your function returned %(count)d values; expected %(wanted)d (%(parts)s)."
                    ),
                    count=len(got),
                    wanted=len(names),
                    parts=parts,
                ),
            )
        for name, got_part, expected_part in zip(names, got, expected, strict=True):
            problem = compare_value(
                got_part, expected_part, label=name, exercise=exercise, check_dtype=check_dtype
            )
            if problem:
                return problem
        return None
    return compare_value(
        got,
        expected,
        label=phrase(gettext_noop("Your result")),
        exercise=exercise,
        check_dtype=check_dtype,
    )


def find_mutation(
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
                phrase(
                    gettext_noop(
                        "Your function changed its input %(name)s in place. Work on a copy "
                        "(%(name)s = %(name)s.copy()) or build a new array instead."
                    ),
                    name=name,
                ),
            )
    return None


def compare_gradient(
    got: Any, numeric: list[npt.NDArray[Any]], exercise: CodeExercise
) -> Problem | None:
    gradient = exercise.checks["gradient"]
    wrt = list(gradient["wrt"])
    parts = list(got) if exercise.output_names and isinstance(got, tuple | list) else [got]
    names: list[str | Phrase] = list(exercise.output_names or []) or [
        phrase(gettext_noop("the gradient with respect to %(name)s"), name=wrt[0])
    ]
    if len(parts) != len(wrt):
        return Problem(
            "gradient_check",
            phrase(
                gettext_noop("Your function returned %(count)d gradients; expected %(wanted)d."),
                count=len(parts),
                wanted=len(wrt),
            ),
        )
    rtol, atol = float(gradient.get("rtol", 1e-4)), float(gradient.get("atol", 1e-6))
    for name, part, expected in zip(names, parts, numeric, strict=True):
        array = as_number_array(part)
        if array is None or array.shape != expected.shape:
            return Problem(
                "gradient_check",
                phrase(
                    gettext_noop("%(name)s cannot be compared with finite differences (%(got)s)."),
                    name=name,
                    got=describe_type(part),
                ),
            )
        got_values = array.astype(float)
        bad = disagreeing(got_values, expected, rtol=rtol, atol=atol)
        with np.errstate(all="ignore"):
            difference = np.abs(got_values - expected)
        if np.any(bad):
            largest = float(np.nanmax(np.where(bad, np.nan_to_num(difference, nan=np.inf), 0.0)))
            return Problem(
                "gradient_check",
                phrase(
                    gettext_noop(
                        "%(name)s does not match a finite-difference gradient of the forward pass "
                        "(largest difference %(largest)s). Check each step of the chain rule."
                    ),
                    name=name,
                    largest=f"{largest:.3g}",
                ),
            )
    return None
