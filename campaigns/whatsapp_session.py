"""WhatsApp messages beyond templates: text (with link preview), image, reply buttons.

WhatsApp delivers free-form messages only inside the 24-hour customer-service window that the
person's last inbound message opened (Contact.whatsapp_last_inbound_at). Outside it Herald
refuses before calling Infobip, with the reason, instead of sending something that can only
fail (Infobip would answer with an undeliverable report). Used for replies from the inbox.
"""

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from typing import Literal

from django.conf import settings
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.permissions import REPLY
from campaigns.rendering import whatsapp_text_cap_check
from campaigns.services import CampaignError
from campaigns.transactional import (
    TransactionalError,
    TransactionalMessage,
    messages_send_transactional,
)
from channels.base import Button
from channels.registry import channel_type
from contacts.models import Contact
from core.rules import Actor, actor_require, actor_user
from core.services import audit_record
from infobip.client import get_client
from infobip.types import SentMessage

logger = logging.getLogger(__name__)

# The WhatsApp free-text type of the channel registry: its session window is the rule here.
WHATSAPP_TEXT = "whatsapp_text"
WHATSAPP_WINDOW = dt.timedelta(hours=24)
# Limits of the spec (ImageContent.caption, InteractiveBodyContent.text, footer, buttons) and
# of WhatsApp (a reply button title is at most 20 characters, its id at most 256).
CAPTION_MAX = 3000
BUTTONS_BODY_MAX = 1024
FOOTER_MAX = 60
HEADER_MAX = 60
BUTTON_TITLE_MAX = 20
BUTTON_ID_MAX = 256
MAX_BUTTONS = 3

Kind = Literal["text", "image", "buttons"]


class WhatsAppSessionError(CampaignError):
    """A free-form WhatsApp message Herald will not send, with the reason."""


def whatsapp_window_reason(*, contact: Contact, now: dt.datetime | None = None) -> str | None:
    """Why free-form WhatsApp cannot go to `contact` now, or None inside the 24-hour window."""
    kind = channel_type(WHATSAPP_TEXT)
    reason = kind.session_reason(
        contact.phone, contact.whatsapp_last_inbound_at, now or timezone.now()
    )
    return reason or None


def whatsapp_session_send(
    *,
    contact: Contact,
    kind: Kind,
    text: str = "",
    media_url: str = "",
    buttons: Sequence[tuple[str, str]] = (),
    footer: str = "",
    header: str = "",
    sender: str | None = None,
    now: dt.datetime | None = None,
) -> SentMessage:
    """Send a free-form WhatsApp message inside the 24-hour window; refuse (with why) otherwise.

    `text` is the message (kind text), the caption (image) or the body (buttons); `buttons` are
    (id, title) reply buttons, 1 to 3.
    """
    problems = _content_problems(kind, text, media_url, buttons, footer, header)
    if problems:
        raise WhatsAppSessionError("; ".join(problems))
    if reason := whatsapp_window_reason(contact=contact, now=now):
        raise WhatsAppSessionError(reason)
    client = get_client()
    sender = sender or settings.INFOBIP_WHATSAPP_SENDER
    to, message_id = contact.phone.lstrip("+"), f"session-{uuid.uuid4()}"
    if kind == "text":
        preview = "http://" in text or "https://" in text
        sent = client.send_whatsapp_text(
            sender=sender, to=to, text=text, message_id=message_id, preview_url=preview
        )
    elif kind == "image":
        sent = client.send_whatsapp_image(
            sender=sender, to=to, media_url=media_url, caption=text, message_id=message_id
        )
    else:
        sent = client.send_whatsapp_buttons(
            sender=sender,
            to=to,
            text=text,
            buttons=list(buttons),
            footer=footer,
            header_text=header,
            message_id=message_id,
        )
    logger.info("whatsapp %s sent to contact %s: %s", kind, contact.pk, sent.message_id)
    return sent


def whatsapp_session_queue(
    *,
    phone: str,
    kind: Kind,
    actor: Actor,
    text: str = "",
    media_url: str = "",
    buttons: Sequence[tuple[str, str]] = (),
    sender: str | None = None,
    respect_opt_out: bool = True,
) -> tuple[Campaign, TransactionalMessage]:
    """Queue a free-form WhatsApp message through the ledger (consent and window rules apply).

    The message is a ledger row like any send: Herald's messageId, claimed before it is sent,
    reports and prices reconciled, counted by frequency caps. An opted-out contact or a closed
    24-hour window makes it `skipped` with the reason (nothing is sent). `respect_opt_out=False`
    only for an answer confirmed as transactional (contacts.services.contact_reply_authorize).
    `buttons` are (id, title) reply buttons; the channel type checks the content.
    """
    actor_require(actor, REPLY, doing="reply on WhatsApp")
    if kind not in ("text", "image", "buttons"):
        raise WhatsAppSessionError(f"unknown WhatsApp message kind {kind!r}")
    try:
        campaign, rows = messages_send_transactional(
            channel=WHATSAPP_TEXT,
            sender=sender or settings.INFOBIP_WHATSAPP_SENDER,
            phones=[phone],
            text=text,
            media_url=media_url if kind == "image" else "",
            buttons=[Button(text=title, postback=key) for key, title in buttons],
            respect_opt_out=respect_opt_out,
            created_by=actor_user(actor),
            name=f"WhatsApp {kind} reply to {phone}",
        )
    except TransactionalError as exc:
        raise WhatsAppSessionError(str(exc)) from exc
    audit_record(
        actor=actor,
        action="whatsapp_reply",
        campaign=campaign,
        detail=f"{kind} to {phone}: {rows[0].state}",
    )
    return campaign, rows[0]


def _content_problems(
    kind: str,
    text: str,
    media_url: str,
    buttons: Sequence[tuple[str, str]],
    footer: str,
    header: str,
) -> list[str]:
    if kind not in ("text", "image", "buttons"):
        return [f"unknown WhatsApp message kind {kind!r}; use text, image or buttons"]
    problems = []
    if kind == "text":
        if not text.strip():
            problems.append("the message text is empty")
        elif problem := whatsapp_text_cap_check(text):
            problems.append(problem)
    elif kind == "image":
        if not media_url.startswith(("https://", "http://")):
            problems.append("an image needs an http(s) URL (JPG or PNG, at most 5 MB)")
        if len(text) > CAPTION_MAX:
            problems.append(
                f"the caption is {len(text):,} characters; the limit is {CAPTION_MAX:,}"
            )
    else:
        if not text.strip():
            problems.append("the message text is empty")
        elif len(text) > BUTTONS_BODY_MAX:
            problems.append(
                f"the text is {len(text):,} characters; with buttons the limit is "
                f"{BUTTONS_BODY_MAX:,}"
            )
        if not 1 <= len(buttons) <= MAX_BUTTONS:
            problems.append(f"reply buttons: 1 to {MAX_BUTTONS}, not {len(buttons)}")
        for button_id, title in buttons:
            if not title.strip() or len(title) > BUTTON_TITLE_MAX:
                problems.append(f"button title {title!r}: 1 to {BUTTON_TITLE_MAX} characters")
            if not button_id or len(button_id) > BUTTON_ID_MAX:
                problems.append(f"button id {button_id!r}: 1 to {BUTTON_ID_MAX} characters")
        if len({button_id for button_id, _ in buttons}) != len(buttons):
            problems.append("button ids must be different")
        if len(footer) > FOOTER_MAX:
            problems.append(f"the footer is longer than {FOOTER_MAX} characters")
        if len(header) > HEADER_MAX:
            problems.append(f"the header is longer than {HEADER_MAX} characters")
    return problems
