"""Show course content in the reader's language: the item's translation, or its English, marked.

An item's translations (`translations = {"zh-Hans": {...}}`, written by sync_course from the
files beside the English, course.translations) mirror its English fields. `localized(item,
"title")` returns the text for the active language and whether it is the English standing in for
a missing, incomplete or stale translation, which the page marks (course/templatetags/localize.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import translation

from course.translations import DJANGO_LANGUAGES

FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Localized:
    text: str
    english: bool  # the English, shown to a reader of another language: the page marks it


def content_language() -> str | None:
    """Return the content tag of the active language ("zh-Hans"), or None for English."""
    return DJANGO_LANGUAGES.get((translation.get_language() or "").lower())


MODEL_FIELDS = ("title", "summary", "skill", "body", "body_html")


def _english(item: Any, path: FieldPath) -> Any:
    """Return the English at path: a field of the item, or a place in an exercise's spec.

    Only the field asked for is read, so a row loaded with .only() loads nothing more.
    """
    if path and path[0] in MODEL_FIELDS:
        return lookup(getattr(item, str(path[0]), None), path[1:])
    return lookup(getattr(item, "spec", None), path)


def lookup(data: Any, path: FieldPath) -> Any:
    """Return the value at path in nested mappings and lists, or None where the path leaves it."""
    for part in path:
        if isinstance(part, int) and isinstance(data, list) and 0 <= part < len(data):
            data = data[part]
        elif isinstance(part, str) and isinstance(data, dict):
            data = data.get(part)
        else:
            return None
    return data


def translated_value(item: Any, path: FieldPath, language: str | None = None) -> Any:
    """Return the item's translation at path for the language (default: the active one)."""
    language = language or content_language()
    if language is None:
        return None
    translations = getattr(item, "translations", None) or {}
    return lookup(translations.get(language), path)


def localized(item: Any, *path: str | int) -> Localized:
    """Return the item's text at path (a field, or a path into an exercise's spec) for the reader."""
    english = _english(item, path)
    english_text = "" if english is None else str(english)
    language = content_language()
    if language is None:
        return Localized(english_text, False)
    found = translated_value(item, path, language)
    if isinstance(found, str) and found.strip():
        return Localized(found, False)
    return Localized(english_text, bool(english_text))


def localized_list(item: Any, *path: str | int) -> tuple[list[str], bool]:
    """Return a list of texts (an exercise's hints) for the reader, and whether it is the English."""
    english = _english(item, path)
    items = [str(value) for value in english] if isinstance(english, list) else []
    language = content_language()
    found = translated_value(item, path, language) if language else None
    if isinstance(found, list) and len(found) == len(items):
        return [str(value) for value in found], False
    return items, language is not None and bool(items)
