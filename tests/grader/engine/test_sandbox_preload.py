"""The zygote preloads every module a submission's common NumPy calls import on first use.

A child may be unable to read the virtualenv (a checkout in a folder only its owner may enter, as a
`mktemp -d` clone is): there, a module NumPy imports lazily inside the jail fails with
ModuleNotFoundError, and np.median or np.quantile would break a correct answer.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from grader.engine.sandbox.zygote import PRELOADED_MODULES

COMMON_CALLS = """
import numpy as np
x = np.arange(12.0).reshape(3, 4)
np.median(x); np.quantile(x, [0.1, 0.9]); np.percentile(x, 50); np.nanmedian(x)
np.nanquantile(x, 0.5); np.polyfit(x[0], x[1], 1); np.polynomial.Polynomial([1, 2])(x)
np.char.upper(["a"]); np.ma.masked_invalid(x); np.histogram(x); np.unique(x); np.cov(x)
np.linalg.lstsq(x.T, x[0], rcond=None); np.linalg.svd(x); np.fft.fft(x[0]); np.einsum("ij->j", x)
np.lib.stride_tricks.sliding_window_view(x[0], 2); np.random.default_rng(0).choice(4, 2)
np.setdiff1d(x[0], x[1]); np.array_split(x[0], 3); np.interp(0.5, x[0], x[1]); repr(x)
"""


def test_common_numpy_calls_import_nothing_the_zygote_has_not_loaded() -> None:
    script = textwrap.dedent(
        f"""
        import importlib, sys
        for name in {list(PRELOADED_MODULES)!r}:
            importlib.import_module(name)
        before = set(sys.modules)
        exec({COMMON_CALLS!r})
        print(sorted(set(sys.modules) - before))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]", result.stdout
