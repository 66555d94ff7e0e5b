"""Admin: events (filter, replay), inbound messages, the per-contact conversation, health."""

import datetime as dt

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Message
from infobip.models import EventStatus, InboundMessage, WebhookEvent
from tests.infobip.webhooks.conftest import example, make_ledger, report

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "model", ["webhookevent", "pendingreport", "inboundmessage", "click", "reporthealth"]
)
def test_changelists_render(admin_client, post, model) -> None:
    post("sms/reports", example("sms_dlr_push_v3"))
    post("whatsapp/inbound", example("whatsapp_inbound_text"))
    post("clicks", example("sms_click_push"))
    response = admin_client.get(reverse(f"admin:infobip_{model}_changelist"))
    assert response.status_code == 200
    assert settings.INFOBIP_WEBHOOK_TOKEN not in response.content.decode()


def test_events_filter_by_kind_and_status(admin_client, post) -> None:
    post("sms/reports", example("sms_dlr_push_v3"))
    post("sms/inbound", example("sms_inbound_push"))
    url = reverse("admin:infobip_webhookevent_changelist")
    page = admin_client.get(url, {"kind": "sms_inbound", "status": "processed"})
    assert list(page.context["cl"].result_list) == [WebhookEvent.objects.get(kind="sms_inbound")]
    assert not admin_client.get(url, {"status": "failed"}).context["cl"].result_list


def test_event_page_shows_the_body_and_a_skipped_item_can_be_replayed(
    admin_client, post, swap_receiver
) -> None:
    from campaigns.outcomes import reports_apply

    _campaign, (message,) = make_ledger(1)
    swap_receiver("reports", lambda **kw: 1 / 0)
    post("sms/reports", {"results": [report(str(message.message_id))]})
    event = WebhookEvent.objects.get()
    assert event.status == EventStatus.PROCESSED
    page = admin_client.get(reverse("admin:infobip_webhookevent_change", args=[event.pk]))
    assert str(message.message_id) in page.content.decode()
    assert "results[0]: not applied: ZeroDivisionError" in page.content.decode()
    swap_receiver("reports", reports_apply)
    response = admin_client.post(
        reverse("admin:infobip_webhookevent_changelist"),
        {"action": "reprocess", "_selected_action": [event.pk]},
        follow=True,
    )
    assert "1 processed" in response.content.decode()
    assert "0 items skipped" in response.content.decode()
    event.refresh_from_db()
    assert (event.status, event.attempts, event.error) == (EventStatus.PROCESSED, 2, "")
    assert Message.objects.get(pk=message.pk).state == "delivered"


def test_an_unreadable_stored_event_fails_alone_and_its_pages_answer(admin_client, post) -> None:
    _campaign, (message,) = make_ledger(1)
    bad = WebhookEvent.objects.create(kind="sms_reports", body="[" * 100_000, content_hash="x")
    post("sms/reports", {"results": [report(str(message.message_id))]})
    from infobip.processing import events_backlog

    events_backlog(older_than=0)
    bad.refresh_from_db()
    assert bad.status == EventStatus.FAILED
    assert Message.objects.get(pk=message.pk).state == "delivered"
    changelist = admin_client.get(reverse("admin:infobip_webhookevent_changelist"))
    assert changelist.status_code == 200
    page = admin_client.get(reverse("admin:infobip_webhookevent_change", args=[bad.pk]))
    assert page.status_code == 200


def test_the_conversation_shows_outbound_and_inbound_in_order(
    admin_client, post, infobip_api
) -> None:
    now = timezone.now()
    _campaign, (message,) = make_ledger(1, prefix="+4479463")
    Message.objects.filter(pk=message.pk).update(
        text="Spring sale today", claimed_at=now - dt.timedelta(minutes=10)
    )
    received = (now - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    body = {
        "results": [
            {
                "messageId": "in-1",
                "from": message.phone[1:],
                "to": "447860099299",
                "text": "HELP",
                "receivedAt": received,
            }
        ]
    }
    post("sms/inbound", body)
    inbound = InboundMessage.objects.get()
    listing = admin_client.get(reverse("admin:infobip_inboundmessage_changelist"))
    link = reverse("admin:infobip_conversation", args=[inbound.contact_id])
    assert link in listing.content.decode()
    page = admin_client.get(link)
    assert page.status_code == 200
    entries = page.context["entries"]
    assert [(e["direction"], e["text"]) for e in entries] == [
        ("out", "Spring sale today"),
        ("in", "HELP"),
        ("out", settings.HERALD_KEYWORD_REPLIES["help"]),
    ]


def test_the_conversation_needs_staff(client, post) -> None:
    post("sms/inbound", example("sms_inbound_push"))
    url = reverse("admin:infobip_conversation", args=[InboundMessage.objects.get().contact_id])
    assert client.get(url).status_code == 302
