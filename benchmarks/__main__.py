"""Run every benchmark: `python -m benchmarks [name ...]` (names: symbolic, code, pipeline, board, start, fairness).

One benchmark may take options after its name: `python -m benchmarks pipeline --students 300 --json`
(`python -m benchmarks pipeline --help` lists them).
"""

from __future__ import annotations

import importlib
import os
import sys

import django

BENCHMARKS = ["symbolic", "code", "pipeline", "board", "start", "fairness"]


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")
    django.setup()
    first_option = next((i for i, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    names, options = argv[:first_option] or BENCHMARKS, argv[first_option:]
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
        return 2
    if options and names != ["pipeline"]:
        print("options are for one benchmark that takes them: pipeline")
        return 2
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        print(f"\n=== {name} ===", flush=True)
        if options:
            module.main(options)
        else:
            module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
