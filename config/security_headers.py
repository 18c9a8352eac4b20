"""Send a strict Content-Security-Policy and a Permissions-Policy with every response.

Scripts and styles come only from this site's own files: no inline script, no event-handler
attribute, no inline <style> or style="" attribute, no eval. KaTeX and CodeMirror size their
output through the CSSOM (element.style), which a policy does not restrict; htmx is told not to
inject its indicator <style> (the meta tag in base.html). Images and fonts may also be data: URLs
(KaTeX's fonts and SVG glyphs). Nothing may frame the site, and forms post only to it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Powerful browser features no page of the site uses.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
        "interest-cohort",
    )
)


class SecurityHeadersMiddleware(MiddlewareMixin):
    """Add the policies above unless a view set its own.

    Hooks only (a MiddlewareMixin): under the ASGI server its hook runs in the same thread hop as
    the other middlewares' (config/middleware_runs.py).
    """

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        super().__init__(get_response)
        if settings.CSP_REPORT_ONLY:
            self.header = "Content-Security-Policy-Report-Only"
        else:
            self.header = "Content-Security-Policy"

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        response.headers.setdefault(self.header, CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response
