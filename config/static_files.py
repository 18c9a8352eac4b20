"""WhiteNoise's static-file middleware, able to sit in an async middleware chain.

WhiteNoiseMiddleware is sync only; in the ASGI server's async chain Django would then run every
request behind it, the async status views included, through a thread that waits with them. This
subclass answers static files the same way and otherwise awaits the rest of the chain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """Serve static files (WhiteNoise), in a sync or an async middleware chain."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any], *args: Any) -> None:
        super().__init__(get_response, *args)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request: HttpRequest) -> Any:
        # A dictionary look-up (a stat of the finders' files when DEBUG autorefreshes): no wait.
        if self.autorefresh:
            static_file = self.find_file(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return self.serve(static_file, request)
        return await self.get_response(request)
