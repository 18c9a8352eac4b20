"""Factories for the objects tests need; the course itself comes from the files under exercises/."""

from __future__ import annotations

import factory

from course.models import User

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"learner{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    role = User.Role.STUDENT
    password = factory.django.Password(PASSWORD)
