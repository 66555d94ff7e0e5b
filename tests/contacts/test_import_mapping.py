"""The import's column mapping: encodings detected, consent honoured with evidence, typed
attributes declared and normalised, `--map` and `--show-mapping` on the command line."""

import datetime as dt
import io
import json

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from contacts.mapping import Column, consent_of, mapping_suggest
from contacts.models import AttributeDefinition, ConsentEvent, Contact
from contacts.services import contact_opt_out, contacts_import

pytestmark = pytest.mark.django_db

TEXT = "phone,first_name,city\n+447400123456,Zoë,Kraków\n+447400123457,Łukasz,Zürich\n"


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("utf-8", TEXT.encode("utf-8")),
        ("utf-8", b"\xef\xbb\xbf" + TEXT.encode("utf-8")),
        ("utf-16", TEXT.encode("utf-16")),  # with its byte-order mark (Excel's "Unicode text")
        ("utf-16-le", TEXT.encode("utf-16-le")),
        ("utf-16-be", TEXT.encode("utf-16-be")),
    ],
)
def test_utf8_and_utf16_files_are_read_as_what_they_are(write_csv, run_import, encoding, data):
    run = run_import(write_csv(data), "--json")
    assert run.counts["encoding"] == encoding
    assert run["created"] == 2
    assert Contact.objects.get(phone="+447400123456").first_name == "Zoë"
    assert Contact.objects.get(phone="+447400123457").attributes == {"city": "Zürich"}


def test_a_windows_1252_file_is_detected_not_refused(write_csv, run_import) -> None:
    text = "phone,first_name,note\n+447400123456,Renée,“quoted” – 5€\n"
    run = run_import(write_csv(text.encode("windows-1252")), "--json")
    assert run.counts["encoding"] == "windows-1252"
    contact = Contact.objects.get()
    assert (contact.first_name, contact.attributes["note"]) == ("Renée", "“quoted” – 5€")


@pytest.mark.parametrize(
    ("cell", "target", "expected"),
    [
        ("yes", "consent", True),
        ("Y", "consent", True),
        ("1", "consent", True),
        ("TRUE", "consent", True),
        ("opted-in", "consent", True),
        ("Subscribed", "consent", True),
        ("no", "consent", False),
        ("0", "consent", False),
        ("false", "consent", False),
        ("unsubscribed", "consent", False),
        ("Opted out", "consent", False),
        ("STOP", "consent", False),
        ("maybe", "consent", None),
        ("", "consent", None),
        ("yes", "opted_out", False),
        ("no", "opted_out", True),
        ("unsubscribed", "opted_out", False),
        ("subscribed", "opted_out", True),
    ],
)
def test_consent_cells_are_read_as_people_write_them(cell, target, expected) -> None:
    assert consent_of(cell, target) is expected


@pytest.fixture
def importer_user(db) -> User:
    return User.objects.create_user("ina", is_superuser=True)


def test_a_consent_column_is_honoured_with_the_evidence(write_csv, run_import, importer_user):
    stopped = Contact.objects.create(phone="+447400123455")
    contact_opt_out(contact=stopped, source="keyword", note="STOP")
    path = write_csv([
        ["phone", "Marketing consent", "Consent date"],
        ["+447400123451", "yes", "2024-03-01"],
        ["+447400123452", "no", "02/04/2024"],  # day first (the column has a 13th below)
        ["+447400123453", "opted_in", "13/05/2024"],
        ["+447400123454", "unsubscribed", ""],
        ["+447400123455", "yes", ""],  # said STOP before: the file does not undo it
        ["+447400123456", "perhaps", ""],
    ], name="crm-export.csv")  # fmt: skip
    run = run_import(path, "--as", "ina")
    assert (run["opted_out"], run["consented"], run["warnings"]) == (2, 2, 2)
    assert "BAD_CONSENT: Marketing consent 'perhaps' is not yes/no" in run.stderr
    assert "KEPT_OPTED_OUT" in run.stderr
    out = set(Contact.objects.filter(opted_out=True).values_list("phone", flat=True))
    assert out == {"+447400123452", "+447400123454", "+447400123455"}  # "no" is not Subscribed
    events = {e.contact.phone: e for e in ConsentEvent.objects.filter(source="import")}
    assert set(events) == {"+447400123451", "+447400123452", "+447400123453", "+447400123454"}
    given, refused = events["+447400123451"], events["+447400123452"]
    assert (given.action, given.channel, given.actor) == ("opt_in", "all", importer_user)
    assert given.note == "import crm-export.csv row 2: Marketing consent=yes"
    assert given.occurred_at.date() == dt.date(2024, 3, 1)
    assert (refused.action, refused.note) == (
        "opt_out",
        "import crm-export.csv row 3: Marketing consent=no",
    )
    assert refused.occurred_at.date() == dt.date(2024, 4, 2)
    assert Contact.objects.get(phone="+447400123452").opted_out_source == "import"
    # The same file again records nothing new.
    count = ConsentEvent.objects.count()
    again = run_import(path, "--as", "ina")
    assert (again["opted_out"], again["consented"]) == (0, 0)
    assert ConsentEvent.objects.count() == count


def test_a_whatsapp_consent_column_records_the_whatsapp_opt_in(write_csv, run_import) -> None:
    path = write_csv([["phone", "whatsapp_opt_in"], ["+447400123451", "yes"]])
    run_import(path)
    event = ConsentEvent.objects.get()
    assert (event.action, event.channel) == ("opt_in", "whatsapp")


