"""Bring existing users in step with the rule that staff status follows the role."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def keep_is_staff_in_step_with_role(apps: Any, schema_editor: Any) -> None:
    """Open the admin to every staff role; give the staff role to everyone who already had the admin."""
    User = apps.get_model("course", "User")
    User.objects.filter(role="staff").update(is_staff=True)
    User.objects.filter(is_staff=True, is_superuser=False).exclude(role="staff").update(
        role="staff"
    )


class Migration(migrations.Migration):
    dependencies = [("course", "0002_study_groups_and_activity")]

    operations = [
        migrations.RunPython(keep_is_staff_in_step_with_role, migrations.RunPython.noop),
    ]
