"""What campaigns achieved, side by side and over time (issue 26 #11): the comparison page, the
trends, `manage.py report` and `GET /api/v1/reports/…` all read these.

Every figure counts people (campaigns.people: a person reached by a failover or fallback is
reached once): sent → delivered → clicked → replied → opted out, each rate of the people
delivered (delivery of the people sent), and the cost Infobip reported. Replies and opt-outs
are those of the campaign's recipients after its launch.

To add a figure: a field on `Figures` (summed in `campaigns_trends`), its value in
`campaigns_figures` — or from a provider another app registers (conversions and revenue come
from conversions/) — and a row in `COLUMNS`: the page, the CSV, the command and the API all
follow `COLUMNS`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypedDict

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from campaigns.models import Campaign, Message
from campaigns.people import campaign_people
from contacts.models import ConsentAction
from infobip.models import Click

MAX_COMPARED = 20
MAX_TREND_DAYS = 366


def _rate(part: int, whole: int) -> float | None:
    return round(part * 100 / whole, 1) if whole else None


@dataclass(frozen=True)
class Figures:
    """People at each step, the cost, and the rates between them."""

    sent: int
    delivered: int
    clicked: int
    replied: int
    opted_out: int
    cost: Decimal
    # From the apps above (conversions/ registers them: `figures_provider_register`).
    conversions: int = 0
    revenue: Decimal = Decimal(0)

    @property
    def revenue_per_cost(self) -> Decimal | None:
        """Revenue credited per unit of what Infobip charged (per euro spent)."""
        return (self.revenue / self.cost).quantize(Decimal("0.01")) if self.cost else None

    @property
    def delivery_rate(self) -> float | None:
        return _rate(self.delivered, self.sent)

    @property
    def click_rate(self) -> float | None:
        return _rate(self.clicked, self.delivered)

    @property
    def reply_rate(self) -> float | None:
        return _rate(self.replied, self.delivered)

    @property
    def opt_out_rate(self) -> float | None:
        return _rate(self.opted_out, self.delivered)

    @property
    def cost_per_delivered(self) -> Decimal | None:
        return (self.cost / self.delivered).quantize(Decimal("0.0001")) if self.delivered else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: counts, rates (percent, null when the base is 0), amounts as strings."""
        data: dict[str, Any] = {}
        for key, _label, _kind in COLUMNS:
            value = getattr(self, key, None)
            data[key] = f"{value:.4f}" if isinstance(value, Decimal) else value
        return data


@dataclass(frozen=True)
class CampaignFigures(Figures):
    """One campaign's figures."""

    id: int = 0
    name: str = ""
    channel: str = ""
    state: str = ""
    launched_at: dt.datetime | None = None
    currency: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "channel": self.channel,
            "state": self.state,
            "launched_at": self.launched_at.isoformat() if self.launched_at else None,
            "currency": self.currency,
        } | super().as_dict()


@dataclass(frozen=True)
class TrendPoint(Figures):
    """The campaigns launched in one period (a day or a week), added up."""

    start: dt.date = dt.date.min
    campaigns: int = 0
    currency: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "campaigns": self.campaigns,
            "currency": self.currency,
        } | super().as_dict()


# (attribute, label, kind): what the comparison table, trends table, CSV and API show.
COLUMNS: list[tuple[str, str, str]] = [
    ("sent", "Sent to", "count"),
    ("delivered", "Delivered", "count"),
    ("delivery_rate", "Delivery rate", "rate"),
    ("clicked", "Clicked", "count"),
    ("click_rate", "Click rate", "rate"),
    ("replied", "Replied", "count"),
    ("reply_rate", "Reply rate", "rate"),
    ("opted_out", "Opted out", "count"),
    ("opt_out_rate", "Opt-out rate", "rate"),
    ("cost", "Cost", "money"),
    ("cost_per_delivered", "Cost per delivered", "money"),
    ("conversions", "Conversions", "count"),
    ("revenue", "Revenue", "money"),
    ("revenue_per_cost", "Revenue per unit spent", "number"),
]

# Figures other apps own, by campaign: conversions/ registers its credited conversions and
# revenue here (from AppConfig.ready), so the reports show them without importing upward.
FigureProvider = Callable[[list[int]], dict[int, dict[str, object]]]
_PROVIDERS: list[FigureProvider] = []


