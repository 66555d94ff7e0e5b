"""Request bodies for Infobip's send endpoints, built exactly as the OpenAPI documents describe.

Module level (not client methods) so the tests and the sandbox can check them against the spec.
"""

import json
from collections.abc import Sequence
from typing import Any

from infobip.types import (
    MessagesApiButton,
    MessagesApiMessage,
    SmsMessage,
    WhatsAppTemplateMessage,
)


def sms_request_body(
    messages: Sequence[SmsMessage],
    *,
    bulk_id: str | None = None,
    tracking: dict[str, Any] | None = None,
    include_sms_count: bool = True,
    conversion_tracking: bool = False,
) -> dict[str, Any]:
    """The /sms/3/messages body: messages identical but for (to, messageId) share one entry.

    `conversion_tracking` marks the messages for Infobip's conversion tracking, which
    `/ct/1/log/end/{messageId}` reports to (the spec: "set up tracking when sending").
    """
    entries: dict[tuple[object, ...], dict[str, Any]] = {}
    for message in messages:
        key = (
            message.text,
            message.sender,
            message.callback_data,
            message.notify_url,
            message.intermediate_report,
            message.validity_period_minutes,
            message.campaign_reference_id,
            message.language_code,
            message.transliteration,
            # Regional fields differ per country (a sender's DLT entity, a recipient's IYS
            # type): messages share an entry only when theirs are the same.
            json.dumps(message.regional, sort_keys=True) if message.regional else None,
        )
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = _sms_entry(message)
        entry["destinations"].append({"to": message.to, "messageId": message.message_id})
    body: dict[str, Any] = {"messages": list(entries.values())}
    options: dict[str, Any] = {}
    if bulk_id:
        options["schedule"] = {"bulkId": bulk_id}
    if tracking:
        options["tracking"] = dict(tracking)
    if include_sms_count:
        options["includeSmsCountInResponse"] = True
    if conversion_tracking:
        options["conversionTracking"] = {"useConversionTracking": True}
    if options:
        body["options"] = options
    return body


def _sms_entry(message: SmsMessage) -> dict[str, Any]:
    content: dict[str, Any] = {"text": message.text}
    if message.transliteration:
        content["transliteration"] = message.transliteration
    if message.language_code:
        content["language"] = {"languageCode": message.language_code}
    entry: dict[str, Any] = {"destinations": [], "content": content}
    if message.sender:
        entry["sender"] = message.sender
    options: dict[str, Any] = {}
    if message.validity_period_minutes is not None:
        options["validityPeriod"] = {
            "amount": int(message.validity_period_minutes),
            "timeUnit": "MINUTES",
        }
    if message.campaign_reference_id:
        options["campaignReferenceId"] = message.campaign_reference_id
    if message.regional:
        options["regional"] = {k: dict(v) for k, v in message.regional.items()}
    if options:
        entry["options"] = options
    webhooks: dict[str, Any] = {}
    delivery: dict[str, Any] = {}
    if message.notify_url:
        delivery["url"] = message.notify_url
        webhooks["contentType"] = "application/json"
    if message.intermediate_report:
        delivery["intermediateReport"] = True
    if delivery:
        webhooks["delivery"] = delivery
    if message.callback_data is not None:
        webhooks["callbackData"] = message.callback_data
    if webhooks:
        entry["webhooks"] = webhooks
    return entry


