"""Who is asking, once per request, and a signed-in learner's stored interface language."""

from __future__ import annotations

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import middleware as auth_middleware
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.deprecation import MiddlewareMixin
from django.utils.functional import SimpleLazyObject


class AuthenticationMiddleware(auth_middleware.AuthenticationMiddleware):
    """Django's, except that `request.user` and `await request.auser()` share one look-up.

    Django keeps a cache for each, so an async view behind login_required (which awaits auser)
    whose sync part reads request.user read the user row twice: once per held status request.
    """

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)  # checks that sessions come first
        found: list[AbstractBaseUser | AnonymousUser] = []

        def user() -> AbstractBaseUser | AnonymousUser:
            if not found:
                found.append(auth.get_user(request))
            return found[0]

        async def auser() -> AbstractBaseUser | AnonymousUser:
            if not found:
                found.append(await auth.aget_user(request))
            return found[0]

        request.user = SimpleLazyObject(user)  # type: ignore[assignment]
        request.auser = auser  # type: ignore[attr-defined]


class UserLanguageMiddleware(MiddlewareMixin):
    """Let the user's `language` field win over the cookie and Accept-Language.

    LocaleMiddleware (earlier in the chain) has already chosen a language from the cookie or the
    browser; for a signed-in user with a stored preference this switches to that one, and keeps
    the language cookie in step so the choice also holds after logging out. A MiddlewareMixin
    like LocaleMiddleware, so an async view behind it (the held status request) runs without a
    thread: only these two short hooks do.
    """

    def process_request(self, request: HttpRequest) -> None:
        language = _stored_language(request)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        # A view may have just changed the preference (the switcher) or logged someone in.
        language = _stored_language(request)
        if language and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != language:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response


def _stored_language(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    language = user.language
    return language if language in dict(settings.LANGUAGES) else ""
