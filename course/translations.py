"""Read and check the course's translations: files beside the English ones, named by language.

`lesson.zh-Hans.md` translates `lesson.md`; `<name>.zh-Hans.yaml` translates `<name>.yaml` (an
exercise, `module.yaml`, `tracks.yaml`) and holds only the learner-visible text fields, mirroring
the English structure (exercises/README.md, "Translations"). Each records `source:`, the first 12
hex digits of the SHA-256 of the English file's bytes when it was translated; a different hash now
means the English changed after it: the translation is stale.

A translation is used only when it is complete, its placeholders ({{a}}), math (the same
formulas in any order, identical but for the words inside \\text{}) and backticked answers match
the English, its lists mirror the English lists, and it is not stale; anything else is a Problem
with its file and line, and the learner sees the English item, marked as English. Pure: no database (course.content calls this).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course.yaml_lines import YamlFile, YamlSyntaxError, parse_yaml

# The content languages: the tag in file names and in the stored `translations` of an item.
LANGUAGES = ("zh-Hans",)
# Django's language code (settings.LANGUAGES) -> the content tag.
DJANGO_LANGUAGES = {"zh-hans": "zh-Hans"}
HASH_DIGITS = 12
GLOSSARY = "glossary.{language}.yaml"
FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<meta>.*?\n)---[ \t]*\n", re.DOTALL)
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
TEXT_COMMAND = re.compile(r"\\text\{[^{}]*\}")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
# The learner-visible keys of a code exercise's checks (stability, speed, ...).
CHECK_TEXT_KEYS = ("name", "describe", "feedback")


@dataclass
class TranslationProblem:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class Translation:
    """One translation file as read: its fields (mirroring the English) and what is wrong with it."""

    language: str
    path: Path
    fields: dict[str, Any]
    problems: list[TranslationProblem] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return not self.problems


def source_hash(data: bytes) -> str:
    """Return the hash a translation records of its English file (12 hex digits of SHA-256)."""
    return hashlib.sha256(data).hexdigest()[:HASH_DIGITS]


def translation_path(english: Path, language: str) -> Path:
    """Return where the translation of an English course file lives: x.yaml -> x.zh-Hans.yaml."""
    return english.with_name(f"{english.stem}.{language}{english.suffix}")


def is_translation_file(path: Path) -> bool:
    """Say whether a course file is a translation (its name ends in .<language>.<ext>)."""
    return any(path.stem.endswith(f".{language}") for language in LANGUAGES)


def glossary_path(root: Path, language: str) -> Path:
    return root / GLOSSARY.format(language=language)


# --- what an English file has to translate -------------------------------------------------------


def exercise_visible(spec: dict[str, Any]) -> dict[str, Any]:
    """Return the learner-visible text of an exercise, in the shape its translation mirrors."""
    visible: dict[str, Any] = {"title": spec.get("title"), "prompt": spec.get("prompt")}
    visible["hints"] = list(spec.get("hints") or [])
    if isinstance(spec.get("solution"), str):
        visible["solution"] = spec["solution"]
    if spec.get("mistakes"):
        visible["mistakes"] = [_item_text(m, "feedback") for m in spec["mistakes"]]
    if spec.get("kind") == "derivation" and spec.get("milestones"):
        visible["milestones"] = [_item_text(m, "step") for m in spec["milestones"]]
    if spec.get("kind") == "code":
        if spec.get("tests"):
            visible["tests"] = [
                {"name": t["name"]} if isinstance(t, dict) and t.get("name") else None
                for t in spec["tests"]
            ]
        checks = _texts_under(spec.get("checks"), CHECK_TEXT_KEYS)
        if checks:
            visible["checks"] = checks
        subgradient = spec.get("subgradient")
        if isinstance(subgradient, dict) and isinstance(subgradient.get("note"), str):
            visible["subgradient"] = {"note": subgradient["note"]}
    return {key: value for key, value in visible.items() if value is not None}


def _item_text(item: Any, key: str) -> dict[str, Any] | None:
    return {key: item[key]} if isinstance(item, dict) and isinstance(item.get(key), str) else None


def _texts_under(value: Any, keys: tuple[str, ...]) -> Any:
    """Keep the text keys (and whatever holds them) of a nested mapping; None when there are none."""
    if isinstance(value, dict):
        kept = {}
        for key, inner in value.items():
            if key in keys and isinstance(inner, str):
                kept[key] = inner
            elif isinstance(inner, dict | list):
                found = _texts_under(inner, keys)
                if found:
                    kept[key] = found
        return kept or None
    if isinstance(value, list):
        items = [_texts_under(item, keys) for item in value]
        return items if any(item is not None for item in items) else None
    return None


def module_visible(data: dict[str, Any]) -> dict[str, Any]:
    return {key: data[key] for key in ("title", "summary", "skill") if data.get(key)}


def tracks_visible(data: dict[str, Any]) -> dict[str, Any]:
    tracks = {}
    for entry in data.get("tracks") or []:
        if isinstance(entry, dict) and entry.get("slug"):
            tracks[entry["slug"]] = {
                key: entry[key] for key in ("title", "summary") if entry.get(key)
            }
    return {"tracks": tracks}


# --- reading ------------------------------------------------------------------------------------


def read_yaml_translation(
    english_path: Path, visible: dict[str, Any], language: str
) -> Translation | None:
    """Read and check the translation of a YAML course file, if there is one."""
    path = translation_path(english_path, language)
    if not path.exists():
        return None
    problems: list[TranslationProblem] = []
    translation = Translation(language, path, {}, problems)
    try:
        source = parse_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(TranslationProblem(path, 1, f"cannot read the translation: {exc}"))
        return translation
    except YamlSyntaxError as exc:
        problems.append(TranslationProblem(path, exc.line, f"not valid YAML: {exc.problem}"))
        return translation
    if not isinstance(source.data, dict):
        problems.append(TranslationProblem(path, 1, "expected a mapping of fields"))
        return translation
    data = dict(source.data)
    recorded = data.pop("source", None)
    translation.fields = data
    _check_source(english_path, recorded, path, source.line(("source",)), problems)
    _compare(visible, data, (), source, path, problems)
    return translation


def read_lesson_translation(
    english_path: Path, title: str, body: str, language: str
) -> Translation | None:
    """Read and check a lesson's translation (front matter title and source, then the body)."""
    path = translation_path(english_path, language)
    if not path.exists():
        return None
    problems: list[TranslationProblem] = []
    translation = Translation(language, path, {}, problems)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(TranslationProblem(path, 1, f"cannot read the translation: {exc}"))
        return translation
    front = FRONT_MATTER.match(text)
    if not front:
        problems.append(
            TranslationProblem(path, 1, "a lesson starts with front matter between two '---' lines")
        )
        return translation
    try:
        source = parse_yaml(front.group("meta"), line_offset=1)
    except YamlSyntaxError as exc:
        problems.append(TranslationProblem(path, exc.line, f"not valid YAML: {exc.problem}"))
        return translation
    meta = source.data if isinstance(source.data, dict) else {}
    body_line = text[: front.end()].count("\n") + 1
    fields = {"title": meta.get("title"), "body": text[front.end() :].strip()}
    translation.fields = fields
    _check_source(english_path, meta.get("source"), path, source.line(("source",)), problems)
    for key in meta:
        if key not in ("title", "source"):
            problems.append(TranslationProblem(path, source.line((key,)), f"unknown field '{key}'"))
    lines = {"title": source.line(("title",)), "body": body_line}
    _compare({"title": title, "body": body}, fields, (), None, path, problems, lines)
    return translation


