"""Arrange a stored verdict for the page: headline, tone, and feedback Markdown rendered as HTML.

Presentation lives here, not in the models: the exercise page, the live status block and the
instructor's bench reach it through the `feedback` filter (grader/templatetags/verdicts.py).

Every message is said in the reader's language: the grader's words are rebuilt from the stored
template and parameters (`gettext(template) % params`, grader.engine.types), an author's words
(a known mistake's feedback, a milestone) come from the exercise's translation, and a message
stored without either (an older verdict) is shown as its English text.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any

from django.template.loader import get_template
from django.utils import timezone, translation
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from course.localize import content_language, translated_value
from course.markdown import render_markdown
from course.models import Exercise
from course.templatetags.localize import english_badge
from grader.engine.types import Authored, Phrase, Preview, render_phrase
from grader.models import Submission

HEADLINES = {
    "correct": (_("Correct"), "success"),
    "incorrect": (_("Not yet right"), "danger"),
    "invalid": (_("Your answer could not be read — not counted as an attempt"), "warning"),
    "undetermined": (
        _("The grader could not decide — not counted as an attempt; the exercise's author is told"),
        "warning",
    ),
    "timeout": (_("Too slow: your code ran out of time"), "danger"),
    "error": (_("Could not be graded — not counted against you"), "warning"),
}
PRACTICE_HEADLINES = {
    True: (_("Every visible test passed — not counted as an attempt"), "success"),
    False: (_("Visible tests run — not counted as an attempt"), "warning"),
}
# Headlines for an unread answer that was read after all, by the code of its first message: the
# message follows the headline ("Wrong shape — not counted as an attempt: your answer is 1×n, …").
HEADLINES_BY_CODE = {
    "wrong_shape": (_("Wrong shape — not counted as an attempt"), "warning"),
}
# Messages the headline already says, and the counterexample shown as a table instead.
REDUNDANT_MESSAGES = frozenset({"correct", "incorrect"})


def inline_markdown(text: str) -> SafeString:
    """Render a feedback message (Markdown with $math$, as authors write it) as inline HTML."""
    html = render_markdown(text).strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]
    return mark_safe(html)  # noqa: S308 - render_markdown escapes raw HTML and sanitises


def _author_text(exercise: Exercise | None) -> Any:
    def text(authored: Authored) -> str:
        found = translated_value(exercise, tuple(authored["source"])) if exercise else None
        return found if isinstance(found, str) and found.strip() else authored["text"]

    return text


def message_text(message: dict[str, Any], exercise: Exercise | None = None) -> tuple[str, bool]:
    """Return a stored message in the reader's language, and whether it is English standing in.

    The second value is True only for an author's text that the exercise's translation lacks.
    """
    english = str(message.get("text", ""))
    if message.get("template"):
        words = Phrase(template=message["template"], params=dict(message.get("params") or {}))
        return render_phrase(words, gettext, _author_text(exercise)), False
    source = message.get("source")
    if source and content_language() is not None:
        found = translated_value(exercise, tuple(source)) if exercise else None
        if isinstance(found, str) and found.strip():
            return found, False
        return english, True
    return english, False


def words_text(words: Phrase | None, english: str) -> str:
    """Return stored words (a Phrase) in the reader's language, or the English without them."""
    return render_phrase(words, gettext) if words else english


def preview_for_reader(preview: Preview) -> Preview:
    """Return the live preview with its error said in the reader's language."""
    error = preview.get("error")
    if not error or not error.get("words"):
        return preview
    return Preview(
        ok=preview["ok"],
        latex=preview["latex"],
        error={**error, "text": words_text(error["words"], error["text"])},
    )


def _message_entry(
    message: dict[str, Any], exercise: Exercise | None, diagnosis: str | None
) -> dict[str, Any]:
    text, english = message_text(message, exercise)
    html = inline_markdown(text)
    return {
        **message,
        "text": text,
        "html": format_html("{}{}", html, english_badge()) if english else html,
        "english": english,
        "diagnosis": message.get("code") == diagnosis,
    }


def test_name(name: str, exercise: Exercise | None) -> str:
    """Return a code test's or check's name in the reader's language.

    An author's name comes from the exercise's translation (the test or check with that English
    name); a check's default name is the grader's, in the catalog.
    """
    spec = exercise.spec if exercise is not None else {}
    for index, test in enumerate(spec.get("tests") or []):
        if isinstance(test, dict) and test.get("name") == name:
            found = translated_value(exercise, ("tests", index, "name"))
            return found if isinstance(found, str) and found.strip() else name
    for check, settings in (spec.get("checks") or {}).items():
        if isinstance(settings, dict) and settings.get("name") == name:
            found = translated_value(exercise, ("checks", check, "name"))
            return found if isinstance(found, str) and found.strip() else name
    return gettext(name) if name else name


def _test_entry(test: dict[str, Any], exercise: Exercise | None) -> dict[str, Any]:
    return {
        **test,
        "name": test_name(str(test.get("name", "")), exercise),
        "message": words_text(test.get("words"), str(test.get("message", ""))),
    }


