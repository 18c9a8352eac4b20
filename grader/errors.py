"""Why an answer, a draft or a hint request is not accepted: errors with a stable code and HTTP status.

Raised by grader.services.submission_create and grader.services_learner;
course.errors.RequestErrorMiddleware renders them. A wrong answer is never one of these: it is
graded, and its verdict says so.
"""

from __future__ import annotations

from typing import ClassVar

from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from course.errors import RateLimited, RequestError


class AnswerEmpty(RequestError):
    code: ClassVar[str] = "empty"
    http_status: ClassVar[int] = 400
    title: ClassVar[str] = _("No answer to check")

    def __init__(self) -> None:
        super().__init__(gettext("Write an answer before checking it."))


class AnswerTooLarge(RequestError):
    code: ClassVar[str] = "too_large"
    http_status: ClassVar[int] = 413
    title: ClassVar[str] = _("Answer too long")

    def __init__(self, *, size: int, limit: int) -> None:
        super().__init__(
            gettext(
                "Your answer is %(size)s characters; the limit is %(limit)s. Shorten it and check again."
            )
            % {
                "size": number_format(size, force_grouping=True),
                "limit": number_format(limit, force_grouping=True),
            }
        )
        self.size = size
        self.limit = limit


class PreviewRateLimited(RateLimited):
    code: ClassVar[str] = "preview_rate_limited"
    title: ClassVar[str] = _("Too many previews")

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(
            ngettext(
                "The preview cannot keep up with this many changes. It shows again in "
                "%(wait)d second; your answer is kept.",
                "The preview cannot keep up with this many changes. It shows again in "
                "%(wait)d seconds; your answer is kept.",
                retry_after,
            )
            % {"wait": retry_after},
            retry_after=retry_after,
        )


class AnswersRateLimited(RateLimited):
    """The learner's bucket of grading seconds is spent (grader.ratelimit); Retry-After says when."""

    title: ClassVar[str] = _("Grading time used up for now")

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(
            ngettext(
                "Your recent answers used up the grading time each learner gets for now. "
                "You can check again in %(wait)d second — your answer is kept.",
                "Your recent answers used up the grading time each learner gets for now. "
                "You can check again in %(wait)d seconds — your answer is kept.",
                retry_after,
            )
            % {"wait": retry_after},
            retry_after=retry_after,
        )


class DraftTooLarge(RequestError):
    code: ClassVar[str] = "draft_too_large"
    http_status: ClassVar[int] = 413
    title: ClassVar[str] = _("Draft too long")

    def __init__(self, *, size: int, limit: int) -> None:
        super().__init__(
            gettext(
                "Not saved: your draft is %(size)s characters; the limit is %(limit)s. "
                "It stays in this page until you shorten it."
            )
            % {
                "size": number_format(size, force_grouping=True),
                "limit": number_format(limit, force_grouping=True),
            }
        )


class DraftsRateLimited(RateLimited):
    title: ClassVar[str] = _("Too many saves")

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(
            gettext("Not saved yet: too many saves in a minute. Your next change saves it."),
            retry_after=retry_after,
        )


class HintLocked(RequestError):
    code: ClassVar[str] = "hint_locked"
    http_status: ClassVar[int] = 409
    title: ClassVar[str] = _("Hint locked")

    def __init__(self, *, wrong_attempts_needed: int) -> None:
        super().__init__(
            ngettext(
                "The hints of this exercise open after %(count)d more wrong attempt.",
                "The hints of this exercise open after %(count)d more wrong attempts.",
                wrong_attempts_needed,
            )
            % {"count": wrong_attempts_needed}
        )


class NoMoreHints(RequestError):
    code: ClassVar[str] = "no_more_hints"
    http_status: ClassVar[int] = 409
    title: ClassVar[str] = _("No more hints")

    def __init__(self) -> None:
        super().__init__(gettext("You have seen every hint of this exercise."))
