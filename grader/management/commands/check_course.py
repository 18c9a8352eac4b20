"""Check exercises end to end through the real grader; exit non-zero on any problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from grader.course_check import DEFAULT_SEEDS, CheckReport, ExerciseCheck, course_check


class Command(BaseCommand):
    help = (
        "Check the course, a module, a lesson or one exercise file: files load, variants build, "
        "references grade correct and known mistakes are rejected with their feedback."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "path",
            nargs="?",
            default=str(settings.EXERCISES_DIR),
            help="the course folder (default), a module or lesson folder, or an exercise file",
        )
        parser.add_argument(
            "--seeds", type=int, default=DEFAULT_SEEDS, help="variants to check per exercise"
        )
        parser.add_argument(
            "--jobs", type=int, default=None, help="worker processes (default: by CPU count)"
        )
        parser.add_argument(
            "--quiet", action="store_true", help="print only problems and the summary"
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["seeds"] < 1:
            raise CommandError("--seeds must be at least 1")
        printer = None if options["json"] else self._printer(quiet=options["quiet"])
        report = course_check(
            Path(options["path"]), seeds=options["seeds"], jobs=options["jobs"], on_exercise=printer
        )
        if options["json"]:
            self.stdout.write(json.dumps(report.to_dict(), indent=2))
        else:
            self._print_end(report)
        if not report.ok:
            raise CommandError("problems found (listed above)", returncode=1)

    def _printer(self, *, quiet: bool) -> Any:
        def show(result: ExerciseCheck) -> None:
            where = _relative(result.path)
            draft = "" if result.published else " (unpublished)"
            if result.ok:
                if not quiet:
                    self.stdout.write(
                        f"{self.style.SUCCESS('ok  ')}  {where}{draft}  "
                        f"[{result.graded} graded, {result.seconds:.2f} s]"
                    )
                return
            count = len(result.problems)
            self.stdout.write(
                f"{self.style.ERROR('FAIL')}  {where}{draft}  {count} problem{'s' if count > 1 else ''}"
            )
            for problem in result.problems:
                self.stdout.write(
                    f"      {_relative(problem.path)}:{problem.line}: {problem.message}"
                )

        return show

    def _print_end(self, report: CheckReport) -> None:
        for problem in report.problems:
            self.stdout.write(
                f"{self.style.ERROR('FAIL')}  {_relative(problem.path)}:{problem.line}: {problem.message}"
            )
        style = self.style.SUCCESS if report.ok else self.style.ERROR
        self.stdout.write(style(report.summary()))


def _relative(path: Path) -> str:
    """Show a path relative to the working folder when it lies inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
