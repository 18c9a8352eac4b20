"""Template filters for course content in the reader's language (course.localize).

`{{ lesson|tr:"title" }}` is the text, escaped, followed by a small "English" badge (lang="en")
when the English stands in for a missing or stale translation; `{{ lesson|tr_text:"title" }}` is
the plain text, for a page title or a `blocktranslate ... with`; `{{ lesson|tr_html:"body_html" }}`
is already-sanitised HTML (a lesson's body, rendered at sync).
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language_info
from django.utils.translation import gettext as _

from course.localize import Localized, localized

register = template.Library()


def english_badge() -> SafeString:
    """Return the mark of English text on a page in another language."""
    return format_html(
        ' <span class="badge badge-english" lang="en" title="{}">{}</span>',
        _("Not translated yet: shown in English"),
        get_language_info("en")["name_local"],
    )


def _marked(found: Localized, html: SafeString) -> SafeString:
    if not found.english:
        return html
    return format_html('<span lang="en">{}</span>{}', html, english_badge())


def mark_english(html: str, english: bool) -> SafeString:
    """Return sanitised HTML, marked as English (lang="en" and a badge) when it stands in."""
    safe = mark_safe(html)  # noqa: S308 - callers pass HTML rendered by course.markdown
    if not english:
        return safe
    return format_html('<div lang="en">{}{}</div>', english_badge(), safe)


@register.filter
def tr(item: Any, field: str) -> SafeString:
    """Return the item's field in the reader's language, marked when it is the English."""
    found = localized(item, field)
    return _marked(found, format_html("{}", found.text))


@register.filter
def tr_text(item: Any, field: str) -> str:
    """Return the item's field in the reader's language, as plain text."""
    return localized(item, field).text


@register.filter
def tr_html(item: Any, field: str) -> SafeString:
    """Return sanitised HTML stored on the item (rendered at sync), marked when it is the English."""
    found = localized(item, field)
    return mark_english(found.text, found.english)  # body_html is rendered and sanitised at sync
