"""Errors a request can end in, each with a stable code and HTTP status, and the one place that renders them.

Views and services raise a RequestError; RequestErrorMiddleware turns it into the response: for an
htmx request the `alert` partial of templates/errors.html, swapped into whatever the request targets
(base.html's htmx-config lets htmx swap these statuses), and otherwise a full page that keeps what
the user posted, so nothing typed is lost. No view maps codes to statuses itself.
"""

from __future__ import annotations

from typing import ClassVar

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.deprecation import MiddlewareMixin
from django.utils.translation import gettext_lazy as _
from django_htmx.http import reswap


class RequestError(Exception):
    """A request that cannot be done as asked; the message says why, in words for the user."""

    code: ClassVar[str] = "bad_request"
    http_status: ClassVar[int] = 400
    title: ClassVar[str] = _("That could not be done")

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def headers(self) -> dict[str, str]:
        """Return the extra response headers this error sends."""
        return {}


class RateLimited(RequestError):
    """Too many requests of one kind in a short time; Retry-After says when to try again."""

    code: ClassVar[str] = "rate_limited"
    http_status: ClassVar[int] = 429
    title: ClassVar[str] = _("Too many requests")

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


# Form fields never offered back on the error page.
NOT_KEPT = frozenset({"csrfmiddlewaretoken"})


def request_error_response(request: HttpRequest, error: RequestError) -> HttpResponse:
    """Render a RequestError: a partial for htmx, else a page offering the posted fields again."""
    if getattr(request, "htmx", False):
        response = render(request, "errors.html#alert", {"error": error}, status=error.http_status)
        # Show the error inside the element the request targets and keep that element, so the
        # form that sent the request can send it again.
        reswap(response, "innerHTML")
    else:
        kept = {k: v for k, v in request.POST.items() if k not in NOT_KEPT}
        context = {"error": error, "kept": kept}
        response = render(request, "errors.html", context, status=error.http_status)
    for name, value in error.headers().items():
        response[name] = value
    return response


class RequestErrorMiddleware(MiddlewareMixin):
    """Render every RequestError a view raises (the one handler for them).

    A MiddlewareMixin, so it works in an async chain too (the ASGI server) without putting the
    requests after it in a thread.
    """

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RequestError):
            return request_error_response(request, exception)
        return None
