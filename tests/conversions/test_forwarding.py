"""Conversions forwarded to Infobip's conversion tracking (`POST /ct/1/log/end/{messageId}`).

Off by default (HERALD_INFOBIP_CONVERSIONS); when on, SMS go out with
`options.conversionTracking` and each conversion credited to an SMS message of ours is
forwarded once, from a task enqueued on commit. `responses` plays Infobip (every body checked
against its spec); the last test goes through the sandbox.
"""

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import Message
from channels.base import Outbound
from channels.registry import channel_type
from conversions.models import Conversion
from conversions.services import conversion_explain, conversions_forward, conversions_record
from conversions.tasks import forward_sweep
from infobip.client import get_client
from tests.factories import CampaignFactory, ContactFactory, MessageFactory
from tests.fixtures.provider import BASE_URL, sent_bodies

pytestmark = pytest.mark.django_db
NOW = timezone.now().replace(microsecond=0)
SENT = {
    "bulkId": "b1",
    "messages": [
        {
            "messageId": "m1",
            "destination": "41793026727",
            "status": {
                "groupId": 1,
                "groupName": "PENDING",
                "id": 26,
                "name": "PENDING_ACCEPTED",
                "description": "Message sent to next instance",
            },
        }
    ],
}


def _delivered(contact, channel: str = "sms", hours_ago: float = 2) -> Message:
    at = NOW - dt.timedelta(hours=hours_ago)
    kind = "whatsapp_text" if channel == "whatsapp" else channel
    campaign = CampaignFactory(state="completed", channel=kind)
    message = MessageFactory(campaign=campaign, contact=contact, state="delivered", channel=channel)
    Message.objects.filter(pk=message.pk).update(
        created_at=at, claimed_at=at, accepted_at=at, done_at=at
    )
    message.refresh_from_db()
    return message


def _record(contact, order_id: str = "1042") -> Conversion:
    body = {
        "order_id": order_id,
        "value": "59.90",
        "contact": {"id": contact.pk},
        "occurred_at": NOW.isoformat(),
    }
    result = conversions_record(items=[body])
    assert not result.rejected, result.rejected
    return Conversion.objects.get(order_id=order_id)


def _ct(message: Message) -> str:
    return f"{BASE_URL}/ct/1/log/end/{message.message_id}"


def test_sms_ask_infobip_to_track_conversions_only_when_forwarding_is_on(provider_mocked, settings):
    provider_mocked.post(f"{BASE_URL}/sms/3/messages", json=SENT)
    out = Outbound(
        to="41793026727",
        message_id="m1",
        text="Hi",
        sender="Herald",
        notify_url="https://herald.example/infobip/sms/reports",
    )
    for on in (False, True):
        settings.HERALD_INFOBIP_CONVERSIONS = on
        channel_type("sms").send(get_client(), [out])
    off, on_ = sent_bodies(provider_mocked, "/sms/3/messages")
    assert "conversionTracking" not in off.get("options", {})
    assert on_["options"]["conversionTracking"] == {"useConversionTracking": True}


def test_a_credited_sms_conversion_is_forwarded_once_on_commit(
    provider_mocked, settings, django_capture_on_commit_callbacks
):
    settings.HERALD_INFOBIP_CONVERSIONS = True
    contact = ContactFactory()
    message = _delivered(contact)
    provider_mocked.post(_ct(message), json={"processKey": "A37D448C"})
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        conversion = _record(contact)
    assert len(callbacks) >= 1  # the event and the forwarding task (eager here)
    conversion.refresh_from_db()
    assert conversion.forwarded_at is not None
    assert conversion.forward_error == ""
    assert conversions_forward(conversion_ids=[conversion.pk]).forwarded == 0
    assert conversions_forward(conversion_ids=[conversion.pk], retrying=True).forwarded == 0
    calls = [c for c in provider_mocked.calls if "/ct/1/log/end/" in c.request.url]
    assert len(calls) == 1
    assert calls[0].request.method == "POST"
    assert (
        conversion_explain(order_id="1042")["forwarded_at"] == conversion.forwarded_at.isoformat()
    )


def test_nothing_is_forwarded_when_off_or_not_credited_to_an_sms(
    provider_mocked, settings, django_capture_on_commit_callbacks
):
    contact = ContactFactory()
    _delivered(contact)
    with django_capture_on_commit_callbacks(execute=True):
        off = _record(contact, "off")  # the setting is off by default
    assert conversions_forward(conversion_ids=[off.pk]).forwarded == 0
    assert not provider_mocked.calls
    settings.HERALD_INFOBIP_CONVERSIONS = True
    whatsapp_contact = ContactFactory()
    _delivered(whatsapp_contact, channel="whatsapp")
    with django_capture_on_commit_callbacks(execute=True):
        on_whatsapp = _record(whatsapp_contact, "wa")
        nobody = _record(ContactFactory(), "nobody")
    result = conversions_forward(conversion_ids=[on_whatsapp.pk, nobody.pk])
    assert (result.forwarded, result.retry, result.failed) == (0, [], 0)
    assert not provider_mocked.calls
    assert not Conversion.objects.filter(forwarded_at__isnull=False).exists()
    assert conversion_explain(order_id="wa")["forwarded_at"] is None


