"""Tracks stand alone: everything a track's modules point a learner to is in that track.

A learner follows one track. A module that sends them to a module their track never shows (as a
prerequisite, or in the text of a lesson or exercise) leaves them stranded, so every reference from a
module must land in a module of every track that lists it: inside the track, or in a module both
tracks share. A prerequisite must also come earlier in the track than the module that needs it.

What counts as a reference from module M to module N (N not M):

- a prerequisite: N listed under `prerequisites:` in M's module.yaml;
- a link in the Markdown of M's lessons or exercise files, `[text](target)`, whose target has N's
  slug as a path segment (`../N/01-x/lesson.md`, `/modules/N/x/`) or names one of N's exercises by
  slug as a segment (`/exercises/N-exercise-slug/`);
- a mention that names N as a module: N's slug alone in parentheses or backticks (`(N)`, `` `N` ``),
  or "the N module", "the N modules", "module on N", "modules on N", where N is written as its slug,
  its slug with spaces for hyphens, or its title (any case).

Fenced code blocks (in lessons, and in exercises' Markdown such as a solution) are skipped. A
module that no track lists has no track to stand in and is not checked; nor are references to a
name that is not a module (the loader reports those).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from course.content import Course, ModuleFile, Problem

LINK = re.compile(r"\[[^\]\n]*\]\(\s*<?(?P<target>[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def track_problems(course: Course) -> list[Problem]:
    """Return a problem, at the file and line of the reference, for each one that leaves a track."""
    tracks_of: dict[str, list[str]] = {}
    position: dict[tuple[str, str], int] = {}
    for track in course.tracks:
        for index, slug in enumerate(track.modules):
            tracks_of.setdefault(slug, []).append(track.slug)
            position.setdefault((track.slug, slug), index)
    modules = {m.slug: m for m in course.modules}
    problems: list[Problem] = []
    for module in course.modules:
        if module.slug not in tracks_of:
            continue
        for target, line in _prerequisites(module):
            if target not in modules or target == module.slug:
                continue  # the loader reports a prerequisite that is not a module
            problems.extend(
                _check(module, target, module.path, line, "lists the prerequisite", tracks_of)
            )
            for track in tracks_of[module.slug]:
                before = position.get((track, target))
                if before is not None and before > position[(track, module.slug)]:
                    problems.append(
                        Problem(
                            module.path,
                            line,
                            f"module '{module.slug}' lists the prerequisite '{target}', which "
                            f"comes after it in track '{track}': move '{target}' earlier in "
                            "tracks.yaml",
                        )
                    )
    exercise_module = {e.slug: e.module for e in course.exercises}
    mentions = _mention_patterns(modules)
    texts = [(lesson.module, lesson.path) for lesson in course.lessons]
    texts += [(exercise.module, exercise.path) for exercise in course.exercises]
    for owner, path in texts:
        module = modules.get(owner)
        if module is None or owner not in tracks_of:
            continue
        for target, line, how in text_references(path, modules, exercise_module, mentions):
            if target != owner:
                problems.extend(_check(module, target, path, line, how, tracks_of))
    return problems


def _check(
    module: ModuleFile,
    target: str,
    path: Path,
    line: int,
    how: str,
    tracks_of: dict[str, list[str]],
) -> list[Problem]:
    missing = [t for t in tracks_of[module.slug] if t not in tracks_of.get(target, [])]
    if not missing:
        return []
    where = ", ".join(f"'{t}'" for t in missing)
    track_word = "track" if len(missing) == 1 else "tracks"
    return [
        Problem(
            path,
            line,
            f"module '{module.slug}' {how} '{target}', which is not in {track_word} {where} "
            f"with '{module.slug}': replace the reference or add '{target}' to the {track_word}",
        )
    ]


def _prerequisites(module: ModuleFile) -> Iterator[tuple[str, int]]:
    """Yield each prerequisite with the line of module.yaml that names it."""
    try:
        lines = module.path.read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    start = next((i for i, text in enumerate(lines) if text.startswith("prerequisites")), 0)
    for slug in module.prerequisites:
        pattern = re.compile(rf"(?<![a-z0-9-]){re.escape(slug)}(?![a-z0-9-])")
        found = next((i for i in range(start, len(lines)) if pattern.search(lines[i])), start)
        yield slug, found + 1


def _names(module: ModuleFile) -> list[str]:
    """The ways prose names a module: its slug, the slug with spaces, its title."""
    names = {module.slug, module.slug.replace("-", " ")}
    if module.title:
        names.add(module.title)
    return sorted(names, key=len, reverse=True)


def _mention_patterns(modules: dict[str, ModuleFile]) -> list[tuple[str, re.Pattern[str]]]:
    """One pattern per module matching the prose that names it as a module."""
    mention_patterns = []
    for slug, module in modules.items():
        names = "|".join(re.escape(name).replace(r"\ ", r"\s+") for name in _names(module))
        slug_alone = rf"\(\s*{re.escape(slug)}\s*\)|`{re.escape(slug)}`"
        named = (
            rf"\bthe\s+(?:{names})\s+modules?\b|\bmodules?\s+(?:on|about|called)\s+(?:the\s+)?"
            rf"(?:{names})(?![a-z0-9-])"
        )
        mention_patterns.append((slug, re.compile(rf"{slug_alone}|{named}", re.IGNORECASE)))
    return mention_patterns


def text_references(
    path: Path,
    modules: dict[str, ModuleFile],
    exercise_module: dict[str, str],
    mention_patterns: list[tuple[str, re.Pattern[str]]],
) -> Iterator[tuple[str, int, str]]:
    """Yield (module slug, line, how) for each reference to a module in a lesson or exercise file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    in_fence = False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        for link in LINK.finditer(line):
            segments = [s for s in re.split(r"[/#?]", link.group("target")) if s]
            for segment in segments:
                if segment in modules:
                    yield segment, number, "links to module"
                    break
                if segment.removesuffix(".yaml") in exercise_module:
                    yield exercise_module[segment.removesuffix(".yaml")], number, "links to module"
                    break
        # A mention holds the word "module" or a module's slug (each pattern needs one of them):
        # most lines hold neither, and two substring tests rule them out.
        lowered = line.lower()
        if "module" in lowered or any(slug in lowered for slug, _pattern in mention_patterns):
            for slug, pattern in mention_patterns:
                if pattern.search(line):
                    yield slug, number, "refers to module"
