"""The marketer's day through the test client: edit, reuse, errors at the field, launch text."""

import datetime as dt
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.editing import (
    campaign_delete,
    campaign_duplicate,
    campaign_reschedule,
    campaign_update,
)
from campaigns.models import Campaign
from campaigns.services import CampaignError, campaign_create, campaign_launch
from campaigns.states import CampaignState
from contacts.models import Contact, ContactList
from core.rules import OPERATOR
from tests.ui.conftest import make_audience
from ui.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(marketer) -> Campaign:
    audience = make_audience(3)
    return campaign_create(
        name="Spring",
        channel="sms",
        lists=[audience],
        text="Hi {{first_name}}!",
        speed_limit=60,
        quiet_hours=(dt.time(9), dt.time(20)),
        created_by=marketer,
    )


def test_edit_opens_every_step_with_what_was_saved_and_saves_changes(marketer_client, draft):
    response = marketer_client.get(reverse("ui:campaign_edit", args=[draft.pk]))
    assert response["Location"] == reverse("ui:wizard_audience") + "?edit=1"
    page = marketer_client.get(response["Location"]).content.decode()
    assert 'value="Spring"' in page
    assert f'value="{draft.lists.get().pk}" checked' in page
    response = marketer_client.post(
        reverse("ui:wizard_audience"), {"name": "Spring v2", "lists": [draft.lists.get().pk]}
    )
    page = marketer_client.get(response["Location"]).content.decode()
    assert "Hi {{first_name}}!</textarea>" in page
    response = marketer_client.post(
        reverse("ui:wizard_message"), {"channel": "sms", "text": "Hello {{first_name}}"}
    )
    page = marketer_client.get(response["Location"]).content.decode()
    assert 'name="speed_limit" value="60"' in page
    assert 'value="09:00"' in page
    assert 'value="20:00"' in page
    assert "Save changes and preview" in page
    response = marketer_client.post(
        reverse("ui:wizard_options"),
        {
            "send_mode": "now",
            "speed_limit": "30",
            "speed_unit": "second",
            "quiet_from": "",
            "quiet_until": "",
        },
    )
    assert response["Location"] == reverse("ui:campaign_preview", args=[draft.pk])
    draft.refresh_from_db()
    assert (draft.name, draft.text, draft.speed_limit, draft.speed_unit) == (
        "Spring v2",
        "Hello {{first_name}}",
        30,
        "second",
    )
    assert draft.quiet_hours_start is None
    assert Campaign.objects.count() == 1
    assert AuditEntry.objects.filter(action="edit", campaign=draft).exists()


def test_a_running_campaign_cannot_be_edited(sender_client, draft):
    campaign_launch(campaign=draft, actor=OPERATOR)
    response = sender_client.get(reverse("ui:campaign_edit", args=[draft.pk]))
    assert response["Location"] == reverse("ui:campaign", args=[draft.pk])
    with pytest.raises(CampaignError, match="can no longer be edited"):
        campaign_update(campaign=draft, name="x", channel="sms", lists=draft.lists.all(), text="x")


def test_editing_a_scheduled_campaign_unschedules_it(draft):
    draft.send_at = timezone.now() + dt.timedelta(days=1)
    draft.save()
    campaign_launch(campaign=draft, actor=OPERATOR)
    draft.refresh_from_db()
    assert draft.state == CampaignState.SCHEDULED
    edited = campaign_update(
        campaign=draft,
        name="Spring",
        channel="sms",
        lists=draft.lists.all(),
        text="New text",
        send_at=draft.send_at,
    )
    assert edited.state == CampaignState.DRAFT
    assert edited.text == "New text"


def test_back_keeps_what_was_typed(marketer_client, draft):
    marketer_client.post(
        reverse("ui:wizard_audience"), {"name": "Back", "lists": [draft.lists.get().pk]}
    )
    response = marketer_client.post(
        reverse("ui:wizard_message"), {"channel": "sms", "text": "Half {{typed", "nav": "back"}
    )
    assert response["Location"] == reverse("ui:wizard_audience") + "?edit=1"
    page = marketer_client.get(reverse("ui:wizard_message")).content.decode()
    assert "Half {{typed</textarea>" in page


