from django.db import migrations

# ui.roles lists the same for the Marketer role (conversions/ may not import ui/).
MARKETER = "Marketer"
PERMISSIONS = ("view_conversion", "add_conversion", "view_credit")


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations (post_migrate): create them now.
    from django.contrib.auth.management import create_permissions

    config = apps.get_app_config("conversions")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    group, _ = apps.get_model("auth", "Group").objects.get_or_create(name=MARKETER)
    found = apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="conversions", codename__in=PERMISSIONS
    )
    group.permissions.add(*found)


class Migration(migrations.Migration):
    dependencies = [
        ("conversions", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
