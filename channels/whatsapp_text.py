"""WhatsApp free-form messages: text, an image or reply buttons, inside the 24-hour window
only, one recipient per request."""

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from channels.base import BUTTONS, HERALD, IMAGE, TEXT, Button, ChannelType, Outbound, SendOutcome
from infobip.client import InfobipClient
from infobip.errors import InfobipValidationError
from infobip.types import SendResult


class WhatsAppText(ChannelType):
    name = "whatsapp_text"
    label = "WhatsApp text"
    ledger = "whatsapp"
    medium_label = "WhatsApp"
    infobip_channel = "WHATSAPP"
    sender_kind = "whatsapp"
    default_fallback = ("sms",)
    sender_setting = "INFOBIP_WHATSAPP_SENDER"
    max_chars_setting = "HERALD_WHATSAPP_MAX_CHARS"
    report_path = "whatsapp/reports"
    inbound_path = "whatsapp/inbound"
    report_pull = "messages-api"
    validity = HERALD  # /whatsapp/1/message/* have no validity field: Herald expires them
    session_window = dt.timedelta(hours=24)
    session_field = "whatsapp_last_inbound_at"
    opt_in_setting = "HERALD_WHATSAPP_REQUIRE_OPT_IN"
    price_keys = ("whatsapp_text", "whatsapp")
    reply = True
    # An image (caption: the text) or up to 3 reply buttons (WhatsApp's interactive buttons:
    # a reply carrying the button's postback as its id, a title of at most 20 characters).
    content_kinds = frozenset({TEXT, IMAGE, BUTTONS})
    max_buttons = 3

    def button_problems(self, buttons: Sequence[Button]) -> list[str]:
        problems = []
        for button in buttons:
            if button.url:
                problems.append("WhatsApp reply buttons carry no link")
            if not button.text.strip() or len(button.text) > 20:
                problems.append(f"button title {button.text!r}: 1 to 20 characters")
            if not button.postback or len(button.postback) > 256:
                problems.append(f"button {button.text!r}: an id of 1 to 256 characters")
        if len({b.postback for b in buttons}) != len(buttons):
            problems.append("button ids must be different")
        return problems

    def normalise_sender(self, sender: str) -> str:
        # Imported here (and in whatsapp_template.py): the registry loads without Django's
        # apps, so scripts such as the price table's can read it.
        from whatsapp.services import normalise_sender

        return normalise_sender(sender)

    def send(
        self,
        client: InfobipClient,
        messages: Sequence[Outbound],
        *,
        bulk_id: str | None = None,
        tracking: Mapping[str, Any] | None = None,
    ) -> SendOutcome:
        # The WhatsApp text endpoint takes one recipient per request (docs/INFOBIP.md §11): a
        # message Infobip refuses fails alone, the rest of the batch still goes.
        outcome = SendOutcome(SendResult(bulk_id=None, messages=[]))
        for m in messages:
            url_options = dict(tracking) if tracking else None
            try:
                sent = _send_one(client, m, url_options)
                outcome.result.messages.append(sent)
            except InfobipValidationError as exc:
                outcome.refused.append((m.message_id, f"Infobip rejected the message: {exc}"))
        return outcome


def _send_one(client: InfobipClient, m: Outbound, url_options: dict[str, Any] | None) -> Any:
    """An image (the text its caption), reply buttons, or a text with a link preview."""
    if m.content.media_url:
        return client.send_whatsapp_image(
            sender=m.sender,
            to=m.to,
            media_url=m.content.media_url,
            message_id=m.message_id,
            caption=m.text,
            callback_data=m.callback_data,
            notify_url=m.notify_url,
            url_options=url_options,
        )
    if m.content.buttons:
        return client.send_whatsapp_buttons(
            sender=m.sender,
            to=m.to,
            text=m.text,
            message_id=m.message_id,
            buttons=[(b.postback, b.text) for b in m.content.buttons],
            callback_data=m.callback_data,
            notify_url=m.notify_url,
            url_options=url_options,
        )
    return client.send_whatsapp_text(
        sender=m.sender,
        to=m.to,
        text=m.text,
        message_id=m.message_id,
        callback_data=m.callback_data,
        notify_url=m.notify_url,
        preview_url="http://" in m.text or "https://" in m.text,
        url_options=url_options,
    )
