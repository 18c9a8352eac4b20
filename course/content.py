"""Read the course from its files under exercises/ and check their structure.

Every problem is reported with the file, the line and a plain message; nothing is written here.
Each file is parsed once (course.yaml_lines gives its data and the line of any field), and an
exercise's spec is checked by the validator the grader registers (settings.COURSE_SPEC_VALIDATOR),
whose problems name their field by path. Loading is pure (no database), so `sync_course`, the
grading CLI and the tests share it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import re
import uuid
from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from course.models import CatalogueItem, Exercise
from course.translations import (
    FRONT_MATTER,
    LANGUAGES,
    Translation,
    TranslationProblem,
    exercise_visible,
    glossary_problems,
    is_translation_file,
    module_visible,
    read_lesson_translation,
    read_yaml_translation,
    tracks_visible,
)
from course.yaml_lines import YamlFile, YamlSyntaxError, parse_yaml

EXERCISE_KINDS = ("expression", "matrix", "derivation", "code")
LESSON_DIR = re.compile(r"^(?P<order>\d+)-(?P<slug>[a-z0-9]+(?:-[a-z0-9]+)*)$")
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# What the database columns hold (PostgreSQL refuses longer values with a DataError).
TITLE_MAX = CatalogueItem._meta.get_field("title").max_length or 0
PATH_MAX = CatalogueItem._meta.get_field("source_path").max_length or 0
SLUG_MAX = Exercise._meta.get_field("slug").max_length or 0  # the same for every slugged kind
TEXT_MAX = {"title": TITLE_MAX, "slug": SLUG_MAX, "skill": TITLE_MAX}


def source_path(path: Path) -> str:
    """Return the file's absolute, resolved path as stored, so every way of syncing agrees.

    `sync_course exercises` and the default root must store the same text; PATH_MAX bounds it.
    """
    return str(path.resolve())


@dataclass
class Problem:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ContentError(Exception):
    """One or more course files are invalid; str() lists every problem with its file and line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class TrackFile:
    id: uuid.UUID
    slug: str
    title: str
    summary: str
    modules: list[str]
    path: Path
    order: int
    line: int = 1  # where its entry starts in tracks.yaml
    translations: dict[str, Translation] = field(default_factory=dict)


@dataclass
class ModuleFile:
    id: uuid.UUID
    slug: str
    title: str
    summary: str
    skill: str
    prerequisites: list[str]
    path: Path
    translations: dict[str, Translation] = field(default_factory=dict)


@dataclass
class LessonFile:
    id: uuid.UUID
    slug: str
    title: str
    body: str
    module: str
    order: int
    path: Path
    translations: dict[str, Translation] = field(default_factory=dict)


@dataclass
class ExerciseFile:
    id: uuid.UUID
    slug: str
    title: str
    kind: str
    spec: dict[str, Any]
    module: str
    lesson: str
    order: int
    published: bool
    path: Path
    source: YamlFile  # the file as parsed: its data (spec) and the line of each field
    translations: dict[str, Translation] = field(default_factory=dict)
    # What the spec validator vouched for: the file's bytes and the validator's own sources
    # (validated_hash); sync_course skips validating a file whose hash it has stored already.
    source_hash: str = ""


@dataclass
class Course:
    tracks: list[TrackFile] = field(default_factory=list)
    modules: list[ModuleFile] = field(default_factory=list)
    lessons: list[LessonFile] = field(default_factory=list)
    exercises: list[ExerciseFile] = field(default_factory=list)
    glossary_problems: list[TranslationProblem] = field(default_factory=list)

    def translation_problems(self) -> list[TranslationProblem]:
        """Return what is wrong with the course's translations (check_course reports these).

        A translation with a problem is not shown (learners see the English), so these do not
        stop a sync.
        """
        items: list[Any] = [*self.tracks, *self.modules, *self.lessons, *self.exercises]
        found = list(self.glossary_problems)
        seen: set[Path] = set()
        for item in items:
            for translation in item.translations.values():
                if translation.path not in seen:  # the tracks share tracks.yaml's translation
                    seen.add(translation.path)
                    found.extend(translation.problems)
        return found


