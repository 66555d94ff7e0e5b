"""The Infobip endpoints Herald's client uses, answering with Infobip's shapes and status codes.

Each handler takes the Sandbox and the Request and returns a Response; validation, auth and
faults happen before (server.py). Sends record every destination as one Message.
"""

import itertools
import os
import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from infobip.sandbox import templates
from infobip.sandbox.codes import STATUS_OBJECTS, sms_parts, timestamp
from infobip.sandbox.errors import LEGACY, V3, Response, error
from infobip.sandbox.reports import SMS_API_CHANNELS, messages_api_report, sms_report
from infobip.sandbox.state import SMS, WHATSAPP, Message

if TYPE_CHECKING:
    from infobip.sandbox.server import Request, Sandbox

_IDS = itertools.count(1)
_PREFIX = os.urandom(4).hex()
MAX_SCHEDULE_DAYS = 180


def new_id() -> str:
    """A message or bulk id like Infobip's (unique per sandbox process)."""
    return f"{_PREFIX}-{next(_IDS):010d}"


def _parse_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    except ValueError:
        return None


def _limit(req: "Request", default: int = 50, maximum: int = 1000) -> int:
    try:
        return max(1, min(int(req.arg("limit") or default), maximum))
    except ValueError:
        return default


def send_sms(sb: "Sandbox", req: "Request") -> Response:
    """POST /sms/3/messages."""
    body = req.body_json
    options = body.get("options") or {}
    schedule = options.get("schedule") or {}
    bulk_id = schedule.get("bulkId") or new_id()
    send_at = _parse_time(schedule.get("sendAt"))
    with_count = bool(options.get("includeSmsCountInResponse"))
    now = time.time()
    status = STATUS_OBJECTS["PENDING_ACCEPTED"]
    accepted: list[Message] = []
    out: list[dict[str, Any]] = []
    for message in body["messages"]:
        content = message["content"]
        text = content.get("text")
        parts = sms_parts(text)[0] if text is not None else 1
        hooks = message.get("webhooks") or {}
        delivery = hooks.get("delivery") or {}
        url = delivery.get("url") if delivery.get("notify", True) else None
        msg_options = message.get("options") or {}
        platform = msg_options.get("platform") or {}
        sender = message.get("sender") or "InfoSMS"
        regional = msg_options.get("regional")
        for dest in message["destinations"]:
            message_id = dest.get("messageId") or new_id()
            accepted.append(
                Message(
                    message_id,
                    SMS,
                    dest["to"],
                    sender,
                    bulk_id,
                    text,
                    parts,
                    now,
                    url,
                    bool(delivery.get("intermediateReport")),
                    hooks.get("callbackData"),
                    platform.get("entityId"),
                    platform.get("applicationId"),
                    msg_options.get("campaignReferenceId"),
                )
            )
            accepted[-1].regional = regional
            item = {"messageId": message_id, "status": status, "destination": dest["to"]}
            if with_count:
                item["details"] = {"messageCount": parts}
            out.append(item)
    sb.accept(accepted, not_before=send_at)
    _remember_tracking(sb, accepted, options.get("tracking"))
    if (options.get("conversionTracking") or {}).get("useConversionTracking"):
        with sb.store.lock:
            sb.store.conversion_tracked.update(m.message_id for m in accepted)
    return Response(200, {"bulkId": bulk_id, "messages": out})


def log_conversion(sb: "Sandbox", req: "Request") -> Response:
    """POST /ct/1/log/end/{messageId}: an SMS sent with conversion tracking converted.

    The spec answers a processKey; a message the sandbox never sent with tracking is 404 (the
    sandbox's choice: the spec lists 404 without saying when). Repeats are counted apart.
    """
    message_id = req.params["messageId"]
    with sb.store.lock:
        if message_id not in sb.store.conversion_tracked:
            sb.store.counts["conversions_refused"] += 1
            return error(LEGACY, 404)
        sb.store.conversions[message_id] += 1
        sb.store.counts["conversions_logged"] += 1
    return Response(200, {"processKey": uuid.uuid5(uuid.NAMESPACE_URL, message_id).hex.upper()})


# Parts of a text per channel: SMS splits into parts, every other channel sends one message.
PARTS = {SMS: lambda text: sms_parts(text)[0] if text is not None else 1}


