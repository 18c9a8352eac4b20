"""WhiteNoise's static files, served by a hooks-only middleware.

WhiteNoiseMiddleware wraps the rest of the chain itself; this one holds it and answers a static
file's path from process_request, as WhiteNoise would, and lets every other request through. As
a MiddlewareMixin made of hooks only, under the ASGI server it runs in the same thread hop as the
middlewares around it (config/middleware_runs.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.utils.deprecation import MiddlewareMixin
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(MiddlewareMixin):
    """Serve static files (WhiteNoise, with its settings) before the rest of the chain."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        super().__init__(get_response)
        self.whitenoise = WhiteNoiseMiddleware(get_response)

    def process_request(self, request: HttpRequest) -> Any:
        # As WhiteNoiseMiddleware.__call__: a dictionary look-up (a stat of the finders' files
        # when DEBUG refreshes them).
        whitenoise = self.whitenoise
        if whitenoise.autorefresh:
            static_file = whitenoise.find_file(request.path_info)
        else:
            static_file = whitenoise.files.get(request.path_info)
        if static_file is None:
            return None
        return whitenoise.serve(static_file, request)
