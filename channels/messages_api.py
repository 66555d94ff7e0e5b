"""Channel types sent through Infobip's Messages API (`POST /messages-api/1/messages`).

Viber and RCS (and any later Messages API channel) share the request, the report and inbound
shapes: text, or an image with a caption, plus buttons; reports pushed to
`messages/reports` and pulled from `/messages-api/1/reports?channel=…`; inbound pushed to
`messages/inbound`. A subclass declares its names, limits and button rules.
"""

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from channels.base import (
    BUTTONS,
    IMAGE,
    PROVIDER,
    TEXT,
    Button,
    ChannelType,
    Outbound,
    SendOutcome,
)
from infobip.client import InfobipClient
from infobip.types import MessagesApiButton, MessagesApiMessage


class MessagesApiChannel(ChannelType):
    content_kinds = frozenset({TEXT, IMAGE, BUTTONS})
    report_path = "messages/reports"
    inbound_path = "messages/inbound"
    report_pull = "messages-api"
    validity = PROVIDER  # options.validityPeriod, at most 48 h
    fallback_step = True
    reply = True
    button_text_max: ClassVar[int] = 25
    buttons_need_url: ClassVar[bool] = False

    def button_problems(self, buttons: Sequence[Button]) -> list[str]:
        problems = []
        for button in buttons:
            if not button.text.strip() or len(button.text) > self.button_text_max:
                problems.append(f"button {button.text!r}: 1 to {self.button_text_max} characters")
            if button.url and not button.url.startswith("https://"):
                problems.append(f"button {button.text!r}: the link needs https://")
            if self.buttons_need_url and not button.url:
                problems.append(f"button {button.text!r}: {self.label} buttons open a link")
        return problems

    def send(
        self,
        client: InfobipClient,
        messages: Sequence[Outbound],
        *,
        bulk_id: str | None = None,
        tracking: Mapping[str, Any] | None = None,
    ) -> SendOutcome:
        result = client.send_messages(
            [self.message(m) for m in messages],
            bulk_id=bulk_id,
            tracking=dict(tracking) if tracking else None,
        )
        return SendOutcome(result)

    def message(self, m: Outbound) -> MessagesApiMessage:
        """Infobip's Messages API message for one outbound row."""
        return MessagesApiMessage(
            channel=self.infobip_channel,
            to=m.to,
            sender=m.sender,
            message_id=m.message_id,
            text=m.text,
            media_url=m.content.media_url,
            buttons=tuple(
                MessagesApiButton(b.text, url=b.url, postback=b.postback) for b in m.content.buttons
            ),
            callback_data=m.callback_data,
            notify_url=m.notify_url,
            validity_period_minutes=m.validity_minutes,
        )