def _destination(dest: dict[str, Any], channel: str) -> str:
    """`to` of a destination: a plain one, or the entry of `channel` in a `byChannel` list."""
    to: str
    if "to" in dest:
        to = dest["to"]
        return to
    for entry in dest.get("byChannel") or []:
        if entry.get("channel") == channel:
            to = entry["to"]
            return to
    to = (dest.get("byChannel") or [{}])[0].get("to", "")
    return to


def send_messages(sb: "Sandbox", req: "Request") -> Response:
    """POST /messages-api/1/messages: any channel (Viber, RCS…); each destination one message.

    The text is the body's `text` (an image's caption) or its `url`; a template message is
    recorded under its template's name. Infobip's native `failover` steps are accepted (the
    spec allows them) but not simulated: Herald runs its chains itself.
    """
    body = req.body_json
    options = body.get("options") or {}
    schedule = options.get("schedule") or {}
    bulk_id = schedule.get("bulkId") or new_id()
    send_at = _parse_time(schedule.get("sendAt"))
    now = time.time()
    status = STATUS_OBJECTS["PENDING_ACCEPTED"]
    accepted: list[Message] = []
    out: list[dict[str, Any]] = []
    for message in body["messages"]:
        channel = message["channel"]
        content = message.get("content") or {}
        payload = content.get("body") or {}
        template = message.get("template") or {}
        text = payload.get("text") or payload.get("url") or template.get("templateName")
        parts = PARTS.get(channel, lambda _text: 1)(text)
        hooks = message.get("webhooks") or {}
        delivery = hooks.get("delivery") or {}
        msg_options = message.get("options") or {}
        platform = msg_options.get("platform") or {}
        for dest in message["destinations"]:
            to = _destination(dest, channel)
            message_id = dest.get("messageId") or new_id()
            accepted.append(
                Message(
                    message_id,
                    channel,
                    to,
                    message.get("sender") or "",
                    bulk_id,
                    text,
                    parts,
                    now,
                    delivery.get("url"),
                    bool(delivery.get("intermediateReport")),
                    hooks.get("callbackData"),
                    platform.get("entityId"),
                    platform.get("applicationId"),
                    msg_options.get("campaignReferenceId"),
                )
            )
            out.append({"messageId": message_id, "status": status, "destination": to})
    sb.accept(accepted, not_before=send_at)
    _remember_tracking(sb, accepted, options.get("tracking"))
    return Response(200, {"bulkId": bulk_id, "messages": out})


def _remember_tracking(sb: "Sandbox", messages: list[Message], tracking: Any) -> None:
    """Keep the click-tracking options of tracked messages (for POST /_sandbox/click)."""
    if not isinstance(tracking, dict) or tracking.get("trackClicks") is False:
        return
    with sb.store.lock:
        for m in messages:
            sb.store.tracking[m.message_id] = tracking


def _whatsapp_message(m: dict[str, Any], bulk_id: str | None, now: float) -> Message:
    content = m["content"]
    failover = None
    if m.get("smsFailover"):
        f = m["smsFailover"]
        failover = {"from": f["from"], "text": f["text"], "parts": sms_parts(f["text"])[0]}
    text = (
        content.get("text")
        or content.get("caption")
        or (content.get("body") or {}).get("text")
        or content.get("mediaUrl")
        or content.get("templateName")
    )
    return Message(
        m.get("messageId") or str(uuid.uuid4()),
        WHATSAPP,
        m["to"],
        m["from"],
        bulk_id,
        text,
        1,
        now,
        m.get("notifyUrl"),
        False,
        m.get("callbackData"),
        m.get("entityId"),
        m.get("applicationId"),
        None,
        content if "templateName" in content else None,
        failover,
    )


def send_whatsapp_text(sb: "Sandbox", req: "Request") -> Response:
    """POST /whatsapp/1/message/text, /image and /interactive/buttons (one recipient each)."""
    m = _whatsapp_message(req.body_json, None, time.time())
    sb.accept([m])
    _remember_tracking(sb, [m], req.body_json.get("urlOptions"))
    return Response(200, _whatsapp_accepted(m))


def send_whatsapp_template(sb: "Sandbox", req: "Request") -> Response:
    """POST /whatsapp/1/message/template (many messages per call)."""
    body = req.body_json
    now = time.time()
    bulk_id = body.get("bulkId") or (new_id() if len(body["messages"]) > 1 else None)
    accepted = [_whatsapp_message(m, bulk_id, now) for m in body["messages"]]
    sb.accept(accepted)
    for m, item in zip(accepted, body["messages"], strict=True):
        _remember_tracking(sb, [m], item.get("urlOptions"))
    answer: dict[str, Any] = {"messages": [_whatsapp_accepted(m) for m in accepted]}
    if bulk_id:
        answer["bulkId"] = bulk_id
    return Response(200, answer)


