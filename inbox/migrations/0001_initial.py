# ConversationReply and ConversationState moved here from ui/ (ui 0012): their tables
# (ui_conversationreply, ui_conversationstate) stay; only the state and the content types move.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import channels.registry

MODELS = ("conversationreply", "conversationstate")


def _move(apps, source: str, target: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    permission = apps.get_model("auth", "Permission")
    for model in MODELS:
        old = content_type.objects.filter(app_label=source, model=model).first()
        if old is None:
            continue
        new = content_type.objects.filter(app_label=target, model=model).first()
        if new is None:
            old.app_label = target
            old.save(update_fields=["app_label"])
        else:
            permission.objects.filter(content_type=old).exclude(
                codename__in=permission.objects.filter(content_type=new).values("codename")
            ).update(content_type=new)
            old.delete()


def move_content_types(apps, schema_editor):
    _move(apps, "ui", "inbox")


def move_back(apps, schema_editor):
    _move(apps, "inbox", "ui")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("ui", "0012_conversations_moved"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("campaigns", "0021_history"),
        ("contacts", "0006_memberships_checked_per_statement"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ConversationState",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("read_at", models.DateTimeField(blank=True, null=True)),
                        ("handled_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "contact",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="conversation_state",
                                to="contacts.contact",
                            ),
                        ),
                        (
                            "handled_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "ui_conversationstate",
                    },
                ),
                migrations.CreateModel(
                    name="ConversationReply",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "channel",
                            models.CharField(
                                choices=channels.registry.medium_choices, max_length=10
                            ),
                        ),
                        ("text", models.TextField()),
                        ("sender", models.CharField(blank=True, max_length=64)),
                        ("message_id", models.CharField(blank=True, max_length=200)),
                        (
                            "status_name",
                            models.CharField(
                                blank=True, help_text="Infobip's answer", max_length=100
                            ),
                        ),
                        ("sent_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "campaign",
                            models.OneToOneField(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="inbox_reply",
                                to="campaigns.campaign",
                            ),
                        ),
                        (
                            "contact",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="conversation_replies",
                                to="contacts.contact",
                            ),
                        ),
                        (
                            "sent_by",
                            models.ForeignKey(
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "ui_conversationreply",
                        "ordering": ["-sent_at", "-id"],
                        "indexes": [
                            models.Index(
                                fields=["contact", "-sent_at"], name="ui_reply_contact_idx"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_back),
    ]
