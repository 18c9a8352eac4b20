"""Forms for accounts."""

from __future__ import annotations

from django.contrib.auth.forms import UserCreationForm

from course.models import User


class SignupForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("username", "email")