def whatsapp_text_request_body(
    *,
    sender: str,
    to: str,
    text: str,
    message_id: str,
    callback_data: str | None = None,
    notify_url: str | None = None,
    preview_url: bool = False,
    url_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The /whatsapp/1/message/text body."""
    content: dict[str, Any] = {"text": text}
    if preview_url:
        content["previewUrl"] = True
    return _whatsapp_single(sender, to, message_id, content, callback_data, notify_url, url_options)


def whatsapp_image_request_body(
    *,
    sender: str,
    to: str,
    media_url: str,
    message_id: str,
    caption: str = "",
    callback_data: str | None = None,
    notify_url: str | None = None,
    url_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The /whatsapp/1/message/image body (an image by URL, optional caption)."""
    content: dict[str, Any] = {"mediaUrl": media_url}
    if caption:
        content["caption"] = caption
    return _whatsapp_single(sender, to, message_id, content, callback_data, notify_url, url_options)


def whatsapp_buttons_request_body(
    *,
    sender: str,
    to: str,
    text: str,
    buttons: Sequence[tuple[str, str]],
    message_id: str,
    header_text: str = "",
    footer: str = "",
    callback_data: str | None = None,
    notify_url: str | None = None,
    url_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The /whatsapp/1/message/interactive/buttons body: `buttons` are (id, title) replies."""
    content: dict[str, Any] = {
        "body": {"text": text},
        "action": {
            "buttons": [{"type": "REPLY", "id": bid, "title": title} for bid, title in buttons]
        },
    }
    if header_text:
        content["header"] = {"type": "TEXT", "text": header_text}
    if footer:
        content["footer"] = {"text": footer}
    return _whatsapp_single(sender, to, message_id, content, callback_data, notify_url, url_options)


def _whatsapp_single(
    sender: str,
    to: str,
    message_id: str,
    content: dict[str, Any],
    callback_data: str | None,
    notify_url: str | None,
    url_options: dict[str, Any] | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"from": sender, "to": to, "messageId": message_id, "content": content}
    if callback_data is not None:
        body["callbackData"] = callback_data
    if notify_url:
        body["notifyUrl"] = notify_url
    if url_options:
        body["urlOptions"] = dict(url_options)
    return body


def url_options(*, tracking_url: str, custom_domain: str = "") -> dict[str, Any]:
    """Shorten every link and report its clicks to `tracking_url` (SMS `tracking`, WhatsApp
    `urlOptions`); `removeProtocol` stays false, which WhatsApp's link preview requires."""
    options: dict[str, Any] = {"shortenUrl": True, "trackClicks": True, "trackingUrl": tracking_url}
    if custom_domain:
        options["customDomain"] = custom_domain
    return options


# The push formats Herald's webhooks parse: MO_JSON_2 (SMS) and MO_OTT_CONTACT (WhatsApp).
INBOUND_FORMATS = {"SMS": "MO_JSON_2", "WHATSAPP": "MO_OTT_CONTACT"}


def inbound_configuration_body(
    *, channel: str, number: str, url: str, keyword: str | None = None
) -> dict[str, Any]:
    """The inbound-configuration body: forward `number`'s (keyword's) messages to `url`."""
    channel = channel.upper()
    push_format = INBOUND_FORMATS.get(channel, "MO_JSON_2")
    body: dict[str, Any] = {
        "channel": channel,
        "number": number,
        "forwarding": {"type": "HTTP_FORWARD", "url": url, "format": push_format},
    }
    if keyword:
        body["keyword"] = keyword
    return body


def whatsapp_template_request_body(
    messages: Sequence[WhatsAppTemplateMessage], *, bulk_id: str | None = None
) -> dict[str, Any]:
    """The /whatsapp/1/message/template body, one entry per recipient."""
    body: dict[str, Any] = {"messages": [_template_entry(m) for m in messages]}
    if bulk_id:
        body["bulkId"] = bulk_id
    return body


def _template_entry(message: WhatsAppTemplateMessage) -> dict[str, Any]:
    template_data: dict[str, Any] = {"body": {"placeholders": list(message.body_placeholders)}}
    if message.header:
        template_data["header"] = dict(message.header)
    if message.buttons:
        template_data["buttons"] = [dict(button) for button in message.buttons]
    entry: dict[str, Any] = {
        "from": message.sender,
        "to": message.to,
        "messageId": message.message_id,
        "content": {
            "templateName": message.template_name,
            "templateData": template_data,
            "language": message.language,
        },
    }
    if message.callback_data is not None:
        entry["callbackData"] = message.callback_data
    if message.notify_url:
        entry["notifyUrl"] = message.notify_url
    if message.url_options:
        entry["urlOptions"] = dict(message.url_options)
    if message.sms_failover:
        failover_sender, failover_text = message.sms_failover
        entry["smsFailover"] = {"from": failover_sender, "text": failover_text}
    return entry


def messages_api_request_body(
    messages: Sequence[MessagesApiMessage],
    *,
    bulk_id: str | None = None,
    tracking: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The /messages-api/1/messages body: messages identical but for (to, messageId) share one
    entry with many destinations, as on the SMS endpoint."""
    entries: dict[tuple[object, ...], dict[str, Any]] = {}
    for message in messages:
        key = (
            message.channel,
            message.sender,
            message.text,
            message.media_url,
            tuple(message.buttons),
            message.callback_data,
            message.notify_url,
            message.validity_period_minutes,
            message.campaign_reference_id,
        )
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = _messages_api_entry(message)
        entry["destinations"].append({"to": message.to, "messageId": message.message_id})
    body: dict[str, Any] = {"messages": list(entries.values())}
    options: dict[str, Any] = {}
    if bulk_id:
        options["schedule"] = {"bulkId": bulk_id}
    if tracking:
        options["tracking"] = dict(tracking)
    if options:
        body["options"] = options
    return body


def _messages_api_entry(message: MessagesApiMessage) -> dict[str, Any]:
    if message.media_url:
        body: dict[str, Any] = {"type": "IMAGE", "url": message.media_url}
        if message.text:
            body["text"] = message.text  # the image's caption
    else:
        body = {"type": "TEXT", "text": message.text}
    content: dict[str, Any] = {"body": body}
    if message.buttons:
        content["buttons"] = [_messages_api_button(b) for b in message.buttons]
    entry: dict[str, Any] = {
        "channel": message.channel,
        "sender": message.sender,
        "destinations": [],
        "content": content,
    }
    options: dict[str, Any] = {}
    if message.validity_period_minutes is not None:
        options["validityPeriod"] = {
            "amount": int(message.validity_period_minutes),
            "timeUnit": "MINUTES",
        }
    if message.campaign_reference_id:
        options["campaignReferenceId"] = message.campaign_reference_id
    if options:
        entry["options"] = options
    webhooks: dict[str, Any] = {}
    if message.notify_url:
        webhooks["delivery"] = {"url": message.notify_url}
        webhooks["seen"] = {"url": message.notify_url}
        webhooks["contentType"] = "application/json"
    if message.callback_data is not None:
        webhooks["callbackData"] = message.callback_data
    if webhooks:
        entry["webhooks"] = webhooks
    return entry


def _messages_api_button(button: MessagesApiButton) -> dict[str, Any]:
    if button.url:
        return {"type": "OPEN_URL", "text": button.text, "url": button.url}
    reply: dict[str, Any] = {"type": "REPLY", "text": button.text}
    if button.postback:
        reply["postbackData"] = button.postback
    return reply
