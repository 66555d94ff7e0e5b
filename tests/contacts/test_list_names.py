"""List names are checked on the server on every surface: never a 500, never cut (issue 26 #9)."""

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from contacts.models import ContactList
from contacts.services import list_name_problem

pytestmark = pytest.mark.django_db
LONG = "L" * 201


def test_the_rule():
    assert list_name_problem("VIP") is None
    assert list_name_problem("x" * 200) is None
    assert "at most 200 characters (201 given)" in list_name_problem(LONG)
    assert "needs a name" in list_name_problem("")


def test_the_lists_page_refuses_a_long_name_at_the_field(client):
    from tests.ui.conftest import make_user
    from ui.roles import MARKETER

    client.force_login(make_user("mia", MARKETER))
    response = client.post(reverse("ui:lists"), {"name": LONG})
    assert response.status_code == 200
    assert "at most 200 characters (201 given)" in response.content.decode()
    assert not ContactList.objects.exists()


def test_the_import_page_refuses_a_long_list_name_before_storing_the_file(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.ui.conftest import make_user
    from ui.models import ImportJob
    from ui.roles import MARKETER

    client.force_login(make_user("mia", MARKETER))
    upload = SimpleUploadedFile("c.csv", b"phone\n+447946000101\n", content_type="text/csv")
    response = client.post(reverse("ui:contact_import"), {"file": upload, "list_name": LONG})
    assert "at most 200 characters (201 given)" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_the_import_command_refuses_it(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("phone\n+447946000101\n")
    with pytest.raises(CommandError, match="at most 200 characters"):
        call_command("import_contacts", str(path), "--list", LONG)
    assert not ContactList.objects.exists()


def test_the_api_rejects_the_row_instead_of_cutting_the_name():
    from django.contrib.auth.models import User

    from api.services import contacts_upsert

    user = User.objects.create_superuser("root", password="x" * 20)
    result = contacts_upsert(
        rows=[{"phone": "+447946000101", "lists": [LONG]}, {"phone": "+447946000102"}],
        actor=user,
    )
    assert result.rejected == [
        {"index": 0, "reason": "lists: a list name is at most 200 characters (201 given)"}
    ]
    assert result.created == 1
    assert not ContactList.objects.exists()
