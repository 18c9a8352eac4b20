"""The README's production commands match what the benchmarks measured."""

from __future__ import annotations

import shlex
from pathlib import Path

from benchmarks import bench_pipeline

ROOT = Path(__file__).resolve().parent.parent


def option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def test_the_gunicorn_command_runs_the_benchmarked_asgi_workers() -> None:
    """Status requests are held open (long poll) as coroutines: the web tier must be ASGI."""
    readme = (ROOT / "README.md").read_text()
    line = next(line for line in readme.splitlines() if line.startswith(".venv/bin/gunicorn "))
    argv = shlex.split(line)
    benchmarked = bench_pipeline.web_command(8000, bench_pipeline.WEB_WORKERS)
    assert argv[1] == "config.asgi" and "config.asgi" in benchmarked
    for name in ("--workers", "--worker-class"):
        assert option(argv, name) == option(benchmarked, name)
