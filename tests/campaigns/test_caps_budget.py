"""Frequency caps and the budget cap: freeze, preview, launch, send, override."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.utils import timezone

from campaigns.freeze import campaign_freeze
from campaigns.models import Campaign, Message
from campaigns.preview import campaign_preview
from campaigns.sending import campaign_send_batch
from campaigns.services import (
    CampaignError,
    campaign_create,
    campaign_frequency_cap_override,
    campaign_launch,
)
from contacts.models import Contact
from core.models import AuditEntry
from core.rules import OPERATOR, Refused
from tests.campaigns.conftest import make_audience

pytestmark = pytest.mark.django_db
CAP = [{"messages": 3, "days": 7, "channel": "sms"}]


def history(contact: Contact, *states: str, channel: str = "sms", days_ago: float = 1) -> None:
    """One earlier campaign's ledger row per state for `contact`, `days_ago` old."""
    rows = []
    for state in states:
        earlier = Campaign.objects.create(name="earlier", channel="sms", text="x")
        rows.append(
            Message(
                campaign=earlier, contact=contact, phone=contact.phone, channel=channel, state=state
            )
        )
    rows = Message.objects.bulk_create(rows)
    Message.objects.filter(pk__in=[r.pk for r in rows]).update(
        created_at=timezone.now() - dt.timedelta(days=days_ago)
    )


def _campaign(n: int = 4, **kwargs) -> Campaign:
    audience = make_audience(n)
    return campaign_create(name="c", channel="sms", lists=[audience], text="Hi", **kwargs)


def _running(campaign: Campaign) -> Campaign:
    Campaign.objects.filter(pk=campaign.pk).update(state="running", launched_at=timezone.now())
    return campaign


@pytest.fixture
def capped(settings):
    """Four contacts: 0 is at the cap; 1, 2 and 3 are not, each for another reason."""
    settings.HERALD_FREQUENCY_CAPS = CAP
    campaign = _campaign()
    c0, c1, c2, c3 = Contact.objects.order_by("id")
    history(c0, "delivered", "accepted", "undeliverable")  # three sent in 7 days
    history(c1, "delivered", "delivered", "skipped", "failed")  # two sent, two never sent
    history(c2, "delivered", "delivered", "delivered", days_ago=8)  # outside the 7 days
    history(c3, "delivered", "delivered", "delivered", channel="whatsapp")  # another channel
    return campaign, c0


def test_the_capped_are_skipped_at_freeze_with_the_reason(capped) -> None:
    campaign, c0 = capped
    campaign_freeze(campaign=_running(campaign))
    rows = {m.contact_id: m for m in Message.objects.filter(campaign=campaign)}
    assert rows[c0.pk].state == "skipped"
    assert rows[c0.pk].reason == "frequency cap: 3 sms messages in 7 days reached"
    assert sorted(m.state for m in rows.values()) == ["queued", "queued", "queued", "skipped"]


def test_the_preview_counts_the_capped_and_leaves_them_out_of_the_cost(capped, settings) -> None:
    settings.HERALD_PRICES = {"currency": "EUR", "sms": {"default": "0.0500"}}
    campaign, _ = capped
    preview = campaign_preview(campaign=campaign)
    assert preview["excluded"]["frequency_capped"] == 1
    assert (preview["messages"], preview["cost"]["amount"]) == (3, "0.1500")
    out = _call("preview", str(campaign.pk))
    assert "frequency_capped=1" in out


def test_a_cap_on_any_channel_counts_whatsapp_too(capped, settings) -> None:
    settings.HERALD_FREQUENCY_CAPS = [{"messages": 3, "days": 7, "channel": "any"}]
    campaign, _ = capped
    assert campaign_preview(campaign=campaign)["excluded"]["frequency_capped"] == 2


def test_lifting_the_cap_needs_the_send_permission(capped) -> None:
    campaign, _ = capped
    marketer = User.objects.create_user("m")
    with pytest.raises(Refused, match=r"ui\.launch_campaign"):
        campaign_frequency_cap_override(campaign=campaign, actor=marketer)
    assert Campaign.objects.get(pk=campaign.pk).frequency_cap_override is False
    sender = User.objects.create_user("s")
    sender.groups.add(Group.objects.get(name="Sender"))
    sender = User.objects.get(pk=sender.pk)  # a fresh permission cache
    campaign_frequency_cap_override(campaign=campaign, actor=sender)
    assert AuditEntry.objects.filter(action="frequency_cap_override", actor=sender).exists()
    campaign_freeze(campaign=_running(campaign))
    assert set(Message.objects.filter(campaign=campaign).values_list("state", flat=True)) == {
        "queued"
    }


