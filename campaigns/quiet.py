"""Quiet hours: the window in the recipient's local time when a marketing message may go out.

A contact's own timezone decides when it has one. When it does not, the window must hold in
every zone the number can be in (libphonenumber's candidates: the area code's zone for
geographic numbers, the whole country's zones otherwise), so a +61 mobile waits until it is
daytime from Perth to Lord Howe Island instead of going out at 01:26 in Sydney because a blank
zone fell back to the server's UTC. A campaign's own window replaces the country default
(`COUNTRY_DEFAULTS`, US states in `US_STATE_DEFAULTS`; sources in docs/AUDIENCES.md "Quiet hours").

Freezing computes one `not_before` per recipient, but the work is per distinct zone set and
area code (cached for the freeze), so the hot path stays a dict lookup for most recipients.
"""

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings

from contacts.phones import candidate_zones

# How far ahead to look for an instant inside the window in every zone: a week covers every
# DST shift; a window that is never open in all zones at once (zones further apart than the
# window is long) is reported rather than waited on forever.
_HORIZON_DAYS = 8


@dataclass(frozen=True)
class Window:
    """A daily sending window in recipient local time, with where it comes from."""

    start: dt.time
    end: dt.time
    source: str

    def label(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


def _w(start: str, end: str, source: str) -> Window:
    return Window(dt.time.fromisoformat(start), dt.time.fromisoformat(end), source)


# Marketing quiet hours by the number's country (ISO 3166-1 alpha-2). Only rules with a clear
# legal source are listed; docs/AUDIENCES.md "Quiet hours" cites them. Weekday-specific rules
# (Texas's Sunday noon start) are not modelled: the window below is the weekday one.
COUNTRY_DEFAULTS: dict[str, Window] = {
    "US": _w("08:00", "21:00", "US TCPA, 47 CFR § 64.1200(c)(1)"),
}
# US states whose telephone-solicitation laws are stricter than the TCPA (texts included).
US_STATE_DEFAULTS: dict[str, Window] = {
    "Florida": _w("08:00", "20:00", "Florida Telephone Solicitation Act, Fla. Stat. § 501.059(8)"),
    "Oklahoma": _w("08:00", "20:00", "Oklahoma Telephone Solicitation Act, 15 O.S. § 775C.4"),
    "Maryland": _w("08:00", "20:00", "Maryland Stop the Spam Calls Act, Md. Com. Law § 14-4503"),
    "Washington State": _w("08:00", "20:00", "Washington, RCW 80.36.390"),
    "Texas": _w("09:00", "21:00", "Texas Bus. & Com. Code § 301.051 (Sundays from 12:00)"),
    "Connecticut": _w("09:00", "20:00", "Connecticut, Conn. Gen. Stat. § 42-288a"),
}


@lru_cache(maxsize=1)
def _us_area_code_states() -> dict[str, str]:
    """Area code → state for the stricter states, from libphonenumber's geocoding data."""
    from phonenumbers.geodata import GEOCODE_DATA

    states = {}
    for prefix, names in GEOCODE_DATA.items():
        if len(prefix) == 4 and prefix.startswith("1") and names.get("en") in US_STATE_DEFAULTS:
            states[prefix[1:]] = names["en"]
    return states


def campaign_validity(campaign: Any) -> dt.timedelta | None:
    """The validity period a campaign set for its own channel (None: the channel's default)."""
    from campaigns.steps import primary_validity

    minutes = primary_validity(campaign)
    return dt.timedelta(minutes=minutes) if minutes else None


def window_check(*, start: dt.time | None, end: dt.time | None) -> str:
    """Why a campaign's quiet hours cannot be used ('' when they can)."""
    if (start is None) != (end is None):
        return "quiet hours need both a start and an end"
    if start is not None and start == end:
        return (
            f"quiet hours {start:%H:%M}–{end:%H:%M} start and end at the same time; "
            "give a window such as 08:00–20:00, or none"
        )
    return ""


def default_window(*, country: str, phone: str) -> Window | None:
    """The country's (or US state's) default window for a number, None when it has none."""
    if country == "US" and phone.startswith("+1"):
        state = _us_area_code_states().get(phone[2:5])
        if state:
            return US_STATE_DEFAULTS[state]
    return COUNTRY_DEFAULTS.get(country)


def _inside(window: Window, local: dt.datetime) -> bool:
    current = local.time()
    if window.start < window.end:
        return window.start <= current < window.end
    return current >= window.start or current < window.end


def window_opens(
    *, window: Window, zones: tuple[str, ...], now: dt.datetime
) -> tuple[dt.datetime | None, bool]:
    """(when, possible): None when inside the window in every zone now; possible=False when no
    instant in the next week is inside it in all of them."""
    tzs = [zoneinfo.ZoneInfo(z) for z in zones]
    if all(_inside(window, now.astimezone(tz)) for tz in tzs):
        return None, True
    # The earliest instant inside every zone's window is the opening of one of them.
    openings = []
    for tz in tzs:
        today = now.astimezone(tz).date()
        for day in range(-1, _HORIZON_DAYS):
            local = dt.datetime.combine(today + dt.timedelta(days=day), window.start, tzinfo=tz)
            at = local.astimezone(dt.UTC)
            if at > now:
                openings.append(at)
    for at in sorted(openings):
        if all(_inside(window, at.astimezone(tz)) for tz in tzs):
            return at, True
    return None, False


class QuietHours:
    """One freeze's quiet-hours decisions, cached per (window, zones).

    With a `validity` (the campaign's validity period, counted from `since`, its launch), a
    message whose window opens after the validity has run out is skipped rather than held: a
    message worth sending for an hour is not sent the next morning. Infobip counts a validity
    period from submission, time spent waiting for a delivery window included; Herald holds the
    wait in its own ledger, so it applies the same rule here (issue 26 #5).
    """

    def __init__(
        self,
        *,
        start: dt.time | None,
        end: dt.time | None,
        now: dt.datetime,
        validity: dt.timedelta | None = None,
        since: dt.datetime | None = None,
    ) -> None:
        self.own = None
        if start is not None and end is not None and start != end:
            self.own = Window(start, end, "campaign")
        self.use_defaults = self.own is None and settings.HERALD_COUNTRY_QUIET_HOURS
        self.now = now
        self.validity = validity
        self.since = since or now
        self._cache: dict[tuple[Window, tuple[str, ...]], tuple[dt.datetime | None, bool]] = {}

    def window_for(self, *, phone: str, country: str) -> Window | None:
        """The window that applies to a number: the campaign's own, else its country's."""
        if self.own is not None:
            return self.own
        return default_window(country=country, phone=phone) if self.use_defaults else None

    @property
    def active(self) -> bool:
        """Whether any recipient can have a window (a campaign's own or a country default)."""
        return self.own is not None or bool(self.use_defaults)

    def wait(self, *, phone: str, country: str, timezone: str) -> tuple[dt.datetime | None, str]:
        """(not_before, skip_reason) for one recipient: not_before None means send now."""
        window = self.window_for(phone=phone, country=country)
        if window is None:
            return None, ""
        zones = _zone_of(timezone) or candidate_zones(phone) or (settings.TIME_ZONE,)
        key = (window, zones)
        if key not in self._cache:
            self._cache[key] = window_opens(window=window, zones=zones, now=self.now)
        opens, possible = self._cache[key]
        if not possible:
            reason = (
                f"quiet hours {window.label()} ({window.source}) never hold in all of the "
                f"number's time zones at once ({', '.join(zones)}); set the contact's timezone"
            )
            return None, reason[:500]
        if opens is not None and self.validity is not None and opens > self.since + self.validity:
            minutes = int(self.validity.total_seconds() // 60)
            reason = (
                f"expired before its window opened: quiet hours {window.label()} hold it until "
                f"{opens:%Y-%m-%d %H:%M} UTC, after the campaign's {minutes}-minute validity"
            )
            return None, reason[:500]
        return opens, ""


@lru_cache(maxsize=1024)
def _zone_of(name: str) -> tuple[str, ...]:
    if not name:
        return ()
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return ()
    return (name,)


def quiet_hours_waiting(*, campaign_id: int, now: dt.datetime) -> dict[str, Any] | None:
    """How many queued messages wait for quiet hours and when the next may go (None: none).

    Served by the partial index `message_waiting` (only rows whose `not_before` is set: the send
    answer clears it).
    """
    from django.db.models import Count, Min

    from campaigns.models import Message
    from campaigns.states import MessageState

    waiting = Message.objects.filter(
        campaign_id=campaign_id, state=MessageState.QUEUED, not_before__gt=now
    ).aggregate(n=Count("id"), next_at=Min("not_before"))
    if not waiting["n"]:
        return None
    return {"quiet_hours": waiting["n"], "next_at": waiting["next_at"]}
