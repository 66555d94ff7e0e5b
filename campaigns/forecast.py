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
from typing import Any, NamedTuple

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.utils import timezone
from phonenumbers.tzdata import TIMEZONE_DATA
from psycopg import sql

from campaigns.audience import audience_contacts
from campaigns.caps import capped_q
from campaigns.consent_rules import channel_opted_in_ids
from campaigns.models import Campaign, SpeedUnit
from campaigns.opt_out_law import Footers
from campaigns.pricing import price_table, priced_per_part
from campaigns.quiet import QuietHours, Window, campaign_validity
from campaigns.rendering import compile_template, contact_values
from campaigns.steps import campaign_kind
from campaigns.throttle import sender_rate
from contacts.models import Contact

TIMEZONE = sql.Identifier("timezone")
FALSE = sql.SQL("false")
# Contacts rendered to estimate an SMS's parts when its text has placeholders.
PARTS_SAMPLE = 200
# The finish-time simulation gives up after this many window re-openings (a speed so slow
# that the campaign would take weeks is reported as "not within two weeks").
_SIMULATION_DAYS = 14

# The audience in one pass, per (time zone, country, number prefix, opted out, held for lack
# of channel consent, held by a frequency cap), with each group's lowest number. The prefix is
# the country and area code ("+1605"), longer where libphonenumber's zone data differs below
# it (`_refined`: "+1605201" is Central time, "+1605209" Mountain), so a group's numbers share
# their zones. {audience}, {no_consent} and {capped} are the ORM's own statements.
FORECAST_GROUPS = sql.SQL(
    "SELECT c.{timezone}, c.country,"
    " CASE WHEN substr(c.phone, 1, 8) = ANY({deep}) THEN substr(c.phone, 1, 11)"
    "      WHEN substr(c.phone, 1, 5) = ANY({mid}) THEN substr(c.phone, 1, 8)"
    "      ELSE substr(c.phone, 1, 5) END AS prefix,"
    " c.opted_out, {no_consent} AS held_consent, {capped} AS held_cap,"
    " count(*) AS n, min(c.phone) AS first_phone"
    " FROM ({audience}) AS c"
    " GROUP BY 1, 2, 3, 4, 5, 6"
)
# For the statement only, as segment counts do (campaigns/segments.py): hash joins and a hashed
# aggregate in memory rather than batches and a sort spilled to disk, and no JIT compile (its
# ~0.2 s is most of the statement on small audiences).
_SETTINGS = sql.SQL("SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)")