def _check_source(
    english_path: Path,
    recorded: Any,
    path: Path,
    line: int,
    problems: list[TranslationProblem],
) -> None:
    current = source_hash(english_path.read_bytes())
    if recorded is None:
        problems.append(
            TranslationProblem(
                path,
                1,
                f"missing 'source': the hash of the English file it translates ({current} now)",
            )
        )
    elif str(recorded) != current:
        problems.append(
            TranslationProblem(
                path,
                line,
                f"stale: translated from source {recorded}, but {english_path.name} is now "
                f"{current}; bring the translation up to date, then write source: {current}",
            )
        )


def _compare(
    english: Any,
    translated: Any,
    at: tuple[str | int, ...],
    source: YamlFile | None,
    path: Path,
    problems: list[TranslationProblem],
    lines: dict[str, int] | None = None,
) -> None:
    """Check that translated mirrors english: same keys, list lengths, placeholders and math."""

    def line() -> int:
        if lines is not None and at:
            return lines.get(str(at[0]), 1)
        return source.line(at) if source is not None else 1

    where = _where(at)
    if isinstance(english, dict):
        if not isinstance(translated, dict):
            problems.append(
                TranslationProblem(path, line(), f"{where or 'the file'}: expected a mapping")
            )
            return
        for key, value in english.items():
            if key not in translated or translated[key] in (None, ""):
                name = _where((*at, key))
                problems.append(TranslationProblem(path, line(), f"{name}: missing translation"))
                continue
            _compare(value, translated[key], (*at, key), source, path, problems, lines)
        for key in translated:
            if key not in english:
                problems.append(
                    TranslationProblem(
                        path,
                        source.line((*at, key)) if source is not None else 1,
                        f"{_where((*at, key))}: not a field to translate here",
                    )
                )
        return
    if isinstance(english, list):
        if not isinstance(translated, list) or len(translated) != len(english):
            count = len(translated) if isinstance(translated, list) else "not a list"
            problems.append(
                TranslationProblem(
                    path,
                    line(),
                    f"{where}: the English has {len(english)} items, the translation {count}; "
                    "keep the same items in the same order",
                )
            )
            return
        for index, (value, item) in enumerate(zip(english, translated, strict=True)):
            if value is None and item is None:
                continue
            if value is None:
                problems.append(
                    TranslationProblem(
                        path,
                        source.line((*at, index)) if source is not None else 1,
                        f"{_where((*at, index))}: the English item has no text; write null",
                    )
                )
                continue
            if item is None:
                problems.append(
                    TranslationProblem(path, line(), f"{_where((*at, index))}: missing translation")
                )
                continue
            _compare(value, item, (*at, index), source, path, problems, lines)
        return
    if not isinstance(translated, str | int | float) or isinstance(translated, bool):
        problems.append(TranslationProblem(path, line(), f"{where}: must be text"))
        return
    for message in text_mismatches(str(english), str(translated)):
        problems.append(TranslationProblem(path, line(), f"{where}: {message}"))


