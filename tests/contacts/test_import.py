"""Importing contacts: formats, validation, duplicates, idempotence, dry run, errors file."""

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from contacts.models import ConsentEvent, Contact, ContactList, ListMembership
from contacts.services import contacts_import
from tests.factories import ContactFactory, ContactListFactory, OptedOutContactFactory

pytestmark = pytest.mark.django_db

HEADER = ["phone", "first_name", "last_name", "language", "timezone", "opted_out"]


def test_national_and_international_formats_of_several_regions(write_csv, run_import) -> None:
    path = write_csv([
        HEADER,
        ["07400 123456", "Alice", "", "", "", ""],          # GB national (default region)
        ["+49 151 23456789", "Bernd", "", "de", "", ""],    # DE international
        ["0049 151 23456780", "Carla", "", "de", "", ""],   # DE with 00 prefix
        ["+1 (212) 555-0147", "Dan", "", "", "", ""],       # US
        ["+33 6 12 34 56 78", "Élodie", "", "fr", "", ""],  # FR
        ["+91 98765 43210", "Priya", "", "hi", "", ""],     # IN
        ["+55 11 98765-4321", "João", "", "pt-BR", "", ""], # BR
    ])  # fmt: skip
    run = run_import(path, "--default-region", "GB")
    assert (run["created"], run["updated"], run["rejected"], run["warnings"]) == (7, 0, 0, 0)
    stored = {c.phone: (c.first_name, c.country, c.timezone) for c in Contact.objects.all()}
    assert stored == {
        "+447400123456": ("Alice", "GB", ""),  # UK mobiles are not tied to one zone
        "+4915123456789": ("Bernd", "DE", "Europe/Berlin"),
        "+4915123456780": ("Carla", "DE", "Europe/Berlin"),
        "+12125550147": ("Dan", "US", "America/New_York"),
        "+33612345678": ("Élodie", "FR", "Europe/Paris"),
        "+919876543210": ("Priya", "IN", "Asia/Calcutta"),
        "+5511987654321": ("João", "BR", "America/Sao_Paulo"),
    }


@pytest.mark.parametrize("region", [None, "GB"])
def test_infobip_format_and_00_numbers_import_with_or_without_a_region(
    write_csv, run_import, region
) -> None:
    path = write_csv([
        ["phone", "first_name"],
        ["41793026727", "Infobip"],      # Infobip's own format: digits without +
        ["0041 79 302 67 28", "Zero"],   # 00 prefix
        ["4915123456789", "Digits"],     # a German mobile, Infobip format
        ["+447400123456", "Plus"],
    ])  # fmt: skip
    run = run_import(path, *(["--default-region", region] if region else []))
    assert (run["created"], run["rejected"]) == (4, 0)
    assert set(Contact.objects.values_list("phone", "first_name")) == {
        ("+41793026727", "Infobip"),
        ("+41793026728", "Zero"),
        ("+4915123456789", "Digits"),
        ("+447400123456", "Plus"),
    }
    if region == "GB":
        # Not a GB number: the row says which reading was taken.
        assert "row 2: warning: '41793026727': INTERNATIONAL_DIGITS" in run.stderr


def test_a_number_valid_both_ways_imports_with_the_reading_in_its_warning(write_csv, run_import):
    path = write_csv([["phone"], ["16027335231"]])
    run = run_import(path, "--default-region", "DE")
    assert (run["created"], run["warnings"]) == (1, 1)
    assert Contact.objects.get().phone == "+4916027335231"
    assert (
        "row 2: warning: '16027335231': AMBIGUOUS_NUMBER: read as a national DE number "
        "+4916027335231; the other reading is +16027335231"
    ) in run.stderr


def test_other_default_region_reads_national_numbers_of_that_country(write_csv, run_import):
    path = write_csv([["phone"], ["0151 23456789"], ["+44 7400 123456"], ["0151 234"]])
    run = run_import(path, "--default-region", "DE")
    assert (run["created"], run["rejected"]) == (2, 1)
    assert set(Contact.objects.values_list("phone", "country")) == {
        ("+4915123456789", "DE"),
        ("+447400123456", "GB"),
    }


