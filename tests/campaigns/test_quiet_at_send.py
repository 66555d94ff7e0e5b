"""Quiet hours are checked again at send: a row claimed after its window closed is re-held."""

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.freeze import campaign_freeze
from campaigns.models import Campaign, Message, MessageEvent
from campaigns.sending import campaign_send_batch
from campaigns.services import campaign_create
from contacts.models import Contact, ContactList, ListMembership

pytestmark = pytest.mark.django_db

UTC = dt.UTC
AU_MOBILE = "+61412345678"  # no zone: every Australian zone must be inside the window
LONDON = "+447946000001"


def _at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


class Clock:
    """A fixed clock the test moves by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def test_a_row_delayed_past_the_window_is_held_until_it_opens_and_sent_once(
    live_sandbox, monkeypatch
) -> None:
    # 03:00 UTC on 1 December: 14:00 in Sydney and Lord Howe, 09:30 in Cocos (inside the
    # 09:00–20:00 window everywhere in Australia), 03:00 in London (outside).
    clock = Clock(_at(2026, 12, 1, 3, 0))
    monkeypatch.setattr(timezone, "now", clock)
    audience = ContactList.objects.create(name="mixed")
    contacts = Contact.objects.bulk_create(
        [
            Contact(phone=AU_MOBILE, country="AU"),
            Contact(phone=LONDON, country="GB", timezone="Europe/London"),
        ]
    )
    ListMembership.objects.bulk_create(
        [ListMembership(contact=c, contact_list=audience) for c in contacts]
    )
    campaign = campaign_create(
        name="q",
        channel="sms",
        lists=[audience],
        text="Hi",
        quiet_hours=(dt.time(9), dt.time(20)),
    )
    Campaign.objects.filter(pk=campaign.pk).update(state="running", launched_at=clock.now)
    campaign_freeze(campaign=campaign)
    rows = {m.phone: m for m in Message.objects.filter(campaign=campaign)}
    assert rows[AU_MOBILE].not_before is None  # inside at freeze
    assert rows[LONDON].not_before == _at(2026, 12, 1, 9, 0)

    # A backlog: the first batch goes at 10:00 UTC, 21:00 in Sydney (closed) and 10:00 in
    # London (open). The Australian row is claimed, then re-held; London's is sent.
    clock.now = _at(2026, 12, 1, 10, 0)
    result = campaign_send_batch(campaign_id=campaign.pk)
    assert (result.claimed, result.held, result.accepted) == (2, 1, 1)
    au = Message.objects.get(campaign=campaign, phone=AU_MOBILE)
    assert au.state == "queued"
    assert au.claimed_at is None
    assert au.not_before == _at(2026, 12, 2, 2, 30)  # 09:00 in Cocos, the last zone to open
    held = MessageEvent.objects.filter(message=au, from_state="queued", to_state="queued")
    assert held.count() == 1
    assert "quiet hours" in held.get().detail
    campaign.refresh_from_db()
    assert (campaign.count_queued, campaign.count_sending) == (1, 0)

    # Still closed: nothing is claimed again before the opening.
    clock.now = _at(2026, 12, 2, 2, 0)
    assert campaign_send_batch(campaign_id=campaign.pk).claimed == 0

    # Open everywhere in Australia: sent, once.
    clock.now = _at(2026, 12, 2, 2, 31)
    result = campaign_send_batch(campaign_id=campaign.pk)
    assert (result.claimed, result.held, result.accepted) == (1, 0, 1)
    assert campaign_send_batch(campaign_id=campaign.pk).claimed == 0
    states = dict(Message.objects.filter(campaign=campaign).values_list("phone", "state"))
    assert states == {AU_MOBILE: "accepted", LONDON: "accepted"}
    # Each went out once: Infobip (the sandbox) took each message once and no other.
    state = live_sandbox.state()
    assert state["accepted"]["total"] == 2
    assert state["duplicates"] == {"messageId": 0, "recipientCallbackData": 0}
    for message in Message.objects.filter(campaign=campaign):
        assert live_sandbox.truth(str(message.message_id)) is not None


def test_without_any_window_nothing_is_held(live_sandbox, settings, monkeypatch) -> None:
    settings.HERALD_COUNTRY_QUIET_HOURS = False
    monkeypatch.setattr(timezone, "now", Clock(_at(2026, 12, 1, 14, 26)))
    audience = ContactList.objects.create(name="au")
    contact = Contact.objects.create(phone=AU_MOBILE, country="AU")
    ListMembership.objects.create(contact=contact, contact_list=audience)
    campaign = campaign_create(name="n", channel="sms", lists=[audience], text="Hi")
    Campaign.objects.filter(pk=campaign.pk).update(state="running", launched_at=timezone.now())
    campaign_freeze(campaign=campaign)
    result = campaign_send_batch(campaign_id=campaign.pk)
    assert (result.claimed, result.held, result.accepted) == (1, 0, 1)
