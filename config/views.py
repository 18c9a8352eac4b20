"""Site-wide views that belong to no app."""

from __future__ import annotations

from functools import cache

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

FAVICON = "img/favicon.ico"


@cache
def _favicon_bytes() -> bytes:
    found = finders.find(FAVICON)
    if not found:
        raise FileNotFoundError(FAVICON)
    with open(found, "rb") as icon:
        return icon.read()


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Serve /favicon.ico, which browsers ask for whatever the page links (and log a 404 for)."""
    response = HttpResponse(_favicon_bytes(), content_type="image/vnd.microsoft.icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response