class _Fields:
    """Read typed fields of one mapping in a YAML file, recording a Problem at each bad one's line."""

    def __init__(
        self,
        path: Path,
        source: YamlFile,
        problems: list[Problem],
        at: tuple[str | int, ...] = (),
        data: dict[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.source = source
        self.problems = problems
        self.at = at  # where the mapping is in the file: () for the whole file, ("tracks", 2)
        self.data: dict[str, Any] = source.data if data is None else data
        self.reported: set[str] = set()  # the keys a problem was recorded for

    def problem(self, key: str | None, message: str) -> None:
        """Record a problem at the key's line, or at the mapping's own line when key is None."""
        self.reported.add(key or "")
        self.problems.append(Problem(self.path, self.line(key), message))

    def line(self, key: str | int | None = None) -> int:
        return self.source.line(self.at if key is None else (*self.at, key))

    def text(self, key: str, *, required: bool = True, default: str = "") -> str:
        value = self.data.get(key)
        if value is None:
            if required:
                self.reported.add(key)
                self.problem(None, f"missing required field '{key}'")
            return default
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            self.problem(key, f"'{key}' must be text")
            return default
        text = str(value).strip()
        limit = TEXT_MAX.get(key)
        if limit and len(text) > limit:
            self.problem(key, f"'{key}' is {len(text)} characters long; at most {limit} fit")
        return text

    def uuid(self, key: str = "id") -> uuid.UUID:
        raw = self.text(key)
        try:
            return uuid.UUID(raw)
        except ValueError:
            if raw:
                self.problem(key, f"'{key}' must be a UUID such as {uuid.uuid4()}, not {raw!r}")
            return uuid.UUID(int=0)

    def slugs(self, key: str) -> list[str]:
        value = self.data.get(key, [])
        if value is None:
            return []
        if not isinstance(value, list) or not all(
            isinstance(v, str) and SLUG.match(v) for v in value
        ):
            self.problem(key, f"'{key}' must be a list of slugs")
            return []
        return list(value)

    def integer(self, key: str, default: int) -> int:
        value = self.data.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            self.problem(key, f"'{key}' must be a whole number")
            return default
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            self.problem(key, f"'{key}' must be true or false")
            return default
        return value

    def texts(self, key: str) -> None:
        """Check that a field is a list of non-empty texts, naming the line of each bad item."""
        items = self.data.get(key, [])
        if not isinstance(items, list):
            self.problem(key, f"'{key}' must be a list of texts, one per line starting with '- '")
            return
        for i, item in enumerate(items):
            if isinstance(item, str) and item.strip():
                continue
            why = (
                "YAML read it as a mapping because it contains ': ' — put the text in quotes"
                if isinstance(item, dict)
                else "it must be non-empty text"
            )
            self.reported.add(key)
            line = self.source.line((*self.at, key, i))
            self.problems.append(Problem(self.path, line, f"{key} item {i + 1} is not text: {why}"))

    def unknown_keys(self, allowed: set[str]) -> None:
        for key in self.data:
            if key not in allowed:
                self.problem(
                    str(key), f"unknown field '{key}' (allowed: {', '.join(sorted(allowed))})"
                )


def _read_text(path: Path, problems: list[Problem]) -> str | None:
    """Return the file's text, or record why it cannot be read (naming the line of a bad byte)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(Problem(path, 1, f"cannot read the file: {exc.strerror or exc}"))
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start]
        message = f"the file is not UTF-8 text (byte 0x{byte:02x} cannot be read); save it as UTF-8"
        problems.append(Problem(path, line, message))
        return None


def _read_yaml(
    path: Path, problems: list[Problem], text: str | None = None, *, line_offset: int = 0
) -> YamlFile | None:
    """Parse a YAML file (or the given text from it) once, into its data and its lines."""
    if text is None:
        text = _read_text(path, problems)
        if text is None:
            return None
    try:
        source = parse_yaml(text, line_offset=line_offset)
    except YamlSyntaxError as exc:
        problems.append(Problem(path, exc.line, f"not valid YAML: {exc.problem}"))
        return None
    if source.data is None:
        return replace(source, data={})
    if not isinstance(source.data, dict):
        problems.append(Problem(path, 1 + line_offset, "expected a mapping of fields"))
        return None
    return source


def _read_tracks(root: Path, problems: list[Problem]) -> list[TrackFile]:
    path = root / "tracks.yaml"
    if not path.exists():
        problems.append(Problem(path, 1, "missing: tracks.yaml lists the tracks and their modules"))
        return []
    source = _read_yaml(path, problems)
    if source is None:
        return []
    entries = source.data.get("tracks")
    if not isinstance(entries, list):
        _Fields(path, source, problems).problem("tracks", "'tracks' must be a list of tracks")
        return []
    tracks: list[TrackFile] = []
    for order, entry in enumerate(entries):
        line = source.line(("tracks", order))
        if not isinstance(entry, dict):
            problems.append(Problem(path, line, "each track must be a mapping of fields"))
            continue
        fields = _Fields(path, source, problems, ("tracks", order), entry)
        fields.unknown_keys({"id", "slug", "title", "summary", "modules"})
        slug = fields.text("slug")
        if slug and not SLUG.match(slug):
            fields.problem("slug", f"'{slug}' is not a slug (lowercase words joined by -)")
        track = TrackFile(
            id=fields.uuid(),
            slug=slug,
            title=fields.text("title"),
            summary=fields.text("summary"),
            modules=fields.slugs("modules"),
            path=path,
            order=order,
            line=line,
        )
        # Two entries of one file escape the cross-file id check, and a repeated id or slug would
        # make sync_course flip the row between them or break the live-slug constraint.
        for other in tracks:
            if track.id == other.id and track.id.int != 0:
                fields.problem("id", f"id {track.id} is already used by {path}:{other.line}")
            if slug and track.slug == other.slug:
                fields.problem(
                    "slug", f"track slug '{slug}' is also used by the track at line {other.line}"
                )
        tracks.append(track)
    _attach_tracks_translations(path, source, tracks)
    return tracks


def _attach_tracks_translations(path: Path, source: YamlFile, tracks: list[TrackFile]) -> None:
    """Give each track its entry of tracks.<language>.yaml (one file for all the tracks)."""
    for language in LANGUAGES:
        translation = read_yaml_translation(path, tracks_visible(source.data), language)
        if translation is None:
            continue
        entries = translation.fields.get("tracks")
        for track in tracks:
            entry = entries.get(track.slug) if isinstance(entries, dict) else None
            fields = entry if isinstance(entry, dict) else {}
            track.translations[language] = replace(translation, fields=fields)


def _read_module(folder: Path, problems: list[Problem]) -> ModuleFile | None:
    path = folder / "module.yaml"
    source = _read_yaml(path, problems)
    if source is None:
        return None
    fields = _Fields(path, source, problems)
    fields.unknown_keys({"id", "title", "summary", "skill", "prerequisites"})
    _check_name_length(folder.name, "folder", path, problems)
    translations = {
        language: found
        for language in LANGUAGES
        if (found := read_yaml_translation(path, module_visible(source.data), language))
    }
    return ModuleFile(
        id=fields.uuid(),
        slug=folder.name,
        title=fields.text("title"),
        summary=fields.text("summary"),
        skill=fields.text("skill"),
        prerequisites=fields.slugs("prerequisites"),
        path=path,
        translations=translations,
    )


def _read_lesson(folder: Path, module: str, problems: list[Problem]) -> LessonFile | None:
    match = LESSON_DIR.match(folder.name)
    path = folder / "lesson.md"
    if not match:
        problems.append(Problem(folder, 1, "a lesson folder is named NN-slug, e.g. 01-chain-rule"))
        return None
    if not path.exists():
        problems.append(Problem(path, 1, "missing: every lesson folder holds a lesson.md"))
        return None
    text = _read_text(path, problems)
    if text is None:
        return None
    front = FRONT_MATTER.match(text)
    if not front:
        problems.append(
            Problem(path, 1, "a lesson starts with front matter between two '---' lines")
        )
        return None
    source = _read_yaml(path, problems, front.group("meta"), line_offset=1)
    if source is None:
        return None
    fields = _Fields(path, source, problems)
    fields.unknown_keys({"id", "title"})
    _check_name_length(match.group("slug"), "folder", path, problems)
    body = text[front.end() :].strip()
    if not body:
        problems.append(
            Problem(path, text[: front.end()].count("\n") + 1, "the lesson has no text")
        )
    title = fields.text("title")
    translations = {
        language: found
        for language in LANGUAGES
        if (found := read_lesson_translation(path, title, body, language))
    }
    return LessonFile(
        id=fields.uuid(),
        slug=match.group("slug"),
        title=title,
        body=body,
        module=module,
        order=int(match.group("order")),
        path=path,
        translations=translations,
    )


def read_exercise(
    path: Path,
    problems: list[Problem],
    *,
    module: str = "",
    lesson: str = "",
    check_spec: bool = True,
    validated: Collection[str] = (),
) -> ExerciseFile | None:
    """Read one exercise file: the fields the catalogue keeps, then (with check_spec) the spec.

    The spec validator (settings.COURSE_SPEC_VALIDATOR) checks every field against the exercise
    schema and what the grader needs; each problem it names by path is reported at its line,
    unless a problem of the same field was already reported here. A file whose validated_hash is
    in `validated` passed this same validator before, byte for byte, and is not checked again.
    """
    text = _read_text(path, problems)
    if text is None:
        return None
    source = _read_yaml(path, problems, text)
    if source is None:
        return None
    digest = validated_hash(text)
    fields = _Fields(path, source, problems)
    slug = path.stem
    if not SLUG.match(slug):
        problems.append(
            Problem(
                path,
                1,
                f"the file name '{path.name}' must be <slug>.yaml, e.g. sigmoid-derivative.yaml",
            )
        )
    _check_name_length(slug, "file", path, problems)
    kind = fields.text("kind")
    if kind and kind not in EXERCISE_KINDS:
        fields.problem("kind", f"kind must be one of {', '.join(EXERCISE_KINDS)}, not '{kind}'")
    fields.text("prompt")
    fields.texts("hints")
    fields.text("solution", required=False)
    hint_after = fields.integer("hint_after", 0)
    if hint_after < 0:
        fields.problem("hint_after", "'hint_after' cannot be negative")
    exercise = ExerciseFile(
        id=fields.uuid(),
        slug=slug,
        title=fields.text("title"),
        kind=kind,
        spec=source.data,
        module=module,
        lesson=lesson,
        order=fields.integer("order", 1000),
        published=fields.boolean("published", True),
        path=path,
        source=source,
        translations={
            language: found
            for language in LANGUAGES
            if (found := read_yaml_translation(path, exercise_visible(source.data), language))
        },
        source_hash=digest,
    )
    validator = _spec_validator() if check_spec and digest not in validated else None
    if validator is not None:
        for found in validator(source.data):
            if (str(found.path[0]) if found.path else "") not in fields.reported:
                problems.append(Problem(path, source.line(found.path), found.message))
    return exercise


def exercise_files(lesson_folder: Path) -> list[Path]:
    """Return a lesson folder's exercise files: its .yaml files that are not translations."""
    return [p for p in sorted(lesson_folder.glob("*.yaml")) if not is_translation_file(p)]


def _check_name_length(slug: str, named_by: str, path: Path, problems: list[Problem]) -> None:
    """Refuse a slug taken from a folder or file name that is longer than the database keeps."""
    if len(slug) > SLUG_MAX:
        problems.append(
            Problem(
                path,
                1,
                f"the slug '{slug}' (the {named_by} name) is {len(slug)} characters long; "
                f"at most {SLUG_MAX} fit",
            )
        )


class FieldProblem(Protocol):
    """A field's path and a message: what the spec validator reports.

    The grader's SpecProblem has this shape; the course names the shape, not the class, since it
    does not import the grader.
    """

    @property
    def path(self) -> tuple[str | int, ...]: ...

    @property
    def message(self) -> str: ...


def _spec_validator() -> Callable[[dict[str, Any]], Sequence[FieldProblem]] | None:
    """Return the configured spec validator (settings.COURSE_SPEC_VALIDATOR), if any.

    The course app must not import the grader; the grader registers its validator through settings.
    """
    dotted = getattr(settings, "COURSE_SPEC_VALIDATOR", "")
    return import_string(dotted) if dotted else None


@functools.cache
def sources_fingerprint(dotted: str) -> bytes:
    """Return a digest of the Python sources the callable `dotted` lives in (empty: none named).

    That is its module, or the whole package when the module is one (grader.engine): a change to
    that code can change what it makes of a file, so it invalidates every hash stored with it.
    """
    if not dotted:
        return b""
    module = importlib.import_module(dotted.rsplit(".", 1)[0])
    roots = [Path(p) for p in getattr(module, "__path__", [])]
    files = [p for root in roots for p in root.rglob("*.py")] or [Path(module.__file__ or "")]
    digest = hashlib.sha256(dotted.encode())
    for path in sorted(files):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.digest()


def rendered_hash(body: str) -> str:
    """Return the hash of a lesson body under the Markdown renderer's sources."""
    fingerprint = sources_fingerprint("course.markdown.render_markdown")
    return hashlib.sha256(fingerprint + body.encode("utf-8")).hexdigest()


def validated_hash(text: str) -> str:
    """Return the hash of an exercise file's text under the configured validator's sources."""
    fingerprint = sources_fingerprint(getattr(settings, "COURSE_SPEC_VALIDATOR", ""))
    return hashlib.sha256(fingerprint + text.encode("utf-8")).hexdigest()


def load_course(
    root: Path | None = None, *, check_specs: bool = True, validated: Collection[str] = ()
) -> Course:
    """Read and cross-check every file of the course; raise ContentError listing all problems.

    check_specs=False skips the spec validator: only the course's structure is checked. Exercise
    files whose validated_hash is in `validated` are not validated again (sync_course passes the
    hashes it stored; check_course passes none and checks everything).
    """
    root = Path(root or settings.EXERCISES_DIR)
    problems: list[Problem] = []
    course = Course(tracks=_read_tracks(root, problems))
    for folder in sorted(
        p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
    ):
        if not (folder / "module.yaml").exists():
            problems.append(Problem(folder, 1, "a module folder holds a module.yaml"))
            continue
        module = _read_module(folder, problems)
        if module is None:
            continue
        course.modules.append(module)
        for lesson_folder in sorted(p for p in folder.iterdir() if p.is_dir()):
            lesson = _read_lesson(lesson_folder, module.slug, problems)
            if lesson is None:
                continue
            course.lessons.append(lesson)
            for path in exercise_files(lesson_folder):
                exercise = read_exercise(
                    path,
                    problems,
                    module=module.slug,
                    lesson=lesson.slug,
                    check_spec=check_specs,
                    validated=validated,
                )
                if exercise is not None:
                    course.exercises.append(exercise)
    _cross_check(course, root, problems)
    course.glossary_problems = glossary_problems(root)
    from course.track_rules import track_problems  # noqa: PLC0415 - it imports this module

    problems.extend(track_problems(course))
    if problems:
        raise ContentError(problems)
    return course


def _cross_check(course: Course, root: Path, problems: list[Problem]) -> None:
    seen_ids: dict[uuid.UUID, Path] = {}
    items: list[Any] = [*course.tracks, *course.modules, *course.lessons, *course.exercises]
    for path in dict.fromkeys(item.path for item in items):
        if len(source_path(path)) > PATH_MAX:
            problems.append(
                Problem(path, 1, f"the file's full path is longer than {PATH_MAX} characters")
            )
    for item in items:
        if item.id.int == 0:
            continue
        if item.id in seen_ids and seen_ids[item.id] != item.path:
            problems.append(
                Problem(item.path, 1, f"id {item.id} is already used by {seen_ids[item.id]}")
            )
        seen_ids.setdefault(item.id, item.path)
    module_slugs = {m.slug for m in course.modules}
    for track in course.tracks:
        for slug in track.modules:
            if slug not in module_slugs and not (root / slug).is_dir():
                problems.append(
                    Problem(
                        track.path,
                        1,
                        f"track '{track.slug}' lists module '{slug}', which has no folder",
                    )
                )
    for module in course.modules:
        for slug in module.prerequisites:
            if slug not in module_slugs and not (root / slug).is_dir():
                problems.append(Problem(module.path, 1, f"prerequisite '{slug}' is not a module"))
    _check_unique(
        course.lessons,
        lambda lesson: (lesson.module, lesson.slug),
        lambda lesson, first: (
            f"lesson slug '{lesson.slug}' is also used by {first} in module '{lesson.module}'"
        ),
        problems,
    )
    _check_unique(
        course.exercises,
        lambda exercise: exercise.slug,
        lambda exercise, first: f"exercise slug '{exercise.slug}' is also used by {first}",
        problems,
    )


def _check_unique(
    items: list[Any],
    key: Callable[[Any], Hashable],
    message: Callable[[Any, Path], str],
    problems: list[Problem],
) -> None:
    """Record a problem for each item whose key an earlier item has (message gets that one's path)."""
    first: dict[Hashable, Path] = {}
    for item in items:
        if key(item) in first:
            problems.append(Problem(item.path, 1, message(item, first[key(item)])))
        first.setdefault(key(item), item.path)


@dataclass
class CatalogueNames:
    """The names the live catalogue gives out now, each mapped to the id of the item holding it."""

    tracks: dict[str, uuid.UUID] = field(default_factory=dict)
    modules: dict[str, uuid.UUID] = field(default_factory=dict)
    # A lesson's name is its slug within its module: (module id, slug).
    lessons: dict[tuple[uuid.UUID, str], uuid.UUID] = field(default_factory=dict)
    exercises: dict[str, uuid.UUID] = field(default_factory=dict)


def check_name_takeovers(course: Course, live: CatalogueNames) -> list[Problem]:
    """Return a problem for each item taking a name that another item still in the course holds.

    Two file names swapped (each file keeping its id) would hand each item's address, and every
    link to it, to the other in one sync; a name may pass on only after its holder gave it up.
    """
    module_ids = {m.slug: m.id for m in course.modules}
    kinds: list[tuple[str, list[Any], Callable[[Any], Hashable], dict[Any, uuid.UUID]]] = [
        ("track", course.tracks, lambda t: t.slug, live.tracks),
        ("module", course.modules, lambda m: m.slug, live.modules),
        ("lesson", course.lessons, lambda le: (module_ids.get(le.module), le.slug), live.lessons),
        ("exercise", course.exercises, lambda e: e.slug, live.exercises),
    ]
    problems = []
    for kind, items, name_of, holders in kinds:
        by_id = {item.id: item for item in items}
        for item in items:
            holder_id = holders.get(name_of(item))
            holder = by_id.get(holder_id) if holder_id not in (None, item.id) else None
            if holder is None:
                continue
            line = item.line if isinstance(item, TrackFile) else 1
            problems.append(
                Problem(
                    item.path,
                    line,
                    f"{kind} '{item.slug}' takes the name of the {kind} now at {holder.path} "
                    f"(id {holder.id}), which the course still has: were the two names swapped? "
                    f"A name can pass to another {kind} only in a later sync, after its holder "
                    "has given it up",
                )
            )
    return problems


def load_exercise_path(path: Path | str) -> dict[str, Any]:
    """Return the spec of one exercise file, or of the single exercise in a folder."""
    path = Path(path)
    if path.is_dir():
        candidates = exercise_files(path)
        if len(candidates) != 1:
            raise ContentError(
                [
                    Problem(
                        path,
                        1,
                        f"expected exactly one exercise .yaml in this folder, found {len(candidates)}",
                    )
                ]
            )
        path = candidates[0]
    if not path.exists():
        raise ContentError([Problem(path, 1, "no such file")])
    problems: list[Problem] = []
    exercise = read_exercise(path, problems)
    if problems or exercise is None:
        raise ContentError(problems)
    return exercise.spec


def exercise_spec_by_slug(slug: str, root: Path | None = None) -> dict[str, Any]:
    """Return the spec of the exercise file named <slug>.yaml under the course folder."""
    root = Path(root or settings.EXERCISES_DIR)
    matches = sorted(root.glob(f"*/*/{slug}.yaml")) if SLUG.match(slug) else []
    if not matches:
        raise ContentError([Problem(root, 1, f"no exercise with slug '{slug}'")])
    return load_exercise_path(matches[0])
