"""Name the usual mistake behind a wrong answer from its values at the sample points.

Codes are stable snake_case strings (grader.engine.types; instructors' dashboards group by them):
sign_error, constant_factor, constant_offset, missing_factor, transpose, assumed_symmetry,
known_mistake. The messages point at the kind of slip without giving the answer away.
"""

from __future__ import annotations

import cmath
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import mpmath

from grader.engine.symbolic.equivalence import typical_magnitude
from grader.engine.types import (
    CONSTANT_FACTOR,
    CONSTANT_OFFSET,
    MISSING_FACTOR,
    SIGN_ERROR,
    Message,
    Phrase,
    SpecPath,
    authored,
    gettext_noop,
    phrase,
    phrase_message,
    render_phrase,
)

_AGREE = 1e-10  # the values come from 30-digit arithmetic: a real factor is constant to ~1e-16


@dataclass(frozen=True)
class Diagnosis:
    """The likely slip: its code and English text, with the words to say it in another language.

    `words` is the grader's phrase; `source` the path of an author's feedback in the exercise file.
    """

    code: str
    text: str
    words: Phrase | None = None
    source: SpecPath | None = None

    def message(self) -> Message:
        """Return the diagnosis as a verdict's Message."""
        if self.words is not None:
            return phrase_message(self.code, self.words)
        if self.source is not None:
            return authored(self.code, self.text, self.source)
        return Message(self.code, self.text)


def diagnosis(code: str, template: str, /, **params: Any) -> Diagnosis:
    """Return a Diagnosis in the grader's words (a gettext_noop-marked template and parameters)."""
    words = phrase(template, **params)
    return Diagnosis(code, render_phrase(words), words)


def _same(a: complex, b: complex) -> bool:
    return abs(a - b) <= _AGREE * max(abs(a), abs(b), 1e-300)


def _constant(values: Sequence[complex]) -> complex | None:
    if not values:
        return None
    first = values[0]
    largest = max(abs(v) for v in values)
    if all(abs(v - first) <= _AGREE * largest for v in values):
        return first
    return None


def describe_factor(value: complex) -> str:
    """Return a factor as ×2, ×½, ×(3/4) or ×1.37."""
    if abs(value.imag) > 1e-9:
        return f"×({value:.3g})"
    real = value.real
    fraction = Fraction(real).limit_denominator(12)
    if abs(float(fraction) - real) <= 1e-9 * max(1.0, abs(real)):
        if fraction.denominator == 1:
            return f"×{fraction.numerator}"
        if fraction == Fraction(1, 2):
            return "×½"
        return f"×({fraction.numerator}/{fraction.denominator})"
    for digits in (4, 7, 10, 13):  # enough digits that a factor near 1 does not read "×1"
        shown = f"{real:.{digits}g}"
        if float(shown) != 1:
            break
    return f"×{shown}"


def diagnose_scalar(
    reference: Sequence[complex | None],
    answer: Sequence[complex | None],
    factor_candidates: Mapping[str, Sequence[complex | None]] | None = None,
) -> Diagnosis | None:
    """Return the likely slip of a wrong answer, given both values at the same points.

    factor_candidates: named factors such as "n/(n−1)" with their values at the points.
    """
    pairs = [
        (r, a)
        for r, a in zip(reference, answer, strict=True)
        if r is not None and a is not None and cmath.isfinite(complex(a))
    ]
    if len(pairs) < 3:
        return None
    ref = [complex(r) for r, _ in pairs]
    ans = [complex(a) for _, a in pairs]
    if all(_same(a, -r) for r, a in zip(ref, ans, strict=True)) and any(abs(r) > 0 for r in ref):
        return diagnosis(
            SIGN_ERROR, gettext_noop("Your answer has the wrong sign: check each minus sign.")
        )
    nonzero = [(r, a) for r, a in zip(ref, ans, strict=True) if abs(r) > 1e-300]
    ratios = [a / r for r, a in nonzero]
    ratio = _constant(ratios) if len(nonzero) >= 3 else None
    if ratio is not None and abs(ratio) > 1e-12 and abs(ratio - 1) > 1e-12:
        return diagnosis(
            CONSTANT_FACTOR,
            gettext_noop(
                "Your answer is off by a constant factor (%(factor)s): check the constants, "
                "such as a 2 from a square or a ½."
            ),
            factor=describe_factor(ratio),
        )
    for name, values in (factor_candidates or {}).items():
        scaled = [
            (r * complex(f), a)
            for (r, a), f in zip(zip(ref, ans, strict=True), values, strict=True)
            if f is not None
        ]
        if len(scaled) >= 3 and all(_same(a, s) for s, a in scaled):
            return diagnosis(
                CONSTANT_FACTOR,
                gettext_noop(
                    "Your answer is off by a factor %(factor)s: check what you divide by."
                ),
                factor=name,
            )
    # Subtract at the values' own precision: in doubles, 1e14 + 1 minus 1e14 is not quite 1.
    with mpmath.workdps(30):
        offset = _constant([complex(a - r) for r, a in pairs])
    if offset is not None and abs(offset) > 1e-12 * typical_magnitude(ref):
        return diagnosis(
            CONSTANT_OFFSET,
            gettext_noop(
                "Your answer differs from the expected one by a constant: check the added terms."
            ),
        )
    return None


def diagnose_missing_factor(
    reference: Sequence[complex | None],
    answer: Sequence[complex | None],
    reference_factors: Sequence[Sequence[complex | None]],
) -> Diagnosis | None:
    """Return missing_factor when answer times some factors of the reference is the reference.

    reference_factors: values of the non-constant factors of the reference (chain rule).
    """
    if _missing_factor(reference, answer, reference_factors):
        return diagnosis(
            MISSING_FACTOR,
            gettext_noop(
                "Your answer is missing a factor: did you forget the derivative of the inner "
                "function (chain rule)?"
            ),
        )
    return None


def _missing_factor(
    reference: Sequence[complex | None],
    answer: Sequence[complex | None],
    reference_factors: Sequence[Sequence[complex | None]],
) -> bool:
    if not reference_factors:
        return False
    kept = [
        (i, complex(r), complex(a))
        for i, (r, a) in enumerate(zip(reference, answer, strict=True))
        if r is not None and a is not None
    ]
    pairs = [(r, a) for _, r, a in kept]
    factor_values = [
        [None if (value := f[i]) is None else complex(value) for i, _, _ in kept]
        for f in reference_factors
    ]
    # Proper subsets only: multiplying by every factor of the reference turns any constant
    # answer into "the reference times a constant", which is no missing factor.
    for size in range(1, min(len(factor_values) - 1, 4) + 1):
        for subset in itertools.combinations(factor_values, size):
            quotients = []
            for index, (r, a) in enumerate(pairs):
                product = complex(1)
                for values in subset:
                    factor = values[index]
                    if factor is None:
                        product = complex("nan")
                        break
                    product *= factor
                if abs(r) < 1e-300 or product != product or abs(product) < 1e-300:
                    continue
                quotients.append(a * product / r)
            constant = _constant(quotients) if len(quotients) >= 3 else None
            if constant is not None and abs(constant) > 1e-12:
                return True
    return False
