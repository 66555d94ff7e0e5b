# AuditEntry moved to core and CampaignApproval to campaigns (their tables stay). Their content
# types move with them so granted permissions survive; the three custom permissions keep their
# public names (`ui.launch_campaign`, ...) by moving to ImportJob's content type.

from django.db import migrations

CUSTOM = ["launch_campaign", "approve_campaign", "reply_inbound"]


def move_content_types(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    permission = apps.get_model("auth", "Permission")
    importjob, _ = content_type.objects.get_or_create(app_label="ui", model="importjob")
    for model, new_app in (("auditentry", "core"), ("campaignapproval", "campaigns")):
        old = content_type.objects.filter(app_label="ui", model=model).first()
        if old is None:
            continue
        permission.objects.filter(content_type=old, codename__in=CUSTOM).update(
            content_type=importjob
        )
        new = content_type.objects.filter(app_label=new_app, model=model).first()
        if new is None:
            old.app_label = new_app
            old.save(update_fields=["app_label"])
        else:
            permission.objects.filter(content_type=old).exclude(
                codename__in=permission.objects.filter(content_type=new).values("codename")
            ).update(content_type=new)
            old.delete()


def back(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    permission = apps.get_model("auth", "Permission")
    content_type.objects.filter(app_label="core", model="auditentry").update(app_label="ui")
    content_type.objects.filter(app_label="campaigns", model="campaignapproval").update(
        app_label="ui"
    )
    audit = content_type.objects.filter(app_label="ui", model="auditentry").first()
    if audit is not None:
        permission.objects.filter(
            content_type__app_label="ui", content_type__model="importjob", codename__in=CUSTOM
        ).update(content_type=audit)


class Migration(migrations.Migration):
    dependencies = [
        ("ui", "0001_initial"),
        ("core", "0002_auditentry"),
        ("campaigns", "0007_campaignapproval"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="AuditEntry"),
                migrations.DeleteModel(name="CampaignApproval"),
            ],
            database_operations=[],
        ),
        migrations.AlterModelOptions(
            name="importjob",
            options={
                "ordering": ["-created_at"],
                "permissions": [
                    (
                        "launch_campaign",
                        "Can launch, schedule, pause, resume, cancel and resend campaigns",
                    ),
                    ("approve_campaign", "Can approve a campaign someone else created"),
                    ("reply_inbound", "Can reply to inbound WhatsApp messages"),
                ],
            },
        ),
        migrations.RunPython(move_content_types, back),
    ]
