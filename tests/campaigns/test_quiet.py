"""Quiet hours across every candidate zone of a number, country defaults, refused windows."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns import freeze
from campaigns.freeze import campaign_freeze
from campaigns.models import Campaign, Message
from campaigns.quiet import QuietHours, Window, default_window, window_opens
from campaigns.services import campaign_create
from contacts.models import Contact, ContactList, ListMembership
from contacts.phones import candidate_zones

UTC = dt.UTC
AU_MOBILE = "+61412345678"
NEW_YORK = "+12015550123"
MIAMI = "+13055550123"


def _at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def _hm(value: str) -> dt.time:
    return dt.time.fromisoformat(value)


def test_an_australian_mobile_has_every_australian_zone() -> None:
    zones = candidate_zones(AU_MOBILE)
    assert {"Australia/Perth", "Australia/Sydney", "Australia/Lord_Howe"} <= set(zones)
    assert candidate_zones(NEW_YORK) == ("America/New_York",)
    assert candidate_zones("not a number") == ()


def test_the_1_26_sydney_message_waits_until_the_window_holds_in_all_zones() -> None:
    # 14:26 UTC on 1 December is 01:26 in Sydney (AEDT), the reported broken promise.
    now = _at(2026, 12, 1, 14, 26)
    quiet = QuietHours(start=_hm("09:00"), end=_hm("20:00"), now=now)
    opens, why = quiet.wait(phone=AU_MOBILE, country="AU", timezone="")
    assert why == ""
    # The westernmost candidate (Cocos, UTC+6:30) reaches 09:00 at 02:30 UTC; by then it is
    # 13:30 in Sydney and Lord Howe, inside the window everywhere.
    assert opens == _at(2026, 12, 2, 2, 30)
    # The old rule (the server's UTC) would have sent at once: 14:26 UTC is inside 09–20.
    assert window_opens(window=quiet.own, zones=("UTC",), now=now) == (None, True)


def test_a_known_zone_gives_its_own_opening() -> None:
    now = _at(2026, 12, 1, 14, 26)  # 22:26 in Perth
    quiet = QuietHours(start=_hm("09:00"), end=_hm("20:00"), now=now)
    opens, _ = quiet.wait(phone=AU_MOBILE, country="AU", timezone="Australia/Perth")
    assert opens == _at(2026, 12, 2, 1, 0)  # 09:00 Perth
    inside = QuietHours(start=_hm("09:00"), end=_hm("20:00"), now=_at(2026, 12, 1, 4, 0))
    assert inside.wait(phone=AU_MOBILE, country="AU", timezone="Australia/Perth") == (None, "")


def test_us_numbers_get_the_tcpa_window_by_default() -> None:
    quiet = QuietHours(start=None, end=None, now=_at(2026, 12, 1, 12, 0))  # 07:00 in New York
    assert quiet.wait(phone=NEW_YORK, country="US", timezone="") == (_at(2026, 12, 1, 13, 0), "")
    later = QuietHours(start=None, end=None, now=_at(2026, 12, 1, 14, 0))
    assert later.wait(phone=NEW_YORK, country="US", timezone="") == (None, "")
    # Countries without a default are not held.
    assert later.wait(phone="+447946000001", country="GB", timezone="") == (None, "")


def test_stricter_states_win_over_the_federal_window() -> None:
    assert default_window(country="US", phone=MIAMI).end == _hm("20:00")
    assert default_window(country="US", phone=NEW_YORK).end == _hm("21:00")
    assert default_window(country="GB", phone="+447946000001") is None
    # 20:30 in Miami: inside the TCPA window, outside Florida's.
    quiet = QuietHours(start=None, end=None, now=_at(2026, 12, 2, 1, 30))
    assert quiet.wait(phone=MIAMI, country="US", timezone="") == (_at(2026, 12, 2, 13, 0), "")
    assert quiet.wait(phone=NEW_YORK, country="US", timezone="") == (None, "")


def test_a_campaign_window_replaces_the_country_default(settings) -> None:
    quiet = QuietHours(start=_hm("06:00"), end=_hm("23:00"), now=_at(2026, 12, 1, 12, 0))
    assert quiet.wait(phone=NEW_YORK, country="US", timezone="") == (None, "")
    settings.HERALD_COUNTRY_QUIET_HOURS = False
    off = QuietHours(start=None, end=None, now=_at(2026, 12, 1, 12, 0))
    assert off.wait(phone=NEW_YORK, country="US", timezone="") == (None, "")


def test_a_window_shorter_than_the_zones_spread_is_reported_not_waited_on() -> None:
    # Russia's +7 mobiles span UTC+2 to UTC+12: a two-hour window is never open everywhere.
    quiet = QuietHours(start=_hm("10:00"), end=_hm("12:00"), now=_at(2026, 12, 1, 0, 0))
    opens, why = quiet.wait(phone="+79161234567", country="RU", timezone="")
    assert opens is None
    assert "never hold in all of the number's time zones" in why


def test_overnight_windows_wrap_midnight() -> None:
    window = Window(_hm("22:00"), _hm("06:00"), "campaign")
    assert window_opens(window=window, zones=("UTC",), now=_at(2026, 12, 1, 23, 0)) == (None, True)
    opens = window_opens(window=window, zones=("UTC",), now=_at(2026, 12, 1, 12, 0))
    assert opens == (_at(2026, 12, 1, 22, 0), True)


@pytest.mark.django_db
def test_a_window_that_starts_when_it_ends_is_refused() -> None:
    audience = ContactList.objects.create(name="a")
    with pytest.raises(ValidationError, match="start and end at the same time"):
        campaign_create(
            name="q",
            channel="sms",
            lists=[audience],
            text="Hi",
            quiet_hours=(_hm("09:00"), _hm("09:00")),
        )


@pytest.mark.django_db
def test_freeze_holds_each_recipient_for_all_its_zones(monkeypatch) -> None:
    now = _at(2026, 12, 1, 14, 26)
    monkeypatch.setattr(freeze.timezone, "now", lambda: now)
    audience = ContactList.objects.create(name="mixed")
    contacts = Contact.objects.bulk_create(
        [
            Contact(phone=AU_MOBILE, country="AU"),
            Contact(phone="+61412345679", country="AU", timezone="Australia/Perth"),
            Contact(phone="+79161234567", country="RU"),
            Contact(phone="+447946000001", country="GB", timezone="Europe/London"),
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
        quiet_hours=(_hm("09:00"), _hm("20:00")),
    )
    Campaign.objects.filter(pk=campaign.pk).update(state="running", launched_at=timezone.now())
    campaign_freeze(campaign=campaign)
    rows = {m.phone: m for m in Message.objects.filter(campaign=campaign)}
    assert rows[AU_MOBILE].not_before == _at(2026, 12, 2, 2, 30)
    assert rows["+61412345679"].not_before == _at(2026, 12, 2, 1, 0)
    assert rows["+447946000001"].not_before is None  # 14:26 in London: inside
    # +7 spans UTC+2 (the data's Europe/Bucharest) to UTC+12 (Kamchatka): 09:00 at UTC+2 is
    # 07:00 UTC, still 19:00 in Kamchatka, the one hour the window holds everywhere.
    assert rows["+79161234567"].not_before == _at(2026, 12, 2, 7, 0)
    campaign.refresh_from_db()
    assert (campaign.count_queued, campaign.count_skipped) == (4, 0)
