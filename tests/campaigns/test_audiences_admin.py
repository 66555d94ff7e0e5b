"""Admin for segments and revocation reviews (#17)."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from campaigns.models import Segment
from contacts.models import Contact, RevocationReview

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_a_segment_is_saved_with_checked_rules_and_shows_its_count(admin_client) -> None:
    Contact.objects.create(phone="+447946000001", country="GB")
    Contact.objects.create(phone="+33612345678", country="FR")
    bad = {"name": "bad", "description": "", "rules": json.dumps({"rules": [{"field": "x"}]})}
    page = admin_client.post("/admin/campaigns/segment/add/", bad)
    assert page.status_code == 200
    assert "unknown field" in page.content.decode()
    assert not Segment.objects.exists()
    rules = {"rules": [{"field": "country", "op": "eq", "value": "GB"}]}
    good = {"name": "uk", "description": "", "rules": json.dumps(rules)}
    assert admin_client.post("/admin/campaigns/segment/add/", good).status_code == 302
    segment = Segment.objects.get(name="uk")
    page = admin_client.get(f"/admin/campaigns/segment/{segment.pk}/change/")
    assert "Contacts now" in page.content.decode()


def test_a_review_decided_as_revocation_opts_out(admin_client) -> None:
    contact = Contact.objects.create(phone="+447946000001")
    review = RevocationReview.objects.create(
        contact=contact,
        inbound_id=1,
        text="how do I unsubscribe?",
        received_at=timezone.now(),
        due_on=timezone.now().date() + dt.timedelta(days=14),
    )
    admin_client.post(
        "/admin/contacts/revocationreview/",
        {"action": "opt_out", "_selected_action": [review.pk]},
    )
    contact.refresh_from_db()
    review.refresh_from_db()
    assert (contact.opted_out, contact.opted_out_source, review.resolution) == (
        True,
        "phrase",
        "opted_out",
    )
