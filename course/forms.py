"""Forms for accounts."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

from course.models import User


class SignupForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("username", "email")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Without an address a forgotten password could never be reset.
        self.fields["email"].required = True
        self.fields["email"].help_text = _("Used only to reset your password.")
