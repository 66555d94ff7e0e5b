"""Every CSV Herald writes is inert in a spreadsheet, keeps numbers, and re-imports losslessly."""

import csv
import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from campaigns.models import Message
from contacts.models import Contact
from core.csvsafe import csv_cell_restore, csv_writer
from tests.rules.conftest import campaign_ready_for, make_role_user

HOSTILE = [
    '=HYPERLINK("http://evil")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1)",
    "%0A=1",
    "|pipe",
    "=a\\|b|c",
]
# The importer trims surrounding whitespace, so these are checked for inertness only.
WHITESPACE_LED = ["\t=1+1", "\r=1"]
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "|", "%")


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _assert_inert(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            if cell[:1] in TRIGGERS:
                # Only numbers may start so: E.164, amounts.
                assert cell.lstrip("+-").replace(" ", "").replace(".", "").isdigit(), cell


@pytest.mark.django_db
def test_contact_export_is_inert_and_reimports_to_the_same_contacts(tmp_path) -> None:
    for i, name in enumerate(HOSTILE):
        Contact.objects.create(
            phone=f"+4179302{i:04d}",
            first_name=name,
            last_name=f"-{name}",
            country="CH",
            attributes={"note": name, "balance": "-12.50"},
        )
    before = sorted(Contact.objects.values_list("phone", "first_name", "last_name", "attributes"))
    target = tmp_path / "contacts.csv"
    call_command("export_contacts", str(target), stdout=io.StringIO())
    rows = _rows(target.read_text())
    _assert_inert(rows)
    phones = [row[0] for row in rows[1:]]
    assert phones == [f"+4179302{i:04d}" for i in range(len(HOSTILE))], "E.164 unmangled"
    assert "-12.50" in rows[1]

    Contact.objects.all().delete()
    call_command("import_contacts", str(target), stdout=io.StringIO())
    after = sorted(Contact.objects.values_list("phone", "first_name", "last_name", "attributes"))
    assert after == before


@pytest.mark.django_db
def test_admin_contact_export_is_inert(client) -> None:
    Contact.objects.create(phone="+41793026727", first_name="=cmd()", country="CH")
    for i, name in enumerate(WHITESPACE_LED):
        Contact.objects.create(phone=f"+4179302700{i}", first_name=name, country="CH")
    client.force_login(make_role_user("superuser"))
    response = client.post(
        reverse("admin:contacts_contact_changelist"),
        {"action": "export_csv", "_selected_action": [c.pk for c in Contact.objects.all()]},
    )
    rows = _rows(b"".join(response.streaming_content).decode())
    _assert_inert(rows)
    assert rows[1][0] == "+41793026727"
    assert rows[1][1] == "'=cmd()"


@pytest.mark.django_db
def test_campaign_ledger_exports_are_inert_from_the_command_and_the_ui(tmp_path, client) -> None:
    campaign = campaign_ready_for("resend")
    Message.objects.filter(campaign=campaign).update(text='=HYPERLINK("x")', reason="@evil")
    target = tmp_path / "ledger.csv"
    call_command("campaign", "export", str(campaign.pk), str(target), stdout=io.StringIO())
    client.force_login(make_role_user("marketer"))
    response = client.get(reverse("ui:campaign_export", args=[campaign.pk]))
    ui_text = b"".join(response.streaming_content).decode()
    for text in (target.read_text(), ui_text):
        rows = _rows(text)
        _assert_inert(rows)
        assert '\'=HYPERLINK("x")' in rows[1]
        assert rows[1][0].startswith("+44")


@pytest.mark.django_db
def test_import_errors_file_is_inert(tmp_path) -> None:
    source = tmp_path / "in.csv"
    source.write_text('phone,first_name\n=cmd(),=HYPERLINK("x")\n+41793026727,Ann\n')
    errors = tmp_path / "errors.csv"
    call_command(
        "import_contacts",
        str(source),
        "--errors",
        str(errors),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    rows = _rows(errors.read_text())
    assert len(rows) == 2
    _assert_inert(rows)


@given(st.text(max_size=40))
def test_any_cell_round_trips_and_never_starts_a_formula(value: str) -> None:
    out = io.StringIO()
    csv_writer(out).writerow([value])
    (cell,) = _rows(out.getvalue())[0] if value != "" else [""]
    if cell[:1] in TRIGGERS:
        assert cell.lstrip("+-").strip(" .,()").replace(" ", "")[:1].isdigit(), cell
    if not (value.startswith("'") or "\r" in value or value.startswith("\n")):
        assert csv_cell_restore(cell) == value
