"""Inbound messages, keywords and their replies, and WhatsApp marketing preferences.

Inbound SMS and WhatsApp (any `message.type`) are stored once per Infobip messageId and linked
to the contact of the sender's number (created when unknown). A WhatsApp message also records
the contact's last inbound time, which opens the 24-hour window for free text. Keyword rules
(inbox/keywords.py) run once per message: opt-out (which skips the contact's messages not yet
sent), opt-in, help; each is confirmed with a reply through the same channel and number, sent
by a task after the commit and claimed before sending so it never goes twice.

`inbound_store` and `marketing_preferences_apply` are the receivers infobip.processing hands
parsed pushes to (registered in inbox.apps).
"""

import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime

import phonenumbers
from django.db import transaction
from django.utils import timezone

from campaigns.status_map import state_for_status
from campaigns.suppression import contacts_suppress
from channels.base import Outbound
from channels.registry import (
    UnknownChannel,
    channel_types,
    medium_for_infobip,
    medium_label,
    reply_type,
)
from contacts.consent import inbound_consent_capture
from contacts.models import ConsentChannel, ConsentSource, Contact
from contacts.phrases import inbound_revocation_check
from contacts.services import contacts_for_numbers, contacts_opt_in
from inbox.keywords import classify, first_word, reply_text
from inbox.tasks import send_keyword_reply
from infobip import signals
from infobip.client import get_client
from infobip.errors import InfobipError, InfobipOutcomeUnknownError, is_transient
from infobip.models import InboundMessage, KeywordAction, ReplyStatus
from infobip.receivers import Key
from infobip.webhooks import TEXT_TYPES, Inbound, clean, sane_time
from journeys.outcomes import replies_enter
from journeys.triggers import keyword_messages_enter
from journeys.waits import contacts_replied

logger = logging.getLogger(__name__)
_SEPARATORS = re.compile(r"[\s().\-/]")


class ReplyRetry(Exception):
    """The reply could not be sent now (throttled, 5xx, no connection): retry later."""


def e164(number: str) -> str | None:
    """A sender's number in E.164 (Infobip sends international digits without "+"), or None."""
    text = _SEPARATORS.sub("", number or "")
    if text.startswith("00"):
        text = text[2:]
    text = text.removeprefix("+")
    if not text.isdigit() or not 6 <= len(text) <= 15:
        return None
    try:
        parsed = phonenumbers.parse("+" + text)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def inbound_store(*, items: Sequence[tuple[Key, Inbound]]) -> int:
    """Store inbound messages (once each), update contacts, apply keywords; returns how many."""
    now = timezone.now()
    numbers = {key: e164(inbound.from_) for key, inbound in items}
    contacts = contacts_for_numbers(n for n in numbers.values() if n)
    rows = [
        _inbound_row(key, inbound, contacts.get(numbers[key] or ""), now) for key, inbound in items
    ]
    InboundMessage.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    _session_windows(rows)
    _apply_keywords([r.infobip_message_id for r in rows], now)
    signals.inbound_received.send(
        InboundMessage, infobip_message_ids=[r.infobip_message_id for r in rows]
    )
    return len(rows)


def _inbound_row(
    key: Key, inbound: Inbound, contact_id: int | None, now: datetime
) -> InboundMessage:
    return InboundMessage(
        # Stored as the medium (sms, whatsapp, viber, rcs): Infobip's name, mapped by the registry.
        channel=medium_for_infobip(inbound.channel),
        contact_id=contact_id,
        event_id=key[0],
        # A message without Infobip's id still gets a stable one: its place in the push.
        infobip_message_id=clean(inbound.message_id, 200) or f"event-{key[0]}-{key[1]}",
        from_number=clean(inbound.from_, 150),
        to_number=clean(inbound.to, 64),
        message_type=clean(inbound.message_type, 64),
        text=clean(inbound.text),
        clean_text=clean(inbound.clean_text),
        keyword=clean(inbound.keyword, 64),
        media_url=clean(inbound.media_url, 2048),
        payload=clean(inbound.payload),
        received_at=sane_time(inbound.received_at) or now,
    )


def _session_windows(rows: list[InboundMessage]) -> None:
    """Contacts' last inbound time on mediums with a session window (WhatsApp's 24 hours)."""
    fields = {kind.ledger: kind.session_field for kind in channel_types() if kind.session_field}
    by_medium: dict[str, list[InboundMessage]] = defaultdict(list)
    for row in rows:
        by_medium[row.channel].append(row)
    for medium, field_name in fields.items():
        _last_inbound(by_medium[medium], field_name)