def _whatsapp_accepted(m: Message) -> dict[str, Any]:
    return {
        "to": m.to,
        "messageCount": 1,
        "messageId": m.message_id,
        "status": STATUS_OBJECTS["PENDING_ENROUTE"],
    }


def whatsapp_templates(sb: "Sandbox", req: "Request") -> Response:
    """GET /whatsapp/2/senders/{sender}/templates: the demo templates, for any sender."""
    return Response(200, {"templates": templates.TEMPLATES})


def preview(sb: "Sandbox", req: "Request") -> Response:
    """POST /sms/1/preview: parts and characters remaining, per configuration asked for."""
    body = req.body_json
    text = body["text"]
    configurations: list[dict[str, Any]] = [{}]
    if body.get("languageCode"):
        configurations.append({"language": {"languageCode": body["languageCode"]}})
    if body.get("transliteration"):
        configurations.append({"transliteration": body["transliteration"]})
    parts, _, remaining = sms_parts(text)
    previews = [
        {
            "textPreview": text,
            "messageCount": parts,
            "charactersRemaining": remaining,
            "configuration": c,
        }
        for c in configurations
    ]
    return Response(200, {"originalText": text, "previews": previews})


def _matches(m: Message, req: "Request") -> bool:
    for name, value in (
        ("bulkId", m.bulk_id),
        ("messageId", m.message_id),
        ("entityId", m.entity_id),
        ("applicationId", m.application_id),
        ("campaignReferenceId", m.campaign_ref),
    ):
        wanted = req.args(name)
        if wanted and value not in wanted:
            return False
    return True


def _pull(
    sb: "Sandbox", req: "Request", queue_name: str, channel: str | None
) -> list[tuple[Message, str, float]]:
    """Take up to `limit` matching events out of a pull queue (each is returned once)."""
    limit = _limit(req)
    store = sb.store
    taken: list[tuple[Message, str, float]] = []
    with store.lock:
        queue = getattr(store, queue_name)
        keep = []
        while queue and len(taken) < limit:
            event = queue.popleft()
            m = event[0]
            event_channel = SMS if event[1] == "failover" else m.channel  # failover SMS
            if channel in (None, event_channel) and _matches(m, req):  # the ?channel= filter
                taken.append(event)
            else:
                keep.append(event)
        queue.extendleft(reversed(keep))
        store.counts["reports_pulled"] += len(taken)
    return taken


def sms_reports(sb: "Sandbox", req: "Request") -> Response:
    """GET /sms/3/reports: new SMS delivery reports, each returned once."""
    events = _pull(sb, req, "sms_pull", None)
    currency = sb.config.currency
    return Response(200, {"results": [sms_report(m, k, at, currency) for m, k, at in events]})


def messages_api_reports(sb: "Sandbox", req: "Request") -> Response:
    """GET /messages-api/1/reports: new reports of every channel (filter `channel`), once."""
    events = _pull(sb, req, "ma_pull", req.arg("channel"))
    currency = sb.config.currency
    results = [messages_api_report(m, k, at, currency) for m, k, at in events]
    return Response(200, {"results": results})


def sms_logs(sb: "Sandbox", req: "Request") -> Response:
    """GET /sms/3/logs: SMS messages with their current status, newest first."""
    limit = _limit(req)
    store = sb.store
    with store.lock:
        if req.args("messageId"):
            candidates = [store.messages[i] for i in req.args("messageId") if i in store.messages]
        elif req.args("bulkId"):
            candidates = [m for b in req.args("bulkId") for m in store.by_bulk.get(b, [])]
        else:
            candidates = store.log
    offset = int(req.arg("cursor") or 0) if (req.arg("cursor") or "").isdigit() else 0
    since, until = _parse_time(req.arg("sentSince")), _parse_time(req.arg("sentUntil"))
    wanted = {k: req.arg(k) for k in ("sender", "destination", "generalStatus")}
    results: list[dict[str, Any]] = []
    skipped, more = 0, False
    for m in reversed(candidates):
        if m.channel not in SMS_API_CHANNELS or not _matches(m, req):
            continue
        item = _log_item(m, sb.config.currency)
        if (
            (wanted["sender"] and m.sender != wanted["sender"])
            or (wanted["destination"] and m.to != wanted["destination"])
            or (wanted["generalStatus"] and item["status"]["groupName"] != wanted["generalStatus"])
            or (since and m.accepted_at < since)
            or (until and m.accepted_at >= until)
        ):
            continue
        if skipped < offset:
            skipped += 1
            continue
        if len(results) == limit:
            more = True
            break
        results.append(item)
    answer: dict[str, Any] = {"results": results}
    if req.arg("useCursor") == "true":
        answer["cursor"] = {"limit": limit}
        if more:
            answer["cursor"]["nextCursor"] = str(offset + limit)
    return Response(200, answer)


