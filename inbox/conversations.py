"""Conversations: the replies people send to a contact, on any reply medium, and the thread's state.

A reply goes out through the ledger, as a one-off campaign of its own (like the API's
transactional sends, `campaigns.transactional`): it gets Herald's messageId and its report URL
before any request, is claimed before it is sent (never twice), and its delivery report, price
and errors land on its ledger row, which the thread shows as the reply's state. One service for
every surface: the conversation page, the inbox's quick reply, the API
(`POST /api/v1/conversations/{id}/replies`) and `manage.py conversation reply`.

What Herald refuses (empty, too long, a closed session window, an opted-out contact without a
transactional confirmation, a country's rule) raises `ReplyError` before anything is written,
so a page keeps the typed text. A key (the form's, the API's Idempotency-Key, `--key`) makes a
double click or a retry return the first reply instead of sending a second one.
"""

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from campaigns.permissions import REPLY
from campaigns.transactional import TransactionalError, messages_send_transactional
from channels.registry import UnknownChannel, medium_label, reply_mediums, reply_type
from contacts.models import Contact
from contacts.services import ReplyRefused, contact_reply_authorize
from core.rules import Actor, actor_require, actor_user
from core.services import audit_record
from inbox.models import ConversationReply, ConversationState
from infobip.models import InboundMessage
from whatsapp.mapping import (
    contact_values,
    mapping_resolve,
    mapping_validate,
    slot_from_text,
    template_places,
)
from whatsapp.models import WhatsAppTemplate
from whatsapp.services import template_check_sendable, template_render

KEY_MAX = 255


class ReplyError(ValueError):
    """A reply Herald will not send as asked (nothing was written); `field` is the one at fault
    (`text`, `channel`, `transactional`, `key`), so a form shows the words beside it."""

    def __init__(self, message: str, *, field: str = "text") -> None:
        super().__init__(message)
        self.field = field


def reply_channels() -> list[tuple[str, str]]:
    """(medium, label) of the mediums a reply can go on (registry types with `reply`)."""
    return reply_mediums()


def reply_options(contact: Contact, now: dt.datetime | None = None) -> list[dict[str, Any]]:
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


def _replayed(contact: Contact, key: str) -> ConversationReply | None:
    """The reply already sent with `key` (to this contact), else None."""
    if not key:
        return None
    reply = ConversationReply.objects.filter(idempotency_key=key).first()
    if reply is not None and reply.contact_id != contact.pk:
        raise ReplyError("this reply key was already used in another conversation", field="key")
    return reply


def _check_key(key: str) -> str:
    key = key.strip()
    if len(key) > KEY_MAX:  # cutting it would make two different keys one
        raise ReplyError(f"the reply key has more than {KEY_MAX} characters", field="key")
    return key


