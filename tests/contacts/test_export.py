"""Exporting contacts: fields, attributes, lists, consent; re-importing an export."""

import csv
import io

import pytest
from django.core.management import CommandError, call_command

from contacts.models import ConsentEvent, Contact
from contacts.services import contact_opt_out, contacts_export
from tests.factories import ContactFactory, ContactListFactory

pytestmark = pytest.mark.django_db


def _read(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_export_has_fields_attributes_lists_and_consent() -> None:
    vip, promo = ContactListFactory(name="VIP"), ContactListFactory(name="Promo")
    ann = ContactFactory(
        phone="+447400123456", first_name="Ann", attributes={"tier": "gold"}, lists=[vip, promo]
    )
    ContactFactory(phone="+447400123457", first_name="Ben", attributes={"city": "Leeds", "n": 3})
    contact_opt_out(contact=ann, source="keyword", channel="sms")
    out = io.StringIO()
    assert contacts_export(out=out) == 2
    rows = _read(out.getvalue())
    assert list(rows[0]) == [
        "phone",
        "first_name",
        "last_name",
        "language",
        "timezone",
        "country",
        "opted_out",
        "opted_out_at",
        "opted_out_source",
        "opted_out_channel",
        "lists",
        "created_at",
        "updated_at",
        "city",
        "n",
        "tier",
    ]
    assert rows[0]["phone"] == "+447400123456"
    assert (rows[0]["opted_out"], rows[0]["opted_out_source"], rows[0]["opted_out_channel"]) == (
        "true",
        "keyword",
        "sms",
    )
    assert rows[0]["opted_out_at"].startswith(str(ann.opted_out_at.date()))
    assert (rows[0]["lists"], rows[0]["tier"], rows[0]["city"]) == ("Promo|VIP", "gold", "")
    assert (rows[1]["opted_out"], rows[1]["lists"], rows[1]["city"], rows[1]["n"]) == (
        "false",
        "",
        "Leeds",
        "3",
    )


def test_export_command_filters_by_list_and_opted_out(tmp_path) -> None:
    vip = ContactListFactory(name="VIP")
    on_list = ContactFactory(lists=[vip])
    ContactFactory()
    stopped = ContactFactory(lists=[vip])
    contact_opt_out(contact=stopped, source="admin")
    target = tmp_path / "out.csv"
    out = io.StringIO()
    call_command("export_contacts", str(target), "--list", "VIP", stdout=out)
    assert out.getvalue().strip() == "exported=2"
    assert {r["phone"] for r in _read(target.read_text())} == {on_list.phone, stopped.phone}
    call_command("export_contacts", str(target), "--list", "VIP", "--opted-out", stdout=out)
    assert [r["phone"] for r in _read(target.read_text())] == [stopped.phone]
    with pytest.raises(CommandError, match="no contact list named 'Nope'"):
        call_command("export_contacts", str(target), "--list", "Nope")


def test_reimporting_an_export_changes_nothing(tmp_path, run_import) -> None:
    vip = ContactListFactory(name="VIP")
    contacts = ContactFactory.create_batch(5, attributes={"tier": "gold"}, lists=[vip])
    for contact in contacts[:2]:
        contact_opt_out(contact=contact, source="keyword")
    before = list(Contact.objects.order_by("pk").values())
    events = ConsentEvent.objects.count()
    target = tmp_path / "export.csv"
    call_command("export_contacts", str(target), stdout=io.StringIO())
    run = run_import(target)
    assert (run["created"], run["updated"], run["unchanged"], run["opted_out"]) == (0, 0, 5, 0)
    assert list(Contact.objects.order_by("pk").values()) == before
    assert ConsentEvent.objects.count() == events


def test_export_defuses_spreadsheet_formulas_but_keeps_numbers() -> None:
    attributes = {"note": "@SUM(A1)", "balance": "-12.50", "code": "+44 (0)1"}
    ContactFactory(first_name='=HYPERLINK("http://x")', last_name="-2+3", attributes=attributes)
    row = _read(_export())[0]
    assert (row["first_name"], row["last_name"], row["note"]) == (
        '\'=HYPERLINK("http://x")',
        "'-2+3",
        "'@SUM(A1)",
    )
    assert (row["balance"], row["code"], row["phone"][0]) == ("-12.50", "+44 (0)1", "+")


def _export() -> str:
    out = io.StringIO()
    contacts_export(out=out)
    return out.getvalue()
