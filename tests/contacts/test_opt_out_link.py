"""`{{opt_out_url}}`: a personal link; GET shows the choice, only the confirming POST opts out."""

import re

import pytest
from django.test import Client

from campaigns.freeze import campaign_freeze
from campaigns.models import Campaign, Message
from campaigns.preview import campaign_preview
from campaigns.services import campaign_create
from contacts.models import ConsentEvent, Contact, ContactList, ListMembership
from contacts.optout import opt_out_contact, opt_out_token, opt_out_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact(settings) -> Contact:
    settings.PUBLIC_BASE_URL = "https://herald.example"
    contact = Contact.objects.create(phone="+447946000001", first_name="Ann")
    for name in ("News", "Offers"):
        ListMembership.objects.create(
            contact=contact, contact_list=ContactList.objects.create(name=name)
        )
    return contact


def _path(contact: Contact) -> str:
    return "/o/" + opt_out_token(contact.pk)


def test_the_link_is_short_personal_and_cannot_be_edited_into_another(contact) -> None:
    url = opt_out_url(contact.pk)
    assert re.fullmatch(r"https://herald\.example/o/[0-9A-Za-z]+-[\w-]{10}", url)
    assert len(url) < 45
    assert opt_out_contact(opt_out_token(contact.pk)) == contact
    other = Contact.objects.create(phone="+447946000002")
    _, _, mac = opt_out_token(contact.pk).partition("-")
    forged = opt_out_token(other.pk).split("-")[0] + "-" + mac
    assert opt_out_contact(forged) is None
    assert opt_out_contact("nonsense") is None
    assert opt_out_contact("!!-x") is None


def test_a_get_as_link_scanners_do_opts_nobody_out(contact) -> None:
    client = Client()
    for _ in range(3):
        page = client.get(_path(contact))
        assert page.status_code == 200
        assert b'id="opt-out-confirm"' in page.content
        assert "Only messages to “News”" in page.content.decode()
    client.head(_path(contact))
    assert Contact.objects.get(pk=contact.pk).opted_out is False
    assert not ConsentEvent.objects.exists()


def test_the_confirming_click_opts_out_of_everything(contact) -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get(_path(contact))
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1)
    done = client.post(_path(contact), {"scope": "all", "csrfmiddlewaretoken": token.decode()})
    assert done.status_code == 200
    assert b"You will get no more messages" in done.content
    contact.refresh_from_db()
    assert (contact.opted_out, contact.opted_out_source) == (True, "link")
    (event,) = ConsentEvent.objects.filter(contact=contact)
    assert (event.action, event.source, event.channel) == ("opt_out", "link", "all")


def test_or_of_one_list_only(contact) -> None:
    news = ContactList.objects.get(name="News")
    response = Client().post(_path(contact), {"scope": str(news.pk)})
    assert "You left “News”" in response.content.decode()
    contact.refresh_from_db()
    assert contact.opted_out is False
    assert list(contact.lists.values_list("name", flat=True)) == ["Offers"]
    (event,) = ConsentEvent.objects.filter(contact=contact)
    assert (event.action, event.source) == ("left_list", "link")
    # A list they are not on (any more, or someone else's) changes nothing and says so.
    again = Client().post(_path(contact), {"scope": str(news.pk)})
    assert again.status_code == 400


def test_bad_tokens_and_bad_choices_answer_clearly(contact) -> None:
    assert Client().get("/o/zzz-notavalidmac").status_code == 404
    assert Client().post(_path(contact), {"scope": "everything!"}).status_code == 400
    assert Contact.objects.get(pk=contact.pk).opted_out is False


def test_the_placeholder_renders_each_recipients_link_and_the_preview_counts_it(contact):
    audience = ContactList.objects.get(name="News")
    text = "Sale today. Stop: {{opt_out_url}}"
    campaign = campaign_create(name="o", channel="sms", lists=[audience], text=text)
    preview = campaign_preview(campaign=campaign)
    (sample,) = preview["samples"]
    assert sample["text"] == f"Sale today. Stop: {opt_out_url(contact.pk)}"
    assert preview["parts"] == {"1": 1}
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    campaign_freeze(campaign=Campaign.objects.get(pk=campaign.pk))
    assert Message.objects.get(campaign=campaign).text == sample["text"]
