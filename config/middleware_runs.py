"""Django's ASGI handler with one thread hop per run of sync middleware hooks, not one per hook.

Under the ASGI handler, every MiddlewareMixin (Django's session, locale, CSRF, messages...)
runs each of its hooks through sync_to_async: a held status request (grader.views' answer_check,
submission_status, submission_detail) hopped between the event loop and a thread 22 times, about
0.1 ms of CPU each; now 8. HookRun runs consecutive hook-only middlewares as one: every
process_request in one hop, every process_response in another, and their process_view in a
third, with the same order and the same handling of a response or an exception as Django's own
chain. Only the async chain is built this way; the WSGI handler's sync chain has no hops.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from asgiref.sync import markcoroutinefunction, sync_to_async
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response, response_for_exception
from django.http import HttpRequest, HttpResponseBase
from django.utils.deprecation import MiddlewareMixin
from django.utils.module_loading import import_string

Middleware = Any


def only_hooks(middleware: type) -> bool:
    """Say whether a middleware class is a MiddlewareMixin made of hooks only (no call of its own)."""
    return (
        isinstance(middleware, type)
        and issubclass(middleware, MiddlewareMixin)
        and middleware.__call__ is MiddlewareMixin.__call__
        and middleware.__acall__ is MiddlewareMixin.__acall__
    )


class HookRun:
    """Consecutive hook-only middlewares, outermost first, as one async middleware."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any], parts: list[Middleware]) -> None:
        self.get_response = get_response
        self.parts = parts
        # Each kind of hook with the position of its part, gathered once, outermost first.
        self.requests = _hooks(parts, "process_request")
        self.responses = _hooks(parts, "process_response")
        views = [hook for _, hook in _hooks(parts, "process_view")]
        templates = [hook for _, hook in _hooks(parts, "process_template_response")]
        exceptions = [hook for _, hook in _hooks(parts, "process_exception")]
        markcoroutinefunction(self)
        # The handler collects each of these from the instance when it exists: only then.
        if views:
            self.process_view = functools.partial(_first_answer, views)
        if templates:
            self.process_template_response = functools.partial(_in_turn, templates[::-1])
        if exceptions:
            self.process_exception = functools.partial(_first_answer, exceptions[::-1])

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response, entered = None, len(self.parts)
        if self.requests:
            response, entered = await sync_to_async(self._enter, thread_sensitive=True)(request)
        if response is None:
            response = await self.get_response(request)
        if not self.responses or self.responses[0][0] >= entered:
            return response
        return await sync_to_async(self._leave, thread_sensitive=True)(request, response, entered)

    def _enter(self, request: HttpRequest) -> tuple[HttpResponseBase | None, int]:
        """Run process_request outermost first; return a response that ends the way in, if any,
        and how many parts the response then goes back out through."""
        for index, process_request in self.requests:
            try:
                response = process_request(request)
            except Exception as error:  # noqa: BLE001 - as convert_exception_to_response does
                # Django's chain turns it into a response outside this part: the parts outside
                # see it, this one does not.
                return response_for_exception(request, error), index
            if response is not None:
                return response, index + 1
        return None, len(self.parts)

    def _leave(
        self, request: HttpRequest, response: HttpResponseBase, entered: int
    ) -> HttpResponseBase:
        """Run process_response innermost first over the parts the request went through."""
        for index, process_response in reversed(self.responses):
            if index >= entered:
                continue
            try:
                response = process_response(request, response)
            except Exception as error:  # noqa: BLE001 - as convert_exception_to_response does
                response = response_for_exception(request, error)
        return response


def _hooks(parts: list[Middleware], name: str) -> list[tuple[int, Callable[..., Any]]]:
    return [(index, getattr(part, name)) for index, part in enumerate(parts) if hasattr(part, name)]


def _first_answer(hooks: list[Callable[..., Any]], *args: Any) -> Any:
    """Call the hooks in turn until one answers (process_view, process_exception)."""
    for hook in hooks:
        response = hook(*args)
        if response is not None:
            return response
    return None


def _in_turn(hooks: list[Callable[..., Any]], request: HttpRequest, response: Any) -> Any:
    """Pass the response through every hook in turn (process_template_response)."""
    for hook in hooks:
        response = hook(request, response)
    return response


class RunsASGIHandler(ASGIHandler):
    """Django's ASGI handler, its middleware chain built with HookRun (see the module)."""

    def load_middleware(self, is_async: bool = False) -> None:
        """Build the async chain as BaseHandler.load_middleware does, hook-only runs as one."""
        if not is_async:
            super().load_middleware(is_async)
            return
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        handler = convert_exception_to_response(self._get_response_async)
        handler_is_async = True
        for hooks_only, group in reversed(_groups(settings.MIDDLEWARE)):
            if hooks_only:
                is_async = True
                adapted = self.adapt_method_mode(True, handler, handler_is_async)
                parts = []
                for path in group:
                    try:
                        parts.append(import_string(path)(adapted))
                    except MiddlewareNotUsed:
                        continue
                if not parts:
                    continue
                instance: Middleware = HookRun(adapted, parts)
            else:
                middleware = import_string(group[0])
                can_sync = getattr(middleware, "sync_capable", True)
                is_async = getattr(middleware, "async_capable", False)
                if not can_sync and not is_async:
                    raise RuntimeError(
                        f"Middleware {group[0]} must have at least one of "
                        "sync_capable/async_capable set to True."
                    )
                adapted = self.adapt_method_mode(is_async, handler, handler_is_async)
                try:
                    instance = middleware(adapted)
                except MiddlewareNotUsed:
                    continue
                if instance is None:
                    raise ImproperlyConfigured(f"Middleware factory {group[0]} returned None.")
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, self.adapt_method_mode(True, instance.process_view))
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(
                    self.adapt_method_mode(True, instance.process_template_response)
                )
            if hasattr(instance, "process_exception"):
                # Django's exception stack is synchronous: adapted the same way.
                self._exception_middleware.append(
                    self.adapt_method_mode(False, instance.process_exception)
                )
            handler = convert_exception_to_response(instance)
            handler_is_async = is_async
        self._middleware_chain = self.adapt_method_mode(True, handler, handler_is_async)


def _groups(paths: list[str]) -> list[tuple[bool, list[str]]]:
    """Split the middleware paths, in order, into runs of hooks-only ones and single others."""
    groups: list[tuple[bool, list[str]]] = []
    for path in paths:
        hooks_only = only_hooks(import_string(path))
        if hooks_only and groups and groups[-1][0]:
            groups[-1][1].append(path)
        else:
            groups.append((hooks_only, [path]))
    return groups