def test_invalid_numbers_rejected_landlines_imported_with_warning(write_csv, run_import) -> None:
    path = write_csv([
        ["phone", "first_name"],
        ["020 7946 0018", "Landline"],
        ["0800 123 4567", "Freephone"],
        ["+44 74", "Short"],
        ["call me", "Words"],
        ["", "Nobody"],
    ])  # fmt: skip
    run = run_import(path, "--default-region", "GB")
    assert (run["created"], run["rejected"], run["warnings"]) == (1, 4, 1)
    assert Contact.objects.get().phone == "+442079460018"
    assert "row 2: warning: '020 7946 0018': LANDLINE" in run.stderr
    for line in (
        "row 3: rejected: '0800 123 4567': NOT_MOBILE: toll-free number",
        "row 4: rejected: '+44 74': TOO_SHORT",
        "row 5: rejected: 'call me': NOT_A_NUMBER",
        "row 6: rejected: '': MISSING_PHONE",
    ):
        assert line in run.stderr


def test_duplicates_in_the_file_make_one_contact_later_cells_win(write_csv, run_import) -> None:
    path = write_csv([
        ["phone", "first_name", "last_name", "tier"],
        ["+447400123456", "Al", "Smith", "gold"],
        ["07400 123456", "Alice", "", ""],
        ["+44 7400 123456", "", "Smith-Jones", ""],
    ])  # fmt: skip
    run = run_import(path, "--default-region", "GB")
    assert (run["created"], run["duplicates"], run["warnings"]) == (1, 2, 2)
    contact = Contact.objects.get()
    assert (contact.first_name, contact.last_name) == ("Alice", "Smith-Jones")
    assert contact.attributes == {"tier": "gold"}
    assert "row 3: warning: '07400 123456': DUPLICATE: same number as row 2; merged" in run.stderr


def test_number_already_in_the_database_updates_that_contact(write_csv, run_import) -> None:
    existing = ContactFactory(
        phone="+447400123456",
        first_name="Old",
        last_name="Name",
        language="en",
        attributes={"tier": "gold", "city": "Leeds"},
    )
    created_at = existing.created_at
    path = write_csv(
        [["phone", "first_name", "last_name", "city"], ["07400123456", "New", "", "York"]]
    )
    run = run_import(path, "--default-region", "GB")
    assert (run["created"], run["updated"], run["unchanged"]) == (0, 1, 0)
    existing.refresh_from_db()
    # Empty cells keep stored values; attributes merge.
    assert (existing.first_name, existing.last_name, existing.language) == ("New", "Name", "en")
    assert existing.attributes == {"tier": "gold", "city": "York"}
    assert existing.created_at == created_at
    assert Contact.objects.count() == 1


def test_reimporting_the_same_file_changes_nothing(write_csv, run_import) -> None:
    path = write_csv([
        ["phone", "first_name", "opted_out", "tier"],
        ["+447400123456", "Alice", "yes", "gold"],
        ["07400 123457", "Bob", "", ""],
        ["07400 123457", "Robert", "", "silver"],
    ])  # fmt: skip
    first = run_import(path, "--default-region", "GB", "--list", "Promo")
    assert (first["created"], first["opted_out"], first["listed"]) == (2, 1, 2)
    before = list(Contact.objects.order_by("pk").values())
    events = ConsentEvent.objects.count()
    second = run_import(path, "--default-region", "GB", "--list", "Promo")
    assert second.counts | {"warnings": "-"} == {
        "created": "0",
        "updated": "0",
        "rejected": "0",
        "warnings": "-",
        "unchanged": "2",
        "duplicates": "1",
        "blank": "0",
        "opted_out": "0",
        "consented": "0",
        "listed": "0",
        "rows": "3",
    }
    assert list(Contact.objects.order_by("pk").values()) == before  # not even updated_at moved
    assert ConsentEvent.objects.count() == events
    assert ListMembership.objects.count() == 2


def test_duplicates_across_batches_count_the_same_and_reimport_stays_a_noop(
    write_csv, run_import
) -> None:
    rows = [["phone", "first_name", "city"]]
    for i in range(12):
        rows.append([f"+4474001234{i:02d}", f"Name{i}", ""])
    rows.append(["+44 7400 123401", "Renamed", "Paris"])  # row 3's number, three batches on
    rows.append(["+447400123402", "", "Rome"])  # duplicate of row 4
    path = write_csv(rows)
    whole = run_import(path, "--dry-run")  # one batch
    small = run_import(path, "--batch-size", "4")
    assert (small["created"], small["duplicates"], small["rows"]) == (12, 2, 14)
    assert small.counts == {key: value for key, value in whole.counts.items() if key != "dry_run"}
    assert Contact.objects.get(phone="+447400123401").first_name == "Renamed"
    assert Contact.objects.get(phone="+447400123402").attributes == {"city": "Rome"}
    again = run_import(path, "--batch-size", "4")
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 12)


