"""The launch forecast: what a launch would do over time, shown before the button (issue 26 #5).

For the campaign's audience as it stands: how many go at once, how many wait for their
quiet-hours window and until when (per country and local opening time, with the UTC range), how
many the frequency caps, the channel consent and the budget cap hold, how many would expire
before their window opens (a validity shorter than the wait: campaigns.quiet), and when the
last message should be handed to Infobip at the campaign's speed.

Set-based: one grouped statement counts the audience per (time zone, country, number prefix);
each group's window and opening are worked out once with the rules the freeze applies
(campaigns.quiet.QuietHours), so the work is per group, not per recipient (`make bench`,
"forecast"). A number without a time zone takes its zones from its prefix: the statement
lengthens the prefix only where libphonenumber's time-zone data says that longer prefixes
behave differently (US and Canadian area codes that straddle zones, Brazil, Australia, Russia),
and a group's zones are those of its lowest number. The freeze decides each number exactly, so
the forecast can differ for a number whose type (mobile or fixed) differs from its group's.

What the forecast does not know without rendering every message: recipients skipped for a
missing placeholder value (the preview counts them) are counted as sent, and an SMS's parts
come from rendering the first contacts (exact when the text has no placeholder and no opt-out
footer is due).
"""

import datetime as dt
import heapq
import zoneinfo
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone
from phonenumbers.tzdata import TIMEZONE_DATA
from psycopg import sql

from campaigns.audience import audience_contacts
from campaigns.caps import capped_q
from campaigns.compliance import Footers
from campaigns.consent_rules import channel_consent_missing_q
from campaigns.models import Campaign, Channel, SpeedUnit
from campaigns.pricing import PER_PART_CHANNELS, price_table
from campaigns.quiet import QuietHours, Window, campaign_validity
from campaigns.rendering import compile_template, contact_values, sms_segments
from campaigns.throttle import sender_rate
from contacts.models import Contact

CONTACTS = sql.Identifier(Contact._meta.db_table)
TIMEZONE = sql.Identifier("timezone")
# Prefix lengths tried, in characters of the E.164 number ("+1212" is 5): country code and area
# code first, then exchanges (US, Canada) and the longest prefixes of the time-zone data.
PREFIX_LENGTHS = (5, 8, 11)
# Contacts rendered to estimate an SMS's parts when its text has placeholders.
PARTS_SAMPLE = 200
# The finish-time simulation gives up after this many window re-openings (a speed so slow
# that the campaign would take weeks is reported as "not within two weeks").
_SIMULATION_DAYS = 14

# Recipients per (time zone, country, number prefix) and each group's lowest number, over the
# audience's ids (the ORM's statement, composed in). {narrow} keeps only the groups a shorter
# prefix could not settle.
FORECAST_GROUPS = sql.SQL(
    "SELECT c.{timezone}, c.country, substr(c.phone, 1, {length}) AS prefix, count(*) AS n,"
    " min(c.phone) AS first_phone"
    " FROM {contacts} AS c WHERE c.id IN ({audience}){narrow}"
    " GROUP BY c.{timezone}, c.country, substr(c.phone, 1, {length})"
)
FORECAST_NARROW = sql.SQL(" AND substr(c.phone, 1, {length}) IN ({prefixes})")


class _Group(NamedTuple):
    timezone: str
    country: str
    prefix: str
    n: int
    first_phone: str


@dataclass
class Waiting:
    """Recipients of one country (or zone) that wait for the same local opening time."""

    where: str  # a country code, or a time zone for numbers without a country
    local_time: str  # "08:00": the window's opening, recipient local time
    recipients: int
    first_at: dt.datetime  # the earliest opening among them (UTC)
    last_at: dt.datetime  # the latest
    zones: list[str] = field(default_factory=list)


@dataclass
class Forecast:
    """What a launch at `at` would do (see the module docstring for what is estimated)."""

    at: dt.datetime
    audience: int
    opted_out: int
    held_frequency_cap: int
    held_no_consent: int
    send_now: int
    waiting: list[Waiting]
    never: int  # quiet hours that never hold in all of a number's zones: skipped
    expire: int  # would expire before their window opens: skipped
    expire_validity_minutes: int | None
    rate_per_second: float | None  # the campaign's speed limit or the sender's rate, lower
    finish_at: dt.datetime | None
    budget: dict | None = None
    # How many may go from each moment on (the launch first), soonest first: the send curve.
    schedule: list[tuple[dt.datetime, int]] = field(default_factory=list)

    @property
    def waiting_total(self) -> int:
        return sum(w.recipients for w in self.waiting)

    def as_dict(self) -> dict:
        """JSON for `campaign preview --json` and the API's preview."""
        data = asdict(self)
        data["at"] = self.at.isoformat()
        data["finish_at"] = self.finish_at.isoformat() if self.finish_at else None
        data["waiting_total"] = self.waiting_total
        for entry in data["waiting"]:
            entry["first_at"] = entry["first_at"].isoformat()
            entry["last_at"] = entry["last_at"].isoformat()
        data["schedule"] = [{"at": at.isoformat(), "recipients": n} for at, n in self.schedule]
        return data


