"""The launch forecast (issue 26 #5): the same decisions the freeze then makes, before launch."""

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns import freeze
from campaigns.describe import forecast_lines
from campaigns.forecast import campaign_forecast
from campaigns.freeze import campaign_freeze
from campaigns.models import Campaign, Message
from campaigns.preview import campaign_preview
from campaigns.services import campaign_create
from contacts.models import Contact, ContactList, ListMembership

pytestmark = pytest.mark.django_db
UTC = dt.UTC
# 00:00 in New York, 21:00 (the day before) in Los Angeles, 05:00 in London, 14:00 in Tokyo.
NOW = dt.datetime(2026, 12, 8, 5, 0, tzinfo=UTC)
PEOPLE = [
    ("+12125550101", "US", ""),  # New York
    ("+12125550102", "US", ""),
    ("+12135550101", "US", ""),  # Los Angeles
    ("+16052010000", "US", ""),  # South Dakota, an exchange on Central time
    ("+16052090000", "US", ""),  # the same area code, an exchange on Mountain time
    ("+447946000101", "GB", ""),
    ("+447946000102", "GB", ""),
    ("+447946000103", "GB", "Asia/Tokyo"),  # the contact's own zone wins over the number's
]


def _audience(people=PEOPLE, name: str = "Everyone") -> ContactList:
    audience = ContactList.objects.create(name=name)
    for phone, country, zone in people:
        contact = Contact.objects.create(
            phone=phone, country=country, timezone=zone, first_name="Ann"
        )
        ListMembership.objects.create(contact=contact, contact_list=audience)
    return audience


def _campaign(audience: ContactList, **extra) -> Campaign:
    fields = {"name": "Sale", "channel": "sms", "lists": [audience], "text": "Hi {{first_name}}"}
    return campaign_create(**(fields | extra))


def _freeze(campaign: Campaign, monkeypatch) -> Counter:
    """Launch and freeze at NOW; the ledger's wait per row (None: goes at once, str: skipped)."""
    monkeypatch.setattr(freeze.timezone, "now", lambda: NOW)
    Campaign.objects.filter(pk=campaign.pk).update(state="running", launched_at=NOW)
    campaign_freeze(campaign=campaign)
    rows = Message.objects.filter(campaign=campaign).values_list("state", "not_before", "reason")
    return Counter(nb if state == "queued" else reason.split(":")[0] for state, nb, reason in rows)


def test_the_issue_example_and_the_freeze_agree_on_who_waits_until_when(monkeypatch):
    campaign = _campaign(_audience(), quiet_hours=(dt.time(8), dt.time(21)))
    forecast = campaign_forecast(campaign=campaign, now=NOW)

    at = lambda h: NOW.replace(hour=h)  # noqa: E731
    assert forecast.send_now == 1  # the Tokyo contact: 14:00 there
    us, gb = sorted(forecast.waiting, key=lambda w: w.where, reverse=True)
    assert (us.where, us.recipients, us.local_time) == ("US", 5, "08:00")
    assert (us.first_at, us.last_at) == (at(13), at(16))
    assert (gb.where, gb.recipients, gb.first_at, gb.last_at) == ("GB", 2, at(8), at(8))
    assert "5 US recipients wait for 08:00 local, 13:00–16:00 UTC." in forecast_lines(forecast)

    ledger = _freeze(campaign, monkeypatch)
    # The same openings, person by person: NY 13:00, Chicago 14:00, Denver 15:00, LA 16:00 —
    # the two South Dakota numbers share an area code but not a zone (the prefix is refined).
    expected = {NOW: 1, at(8): 2, at(13): 2, at(14): 1, at(15): 1, at(16): 1}
    assert ledger == Counter({(None if k == NOW else k): n for k, n in expected.items()})
    assert forecast.schedule == sorted(expected.items())


def test_without_a_window_of_its_own_the_countries_rules_decide(monkeypatch, settings):
    settings.HERALD_COUNTRY_QUIET_HOURS = True
    campaign = _campaign(_audience())
    forecast = campaign_forecast(campaign=campaign, now=NOW)
    # GB has no rule: its three go now; US numbers wait for 08:00 local (TCPA).
    assert forecast.send_now == 3
    assert [(w.where, w.recipients, w.local_time) for w in forecast.waiting] == [("US", 5, "08:00")]
    ledger = _freeze(campaign, monkeypatch)
    assert ledger[None] == 3
    assert sum(ledger.values()) == 8


