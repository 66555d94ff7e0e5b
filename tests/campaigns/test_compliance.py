"""Countries' rules: the preview lists what would be refused, launch refuses it, sends carry the
regional fields (valid against Infobip's SMS v3 document: provider_mocked checks every body)."""

import json

import pytest
import responses
from django.core.exceptions import ValidationError
from django.test import override_settings

from campaigns.editing import campaign_countries_update
from campaigns.models import Campaign, Message
from campaigns.preview import campaign_preview
from campaigns.services import CampaignError, campaign_create, campaign_launch, campaign_test_send
from channels.models import Sender
from channels.senders import sender_save
from contacts.models import Contact, ContactList, ListMembership
from core.rules import OPERATOR
from tests.fixtures.provider import BASE_URL, sent_bodies
from whatsapp.models import WhatsAppTemplate

pytestmark = pytest.mark.django_db

PEOPLE = {
    "IN": ["+919812345670", "+919812345671", "+919812345672"],
    "GB": ["+447946000001", "+447946000002"],
    "US": ["+12025550123"],
    "TR": ["+905321234560", "+905321234561", "+905321234562"],
}


def _audience(*countries: str, attributes: dict[str, dict] | None = None) -> ContactList:
    audience = ContactList.objects.create(name="world")
    contacts = Contact.objects.bulk_create(
        Contact(
            phone=phone,
            first_name="Ann",
            country=country,
            attributes=(attributes or {}).get(phone, {}),
        )
        for country in countries
        for phone in PEOPLE[country]
    )
    ListMembership.objects.bulk_create(
        ListMembership(contact=c, contact_list=audience) for c in contacts
    )
    return audience


def _sms(audience: ContactList, **kwargs) -> Campaign:
    return campaign_create(
        name="spring", channel="sms", lists=[audience], text="Hi {{first_name}}", **kwargs
    )


def _accept_all(request):
    body = json.loads(request.body)
    messages = [
        {
            "messageId": d["messageId"],
            "destination": d["to"],
            "status": {
                "groupId": 1,
                "groupName": "PENDING",
                "id": 26,
                "name": "PENDING_ACCEPTED",
                "description": "Message sent to next instance",
            },
        }
        for m in body["messages"]
        for d in m["destinations"]
    ]
    return 200, {}, json.dumps({"bulkId": "b", "messages": messages})


def _launch(campaign: Campaign, capture) -> None:
    with capture(execute=True):
        campaign_launch(campaign=campaign, actor=OPERATOR)


def _entries(mock) -> dict[str, dict]:
    """messageId → (sender, regional options) of every SMS sent."""
    found = {}
    for body in sent_bodies(mock, "/sms/3/messages"):
        for entry in body["messages"]:
            for destination in entry["destinations"]:
                regional = entry.get("options", {}).get("regional")
                found[destination["to"]] = {"sender": entry.get("sender"), "regional": regional}
    return found


def test_india_without_dlt_is_listed_and_refused_and_with_dlt_carries_the_fields(
    provider_mocked, django_capture_on_commit_callbacks
) -> None:
    provider_mocked.add_callback(responses.POST, BASE_URL + "/sms/3/messages", callback=_accept_all)
    campaign = _sms(_audience("IN", "GB"))
    [india] = campaign_preview(campaign=campaign)["compliance"]
    assert (india["country"], india["country_name"], india["recipients"]) == ("IN", "India", 3)
    assert any("DLT principal entity" in p for p in india["problems"])
    assert any("DLT content template" in p for p in india["problems"])
    with pytest.raises(CampaignError, match=r"3 recipients would be refused: India \(3"):
        campaign_launch(campaign=campaign, actor=OPERATOR)
    assert not Message.objects.exists()
    assert not provider_mocked.calls

    sender_save(
        channel="sms",
        country="IN",
        sender="HERALD",
        dlt_entity_id="1101456789012345678",
        dlt_telemarketer_id="1702",
        actor=OPERATOR,
    )
    campaign = campaign_countries_update(
        campaign=campaign, actor=OPERATOR, dlt_template_id="1107160000000001"
    )
    preview = campaign_preview(campaign=campaign)
    assert preview["compliance"] == []
    plan = {(u["country"], u["sender"]) for u in preview["senders"]}
    assert plan == {("IN", "HERALD"), ("GB", "Herald")}  # India's row; the default elsewhere
    _launch(campaign, django_capture_on_commit_callbacks)
    sent = _entries(provider_mocked)
    for phone in PEOPLE["IN"]:
        assert sent[phone.lstrip("+")] == {
            "sender": "HERALD",
            "regional": {
                "indiaDlt": {
                    "principalEntityId": "1101456789012345678",
                    "contentTemplateId": "1107160000000001",
                    "telemarketerId": "1702",
                }
            },
        }
    for phone in PEOPLE["GB"]:
        assert sent[phone.lstrip("+")] == {"sender": "Herald", "regional": None}
    campaign.refresh_from_db()
    assert campaign.count_accepted == 5


