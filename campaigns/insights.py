"""Per-campaign figures that need the ledger or the clicks: cost per channel, clicks per link.

Each is an aggregate query or two (GROUP BY over the campaign's rows, indexed), asked for
by `campaign status`, the export and the campaign page — not by every live refresh, which
reads the denormalised counters only.
"""

from decimal import Decimal
from typing import Any

from django.db.models import Count, Sum

from campaigns.models import Message
from infobip.models import Click


def campaign_cost_by_channel(*, campaign_id: int) -> dict[str, str]:
    """What Infobip charged per channel (failover SMS count as sms), from reported prices."""
    rows = (
        Message.objects.filter(campaign_id=campaign_id, price__isnull=False)
        .values("channel")
        .annotate(total=Sum("price"))
        .order_by("channel")
    )
    return {row["channel"]: f"{row['total'] or Decimal(0):.4f}" for row in rows}


def campaign_clicks(*, campaign_id: int) -> dict[str, Any]:
    """Clicks on a campaign's tracked links: total, distinct messages, and the same per URL."""
    rows = (
        Click.objects.filter(campaign_id=campaign_id)
        .values("url")
        .annotate(clicks=Count("id"), messages=Count("message", distinct=True))
        .order_by("-clicks", "url")
    )
    by_url = {
        row["url"]: {"clicks": row["clicks"], "unique_messages": row["messages"]} for row in rows
    }
    unique = (
        Click.objects.filter(campaign_id=campaign_id, message__isnull=False)
        .values("message")
        .distinct()
        .count()
    )
    return {
        "total": sum(entry["clicks"] for entry in by_url.values()),
        "unique_messages": unique,
        "by_url": by_url,
    }
