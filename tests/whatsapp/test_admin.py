"""Template admin: filters, the readable structure, read-only pages, and "sync now"."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests.whatsapp.conftest import SENDER, build_template, raw_template
from whatsapp.models import WhatsAppTemplate

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:whatsapp_whatsapptemplate_changelist")


@pytest.fixture
def templates():
    promo = build_template(raw_template("promo"), save=True)
    paused = build_template(raw_template("paused", "de", status="FIRST_PAUSED"), save=True)
    utility = build_template(
        raw_template("receipt", category="UTILITY"), sender="441134960000", save=True
    )
    return promo, paused, utility


def names(response) -> set[str]:
    return {t.name for t in response.context["cl"].result_list}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"promo", "paused", "receipt"}),
        ("status__exact=FIRST_PAUSED", {"paused"}),
        ("language__exact=de", {"paused"}),
        ("category__exact=UTILITY", {"receipt"}),
        (f"sender__exact={SENDER}", {"promo", "paused"}),
        ("supported__exact=1", {"promo", "paused", "receipt"}),
        ("removed=no", {"promo", "paused", "receipt"}),
        ("removed=yes", set()),
    ],
)
def test_changelist_filters(admin_client, templates, query, expected) -> None:
    response = admin_client.get(f"{CHANGELIST}?{query}")
    assert response.status_code == 200
    assert names(response) == expected


def test_detail_shows_the_structure_readably_and_escaped(admin_client) -> None:
    raw = raw_template(
        "xss",
        structure={
            "body": {"text": "Hi {{1}} <script>alert(1)</script>"},
            "footer": {"text": "Bye"},
        },
    )
    template = build_template(raw, save=True)
    url = reverse("admin:whatsapp_whatsapptemplate_change", args=[template.pk])
    page = admin_client.get(url).content.decode()
    assert "Hi {{1}} &lt;script&gt;alert(1)&lt;/script&gt;\n\nBye" in page
    assert "<script>alert(1)" not in page
    assert "body: 1" in page
    assert 'name="name"' not in page  # read-only: no form inputs for the fields


def test_templates_cannot_be_added_changed_or_deleted(admin_client, templates) -> None:
    promo = templates[0]
    assert admin_client.get(reverse("admin:whatsapp_whatsapptemplate_add")).status_code == 403
    delete = reverse("admin:whatsapp_whatsapptemplate_delete", args=[promo.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    change = reverse("admin:whatsapp_whatsapptemplate_change", args=[promo.pk])
    admin_client.post(change, {"name": "hacked", "status": "APPROVED"})
    promo.refresh_from_db()
    assert promo.name == "promo"


def test_sync_now_action_syncs_the_selected_senders(admin_client, templates, serve_templates):
    serve_templates([raw_template("promo"), raw_template("brand_new")])
    promo = templates[0]
    response = admin_client.post(
        CHANGELIST,
        {"action": "sync_now", "_selected_action": [promo.pk]},
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"]]
    assert f"Sender {SENDER}: created=1 updated=0 unchanged=1 removed=1 unsupported=0" in shown
    assert WhatsAppTemplate.objects.filter(name="brand_new").exists()
    assert WhatsAppTemplate.objects.get(name="paused").removed_upstream_at is not None
    assert WhatsAppTemplate.objects.get(name="receipt").removed_upstream_at is None


def test_sync_button_works_on_an_empty_table_and_reports_errors(admin_client, serve_templates):
    page = admin_client.get(CHANGELIST).content.decode()
    assert f"Sync {SENDER} now" in page
    sync = reverse("admin:whatsapp_whatsapptemplate_sync")
    assert admin_client.get(sync).status_code == 405
    serve_templates([raw_template("first")])
    response = admin_client.post(sync, follow=True)
    assert "created=1" in " ".join(str(m) for m in response.context["messages"])
    serve_templates([], status=401, body={})
    response = admin_client.post(sync, follow=True)
    (message,) = list(response.context["messages"])
    assert "could not list the WhatsApp templates" in str(message)
    assert message.level_tag == "error"


def test_staff_without_the_sync_permission_can_view_but_not_sync(client, templates) -> None:
    user = get_user_model().objects.create_user("viewer", password="pw-12345678", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_whatsapptemplate"))
    client.force_login(user)
    page = client.get(CHANGELIST)
    assert page.status_code == 200
    assert "Sync " not in page.content.decode()
    assert client.post(reverse("admin:whatsapp_whatsapptemplate_sync")).status_code == 403
