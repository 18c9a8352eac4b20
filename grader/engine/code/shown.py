"""Values shown beside a failing visible test: its inputs, the expected and the returned value.

Everything here runs in the trusted worker on values it generated or decoded (never pickled).
A small array is printed whole; a large one is summarised by its shape, dtype and first entries,
so a 128 x 256 input never floods the page. Hidden tests never get these (grader.engine.code.judge).
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Arrays with at most this many entries are printed whole.
SMALL_ARRAY = 24
FIRST_ENTRIES = 4
MAX_TEXT = 300


def show_value(value: Any) -> str:
    """Return a short, readable text for a value: small arrays whole, large ones summarised."""
    if isinstance(value, tuple | list) and value and any(_is_array(v) for v in value):
        return "(" + ", ".join(show_value(v) for v in value) + ")"
    if _is_array(value):
        array = np.asarray(value)
        if array.size <= SMALL_ARRAY:
            with np.printoptions(precision=4, suppress=True, threshold=SMALL_ARRAY):
                return _clip(np.array2string(array, separator=", "))
        with np.printoptions(precision=4, suppress=True):
            first = ", ".join(str(entry) for entry in array.ravel()[:FIRST_ENTRIES])
        return f"array of shape {array.shape}, {array.dtype}: [{first}, …]"
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    return _clip(repr(value))


def max_abs_diff(returned: Any, expected: Any) -> float | None:
    """Return the largest absolute difference of two numeric values of one shape, else None."""
    try:
        got = np.asarray(returned, dtype=float)
        want = np.asarray(expected, dtype=float)
    except (TypeError, ValueError):
        return None
    if got.shape != want.shape or got.size == 0:
        return None
    with np.errstate(all="ignore"):
        diff = np.abs(got - want)
    finite = diff[np.isfinite(diff)]
    return float(finite.max()) if finite.size else None


def shown_call(
    params: list[str], args: list[Any], expected: Any, returned: Any, has_returned: bool
) -> dict[str, Any]:
    """Return what a failing visible test shows: inputs, expected, returned and their difference."""
    shown: dict[str, Any] = {
        "inputs": {name: show_value(arg) for name, arg in zip(params, args, strict=False)},
        "expected": show_value(expected),
    }
    if has_returned:
        shown["returned"] = show_value(returned)
        diff = max_abs_diff(returned, expected)
        if diff is not None:
            shown["max_abs_diff"] = f"{diff:.3g}"
    return shown


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, int | float) for v in value)
    )


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"
