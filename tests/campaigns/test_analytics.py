"""Issue 26 #11: campaigns side by side and over time, counted per person (campaigns.analytics),
on the reports page, its CSV exports, `manage.py report` and the API."""

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from campaigns.analytics import campaigns_figures, campaigns_trends
from campaigns.models import Campaign, Message
from campaigns.services import campaign_recount
from campaigns.states import CampaignState
from contacts.models import ConsentSource
from contacts.services import contact_opt_out
from infobip.models import Click, InboundMessage
from tests.factories import ContactFactory
from tests.ui.conftest import make_user
from ui.roles import MARKETER

pytestmark = pytest.mark.django_db
NOW = timezone.now()


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


def _launched(name: str, states: list[str], *, days_ago: int = 0, cost: str = "0") -> Campaign:
    """A finished SMS campaign, one contact per state; its counters from the ledger."""
    launched = NOW - dt.timedelta(days=days_ago, hours=1)
    campaign = Campaign.objects.create(
        name=name,
        channel="sms",
        text="Hi",
        state=CampaignState.COMPLETED,
        recipients=len(states),
        launched_at=launched,
        cost_amount=Decimal(cost),
        cost_currency="EUR",
    )
    for contact, state in zip(ContactFactory.create_batch(len(states)), states, strict=True):
        Message.objects.create(
            campaign=campaign,
            contact=contact,
            phone=contact.phone,
            channel="sms",
            text="Hi",
            state=state,
        )
    campaign_recount(campaign=campaign)
    Campaign.objects.filter(pk=campaign.pk).update(cost_amount=Decimal(cost))
    campaign.refresh_from_db()
    return campaign


def _engage(campaign: Campaign, *, clicks: int = 0, replies: int = 0, opt_outs: int = 0) -> None:
    delivered = list(campaign.messages.filter(state="delivered").order_by("id"))
    for message in delivered[:clicks]:
        for _ in range(2):  # two clicks by one person count once
            Click.objects.create(
                campaign=campaign, message=message, url="https://ex.com/a", clicked_at=NOW
            )
    for i, message in enumerate(delivered[:replies]):
        InboundMessage.objects.create(
            channel="sms",
            contact=message.contact,
            infobip_message_id=f"r-{message.pk}",
            from_number=message.phone.lstrip("+"),
            text="Thanks",
            received_at=NOW - dt.timedelta(minutes=i),
        )
    for message in delivered[:opt_outs]:
        contact_opt_out(contact=message.contact, source=ConsentSource.KEYWORD, note="STOP")


def test_figures_count_people_and_rates_of_those_delivered():
    spring = _launched("Spring", ["delivered"] * 8 + ["undeliverable", "skipped"], cost="0.40")
    _engage(spring, clicks=4, replies=2, opt_outs=1)
    autumn = _launched("Autumn", ["delivered", "rejected"], days_ago=3, cost="0.10")
    figures = {f.name: f for f in campaigns_figures(campaign_ids=[spring.pk, autumn.pk])}
    s = figures["Spring"]
    assert (s.sent, s.delivered, s.clicked, s.replied, s.opted_out) == (9, 8, 4, 2, 1)
    assert (s.delivery_rate, s.click_rate, s.reply_rate, s.opt_out_rate) == (88.9, 50.0, 25.0, 12.5)
    assert s.cost_per_delivered == Decimal("0.0500")
    assert s.as_dict()["cost"] == "0.4000"
    a = figures["Autumn"]
    assert (a.sent, a.delivered, a.click_rate, a.reply_rate) == (2, 1, 0.0, 0.0)
    # A reply from before the launch is not a reply to it.
    InboundMessage.objects.create(
        channel="sms",
        contact=autumn.messages.first().contact,
        infobip_message_id="old",
        from_number="1",
        text="old",
        received_at=NOW - dt.timedelta(days=10),
    )
    assert campaigns_figures(campaign_ids=[autumn.pk])[0].replied == 0


def test_trends_add_up_the_campaigns_launched_each_day_or_week():
    _launched("Today", ["delivered", "delivered"], cost="0.10")
    _launched("Also today", ["delivered", "undeliverable"], cost="0.05")
    _launched("Three days ago", ["delivered"], days_ago=3)
    _launched("Long ago", ["delivered"], days_ago=60)
    points = campaigns_trends(days=7, now=NOW)
    assert len(points) == 7
    assert points[-1].start == timezone.localdate(NOW)
    assert (points[-1].campaigns, points[-1].sent, points[-1].delivered) == (2, 4, 3)
    assert points[-1].delivery_rate == 75.0
    assert points[-1].cost == Decimal("0.15")
    assert points[-4].campaigns == 1
    assert sum(p.campaigns for p in points) == 3  # "Long ago" is outside the week
    weeks = campaigns_trends(days=90, bucket="week", now=NOW)
    assert all(p.start.weekday() == 0 for p in weeks)
    assert sum(p.campaigns for p in weeks) == 4


def test_the_reports_page_compares_and_exports(client):
    spring = _launched("Spring", ["delivered"] * 4, cost="0.20")
    _engage(spring, clicks=1, replies=1)
    autumn = _launched("Autumn", ["delivered", "expired"], days_ago=2)
    client.force_login(make_user("mia", MARKETER))
    page = client.get(reverse("ui:reports")).content.decode()
    assert 'id="trends-table"' in page
    assert "Spring" in page  # offered for the comparison
    page = client.get(reverse("ui:reports"), {"ids": [spring.pk, autumn.pk]}).content.decode()
    assert 'id="compare-table"' in page
    assert '<td data-key="click_rate">25.0%</td>' in page
    assert '<td data-key="delivery_rate">50.0%</td>' in page
    assert '<td data-key="cost">€0.20</td>' in page
    export = client.get(
        reverse("ui:reports"), {"ids": [spring.pk, autumn.pk], "table": "compare", "format": "csv"}
    )
    text = b"".join(export.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["name"] for r in rows] == ["Autumn", "Spring"]  # launch order
    assert (rows[1]["delivered"], rows[1]["reply_rate"], rows[1]["cost"]) == ("4", "25.0", "0.2000")
    trends = client.get(reverse("ui:reports"), {"days": "7", "format": "csv"})
    lines = b"".join(trends.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("start,campaigns,currency,sent,delivered,delivery_rate")
    assert len(lines) == 1 + 7
    # Hostile parameters fall back to the defaults.
    assert (
        client.get(reverse("ui:reports"), {"days": "²", "bucket": "x", "ids": "y"}).status_code
        == 200
    )


def test_the_report_command(capsys):
    spring = _launched("Spring", ["delivered", "undeliverable"])
    call_command("report", "compare", str(spring.pk), "--json")
    answer = json.loads(capsys.readouterr().out)
    assert answer["campaigns"][0]["name"] == "Spring"
    assert answer["campaigns"][0]["delivery_rate"] == 50.0
    call_command("report", "compare", str(spring.pk))
    assert "Spring" in capsys.readouterr().out
    call_command("report", "trends", "--days", "7", "--json")
    points = json.loads(capsys.readouterr().out)["points"]
    assert len(points) == 7
    assert points[-1]["campaigns"] == 1
    call_command("report", "trends", "--days", "7")
    assert "campaigns=1" in capsys.readouterr().out
