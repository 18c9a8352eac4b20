"""Forms for accounts."""

from __future__ import annotations

import logging
import math
from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, UserCreationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from course import throttle
from course.models import User

logger = logging.getLogger(__name__)


class SignupForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("username", "email")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Without an address a forgotten password could never be reset.
        self.fields["email"].required = True
        self.fields["email"].help_text = _("Used only to reset your password.")


class ThrottledSignInMixin:
    """Refuse sign-ins while the name or address is blocked; count each failure (course/throttle.py).

    A blocked attempt is refused before the password is hashed, with the same words whether or not
    the account exists.
    """

    request: HttpRequest | None
    cleaned_data: dict[str, Any]
    retry_after: int = 0

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        address = throttle.client_address(self.request) if self.request else ""
        wait = throttle.signin_wait(username=username, address=address)
        if wait:
            raise self._throttled(wait)
        try:
            cleaned = super().clean()  # type: ignore[misc]
        except ValidationError as error:
            if error.code == "invalid_login":
                wait = throttle.signin_failed(username=username, address=address)
                if wait:
                    raise self._throttled(wait) from error
            raise
        throttle.signin_succeeded(username=username)
        return cleaned

    def _throttled(self, wait: int) -> ValidationError:
        self.retry_after = wait
        minutes = max(1, math.ceil(wait / 60))
        return ValidationError(
            ngettext(
                "Too many failed sign-ins. Wait %(minutes)d minute, then try again.",
                "Too many failed sign-ins. Wait %(minutes)d minutes, then try again.",
                minutes,
            )
            % {"minutes": minutes},
            code="throttled",
        )


class SignInForm(ThrottledSignInMixin, AuthenticationForm):
    """The site's sign-in form."""


class AdminSignInForm(ThrottledSignInMixin, AdminAuthenticationForm):
    """The admin site's sign-in form, under the same throttle."""


class LimitedPasswordResetForm(PasswordResetForm):
    """Send reset mail only within the per-address and per-e-mail limits; answer the same either way."""

    def save(self, *args: Any, **kwargs: Any) -> None:
        request = kwargs.get("request")  # PasswordResetView passes it
        address = throttle.client_address(request) if request else ""
        email = self.cleaned_data["email"]
        if throttle.reset_allowed(email=email, address=address):
            super().save(*args, **kwargs)
        else:
            logger.warning(
                "password reset mail held back: over the limit for this address or e-mail"
            )
