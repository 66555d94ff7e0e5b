"""The channel registry: a throw-away type shows on every surface with no other change."""

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
import yaml
from django.core.checks import run_checks
from django.core.management import call_command
from django.urls import reverse

from campaigns.management.commands.campaign import Command as CampaignCommand
from campaigns.models import Campaign
from channels.base import ChannelType, Outbound, SendOutcome
from channels.registry import (
    UnknownChannel,
    channel_choices,
    channel_type,
    medium_choices,
    medium_for_infobip,
    mediums,
    messages_api_pulls,
    registered,
    reply_type,
)
from infobip.client import InfobipClient
from infobip.types import SendResult
from tests.ui.conftest import make_audience, make_user
from ui.roles import MARKETER

pytestmark = pytest.mark.django_db


class Pigeon(ChannelType):
    """A channel nobody sends on: proves the registry is the only place a type is declared."""

    name = "pigeon"
    label = "Carrier pigeon"
    ledger = "pigeon"
    medium_label = "Pigeon"
    infobip_channel = "PIGEON"
    sender_kind = "loft"
    sender_setting = "INFOBIP_SMS_SENDER"
    report_path = "messages/reports"
    inbound_path = "messages/inbound"
    report_pull = "messages-api"
    price_keys = ("sms",)
    fallback_step = True

    def send(
        self,
        client: InfobipClient,
        messages: Sequence[Outbound],
        *,
        bulk_id: str | None = None,
        tracking: Mapping[str, Any] | None = None,
    ) -> SendOutcome:
        return SendOutcome(SendResult(bulk_id=bulk_id, messages=[]))


def _cli_channels() -> list[str]:
    parser = CampaignCommand().create_parser("manage.py", "campaign")
    create = parser._subparsers._group_actions[0].choices["create"]  # argparse's own registry
    return next(a for a in create._actions if a.dest == "channel").choices


def test_a_registered_type_is_in_the_cli_the_api_schema_and_the_wizard(client) -> None:
    assert "pigeon" not in _cli_channels()
    with registered(Pigeon()):
        # The command line: a choice of --channel, and a draft it creates.
        assert "pigeon" in _cli_channels()
        make_audience(2)
        call_command(
            "campaign",
            "create",
            "--name",
            "coo",
            "--list",
            "Customers",
            "--channel",
            "pigeon",
            "--text",
            "Coo {{first_name}}",
            "--json",
        )
        assert Campaign.objects.get(name="coo").channel == "pigeon"
        # The API: the served schema lists it in the channel enums.
        schema = yaml.safe_load(client.get("/api/v1/schema/").content)
        enums = [s.get("enum", []) for s in schema["components"]["schemas"].values()]
        assert any("pigeon" in enum and "sms" in enum for enum in enums)
        # The wizard: a radio button on the message step, and a draft saved with it.
        client.force_login(make_user("pia", MARKETER))
        state = {"name": "Wings", "lists": [Campaign.objects.get().lists.get().pk]}
        client.post(reverse("ui:wizard_audience"), state)
        page = client.get(reverse("ui:wizard_message")).content.decode()
        assert 'value="pigeon" id="ch-pigeon"' in page
        assert "Carrier pigeon" in page
        answer = client.post(reverse("ui:wizard_message"), {"channel": "pigeon", "text": "Coo"})
        assert answer.status_code == 302, answer.content.decode()[:2000]
        # The ledger's medium: a choice of Message.channel and of the inbox filters.
        assert ("pigeon", "Pigeon") in medium_choices()
    assert "pigeon" not in _cli_channels()
    assert "pigeon" not in dict(channel_choices())


def test_the_builtin_vocabularies() -> None:
    assert [name for name, _ in channel_choices()][:3] == [
        "sms",
        "whatsapp_text",
        "whatsapp_template",
    ]
    # Two WhatsApp types share one medium, and the ledger keeps the medium.
    assert mediums()[:2] == ["sms", "whatsapp"]
    assert channel_type("whatsapp_template").ledger == channel_type("whatsapp_text").ledger
    assert medium_for_infobip("WHATSAPP") == "whatsapp"
    assert medium_for_infobip("sms") == "sms"
    assert "WHATSAPP" in messages_api_pulls()
    assert reply_type("whatsapp").name == "whatsapp_text"
    with pytest.raises(UnknownChannel, match="unknown channel 'fax'"):
        channel_type("fax")


def test_the_sms_type_measures_parts_and_refuses_long_texts() -> None:
    sms = channel_type("sms")
    assert sms.measure("a" * 161) == (2, "GSM-7")
    assert sms.measure("ş") == (1, "UCS-2")
    assert sms.costly_characters("aşb") == ("ş",)
    assert sms.cap_check("a" * 1601) == (
        "SMS text is 1,601 characters (11 parts, GSM-7); the limit is 1,600"
    )
    whatsapp = channel_type("whatsapp_text")
    assert whatsapp.measure("a" * 5000) == (1, "")
    assert (
        whatsapp.cap_check("😀" * 2049) == "WhatsApp text is 4,098 characters; the limit is 4,096"
    )


def test_a_type_naming_a_webhook_herald_does_not_serve_fails_the_checks() -> None:
    class Lost(Pigeon):
        name, ledger, report_path = "lost", "lost", "pigeons/reports"

    with registered(Lost()):
        errors = [e.id for e in run_checks() if e.id and e.id.startswith("channels.")]
    assert errors == ["channels.E001"]
    assert not [e for e in run_checks() if e.id and e.id.startswith("channels.")]


def test_a_frequency_cap_on_an_unknown_medium_fails_the_checks(settings) -> None:
    settings.HERALD_FREQUENCY_CAPS = [{"messages": 1, "days": 1, "channel": "telex"}]
    problems = [e for e in run_checks() if e.id == "channels.E003"]
    assert len(problems) == 1
    assert "telex" in problems[0].msg