def test_holds_by_frequency_cap_and_missing_consent_match_the_preview(settings):
    settings.HERALD_FREQUENCY_CAPS = [{"messages": 1, "days": 7, "channel": "sms"}]
    audience = _audience()
    earlier = _campaign(audience, name="Earlier")
    capped = Contact.objects.get(phone="+447946000101")
    Message.objects.create(
        campaign=earlier, contact=capped, phone=capped.phone, channel="sms", state="delivered"
    )
    Contact.objects.filter(phone="+447946000102").update(opted_out=True)
    campaign = _campaign(audience)
    forecast = campaign_forecast(campaign=campaign, now=timezone.now())
    preview = campaign_preview(campaign=campaign)
    assert forecast.held_frequency_cap == preview["excluded"]["frequency_capped"] == 1
    assert forecast.opted_out == preview["excluded"]["opted_out"] == 1
    assert forecast.send_now + forecast.waiting_total == preview["messages"] == 6
    assert "1 are held by a frequency cap (not sent)." in forecast_lines(forecast)


def test_a_validity_shorter_than_the_wait_expires_them_in_the_forecast_and_the_freeze(
    monkeypatch,
):
    # GB waits 3 hours (05:00 → 08:00); a 2-hour validity is over by then.
    audience = _audience(PEOPLE[5:])
    campaign = _campaign(audience, quiet_hours=(dt.time(8), dt.time(21)), sms_validity_minutes=120)
    forecast = campaign_forecast(campaign=campaign, now=NOW)
    assert (forecast.expire, forecast.send_now, forecast.waiting) == (2, 1, [])
    assert "2 would expire before their window opens (validity 2 hours): they are not sent." in (
        forecast_lines(forecast)
    )
    ledger = _freeze(campaign, monkeypatch)
    assert ledger == Counter({None: 1, "expired before its window opened": 2})


def test_the_budget_cap_holds_those_past_it_in_send_order(settings):
    settings.HERALD_PRICES = {"currency": "EUR", "sms": {"default": "0.05"}}
    audience = _audience(PEOPLE[5:])
    campaign = _campaign(audience, text="Hello", max_spend=Decimal("0.10"))
    budget = campaign_forecast(campaign=campaign, now=NOW).budget
    assert budget == {
        "cap": "0.1000",
        "estimate": "0.1500",
        "currency": "EUR",
        "held": 1,
        "parts_per_message": "1.00",
    }


def test_the_finish_time_follows_the_speed_and_waits_for_closed_windows():
    audience = _audience([(f"+4479460001{i:02d}", "GB", "UTC") for i in range(3)])
    quick = _campaign(audience, name="Quick", speed_limit=1, speed_unit="minute")
    assert campaign_forecast(campaign=quick, now=NOW).finish_at == NOW + dt.timedelta(minutes=3)
    # A one-minute window at 08:00 UTC and one message a minute: one a day.
    slow = _campaign(
        audience,
        name="Slow",
        speed_limit=1,
        speed_unit="minute",
        quiet_hours=(dt.time(8), dt.time(8, 1)),
    )
    forecast = campaign_forecast(campaign=slow, now=NOW)
    assert forecast.finish_at == dt.datetime(2026, 12, 10, 8, 1, tzinfo=UTC)
    no_limit = _campaign(audience, name="Free", quiet_hours=(dt.time(8), dt.time(21)))
    assert campaign_forecast(campaign=no_limit, now=NOW).finish_at == NOW.replace(hour=8)


def test_a_scheduled_campaign_is_forecast_at_its_send_time():
    audience = _audience(PEOPLE[5:7])
    later = NOW.replace(hour=9)
    campaign = _campaign(audience, quiet_hours=(dt.time(8), dt.time(21)), send_at=later)
    forecast = campaign_forecast(campaign=campaign, now=NOW)
    assert (forecast.at, forecast.send_now, forecast.waiting) == (later, 2, [])


def test_contacts_without_the_channels_opt_in_are_held_as_the_preview_says(settings):
    from contacts.models import ConsentEvent

    settings.HERALD_WHATSAPP_REQUIRE_OPT_IN = True
    audience = _audience(PEOPLE[5:])
    opted_in = Contact.objects.get(phone="+447946000101")
    ConsentEvent.objects.create(
        contact=opted_in, action="opt_in", source="keyword", channel="whatsapp"
    )
    campaign = _campaign(audience, channel="whatsapp_text", text="Hi")
    forecast = campaign_forecast(campaign=campaign, now=timezone.now())
    preview = campaign_preview(campaign=campaign)
    assert forecast.held_no_consent == preview["excluded"]["no_channel_consent"] == 2
    assert forecast.send_now + forecast.waiting_total == 1


def test_an_audience_with_nobody_left_forecasts_nothing():
    campaign = _campaign(_audience(PEOPLE[:1]))
    campaign.lists.clear()  # its only list deleted since: the audience selects nobody
    forecast = campaign_forecast(campaign=campaign, now=NOW)
    assert (forecast.audience, forecast.send_now, forecast.finish_at) == (0, 0, None)
