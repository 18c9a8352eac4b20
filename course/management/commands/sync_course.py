"""Load the course files under exercises/ into the database, all or nothing.

An exercise file the database already holds byte for byte, validated by the same grader sources,
is not validated again (course.content.validated_hash): a start with nothing changed takes a second,
not the seconds that checking every listed answer costs. `check_course` always checks everything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from course.content import ContentError, load_course
from course.selectors import exercise_hashes_validated
from course.services import course_sync


class Command(BaseCommand):
    help = (
        "Add, update and retire tracks, modules, lessons and exercises to match the course files."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "path", nargs="?", default=str(settings.EXERCISES_DIR), help="the course folder"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            course = load_course(Path(options["path"]), validated=exercise_hashes_validated())
            report = course_sync(course=course)
        except ContentError as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            raise CommandError(
                f"{len(exc.problems)} problem(s) in the course files; nothing was changed."
            ) from None
        for line in report.lines():
            self.stdout.write(line)
        unused = course.translation_problems()
        if unused:
            self.stdout.write(
                f"{len(unused)} problem(s) in translations: those items are shown in English "
                "until fixed (check_course lists them)."
            )
