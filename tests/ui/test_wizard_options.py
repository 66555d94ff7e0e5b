"""Every campaign option in the wizard, said in words on the preview, the confirmation and the
campaign page (issue 26 #2), quiet hours as people say them (#4), the forecast before the
button (#5)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from campaigns.models import Campaign
from contacts.models import ContactList
from tests import factories
from tests.ui.conftest import make_audience
from ui.models import AuditEntry

pytestmark = pytest.mark.django_db

OPTIONS = {
    "send_mode": "now",
    "quiet_from": "21:00",
    "quiet_until": "08:00",
    "sender": "ShopCo",
    "track_links": "on",
    "validity": "4",
    "validity_unit": "hours",
    "speed_limit": "120",
    "speed_unit": "minute",
    "max_spend": "250",
}


def _to_options(client, text: str = "Sale today: https://shop.example/sale") -> None:
    audience = ContactList.objects.filter(name="Customers").first() or make_audience(3)
    client.post(reverse("ui:wizard_audience"), {"name": "Winter", "lists": [audience.pk]})
    client.post(reverse("ui:wizard_message"), {"channel": "sms", "text": text})


def test_every_option_reaches_the_campaign_and_quiet_hours_keep_their_meaning(sender_client):
    _to_options(sender_client)
    page = sender_client.get(reverse("ui:wizard_options")).content.decode()
    # An SMS with a link: click tracking is on before the marketer touches it.
    assert 'name="track_links" id="id_track_links" checked' in page
    assert "Don't send between" in page
    response = sender_client.post(reverse("ui:wizard_options"), OPTIONS)
    campaign = Campaign.objects.get()
    assert response["Location"] == reverse("ui:campaign_preview", args=[campaign.pk])
    # "Don't send between 21:00 and 08:00" is the window 08:00–21:00, as on the command line.
    assert (campaign.quiet_hours_start, campaign.quiet_hours_end) == (dt.time(8), dt.time(21))
    assert (campaign.sender, campaign.track_links, campaign.sms_validity_minutes) == (
        "ShopCo",
        True,
        240,
    )
    assert (campaign.speed_limit, campaign.max_spend) == (120, Decimal("250"))

    preview = sender_client.get(response["Location"]).content.decode()
    assert "Nothing is sent between 21:00 and 08:00 in each recipient&#x27;s local time" in preview
    assert "SMS from “ShopCo”." in preview
    assert "Links are shortened and each click is counted." in preview
    assert "Infobip keeps trying to deliver each SMS for 4 hours" in preview
    assert "At most 120 messages a minute." in preview
    assert "Sending stops once 250.00 EUR is spent" in preview
    assert 'id="forecast"' in preview

    confirm = sender_client.get(reverse("ui:campaign_action", args=[campaign.pk, "launch"]))
    text = confirm.content.decode()
    assert 'id="confirm-forecast"' in text
    assert "Nothing is sent between 21:00 and 08:00" in text
    detail = sender_client.get(reverse("ui:campaign", args=[campaign.pk])).content.decode()
    assert 'id="option-quiet_hours"' in detail
    assert "SMS from “ShopCo”." in detail

    # Opened again in the wizard, the form says it the way it was typed.
    sender_client.get(reverse("ui:campaign_edit", args=[campaign.pk]))
    again = sender_client.get(reverse("ui:wizard_options")).content.decode()
    assert 'name="quiet_from" value="21:00"' in again
    assert 'name="quiet_until" value="08:00"' in again
    assert 'name="validity" value="4"' in again
    assert 'name="max_spend" value="250"' in again


def test_without_a_link_tracking_starts_off_and_unchecking_it_sticks(marketer_client):
    _to_options(marketer_client, text="Sale today in store")
    page = marketer_client.get(reverse("ui:wizard_options")).content.decode()
    assert 'id="id_track_links" checked' not in page
    assert "This text has no link yet." in page
    # Where links are shortened, in words: no setting name reaches the marketer.
    assert "Infobip's short domain (your administrator can set your own)" in page
    assert "INFOBIP_" not in page
    assert "HERALD_" not in page
    marketer_client.post(reverse("ui:wizard_options"), {"send_mode": "now"})
    assert Campaign.objects.get().track_links is False


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("sender", "A sender far too long", "is not a sender name"),
        ("sender", "123", None),
        ("validity", "49", "at most 48 hours"),
        ("validity", "x", "whole number of minutes or hours"),
        ("max_spend", "-5", "The budget cap must be an amount"),
        ("max_spend", "1e400", "The budget cap must be an amount"),
        ("quiet_from", "21:00", "Give both times of the quiet hours"),
    ],
)
def test_bad_options_are_refused_at_their_field_and_nothing_is_saved(
    marketer_client, field, value, error
):
    _to_options(marketer_client)
    response = marketer_client.post(
        reverse("ui:wizard_options"), {"send_mode": "now", field: value}
    )
    if error is None:
        assert response.status_code == 302
        return
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Campaign.objects.exists()


def test_equal_quiet_hour_ends_are_refused_in_the_marketers_words(marketer_client):
    _to_options(marketer_client)
    response = marketer_client.post(
        reverse("ui:wizard_options"),
        {"send_mode": "now", "quiet_from": "21:00", "quiet_until": "21:00"},
    )
    assert response.status_code == 400
    assert "start and end at the same time: give e.g. 21:00 and 08:00" in response.content.decode()


def test_lifting_the_frequency_cap_needs_the_send_permission(marketer_client, sender, settings):
    settings.HERALD_FREQUENCY_CAPS = [{"messages": 2, "days": 7, "channel": "any"}]
    sender_client = Client()
    sender_client.force_login(sender)
    _to_options(marketer_client)
    page = marketer_client.get(reverse("ui:wizard_options")).content.decode()
    assert "at most 2 messages in 7 days" in page
    assert "Only someone who may launch campaigns" in page
    # A crafted POST from a Marketer is refused by the service, at the field.
    refused = marketer_client.post(
        reverse("ui:wizard_options"), {"send_mode": "now", "frequency_cap_override": "on"}
    )
    assert refused.status_code == 400
    assert 'id="err-caps"' in refused.content.decode()
    assert not Campaign.objects.exists()

    _to_options(sender_client)
    sender_client.post(
        reverse("ui:wizard_options"), {"send_mode": "now", "frequency_cap_override": "on"}
    )
    campaign = Campaign.objects.get()
    assert campaign.frequency_cap_override is True
    assert AuditEntry.objects.filter(action="frequency_cap_override", campaign=campaign).exists()
    preview = sender_client.get(reverse("ui:campaign_preview", args=[campaign.pk]))
    assert "Lifted for this campaign" in preview.content.decode()


def test_the_opt_out_footer_is_on_by_default_and_off_blocks_the_launch(sender_client, settings):
    settings.HERALD_OPT_OUT_COUNTRIES = ["GB"]
    _to_options(sender_client, text="Sale today")
    page = sender_client.get(reverse("ui:wizard_options")).content.decode()
    assert 'name="opt_out_footer" id="id_opt_out_footer" checked' in page
    sender_client.post(reverse("ui:wizard_options"), {"send_mode": "now"})  # footer unchecked
    campaign = Campaign.objects.get()
    assert campaign.opt_out_footer is False
    preview = sender_client.get(reverse("ui:campaign_preview", args=[campaign.pk])).content
    assert "Off: recipients in GB would get no opt-out wording" in preview.decode()
    launched = sender_client.post(
        reverse("ui:campaign_action", args=[campaign.pk, "launch"]), follow=True
    )
    assert "does not say how to opt out" in launched.content.decode()
    campaign.refresh_from_db()
    assert campaign.state == "draft"


def test_a_fallback_steps_validity_keeps_its_unit(sender_client):
    # The step's unit field is fallback_validity_unit_0: 30 minutes stayed 30 hours before.
    _to_options(sender_client)
    chain = {
        "failover_mode": "herald",
        "fallback_0": "viber",
        "fallback_validity_0": "30",
        "fallback_validity_unit_0": "minutes",
        "fallback_1": "rcs",
        "fallback_validity_1": "2",
        "fallback_validity_unit_1": "hours",
    }
    response = sender_client.post(reverse("ui:wizard_options"), OPTIONS | chain)
    assert response.status_code == 302
    steps = Campaign.objects.get().fallback
    assert [(s["channel"], s["validity_minutes"]) for s in steps] == [("viber", 30), ("rcs", 120)]


def test_the_fallback_text_offers_the_audiences_attributes(sender_client):
    factories.make_audience(2, name="Customers", attributes={"loyalty_points": 120})
    _to_options(sender_client)
    page = sender_client.get(reverse("ui:wizard_options")).content.decode()
    # The same placeholders as the message step: the attribute and the opt-out link.
    assert 'data-insert="{{loyalty_points}}" data-target="id_fallback_text_0"' in page
    assert 'data-insert="{{opt_out_url}}" data-target="id_fallback_text_0"' in page
