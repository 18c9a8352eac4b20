"""The README's production commands match what the benchmarks measured."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def test_the_gunicorn_command_uses_the_benchmarked_threaded_workers() -> None:
    """Status requests are held open (long poll): sync workers would stall behind a few of them."""
    readme = (ROOT / "README.md").read_text()
    line = next(line for line in readme.splitlines() if line.startswith(".venv/bin/gunicorn "))
    argv = shlex.split(line)
    bench = (ROOT / "benchmarks" / "bench_pipeline.py").read_text()
    benchmarked = {
        name: re.search(rf'"{name}", "([^"]+)"', bench).group(1)  # type: ignore[union-attr]
        for name in ("--workers", "--threads", "--worker-class")
    }
    assert {name: option(argv, name) for name in benchmarked} == benchmarked