def _last_inbound(rows: list[InboundMessage], field_name: str) -> None:
    """The latest of what is stored and what arrived, for the contacts of `rows`."""
    latest: dict[int, datetime] = {}
    for row in rows:
        if row.contact_id and (
            row.contact_id not in latest or row.received_at > latest[row.contact_id]
        ):
            latest[row.contact_id] = row.received_at
    if not latest:
        return
    contacts = list(
        Contact.objects.filter(id__in=latest)
        .select_for_update()
        .order_by("id")
        .only("id", field_name)
    )
    changed = []
    for contact in contacts:
        new = latest[contact.pk]
        current = getattr(contact, field_name)
        if current is None or current < new:
            setattr(contact, field_name, new)
            changed.append(contact)
    Contact.objects.bulk_update(changed, [field_name], batch_size=500)


def _apply_keywords(message_ids: list[str], now: datetime) -> None:
    """Keyword rules for messages not handled yet, in the order they were sent."""
    new = list(
        InboundMessage.objects.filter(infobip_message_id__in=message_ids, handled_at__isnull=True)
        .select_for_update()
        .order_by("received_at", "id")
    )
    replies = []
    unclaimed: list[InboundMessage] = []  # no keyword of inbox's: a journey's, or a reply
    for message in new:
        typed = message.message_type in TEXT_TYPES
        action = classify(message.text) if typed else KeywordAction.NONE.value
        if typed and action != KeywordAction.OPT_OUT:  # #17: opt-in keywords, double opt-in YES
            captured, answer, message.contact_id = inbound_consent_capture(
                contact_id=message.contact_id,
                phone=e164(message.from_number) or "",
                to_number=message.to_number,
                text=message.text,
            )
            if captured or answer:
                message.keyword_action, message.handled_at = captured, now
                if answer:
                    message.reply_text, message.reply_status = answer, ReplyStatus.PENDING
                    replies.append(message.pk)
                continue
        if typed and not action:  # #17: revocation by phrase ("please stop texting me")
            action = inbound_revocation_check(
                contact_id=message.contact_id,
                inbound_id=message.pk,
                text=message.text,
                received_at=message.received_at,
            )
        message.keyword_action, message.handled_at = action, now
        if not action:
            if message.contact_id:
                unclaimed.append(message)
            continue
        if message.contact_id:
            _consent(message, action)
        elif action != KeywordAction.HELP:
            continue  # no contact to opt out or in: do not confirm what did not happen
        text = reply_text(action)
        if text:
            message.reply_text, message.reply_status = text, ReplyStatus.PENDING
            replies.append(message.pk)
    _journeys(unclaimed)
    fields = ["keyword_action", "handled_at", "reply_text", "reply_status", "contact"]
    InboundMessage.objects.bulk_update(new, fields, batch_size=500)
    if replies:
        for pk in replies:
            transaction.on_commit(_reply_later(pk), robust=True)


def _journeys(messages: list[InboundMessage]) -> None:
    """Messages no keyword of inbox's claimed: a journey's keyword, else a reply it may await."""
    if not messages:
        return
    typed = [m for m in messages if m.message_type in TEXT_TYPES]  # SMS are TEXT too
    claimed = keyword_messages_enter(
        messages=[(m.pk, m.contact_id or 0, m.text, m.to_number) for m in typed]
    )
    for message in messages:
        if message.pk in claimed:
            message.keyword_action = KeywordAction.JOURNEY
    replies = [
        (m.pk, m.contact_id, m.received_at)
        for m in messages
        if m.pk not in claimed and m.contact_id is not None
    ]
    contacts_replied(contact_ids=[contact for _, contact, _ in replies])
    replies_enter(messages=replies)


def _reply_later(inbound_id: int) -> Callable[[], None]:
    # A named function, not a partial: Django's robust on_commit logs the callback's name.
    def enqueue() -> None:
        send_keyword_reply.delay(inbound_id)

    return enqueue


