"""Opt-out wording in marketing SMS where the law asks every message for it (issue 26 #8), on
the freeze, the preview and every launch surface (service, command, API)."""

import pytest
from django.core.management import CommandError, call_command

from campaigns.freeze import campaign_freeze
from campaigns.models import Campaign, Message
from campaigns.opt_out_law import opt_out_problems, says_how_to_opt_out
from campaigns.preview import campaign_preview
from campaigns.services import CampaignError, campaign_create, campaign_launch
from contacts.models import Contact, ContactList, ListMembership
from core.rules import OPERATOR

pytestmark = pytest.mark.django_db
PEOPLE = [
    ("+447946000101", "GB", "en"),
    ("+33612345678", "FR", "fr"),
    ("+33612345679", "FR", "en-GB"),
    ("+4915112345678", "DE", "de"),
]


@pytest.fixture(autouse=True)
def _the_laws(settings):
    # The suite runs with none (pyproject.toml); these tests are about them.
    settings.HERALD_OPT_OUT_COUNTRIES = ["AU", "CA", "FR", "GB", "NZ"]


def _audience() -> ContactList:
    audience = ContactList.objects.create(name="Everyone")
    for phone, country, language in PEOPLE:
        contact = Contact.objects.create(
            phone=phone, country=country, language=language, first_name="Ann"
        )
        ListMembership.objects.create(contact=contact, contact_list=audience)
    return audience


def _texts(campaign: Campaign, monkeypatch) -> dict[str, str]:
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    campaign_freeze(campaign=campaign)
    return dict(Message.objects.filter(campaign=campaign).values_list("phone", "text"))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("Reply STOP to opt out", True),
        ("STOP au 36180", True),
        ("Bye: {{opt_out_url}}", True),
        ("Don't stop shopping", False),
        ("END OF SEASON SALE", False),
        ("Sale today", False),
    ],
)
def test_what_counts_as_saying_how_to_opt_out(text, says):
    assert says_how_to_opt_out(text) is says


def test_the_freeze_adds_the_footer_in_each_recipients_language(monkeypatch):
    audience = _audience()
    campaign = campaign_create(
        name="s", channel="sms", lists=[audience], text="Sale today", sender="447860099299"
    )
    texts = _texts(campaign, monkeypatch)
    assert texts == {
        "+447946000101": "Sale today\nReply STOP to opt out",
        "+33612345678": "Sale today\nRépondez STOP pour vous désabonner",
        "+33612345679": "Sale today\nReply STOP to opt out",  # her own language wins
        "+4915112345678": "Sale today",  # no such rule in Germany
    }
    # The parts count the footer (and so does the cost, from them).
    long = campaign_create(name="l", channel="sms", lists=[audience], text="x" * 150)
    parts = dict(Message.objects.filter(campaign=long).values_list("phone", "parts"))
    assert parts == {}  # not frozen yet
    Campaign.objects.filter(pk=long.pk).update(state="running")
    campaign_freeze(campaign=long)
    parts = dict(Message.objects.filter(campaign=long).values_list("phone", "parts"))
    assert (parts["+447946000101"], parts["+4915112345678"]) == (2, 1)


def test_a_sender_name_nobody_can_reply_to_gets_the_opt_out_link():
    campaign = campaign_create(
        name="s", channel="sms", lists=[_audience()], text="Sale today", sender="ShopCo"
    )
    from contacts.optout import opt_out_url

    samples = {s["phone"]: s["text"] for s in campaign_preview(campaign=campaign)["samples"]}
    gb = Contact.objects.get(phone="+447946000101")
    assert samples["+447946000101"] == f"Sale today\nOpt out: {opt_out_url(gb.pk)}"


def test_a_text_that_says_it_already_gets_nothing_more(monkeypatch):
    campaign = campaign_create(
        name="s", channel="sms", lists=[_audience()], text="Sale today. Reply STOP to opt out"
    )
    assert set(_texts(campaign, monkeypatch).values()) == {"Sale today. Reply STOP to opt out"}