def test_typed_columns_are_declared_normalised_and_checked(write_csv, run_import) -> None:
    path = write_csv([
        ["phone", "Spend", "Signed up", "VIP", "Notes"],
        ["+447400123451", "1,234.50", "31/12/2025", "Y", "a"],
        ["+447400123452", "€59,90", "01/02/2026", "no", "b"],
        ["+447400123453", "lots", "someday", "", "c"],
    ])  # fmt: skip
    maps = ["Spend=number:last_order_value", "Signed up=date", "VIP=boolean", "Notes=ignore"]
    run = run_import(path, *(f"--map={m}" for m in maps), "--date-order", "dmy")
    assert run["created"] == 3
    assert run["warnings"] == 2
    assert "BAD_NUMBER: Spend 'lots' is not a number; not imported" in run.stderr
    assert "BAD_DATE: Signed up 'someday' is not a date; not imported" in run.stderr
    stored = {c.phone: c.attributes for c in Contact.objects.all()}
    assert stored["+447400123451"] == {
        "last_order_value": "1234.50",
        "signed_up": "2025-12-31",
        "vip": "true",
    }
    assert stored["+447400123452"] == {
        "last_order_value": "59.90",
        "signed_up": "2026-02-01",
        "vip": "false",
    }
    assert stored["+447400123453"] == {}
    assert dict(AttributeDefinition.objects.values_list("key", "type")) == {
        "last_order_value": "number",
        "signed_up": "date",
        "vip": "boolean",
    }


def test_a_declared_type_applies_to_a_later_import_without_a_mapping(write_csv, run_import):
    AttributeDefinition.objects.create(key="spend", type="number")
    run = run_import(
        write_csv([["phone", "spend"], ["+447400123451", "n/a"], ["+447400123452", "12"]])
    )
    assert "BAD_NUMBER" in run.stderr
    assert Contact.objects.get(phone="+447400123452").attributes == {"spend": "12"}


def test_show_mapping_prints_the_columns_and_imports_nothing(write_csv) -> None:
    path = write_csv(
        [
            ["Mobile", "Given name", "Consent", "Total spent", "Birthday"],
            ["07400 123451", "Ann", "yes", "59.90", "31/12/1990"],
        ]
    )
    out = io.StringIO()
    call_command(
        "import_contacts",
        str(path),
        "--show-mapping",
        "--default-region",
        "GB",
        "--map",
        "Given name=first_name",
        "--json",
        stdout=out,
    )
    shown = json.loads(out.getvalue())
    assert [c["target"] for c in shown["columns"]] == [
        "phone",
        "first_name",
        "consent",
        "attribute",
        "attribute",
    ]
    assert shown["columns"][3] == {"target": "attribute", "key": "total_spent", "type": "number"}
    assert shown["columns"][4] == {
        "target": "attribute",
        "key": "birthday",
        "type": "date",
        "order": "dmy",
    }
    assert shown["sample"] == [["07400 123451", "Ann", "yes", "59.90", "31/12/1990"]]
    assert not Contact.objects.exists()
    out = io.StringIO()
    call_command("import_contacts", str(path), "--show-mapping", stdout=out)
    assert "'Consent' → consent    e.g. 'yes'" in out.getvalue()


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("Nope=phone", "no column 'Nope'"),
        ("Mobile", "write it COLUMN=TARGET"),
        ("Mobile=shoe_size", "the target is one of"),
        ("Total=number:first_name", "is not an attribute name"),
        ("Total=phone", "are both 'phone'"),
    ],
)
def test_bad_map_options_are_refused_with_the_reason(write_csv, spec, problem) -> None:
    path = write_csv([["Mobile", "Total"], ["+447400123451", "5"]])
    with pytest.raises(CommandError, match=problem):
        call_command("import_contacts", str(path), "--map", spec, stdout=io.StringIO())
    assert not Contact.objects.exists()


def test_the_suggestion_reads_headers_and_cells() -> None:
    columns = mapping_suggest(
        ["Phone", "SMS consent", "opt-in date", "Amount", "Code", "Joined", "id"],
        [["+447400123451", "yes", "2024-01-31", "12.5", "007123", "12/31/2024", "9"]],
        declared={"code": "text"},
        region="US",
    )
    assert columns == [
        Column("phone"),
        Column("consent", channel="sms"),
        Column("consent_date", order="ymd"),
        Column("attribute", key="amount", type="number"),
        Column("attribute", key="code", type="text"),  # declared text wins over the cells
        Column("attribute", key="joined", type="date", order="mdy"),
        Column("ignore"),  # Herald's own export column
    ]


def test_the_service_takes_a_mapping_from_the_api_or_the_browser(write_csv, importer_user):
    path = write_csv([["Tel", "Name", "Yes to SMS"], ["+447400123451", "Ann", "1"]])
    result = contacts_import(
        source=str(path),
        columns=[Column("phone"), Column("first_name"), Column("consent", channel="sms")],
        imported_by=importer_user,
    )
    assert (result.created, result.consented) == (1, 1)
    assert result.mapping["columns"][2] == {"target": "consent", "channel": "sms"}
    assert ConsentEvent.objects.get().actor == importer_user
