"""Conversions, per-variant conversions and lift in a campaign's status document."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings

from campaigns.models import Campaign
from conversions.figures import campaign_conversions, variant_conversions
from conversions.lift import campaign_lift

# Messages handed to Infobip: what "per message" divides by.
SENT_STATES = ("accepted", "delivered", "undeliverable", "expired", "rejected")


def campaign_conversions_section(campaign: Campaign, status: dict[str, Any]) -> None:
    """Add `conversions` (and, with a split, each variant's and the holdout's, and `lift`)."""
    currency = settings.HERALD_PRICES.get("currency", "EUR")
    conversions = campaign_conversions(campaign=campaign) | {"currency": currency}
    revenue = Decimal(str(conversions["revenue"]))
    sent = sum(getattr(campaign, f"count_{state}") for state in SENT_STATES)
    conversions["revenue_per_message"] = f"{revenue / sent:.4f}" if sent else None
    # Revenue per unit of what Infobip charged (per euro spent, in the price currency).
    cost = campaign.cost_amount
    conversions["revenue_per_cost"] = f"{revenue / cost:.2f}" if cost else None
    status["conversions"] = conversions
    if "variants" not in status:
        return
    by_variant = variant_conversions(campaign=campaign)
    for position, variant in enumerate(status["variants"], start=1):
        count, _people, revenue = by_variant.get(position, (0, 0, Decimal(0)))
        variant["conversions"] = count
        variant["revenue"] = f"{revenue:.2f}"
    lift = campaign_lift(campaign=campaign)
    status["lift"] = lift
    if lift is not None:
        held = lift["holdout"]
        status["holdout"] |= {"conversions": held["conversions"], "revenue": held["revenue"]}
    else:
        status["holdout"] |= {"conversions": 0, "revenue": "0.00"}
