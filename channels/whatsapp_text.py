"""WhatsApp free text: inside the 24-hour window only, one recipient per request."""

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from channels.base import HERALD, ChannelType, Outbound, SendOutcome
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
            try:
                outcome.result.messages.append(
                    client.send_whatsapp_text(
                        sender=m.sender,
                        to=m.to,
                        text=m.text,
                        message_id=m.message_id,
                        callback_data=m.callback_data,
                        notify_url=m.notify_url,
                        preview_url="http://" in m.text or "https://" in m.text,
                        url_options=dict(tracking) if tracking else None,
                    )
                )
            except InfobipValidationError as exc:
                outcome.refused.append((m.message_id, f"Infobip rejected the message: {exc}"))
        return outcome
