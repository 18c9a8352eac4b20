"""Create (or reset) the demo student and instructor and print their logins."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from course.models import Track, User
from course.services import enrollment_create

DEMO_USERS = [
    ("student", "chainrule-student", User.Role.STUDENT),
    ("instructor", "chainrule-instructor", User.Role.INSTRUCTOR),
]


class Command(BaseCommand):
    help = "Create the demo logins for a local installation (never run this in production)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="create them even with DEBUG off")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "Refusing to create demo logins with DEBUG off (use --force if you mean it)."
            )
        for username, password, role in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"}
            )
            user.set_role(role)
            user.set_password(password)
            user.save()
            track = Track.objects.live().filter(slug="applied").first()
            if role == User.Role.STUDENT and track is not None:
                enrollment_create(user=user, track=track)
            self.stdout.write(
                f"{'created' if created else 'reset'} demo {role}: log in as {username} / {password}"
            )