def test_dry_run_reports_the_same_counts_and_writes_nothing(write_csv, run_import) -> None:
    OptedOutContactFactory(phone="+447400123499")
    ContactFactory(
        phone="+447400123498",
        first_name="Same",
        last_name="",
        language="en",
        timezone="",
        attributes={},
    )
    path = write_csv([
        ["phone", "first_name", "last_name", "language", "opted_out"],
        ["+447400123456", "New", "", "", "yes"],
        ["+447400123498", "Same", "", "en", ""],
        ["+447400123499", "Changed", "", "", "no"],
        ["bad", "", "", "", ""],
        ["+447400123456", "Dup", "", "", ""],
    ])  # fmt: skip
    errors = path.with_name("errors.csv")
    dry = run_import(path, "--dry-run", "--list", "New list", "--errors", str(errors))
    assert dry.stdout.strip().endswith("dry_run=true")
    assert Contact.objects.count() == 2
    assert not ContactList.objects.exists()
    assert ConsentEvent.objects.count() == 0
    assert errors.read_text().splitlines()[1].startswith("5,NOT_A_NUMBER")  # a report, written
    real = run_import(path, "--list", "New list")
    assert real.counts == {key: value for key, value in dry.counts.items() if key != "dry_run"}
    assert dry.counts == dict(
        dry.counts,
        created="1",
        updated="1",
        unchanged="1",
        rejected="1",
        duplicates="1",
        opted_out="1",
        consented="0",
        listed="3",
    )


def test_errors_file_has_row_number_reason_and_original_cells(write_csv, run_import) -> None:
    path = write_csv(
        [
            ["Phone", "First Name", "Tier"],
            ["+447400123456", "Ok", "gold"],
            ["0800 123 4567", "Free, phone", ""],
            ["+44 7400 1234567890", "Long", "x"],
            ["", "No phone"],
        ]
    )
    errors = path.with_name("rejected.csv")
    run = run_import(path, "--default-region", "GB", "--errors", str(errors))
    assert run["rejected"] == 3
    with errors.open(newline="", encoding="utf-8") as fh:
        assert list(csv.reader(fh)) == [
            ["row", "reason", "Phone", "First Name", "Tier"],
            ["3", "NOT_MOBILE: toll-free number", "0800 123 4567", "Free, phone", ""],
            ["4", "TOO_LONG: too long", "+44 7400 1234567890", "Long", "x"],
            ["5", "MISSING_PHONE: no phone number", "", "No phone"],
        ]


def test_opted_out_column_opts_out_but_never_opts_back_in(write_csv, run_import) -> None:
    stopped = OptedOutContactFactory(phone="+447400123450", opted_out_source="keyword")
    path = write_csv([
        ["phone", "opted_out"],
        ["+447400123451", "yes"],
        ["+447400123452", "TRUE"],
        ["+447400123453", "1"],
        ["+447400123454", "no"],
        ["+447400123455", ""],
        ["+447400123450", "false"],  # said STOP before: an import must not undo it
        ["+447400123456", "maybe"],
    ])  # fmt: skip
    run = run_import(path)
    assert (run["opted_out"], run["warnings"]) == (3, 1)
    assert "BAD_OPTED_OUT: 'maybe' is not yes/no; ignored" in run.stderr
    opted = set(Contact.objects.filter(opted_out=True).values_list("phone", flat=True))
    assert opted == {"+447400123450", "+447400123451", "+447400123452", "+447400123453"}
    stopped.refresh_from_db()
    assert stopped.opted_out_source == "keyword"
    events = ConsentEvent.objects.filter(source="import", action="opt_out")
    assert sorted(events.values_list("contact__phone", flat=True)) == [
        "+447400123451",
        "+447400123452",
        "+447400123453",
    ]
    assert all(event.note.startswith("import ") for event in events)


