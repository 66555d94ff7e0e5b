"""Length caps refused at create and preview; validity periods checked, sent and enforced."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from campaigns.models import Campaign, Message
from campaigns.preview import campaign_preview
from campaigns.sending import provider_validity
from campaigns.services import campaign_create, campaign_status
from campaigns.status_map import message_price
from campaigns.steps import step_for_medium
from campaigns.validity import STATUS_NAME, messages_expire_past_validity
from contacts.models import Contact
from tests.campaigns.conftest import make_audience
from tests.infobip.webhooks.conftest import make_ledger

pytestmark = pytest.mark.django_db


def test_a_1601_character_sms_is_refused_with_its_length_and_parts() -> None:
    with pytest.raises(ValidationError) as refused:
        campaign_create(name="long", channel="sms", lists=[make_audience(1)], text="a" * 1601)
    assert refused.value.messages == [
        "SMS text is 1,601 characters (11 parts, GSM-7); the limit is 1,600"
    ]
    assert not Campaign.objects.exists()
    ok = campaign_create(
        name="max",
        channel="sms",
        lists=[make_audience(1, name="b", prefix="+4479461")],
        text="a" * 1600,
    )
    assert ok.text == "a" * 1600  # at the cap: kept whole, never truncated


def test_the_command_refuses_a_1601_character_sms() -> None:
    make_audience(1, name="people")
    with pytest.raises(CommandError, match="1,601 characters \\(11 parts, GSM-7\\)"):
        call_command(
            "campaign",
            "create",
            "--name",
            "x",
            "--list",
            "people",
            "--channel",
            "sms",
            "--text",
            "b" * 1601,
        )


def test_a_4097_character_whatsapp_text_is_refused() -> None:
    with pytest.raises(ValidationError, match="WhatsApp text is 4,097 characters"):
        campaign_create(
            name="wa", channel="whatsapp_text", lists=[make_audience(1)], text="w" * 4097
        )


def test_preview_reports_texts_that_grow_past_the_cap_with_placeholders(capsys) -> None:
    audience = make_audience(2)
    Contact.objects.update(first_name="x" * 100)
    campaign = campaign_create(
        name="p", channel="sms", lists=[audience], text="ж" * 1550 + "{{first_name}}"
    )
    data = campaign_preview(campaign=campaign)
    assert data["length_problems"] == [
        "SMS text is 1,650 characters (25 parts, UCS-2); the limit is 1,600 "
        "for 2 recipient(s) once placeholders are filled"
    ]
    # A text that was saved past the cap by other means is reported as such.
    Campaign.objects.filter(pk=campaign.pk).update(text="c" * 1700)
    campaign.refresh_from_db()
    assert campaign_preview(campaign=campaign)["length_problems"][0] == (
        "SMS text is 1,700 characters (12 parts, GSM-7); the limit is 1,600"
    )
    call_command("campaign", "preview", str(campaign.pk))
    assert "1,700 characters (12 parts, GSM-7)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"channel": "sms", "sms_validity_minutes": 2881}, "must be 1 to 2,880"),
        ({"channel": "sms", "sms_validity_minutes": 0}, "must be 1 to 2,880"),
        ({"channel": "sms", "whatsapp_validity_minutes": 60}, "applies to WhatsApp"),
        ({"channel": "whatsapp_text", "text": "x", "sms_validity_minutes": 60}, "failover"),
        ({"channel": "whatsapp_text", "text": "x", "failover_validity_minutes": 60},
         "needs SMS failover"),
    ],
)  # fmt: skip
def test_validity_periods_are_checked(fields, problem) -> None:
    fields = {"text": "hello", **fields}
    with pytest.raises(ValidationError, match=problem):
        campaign_create(name="v", lists=[make_audience(1)], **fields)


def test_failover_sms_has_its_own_validity() -> None:
    campaign = campaign_create(
        name="f",
        channel="whatsapp_text",
        lists=[make_audience(1)],
        text="hi",
        failover_mode="herald",
        failover_text="hi by SMS",
        whatsapp_validity_minutes=30,
        failover_validity_minutes=240,
    )
    sms, whatsapp = step_for_medium(campaign, "sms"), step_for_medium(campaign, "whatsapp")
    assert provider_validity(sms) == 240
    assert provider_validity(whatsapp) is None  # Herald keeps WhatsApp's validity itself


def test_whatsapp_messages_past_their_validity_expire_and_fail_over(
    django_capture_on_commit_callbacks,
) -> None:
    _campaign, messages = make_ledger(
        3,
        channel="whatsapp",
        whatsapp_validity_minutes=30,
        failover_mode="herald",
        failover_text="By SMS",
    )
    now = timezone.now()
    Message.objects.filter(pk=messages[0].pk).update(accepted_at=now - dt.timedelta(minutes=31))
    Message.objects.filter(pk=messages[1].pk).update(accepted_at=now - dt.timedelta(minutes=29))
    with django_capture_on_commit_callbacks(execute=False):
        assert messages_expire_past_validity(now=now) == 1
        assert messages_expire_past_validity(now=now) == 0  # idempotent
    expired = Message.objects.get(pk=messages[0].pk)
    assert (expired.state, expired.status_name) == ("expired", STATUS_NAME)
    assert "WhatsApp validity (30 min)" in expired.reason
    assert Message.objects.get(pk=messages[1].pk).state == "accepted"
    failover = Message.objects.get(replaces=expired)
    assert (failover.channel, failover.state, failover.text) == ("sms", "queued", "By SMS")


def test_sms_prices_are_per_part_and_whatsapp_per_message() -> None:
    assert message_price(Decimal("0.05"), per_part=True, parts=3) == Decimal("0.15")
    assert message_price(Decimal("0.05"), per_part=True, parts=None) == Decimal("0.05")
    assert message_price(Decimal("0.15"), per_part=False, parts=3) == Decimal("0.15")
    assert message_price(None, per_part=True, parts=2) is None


def test_status_compares_the_estimate_with_what_infobip_charged(post, settings) -> None:
    from tests.infobip.webhooks.conftest import report

    campaign, messages = make_ledger(3)
    Campaign.objects.filter(pk=campaign.pk).update(estimated_cost=Decimal("0.2000"))
    items = [report(str(m.message_id), price=0.05, parts=i + 1) for i, m in enumerate(messages)]
    post("sms/reports", {"results": items})
    status = campaign_status(campaign=campaign, breakdown=True)
    # v3 reports price the whole message ("Price per one message"), whatever its parts.
    assert status["cost"]["amount"] == "0.1500"
    assert status["cost"]["estimated"] == "0.2000"
    assert status["cost"]["by_channel"] == {"sms": "0.1500"}
    out = json.loads(_status_json(campaign.pk))
    assert out["cost"]["by_channel"] == {"sms": "0.1500"}
    assert "clicks" in out


def _status_json(pk: int) -> str:
    from io import StringIO

    buffer = StringIO()
    call_command("campaign", "status", str(pk), "--json", stdout=buffer)
    return buffer.getvalue()