def test_excluding_a_country_leaves_its_recipients_out_and_lets_the_rest_go(
    provider_mocked, django_capture_on_commit_callbacks
) -> None:
    provider_mocked.add_callback(responses.POST, BASE_URL + "/sms/3/messages", callback=_accept_all)
    campaign = _sms(_audience("IN", "GB"))
    campaign = campaign_countries_update(campaign=campaign, actor=OPERATOR, exclude=["in"])
    preview = campaign_preview(campaign=campaign)
    assert preview["compliance"] == []
    assert preview["audience"] == 2
    assert preview["excluded"]["excluded_countries"] == 3
    assert preview["excluded"]["excluded_lists"] == 0
    _launch(campaign, django_capture_on_commit_callbacks)
    assert set(_entries(provider_mocked)) == {p.lstrip("+") for p in PEOPLE["GB"]}
    campaign = campaign_countries_update(
        campaign=Campaign.objects.create(name="x", channel="sms", text="x"),
        actor=OPERATOR,
        exclude=["IN", "GB"],
        include=["GB"],
    )
    assert campaign.exclude_countries == ["IN"]


def test_an_alphanumeric_sender_to_the_us_is_refused_or_swapped_for_the_us_number() -> None:
    audience = _audience("US", "GB")
    campaign = _sms(audience, sender="Shop")
    [usa] = campaign_preview(campaign=campaign)["compliance"]
    assert usa["country"] == "US"
    assert "alphanumeric" in usa["problems"][0]
    sender_save(channel="sms", country="US", sender="+12025550100", actor=OPERATOR)
    preview = campaign_preview(campaign=campaign)
    assert preview["compliance"] == []
    senders = {u["country"]: u for u in preview["senders"]}
    assert senders["US"]["sender"] == "+12025550100"
    assert senders["US"]["swapped_from"] == "Shop"
    assert senders["GB"]["sender"] == "Shop"
    assert senders["GB"]["swapped_from"] == ""


@override_settings(HERALD_NUMERIC_SENDER_COUNTRIES=["GB"])
def test_the_setting_adds_countries_to_the_sourced_table() -> None:
    [britain] = campaign_preview(campaign=_sms(_audience("GB"), sender="Shop"))["compliance"]
    assert britain["country"] == "GB"


def test_turkey_needs_each_recipients_iys_type_from_the_contact_or_the_campaign(
    provider_mocked, django_capture_on_commit_callbacks
) -> None:
    provider_mocked.add_callback(responses.POST, BASE_URL + "/sms/3/messages", callback=_accept_all)
    first, second, third = PEOPLE["TR"]
    audience = _audience(
        "TR",
        attributes={
            first: {"iys_recipient_type": "bireysel"},
            second: {"iys_recipient_type": "TACIR"},
        },
    )
    sender_save(channel="sms", country="TR", sender="SHOP", iys_brand_code=123456, actor=OPERATOR)
    campaign = _sms(audience)
    [turkey] = campaign_preview(campaign=campaign)["compliance"]
    assert turkey["recipients"] == 1
    assert "1 of them have none" in turkey["problems"][0]
    assert "iys_recipient_type" in turkey["problems"][0]
    campaign = campaign_countries_update(
        campaign=campaign, actor=OPERATOR, iys_recipient_type="tacir"
    )
    assert campaign.iys_recipient_type == "TACIR"
    assert campaign_preview(campaign=campaign)["compliance"] == []
    _launch(campaign, django_capture_on_commit_callbacks)
    sent = _entries(provider_mocked)
    kinds = {p: sent[p.lstrip("+")]["regional"]["turkeyIys"] for p in PEOPLE["TR"]}
    assert kinds == {
        first: {"recipientType": "BIREYSEL", "brandCode": 123456},
        second: {"recipientType": "TACIR", "brandCode": 123456},
        third: {"recipientType": "TACIR", "brandCode": 123456},  # the campaign's default
    }
    assert len(sent_bodies(provider_mocked, "/sms/3/messages")) == 1  # one request per batch


def test_a_south_korean_title_is_checked_and_sent_to_korea_only() -> None:
    with pytest.raises(ValidationError, match="South Korean title"):
        _sms(_audience("GB"), kr_title="x" * 67)


