"""The senders admin goes through the service: its checks, its audit."""

import pytest

from channels.models import Sender
from core.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_the_admin_adds_a_sender_and_shows_a_refused_one_next_to_its_field(admin_client) -> None:
    page = admin_client.get("/admin/channels/sender/add/")
    assert page.status_code == 200
    refused = admin_client.post(
        "/admin/channels/sender/add/", {"medium": "sms", "country": "US", "sender": "Shop"}
    )
    assert refused.status_code == 200
    assert "does not deliver SMS from an alphanumeric" in refused.content.decode()
    assert not Sender.objects.exists()
    added = admin_client.post(
        "/admin/channels/sender/add/",
        {"medium": "sms", "country": "IN", "sender": "HERALD", "dlt_entity_id": "1101"},
    )
    assert added.status_code == 302
    row = Sender.objects.get()
    assert (row.country, row.dlt_entity_id) == ("IN", "1101")
    assert AuditEntry.objects.filter(action="sender_add").exists()
    listing = admin_client.get("/admin/channels/sender/")
    assert "India" in listing.content.decode()
    admin_client.post(f"/admin/channels/sender/{row.pk}/delete/", {"post": "yes"})
    assert not Sender.objects.exists()
    assert AuditEntry.objects.filter(action="sender_remove").exists()
