"""The import's SQL (COPY into a temporary table, INSERT … ON CONFLICT) and the admin's planner
estimate for large tables."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts.bulk import upsert_contacts
from contacts.models import Contact
from core.paginator import LargeTablePaginator
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_upsert_updates_a_number_that_appeared_meanwhile_and_keeps_its_consent() -> None:
    # Someone else inserted the number (and it said STOP) between our read and our write.
    other = ContactFactory(phone="+447400123456", first_name="Theirs", opted_out=True)
    ids = upsert_contacts(
        [
            {
                "phone": "+447400123456",
                "first_name": "Ours",
                "last_name": "",
                "language": "",
                "timezone": "",
                "country": "GB",
                "attributes": {"k": "v"},
            },
            {
                "phone": "+447400123457",
                "first_name": "New",
                "last_name": "",
                "language": "",
                "timezone": "",
                "country": "GB",
                "attributes": {},
            },
        ]
    )
    assert ids["+447400123456"] == other.pk
    other.refresh_from_db()
    assert (other.first_name, other.attributes, other.opted_out) == ("Ours", {"k": "v"}, True)
    new = Contact.objects.get(pk=ids["+447400123457"])
    assert (new.opted_out, new.opted_out_source, new.created_at is not None) == (False, "", True)


def test_unfiltered_changelist_uses_the_planner_estimate(admin_client, monkeypatch) -> None:
    ContactFactory.create_batch(3)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")
    monkeypatch.setattr(LargeTablePaginator, "ESTIMATE_ABOVE", 0)
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(reverse("admin:contacts_contact_changelist"))
    assert response.context["cl"].result_count == 3
    sql = [q["sql"] for q in queries.captured_queries]
    assert any("reltuples" in s for s in sql)
    assert not any("COUNT(*)" in s and "contacts_contact" in s for s in sql)
    filtered = admin_client.get(reverse("admin:contacts_contact_changelist") + "?q=zzz")
    assert filtered.context["cl"].result_count == 0  # filtered lists count for real
