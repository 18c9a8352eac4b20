"""What an exercise allows: the known functions and their aliases, Greek names, the Vocabulary."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from grader.engine.symbolic.limits import Limits
from grader.engine.symbolic.syntax import Helper

# Canonical function name -> (min args, max args). Aliases map onto these names.
KNOWN_FUNCTIONS: dict[str, tuple[int, int]] = {
    "exp": (1, 1),
    "log": (1, 2),
    "sqrt": (1, 1),
    "sin": (1, 1),
    "cos": (1, 1),
    "tan": (1, 1),
    "sinh": (1, 1),
    "cosh": (1, 1),
    "tanh": (1, 1),
    "sech": (1, 1),
    "sec": (1, 1),
    "csc": (1, 1),
    "cot": (1, 1),
    "asin": (1, 1),
    "acos": (1, 1),
    "atan": (1, 1),
    "asinh": (1, 1),
    "acosh": (1, 1),
    "atanh": (1, 1),
    "sign": (1, 1),
    "erf": (1, 1),
    "erfc": (1, 1),
    "Phi": (1, 1),
    "abs": (1, 1),
    "max": (2, 4),
    "min": (2, 4),
    "gamma": (1, 1),
    "factorial": (1, 1),
    "binomial": (2, 2),
    "diff": (2, 3),
    # matrix functions
    "transpose": (1, 1),
    "inv": (1, 1),
    "trace": (1, 1),
    "det": (1, 1),
}
FUNCTION_ALIASES = {
    "ln": "log",
    "Abs": "abs",
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
    "arsinh": "asinh",
    "arcosh": "acosh",
    "artanh": "atanh",
    "arcsinh": "asinh",
    "arccosh": "acosh",
    "arctanh": "atanh",
    "cosec": "csc",
    "sgn": "sign",
    "tr": "trace",
    "Max": "max",
    "Min": "min",
}
MATRIX_FUNCTIONS = frozenset({"transpose", "inv", "trace", "det"})
GREEK_LETTERS = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho "
    "sigma tau upsilon phi chi psi omega"
).split()
GREEK_BY_CHAR: dict[str, str] = {}
for _letter in GREEK_LETTERS:
    for _case in ("SMALL", "CAPITAL"):
        _spelling = "LAMDA" if _letter == "lambda" else _letter.upper()  # Unicode's spelling
        try:
            _char = unicodedata.lookup(f"GREEK {_case} LETTER {_spelling}")
        except KeyError:
            continue
        GREEK_BY_CHAR[_char] = _letter if _case == "SMALL" else _letter.capitalize()
GREEK_BY_CHAR["ς"] = "sigma"
GREEK_BY_CHAR["ϕ"] = "phi"
GREEK_BY_CHAR["ε"] = "epsilon"
GREEK_BY_CHAR["ϵ"] = "epsilon"
GREEK_BY_CHAR["µ"] = "mu"  # the micro sign, which keyboards type for μ


def canonical_function(name: str) -> str:
    """Return the canonical name of a function name or alias."""
    return FUNCTION_ALIASES.get(name, name)


def normalise_name(name: str) -> str:
    """Spell Greek letters by name, so `σ` and `sigma` are the same identifier."""
    return "".join(GREEK_BY_CHAR.get(ch, ch) for ch in name)


@dataclass
class Vocabulary:
    """The names and functions one reading may use."""

    variables: frozenset[str] = frozenset()
    parameters: frozenset[str] = frozenset()
    functions: frozenset[str] = frozenset()
    helpers: dict[str, Helper] = field(default_factory=dict)
    matrix: bool = False
    limits: Limits = field(default_factory=Limits)
    forbidden_forms: frozenset[str] = frozenset()  # form rules (grader.engine.symbolic.forms)

    def constants(self) -> frozenset[str]:
        """Return the constant names not shadowed by a declared name."""
        own = self.variables | self.parameters
        names = {"pi", "e"} | ({"I"} if self.matrix else set())
        return frozenset(names - own)

    def value_names(self) -> frozenset[str]:
        """Return every name that stands for a value."""
        return self.variables | self.parameters | self.constants()
