"""Give every account the look-alike key of its username (course/usernames.py) and make it unique."""

from __future__ import annotations

from django.db import migrations, models


def fill_username_keys(apps, schema_editor) -> None:  # noqa: ANN001 - migration signature
    from course.usernames import username_key

    User = apps.get_model("course", "User")
    seen: set[str] = set()
    for user in User.objects.order_by("pk").only("pk", "username"):
        key = username_key(user.username)
        if key in seen:
            # Accounts that already look alike keep working; only new look-alikes are refused.
            key = username_key(f"{user.username}\x00{user.pk}")
        seen.add(key)
        User.objects.filter(pk=user.pk).update(username_key=key)


class Migration(migrations.Migration):
    dependencies = [("course", "0003_staff_role_opens_the_admin")]

    operations = [
        migrations.AddField(
            model_name="user",
            name="username_key",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(fill_username_keys, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="user",
            name="username_key",
            field=models.CharField(editable=False, max_length=64, unique=True),
        ),
    ]