def test_with_the_footer_off_every_surface_refuses_the_launch(api_for_superuser):
    campaign = campaign_create(
        name="s", channel="sms", lists=[_audience()], text="Sale today", opt_out_footer=False
    )
    problems = opt_out_problems(campaign=campaign)
    assert [(p["country"], p["recipients"]) for p in problems] == [("FR", 2), ("GB", 1)]
    assert "PECR 2003 reg 23" in problems[1]["problems"][0]
    # The preview's compliance list names them per country (with the regional rules' problems).
    listed = campaign_preview(campaign=campaign)["compliance"]
    assert [{k: c[k] for k in ("country", "recipients", "problems")} for c in listed] == problems
    assert [c["country_name"] for c in listed] == ["France", "United Kingdom"]
    with pytest.raises(CampaignError, match=r"2 in FR, 1 in GB"):
        campaign_launch(campaign=campaign, actor=OPERATOR)
    with pytest.raises(CommandError, match="does not say how to opt out"):
        call_command("campaign", "launch", str(campaign.pk))
    answer = api_for_superuser.post(f"campaigns/{campaign.pk}/launch")
    assert answer.status_code == 409
    assert "opt out" in answer.json()["error"]["message"]
    campaign.refresh_from_db()
    assert campaign.state == "draft"
    # Saying it in the text is enough; so is turning the footer back on.
    Campaign.objects.filter(pk=campaign.pk).update(text="Sale today. STOP: reply STOP")
    assert campaign_launch(campaign=campaign, actor=OPERATOR).state == "running"


@pytest.fixture
def api_for_superuser(api_for, django_user_model):
    return api_for(django_user_model.objects.create_superuser("root", password="x" * 20))


def test_the_footer_option_on_the_command_line_and_the_api(api_for_superuser):
    _audience()
    call_command(
        "campaign",
        "create",
        "--name",
        "c",
        "--list",
        "Everyone",
        "--channel",
        "sms",
        "--text",
        "Hi",
        "--no-opt-out-footer",
    )
    assert Campaign.objects.get(name="c").opt_out_footer is False
    body = {
        "name": "a",
        "channel": "sms",
        "lists": ["Everyone"],
        "text": "Hi",
        "opt_out_footer": False,
    }
    created = api_for_superuser.post("campaigns", body)
    assert created.json()["opt_out_footer"] is False
    assert Campaign.objects.get(name="a").opt_out_footer is False


def test_an_sms_step_of_a_fallback_chain_carries_the_wording_too():
    from campaigns.failover import failover_create

    audience = _audience()
    campaign = campaign_create(
        name="v",
        channel="viber",
        lists=[audience],
        text="Sale today",
        fallback=["sms"],
        sender="ShopViber",
    )
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    gb, de = Contact.objects.get(country="GB"), Contact.objects.get(country="DE")
    failed = [
        Message.objects.create(
            campaign=campaign, contact=c, phone=c.phone, channel="viber", state="undeliverable"
        )
        for c in (gb, de)
    ]
    assert failover_create(message_ids=[m.pk for m in failed]) == 2
    texts = dict(Message.objects.filter(channel="sms").values_list("phone", "text"))
    # The SMS goes from the SMS default sender (a name here): the personal opt-out link.
    assert texts[gb.phone].startswith("Sale today\nOpt out: ")
    assert texts[de.phone] == "Sale today"
    # With the footer off, the chain's SMS step alone is enough to refuse the launch.
    Campaign.objects.filter(pk=campaign.pk).update(opt_out_footer=False)
    problems = opt_out_problems(campaign=Campaign.objects.get(pk=campaign.pk))
    assert [p["country"] for p in problems] == ["FR", "GB"]
    assert "the SMS step of the fallback chain" in problems[0]["problems"][0]
