"""The two roles, as Django groups: developers (own objects), admins (all)."""

from django.db import migrations

GROUPS = ("developers", "admins")


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in GROUPS:
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("hosts", "0001_initial"),
    ]

    # Reversing keeps the groups: they may hold users by then.
    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