def _where(at: tuple[str | int, ...]) -> str:
    text = ""
    for part in at:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def math_of(text: str) -> list[str]:
    """Return the TeX of each math span, with the words inside \\text{} left out."""
    spans = []
    for match in MATH.finditer(text):
        tex = next(group for group in match.groups() if group is not None)
        spans.append(" ".join(TEXT_COMMAND.sub(r"\\text{}", tex).split()))
    return spans


def text_mismatches(english: str, translated: str) -> list[str]:
    """Return how a translated text fails to keep the English's placeholders, math and code."""
    found = []
    wanted, got = set(PLACEHOLDER.findall(english)), set(PLACEHOLDER.findall(translated))
    if wanted != got:
        found.append(
            f"placeholders differ: the English has {_listed(wanted)}, the translation {_listed(got)}"
        )
    # The same formulas, each as often, in any order: Chinese word order often puts a formula
    # elsewhere in the sentence ("row $n$ of $X$" is "$X$ 的第 $n$ 行").
    english_math, translated_math = Counter(math_of(english)), Counter(math_of(translated))
    if english_math != translated_math:
        changed = sorted((translated_math - english_math).elements())
        lost = sorted((english_math - translated_math).elements())
        detail = (f"not in the English: {_quoted(changed)}; " if changed else "") + (
            f"missing: {_quoted(lost)}" if lost else ""
        )
        found.append(f"the math differs from the English ({detail.rstrip('; ')})")
    english_code, translated_code = (
        set(CODE_SPAN.findall(english)),
        set(CODE_SPAN.findall(translated)),
    )
    if english_code != translated_code:
        lost_code = sorted(english_code - translated_code)
        extra_code = sorted(translated_code - english_code)
        parts = []
        if lost_code:
            parts.append(f"missing {_quoted(lost_code)}")
        if extra_code:
            parts.append(f"not in the English {_quoted(extra_code)}")
        found.append(f"the code in backticks must stay as in the English ({'; '.join(parts)})")
    return found


def _listed(names: set[str]) -> str:
    return ", ".join("{{" + n + "}}" for n in sorted(names)) if names else "none"


def _quoted(items: list[str]) -> str:
    return ", ".join(repr(item) for item in items)


# --- the glossary -------------------------------------------------------------------------------


def glossary_problems(root: Path) -> list[TranslationProblem]:
    """Check each language's glossary: `terms:` maps an English term to one rendering (+ notes)."""
    problems: list[TranslationProblem] = []
    for language in LANGUAGES:
        path = glossary_path(root, language)
        if not path.exists():
            continue
        try:
            source = parse_yaml(path.read_text(encoding="utf-8"))
        except YamlSyntaxError as exc:
            problems.append(TranslationProblem(path, exc.line, f"not valid YAML: {exc.problem}"))
            continue
        terms = source.data.get("terms") if isinstance(source.data, dict) else None
        if not isinstance(terms, dict) or not terms:
            problems.append(TranslationProblem(path, 1, "expected 'terms:', a mapping of terms"))
            continue
        for term, rendering in terms.items():
            # A rendering, or a mapping holding it beside its `notes`.
            texts = [rendering] if not isinstance(rendering, dict) else list(rendering.values())
            if not any(isinstance(text, str) and text.strip() for text in texts):
                problems.append(
                    TranslationProblem(
                        path,
                        source.line(("terms", term)),
                        f"term '{term}': give its one rendering as text",
                    )
                )
    return problems


def usable_fields(translations: dict[str, Translation]) -> dict[str, dict[str, Any]]:
    """Return {language: fields} of the translations that can be shown to learners."""
    return {language: t.fields for language, t in translations.items() if t.usable}
