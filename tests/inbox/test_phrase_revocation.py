"""Inbound replies that revoke by phrase (#17): opted out like STOP, or flagged for review."""

import datetime as dt

import pytest

from contacts.models import ConsentEvent, Contact, RevocationReview
from contacts.phrases import revocation_review_oldest_open
from infobip.models import InboundMessage
from tests.inbox.test_inbound import PHONE, sms

pytestmark = pytest.mark.django_db


def test_a_clear_phrase_opts_out_and_is_confirmed_like_stop(post, infobip_api) -> None:
    assert post("sms/inbound", sms("please stop texting me")).status_code == 200
    contact = Contact.objects.get(phone=f"+{PHONE}")
    assert contact.opted_out is True
    (event,) = ConsentEvent.objects.filter(contact=contact)
    assert (event.action, event.source) == ("opt_out", "phrase")
    assert event.note == "reply phrase (en): please stop texting me"
    inbound = InboundMessage.objects.get()
    assert (inbound.keyword_action, inbound.reply_status) == ("opt_out", "sent")
    assert not RevocationReview.objects.exists()


def test_an_ambiguous_reply_is_flagged_with_a_due_date_and_changes_nothing(post, infobip_api):
    post("sms/inbound", sms("how do I unsubscribe?", at="2026-12-04T18:00:00.000+0000"))
    contact = Contact.objects.get(phone=f"+{PHONE}")
    assert contact.opted_out is False
    review = RevocationReview.objects.get()
    assert (review.contact_id, review.due_on) == (contact.pk, dt.date(2026, 12, 18))
    assert review.inbound_id == InboundMessage.objects.get().pk
    assert revocation_review_oldest_open() == review
    assert InboundMessage.objects.get().keyword_action == ""


def test_an_ordinary_reply_is_neither(post, infobip_api) -> None:
    post("sms/inbound", sms("thanks, see you Saturday"))
    assert Contact.objects.get(phone=f"+{PHONE}").opted_out is False
    assert not RevocationReview.objects.exists()