def _consent(message: InboundMessage, action: str) -> None:
    if message.contact_id is None:
        return
    note = f"{first_word(message.text).upper()} by {medium_label(message.channel)}"
    channel = message.channel if message.channel in ConsentChannel.values else "all"
    if action == KeywordAction.OPT_OUT:
        contacts_suppress(
            contact_ids=[message.contact_id],
            source=ConsentSource.KEYWORD,
            channel=channel,
            note=note,
        )
    elif action == KeywordAction.OPT_IN:
        contacts_opt_in(
            contact_ids=[message.contact_id],
            source=ConsentSource.KEYWORD,
            channel=channel,
            note=note,
        )


def inbound_reply_send(*, inbound_id: int) -> str:
    """Send the keyword confirmation of one inbound message, once; returns the reply status."""
    claimed = InboundMessage.objects.filter(pk=inbound_id, reply_status=ReplyStatus.PENDING)
    if not claimed.update(reply_status=ReplyStatus.SENDING):
        return (
            InboundMessage.objects.filter(pk=inbound_id)
            .values_list("reply_status", flat=True)
            .first()
            or ""
        )
    message = InboundMessage.objects.get(pk=inbound_id)
    rows = InboundMessage.objects.filter(pk=inbound_id)
    message_id = str(uuid.uuid4())
    try:
        status, error = _send_reply(message, message_id)
    except InfobipError as exc:
        if is_transient(exc):
            rows.update(reply_status=ReplyStatus.PENDING, reply_error=str(exc)[:500])
            raise ReplyRetry(str(exc)) from exc
        unknown = isinstance(exc, InfobipOutcomeUnknownError)
        status = ReplyStatus.UNKNOWN if unknown else ReplyStatus.FAILED
        error = str(exc)
    rows.update(
        reply_status=status,
        reply_message_id=message_id,
        reply_sent_at=timezone.now() if status == ReplyStatus.SENT else None,
        reply_error=error[:500],
    )
    return status


def _send_reply(message: InboundMessage, message_id: str) -> tuple[str, str]:
    """The confirmation, on the medium and from the number the person wrote to."""
    try:
        kind = reply_type(message.channel)
    except UnknownChannel as exc:
        return ReplyStatus.FAILED, str(exc)
    outbound = Outbound(
        to=message.from_number.removeprefix("+"),
        message_id=message_id,
        text=message.reply_text,
        sender=message.to_number or kind.default_sender(),
        notify_url="",
    )
    outcome = kind.send(get_client(), [outbound])
    if outcome.refused:
        return ReplyStatus.FAILED, outcome.refused[0][1]
    answer = outcome.result.messages
    status = answer[0].status if answer else None
    if status is not None and state_for_status(status) != "accepted":
        return ReplyStatus.FAILED, f"Infobip answered {status.name}: {status.description}"
    return ReplyStatus.SENT, ""


def inbound_reply_give_up(*, inbound_id: int, error: str) -> None:
    """Retries exhausted: the reply is marked failed (it is never sent twice)."""
    InboundMessage.objects.filter(
        pk=inbound_id, reply_status__in=[ReplyStatus.PENDING, ReplyStatus.SENDING]
    ).update(reply_status=ReplyStatus.FAILED, reply_error=error[:500])


# --- Marketing preferences --------------------------------------------------------------------


def marketing_preferences_apply(*, notifications: Sequence[tuple[str, str, str]]) -> int:
    """WhatsApp "stop"/"resume" marketing notifications: opt out, or back in if that was why."""
    numbers = {user: e164(user) for user, _, _ in notifications}
    contacts = contacts_for_numbers(n for n in numbers.values() if n)
    changed = 0
    for user, _sender, status in notifications:
        contact_id = contacts.get(numbers[user] or "")
        if contact_id is None:
            continue
        if status == "stop":
            changed += contacts_suppress(
                contact_ids=[contact_id],
                source=ConsentSource.PROVIDER_ERROR,
                channel=ConsentChannel.WHATSAPP,
                note="WhatsApp: the user stopped marketing messages",
            )
            continue
        # Resume undoes only an opt-out that came from this same WhatsApp preference.
        stopped_here = Contact.objects.filter(
            pk=contact_id,
            opted_out=True,
            opted_out_source=ConsentSource.PROVIDER_ERROR,
            opted_out_channel=ConsentChannel.WHATSAPP,
        ).exists()
        if stopped_here:
            changed += contacts_opt_in(
                contact_ids=[contact_id],
                source=ConsentSource.PROVIDER_ERROR,
                channel=ConsentChannel.WHATSAPP,
                note="WhatsApp: the user resumed marketing messages",
            )
    return changed
