"""The contacts table's indexes: no varchar_pattern_ops twins (issue 18)."""

import pytest
from django.db import IntegrityError, connection, transaction

from contacts.models import Contact

pytestmark = pytest.mark.django_db


def test_contacts_have_six_indexes_and_no_like_twins() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'contacts_contact'"
        )
        found = dict(cursor.fetchall())
    assert [name for name, sql in found.items() if "pattern_ops" in sql] == []
    assert set(found) == {
        "contacts_contact_pkey",
        "contacts_contact_phone_key",
        "contact_language_idx",
        "contact_country_idx",
        "contacts_contact_opted_out_563918c2",
        # Date triggers (migration 0007): partial, so a contact without a date value in its
        # attributes writes no entry in it.
        "contact_month_days",
    }
    assert "WHERE (contacts_month_days(attributes) <> '{}'::text[])" in found["contact_month_days"]


def test_the_phone_stays_unique() -> None:
    Contact.objects.create(phone="+447400100001")
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(phone="+447400100001")
