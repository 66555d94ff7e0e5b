"""The Marketer role builds segments and declares attribute types (issue 26): give the group
the new permissions (ui.roles.ROLE_PERMISSIONS; idempotent, as in 0001)."""

from django.db import migrations


def grant(apps, schema_editor) -> None:  # noqa: ANN001
    from django.contrib.auth.management import create_permissions

    from ui.roles import roles_ensure

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    roles_ensure(
        group_model=apps.get_model("auth", "Group"),
        permission_model=apps.get_model("auth", "Permission"),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("ui", "0008_reply_campaign"),
        ("contacts", "0005_audiences"),
        ("campaigns", "0015_audiences"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
