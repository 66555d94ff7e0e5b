"""State-changing commands act as `--as USERNAME` (else HERALD_CLI_USER, else the operator)."""

import io

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import Campaign
from contacts.models import Contact, ContactList
from core.models import AuditEntry
from tests.rules.conftest import campaign_ready_for, make_audience, make_role_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("phone,first_name\n+41793026727,Ann\n+41793026728,Bob\n")
    return path


def test_import_as_a_viewer_is_refused_and_imports_nothing(csv_file) -> None:
    make_role_user("viewer")
    with pytest.raises(CommandError, match=r"contacts\.add_contact"):
        call_command("import_contacts", str(csv_file), "--as", "viewer", stdout=io.StringIO())
    assert not Contact.objects.exists()
    assert not AuditEntry.objects.exists()


def test_import_as_a_marketer_is_audited(csv_file) -> None:
    marketer = make_role_user("marketer")
    call_command(
        "import_contacts",
        str(csv_file),
        "--list",
        "VIP",
        "--as",
        "marketer",
        stdout=io.StringIO(),
    )
    assert Contact.objects.count() == 2
    assert ContactList.objects.filter(name="VIP").exists()
    entry = AuditEntry.objects.get(action="import")
    assert entry.actor == marketer
    assert "created=2" in entry.detail


def test_create_as_a_user_makes_them_the_creator(settings) -> None:
    make_audience(name="demo")
    marketer = make_role_user("marketer")
    out = io.StringIO()
    call_command(
        "campaign",
        "create",
        "--name",
        "x",
        "--list",
        "demo",
        "--channel",
        "sms",
        "--text",
        "Hi",
        "--as",
        "marketer",
        "--json",
        stdout=out,
    )
    campaign = Campaign.objects.get()
    assert campaign.created_by == marketer
    assert AuditEntry.objects.get(action="create", campaign=campaign).actor == marketer
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        call_command("campaign", "launch", str(campaign.pk), "--as", "nobody")


def test_an_inactive_user_cannot_act(settings) -> None:
    user = make_role_user("sender")
    user.is_active = False
    user.save()
    with pytest.raises(CommandError, match="inactive"):
        call_command("campaign", "pause", str(campaign_ready_for("pause").pk), "--as", "sender")
