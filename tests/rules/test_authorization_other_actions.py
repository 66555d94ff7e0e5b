"""The rest of the state-changing actions × every role, on the UI and the admin: consent,
lists, imports, test sends, inbox replies. Refused: 403 (login for anonymous), nothing
changed, nothing audited, nothing sent."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from contacts.models import ConsentEvent, Contact, ContactList
from core.models import AuditEntry
from infobip.models import InboundMessage
from tests.rules.conftest import ROLES, campaign_ready_for, make_role_user
from ui.models import ImportJob

pytestmark = pytest.mark.django_db
# Marketers (and Senders, who are Marketers too) and superusers; viewers and bare staff not.
ALLOWED = {"marketer", "sender", "superuser"}


def _contact() -> Contact:
    return Contact.objects.create(
        phone="+41793026799", first_name="Ann", whatsapp_last_inbound_at=timezone.now()
    )


def _opt_out_ui(client, contact):
    return client.post(reverse("ui:contact_consent", args=[contact.pk]), {"action": "opt_out"})


def _opt_out_admin(client, contact):
    return client.post(
        reverse("admin:contacts_contact_changelist"),
        {"action": "opt_out", "_selected_action": [contact.pk]},
    )


def _create_list(client, contact):
    return client.post(reverse("ui:lists"), {"name": "Brand new list"})


def _import(client, contact):
    upload = SimpleUploadedFile("c.csv", b"phone\n+41793026700\n", content_type="text/csv")
    return client.post(reverse("ui:contact_import"), {"file": upload, "list_name": "Imported"})


def _test_send(client, contact):
    campaign = campaign_ready_for("launch")
    return client.post(reverse("ui:campaign_test", args=[campaign.pk]), {"to": "+41793026727"})


def _reply(client, contact):
    inbound = InboundMessage.objects.create(
        channel="whatsapp",
        from_number=contact.phone,
        to_number="447860099299",
        text="hi",
        contact=contact,
        infobip_message_id="in-1",
        received_at=timezone.now(),
    )
    return client.post(reverse("ui:inbox_reply", args=[inbound.pk]), {"text": "Hello back"})


def _changed(action: str, contact: Contact) -> bool:
    contact.refresh_from_db()
    return {
        "opt_out_ui": contact.opted_out,
        "opt_out_admin": contact.opted_out,
        "create_list": ContactList.objects.filter(name="Brand new list").exists(),
        "import": ImportJob.objects.exists(),
        "test_send": AuditEntry.objects.filter(action="test").exists(),
        "reply": AuditEntry.objects.filter(action="reply").exists(),
    }[action]


ACTIONS = {
    "opt_out_ui": _opt_out_ui,
    "opt_out_admin": _opt_out_admin,
    "create_list": _create_list,
    "import": _import,
    "test_send": _test_send,
    "reply": _reply,
}


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("role", ROLES)
def test_role_action(role, action, client, settings, tmp_path, responses_off) -> None:
    settings.MEDIA_ROOT = tmp_path
    user = make_role_user(role)
    if user is not None:
        client.force_login(user)
    contact = _contact()
    audit_before = AuditEntry.objects.count()
    response = ACTIONS[action](client, contact)
    if role in ALLOWED:
        assert response.status_code in (200, 302), response.status_code
        if action in ("opt_out_ui", "opt_out_admin", "create_list", "import"):
            assert _changed(action, contact)
        return
    if user is None:
        assert response.status_code == 302
        assert "login" in response["Location"]
    elif action == "opt_out_admin":
        assert response.status_code in (200, 302, 403)  # the action is not even offered
    else:
        assert response.status_code == 403
    assert not _changed(action, contact)
    assert not ConsentEvent.objects.exists()
    assert AuditEntry.objects.count() == audit_before


@pytest.fixture
def responses_off(settings):
    """Test sends and replies of allowed users reach no Infobip: a closed loopback port."""
    settings.INFOBIP_SANDBOX_URL = "http://127.0.0.1:9"
    settings.INFOBIP_MAX_RETRIES = 0
    return io.StringIO()
