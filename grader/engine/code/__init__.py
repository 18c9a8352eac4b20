"""Grade submitted Python/NumPy functions against trusted references, in the sandbox.

The exercise file (exercises/README.md, "Code exercises") names the function, its reference, the
input generators, the tests, the checks and the tolerances. Modules, in the order a grading uses
them:
    spec       compile the exercise's trusted sources (a bounded cache by content hash)
    plan       the calls of one grading: inputs and expected values, drawn from the seed
    grade      grade_code(): read the answer, run the plan in the sandbox, judge, score
    judge      one outcome per test, or one verdict for a run that ended badly; the score
    compare    a returned value against the expected one (types, shapes, dtypes, tolerances)
    checks     stability, gradient, speed and ^-as-power
    mistakes   an authored known mistake's feedback, when the submission made it
    wording    the fixed words of hidden tests, exceptions and deadlines
    validate   validate_code_spec() for authors, and variant_code()
"""

from __future__ import annotations

from grader.engine.code.grade import grade_code
from grader.engine.code.spec import DEFAULT_CHECKS, KNOWN_CHECKS
from grader.engine.code.validate import CODE_KEYS, validate_code_spec, variant_code

__all__ = [
    "CODE_KEYS",
    "DEFAULT_CHECKS",
    "KNOWN_CHECKS",
    "grade_code",
    "validate_code_spec",
    "variant_code",
]