def conversation_reply(
    *,
    contact: Contact,
    channel: str,
    text: str,
    actor: Actor,
    transactional: bool = False,
    key: str = "",
    sender: str = "",
) -> ConversationReply:
    """Send a free-form reply to a contact on a medium through the ledger, once per `key`;
    from `sender`, else the number they last wrote to, else the medium's configured sender.

    An opted-out contact gets a reply only when the person confirms it is a transactional
    answer (contacts.services.contact_reply_authorize decides and audits)."""
    actor_require(actor, REPLY, doing="replying to a contact")
    key = _check_key(key)
    if (done := _replayed(contact, key)) is not None:
        return done
    text = text.strip()
    try:
        kind = reply_type(channel)
    except UnknownChannel:
        choices = " or ".join(label for _, label in reply_channels())
        raise ReplyError(f"choose {choices} for the reply", field="channel") from None
    if not text:
        raise ReplyError("the reply is empty")
    if problem := kind.cap_check(text):
        raise ReplyError(problem)
    if kind.session_field and (
        reason := kind.session_reason(
            contact.phone, getattr(contact, kind.session_field), timezone.now()
        )
    ):
        raise ReplyError(reason, field="channel")
    sender = sender.strip() or _reply_sender(contact, kind.ledger, kind.default_sender())
    try:
        with transaction.atomic():
            try:
                confirmed = contact_reply_authorize(
                    contact=contact, actor=actor, channel=kind.ledger, transactional=transactional
                )
            except ReplyRefused as exc:
                raise ReplyError(str(exc), field="transactional") from exc
            try:
                campaign, rows = messages_send_transactional(
                    channel=kind.name,
                    sender=sender,
                    phones=[contact.phone],
                    text=text,
                    respect_opt_out=not confirmed,
                    created_by=actor_user(actor),
                    name=f"Inbox reply to {contact.phone}",
                    reason="inbox reply",
                )
            except TransactionalError as exc:
                raise ReplyError(str(exc)) from exc
            if rows[0].state == "skipped":
                # A rule of the contact's country (or a consent check at the row) refuses it:
                # nothing is kept, so the person can change the reply and send again.
                raise ReplyError(f"Herald would not send it: {rows[0].reason}")
            reply = ConversationReply.objects.create(
                contact=contact,
                channel=kind.ledger,
                text=text,
                sender=sender,
                message_id=rows[0].message_id,
                campaign=campaign,
                sent_by=actor_user(actor),
                idempotency_key=key or None,
            )
            conversation_mark_handled(contact=contact, actor=actor, handled=True)
            detail = f"{medium_label(kind.ledger)} to {contact.phone}"
            audit_record(actor=actor, action="reply", contact=contact, detail=detail)
    except IntegrityError:
        # The same key sent at the same moment (a double click): the first one won; its
        # transaction is committed once the unique index let this one through.
        if (done := _replayed(contact, key)) is not None:
            return done
        raise
    return reply


def conversation_mark_read(*, contact: Contact) -> ConversationState:
    """Record that the thread was read now (its unread marker goes)."""
    state, _ = ConversationState.objects.get_or_create(contact=contact)
    state.read_at = timezone.now()
    state.save(update_fields=["read_at"])
    return state


def conversation_mark_handled(
    *, contact: Contact, actor: Actor, handled: bool
) -> ConversationState:
    """Mark a thread handled (nothing more to do) or open again."""
    state, _ = ConversationState.objects.get_or_create(contact=contact)
    state.handled_at = timezone.now() if handled else None
    state.handled_by = actor_user(actor) if handled else None
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
    actor: Actor,
    transactional: bool = False,
) -> ConversationReply:
    """Send an approved WhatsApp template from the thread (the way to write after the 24-hour
    window closed); `values` by template_fields name, `{{first_name}}` and the like allowed."""
    actor_require(actor, REPLY, doing="replying to a contact")
    if problem := template_check_sendable(template=template):
        raise ReplyError(problem, field="template")
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
        raise ReplyError(problems[0], field="template")
    resolved = mapping_resolve(template=template, mapping=mapping, contact=contact_values(contact))
    if resolved.values is None:
        raise ReplyError(f"no value for the {resolved.missing[0]}", field="template")
    with transaction.atomic():
        try:
            confirmed = contact_reply_authorize(
                contact=contact, actor=actor, channel="whatsapp", transactional=transactional
            )
        except ReplyRefused as exc:
            raise ReplyError(str(exc), field="transactional") from exc
        try:
            campaign, rows = messages_send_transactional(
                channel="whatsapp_template",
                sender=template.sender,
                phones=[contact.phone],
                template=template,
                values=resolved.values,
                respect_opt_out=not confirmed,
                created_by=actor_user(actor),
                name=f"Inbox reply to {contact.phone}",
                reason="inbox reply",
            )
        except TransactionalError as exc:
            raise ReplyError(str(exc), field="template") from exc
        reply = ConversationReply.objects.create(
            contact=contact,
            channel="whatsapp",
            sender=template.sender,
            text=template_render(template=template, values=resolved.values),
            message_id=rows[0].message_id,
            campaign=campaign,
            sent_by=actor_user(actor),
        )
    conversation_mark_handled(contact=contact, actor=actor, handled=True)
    what = f"whatsapp template {template.name} ({template.language}) to {contact.phone}"
    audit_record(actor=actor, action="reply", contact=contact, detail=what)
    return reply