def test_the_command_line_override_is_audited(settings) -> None:
    from ui.models import AuditEntry

    settings.HERALD_FREQUENCY_CAPS = CAP
    make_audience(1)
    call_command(
        "campaign",
        "create",
        "--name",
        "o",
        "--list",
        "audience",
        "--channel",
        "sms",
        "--text",
        "Hi",
        "--override-frequency-cap",
    )
    campaign = Campaign.objects.get(name="o")
    assert campaign.frequency_cap_override is True
    entry = AuditEntry.objects.get(action="frequency_cap_override")
    assert (entry.campaign_id, entry.actor) == (campaign.pk, None)


def test_launch_is_refused_when_the_estimate_is_over_the_budget(settings) -> None:
    settings.HERALD_PRICES = {"currency": "EUR", "sms": {"default": "0.0500"}}
    campaign = _campaign(10, max_spend=Decimal("0.30"))
    preview = campaign_preview(campaign=campaign)
    # 0.05 each: the seventh message makes 0.35, past 0.30; the 7th to 10th are over.
    assert (preview["excluded"]["over_budget"], preview["max_spend"]) == (4, "0.3000")
    with pytest.raises(CampaignError, match=r"over the budget cap 0\.3000 EUR"):
        campaign_launch(campaign=campaign, actor=OPERATOR)
    assert Campaign.objects.get(pk=campaign.pk).state == "draft"
    Campaign.objects.filter(pk=campaign.pk).update(max_spend=Decimal("0.50"))
    campaign.refresh_from_db()
    assert campaign_launch(campaign=campaign, actor=OPERATOR).state == "running"


def test_a_budget_cap_of_zero_is_refused() -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="budget cap must be more than 0"):
        _campaign(1, max_spend=Decimal("0"))


def test_sending_pauses_with_the_reason_when_spend_reaches_the_cap(live_sandbox) -> None:
    campaign = _running(_campaign(3, max_spend=Decimal("1.00")))
    campaign_freeze(campaign=campaign)
    Campaign.objects.filter(pk=campaign.pk).update(cost_amount=Decimal("1.0000"))
    result = campaign_send_batch(campaign_id=campaign.pk)
    assert result.claimed == 0
    campaign.refresh_from_db()
    assert campaign.state == "paused"
    assert campaign.state_reason == "budget cap reached: spent 1.0000 of 1.0000 EUR"
    assert campaign.count_queued == 3


def _call(*args: str) -> str:
    import io

    out = io.StringIO()
    call_command("campaign", *args, stdout=out)
    return out.getvalue()


def test_whatsapp_marketing_needs_a_whatsapp_opt_in_when_required(settings) -> None:
    from contacts.models import ConsentEvent

    settings.HERALD_WHATSAPP_REQUIRE_OPT_IN = True
    audience = make_audience(3, whatsapp_last_inbound_at=timezone.now())
    c0, c1, c2 = Contact.objects.order_by("id")
    ConsentEvent.objects.create(contact=c0, action="opt_in", source="keyword", channel="whatsapp")
    ConsentEvent.objects.create(contact=c1, action="opt_in", source="keyword", channel="sms")
    campaign = campaign_create(
        name="wa", channel="whatsapp_text", lists=[audience], text="Hi", sender="447860099299"
    )
    preview = campaign_preview(campaign=campaign)
    assert (preview["excluded"]["no_channel_consent"], preview["messages"]) == (2, 1)
    campaign_freeze(campaign=_running(campaign))
    rows = {m.contact_id: m for m in Message.objects.filter(campaign=campaign)}
    assert rows[c0.pk].state == "queued"
    assert {rows[c1.pk].reason, rows[c2.pk].reason} == {
        "no WhatsApp opt-in on record (WhatsApp marketing needs one)"
    }
    # SMS campaigns are not affected by the WhatsApp rule.
    sms = campaign_create(name="sms", channel="sms", lists=[audience], text="Hi")
    assert campaign_preview(campaign=sms)["excluded"]["no_channel_consent"] == 0


def test_a_second_chain_reaching_the_budget_after_the_pause_sends_nothing(live_sandbox) -> None:
    campaign = _running(_campaign(3, max_spend=Decimal("1.00")))
    campaign_freeze(campaign=campaign)
    Campaign.objects.filter(pk=campaign.pk).update(cost_amount=Decimal("2.0000"))
    campaign_send_batch(campaign_id=campaign.pk)
    # A chain that read the campaign as running just before the pause: pausing again is refused
    # by the lifecycle, and the batch still sends nothing.
    from unittest import mock

    with mock.patch("campaigns.sending.Campaign.objects.select_related") as get:
        get.return_value.get.return_value = Campaign.objects.get(pk=campaign.pk)
        get.return_value.get.return_value.state = "running"
        assert campaign_send_batch(campaign_id=campaign.pk).claimed == 0
    assert Campaign.objects.get(pk=campaign.pk).state == "paused"
