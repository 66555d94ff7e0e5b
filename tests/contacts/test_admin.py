"""Contacts admin: search, filters, actions recorded as consent events, history inline."""

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from contacts.models import ConsentEvent, Contact, ContactList
from contacts.services import contact_opt_out
from tests.factories import ContactFactory, ContactListFactory

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:contacts_contact_changelist")


@pytest.fixture
def people():
    vip = ContactListFactory(name="VIP")
    ann = ContactFactory(phone="+447400123456", first_name="Ann", last_name="Lee", lists=[vip])
    ben = ContactFactory(
        phone="+4915123456789", first_name="Ben", last_name="Braun", country="DE", language="de"
    )
    cy = ContactFactory(phone="+33612345678", first_name="Cy", last_name="Lee", country="FR")
    contact_opt_out(contact=cy, source="keyword", channel="sms", note="STOP")
    return ann, ben, cy, vip


def phones(response) -> set[str]:
    return {contact.phone for contact in response.context["cl"].result_list}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"+447400123456", "+4915123456789", "+33612345678"}),
        ("q=Lee", {"+447400123456", "+33612345678"}),
        ("q=ann lee", {"+447400123456"}),
        ("q=%2B44 7400 123456", {"+447400123456"}),
        ("q=07400 123456", {"+447400123456"}),  # national format: digits without the trunk 0
        ("q=0151-2345 6789", {"+4915123456789"}),
        ("country=DE", {"+4915123456789"}),
        ("language=de", {"+4915123456789"}),
        ("opted_out__exact=1", {"+33612345678"}),
        ("opted_out_source__exact=keyword", {"+33612345678"}),
        ("q=Lee&opted_out__exact=0", {"+447400123456"}),  # phone search keeps the filters
        ("q=%2B33 6 12 34 56 78&opted_out__exact=0", set()),
    ],
)
def test_search_and_filters(admin_client, people, query, expected) -> None:
    response = admin_client.get(f"{CHANGELIST}?{query}")
    assert response.status_code == 200
    assert phones(response) == expected


def test_filter_by_list(admin_client, people) -> None:
    vip = people[3]
    response = admin_client.get(f"{CHANGELIST}?lists__id__exact={vip.pk}")
    assert phones(response) == {"+447400123456"}


def _act(client, action: str, contacts, **extra):
    data = {"action": action, "_selected_action": [c.pk for c in contacts], **extra}
    return client.post(CHANGELIST, data, follow=True)


def test_opt_out_and_in_actions_are_recorded_with_the_acting_user(admin_client, people) -> None:
    ann, ben, cy, _ = people
    admin_user = get_user_model().objects.get(username="admin")
    response = _act(admin_client, "opt_out", [ann, cy])
    assert "1 contact(s) opted out." in response.content.decode()
    event = ConsentEvent.objects.get(contact=ann)
    assert (event.action, event.source, event.actor) == ("opt_out", "admin", admin_user)
    assert ConsentEvent.objects.filter(contact=cy).count() == 1  # already out: no new event
    response = _act(admin_client, "opt_in", [ann, ben, cy])
    assert "2 contact(s) opted back in." in response.content.decode()
    assert not Contact.objects.filter(opted_out=True).exists()
    assert ConsentEvent.objects.filter(action="opt_in", actor=admin_user).count() == 2


def test_list_actions_use_the_chosen_list(admin_client, people) -> None:
    ann, ben, cy, vip = people
    promo = ContactListFactory(name="Promo")
    response = _act(admin_client, "add_to_list", [ann, ben], contact_list=promo.pk)
    assert "2 contact(s) added to Promo." in response.content.decode()
    _act(admin_client, "remove_from_list", [ann, cy], contact_list=vip.pk)
    assert list(promo.contacts.order_by("pk")) == [ann, ben]
    assert not vip.contacts.exists()
    response = _act(admin_client, "add_to_list", [cy])
    assert "Choose a list first." in response.content.decode()


def test_actions_apply_to_every_contact_selected_across_pages(admin_client) -> None:
    ContactFactory.create_batch(150)  # more than one page (100)
    data = {
        "action": "opt_out",
        "select_across": "1",
        "index": "0",
        "_selected_action": [Contact.objects.first().pk],
    }
    admin_client.post(f"{CHANGELIST}?q=", data)
    assert Contact.objects.filter(opted_out=True).count() == 150
    assert ConsentEvent.objects.count() == 150


def test_export_action_streams_the_selected_contacts(admin_client, people) -> None:
    ann, _, cy, _ = people
    response = _act(admin_client, "export_csv", [ann, cy])
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [(r["phone"], r["opted_out"], r["lists"]) for r in rows] == [
        ("+447400123456", "false", "VIP"),
        ("+33612345678", "true", ""),
    ]


def test_change_page_shows_consent_history_and_lists(admin_client, people) -> None:
    cy = people[2]
    response = admin_client.get(reverse("admin:contacts_contact_change", args=[cy.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Consent history" in page
    assert "Keyword (STOP/START)" in page
    consent = next(
        f for f in response.context["inline_admin_formsets"] if f.opts.model is ConsentEvent
    )
    assert [form.original.note for form in consent] == ["STOP"]


def test_adding_a_contact_normalises_the_phone(admin_client) -> None:
    url = reverse("admin:contacts_contact_add")
    form = {
        "phone": "+49 151 2345 6789",
        "first_name": "Eva",
        "last_name": "",
        "language": "",
        "timezone": "",
        "attributes": "{}",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "consent_events-TOTAL_FORMS": "0",
        "consent_events-INITIAL_FORMS": "0",
    }
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    contact = Contact.objects.get()
    assert (contact.phone, contact.country, contact.timezone) == (
        "+4915123456789",
        "DE",
        "Europe/Berlin",
    )
    response = admin_client.post(url, {**form, "phone": "0800 123 4567"})
    assert "INVALID_COUNTRY_CODE" in response.content.decode()
    response = admin_client.post(url, {**form, "phone": "+44 800 123 4567"})
    assert "NOT_MOBILE: toll-free number" in response.content.decode()


def test_consent_events_and_lists_admin_pages(admin_client, people) -> None:
    response = admin_client.get(reverse("admin:contacts_consentevent_changelist"))
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 1
    assert admin_client.get(reverse("admin:contacts_consentevent_add")).status_code == 403
    response = admin_client.get(reverse("admin:contacts_contactlist_changelist"))
    assert [(lst.name, lst.member_count) for lst in response.context["cl"].result_list] == [
        ("VIP", 1)
    ]
    assert ContactList.objects.count() == 1
