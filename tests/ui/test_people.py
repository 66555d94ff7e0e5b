"""Contacts and lists edited in the browser, through the test client."""

import pytest
from django.urls import reverse

from campaigns.services import campaign_create
from contacts.models import ConsentEvent, Contact, ContactList
from tests.ui.conftest import make_audience

pytestmark = pytest.mark.django_db


def test_add_edit_delete_a_contact(marketer_client):
    spring = ContactList.objects.create(name="Spring")
    response = marketer_client.post(
        reverse("ui:contact_new"),
        {
            "phone": "07946 000123",
            "default_region": "gb",
            "first_name": "Zoë",
            "lists": [spring.pk],
        },
    )
    contact = Contact.objects.get()
    assert response["Location"] == reverse("ui:contact", args=[contact.pk])
    assert (contact.phone, contact.first_name, contact.country) == ("+447946000123", "Zoë", "GB")
    assert list(contact.lists.all()) == [spring]

    again = marketer_client.post(reverse("ui:contact_new"), {"phone": "+447946000123"})
    assert again.status_code == 400
    assert b"+447946000123 is already a contact" in again.content
    assert b'value="+447946000123"' in again.content  # what was typed stays

    bad = marketer_client.post(
        reverse("ui:contact_edit", args=[contact.pk]),
        {"phone": "12", "first_name": "Z" * 151, "timezone": "Mars/Olympus"},
    )
    assert bad.status_code == 400
    page = bad.content.decode()
    assert 'id="err-phone"' in page
    assert "At most 150 characters" in page
    assert "is not a time zone" in page
    contact.refresh_from_db()
    assert contact.first_name == "Zoë"

    ok = marketer_client.post(
        reverse("ui:contact_edit", args=[contact.pk]),
        {
            "phone": "+447946000124",
            "first_name": "Zoe",
            "language": "en",
            "timezone": "Europe/Paris",
        },
    )
    assert ok.status_code == 302
    contact.refresh_from_db()
    assert (contact.phone, contact.first_name, contact.timezone) == (
        "+447946000124",
        "Zoe",
        "Europe/Paris",
    )

    marketer_client.post(reverse("ui:contact_delete", args=[contact.pk]))
    assert not Contact.objects.exists()
    assert ContactList.objects.filter(pk=spring.pk).exists()


def test_search_ignores_accents_and_finds_national_formats(marketer_client):
    make_audience(2)
    Contact.objects.filter(phone="+447946000001").update(first_name="José")
    page = marketer_client.get(reverse("ui:contacts"), {"q": "jose"}).content.decode()
    assert "+447946000001" in page
    assert "+447946000000" not in page
    page = marketer_client.get(reverse("ui:contacts"), {"q": "JOSÉ"}).content.decode()
    assert "+447946000001" in page
    page = marketer_client.get(reverse("ui:contacts"), {"q": "07946 000000"}).content.decode()
    assert "+447946000000" in page
    assert "+447946000001" not in page
    assert marketer_client.get(reverse("ui:contacts"), {"q": "[(*" * 50}).status_code == 200


def test_bulk_actions_act_on_the_whole_search(marketer_client):
    make_audience(3)
    target = ContactList.objects.create(name="Target")
    Contact.objects.filter(phone="+447946000002").update(first_name="Other")
    response = marketer_client.post(
        reverse("ui:contacts_bulk"),
        {"q": "ann", "action": "add_to_list", "target_list": target.pk, "querystring": "q=ann"},
    )
    assert response["Location"] == reverse("ui:contacts") + "?q=ann"
    assert sorted(target.contacts.values_list("phone", flat=True)) == [
        "+447946000000",
        "+447946000001",
    ]
    marketer_client.post(
        reverse("ui:contacts_bulk"),
        {"q": "+447946000001", "action": "remove_from_list", "target_list": target.pk},
    )
    assert list(target.contacts.values_list("phone", flat=True)) == ["+447946000000"]
    marketer_client.post(reverse("ui:contacts_bulk"), {"list": target.pk, "action": "opt_out"})
    assert list(Contact.objects.filter(opted_out=True).values_list("phone", flat=True)) == [
        "+447946000000"
    ]
    assert ConsentEvent.objects.count() == 1
    refused = marketer_client.post(reverse("ui:contacts_bulk"), {"action": "explode"})
    assert refused.status_code == 302


def test_list_detail_rename_and_delete(marketer_client):
    audience = make_audience(2)
    ContactList.objects.create(name="Taken")
    page = marketer_client.get(reverse("ui:list", args=[audience.pk])).content.decode()
    assert "+447946000001" in page
    assert "2 members, 2 subscribed" in page
    clash = marketer_client.post(reverse("ui:list", args=[audience.pk]), {"name": "Taken"})
    assert clash.status_code == 400
    assert "already exists" in clash.content.decode()
    marketer_client.post(
        reverse("ui:list", args=[audience.pk]), {"name": "Renamed", "description": "d"}
    )
    audience.refresh_from_db()
    assert audience.name == "Renamed"

    campaign = campaign_create(name="Uses it", channel="sms", lists=[audience], text="Hi")
    marketer_client.post(reverse("ui:list_delete", args=[audience.pk]))
    assert ContactList.objects.filter(pk=audience.pk).exists()
    campaign.delete()
    response = marketer_client.post(reverse("ui:list_delete", args=[audience.pk]))
    assert response["Location"] == reverse("ui:lists")
    assert not ContactList.objects.filter(pk=audience.pk).exists()
    assert Contact.objects.count() == 2


def test_import_counts_in_file_duplicates_and_takes_the_command_options(
    marketer_client, settings, tmp_path, django_capture_on_commit_callbacks
):
    import io

    from ui.models import ImportJob

    settings.MEDIA_ROOT = tmp_path
    upload = io.BytesIO(
        b"phone,first_name\n07946 012345,Ann\n+447946012345,Ann B\n+447946012399,Bob\n"
    )
    upload.name = "dupes.csv"
    options = {"default_region": "gb", "allow_sequential": "1"}
    mapping = marketer_client.post(reverse("ui:contact_import"), {"file": upload, **options})
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.post(mapping["Location"], options)
    job = ImportJob.objects.get()
    assert job.allow_sequential
    assert job.default_region == "GB"
    assert (job.created, job.summary["duplicates"]) == (2, 1)
    page = marketer_client.get(response["Location"]).content.decode()
    assert 'id="import-duplicates">1<' in page
    assert "1 row repeated a number already in this file" in page

    bad = io.BytesIO(b"phone\n+447946012345\n")
    bad.name = "x.csv"
    # A bad option is refused on the mapping step, and the file is kept there.
    step = marketer_client.post(reverse("ui:contact_import"), {"file": bad, "default_region": "ZZ"})
    refused = marketer_client.get(step["Location"])
    assert refused.status_code == 400
    assert "not a country code" in refused.content.decode()
    assert '<strong id="import-file">x.csv</strong>' in refused.content.decode()
    refused = marketer_client.post(step["Location"], {"default_region": "ZZ"})
    assert "not a country code" in refused.content.decode()
    assert ImportJob.objects.get(original_name="x.csv").status == "mapping"
