"""Inbox conversations: replies on any reply medium that the thread keeps, read and handled state.

A thread is everything exchanged with one contact: campaign messages, what they sent (keyword
messages included, marked), Herald's automatic keyword replies and the replies people sent from
the inbox. Replies are stored only once Infobip accepted them; a refusal raises with Infobip's
reason and stores nothing, so the page can show the error with the typed text kept.
"""

import datetime as dt
import uuid

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from campaigns.transactional import TransactionalError, messages_send_transactional
from channels.base import Outbound
from channels.registry import UnknownChannel, medium_label, reply_mediums, reply_type
from contacts.models import Contact
from contacts.services import ReplyRefused, contact_reply_authorize
from infobip.client import get_client
from infobip.errors import InfobipError
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

# A send answer in these groups means the reply will not arrive: say so, keep nothing.
REFUSED_GROUPS = ("REJECTED", "UNDELIVERABLE")


def reply_channels() -> list[tuple[str, str]]:
    """(medium, label) of the mediums a reply can go on (registry types with `reply`)."""
    return reply_mediums()


def reply_options(contact: Contact, now: dt.datetime | None = None) -> list[dict]:
    """Each reply medium with whether a free-form reply may go now, why not, until when."""
    now = now or timezone.now()
    options = []
    for medium, label in reply_channels():
        kind = reply_type(medium)
        last = getattr(contact, kind.session_field) if kind.session_field else None
        reason = kind.session_reason(contact.phone, last, now) if kind.session_field else ""
        window = kind.session_window
        closes = last + window if last and window and not reason else None
        hours = int(window.total_seconds() // 3600) if window else 0
        options.append(
            {
                "medium": medium,
                "label": label,
                "open": not reason,
                "reason": reason,
                "closes": closes,
                "window": window,
                "hours": hours,
            }
        )
    return options


def _reply_sender(contact: Contact, medium: str, default: str) -> str:
    """The number the contact last wrote to on this medium, else the configured sender."""
    last_to = (
        InboundMessage.objects.filter(contact=contact, channel=medium)
        .exclude(to_number="")
        .order_by("-received_at")
        .values_list("to_number", flat=True)
        .first()
    )
    return last_to or default


def conversation_reply(
    *, contact: Contact, channel: str, text: str, user: User, transactional: bool = False
) -> ConversationReply:
    """Send a reply to a contact on a medium (inside its session window, if any) and keep it.

    An opted-out contact gets a reply only when the person confirms it is a transactional
    answer (contacts.services.contact_reply_authorize decides and audits)."""
    text = text.strip()
    try:
        kind = reply_type(channel)
    except UnknownChannel:
        choices = " or ".join(label for _, label in reply_channels())
        raise UiError(f"choose {choices} for the reply") from None
    if not text:
        raise UiError("the reply is empty")
    try:
        contact_reply_authorize(
            contact=contact, actor=user, channel=kind.ledger, transactional=transactional
        )
    except ReplyRefused as exc:
        raise UiError(str(exc)) from exc
    if problem := kind.cap_check(text):
        raise UiError(problem)
    if kind.session_field and (
        reason := kind.session_reason(
            contact.phone, getattr(contact, kind.session_field), timezone.now()
        )
    ):
        raise UiError(reason)
    sender = _reply_sender(contact, kind.ledger, kind.default_sender())
    message = Outbound(
        to=contact.phone.lstrip("+"),
        message_id=str(uuid.uuid4()),
        text=text,
        sender=sender,
        notify_url="",
    )
    try:
        outcome = kind.send(get_client(), [message])
    except InfobipError as exc:
        raise UiError(f"Infobip refused the reply: {exc}") from exc
    if outcome.refused:
        raise UiError(outcome.refused[0][1])
    sent = outcome.result.messages[0] if outcome.result.messages else None
    if sent is not None and sent.status and sent.status.group_name in REFUSED_GROUPS:
        reason = sent.status.description or sent.status.name
        raise UiError(f"Infobip refused the reply: {reason} ({sent.status.name})")
    reply = ConversationReply.objects.create(
        contact=contact,
        channel=kind.ledger,
        text=text,
        sender=sender,
        message_id=(sent.message_id if sent else "") or "",
        status_name=(sent.status.name if sent and sent.status else "")[:100],
        sent_by=user if user.is_authenticated else None,
    )
    conversation_mark_handled(contact=contact, user=user, handled=True)
    detail = f"{medium_label(kind.ledger)} to {contact.phone}"
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
        "header": [
            slot_from_text(values.get(f"header_{i}", "")) for i in range(len(places["header"]))
        ],
        "body": [slot_from_text(values.get(f"body_{i}", "")) for i in range(len(places["body"]))],
        "buttons": [
            {"index": i, "slots": [slot_from_text(values.get(f"button_{i}", ""))]}
            for i in places["buttons"]
        ],
    }
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
                channel="whatsapp_template",
                sender=template.sender,
                phones=[contact.phone],
                template=template,
                values=resolved.values,
                respect_opt_out=not confirmed,
                created_by=user,
                name=f"Inbox reply to {contact.phone}",
                reason="inbox reply",
            )
        except TransactionalError as exc:
            raise UiError(str(exc)) from exc
        reply = ConversationReply.objects.create(
            contact=contact,
            channel="whatsapp",
            sender=template.sender,
            text=template_render(template=template, values=resolved.values),
            message_id=rows[0].message_id,
            campaign=campaign,
            sent_by=user if user.is_authenticated else None,
        )
    conversation_mark_handled(contact=contact, user=user, handled=True)
    what = f"whatsapp template {template.name} ({template.language}) to {contact.phone}"
    audit_record(actor=user, action="reply", contact=contact, detail=what)
    return reply
