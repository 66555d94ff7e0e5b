"""Fallback chains: an ordered chain per campaign on every surface, and the engine giving the
next step to exactly the recipients a step did not reach, once each."""

import json
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from campaigns.models import Campaign, Message
from campaigns.reports import reports_reconcile
from campaigns.services import campaign_create, campaign_launch, campaign_status
from campaigns.steps import campaign_steps
from core.rules import OPERATOR
from tests.campaigns.conftest import make_audience

pytestmark = pytest.mark.django_db


def _create(*args: str) -> Campaign:
    out = StringIO()
    call_command("campaign", "create", "--name", "c", "--list", "fans", *args, "--json", stdout=out)
    return Campaign.objects.get(pk=json.loads(out.getvalue())["id"])


def test_the_command_line_takes_a_chain_and_keeps_the_sms_failover_names() -> None:
    make_audience(1, name="fans")
    chain = _create(
        "--channel",
        "rcs",
        "--text",
        "Shipped",
        "--fallback",
        "viber,sms",
        "--fallback-text",
        "sms=Shipped (SMS)",
    )
    assert chain.failover_mode == "herald"
    assert [(s.kind.name, s.content.text) for s in campaign_steps(chain)] == [
        ("rcs", "Shipped"),
        ("viber", "Shipped"),
        ("sms", "Shipped (SMS)"),
    ]
    # --sms-failover-text is --fallback sms, with the step's text and sender.
    Campaign.objects.all().delete()
    legacy = _create(
        "--channel",
        "whatsapp_text",
        "--text",
        "Hola",
        "--sms-failover-text",
        "Hi by SMS",
        "--sms-failover-sender",
        "Shop",
    )
    assert legacy.fallback == [
        {"channel": "sms", "text": "Hi by SMS", "sender": "Shop", "validity_minutes": None}
    ]
    assert (legacy.failover_text, legacy.failover_sender) == ("Hi by SMS", "Shop")
    with pytest.raises(CommandError, match="unknown channel 'fax'"):
        _create("--channel", "rcs", "--text", "Hi", "--fallback", "fax")
    with pytest.raises(CommandError, match="cannot fall back to SMS"):
        _create("--channel", "sms", "--text", "Hi", "--fallback", "sms")


@pytest.mark.parametrize(
    ("channel", "fallback", "problem"),
    [
        ("rcs", ["whatsapp_template"], "WhatsApp template cannot be a fallback step"),
        ("rcs", ["sms", "sms"], "already a step of this campaign"),
        ("rcs", ["viber", "sms", "whatsapp_text", "sms"], "at most 3 steps"),
        ("whatsapp_template", ["sms"], "SMS failover needs a failover text"),
        ("rcs", [{"channel": "sms", "text": "x" * 1601}], "failover SMS text is 1,601"),
        ("rcs", "sms,", None),
        ("rcs", [{"text": "no channel"}], "each fallback step is a channel name"),
    ],
)
def test_what_a_chain_may_not_be(channel, fallback, problem) -> None:
    fields = {"text": "Hi"} if channel != "whatsapp_template" else {}
    create = lambda: campaign_create(  # noqa: E731
        name="c", channel=channel, lists=[make_audience(1)], fallback=fallback, **fields
    )
    if problem is None:
        assert [s["channel"] for s in create().fallback] == ["sms"]
        return
    with pytest.raises(ValidationError, match=problem):
        create()


def test_the_api_takes_a_chain_and_answers_it(api_for, sender_user) -> None:
    make_audience(1, name="News")
    api = api_for(sender_user)
    body = {
        "name": "K",
        "channel": "rcs",
        "text": "Hi",
        "lists": ["News"],
        "fallback": ["viber", {"channel": "sms", "text": "Hi by SMS"}],
    }
    created = api.post("campaigns", body)
    assert created.status_code == 201, created.content
    assert [step["channel"] for step in created.json()["fallback"]] == ["viber", "sms"]
    assert created.json()["failover_mode"] == "herald"
    assert created.json()["failover_text"] == "Hi by SMS"  # the SMS step, by its old name
    campaign = Campaign.objects.get()
    assert campaign_status(campaign=campaign)["fallback"] == ["viber", "sms"]
    bad = api.post("campaigns", {**body, "fallback": [{"text": "x"}]})
    assert bad.status_code == 400
    assert "fallback.0" in bad.json()["error"]["fields"]


def test_an_rcs_to_sms_chain_reaches_exactly_the_undelivered_once(
    live_sandbox, django_capture_on_commit_callbacks
) -> None:
    live_sandbox.configure(not_on_channel={"RCS": 0.5}, outcomes={"delivered": 1.0})
    campaign = campaign_create(
        name="chain",
        channel="rcs",
        lists=[make_audience(20)],
        text="Hi {{first_name}}",
        fallback=[{"channel": "sms", "text": "Hi {{first_name}} (SMS)"}],
    )
    with django_capture_on_commit_callbacks(execute=True):
        campaign_launch(campaign=campaign, actor=OPERATOR)
    rcs = Message.objects.filter(campaign=campaign, channel="rcs")
    assert rcs.count() == 20
    # The reports come by pull here (the webhooks point at a host nobody listens on): each
    # sweep applies them, and an undelivered RCS queues (and, eagerly, sends) its SMS.
    for _ in range(2):
        assert live_sandbox.flush() == 0
        with django_capture_on_commit_callbacks(execute=True):
            reports_reconcile()
    undelivered = set(rcs.exclude(state="delivered").values_list("id", flat=True))
    assert 0 < len(undelivered) < 20
    sms = Message.objects.filter(campaign=campaign, channel="sms")
    assert sorted(sms.values_list("replaces_id", flat=True)) == sorted(undelivered)
    assert set(sms.values_list("state", flat=True)) == {"delivered"}
    assert all(text.endswith(" (SMS)") for text in sms.values_list("text", flat=True))
    # A late sweep, a duplicated report batch: nobody gets a second SMS.
    with django_capture_on_commit_callbacks(execute=True):
        reports_reconcile()
    assert sms.count() == len(undelivered)
    campaign.refresh_from_db()
    assert campaign.state == "completed"
    assert (campaign.failover_sent, campaign.failover_delivered) == (len(undelivered),) * 2
    assert live_sandbox.state()["acceptedByChannel"] == {"RCS": 20, "SMS": len(undelivered)}