def submission_feedback(submission: Submission) -> dict[str, Any] | None:
    """Return the verdict arranged for the page: headline, tone, messages, reading, tests."""
    if not submission.verdict:
        return None
    verdict = submission.verdict
    status = verdict.get("status", "error")
    headline, tone = HEADLINES.get(status, HEADLINES["error"])
    tests = verdict.get("tests")
    if verdict.get("practice") and tests is not None and status in ("correct", "incorrect"):
        headline, tone = PRACTICE_HEADLINES[status == "correct"]
    counterexample = verdict.get("counterexample") or None
    # Compared in English, as stored, before either is said in the reader's language.
    in_table = _rows_said(tests)
    if counterexample and counterexample.get("text"):
        text = words_text(counterexample.get("words"), counterexample["text"])
        counterexample = {**counterexample, "text": text}
    exercise = submission.exercise
    shown = list(verdict.get("messages", []))
    headline_detail = None
    if status == "invalid" and shown and shown[0].get("code") in HEADLINES_BY_CODE:
        headline, tone = HEADLINES_BY_CODE[shown[0]["code"]]
        text, _english = message_text(shown.pop(0), exercise)
        headline_detail = inline_markdown(text[:1].lower() + text[1:])
    messages = [
        _message_entry(message, exercise, verdict.get("diagnosis"))
        for message in shown
        if message.get("code") not in REDUNDANT_MESSAGES
        and not (counterexample and message.get("code") == "counterexample")
        and not _repeats_a_row(str(message.get("text", "")), in_table)
    ]
    tests = [_test_entry(test, exercise) for test in verdict.get("tests") or []] or None
    return {
        "status": status,
        "practice": bool(verdict.get("practice")),
        "tracebacks": _tracebacks(tests),
        "headline": headline,
        "headline_detail": headline_detail,
        "tone": tone,
        "score_percent": round(100 * float(verdict.get("score") or 0.0)),
        "messages": messages,
        "parsed": verdict.get("parsed"),
        "counterexample": counterexample,
        "tests": tests,
        "tests_passed": sum(1 for t in tests if t.get("passed")) if tests else 0,
    }


def _rows_said(tests: list[dict[str, Any]] | None) -> list[tuple[str, str]]:
    """Return (name, message) of each failing test whose row shows its message."""
    return [
        (str(test.get("name", "")), str(test.get("message", "")))
        for test in tests or []
        if not test.get("passed") and not test.get("hidden")
    ]


def _repeats_a_row(text: str, rows: list[tuple[str, str]]) -> bool:
    """Say whether a message only repeats a failing test's row of the table (its name and words)."""
    return any(
        name and message and name in text and text.endswith(message) for name, message in rows
    )


def _tracebacks(tests: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Return each distinct traceback of the failing tests once, with the tests that raised it."""
    found: dict[str, list[str]] = {}
    for test in tests or []:
        trace = str(test.get("traceback") or "")
        if trace and not test.get("hidden"):
            found.setdefault(trace, []).append(str(test.get("name", "")))
    return [{"text": trace, "tests": names} for trace, names in found.items()]


# A settled submission's entry in the history never changes, yet the history is rendered again
# with every verdict and page view (GRADER_HISTORY_LENGTH entries, each with its whole verdict):
# each web process keeps the HTML of the last HISTORY_ITEMS_KEPT entries and verdicts it rendered
# (a few MB).
HISTORY_ITEMS_KEPT = 4096


class _Rendered:
    """A bounded least-recently-used map from key to HTML, shared by a process's threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[Any, ...], str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> str | None:
        with self._lock:
            html = self._items.get(key)
            if html is not None:
                self._items.move_to_end(key)
            return html

    def put(self, key: tuple[Any, ...], html: str) -> None:
        with self._lock:
            self._items[key] = html
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_rendered = _Rendered(HISTORY_ITEMS_KEPT)


def _exercise_key(exercise: Exercise) -> tuple[Any, ...]:
    """Return what of an exercise its verdicts' wording depends on: spec and translations."""
    cached = getattr(exercise, "_rendering_key", None)
    if cached is None:
        translations = json.dumps(exercise.translations, sort_keys=True, ensure_ascii=False)
        digest = hashlib.blake2b(translations.encode(), digest_size=12).hexdigest()
        cached = (exercise.pk, exercise.source_hash, digest)
        exercise._rendering_key = cached  # type: ignore[attr-defined]
    return cached


def history_item_html(submission: Submission) -> str:
    """Return the HTML of one history entry; a settled one is rendered once per process."""
    return _settled_html("grader/submission.html#history_item", "item", submission)


def verdict_html(submission: Submission) -> str:
    """Return the HTML of a submission's verdict; a settled one's is rendered once per process.

    The verdict shown for a check and the same verdict inside its history entry are one render.
    """
    return _settled_html("grader/submission.html#verdict", "submission", submission)


def _settled_html(template_name: str, name: str, submission: Submission) -> str:
    """Render template_name with the submission as name, keeping the HTML of a settled one.

    Its key holds everything the HTML depends on: the submission's settled state, the reader's
    language and time zone, and the exercise's spec and translations.
    """
    if submission.is_pending:
        return get_template(template_name).render({name: submission})
    key = (
        template_name,
        submission.pk,
        submission.status,
        submission.finished_at,
        submission.attempt_number,
        translation.get_language(),
        timezone.get_current_timezone_name(),
        _exercise_key(submission.exercise),
    )
    html = _rendered.get(key)
    if html is None:
        html = get_template(template_name).render({name: submission})
        _rendered.put(key, html)
    return html