def _log_item(m: Message, currency: str) -> dict[str, Any]:
    if m.state == "final":
        item = sms_report(m, "final", m.done_at or m.accepted_at, currency)
    else:
        item = sms_report(m, "intermediate", m.accepted_at, currency)
        if m.state == "accepted":
            item["status"] = STATUS_OBJECTS["PENDING_ACCEPTED"]
        del item["doneAt"]
    item["destination"] = item.pop("to")
    item.pop("callbackData", None)
    item["content"] = {"text": m.text} if m.text is not None else {"hex": ""}
    item["sentAt"] = timestamp(m.accepted_at)
    return item


def inbox(sb: "Sandbox", req: "Request") -> Response:
    """GET /sms/1/inbox/reports: inbound SMS not yet fetched, each returned once."""
    limit = _limit(req)
    with sb.store.lock:
        queue = sb.store.inbox
        results = [queue.popleft() for _ in range(min(limit, len(queue)))]
        pending = len(queue)
    return Response(
        200, {"results": results, "messageCount": len(results), "pendingMessageCount": pending}
    )


def inbound_configurations(sb: "Sandbox", req: "Request") -> Response:
    """GET /resource-management/1/inbound-message-configurations (filters by field)."""
    found = []
    with sb.store.lock:
        configs = list(sb.store.inbound_configs.values())
    for config in configs:
        if all(
            not req.arg(k) or str(config.get(k)) == req.arg(k)
            for k in ("configurationKey", "channel", "number", "keyword")
        ):
            found.append(config)
    return Response(200, found)


def create_inbound_configuration(sb: "Sandbox", req: "Request") -> Response:
    """POST /resource-management/1/inbound-message-configurations."""
    config = {"configurationKey": uuid.uuid4().hex.upper(), **req.body_json}
    with sb.store.lock:
        sb.store.inbound_configs[config["configurationKey"]] = config
    return Response(200, config)


def delete_inbound_configuration(sb: "Sandbox", req: "Request") -> Response:
    """DELETE /resource-management/1/inbound-message-configurations/{configurationKey}."""
    with sb.store.lock:
        found = sb.store.inbound_configs.pop(req.params["configurationKey"], None)
    return Response(204) if found else error(LEGACY, 404)


# Operations whose request has no body (nothing to validate against the spec).
NO_BODY = frozenset({"/ct/1/log/end/{messageId}"})

# (method, path template, handler, error envelope, is a send that drop-after-read applies to)
ROUTES = [
    ("POST", "/sms/3/messages", send_sms, V3, True),
    ("GET", "/sms/3/reports", sms_reports, V3, False),
    ("GET", "/sms/3/logs", sms_logs, V3, False),
    ("POST", "/sms/1/preview", preview, LEGACY, False),
    ("POST", "/ct/1/log/end/{messageId}", log_conversion, LEGACY, False),
    ("GET", "/sms/1/inbox/reports", inbox, LEGACY, False),
    ("POST", "/whatsapp/1/message/text", send_whatsapp_text, LEGACY, True),
    ("POST", "/whatsapp/1/message/image", send_whatsapp_text, LEGACY, True),
    ("POST", "/whatsapp/1/message/interactive/buttons", send_whatsapp_text, LEGACY, True),
    ("POST", "/whatsapp/1/message/template", send_whatsapp_template, LEGACY, True),
    ("GET", "/whatsapp/2/senders/{sender}/templates", whatsapp_templates, LEGACY, False),
    ("POST", "/messages-api/1/messages", send_messages, V3, True),
    ("GET", "/messages-api/1/reports", messages_api_reports, V3, False),
    ("GET", "/resource-management/1/inbound-message-configurations", inbound_configurations,
     LEGACY, False),
    ("POST", "/resource-management/1/inbound-message-configurations",
     create_inbound_configuration, LEGACY, False),
    ("DELETE", "/resource-management/1/inbound-message-configurations/{configurationKey}",
     delete_inbound_configuration, LEGACY, False),
]  # fmt: skip
