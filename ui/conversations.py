"""Inbox conversations: replies by SMS or WhatsApp that the thread keeps, read and handled state.

A thread is everything exchanged with one contact: campaign messages, what they sent (keyword
messages included, marked), Herald's automatic keyword replies and the replies people sent from
the inbox. Replies are stored only once Infobip accepted them; a refusal raises with Infobip's
reason and stores nothing, so the page can show the error with the typed text kept.
"""

import uuid

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from campaigns.rendering import sms_cap_check
from campaigns.services import CampaignError
from campaigns.whatsapp_session import whatsapp_session_send, whatsapp_window_reason
from contacts.models import Contact
from contacts.services import ReplyRefused, contact_reply_authorize
from infobip.client import get_client
from infobip.errors import InfobipError
from infobip.models import InboundMessage
from infobip.types import SmsMessage
from ui.models import ConversationReply, ConversationState
from ui.services import UiError, audit_record

CHANNELS = ("sms", "whatsapp")
# A send answer in these groups means the reply will not arrive: say so, keep nothing.
REFUSED_GROUPS = ("REJECTED", "UNDELIVERABLE")


def _reply_sender(contact: Contact, channel: str) -> str:
    """The number the contact last wrote to on this channel, else the configured sender."""
    last_to = (
        InboundMessage.objects.filter(contact=contact, channel=channel)
        .exclude(to_number="")
        .order_by("-received_at")
        .values_list("to_number", flat=True)
        .first()
    )
    if last_to:
        return last_to
    return settings.INFOBIP_SMS_SENDER if channel == "sms" else settings.INFOBIP_WHATSAPP_SENDER


def conversation_reply(
    *, contact: Contact, channel: str, text: str, user: User, transactional: bool = False
) -> ConversationReply:
    """Send a reply to a contact by SMS or WhatsApp (inside the 24 h window) and keep it.

    An opted-out contact gets a reply only when the person confirms it is a transactional
    answer (contacts.services.contact_reply_authorize decides and audits)."""
    text = text.strip()
    if channel not in CHANNELS:
        raise UiError("choose SMS or WhatsApp for the reply")
    if not text:
        raise UiError("the reply is empty")
    try:
        contact_reply_authorize(
            contact=contact, actor=user, channel=channel, transactional=transactional
        )
    except ReplyRefused as exc:
        raise UiError(str(exc)) from exc
    sender = _reply_sender(contact, channel)
    try:
        if channel == "sms":
            if problem := sms_cap_check(text):
                raise UiError(problem)
            result = get_client().send_sms(
                [SmsMessage(to=contact.phone.lstrip("+"), text=text, sender=sender,
                            message_id=str(uuid.uuid4()))]
            )  # fmt: skip
            sent = result.messages[0] if result.messages else None
        else:
            if reason := whatsapp_window_reason(contact=contact):
                raise UiError(reason)
            sent = whatsapp_session_send(contact=contact, kind="text", text=text, sender=sender)
    except InfobipError as exc:
        raise UiError(f"Infobip refused the reply: {exc}") from exc
    except CampaignError as exc:
        raise UiError(str(exc)) from exc
    if sent is not None and sent.status and sent.status.group_name in REFUSED_GROUPS:
        reason = sent.status.description or sent.status.name
        raise UiError(f"Infobip refused the reply: {reason} ({sent.status.name})")
    reply = ConversationReply.objects.create(
        contact=contact,
        channel=channel,
        text=text,
        sender=sender,
        message_id=(sent.message_id if sent else "") or "",
        status_name=(sent.status.name if sent and sent.status else "")[:100],
        sent_by=user if user.is_authenticated else None,
    )
    conversation_mark_handled(contact=contact, user=user, handled=True)
    detail = f"{channel} to {contact.phone}"
    audit_record(actor=user, action="reply", contact=contact, detail=detail)
    return reply


def conversation_mark_read(*, contact: Contact) -> ConversationState:
    """Record that the thread was read now (its unread marker goes)."""
    state, _ = ConversationState.objects.get_or_create(contact=contact)
    state.read_at = timezone.now()
    state.save(update_fields=["read_at"])
    return state


def conversation_mark_handled(*, contact: Contact, user: User, handled: bool) -> ConversationState:
    """Mark a thread handled (nothing more to do) or open again."""
    state, _ = ConversationState.objects.get_or_create(contact=contact)
    state.handled_at = timezone.now() if handled else None
    state.handled_by = user if handled and user.is_authenticated else None
    state.save(update_fields=["handled_at", "handled_by"])
    return state
