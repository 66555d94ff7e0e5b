"""The QA walk's leftovers on the marketer's pages (issue 26, session 7's walk): each is said in
words a marketer uses — texts too long, the cost's currency, who sends to each country, the
senders a step may pick, and no setting's name."""

import pytest
from django.core.checks import run_checks
from django.urls import reverse

from campaigns.models import Campaign
from campaigns.services import campaign_create
from channels.senders import sender_save
from contacts.models import Contact
from core.rules import OPERATOR
from tests.factories import make_audience

pytestmark = pytest.mark.django_db


def test_the_preview_says_a_text_is_too_long_beside_its_parts(marketer_client):
    campaign = campaign_create(name="Long", channel="sms", lists=[make_audience(2)], text="Hi")
    Campaign.objects.filter(pk=campaign.pk).update(text="c" * 1700)  # saved past the cap
    page = marketer_client.get(reverse("ui:campaign_preview", args=[campaign.pk])).content.decode()
    assert 'id="length-problems"' in page
    assert "Too long: SMS text is 1,700 characters (12 parts, GSM-7); the limit is 1,600." in page


def test_the_live_campaign_cost_has_its_currency_before_any_price_came(marketer_client, settings):
    settings.HERALD_PRICES = {"currency": "EUR", "sms": {"default": "0.0500"}}
    campaign = campaign_create(name="Live", channel="sms", lists=[make_audience(1)], text="Hi")
    Campaign.objects.filter(pk=campaign.pk).update(state="running", cost_currency="")
    fragment = marketer_client.get(reverse("ui:campaign_progress", args=[campaign.pk]))
    assert '<dd id="campaign-cost">€0.00</dd>' in fragment.content.decode()
    Campaign.objects.filter(pk=campaign.pk).update(cost_amount="1.25", cost_currency="GBP")
    fragment = marketer_client.get(reverse("ui:campaign_progress", args=[campaign.pk]))
    assert '<dd id="campaign-cost">£1.25</dd>' in fragment.content.decode()


def test_the_preview_names_each_countrys_sender(marketer_client):
    audience = make_audience(2)
    Contact.objects.create(phone="+12025550123", country="US")
    from contacts.models import ListMembership

    ListMembership.objects.create(
        contact=Contact.objects.get(phone="+12025550123"), contact_list=audience
    )
    sender_save(channel="sms", country="US", sender="+12025550100", actor=OPERATOR)
    sender_save(channel="sms", country="GB", sender="ShopUK", actor=OPERATOR)
    campaign = campaign_create(name="Both", channel="sms", lists=[audience], text="Hi")
    page = marketer_client.get(reverse("ui:campaign_preview", args=[campaign.pk])).content.decode()
    assert "SMS per country: United Kingdom “ShopUK”, United States “+12025550100”." in page


def test_a_step_is_offered_the_senders_of_its_own_channel(marketer_client):
    campaign_create(
        name="Old SMS", channel="sms", lists=[make_audience(1)], text="Hi", sender="SmsShop"
    )
    chain = [{"channel": "sms", "sender": "SmsFallback", "text": "x"}]
    Campaign.objects.create(
        name="Old Viber", channel="viber", sender="viber-service-7", fallback=chain
    )
    from ui.views.wizard_options import _known_senders

    known = _known_senders()
    assert "SmsShop" in known["sms"]
    assert "SmsFallback" in known["sms"]
    assert "viber-service-7" in known["viber"]
    assert "viber-service-7" not in known["sms"]
    assert "SmsFallback" not in known["viber"]


def test_no_setting_name_reaches_the_marketer_the_operator_is_warned(marketer_client, settings):
    settings.HERALD_OPT_OUT_COUNTRIES = []
    campaign = campaign_create(name="Plain", channel="sms", lists=[make_audience(1)], text="Hi")
    page = marketer_client.get(reverse("ui:campaign_preview", args=[campaign.pk])).content.decode()
    assert "HERALD_" not in page
    assert "No opt-out wording is added: this workspace applies no country" in page
    warnings = [m for m in run_checks() if m.id == "campaigns.W001"]
    assert len(warnings) == 1
    assert "HERALD_OPT_OUT_COUNTRIES is empty" in warnings[0].msg
    settings.HERALD_OPT_OUT_COUNTRIES = ["GB"]
    assert not [m for m in run_checks() if m.id == "campaigns.W001"]
    approvals = marketer_client.get(reverse("ui:approvals")).content.decode()
    assert "HERALD_" not in approvals


def test_a_refused_regional_setting_is_said_beside_its_form_with_the_text_kept(marketer_client):
    campaign = campaign_create(name="Regional", channel="sms", lists=[make_audience(1)], text="Hi")
    response = marketer_client.post(
        reverse("ui:campaign_countries", args=[campaign.pk]),
        {"sender": "WayTooLongSenderName", "dlt_template_id": "", "kr_title": "Kept title"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="countries-error" role="alert">Not saved:' in page
    assert 'value="WayTooLongSenderName"' in page
    assert 'value="Kept title"' in page
    assert '<details id="regional-settings" open>' in page
    campaign.refresh_from_db()
    assert campaign.sender == ""  # nothing saved