def test_unknown_placeholder_is_refused_at_the_message_step_listing_known_ones(
    marketer_client, draft
):
    contact = Contact.objects.first()
    contact.attributes = {"city": "Leeds"}
    contact.save()
    marketer_client.post(
        reverse("ui:wizard_audience"), {"name": "P", "lists": [draft.lists.get().pk]}
    )
    response = marketer_client.post(
        reverse("ui:wizard_message"), {"channel": "sms", "text": "Hi {{frist_name}} in {{city}}"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="err-text"' in page
    assert "Unknown placeholder {{frist_name}}" in page
    assert "first_name" in page
    assert "city" in page
    ok = marketer_client.post(
        reverse("ui:wizard_message"),
        {"channel": "sms", "text": "Hi {{first_name}} in {{city|town}}"},
    )
    assert ok.status_code == 302


def test_text_over_the_cap_is_refused_at_the_message_step(marketer_client, draft, settings):
    settings.HERALD_SMS_MAX_CHARS = 20
    marketer_client.post(
        reverse("ui:wizard_audience"), {"name": "L", "lists": [draft.lists.get().pk]}
    )
    response = marketer_client.post(
        reverse("ui:wizard_message"), {"channel": "sms", "text": "x" * 21}
    )
    assert response.status_code == 400
    assert b"the limit is 20" in response.content


def test_counter_counts_what_recipients_receive_with_a_range(marketer_client):
    audience = make_audience(2)
    Contact.objects.filter(phone="+447946000001").update(first_name="Bartholomew")
    marketer_client.post(reverse("ui:wizard_audience"), {"name": "C", "lists": [audience.pk]})
    response = marketer_client.post(reverse("ui:sms_counter"), {"text": "Hi {{first_name}}"})
    page = response.content.decode()
    # "Hi Ann0" is 7 characters, "Hi Bartholomew" 14; the braces are not sent.
    assert '<span id="sms-filled-length">7–14</span>' in page


@pytest.mark.parametrize("speed", ["99999999999999999999", "0", "-4", "ten"])
def test_speed_limit_is_bounded_without_a_500(marketer_client, draft, speed):
    marketer_client.post(
        reverse("ui:wizard_audience"), {"name": "S", "lists": [draft.lists.get().pk]}
    )
    marketer_client.post(reverse("ui:wizard_message"), {"channel": "sms", "text": "Hi"})
    response = marketer_client.post(
        reverse("ui:wizard_options"),
        {"send_mode": "now", "speed_limit": speed, "speed_unit": "minute"},
    )
    assert response.status_code == 400
    assert b'id="err-speed"' in response.content
    assert not Campaign.objects.filter(name="S").exists()


def test_duplicate_reschedule_delete(marketer_client, sender_client, draft):
    response = marketer_client.post(reverse("ui:campaign_duplicate", args=[draft.pk]))
    copy = Campaign.objects.exclude(pk=draft.pk).get()
    assert response["Location"] == reverse("ui:campaign_preview", args=[copy.pk])
    assert (copy.name, copy.text, copy.state) == ("Copy of Spring", draft.text, "draft")
    assert list(copy.lists.all()) == list(draft.lists.all())

    later = timezone.now() + dt.timedelta(days=2)
    draft.send_at = timezone.now() + dt.timedelta(days=1)
    draft.save()
    campaign_launch(campaign=draft, actor=OPERATOR)
    local = timezone.localtime(later).strftime("%Y-%m-%dT%H:%M")
    response = sender_client.post(
        reverse("ui:campaign_reschedule", args=[draft.pk]), {"send_at": local}
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.state == CampaignState.SCHEDULED
    assert timezone.localtime(draft.send_at).strftime("%Y-%m-%dT%H:%M") == local
    past = sender_client.post(
        reverse("ui:campaign_reschedule", args=[draft.pk]), {"send_at": "2001-01-01T10:00"}
    )
    assert past.status_code == 400
    assert b"in the past" in past.content
    garbage = sender_client.post(
        reverse("ui:campaign_reschedule", args=[draft.pk]), {"send_at": "x" * 50}
    )
    assert garbage.status_code == 400

    response = marketer_client.post(reverse("ui:campaign_delete", args=[copy.pk]))
    assert response["Location"] == reverse("ui:campaigns")
    assert not Campaign.objects.filter(pk=copy.pk).exists()
    with pytest.raises(CampaignError):
        campaign_delete(campaign=draft)  # scheduled, not a draft


@pytest.mark.parametrize("hours", [-1, 24])
def test_duplicate_clears_the_send_time_past_or_future(draft, hours):
    # A copy sent at the original's moment would be a second send nobody scheduled (issue 26 #9).
    draft.send_at = timezone.now() + dt.timedelta(hours=hours)
    draft.save()
    copy = campaign_duplicate(campaign=draft, created_by=None, name="Again")
    assert copy.name == "Again"
    assert copy.send_at is None
    assert copy.state == CampaignState.DRAFT


def test_reschedule_refuses_the_past(draft):
    with pytest.raises(Exception, match="in the past"):
        campaign_reschedule(campaign=draft, send_at=timezone.now() - dt.timedelta(minutes=1))


def test_campaign_list_filters_by_state_channel_and_name(marketer_client, draft):
    other = ContactList.objects.get()
    campaign_create(name="Autumn", channel="sms", lists=[other], text="Hi")
    page = marketer_client.get(reverse("ui:campaigns"), {"q": "spr"}).content.decode()
    assert "Spring" in page
    assert "Autumn" not in page
    page = marketer_client.get(reverse("ui:campaigns"), {"channel": "whatsapp_template"}).content
    assert b"No campaign matches" in page
    page = marketer_client.get(reverse("ui:campaigns"), {"state": "draft", "q": "x" * 500})
    assert page.status_code == 200


def test_launch_confirmation_says_what_will_happen(sender_client, draft):
    Contact.objects.filter(phone="+447946000000").update(opted_out=True)
    page = sender_client.get(reverse("ui:campaign_action", args=[draft.pk, "launch"])).content
    assert (
        "Send 2 SMS (2 parts) to 2 people now, estimated €0.08; 1 opted out, 0 excluded."
        in page.decode()
    )


def test_403_names_the_missing_permission_and_who_has_it(marketer_client, sender, draft):
    response = marketer_client.get(reverse("ui:campaign_action", args=[draft.pk, "launch"]))
    assert response.status_code == 403
    page = response.content.decode()
    assert "Can launch, schedule, pause, resume, cancel and resend campaigns" in page
    assert "The Sender role has it." in page
    assert "Ask sam." in page
    assert "<h1>You can't do this yet</h1>" in page


def test_approval_queue_shows_message_and_audience_and_no_approve_for_the_creator(
    client, marketer, sender, draft, settings
):
    from tests.ui.conftest import make_user
    from ui.roles import MARKETER, SENDER

    settings.HERALD_REQUIRE_APPROVAL = True
    creator = make_user("cleo", MARKETER, SENDER)
    own = campaign_create(
        name="Mine", channel="sms", lists=draft.lists.all(), text="Own text", created_by=creator
    )
    client.force_login(creator)
    page = client.get(reverse("ui:approvals")).content.decode()
    assert "Spring" in page
    assert "Hi {{first_name}}!" in page
    assert "To: Customers" in page
    assert f'id="own-{own.pk}"' in page
    assert reverse("ui:campaign_action", args=[own.pk, "approve"]) not in page
    assert reverse("ui:campaign_action", args=[draft.pk, "approve"]) in page
    preview = client.get(reverse("ui:campaign_preview", args=[own.pk])).content.decode()
    assert "Approve…" not in preview
    client.force_login(sender)
    preview = client.get(reverse("ui:campaign_preview", args=[own.pk])).content.decode()
    assert "Approve…" in preview
    client.force_login(marketer)
    assert client.get(reverse("ui:approvals")).status_code == 403


def _ledger(campaign: Campaign) -> list:
    from campaigns.models import Message

    contacts = list(Contact.objects.order_by("id"))
    states = ["delivered", "undeliverable", "delivered"]
    return Message.objects.bulk_create(
        Message(campaign=campaign, contact=c, phone=c.phone, channel="sms", state=s)
        for c, s in zip(contacts, states, strict=True)
    )


def test_campaign_page_tells_the_story(marketer_client, draft):
    from campaigns.states import CampaignState
    from infobip.models import InboundMessage

    rows = _ledger(draft)
    Campaign.objects.filter(pk=draft.pk).update(
        state=CampaignState.COMPLETED,
        recipients=3,
        count_delivered=2,
        count_undeliverable=1,
        launched_at=timezone.now() - dt.timedelta(hours=1),
    )
    InboundMessage.objects.create(
        channel="sms",
        contact=rows[0].contact,
        infobip_message_id="r1",
        from_number="x",
        text="Thanks!",
        received_at=timezone.now(),
    )
    page = marketer_client.get(reverse("ui:campaign", args=[draft.pk])).content.decode()
    assert (
        'id="campaign-bubble">Hi Ann0!<' in page
        or 'id="campaign-bubble">Hi {{first_name}}!<' in page
    )
    assert '<strong id="story-sent">3</strong>' in page
    assert '<strong id="story-delivered">2</strong> <span class="funnel-rate">66.7%</span>' in page
    assert '<strong id="story-replied">1</strong> <span class="funnel-rate">50.0%</span>' in page

    found = marketer_client.get(
        reverse("ui:campaign_recipients", args=[draft.pk]), {"q": "ann1"}
    ).content.decode()
    assert "+447946000001" in found
    assert "+447946000002" not in found

    export = marketer_client.get(
        reverse("ui:campaign_export", args=[draft.pk]), {"group": "undelivered"}
    )
    body = b"".join(export.streaming_content).decode("utf-8-sig")
    assert "+447946000001" in body
    assert "+447946000000" not in body
    assert "undelivered" in export["Content-Disposition"]

    response = marketer_client.post(
        reverse("ui:campaign_make_list", args=[draft.pk]), {"group": "replied", "name": ""}
    )
    made = ContactList.objects.get(name="Spring — replied")
    assert response["Location"] == reverse("ui:list", args=[made.pk])
    assert list(made.contacts.values_list("phone", flat=True)) == ["+447946000000"]
    again = marketer_client.post(
        reverse("ui:campaign_make_list", args=[draft.pk]), {"group": "replied"}
    )
    assert again.status_code == 302  # refused with a message, nothing doubled
    assert ContactList.objects.filter(name="Spring — replied").count() == 1


def test_why_messages_wait(draft):
    from ui.story import waiting_reasons

    Campaign.objects.filter(pk=draft.pk).update(state="running", count_queued=120)
    draft.refresh_from_db()
    reasons = " ".join(waiting_reasons(draft))
    assert "Quiet hours: messages only go between 09:00 and 20:00" in reasons
    assert "Speed limit: 60 messages per minute, so the 120 waiting need about 2 min." in reasons


def test_dashboard_totals_for_7_and_30_days(marketer_client, draft):
    from decimal import Decimal

    Campaign.objects.filter(pk=draft.pk).update(
        state="completed",
        launched_at=timezone.now() - dt.timedelta(days=10),
        count_delivered=8,
        count_undeliverable=2,
        cost_amount=Decimal("0.40"),
        cost_currency="EUR",
    )
    week = marketer_client.get(reverse("ui:dashboard")).content.decode()
    assert '<dd id="total-sent">0</dd>' in week
    month = marketer_client.get(reverse("ui:dashboard"), {"days": "30"}).content.decode()
    assert '<dd id="total-sent">10</dd>' in month
    assert '<dd id="total-delivered-rate">80.0%</dd>' in month
    assert '<dd id="total-spend">€0.40</dd>' in month


def test_plain_status_names_and_money():
    from ui.templatetags.herald_ui import money, plain_status

    assert plain_status("DELIVERED_TO_HANDSET") == "Delivered to the phone"
    assert plain_status("SOMETHING_NEW") == "Something new"
    assert money("199.2", "EUR") == "€199.20"
    assert money("4978", "GBP") == "£4,978.00"
    assert money("0.0035", "EUR") == "€0.0035"
    assert money("12.5", "CHF") == "12.50 CHF"
    assert money("not money", "EUR") == ""


def test_time_zone_setting_browser_default_and_every_time_says_its_zone(marketer_client, draft):
    draft.send_at = dt.datetime(2030, 6, 1, 8, 0, tzinfo=dt.UTC)
    draft.save()
    marketer_client.cookies["herald_tz"] = "America/New_York"
    page = marketer_client.get(reverse("ui:campaign_preview", args=[draft.pk])).content.decode()
    assert "2030-06-01 04:00 EDT" in page  # the browser's zone, said on the page
    bad = marketer_client.post(reverse("ui:preferences"), {"time_zone": "Mars/Olympus"})
    assert bad.status_code == 400
    marketer_client.post(reverse("ui:preferences"), {"time_zone": "Europe/Madrid"})
    page = marketer_client.get(reverse("ui:campaign_preview", args=[draft.pk])).content.decode()
    assert "2030-06-01 10:00 CEST" in page  # the chosen zone wins over the browser's


def test_send_at_10_in_each_recipients_local_time(marketer_client, draft):
    Contact.objects.filter(phone="+447946000000").update(timezone="Europe/London")
    Contact.objects.filter(phone="+447946000001").update(timezone="America/New_York")
    Contact.objects.filter(phone="+447946000002").update(timezone="Asia/Tokyo")
    marketer_client.get(reverse("ui:campaign_edit", args=[draft.pk]))
    past = marketer_client.post(
        reverse("ui:wizard_options"),
        {
            "send_mode": "local",
            "local_date": "2001-01-01",
            "local_time": "10:00",
            "local_until": "18:00",
        },
    )
    assert past.status_code == 400
    assert 'id="err-local"' in past.content.decode()
    day = (timezone.now() + dt.timedelta(days=3)).date()
    response = marketer_client.post(
        reverse("ui:wizard_options"),
        {
            "send_mode": "local",
            "local_date": day.isoformat(),
            "local_time": "10:00",
            "local_until": "18:00",
            "speed_unit": "minute",
        },
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    draft.refresh_from_db()
    tokyo = dt.datetime.combine(day, dt.time(10), tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert draft.send_at == tokyo  # the first place where it is 10:00
    assert (draft.quiet_hours_start, draft.quiet_hours_end) == (dt.time(10), dt.time(18))


def test_whatsapp_mapping_takes_fallbacks_and_refuses_unfillable_columns(
    marketer_client, live_sandbox
):
    from whatsapp.models import WhatsAppTemplate

    marketer_client.post(reverse("ui:template_sync"))
    template = WhatsAppTemplate.objects.get(name="order_update")
    audience = make_audience(2)
    marketer_client.post(reverse("ui:wizard_audience"), {"name": "WA", "lists": [audience.pk]})
    refused = marketer_client.post(
        reverse("ui:wizard_message"),
        {
            "channel": "whatsapp_template",
            "template": template.pk,
            "body_0": "{{nickname}}",
            "body_1": "Friday",
        },
    )
    assert refused.status_code == 400
    assert "No contact in this audience has {{nickname}}" in refused.content.decode()
    ok = marketer_client.post(
        reverse("ui:wizard_message"),
        {
            "channel": "whatsapp_template",
            "template": template.pk,
            "body_0": "{{nickname|amigo}}",
            "body_1": "Friday",
        },
    )
    assert ok.status_code == 302
    page = marketer_client.get(reverse("ui:wizard_message")).content.decode()
    assert 'value="{{nickname|amigo}}"' in page  # shown back as typed
    marketer_client.post(
        reverse("ui:wizard_options"), {"send_mode": "now", "failover_mode": "none"}
    )
    campaign = Campaign.objects.get(name="WA")
    assert campaign.template_mapping["body"][0] == {
        "source": "attribute",
        "value": "nickname",
        "fallback": "amigo",
    }


def test_campaign_bubble_reads_only_the_first_rows(marketer_client, draft):
    """The bubble shows the first written text among the first rows, and never scans past them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from campaigns.models import Message
    from ui.views.campaigns import BUBBLE_ROWS, _bubble

    rows = _ledger(draft)
    Campaign.objects.filter(pk=draft.pk).update(recipients=3)
    draft.refresh_from_db()
    Message.objects.filter(pk=rows[1].pk).update(text="Hi Ann1, spring is here")
    with CaptureQueriesContext(connection) as queries:
        assert _bubble(draft) == "Hi Ann1, spring is here"
    ledger_sql = [q["sql"] for q in queries if "campaigns_message" in q["sql"]]
    # One MIN(id) by the (campaign, id) index, then a bounded read from there.
    assert len(ledger_sql) == 2
    assert "MIN(" in ledger_sql[0]
    assert f"LIMIT {BUBBLE_ROWS}" in ledger_sql[1]
    assert ">=" in ledger_sql[1]
    # No row with text among the first ones: the campaign's own text, not a deeper search.
    Message.objects.filter(pk=rows[1].pk).update(text="")
    assert _bubble(draft) == draft.text
