# The SMS failover's three columns become the first step of a fallback chain (Campaign.fallback);
# failover_text / failover_sender / failover_validity_minutes stay as names of that step.

from django.db import migrations, models


def failover_to_chain(apps, schema_editor) -> None:
    Campaign = apps.get_model("campaigns", "Campaign")
    with_failover = Campaign.objects.exclude(failover_mode="none").only(
        "id", "failover_text", "failover_sender", "failover_validity_minutes"
    )
    for campaign in with_failover.iterator(chunk_size=1000):
        campaign.fallback = [
            {
                "channel": "sms",
                "text": campaign.failover_text,
                "sender": campaign.failover_sender,
                "validity_minutes": campaign.failover_validity_minutes,
            }
        ]
        campaign.save(update_fields=["fallback"])


def chain_to_failover(apps, schema_editor) -> None:
    Campaign = apps.get_model("campaigns", "Campaign")
    for campaign in Campaign.objects.exclude(fallback=[]).iterator(chunk_size=1000):
        sms = {s.get("channel"): s for s in campaign.fallback if isinstance(s, dict)}.get("sms")
        if sms:
            campaign.failover_text = sms.get("text") or ""
            campaign.failover_sender = sms.get("sender") or ""
            campaign.failover_validity_minutes = sms.get("validity_minutes")
            campaign.save(
                update_fields=["failover_text", "failover_sender", "failover_validity_minutes"]
            )


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0015_audiences"),
    ]

    operations = [
        migrations.AddField(
            model_name="campaign",
            name="fallback",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text='[{"channel": "sms", "text": "…"}] after the channel',
            ),
        ),
        migrations.RunPython(failover_to_chain, chain_to_failover),
        migrations.RemoveField(
            model_name="campaign",
            name="failover_sender",
        ),
        migrations.RemoveField(
            model_name="campaign",
            name="failover_text",
        ),
        migrations.RemoveField(
            model_name="campaign",
            name="failover_validity_minutes",
        ),
        migrations.AlterField(
            model_name="campaign",
            name="failover_after",
            field=models.DurationField(
                blank=True,
                help_text="The next step goes when a step stays silent this long",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="campaign",
            name="failover_mode",
            field=models.CharField(
                choices=[
                    ("none", "No fallback"),
                    ("herald", "Herald sends the next step when one fails or stays silent"),
                    ("infobip", "Infobip's native smsFailover on the template request"),
                ],
                default="none",
                max_length=10,
            ),
        ),
    ]
