"""Opt-in keywords per number, confirmation texts, double opt-in with YES (#17)."""

import pytest

from contacts.consent import opt_in_keyword_save
from contacts.models import ConsentEvent, Contact, ContactList, OptInKeyword, PendingOptIn
from infobip.models import InboundMessage
from tests.inbox.test_inbound import OUR_NUMBER, PHONE, sms
from tests.infobip.webhooks.conftest import sent_bodies

pytestmark = pytest.mark.django_db
TERMS = "Shop alerts: up to 4 msgs/month. Msg & data rates may apply. STOP to end, HELP for help."
PROMPT = "Reply YES to get Shop alerts (up to 4 msgs/month, msg & data rates may apply)."


def _keyword(**fields) -> OptInKeyword:
    defaults = {
        "keyword": "Join",
        "number": "+" + OUR_NUMBER,
        "confirmation_text": TERMS,
        "contact_list": ContactList.objects.create(name="alerts"),
    }
    return opt_in_keyword_save(keyword=OptInKeyword(**(defaults | fields)))


def _replies(infobip_api) -> list[str]:
    return [b["messages"][0]["content"]["text"] for b in sent_bodies(infobip_api, "/messages")]


def test_a_new_number_texting_join_becomes_a_contact_on_the_list_with_the_terms(
    post, infobip_api
) -> None:
    keyword = _keyword()
    assert (keyword.keyword, keyword.number) == ("join", OUR_NUMBER)
    post("sms/inbound", sms("JOIN please"))
    contact = Contact.objects.get(phone=f"+{PHONE}")
    assert list(contact.lists.values_list("name", flat=True)) == ["alerts"]
    (event,) = ConsentEvent.objects.filter(contact=contact)
    assert (event.action, event.source, event.channel) == ("opt_in", "keyword", "sms")
    assert (event.wording, event.wording_version) == (TERMS, 1)
    assert _replies(infobip_api) == [TERMS]
    assert InboundMessage.objects.get().contact_id == contact.pk


def test_double_opt_in_waits_for_yes_and_stores_the_prompt_they_agreed_to(
    post, infobip_api
) -> None:
    _keyword(double_opt_in=True, confirm_prompt=PROMPT)
    post("sms/inbound", sms("join", message_id="a"))
    contact = Contact.objects.get(phone=f"+{PHONE}")
    assert not contact.lists.exists()
    assert not ConsentEvent.objects.exists()
    assert PendingOptIn.objects.get().confirmed_at is None
    post("sms/inbound", sms("Yes!", message_id="b", at="2026-11-21T10:01:00.000+0000"))
    assert list(contact.lists.values_list("name", flat=True)) == ["alerts"]
    (event,) = ConsentEvent.objects.filter(contact=contact)
    assert (event.action, event.wording, event.wording_version) == ("opt_in", PROMPT, 1)
    assert event.note == "YES to JOIN (list 'alerts')"
    assert _replies(infobip_api) == [PROMPT, TERMS]
    # A second YES has nothing pending: nothing changes.
    post("sms/inbound", sms("yes", message_id="c", at="2026-11-21T10:02:00.000+0000"))
    assert ConsentEvent.objects.count() == 1


def test_editing_the_wording_bumps_its_version(post, infobip_api) -> None:
    keyword = _keyword()
    keyword.confirmation_text = TERMS + " New terms."
    assert opt_in_keyword_save(keyword=keyword).wording_version == 2
    keyword.active = False
    assert opt_in_keyword_save(keyword=keyword).wording_version == 2


def test_a_keyword_for_another_number_does_not_apply(post, infobip_api) -> None:
    _keyword(number="447000000000")
    post("sms/inbound", sms("JOIN"))
    assert not ConsentEvent.objects.exists()
    assert not ContactList.objects.get(name="alerts").memberships.exists()


def test_stop_still_wins_over_an_opt_in_keyword(post, infobip_api) -> None:
    _keyword(keyword="stop")
    post("sms/inbound", sms("STOP"))
    assert Contact.objects.get(phone=f"+{PHONE}").opted_out is True
