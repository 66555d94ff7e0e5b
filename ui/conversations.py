"""Inbox conversations: replies by SMS or WhatsApp that the thread keeps, read and handled state.

A thread is everything exchanged with one contact: campaign messages, what they sent (keyword
messages included, marked), Herald's automatic keyword replies and the replies people sent from
the inbox. A reply goes out through the ledger, as a one-off campaign of its own (like the
API's transactional sends): it is claimed before it is sent (never twice), and its delivery
report, price and errors land on its ledger row, which the thread shows as the reply's state.
What Herald refuses (empty, too long, WhatsApp window closed, an opted-out contact without a
transactional confirmation) raises before anything is written, so the page keeps the text.
"""

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from campaigns.models import Channel
from campaigns.rendering import sms_cap_check, whatsapp_text_cap_check
from campaigns.transactional import TransactionalError, messages_send_transactional
from campaigns.whatsapp_session import whatsapp_window_reason
from contacts.models import Contact
from contacts.services import ReplyRefused, contact_reply_authorize
from infobip.models import InboundMessage
from ui.models import ConversationReply, ConversationState
from ui.services import UiError, audit_record
from whatsapp.mapping import (
    contact_values,
    mapping_resolve,
    mapping_validate,
    slot_from_text,
    template_places,
)
from whatsapp.models import WhatsAppTemplate
from whatsapp.services import template_check_sendable, template_render

CHANNELS = ("sms", "whatsapp")


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
    if problem := (sms_cap_check if channel == "sms" else whatsapp_text_cap_check)(text):
        raise UiError(problem)
    if channel == "whatsapp" and (reason := whatsapp_window_reason(contact=contact)):
        raise UiError(reason)
    sender = _reply_sender(contact, channel)
    with transaction.atomic():
        try:
            confirmed = contact_reply_authorize(
                contact=contact, actor=user, channel=channel, transactional=transactional
            )
        except ReplyRefused as exc:
            raise UiError(str(exc)) from exc
        try:
            campaign, rows = messages_send_transactional(
                channel=Channel.SMS if channel == "sms" else Channel.WHATSAPP_TEXT,
                sender=sender, phones=[contact.phone], text=text,
                respect_opt_out=not confirmed, created_by=user,
                name=f"Inbox reply to {contact.phone}", reason="inbox reply",
            )  # fmt: skip
        except TransactionalError as exc:
            raise UiError(str(exc)) from exc
        reply = ConversationReply.objects.create(
            contact=contact, channel=channel, text=text, sender=sender,
            message_id=rows[0].message_id, campaign=campaign,
            sent_by=user if user.is_authenticated else None,
        )  # fmt: skip
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


def template_fields(template: WhatsAppTemplate) -> list[tuple[str, str]]:
    """The (name, label) of each value a template takes in a thread's template send."""
    places = template_places(template)
    fields = [(f"header_{i}", p.label) for i, p in enumerate(places["header"])]
    fields += [(f"body_{i}", p.label) for i, p in enumerate(places["body"])]
    return fields + [(f"button_{i}", p.label) for i, p in places["buttons"].items()]


def conversation_template_send(
    *,
    contact: Contact,
    template: WhatsAppTemplate,
    values: dict[str, str],
    user: User,
    transactional: bool = False,
) -> ConversationReply:
    """Send an approved WhatsApp template from the thread (the way to write after the 24-hour
    window closed); `values` by template_fields name, `{{first_name}}` and the like allowed."""
    if problem := template_check_sendable(template=template):
        raise UiError(problem)
    places = template_places(template)
    mapping = {
        "header": [slot_from_text(values.get(f"header_{i}", ""))
                   for i in range(len(places["header"]))],
        "body": [slot_from_text(values.get(f"body_{i}", ""))
                 for i in range(len(places["body"]))],
        "buttons": [{"index": i, "slots": [slot_from_text(values.get(f"button_{i}", ""))]}
                    for i in places["buttons"]],
    }  # fmt: skip
    if problems := mapping_validate(template=template, mapping=mapping):
        raise UiError(problems[0])
    resolved = mapping_resolve(template=template, mapping=mapping, contact=contact_values(contact))
    if resolved.values is None:
        raise UiError(f"no value for the {resolved.missing[0]}")
    with transaction.atomic():
        try:
            confirmed = contact_reply_authorize(
                contact=contact, actor=user, channel="whatsapp", transactional=transactional
            )
        except ReplyRefused as exc:
            raise UiError(str(exc)) from exc
        try:
            campaign, rows = messages_send_transactional(
                channel=Channel.WHATSAPP_TEMPLATE, sender=template.sender, phones=[contact.phone],
                template=template, values=resolved.values, respect_opt_out=not confirmed,
                created_by=user, name=f"Inbox reply to {contact.phone}", reason="inbox reply",
            )  # fmt: skip
        except TransactionalError as exc:
            raise UiError(str(exc)) from exc
        reply = ConversationReply.objects.create(
            contact=contact, channel="whatsapp", sender=template.sender,
            text=template_render(template=template, values=resolved.values),
            message_id=rows[0].message_id, campaign=campaign,
            sent_by=user if user.is_authenticated else None,
        )  # fmt: skip
    conversation_mark_handled(contact=contact, user=user, handled=True)
    what = f"whatsapp template {template.name} ({template.language}) to {contact.phone}"
    audit_record(actor=user, action="reply", contact=contact, detail=what)
    return reply