class _Group(NamedTuple):
    timezone: str
    country: str
    prefix: str
    opted_out: bool
    held_consent: bool
    held_cap: bool
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
    budget: dict[str, Any] | None = None
    # How many may go from each moment on (the launch first), soonest first: the send curve.
    schedule: list[tuple[dt.datetime, int]] = field(default_factory=list)

    @property
    def waiting_total(self) -> int:
        return sum(w.recipients for w in self.waiting)

    def as_dict(self) -> dict[str, Any]:
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
    validity = campaign_validity(campaign)
    quiet = QuietHours(
        start=campaign.quiet_hours_start,
        end=campaign.quiet_hours_end,
        now=at,
        validity=validity,
        since=at,
    )
    plan = _Plan(quiet, at)
    total = opted_out = held_consent = held_capped = 0
    for group in _groups(campaign, at):
        total += group.n
        if group.opted_out:
            opted_out += group.n
        elif group.held_consent:
            held_consent += group.n
        elif group.held_cap:
            # Counted among those with consent, as the preview and the freeze do.
            held_capped += group.n
        else:
            plan.add(group)
    rate = _rate(campaign)
    forecast = Forecast(
        at=at,
        audience=total,
        opted_out=opted_out,
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
        forecast.budget = _budget(campaign, plan)
    return forecast


# --- grouping ----------------------------------------------------------------------------------


def _groups(campaign: Campaign, at: dt.datetime) -> list[_Group]:
    """FORECAST_GROUPS for the campaign's audience, its caps and its channel's consent."""
    # The audience's own statement as the table grouped: one pass over contacts. Unordered: an
    # ORDER BY would sort the whole audience for nothing.
    columns = ("id", "phone", "timezone", "country", "opted_out")
    audience = audience_contacts(campaign).order_by().values(*columns)
    try:
        inner, params = audience.query.sql_with_params()
    except EmptyResultSet:  # no list and no segment left (a draft's list deleted): nobody
        return []
    consent_sql: sql.Composable = FALSE
    consent_params: tuple[Any, ...] = ()
    if (opted_in := channel_opted_in_ids(campaign=campaign)) is not None:
        text, consent_params = opted_in.order_by().query.sql_with_params()
        consent_sql = sql.SQL("NOT (c.id IN ({}))").format(sql.SQL(text))
    capped_sql: sql.Composable = FALSE
    capped_params: tuple[Any, ...] = ()
    eligible = audience_contacts(campaign).filter(opted_out=False).order_by().values("id")
    if (capped := capped_q(campaign=campaign, contact_ids=eligible, now=at)) is not None:
        ids = Contact.objects.filter(capped).order_by().values("id")
        text, capped_params = ids.query.sql_with_params()
        capped_sql = sql.SQL("c.id IN ({})").format(sql.SQL(text))
    mid, deep = _refined(_day(at))
    statement = FORECAST_GROUPS.format(
        timezone=TIMEZONE,
        deep=sql.Placeholder(),
        mid=sql.Placeholder(),
        no_consent=consent_sql,
        capped=capped_sql,
        audience=sql.SQL(inner),
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_SETTINGS.as_string(None))
        cursor.execute(
            statement.as_string(None),
            [deep, mid, *consent_params, *capped_params, *params],
        )
        return [_Group(*row) for row in cursor.fetchall()]


@lru_cache(maxsize=4)
def _refined(day: dt.datetime) -> tuple[list[str], list[str]]:
    """The number prefixes whose numbers do not all share their zones (as FORECAST_GROUPS'
    "+" and 4 digits, and "+" and 7 digits): there the statement groups by longer prefixes.

    From libphonenumber's zone data alone (a few hundred prefixes, computed once a day).
    """
    mid = {key[:4] for key in TIMEZONE_DATA if len(key) > 4}
    deep = {key[:7] for key in TIMEZONE_DATA if len(key) > 7}
    return (
        sorted("+" + digits for digits in mid if not _uniform(digits, day)),
        sorted("+" + digits for digits in deep if not _uniform(digits, day)),
    )


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


def _day(now: dt.datetime) -> dt.datetime:
    return now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@lru_cache(maxsize=4096)
def _uniform(digits: str, day: dt.datetime) -> bool:
    """Whether all numbers starting with `digits` keep the same clocks for 10 days from `day`:
    the zones of the longest time-zone prefix they start with, and of every longer one."""
    sets = {zones for key, zones in TIMEZONE_DATA.items() if key.startswith(digits)}
    for n in range(len(digits), 0, -1):
        if digits[:n] in TIMEZONE_DATA:
            sets.add(TIMEZONE_DATA[digits[:n]])
            break
    return len({_clocks(zones, day) for zones in sets}) <= 1


@lru_cache(maxsize=4096)
def _clocks(zones: tuple[str, ...], day: dt.datetime) -> frozenset[tuple[dt.timedelta | None, ...]]:
    """A zone set's UTC offsets every 3 hours over 10 days (what a window depends on)."""
    samples = [day + dt.timedelta(hours=3 * k) for k in range(81)]
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


def _budget(campaign: Campaign, plan: _Plan) -> dict[str, Any]:
    """The estimate against the cap, in send order: how many come after the money runs out."""
    table = price_table()
    priced_as = str(campaign.channel)  # the price table's name, as the preview prices it
    parts = _parts_estimate(campaign)
    per_part = priced_per_part(priced_as)
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


def _parts_estimate(campaign: Campaign) -> Decimal:
    """SMS parts per message: exact without placeholders, else the first contacts' average."""
    kind = campaign_kind(campaign)
    if kind.uses_template or not kind.priced_per_part:
        return Decimal(1)
    template = compile_template(campaign.text)
    footers = Footers(campaign)
    if not template.names and not footers.active:
        return Decimal(kind.measure(campaign.text)[0] or 1)
    counts = [
        kind.measure(
            footers.apply(template.render(contact_values(contact, template.names)).text, contact)
        )[0]
        for contact in audience_contacts(campaign)
        .filter(opted_out=False)
        .order_by("id")[:PARTS_SAMPLE]
    ]
    return Decimal(sum(counts)) / len(counts) if counts else Decimal(1)
