# Approvals move from ui to campaigns (campaigns' services decide launches); the table keeps its
# name. New: the fingerprint and content of what was approved, so later edits void it.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0006_events_without_fk_check"),
        ("ui", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="CampaignApproval",
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
                        ("at", models.DateTimeField(auto_now_add=True)),
                        (
                            "approved_by",
                            models.ForeignKey(
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "campaign",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="approval",
                                to="campaigns.campaign",
                            ),
                        ),
                    ],
                    options={"db_table": "ui_campaignapproval"},
                ),
            ],
            database_operations=[],
        ),
        migrations.AddField(
            model_name="campaignapproval",
            name="fingerprint",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="campaignapproval",
            name="content",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
