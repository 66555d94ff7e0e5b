"""The attribution rule and its versions.

Rule (README "Attribution"): the touches before a conversion rank click (within the click
window) over reply (within the reply window) over delivery (within the delivery window);
within the best-ranked kind the latest touch wins. Explicit evidence comes first: a tracked
link's token passed back by the shop, then a variant's coupon code. The windows come from
the environment; each distinct set of windows is one `AttributionRule` row, made the first
time it is used, and every credit keeps the row that decided it.
"""

import datetime as dt
from typing import Any

from django.conf import settings

from campaigns.split import iso_duration
from conversions.models import AttributionRule


def rule_current() -> AttributionRule:
    """The rule the settings define now (a new version the first time they change)."""
    return rule_for(
        click=settings.HERALD_ATTRIBUTION_CLICK_WINDOW,
        reply=settings.HERALD_ATTRIBUTION_REPLY_WINDOW,
        delivery=settings.HERALD_ATTRIBUTION_DELIVERY_WINDOW,
    )


def rule_for(
    *, click: dt.timedelta, reply: dt.timedelta, delivery: dt.timedelta
) -> AttributionRule:
    """The version with these windows (made once: a unique constraint over the three)."""
    rule, _ = AttributionRule.objects.get_or_create(
        click_window=click, reply_window=reply, delivery_window=delivery
    )
    return rule


def rule_document(rule: AttributionRule) -> dict[str, Any]:
    """The rule as JSON: its version and windows in ISO 8601."""
    return {
        "version": rule.pk,
        "click_window": iso_duration(rule.click_window),
        "reply_window": iso_duration(rule.reply_window),
        "delivery_window": iso_duration(rule.delivery_window),
        "description": rule.describe(),
    }
