"""Budget cap: a campaign's maximum spend, checked at launch (estimate) and while sending.

Launch is refused when the preview's estimate is over the cap. While sending, every batch
first compares what Infobip has charged so far (`cost_amount`, from delivery reports) with the
cap and pauses the campaign with the reason when it is reached. Reports lag sending by seconds
to minutes, so the batches in flight when the cap is reached can overshoot it by up to the
chains' batches (HERALD_SEND_CHAINS × HERALD_BATCH_SIZE messages); the launch check is what
keeps the plan inside the budget.
"""

from collections.abc import Iterable
from decimal import Decimal

from campaigns.models import Campaign
from campaigns.pricing import price_table, priced_per_part


def over_budget_count(*, max_spend: Decimal | None, items: Iterable[tuple[str, str, int]]) -> int:
    """How many of the (number, channel, parts) items, in send order, fall past the cap."""
    if max_spend is None:
        return 0
    table = price_table()
    spent, over = Decimal(0), 0
    for number, channel, parts in items:
        price = table.price_for(number, channel).amount
        spent += price * parts if priced_per_part(channel) else price
        if spent > max_spend:
            over += 1
    return over


def budget_reached(*, campaign: Campaign) -> str:
    """The pause reason when actual spend has reached the cap ('' while it has not)."""
    if campaign.max_spend is None or campaign.cost_amount < campaign.max_spend:
        return ""
    currency = campaign.cost_currency or price_table().currency
    return (
        f"budget cap reached: spent {campaign.cost_amount:.4f} of {campaign.max_spend:.4f} "
        f"{currency}"
    )
