"""`whatsapp_reply`: an image reply inside the 24-hour window via the sandbox; refused outside."""

import datetime as dt
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from contacts.models import Contact

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandboxed(sandbox, settings):
    settings.INFOBIP_SANDBOX_URL = sandbox.url
    settings.INFOBIP_SANDBOX_API_KEY = sandbox.api_key
    return sandbox


def test_image_reply_inside_the_window_goes_through_the_sandbox(sandboxed, capsys) -> None:
    Contact.objects.create(
        phone="+447946000301", whatsapp_last_inbound_at=timezone.now() - dt.timedelta(hours=2)
    )
    call_command("whatsapp_reply", "--to", "+44 7946 000301", "--image",
                 "https://example.com/offer.jpg", "--text", "Your offer", "--json")  # fmt: skip
    sent = json.loads(capsys.readouterr().out)
    assert sent["kind"] == "image"
    assert sandboxed.truth(sent["message_id"])["to"] == "447946000301"


def test_reply_outside_the_window_is_refused_and_nothing_is_sent(sandboxed) -> None:
    Contact.objects.create(
        phone="+447946000302", whatsapp_last_inbound_at=timezone.now() - dt.timedelta(hours=30)
    )
    with pytest.raises(CommandError, match=r"not sent: .*24"):
        call_command("whatsapp_reply", "--to", "+447946000302", "--text", "Hello")
    assert sandboxed.state()["accepted"]["total"] == 0


def test_bad_input_is_explained(sandboxed) -> None:
    with pytest.raises(CommandError, match="never written"):
        call_command("whatsapp_reply", "--to", "+447946000399", "--text", "Hi")
    Contact.objects.create(phone="+447946000303", whatsapp_last_inbound_at=timezone.now())
    with pytest.raises(CommandError, match="id:Title"):
        call_command("whatsapp_reply", "--to", "+447946000303", "--text", "Pick",
                     "--button", "no-title")  # fmt: skip