def test_infobip_s_failures_are_retried_or_recorded_never_repeated_after_success(
    provider_mocked, settings
):
    settings.HERALD_INFOBIP_CONVERSIONS = True
    contacts = [ContactFactory(), ContactFactory()]
    flaky, refused = (_delivered(c) for c in contacts)
    first, second = (_record(c, f"o{i}") for i, c in enumerate(contacts))
    provider_mocked.post(_ct(flaky), status=500, json={"errorCode": "E500"})
    provider_mocked.post(
        _ct(refused),
        status=404,
        json={
            "requestError": {"serviceException": {"messageId": "NOT_FOUND", "text": "Not found"}}
        },
    )
    result = conversions_forward(conversion_ids=[first.pk, second.pk])
    assert result.retry == [first.pk]
    assert result.failed == 1
    assert result.forwarded == 0
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.forward_error.startswith("will retry: HTTP 500")
    assert second.forward_error.startswith("HTTP 404")
    assert second.forwarded_at is None
    # The task's retry (and the sweep) repeat the retryable one only.
    provider_mocked.replace("POST", _ct(flaky), json={"processKey": "K"})
    again = conversions_forward(conversion_ids=[first.pk, second.pk], retrying=True)
    assert again.forwarded == 1
    assert again.failed == 0
    posts = [c.request.url for c in provider_mocked.calls]
    assert posts.count(_ct(flaky)) == 2
    assert posts.count(_ct(refused)) == 1
    assert conversion_explain(order_id="o1")["forward_error"].startswith("HTTP 404")


def test_the_sweep_forwards_what_the_broker_lost(provider_mocked, settings):
    settings.HERALD_INFOBIP_CONVERSIONS = True
    contact = ContactFactory()
    message = _delivered(contact)
    conversion = _record(contact)  # its on-commit task never ran (captured, not executed)
    Conversion.objects.filter(pk=conversion.pk).update(received_at=NOW - dt.timedelta(minutes=5))
    provider_mocked.post(_ct(message), json={"processKey": "K"})
    forward_sweep()
    forward_sweep()
    conversion.refresh_from_db()
    assert conversion.forwarded_at is not None
    assert [c.request.url for c in provider_mocked.calls] == [_ct(message)]


def test_through_the_sandbox_a_tracked_sms_is_logged_once(on_sandbox, settings):
    settings.HERALD_INFOBIP_CONVERSIONS = True
    tracked_contact, untracked_contact = ContactFactory(), ContactFactory()
    tracked, untracked = _delivered(tracked_contact), _delivered(untracked_contact)
    sms = channel_type("sms")
    for message, on in ((tracked, True), (untracked, False)):
        settings.HERALD_INFOBIP_CONVERSIONS = on
        out = Outbound(
            to=message.phone.lstrip("+"),
            message_id=str(message.message_id),
            text="Hi",
            sender="Herald",
            notify_url="",
        )
        sms.send(get_client(), [out])
    settings.HERALD_INFOBIP_CONVERSIONS = True
    good, bad = _record(tracked_contact, "t"), _record(untracked_contact, "u")
    first = conversions_forward(conversion_ids=[good.pk, bad.pk])
    second = conversions_forward(conversion_ids=[good.pk, bad.pk], retrying=True)
    assert (first.forwarded, first.failed, second.forwarded) == (1, 1, 0)
    logged = on_sandbox.state()["conversions"]
    assert logged["byMessageId"] == {str(tracked.message_id): 1}
    assert logged["refused"] == 1  # sent without tracking: the sandbox answers 404
    bad.refresh_from_db()
    assert bad.forward_error.startswith("HTTP 404")


def test_the_admin_shows_and_filters_what_was_forwarded(admin_client):
    contact = ContactFactory()
    _delivered(contact)
    conversion = _record(contact)
    Conversion.objects.filter(pk=conversion.pk).update(
        forwarded_at=NOW, forward_error="will retry: HTTP 503"
    )
    page = admin_client.get(f"/admin/conversions/conversion/{conversion.pk}/change/")
    assert page.status_code == 200
    assert b"Forwarded at" in page.content
    assert b"will retry: HTTP 503" in page.content
    listed = admin_client.get("/admin/conversions/conversion/?forwarded_at__isnull=False")
    assert listed.status_code == 200
    assert b"1042" in listed.content
    unlisted = admin_client.get("/admin/conversions/conversion/?forwarded_at__isnull=True")
    assert b"1042" not in unlisted.content
