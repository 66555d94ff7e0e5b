"""Issue 26 #13: saved message snippets — one service behind the page, the admin, the command
and the API; the wizard's message step and the inbox's reply box offer them."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Snippet
from contacts.models import Contact
from core.models import AuditEntry
from tests.api import conftest as api_conftest
from tests.ui.conftest import make_audience, make_user
from ui.roles import MARKETER

pytestmark = pytest.mark.django_db
api_for = api_conftest.api_for  # the API tests' JSON client, as a fixture here too
FOOTER = "Reply STOP to opt out"


def test_the_page_saves_changes_refuses_and_deletes(client):
    client.force_login(make_user("mia", MARKETER))
    url = reverse("ui:snippets")
    assert client.post(url, {"name": "Footer", "text": FOOTER}).status_code == 302
    snippet = Snippet.objects.get()
    assert (snippet.name, snippet.text, snippet.created_by.username) == ("Footer", FOOTER, "mia")
    clash = client.post(url, {"name": "footer", "text": "x"})
    assert clash.status_code == 400
    assert "exists already" in clash.content.decode()
    too_long = client.post(url, {"name": "Long", "text": "x" * 1601})
    assert "a snippet holds up to 1,600" in too_long.content.decode()
    assert ">" + "x" * 1601 + "</textarea>" in too_long.content.decode()  # kept
    client.post(url, {"id": snippet.pk, "name": "Footer", "text": FOOTER + "."})
    assert Snippet.objects.get().text == FOOTER + "."
    assert client.post(url, {"id": "²", "name": "Other", "text": "y"}).status_code == 302
    client.post(reverse("ui:snippet_delete", args=[snippet.pk]))
    assert list(Snippet.objects.values_list("name", flat=True)) == ["Other"]
    assert AuditEntry.objects.filter(action__startswith="snippet_").count() == 4


def test_the_message_step_and_the_reply_box_offer_them(client):
    client.force_login(make_user("mia", MARKETER))
    Snippet.objects.create(name="Footer", text=FOOTER)
    audience = make_audience(1)
    client.post(reverse("ui:wizard_audience"), {"name": "N", "lists": [audience.pk]})
    page = client.get(reverse("ui:wizard_message")).content.decode()
    assert f'data-insert="{FOOTER}" data-target="id_text"' in page
    ann = Contact.objects.get()
    from infobip.models import InboundMessage

    InboundMessage.objects.create(
        channel="sms",
        contact=ann,
        infobip_message_id="s-1",
        from_number="1",
        text="hi",
        received_at=timezone.now(),
    )
    thread = client.get(reverse("ui:thread", args=[ann.pk])).content.decode()
    assert f'data-insert="{FOOTER}" data-target="id_reply"' in thread


def test_the_command_and_the_api(capsys, api_for):
    mia = make_user("mia", MARKETER)
    call_command("snippet", "save", "--name", "Footer", "--text", FOOTER, "--as", "mia")
    call_command("snippet", "list", "--json")
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == [
        {"id": Snippet.objects.get().pk, "name": "Footer", "text": FOOTER}
    ]
    with pytest.raises(CommandError, match="no text"):
        call_command("snippet", "save", "--name", "Empty", "--text", " ")
    api = api_for(mia, ["read", "campaigns:write"])
    assert [s["name"] for s in api.get("snippets").json()] == ["Footer"]
    created = api.post("snippets", {"name": "Hours", "text": "Open 9–17"})
    assert created.status_code == 201, created.content
    refused = api.post("snippets", {"name": "Long", "text": "x" * 1601})
    assert refused.status_code == 400
    assert refused.json()["error"]["message"]
    call_command("snippet", "delete", "hours")
    assert list(Snippet.objects.values_list("name", flat=True)) == ["Footer"]
