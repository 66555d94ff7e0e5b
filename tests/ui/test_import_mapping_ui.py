"""The browser import's mapping step: the sample, the suggestion, changes, refusals that keep the
file, and the result (consent with the importer as evidence, typed attributes)."""

import io

import pytest
from django.urls import reverse

from contacts.models import AttributeDefinition, ConsentEvent, Contact
from ui.models import ImportJob

pytestmark = pytest.mark.django_db

# As Excel on Windows saves "CSV": Windows-1252, semicolons.
FILE = (
    "Mobile;Prénom;Newsletter;Total spent;Client since\r\n"
    "+447946000101;Renée;oui;1 234,50;31/12/2019\r\n"
    "+447946000102;Zoé;no;12;01/02/2024\r\n"
).encode("windows-1252")


@pytest.fixture
def uploaded(marketer_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = io.BytesIO(FILE)
    upload.name = "export.csv"
    response = marketer_client.post(reverse("ui:contact_import"), {"file": upload})
    return ImportJob.objects.get(), response["Location"]


def test_the_step_shows_the_file_as_read_and_a_suggestion(marketer_client, uploaded) -> None:
    job, url = uploaded
    assert url == reverse("ui:import_mapping", args=[job.pk])
    body = marketer_client.get(url).content.decode()
    assert '<strong id="import-encoding">windows-1252</strong>' in body
    assert "<span>Renée</span>" in body  # the sample, decoded
    assert 'name="col-0-target"' in body
    assert '<option value="phone" selected>' in body  # Mobile
    assert '<option value="attr:number" selected>' in body  # Total spent
    assert '<option value="attr:date" selected>' in body  # Client since, day first
    assert '<option value="dmy" selected>' in body


def test_a_refused_mapping_keeps_the_file_and_says_why(marketer_client, uploaded) -> None:
    job, url = uploaded
    response = marketer_client.post(url, {"col-0-target": "ignore"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "No phone column" in body
    assert '<strong id="import-file">export.csv</strong>' in body
    job.refresh_from_db()
    assert job.status == "mapping"  # still there, still waiting for a mapping that works


def test_every_row_carries_the_inputs_its_targets_use(marketer_client, uploaded) -> None:
    _job, url = uploaded
    body = marketer_client.get(url).content.decode()
    # Shown by the stylesheet when the target uses them: nothing is lost switching targets.
    assert 'name="col-2-channel"' in body
    assert 'name="col-3-key" value="total_spent"' in body
    assert 'name="col-4-order"' in body


def test_the_mapped_import_honours_consent_and_types(
    marketer_client, marketer, uploaded, django_capture_on_commit_callbacks
) -> None:
    job, url = uploaded
    form = {
        "col-1-target": "first_name",
        "col-2-target": "consent",
        "col-2-channel": "sms",
        "col-3-target": "attr:number",
        "col-3-key": "lifetime_value",
        "col-4-target": "attr:date",
        "col-4-key": "customer_since",
        "col-4-order": "dmy",
        "list_name": "Shop",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.post(url, form)
    assert response["Location"] == reverse("ui:import", args=[job.pk])
    job.refresh_from_db()
    assert (job.status, job.created, job.encoding) == ("done", 2, "windows-1252")
    renee = Contact.objects.get(phone="+447946000101")
    assert renee.first_name == "Renée"
    assert renee.attributes == {"lifetime_value": "1234.50", "customer_since": "2019-12-31"}
    assert renee.opted_out is False
    assert Contact.objects.get(phone="+447946000102").opted_out is True  # "no" is not Subscribed
    events = {e.contact.phone: e for e in ConsentEvent.objects.all()}
    assert (events["+447946000101"].action, events["+447946000101"].channel) == ("opt_in", "sms")
    assert events["+447946000102"].action == "opt_out"
    assert {e.actor for e in events.values()} == {marketer}
    assert events["+447946000101"].note == "import export.csv row 2: Newsletter=oui"
    assert dict(AttributeDefinition.objects.values_list("key", "type")) == {
        "lifetime_value": "number",
        "customer_since": "date",
    }
    page = marketer_client.get(reverse("ui:import", args=[job.pk])).content.decode()
    assert 'id="import-created">2<' in page


def test_the_admin_shows_who_imported_what_with_which_mapping(
    marketer_client, uploaded, admin_client, django_capture_on_commit_callbacks
) -> None:
    job, url = uploaded
    with django_capture_on_commit_callbacks(execute=True):
        marketer_client.post(url, {"col-3-target": "attr:number", "col-3-key": "spend"})
    listing = admin_client.get(reverse("admin:ui_importjob_changelist")).content.decode()
    assert "export.csv" in listing
    assert "windows-1252" in listing
    page = admin_client.get(reverse("admin:ui_importjob_change", args=[job.pk])).content.decode()
    assert "&quot;key&quot;: &quot;spend&quot;" in page
    assert "mia" in page  # who imported