def test_columns_are_normalised_and_extra_columns_become_attributes(write_csv, run_import):
    path = write_csv(
        [
            ["Mobile", "First Name", "Surname", "Loyalty Tier", "customerId", "Country", ""],
            ["+447400123456", "Ann", "Lee", "gold", "C-42", "ignored", ""],
        ]
    )
    run = run_import(path)
    assert run["created"] == 1
    assert "note: column 7 has no name: ignored" in run.stderr
    contact = Contact.objects.get()
    assert (contact.first_name, contact.last_name, contact.country) == ("Ann", "Lee", "GB")
    assert contact.attributes == {"loyalty_tier": "gold", "customer_id": "C-42"}
    assert contact.placeholder_values()["loyalty_tier"] == "gold"


def test_timezone_explicit_invalid_or_derived(write_csv, run_import) -> None:
    ContactFactory(phone="+4915123456780", timezone="Europe/Vienna")
    path = write_csv([
        ["phone", "timezone", "language"],
        ["+61412345678", "Australia/Perth", "en-AU"],
        ["+4915123456789", "Mars/Olympus", "deutsch!"],
        ["+4915123456780", "", ""],  # keeps the zone it has rather than the derived one
    ])  # fmt: skip
    run = run_import(path)
    assert run["warnings"] == 2
    zones = dict(Contact.objects.values_list("phone", "timezone"))
    assert zones == {
        "+61412345678": "Australia/Perth",
        "+4915123456789": "Europe/Berlin",
        "+4915123456780": "Europe/Vienna",
    }
    assert Contact.objects.get(phone="+61412345678").language == "en-AU"
    assert Contact.objects.get(phone="+4915123456789").language == ""


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_and_bom_are_detected(write_csv, run_import, delimiter) -> None:
    path = write_csv([["phone", "first_name", "note"],
                      ["+447400123456", "Ann", "a, b; c"],
                      ["+447400123457", "Ben", ""]], delimiter=delimiter, bom=True)  # fmt: skip
    run = run_import(path, "--json")
    result = json.loads(run.stdout)
    assert (result["created"], result["delimiter"]) == (2, delimiter)
    assert Contact.objects.get(first_name="Ann").attributes == {"note": "a, b; c"}


def test_list_option_creates_the_list_and_adds_every_valid_contact(write_csv, run_import):
    ContactListFactory(name="Other")
    on_list = ContactFactory(phone="+447400123456", lists=[ContactListFactory(name="VIP")])
    path = write_csv([["phone"], ["+447400123456"], ["+447400123457"], ["nope"]])
    run = run_import(path, "--list", "VIP")
    assert run["listed"] == 1
    vip = ContactList.objects.get(name="VIP")
    assert set(vip.contacts.values_list("phone", flat=True)) == {on_list.phone, "+447400123457"}


def test_service_accepts_uploaded_file_objects_and_reports_progress() -> None:
    data = b"phone,first_name\n+447400123456,Ann\n+447400123457,Ben\n+447400123458,Cy\n"
    calls = []
    result = contacts_import(
        source=io.BytesIO(data),
        batch_size=2,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert result.created == 3
    assert calls == [(2, 3), (3, 3)]

    class Stream(io.RawIOBase):  # a non-seekable upload stream
        def __init__(self) -> None:
            self.inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            chunk = self.inner.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    assert contacts_import(source=io.BufferedReader(Stream())).unchanged == 3
    upload = SimpleUploadedFile("upload.csv", data + b"+447400123459,Di\n")
    result = contacts_import(source=upload, source_name=upload.name)
    assert (result.created, result.unchanged) == (1, 3)


def test_json_output_has_the_counts_and_samples(write_csv) -> None:
    path = write_csv([["phone"], ["+447400123456"], ["bad"]])
    out = io.StringIO()
    call_command("import_contacts", str(path), "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert (result["created"], result["rejected"]) == (1, 1)
    assert result["rejected_sample"] == [
        {"row": 3, "phone": "bad", "reason": "NOT_A_NUMBER: not a phone number"}
    ]


def test_number_whose_last_row_is_rejected_is_still_imported(write_csv, run_import) -> None:
    # Same digits, so the validation pass expects row 3 to be the number's last row, but the
    # letters make row 3 invalid: the contact waiting for it is written at the end of the file.
    path = write_csv(
        [
            ["phone", "first_name"],
            ["+44 7400 123456", "Ann"],
            ["+44 7400 123456 (mobile)", "Ann"],
            ["+447400123457", "Ben"],
        ]
    )
    run = run_import(path, "--batch-size", "1")
    assert (run["created"], run["rejected"], run["duplicates"]) == (2, 1, 0)
    assert Contact.objects.get(phone="+447400123456").first_name == "Ann"
