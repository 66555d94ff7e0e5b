"""Conversions in the reports (comparison, trends) and in every campaign's status."""

from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.analytics import campaigns_figures
from campaigns.models import Campaign
from campaigns.services import campaign_status
from conversions.models import AttributionRule, Conversion, Credit
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db


def _credit(campaign: Campaign, order: str, value: str, *, current: bool = True) -> None:
    rule, _ = AttributionRule.objects.get_or_create(
        click_window=timezone.timedelta(days=5),
        reply_window=timezone.timedelta(days=14),
        delivery_window=timezone.timedelta(hours=24),
    )
    conversion = Conversion.objects.create(
        order_id=order, value=Decimal(value), currency="EUR", occurred_at=timezone.now()
    )
    Credit.objects.create(
        conversion=conversion,
        rule=rule,
        current=current,
        campaign=campaign,
        touch="click",
        reason="test",
    )


def test_the_reports_and_the_status_count_credited_conversions_and_revenue():
    campaign = CampaignFactory(state="completed", launched_at=timezone.now())
    other = CampaignFactory(state="completed", launched_at=timezone.now())
    Campaign.objects.filter(pk=campaign.pk).update(cost_amount=Decimal("2.00"), count_delivered=4)
    _credit(campaign, "1", "30.00")
    _credit(campaign, "2", "12.50")
    _credit(other, "3", "99.00")
    figures = {f.id: f for f in campaigns_figures(campaign_ids=[campaign.pk, other.pk])}
    assert (figures[campaign.pk].conversions, figures[campaign.pk].revenue) == (2, Decimal("42.5"))
    assert figures[campaign.pk].revenue_per_cost == Decimal("21.25")
    assert figures[campaign.pk].as_dict()["revenue"] == "42.5000"
    status = campaign_status(campaign=campaign)
    assert status["conversions"] == {
        "count": 2,
        "revenue": "42.50",
        "currency": "EUR",
        "revenue_per_message": "10.6250",
        "revenue_per_cost": "21.25",
    }
    assert "variants" not in status  # no split: no split keys
