"""A contact's evidence and erasure from the browser and the admin: permission, confirm, audit."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from campaigns.models import Campaign, Message
from contacts.models import Contact
from core.models import AuditEntry

pytestmark = pytest.mark.django_db
PHONE = "+447946000011"


@pytest.fixture
def ann() -> Contact:
    contact = Contact.objects.create(phone=PHONE, first_name="Ann")
    campaign = Campaign.objects.create(name="sale", channel="sms", text="Hi", state="completed")
    Message.objects.create(
        campaign=campaign,
        contact=contact,
        phone=PHONE,
        channel="sms",
        text="Hi Ann",
        state="delivered",
    )
    return contact


def test_a_marketer_downloads_the_evidence_but_cannot_erase(marketer_client, ann) -> None:
    page = marketer_client.get(reverse("ui:contact", args=[ann.pk])).content.decode()
    assert reverse("ui:contact_evidence", args=[ann.pk]) in page
    assert reverse("ui:contact_erase", args=[ann.pk]) not in page  # no delete permission
    response = marketer_client.get(reverse("ui:contact_evidence", args=[ann.pk]))
    assert response["Content-Disposition"].startswith("attachment;")
    document = json.loads(response.content)
    assert document["contact"]["phone"] == PHONE
    assert [m["text"] for m in document["messages"]] == ["Hi Ann"]
    assert AuditEntry.objects.filter(action="contact_evidence", actor_name="mia").count() == 1
    assert marketer_client.post(reverse("ui:contact_erase", args=[ann.pk])).status_code == 403
    assert Contact.objects.filter(pk=ann.pk).exists()


def test_erasing_asks_first_then_forgets_the_person_and_keeps_the_ledger_row(
    marketer, marketer_client, ann
) -> None:
    marketer.user_permissions.add(Permission.objects.get(codename="delete_contact"))
    url = reverse("ui:contact_erase", args=[ann.pk])
    confirm = marketer_client.get(url)
    assert "cannot be undone" in confirm.content.decode()
    assert Contact.objects.filter(pk=ann.pk).exists()  # a GET changes nothing
    response = marketer_client.post(url)
    assert response["Location"] == reverse("ui:contacts")
    assert not Contact.objects.filter(pk=ann.pk).exists()
    row = Message.objects.get()
    assert (row.phone, row.text, row.contact_id, row.state) == ("", "", None, "delivered")
    entry = AuditEntry.objects.get(action="contact_erase")
    assert entry.actor_name == "mia"
    assert "7946000011" not in entry.detail


def test_a_contact_being_sent_to_is_not_erased_and_the_page_says_why(
    marketer, marketer_client, ann
) -> None:
    marketer.user_permissions.add(Permission.objects.get(codename="delete_contact"))
    Message.objects.update(state="queued")
    response = marketer_client.post(reverse("ui:contact_erase", args=[ann.pk]), follow=True)
    assert "messages being sent" in response.content.decode()
    assert Contact.objects.filter(pk=ann.pk).exists()


def test_the_admin_erases_only_after_the_confirmation_and_exports_evidence(
    admin_client, ann
) -> None:
    url = reverse("admin:contacts_contact_changelist")
    chosen = {"action": "erase_contacts", "_selected_action": [ann.pk]}
    first = admin_client.post(url, chosen)
    assert first.status_code == 200
    assert "cannot be undone" in first.content.decode()
    assert Contact.objects.filter(pk=ann.pk).exists()
    exported = admin_client.post(url, {"action": "export_evidence", "_selected_action": [ann.pk]})
    assert json.loads(exported.content)[0]["contact"]["phone"] == PHONE
    admin_client.post(url, chosen | {"confirm": "yes"})
    assert not Contact.objects.exists()
    assert AuditEntry.objects.filter(action="contact_erase", actor_name="admin").count() == 1
