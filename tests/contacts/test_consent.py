"""Consent services: opt-out / opt-in state, history only on change, bulk variants, lists."""

import pytest
from django.contrib.auth import get_user_model

from contacts.models import ConsentEvent, Contact, ListMembership
from contacts.services import (
    contact_list_add,
    contact_list_remove,
    contact_opt_in,
    contact_opt_out,
    contacts_opt_in,
    contacts_opt_out,
)
from tests.factories import ContactFactory, ContactListFactory, OptedOutContactFactory

pytestmark = pytest.mark.django_db


def test_opt_out_sets_state_and_records_one_event() -> None:
    contact = ContactFactory()
    assert contact_opt_out(contact=contact, source="keyword", channel="sms", note="STOP")
    assert contact.opted_out
    assert contact.opted_out_at is not None
    assert (contact.opted_out_source, contact.opted_out_channel) == ("keyword", "sms")
    event = ConsentEvent.objects.get()
    assert (event.contact, event.action, event.source, event.channel, event.note) == (
        contact,
        "opt_out",
        "keyword",
        "sms",
        "STOP",
    )


def test_repeated_opt_out_changes_nothing_and_adds_no_history() -> None:
    contact = ContactFactory()
    contact_opt_out(contact=contact, source="keyword", channel="sms")
    first_at = contact.opted_out_at
    assert not contact_opt_out(contact=contact, source="admin")
    contact.refresh_from_db()
    assert (contact.opted_out_at, contact.opted_out_source) == (first_at, "keyword")
    assert ConsentEvent.objects.count() == 1


def test_opt_in_clears_state_and_history_keeps_every_change_in_order() -> None:
    user = get_user_model().objects.create_user("staff")
    contact = ContactFactory()
    contact_opt_out(contact=contact, source="keyword", channel="whatsapp")
    assert contact_opt_in(contact=contact, source="admin", actor=user)
    assert not contact_opt_in(contact=contact, source="admin", actor=user)
    contact_opt_out(contact=contact, source="provider_error", note="EC_ABSENT_SUBSCRIBER")
    contact.refresh_from_db()
    assert (contact.opted_out, contact.opted_out_source, contact.opted_out_channel) == (
        True,
        "provider_error",
        "all",
    )
    history = list(contact.consent_events.order_by("id").values_list("action", "source", "actor"))
    assert history == [
        ("opt_out", "keyword", None),
        ("opt_in", "admin", user.pk),
        ("opt_out", "provider_error", None),
    ]
    # Newest first by default, for the admin inline.
    assert contact.consent_events.first().source == "provider_error"


def test_opt_in_resets_opt_out_fields() -> None:
    contact = OptedOutContactFactory()
    contact_opt_in(contact=contact, source="keyword", channel="sms")
    contact.refresh_from_db()
    assert (
        contact.opted_out,
        contact.opted_out_at,
        contact.opted_out_source,
        contact.opted_out_channel,
    ) == (False, None, "", "")


def test_unknown_source_or_channel_is_refused() -> None:
    contact = ContactFactory()
    with pytest.raises(ValueError, match="sms_typo"):
        contact_opt_out(contact=contact, source="keyword", channel="sms_typo")
    with pytest.raises(ValueError, match="carrier"):
        contact_opt_out(contact=contact, source="carrier")
    assert not ConsentEvent.objects.exists()


def test_bulk_opt_out_and_in_change_only_those_that_need_it(django_assert_max_num_queries):
    already = OptedOutContactFactory.create_batch(2)
    fresh = ContactFactory.create_batch(3)
    ids = [c.pk for c in already + fresh]
    with django_assert_max_num_queries(8):  # set-based: no query per contact
        assert contacts_opt_out(contact_ids=iter(ids), source="admin") == 3
    assert Contact.objects.filter(opted_out=True).count() == 5
    assert ConsentEvent.objects.filter(action="opt_out").count() == 3
    assert contacts_opt_in(contact_ids=ids, source="admin") == 5
    assert not Contact.objects.filter(opted_out=True).exists()


def test_bulk_opt_out_handles_more_ids_than_one_chunk() -> None:
    contacts = ContactFactory.create_batch(1005)
    assert contacts_opt_out(contact_ids=(c.pk for c in contacts), source="api") == 1005
    assert ConsentEvent.objects.count() == 1005


def test_list_add_and_remove_count_real_changes() -> None:
    contact_list = ContactListFactory()
    contacts = ContactFactory.create_batch(3)
    ids = [c.pk for c in contacts]
    assert contact_list_add(contact_list=contact_list, contact_ids=ids[:2]) == 2
    assert contact_list_add(contact_list=contact_list, contact_ids=ids + ids) == 1
    assert ListMembership.objects.filter(contact_list=contact_list).count() == 3
    assert contact_list_remove(contact_list=contact_list, contact_ids=ids[:2]) == 2
    assert contact_list_remove(contact_list=contact_list, contact_ids=ids[:2]) == 0
    assert list(contact_list.contacts.all()) == [contacts[2]]
