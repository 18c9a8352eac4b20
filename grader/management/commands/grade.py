"""Grade answers from the command line exactly as a student's answer is graded.

    python manage.py grade EXERCISE --answer-file FILE [--seed N]
    python manage.py grade --batch FILE.jsonl

EXERCISE is an exercise slug, a <slug>.yaml file, or a folder holding exactly one exercise file.
Each line of a batch file is {"exercise": ..., "answer": ..., "seed": ...} (seed optional).
One JSON verdict is printed per answer. The exit status is 0 whatever the verdicts, 2 on bad usage.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from course.content import ContentError, exercise_spec_by_slug, load_exercise_path
from grader import engine
from grader.engine.symbolic import dispatch
from grader.services import answer_grade


def _usage_error(message: str) -> CommandError:
    return CommandError(message, returncode=2)


def load_spec(exercise: str) -> dict[str, Any]:
    """Return the spec of an exercise given as a slug, a .yaml file or a folder."""
    path = Path(exercise)
    looks_like_path = path.suffix in (".yaml", ".yml") or "/" in exercise or path.exists()
    try:
        if looks_like_path:
            return load_exercise_path(path)
        return exercise_spec_by_slug(exercise)
    except ContentError as exc:
        raise _usage_error(f"cannot load exercise {exercise!r}:\n{exc}") from exc


def read_answer(answer_file: str) -> str:
    """Return the answer text from a file, or from standard input for "-"."""
    if answer_file == "-":
        return sys.stdin.read()
    try:
        return Path(answer_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _usage_error(f"cannot read the answer file {answer_file!r}: {exc}") from exc


def read_batch(batch_file: str) -> list[tuple[str, str, int]]:
    """Return (exercise, answer, seed) for every line of a JSONL file; refuse bad lines."""
    try:
        text = Path(batch_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _usage_error(f"cannot read the batch file {batch_file!r}: {exc}") from exc
    jobs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{batch_file}:{number}"
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise _usage_error(f"{where}: not valid JSON ({exc})") from exc
        if not isinstance(item, dict) or not isinstance(item.get("exercise"), str):
            raise _usage_error(
                f'{where}: expected {{"exercise": "...", "answer": "...", "seed": N}}'
            )
        if not isinstance(item.get("answer"), str):
            raise _usage_error(f"{where}: 'answer' must be a string")
        seed = item.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise _usage_error(f"{where}: 'seed' must be a whole number")
        jobs.append((item["exercise"], item["answer"], seed))
    return jobs


class Command(BaseCommand):
    help = "Grade answers to exercises and print one JSON verdict per answer."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("exercise", nargs="?", help="exercise slug, .yaml file or folder")
        parser.add_argument("--answer-file", help="file holding the answer ('-' for stdin)")
        parser.add_argument("--seed", type=int, default=0, help="variant seed (default 0)")
        parser.add_argument("--batch", help='JSONL file: {"exercise", "answer", "seed"} per line')

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch"]:
            if options["exercise"] or options["answer_file"]:
                raise _usage_error("give either --batch FILE or EXERCISE --answer-file FILE")
            jobs = read_batch(options["batch"])
        else:
            if not options["exercise"] or not options["answer_file"]:
                raise _usage_error("usage: grade EXERCISE --answer-file FILE [--seed N]")
            jobs = [(options["exercise"], read_answer(options["answer_file"]), options["seed"])]
        specs = {exercise: load_spec(exercise) for exercise in dict.fromkeys(j[0] for j in jobs)}
        if any(spec.get("kind") in engine.SYMBOLIC_KINDS for spec in specs.values()):
            dispatch.warm_up()
        for number, (exercise, answer, seed) in enumerate(jobs, start=1):
            verdict = answer_grade(
                spec=specs[exercise],
                answer=answer.rstrip("\n"),
                seed=seed,
                context=f"answer={number} exercise={exercise}",
            )
            self.stdout.write(json.dumps(verdict.to_dict(), ensure_ascii=False))
