"""Every admin action declares its permissions: viewing is not changing."""

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from contacts.models import ConsentEvent, Contact, ContactList, ListMembership
from infobip.models import WebhookEvent
from tests.rules.conftest import make_role_user

pytestmark = pytest.mark.django_db


def _viewer(*codenames: str) -> User:
    user = User.objects.create_user("looker", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.mark.parametrize("action", ["opt_out", "opt_in", "add_to_list", "remove_from_list"])
def test_a_contact_viewer_cannot_change_consent_or_lists(client, action) -> None:
    contact = Contact.objects.create(phone="+41793026727", opted_out=action == "opt_in")
    vip = ContactList.objects.create(name="VIP")
    if action == "remove_from_list":
        ListMembership.objects.create(contact=contact, contact_list=vip)
    client.force_login(_viewer("view_contact", "view_contactlist"))
    url = reverse("admin:contacts_contact_changelist")
    body = client.get(url).content.decode()
    assert f'value="{action}"' not in body
    assert 'value="export_csv"' in body  # viewing includes exporting what one may see
    client.post(url, {"action": action, "_selected_action": [contact.pk], "contact_list": vip.pk})
    contact.refresh_from_db()
    assert contact.opted_out is (action == "opt_in")
    assert ListMembership.objects.filter(contact=contact).exists() is (action == "remove_from_list")
    assert not ConsentEvent.objects.exists()


def test_a_contact_editor_may_opt_out(client) -> None:
    contact = Contact.objects.create(phone="+41793026727")
    client.force_login(_viewer("view_contact", "change_contact"))
    client.post(
        reverse("admin:contacts_contact_changelist"),
        {"action": "opt_out", "_selected_action": [contact.pk]},
    )
    contact.refresh_from_db()
    assert contact.opted_out


def test_reprocessing_events_needs_the_change_permission(client) -> None:
    event = WebhookEvent.objects.create(kind="sms_reports", body='{"results": []}', status="failed")
    url = reverse("admin:infobip_webhookevent_changelist")
    client.force_login(_viewer("view_webhookevent"))
    assert 'value="reprocess"' not in client.get(url).content.decode()
    client.force_login(make_role_user("superuser"))
    assert 'value="reprocess"' in client.get(url).content.decode()
    assert WebhookEvent.objects.get(pk=event.pk).status == "failed"