def campaign_forecast(*, campaign: Campaign, now: dt.datetime | None = None) -> Forecast:
    """The launch forecast for the campaign as it stands (sends nothing, writes nothing)."""
    now = now or timezone.now()
    at = campaign.send_at if campaign.send_at and campaign.send_at > now else now
    everyone = audience_contacts(campaign)
    eligible = everyone.filter(opted_out=False)
    ids = eligible.values("id")
    no_consent = channel_consent_missing_q(campaign=campaign)
    capped = capped_q(campaign=campaign, contact_ids=ids, now=at)
    sendable = eligible
    held_consent = held_capped = 0
    if no_consent is not None:
        held_consent = eligible.filter(no_consent).count()
        sendable = sendable.exclude(no_consent)
    if capped is not None:
        # Counted among those with consent, as the preview and the freeze do.
        held_capped = sendable.filter(capped).count()
        sendable = sendable.exclude(capped)
    quiet = QuietHours(
        start=campaign.quiet_hours_start,
        end=campaign.quiet_hours_end,
        now=at,
        validity=campaign_validity(campaign),
        since=at,
    )
    plan = _Plan(quiet, at)
    for group in _groups(sendable, _hour(at)):
        plan.add(group)
    rate = _rate(campaign)
    total = everyone.count()
    validity = campaign_validity(campaign)
    forecast = Forecast(
        at=at,
        audience=total,
        opted_out=total - eligible.count(),
        held_frequency_cap=held_capped,
        held_no_consent=held_consent,
        send_now=plan.now_count,
        waiting=plan.waiting(),
        never=plan.never,
        expire=plan.expire,
        expire_validity_minutes=int(validity.total_seconds() // 60) if validity else None,
        rate_per_second=rate,
        finish_at=_finish(plan.releases, at, rate),
        schedule=plan.schedule(),
    )
    if campaign.max_spend is not None:
        forecast.budget = _budget(campaign, sendable, plan)
    return forecast


# --- grouping ----------------------------------------------------------------------------------


def _groups(audience: QuerySet, hour: dt.datetime) -> list[_Group]:
    """The audience per (time zone, country, prefix), prefixes as long as the zones need."""
    settled: list[_Group] = []
    pending: list[str] | None = None
    previous = 0
    for length in PREFIX_LENGTHS:
        rows = _group_rows(audience, length, previous, pending)
        last = length == PREFIX_LENGTHS[-1]
        unsettled = {row.prefix for row in rows if not last and not _settles(row, hour)}
        settled += [row for row in rows if last or row.prefix not in unsettled]
        if not unsettled:
            break
        pending, previous = sorted(unsettled), length
    return settled


def _group_rows(
    audience: QuerySet, length: int, previous: int, prefixes: list[str] | None
) -> list[_Group]:
    inner, params = audience.values("id").query.sql_with_params()
    narrow: sql.Composable = sql.SQL("")
    if prefixes is not None:
        narrow = FORECAST_NARROW.format(
            length=sql.Literal(previous),
            prefixes=sql.SQL(", ").join(sql.Placeholder() * len(prefixes)),
        )
    statement = FORECAST_GROUPS.format(
        timezone=TIMEZONE,
        contacts=CONTACTS,
        length=sql.Literal(length),
        audience=sql.SQL(inner),
        narrow=narrow,
    )
    with connection.cursor() as cursor:
        cursor.execute(statement.as_string(None), [*params, *(prefixes or [])])
        return [_Group(*row) for row in cursor.fetchall()]


def _settles(group: _Group, hour: dt.datetime) -> bool:
    """Whether every number of the group has the zones its lowest number has.

    A non-geographic number (most mobiles) takes its whole country's zones, whatever its
    prefix: such a group is settled at once. A geographic one (every US and Canadian number)
    takes its area's, so the group is settled when the time-zone data agrees under its prefix.
    """
    if _valid_zone(group.timezone):
        return True  # the contact's own zone decides, not the number
    digits = group.prefix.removeprefix("+")
    if not digits.isdigit():
        return True
    return not _geographic(group.first_phone) or _uniform(digits, hour)


@lru_cache(maxsize=4096)
def _geographic(phone: str) -> bool:
    from contacts.phones import is_geographic

    return is_geographic(phone)


@lru_cache(maxsize=4096)
def _valid_zone(name: str) -> bool:
    if not name:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


@lru_cache(maxsize=1024)
def _tz(name: str) -> zoneinfo.ZoneInfo:
    # ZoneInfo keeps only a few zones alive itself; a forecast asks for the same ones often.
    return zoneinfo.ZoneInfo(name)


def _hour(now: dt.datetime) -> dt.datetime:
    return now.replace(minute=0, second=0, microsecond=0)


@lru_cache(maxsize=4096)
def _uniform(digits: str, hour: dt.datetime) -> bool:
    """Whether all geographic numbers starting with `digits` keep the same clocks for 9 days:
    the zones of the longest time-zone prefix they start with, and of every longer one."""
    sets = {zones for key, zones in TIMEZONE_DATA.items() if key.startswith(digits)}
    for n in range(len(digits), 0, -1):
        if digits[:n] in TIMEZONE_DATA:
            sets.add(TIMEZONE_DATA[digits[:n]])
            break
    return len({_clocks(zones, hour) for zones in sets}) <= 1


@lru_cache(maxsize=4096)
def _clocks(zones: tuple[str, ...], hour: dt.datetime) -> frozenset[tuple]:
    """A zone set's UTC offsets every 3 hours over the next 9 days (what a window depends on)."""
    samples = [hour + dt.timedelta(hours=3 * k) for k in range(73)]
    clocks = set()
    for name in zones:
        if not _valid_zone(name):
            continue
        tz = _tz(name)
        clocks.add(tuple(at.astimezone(tz).utcoffset() for at in samples))
    return frozenset(clocks)


# --- the plan: who goes when ---------------------------------------------------------------------


class _Plan:
    """Each group's fate under the quiet hours; releases for the finish-time simulation."""

    def __init__(self, quiet: QuietHours, at: dt.datetime) -> None:
        self.quiet = quiet
        self.at = at
        self.now_count = self.never = self.expire = 0
        self._waiting: dict[tuple[str, str], Waiting] = {}
        # (when they may go, how many, when their window closes, its length) per group.
        self.releases: list[tuple[dt.datetime, int, dt.datetime | None, dt.timedelta | None]] = []
        self.priced: list[tuple[dt.datetime, str, int]] = []  # (when, a number, how many)

    def add(self, group: _Group) -> None:
        phone = group.first_phone
        window = self.quiet.window_for(phone=phone, country=group.country)
        opens, reason = self.quiet.wait(phone=phone, country=group.country, timezone=group.timezone)
        if reason:
            if reason.startswith("expired"):
                self.expire += group.n
            else:
                self.never += group.n
            return
        start = opens or self.at
        zones = _zones(group)
        close = length = None
        if window is not None:
            length = _length(window)
            close = _closes(window, zones, start)
        self.releases.append((start, group.n, close, length))
        self.priced.append((start, phone, group.n))
        if opens is None:
            self.now_count += group.n
            return
        where = group.country or (zones[0] if zones else "")
        key = (where, f"{window.start:%H:%M}" if window else "")
        entry = self._waiting.get(key)
        if entry is None:
            self._waiting[key] = Waiting(where, key[1], group.n, opens, opens, list(zones))
            return
        entry.recipients += group.n
        entry.first_at, entry.last_at = min(entry.first_at, opens), max(entry.last_at, opens)
        entry.zones = sorted({*entry.zones, *zones})

    def schedule(self) -> list[tuple[dt.datetime, int]]:
        counts: dict[dt.datetime, int] = {}
        for start, n, *_ in self.releases:
            counts[start] = counts.get(start, 0) + n
        return sorted(counts.items())

    def waiting(self) -> list[Waiting]:
        """Waiting recipients by country and opening, the soonest first."""
        return sorted(self._waiting.values(), key=lambda w: (w.first_at, w.where))


def _zones(group: _Group) -> tuple[str, ...]:
    from contacts.phones import candidate_zones

    if _valid_zone(group.timezone):
        return (group.timezone,)
    return candidate_zones(group.first_phone)


def _length(window: Window) -> dt.timedelta:
    day = dt.date(2000, 1, 1)
    start, end = dt.datetime.combine(day, window.start), dt.datetime.combine(day, window.end)
    return (end - start) % dt.timedelta(days=1)


def _closes(window: Window, zones: tuple[str, ...], at: dt.datetime) -> dt.datetime | None:
    """The first instant after `at` at which the window closes in one of the zones."""
    closes = []
    for name in zones:
        if not _valid_zone(name):
            continue
        local = at.astimezone(_tz(name))
        end = dt.datetime.combine(local.date(), window.end, tzinfo=local.tzinfo)
        while end <= local:
            end += dt.timedelta(days=1)
        closes.append(end.astimezone(dt.UTC))
    return min(closes) if closes else None


def _rate(campaign: Campaign) -> float | None:
    """Messages per second: the campaign's speed limit or its sender's rate, whichever is lower."""
    from campaigns.sending import default_sender

    rates = []
    if campaign.speed_limit:
        per = 1 if campaign.speed_unit == SpeedUnit.SECOND else 60
        rates.append(campaign.speed_limit / per)
    if (rate := sender_rate(default_sender(campaign))) is not None:
        rates.append(rate)
    return min(rates) if rates else None


def _finish(
    releases: list[tuple[dt.datetime, int, dt.datetime | None, dt.timedelta | None]],
    at: dt.datetime,
    rate: float | None,
) -> dt.datetime | None:
    """When the last message should be handed over, sending at `rate` in order of release.

    Without a rate, the last release (Infobip takes a batch in well under a second). With one,
    messages queue behind each other; those a window closes on wait for it to reopen the next
    day, as the sender's hold at send does.
    """
    if not releases:
        return None
    if rate is None:
        return max(start for start, *_ in releases)
    heap = [(start, i, n, close, length) for i, (start, n, close, length) in enumerate(releases)]
    heapq.heapify(heap)
    clock, serial = at, len(heap)
    limit = at + dt.timedelta(days=_SIMULATION_DAYS)
    while heap:
        start, _, n, close, length = heapq.heappop(heap)
        clock = max(clock, start)
        if clock > limit:
            return None
        if close is not None and length is not None and clock >= close:
            # Its window closed while others were sent: the rest go when it reopens.
            reopen = close + dt.timedelta(days=1) - length
            heapq.heappush(heap, (reopen, serial, n, close + dt.timedelta(days=1), length))
            serial += 1
            continue
        done = clock + dt.timedelta(seconds=n / rate)
        if close is not None and length is not None and done > close:
            fits = int((close - clock).total_seconds() * rate)
            clock = close
            reopen = close + dt.timedelta(days=1) - length
            heapq.heappush(heap, (reopen, serial, n - fits, close + dt.timedelta(days=1), length))
            serial += 1
            continue
        clock = done
    return clock


# --- budget --------------------------------------------------------------------------------------


def _budget(campaign: Campaign, sendable: QuerySet, plan: _Plan) -> dict:
    """The estimate against the cap, in send order: how many come after the money runs out."""
    table = price_table()
    priced_as = "sms" if campaign.channel == Channel.SMS else str(campaign.channel)
    parts = _parts_estimate(campaign, sendable)
    per_part = table.channel_key(priced_as) in PER_PART_CHANNELS
    cap = campaign.max_spend or Decimal(0)
    spent, held = Decimal(0), 0
    for _when, phone, n in sorted(plan.priced):
        price = table.price_for(phone, priced_as).amount * (parts if per_part else 1)
        if spent + price * n <= cap:
            spent += price * n
            continue
        fits = int((cap - spent) / price) if price else n
        spent += price * fits
        held += n - fits
    estimate = sum(
        (
            table.price_for(phone, priced_as).amount * (parts if per_part else 1) * n
            for _w, phone, n in plan.priced
        ),
        Decimal(0),
    )
    return {
        "cap": f"{cap:.4f}",
        "estimate": f"{estimate:.4f}",
        "currency": table.currency,
        "held": held,
        "parts_per_message": f"{parts:.2f}",
    }


def _parts_estimate(campaign: Campaign, sendable: QuerySet) -> Decimal:
    """SMS parts per message: exact without placeholders, else the first contacts' average."""
    if campaign.channel != Channel.SMS:
        return Decimal(1)
    template = compile_template(campaign.text)
    footers = Footers(campaign)
    if not template.names and not footers.active:
        return Decimal(sms_segments(campaign.text).parts or 1)
    counts = [
        sms_segments(
            footers.apply(template.render(contact_values(contact, template.names)).text, contact)
        ).parts
        for contact in sendable.order_by("id")[:PARTS_SAMPLE]
    ]
    return Decimal(sum(counts)) / len(counts) if counts else Decimal(1)
