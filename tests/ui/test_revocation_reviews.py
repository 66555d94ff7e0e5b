"""Ambiguous revocations: flagged in the inbox and the thread, the oldest on the dashboard,
resolved from the UI through contacts.services.revocation_review_resolve (audited)."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from contacts.models import ConsentEvent, Contact, RevocationReview
from contacts.services import ReviewError, revocation_review_resolve
from core.models import AuditEntry
from core.rules import OPERATOR, Refused
from infobip.models import InboundMessage
from tests.ui.conftest import make_user
from ui.roles import MARKETER

pytestmark = pytest.mark.django_db


@pytest.fixture
def rita(client):
    client.force_login(make_user("rita", MARKETER))
    return client


def _review(contact: Contact, text: str, *, due: dt.date, days_ago: int = 1) -> RevocationReview:
    received = timezone.now() - dt.timedelta(days=days_ago)
    inbound = InboundMessage.objects.create(
        channel="sms",
        contact=contact,
        infobip_message_id=f"in-{text}",
        text=text,
        from_number=contact.phone.lstrip("+"),
        received_at=received,
    )
    return RevocationReview.objects.create(
        contact=contact,
        inbound_id=inbound.pk,
        text=text,
        language="en",
        received_at=received,
        due_on=due,
    )


@pytest.fixture
def reviews():
    ann = Contact.objects.create(phone="+447946000001", first_name="Ann")
    bob = Contact.objects.create(phone="+447946000002", first_name="Bob")
    today = timezone.localdate()
    return (
        _review(ann, "how do I unsubscribe?", due=today + dt.timedelta(days=9), days_ago=1),
        _review(bob, "don't stop", due=today - dt.timedelta(days=1), days_ago=15),
    )


def test_the_inbox_flags_them_with_their_due_dates(rita, reviews) -> None:
    ann_review, bob_review = reviews
    page = rita.get(reverse("ui:inbox")).content.decode()
    assert "Replies that may revoke consent" in page
    assert f"decide by <strong>{ann_review.due_on:%Y-%m-%d}</strong>" in page
    assert "(overdue)" in page  # Bob's is past its due date
    assert f"May revoke consent — decide by {ann_review.due_on:%Y-%m-%d}" in page
    assert page.index(f'id="review-{bob_review.pk}"') < page.index(f'id="review-{ann_review.pk}"')
    assert reverse("ui:review_resolve", args=[ann_review.pk]) in page


def test_the_thread_shows_the_contacts_open_review(rita, reviews) -> None:
    ann_review, _ = reviews
    page = rita.get(reverse("ui:thread", args=[ann_review.contact_id])).content.decode()
    assert "how do I unsubscribe?" in page
    assert f'id="review-{ann_review.pk}"' in page
    assert "don&#x27;t stop" not in page.split('id="thread-reviews-h"')[1].split("</section>")[0]


def test_the_dashboard_shows_the_oldest_open_one(rita, reviews) -> None:
    _, bob_review = reviews
    page = rita.get(reverse("ui:dashboard")).content.decode()
    assert 'id="oldest-review"' in page
    assert f"decide by <strong>{bob_review.due_on:%Y-%m-%d}</strong> (overdue)" in page
    RevocationReview.objects.update(resolved_at=timezone.now(), resolution="kept")
    assert 'id="oldest-review"' not in rita.get(reverse("ui:dashboard")).content.decode()


def test_opt_out_from_the_thread_is_audited_with_the_user(rita, reviews) -> None:
    ann_review, _ = reviews
    url = reverse("ui:review_resolve", args=[ann_review.pk])
    response = rita.post(url, {"resolution": "opted_out", "back": "thread"})
    assert response["Location"] == reverse("ui:thread", args=[ann_review.contact_id])
    ann_review.refresh_from_db()
    assert ann_review.resolution == "opted_out"
    assert ann_review.resolved_at is not None
    contact = Contact.objects.get(pk=ann_review.contact_id)
    assert contact.opted_out is True
    event = ConsentEvent.objects.get(contact=contact)
    assert (event.action, event.source, event.actor.username) == ("opt_out", "phrase", "rita")
    entry = AuditEntry.objects.get(action="revocation_review")
    assert (entry.actor.username, entry.contact_id) == ("rita", contact.pk)
    assert entry.detail.startswith("opted_out")
    # A second decision on the same reply is refused, not applied twice.
    again = rita.post(url, {"resolution": "kept"}, follow=True)
    assert "already resolved" in again.content.decode()
    ann_review.refresh_from_db()
    assert ann_review.resolution == "opted_out"


def test_keep_changes_no_consent(rita, reviews) -> None:
    _, bob_review = reviews
    response = rita.post(reverse("ui:review_resolve", args=[bob_review.pk]), {"resolution": "kept"})
    assert response["Location"] == reverse("ui:inbox")
    bob_review.refresh_from_db()
    assert bob_review.resolution == "kept"
    assert Contact.objects.get(pk=bob_review.contact_id).opted_out is False
    assert not ConsentEvent.objects.exists()
    assert AuditEntry.objects.filter(action="revocation_review", actor__username="rita").exists()


def test_bad_input_and_missing_permission_never_500(client, rita, reviews) -> None:
    ann_review, _ = reviews
    url = reverse("ui:review_resolve", args=[ann_review.pk])
    for bad in ("", "delete", "x" * 5000):
        assert rita.post(url, {"resolution": bad}).status_code == 302
    assert rita.get(url).status_code == 405
    assert rita.post(reverse("ui:review_resolve", args=[999999]), {}).status_code == 404
    ann_review.refresh_from_db()
    assert ann_review.resolved_at is None

    # A reader of the inbox without change_contact sees the flag but not the buttons, and the
    # service refuses them.
    reader = make_user("reader")
    reader.user_permissions.add(Permission.objects.get(codename="view_inboundmessage"))
    client.force_login(reader)
    page = client.get(reverse("ui:inbox")).content.decode()
    assert "May revoke consent" in page
    assert url not in page
    follow = client.post(url, {"resolution": "opted_out"}, follow=True).content.decode()
    assert "Not resolved" in follow
    assert "contacts.change_contact" in follow
    ann_review.refresh_from_db()
    assert ann_review.resolved_at is None


def test_the_service_checks_the_rule_and_the_choice(reviews) -> None:
    ann_review, _ = reviews
    with pytest.raises(Refused):
        revocation_review_resolve(review=ann_review, resolution="kept", actor=None)
    with pytest.raises(ReviewError):
        revocation_review_resolve(review=ann_review, resolution="maybe", actor=OPERATOR)
    done = revocation_review_resolve(review=ann_review, resolution="kept", actor=OPERATOR)
    assert done.resolution == "kept"