def test_meta_blocks_whatsapp_marketing_templates_to_us_numbers_only() -> None:
    audience = _audience("US", "GB")
    for category, refused in (("MARKETING", True), ("UTILITY", False)):
        template = WhatsAppTemplate.objects.create(
            sender="447860099299",
            name=category.lower(),
            language="en",
            status="APPROVED",
            category=category,
            body_text="Hello",
        )
        campaign = campaign_create(
            name=category,
            channel="whatsapp_template",
            lists=[audience],
            template=template,
            template_mapping={},
        )
        compliance = campaign_preview(campaign=campaign)["compliance"]
        assert [c["country"] for c in compliance] == (["US"] if refused else [])
        if refused:
            assert "marketing templates" in compliance[0]["problems"][0]


def test_a_sender_removed_after_launch_skips_its_countrys_rows_with_the_reason(
    provider_mocked, django_capture_on_commit_callbacks
) -> None:
    provider_mocked.add_callback(responses.POST, BASE_URL + "/sms/3/messages", callback=_accept_all)
    row, _ = sender_save(
        channel="sms", country="IN", sender="HERALD", dlt_entity_id="1101", actor=OPERATOR
    )
    campaign = _sms(_audience("IN", "GB"), dlt_template_id="1107")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        campaign_launch(campaign=campaign, actor=OPERATOR)
    Sender.objects.filter(pk=row.pk).delete()
    for callback in callbacks:
        callback()
    skipped = Message.objects.filter(state="skipped")
    assert sorted(skipped.values_list("phone", flat=True)) == PEOPLE["IN"]
    assert "DLT principal entity" in skipped.first().reason
    assert set(_entries(provider_mocked)) == {p.lstrip("+") for p in PEOPLE["GB"]}


def test_a_test_send_goes_from_the_numbers_country_sender_and_is_refused_where_it_would_be(
    provider_mocked,
) -> None:
    provider_mocked.add_callback(responses.POST, BASE_URL + "/sms/3/messages", callback=_accept_all)
    audience = _audience("GB")
    campaign = _sms(audience)
    contact = Contact.objects.first()
    with pytest.raises(CampaignError, match="India requires"):
        campaign_test_send(campaign=campaign, contact=contact, to="+919812345679")
    sender_save(channel="sms", country="US", sender="+12025550100", actor=OPERATOR)
    campaign_test_send(campaign=campaign, contact=contact, to="+12025550199")
    assert _entries(provider_mocked)["12025550199"]["sender"] == "+12025550100"


def test_a_scheduled_campaign_whose_sender_was_removed_goes_back_to_draft() -> None:
    import datetime as dt

    from django.utils import timezone

    from campaigns.services import campaign_start_due

    row, _ = sender_save(
        channel="sms", country="IN", sender="HERALD", dlt_entity_id="1101", actor=OPERATOR
    )
    soon = timezone.now() + dt.timedelta(hours=1)
    campaign = _sms(_audience("IN"), dlt_template_id="1107", send_at=soon)
    campaign_launch(campaign=campaign, actor=OPERATOR)
    campaign.refresh_from_db()
    assert campaign.state == "scheduled"
    Sender.objects.filter(pk=row.pk).delete()
    assert campaign_start_due(now=soon + dt.timedelta(minutes=1)) == []
    campaign.refresh_from_db()
    assert campaign.state == "draft"
    assert "India" in campaign.state_reason


def test_the_command_creates_previews_and_fixes_a_campaigns_countries(capsys) -> None:
    from django.core.management import CommandError, call_command

    _audience("IN", "GB")
    call_command(
        "campaign",
        "create",
        "--name",
        "d",
        "--list",
        "world",
        "--channel",
        "sms",
        "--text",
        "Hi",
        "--sender",
        "auto",
        "--dlt-template-id",
        "1107",
        "--json",
    )
    campaign = Campaign.objects.get(pk=json.loads(capsys.readouterr().out)["id"])
    assert (campaign.sender, campaign.dlt_template_id) == ("", "1107")
    call_command("campaign", "preview", str(campaign.pk))
    out = capsys.readouterr().out
    assert "India (IN): 3 recipients would be refused" in out
    assert "campaign countries" in out
    with pytest.raises(CommandError, match="would be refused"):
        call_command("campaign", "launch", str(campaign.pk))
    call_command("campaign", "countries", str(campaign.pk), "--exclude", "in", "--json")
    assert json.loads(capsys.readouterr().out)["exclude_countries"] == ["IN"]
    call_command("campaign", "preview", str(campaign.pk), "--json")
    assert json.loads(capsys.readouterr().out)["compliance"] == []
    with pytest.raises(CommandError, match=r"invalid choice"):
        call_command("campaign", "countries", str(campaign.pk), "--iys-recipient-type", "x")
