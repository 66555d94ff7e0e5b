"""Evidence export and erasure: counts and costs stay right, numbers and texts go, audited."""

import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from campaigns.erasure import ErasureError, contact_erase, contact_evidence
from campaigns.models import Campaign, Message
from campaigns.services import campaign_recount, campaign_status
from contacts.models import ConsentEvent, Contact
from contacts.services import contact_opt_out
from core.rules import SYSTEM
from infobip.models import Click, InboundMessage

pytestmark = pytest.mark.django_db
PHONE = "+447946000001"


@pytest.fixture
def history() -> tuple[Contact, Campaign]:
    ann = Contact.objects.create(phone=PHONE, first_name="Ann")
    bob = Contact.objects.create(phone="+447946000002", first_name="Bob")
    campaign = Campaign.objects.create(name="sale", channel="sms", text="Hi", state="completed")
    for contact in (ann, bob):
        message = Message.objects.create(
            campaign=campaign,
            contact=contact,
            phone=contact.phone,
            channel="sms",
            text=f"Hi {contact.first_name}",
            state="delivered",
            price=Decimal("0.05"),
            done_at=timezone.now(),
        )
    Click.objects.create(message=message, recipient=bob.phone, clicked_at=timezone.now())
    InboundMessage.objects.create(
        channel="sms",
        contact=ann,
        infobip_message_id="in-1",
        from_number=PHONE[1:],
        text="STOP",
        received_at=timezone.now(),
        keyword_action="opt_out",
    )
    contact_opt_out(contact=ann, source="keyword", channel="sms", note="STOP by SMS")
    campaign_recount(campaign=campaign)
    return ann, campaign


def test_the_evidence_says_what_they_were_sent_and_how_they_opted_out(history) -> None:
    ann, _campaign = history
    evidence = contact_evidence(contact=ann)
    assert evidence["contact"]["phone"] == PHONE
    assert [e["action"] for e in evidence["consent_events"]] == ["opt_out"]
    assert evidence["consent_events"][0]["note"] == "STOP by SMS"
    assert [(m["campaign"], m["text"], m["state"]) for m in evidence["messages"]] == [
        ("sale", "Hi Ann", "delivered")
    ]
    assert evidence["replies"][0]["text"] == "STOP"
    out = io.StringIO()
    call_command("contact_privacy", "evidence", PHONE[1:], stdout=out)  # Infobip format
    assert json.loads(out.getvalue())["messages"][0]["text"] == "Hi Ann"


def test_erasure_keeps_counts_and_costs_and_forgets_the_person(history) -> None:
    ann, campaign = history
    before = campaign_status(campaign=campaign, breakdown=True)
    result = contact_erase(contact=ann, actor=SYSTEM)
    assert result == {
        "ledger_rows": 1,
        "campaigns": 1,
        "replies": 1,
        "clicks": 0,
        "archived_rows": 0,
        "archived_campaigns": 0,
    }
    assert not Contact.objects.filter(phone=PHONE).exists()
    assert not ConsentEvent.objects.filter(contact_id=ann.pk).exists()
    assert not Message.objects.filter(phone=PHONE).exists()
    assert not Message.objects.filter(text="Hi Ann").exists()
    assert not InboundMessage.objects.filter(from_number=PHONE[1:]).exists()
    # Recounting from the ledger gives the same figures: nothing was lost but the person.
    campaign_recount(campaign=campaign)
    after = campaign_status(campaign=campaign, breakdown=True)
    assert (after["counts"], after["cost"]) == (before["counts"], before["cost"])
    assert Message.objects.filter(campaign=campaign, contact__isnull=True).count() == 1


def test_the_command_erases_only_when_confirmed_and_audits_without_the_number(history) -> None:
    from ui.models import AuditEntry

    with pytest.raises(CommandError, match="add --yes"):
        call_command("contact_privacy", "erase", PHONE)
    assert Contact.objects.filter(phone=PHONE).exists()
    out = io.StringIO()
    call_command("contact_privacy", "erase", "0044 7946 000001", "--yes", "--json", stdout=out)
    assert json.loads(out.getvalue())["ledger_rows"] == 1
    entry = AuditEntry.objects.get(action="contact_erase")
    assert entry.actor_name == "operator"
    assert entry.detail.startswith("contact #")
    assert "7946000001" not in entry.detail
    with pytest.raises(CommandError, match="no contact with the number"):
        call_command("contact_privacy", "erase", PHONE, "--yes")


def test_a_contact_with_messages_in_flight_is_not_erased(history) -> None:
    ann, _campaign = history
    Message.objects.filter(contact=ann).update(state="queued")
    with pytest.raises(ErasureError, match="messages being sent"):
        contact_erase(contact=ann, actor=SYSTEM)
    assert Contact.objects.filter(pk=ann.pk).exists()