def figures_provider_register(provider: FigureProvider) -> None:
    """Add a source of per-campaign figures (fields of `Figures`) to every report."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


class _PerCampaign(TypedDict):
    campaign_id: int
    n: int


def _per_campaign(rows: Iterable[_PerCampaign]) -> dict[int, int]:
    return {row["campaign_id"]: row["n"] for row in rows}


def campaigns_figures(*, campaign_ids: Iterable[int]) -> list[CampaignFigures]:
    """The figures of these campaigns, in launch order (four grouped queries in all)."""
    ids = sorted(set(campaign_ids))[:MAX_COMPARED]
    campaigns = list(
        Campaign.objects.filter(id__in=ids).order_by(F("launched_at").asc(nulls_last=True), "id")
    )
    if not campaigns:
        return []
    clicked = _per_campaign(
        Click.objects.filter(campaign_id__in=ids, message__isnull=False)
        .values("campaign_id")
        .annotate(n=Count("message__contact_id", distinct=True))
    )
    mine = Message.objects.filter(campaign_id__in=ids, campaign__launched_at__isnull=False)
    replied = _per_campaign(
        mine.filter(contact__inbound_messages__received_at__gte=F("campaign__launched_at"))
        .values("campaign_id")
        .annotate(n=Count("contact_id", distinct=True))
    )
    opted_out = _per_campaign(
        mine.filter(
            Q(contact__consent_events__action=ConsentAction.OPT_OUT)
            & Q(contact__consent_events__created_at__gte=F("campaign__launched_at"))
        )
        .values("campaign_id")
        .annotate(n=Count("contact_id", distinct=True))
    )
    extra: dict[int, dict[str, object]] = {}
    for provider in _PROVIDERS:
        for campaign_id, values in provider(ids).items():
            extra.setdefault(campaign_id, {}).update(values)
    figures = []
    for campaign in campaigns:
        people = campaign_people(campaign=campaign)
        figures.append(
            CampaignFigures(
                id=campaign.pk,
                name=campaign.name,
                channel=campaign.channel,
                state=campaign.state,
                launched_at=campaign.launched_at,
                currency=campaign.cost_currency,
                sent=people.people - people.skipped,
                delivered=people.reached,
                clicked=clicked.get(campaign.pk, 0),
                replied=replied.get(campaign.pk, 0),
                opted_out=opted_out.get(campaign.pk, 0),
                cost=campaign.cost_amount,
                # Other apps' figures (conversions' revenue…): each provider names fields of
                # CampaignFigures with their values, which mypy cannot match by name.
                **extra.get(campaign.pk, {}),  # type: ignore[arg-type]
            )
        )
    return figures


def marketing_campaigns() -> QuerySet[Campaign]:
    """Campaigns a marketer made: not the API's transactional sends (api.TransactionalSend),
    the inbox's replies (ui.ConversationReply) nor journeys' open-ended campaigns."""
    return Campaign.objects.filter(
        transactional__isnull=True, inbox_reply__isnull=True, open_ended=False
    )


def campaigns_trends(
    *, days: int = 30, bucket: str = "day", now: dt.datetime | None = None
) -> list[TrendPoint]:
    """Campaigns launched in the last `days` days, added up per day or per week (oldest first)."""
    now = now or timezone.now()
    days = max(1, min(days, MAX_TREND_DAYS))
    today = timezone.localdate(now)
    first = today - dt.timedelta(days=days - 1)
    if bucket == "week":
        first -= dt.timedelta(days=first.weekday())  # Mondays
    step = dt.timedelta(days=7 if bucket == "week" else 1)
    starts = []
    day = first
    while day <= today:
        starts.append(day)
        day += step
    since = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    launched = marketing_campaigns().filter(launched_at__gte=since).values_list("id", flat=True)
    by_start: dict[dt.date, list[CampaignFigures]] = {start: [] for start in starts}
    for ids in _chunks(list(launched), MAX_COMPARED):
        for figures in campaigns_figures(campaign_ids=ids):
            assert figures.launched_at is not None
            launched_on = timezone.localdate(figures.launched_at)
            start = launched_on - dt.timedelta(days=(launched_on - first).days % step.days)
            by_start.setdefault(start, []).append(figures)
    points = []
    for start in starts:
        group = by_start.get(start, [])
        currency = next((g.currency for g in group if g.currency), "")
        points.append(
            TrendPoint(
                start=start,
                campaigns=len(group),
                currency=currency,
                sent=sum(g.sent for g in group),
                delivered=sum(g.delivered for g in group),
                clicked=sum(g.clicked for g in group),
                replied=sum(g.replied for g in group),
                opted_out=sum(g.opted_out for g in group),
                cost=sum((g.cost for g in group), Decimal(0)),
                conversions=sum(g.conversions for g in group),
                revenue=sum((g.revenue for g in group), Decimal(0)),
            )
        )
    return points


def _chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]
