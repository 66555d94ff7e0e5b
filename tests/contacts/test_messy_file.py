"""The acceptance file: a messy real-world-like CSV gives exactly the expected outcome.

tests/contacts/fixtures/messy_contacts.csv has a UTF-8 BOM, CRLF line ends, a trailing unnamed
column, national and international numbers of eight countries, duplicates in two formats,
blank rows, a landline, six kinds of bad number, a row without a phone, bad timezone and
opted_out values, and opt-outs. Three of its numbers are in the database already.
"""

import shutil

import pytest
from django.urls import reverse

from contacts.models import ConsentEvent, Contact, ContactList
from tests.contacts.conftest import FIXTURES
from tests.factories import ContactFactory, OptedOutContactFactory

pytestmark = pytest.mark.django_db

EXPECTED = {
    "created": "10",
    "updated": "1",
    "rejected": "7",
    "warnings": "5",
    "unchanged": "2",
    "duplicates": "2",
    "blank": "2",
    "opted_out": "2",
    "consented": "0",
    "listed": "13",
    "rows": "24",
}


@pytest.fixture
def already_known():
    ContactFactory(
        phone="+4915123456789",
        first_name="Eve",
        last_name="Müller",
        language="de",
        timezone="Europe/Berlin",
        country="DE",
        attributes={},
    )
    ContactFactory(
        phone="+919876543210",
        first_name="Priya",
        last_name="Patel",
        language="hi",
        timezone="Asia/Calcutta",
        country="IN",
        attributes={},
    )
    OptedOutContactFactory(
        phone="+61412345678",
        first_name="Liam",
        last_name="",
        language="",
        timezone="Australia/Sydney",
        country="AU",
        attributes={},
    )


def test_messy_file_gives_exactly_the_expected_counts_and_errors_file(
    already_known, run_import, tmp_path
) -> None:
    source = shutil.copy(FIXTURES / "messy_contacts.csv", tmp_path / "messy.csv")
    errors = tmp_path / "errors.csv"
    args = ("--default-region", "GB", "--list", "Spring promo", "--errors", str(errors))
    run = run_import(source, *args)
    assert run.counts == EXPECTED
    assert errors.read_bytes() == (FIXTURES / "messy_contacts.errors.csv").read_bytes()
    for warning in (
        "row 6: warning: '020 7946 0018': LANDLINE",
        "row 8: warning: '07400123456': DUPLICATE: same number as row 2; merged",
        "row 21: warning: '+7 916 123-45-67': BAD_TIMEZONE: unknown timezone 'Mars/Olympus'",
        "row 22: warning: '+44 7400 123457': DUPLICATE: same number as row 3; merged",
        "row 23: warning: '+2348031234567': BAD_OPTED_OUT: 'maybe' is not yes/no; ignored",
    ):
        assert warning in run.stderr

    contacts = {c.phone: c for c in Contact.objects.all()}
    assert len(contacts) == 13
    alice, robert = contacts["+447400123456"], contacts["+447400123457"]
    assert (alice.first_name, alice.last_name, alice.language) == ("Alice", "Smith-Jones", "en")
    assert alice.attributes == {"email": "alice@example.com", "loyalty_tier": "gold"}
    assert (robert.first_name, robert.last_name, robert.language) == ("Robert", "Jones", "en-GB")
    assert robert.attributes == {"email": "bob@example.com", "loyalty_tier": "platinum"}
    assert contacts["+4915123456789"].first_name == "Eva"
    assert contacts["+447400123460"].last_name == "Lee, Jr."
    assert contacts["+79161234567"].timezone == ""  # bad value dropped, Russia is ambiguous
    assert contacts["+12125550147"].timezone == "America/New_York"
    assert {p for p, c in contacts.items() if c.opted_out} == {
        "+33612345678",
        "+447400123460",
        "+61412345678",  # Liam said STOP before; "no" keeps it
    }
    assert set(ConsentEvent.objects.values_list("contact__phone", "source")) == {
        ("+33612345678", "import"),
        ("+447400123460", "import"),
    }
    assert ContactList.objects.get(name="Spring promo").contacts.count() == 13

    again = run_import(source, *args)
    assert again.counts == EXPECTED | {
        "created": "0",
        "updated": "0",
        "unchanged": "13",
        "opted_out": "0",
        "listed": "0",
    }


def test_admin_shows_the_imported_contacts_with_their_consent_history(
    already_known, run_import, tmp_path, admin_client
) -> None:
    run_import(FIXTURES / "messy_contacts.csv", "--default-region", "GB")
    response = admin_client.get(
        reverse("admin:contacts_contact_changelist") + "?opted_out__exact=1"
    )
    assert {c.phone for c in response.context["cl"].result_list} == {
        "+33612345678",
        "+447400123460",
        "+61412345678",
    }
    francois = Contact.objects.get(phone="+33612345678")
    page = admin_client.get(reverse("admin:contacts_contact_change", args=[francois.pk]))
    consent = next(f for f in page.context["inline_admin_formsets"] if f.opts.model is ConsentEvent)
    # The evidence: the file, the row and the cell that said so.
    assert [(f.original.action, f.original.source, f.original.note) for f in consent] == [
        ("opt_out", "import", "import messy_contacts.csv row 10: opted_out=yes")
    ]
