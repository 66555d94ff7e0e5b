"""The sandbox's own control API under /_sandbox/ (same key): state, truth, config, inbound.

For tests, drills and the UI; never part of Infobip's API, so the prefix cannot clash.
"""

import re
import time
from typing import TYPE_CHECKING, Any

import requests

from infobip.openapi import Violation
from infobip.sandbox import inbound as inbound_payloads
from infobip.sandbox.config import ConfigError
from infobip.sandbox.errors import V3, Response, error
from infobip.sandbox.reports import is_loopback_url

if TYPE_CHECKING:
    from infobip.sandbox.server import Request, Sandbox


# Inbound channels the sandbox pushes; which open a session (WhatsApp's 24 hours, enforced with
# --enforce-whatsapp-session); which queue for the pull endpoint when no URL takes them.
INBOUND_CHANNELS = frozenset({"SMS", "WHATSAPP", *inbound_payloads.MESSAGES_API_CHANNELS})
SESSION_CHANNELS = frozenset({"WHATSAPP"})
PULLED_INBOX = frozenset({"SMS"})


def _bad(message: str, prop: str = "") -> Response:
    return error(V3, 400, [Violation(prop, message)])


def state(sb: "Sandbox", req: "Request") -> Response:
    """GET /_sandbox/state: counters, per-outcome truth, pending reports and the config."""
    store = sb.store
    with store.lock:
        counts = dict(store.counts)
        outcomes = dict(store.outcomes)
        by_channel = dict(store.by_channel)
        logged = dict(store.conversions)
        queued = {
            "sms_reports": len(store.sms_pull),
            "messages_api_reports": len(store.ma_pull),
            "inbox": len(store.inbox),
        }
    pending = sb.reporter.pending()
    return Response(
        200,
        {
            "accepted": {
                "total": counts["accepted"],
                "sms": counts["accepted_sms"],
                "whatsapp": counts["accepted_whatsapp"],
            },
            "acceptedByChannel": by_channel,
            "duplicates": {
                "messageId": counts["duplicate_message_id"],
                "recipientCallbackData": counts["duplicate_recipient_callback"],
            },
            "outcomes": outcomes,
            "reports": {
                "pushed": counts["reports_pushed"],
                "pending": pending,
                "pushRequests": counts["push_requests"],
                "pushFailures": counts["push_failures"],
                "refused": counts["push_refused"],
                "abandoned": counts["push_abandoned"],
                "duplicatePushes": counts["duplicate_pushes"],
                "pulled": counts["reports_pulled"],
                "queuedForPull": queued,
            },
            "requests": {
                "total": counts["requests"],
                "rejected400": counts["rejected_400"],
                "rejected401": counts["rejected_401"],
            },
            "faults": {
                "429": counts["fault_429"],
                "5xx": counts["fault_5xx"],
                "dropped": counts["fault_dropped"],
                "slow": counts["fault_slow"],
            },
            "inbound": {
                "pushed": counts["inbound_pushed"],
                "failed": counts["inbound_failed"],
                "queued": counts["inbound_queued"],
            },
            # POST /ct/1/log/end/{messageId}: per message, how often it was logged converted.
            "conversions": {
                "logged": counts["conversions_logged"],
                "refused": counts["conversions_refused"],
                "byMessageId": logged,
            },
            "config": sb.config.as_dict(),
        },
    )


def messages(sb: "Sandbox", req: "Request") -> Response:
    """GET /_sandbox/messages?messageId=a,b (or ?offset=&limit=): the truth per message."""
    store = sb.store
    ids = req.args("messageId")
    with store.lock:
        if ids:
            found = [store.messages[i] for i in ids if i in store.messages]
        else:
            try:
                offset = max(0, int(req.arg("offset") or 0))
                limit = max(1, min(int(req.arg("limit") or 1000), 10000))
            except ValueError:
                return _bad("offset and limit must be integers")
            found = store.log[offset : offset + limit]
        results = [store.truth(m) for m in found]
    if ids and not results:
        return error(V3, 404)
    return Response(200, {"results": results})


def configure(sb: "Sandbox", req: "Request") -> Response:
    """POST /_sandbox/config: change options at runtime (all or nothing)."""
    body = req.body_json
    if not isinstance(body, dict):
        return _bad("body must be a JSON object of option: value")
    try:
        sb.config.update(body)
    except ConfigError as exc:
        return _bad(str(exc))
    return Response(200, {"config": sb.config.as_dict()})


def reset(sb: "Sandbox", req: "Request") -> Response:
    """POST /_sandbox/reset: forget everything and go back to the startup options."""
    sb.reset()
    return Response(200, {"reset": True})


def flush(sb: "Sandbox", req: "Request") -> Response:
    """POST /_sandbox/flush: push every pending report now; waits up to `timeout` seconds."""
    body = req.body_json if req.body else {}
    if not isinstance(body, dict):
        return _bad("body must be a JSON object")
    timeout = _number(body.get("timeout"), default=10.0)
    if timeout is None:
        return _bad("timeout must be a number of seconds", "timeout")
    return Response(200, {"pending": sb.reporter.flush(timeout=min(timeout, 60))})


def _number(value: Any, *, default: float) -> float | None:
    """A non-negative finite number from a control body (None when it is not one)."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if 0 <= value < float("inf") else None


def _configured_url(sb: "Sandbox", channel: str, to: str, text: str) -> str | None:
    first = text.strip().split(" ", 1)[0].upper()
    with sb.store.lock:
        configs = list(sb.store.inbound_configs.values())
    best = None
    for config in configs:
        if config.get("channel") != channel or config.get("number") not in (None, to):
            continue
        forwarding = config.get("forwarding") or {}
        keyword = (config.get("keyword") or "").upper()
        if keyword and keyword != first:
            continue
        forwards = forwarding.get("type") == "HTTP_FORWARD" and forwarding.get("url")
        if forwards and (keyword or best is None):  # a keyword match beats a catch-all
            best = forwarding["url"]
    return best


def push_inbound(sb: "Sandbox", req: "Request") -> Response:
    """POST /_sandbox/inbound {channel, from, to, text, url}: push (or queue) an inbound message."""
    body: Any = req.body_json
    if not isinstance(body, dict):
        return _bad("body must be a JSON object")
    typed = str(body.get("channel", ""))
    sender, text = body.get("from"), body.get("text")
    channel = inbound_payloads.infobip_channel(typed)  # Infobip's name: SMS, VIBER_BM…
    if channel not in INBOUND_CHANNELS:
        choices = ", ".join(inbound_payloads.CHANNELS)
        return _bad(f"channel must be one of {choices}", "channel")
    if not isinstance(sender, str) or not sender or not isinstance(text, str):
        return _bad("from and text are required strings", "from")
    to = str(body.get("to") or sb.inbound_number)
    with sb.store.lock:
        keywords = {(c.get("keyword") or "").upper() for c in sb.store.inbound_configs.values()}
    payload = inbound_payloads.build(
        channel, sender, to, text, inbound_payloads.DEFAULT_KEYWORDS | (keywords - {""})
    )
    if channel in SESSION_CHANNELS:
        sb.store.last_inbound[sender] = time.time()
    url = body.get("url") or _configured_url(sb, channel, to, text)
    message_id = payload["results"][0]["messageId"]
    if not url:
        if channel in PULLED_INBOX:
            with sb.store.lock:
                sb.store.inbox.append(payload["results"][0])
        sb.store.count("inbound_queued")
        return Response(200, {"messageId": message_id, "queued": True, "url": None})
    if not sb.config.allow_remote_push and not is_loopback_url(url):
        return _bad("url must be on this machine (start with --allow-remote-push to lift)", "url")
    try:
        answer = requests.post(url, json=payload, timeout=10, allow_redirects=False)
    except requests.RequestException as exc:
        sb.store.count("inbound_failed")
        return Response(502, {"messageId": message_id, "url": url, "error": type(exc).__name__})
    sb.store.count("inbound_pushed" if answer.ok else "inbound_failed")
    return Response(
        200, {"messageId": message_id, "url": url, "status": answer.status_code, "payload": payload}
    )


_URL = re.compile(r"https?://[^\s]+")


def _click_item(m: Any, url: str, tracking: dict[str, Any]) -> dict[str, Any]:
    """A click notification as Infobip pushes it (`receive-sms-tracking-notification`)."""
    item = {
        "notificationType": "CLICKED",
        "recipient": m.to,
        "url": url,
        "sendDateTime": int(m.accepted_at * 1000),
        "messageId": m.message_id,
        "bulkId": m.bulk_id or "",
        "recipientInfo": {"deviceType": "Phone", "os": "Android 14", "deviceName": "Sandbox"},
        "geoLocationInfo": {"countryName": "Sandbox", "city": "Loopback"},
    }
    if m.callback_data is not None:
        item["callbackData"] = m.callback_data
    return item


def push_click(sb: "Sandbox", req: "Request") -> Response:
    """POST /_sandbox/click {messageId | callbackData, url?, limit?}: a recipient taps a link.

    Only messages sent with click tracking count; `url` defaults to the first link of the text.
    Each click is pushed to the send's `trackingUrl`, one notification per request as Infobip does.
    """
    body: Any = req.body_json if req.body else {}
    if not isinstance(body, dict) or not (body.get("messageId") or body.get("callbackData")):
        return _bad("messageId or callbackData is required", "messageId")
    limit = _number(body.get("limit"), default=1000)
    if limit is None:
        return _bad("limit must be a whole number", "limit")
    limit = int(limit)
    with sb.store.lock:
        tracked = [
            (sb.store.messages[mid], options)
            for mid, options in sb.store.tracking.items()
            if mid in sb.store.messages
            and body.get("messageId") in (None, mid)
            and body.get("callbackData") in (None, sb.store.messages[mid].callback_data)
        ][:limit]
    pushed = failed = 0
    for m, options in tracked:
        url = body.get("url") or next(iter(_URL.findall(m.text or "")), None)
        target = options.get("trackingUrl")
        if not url or not target:
            continue
        if not sb.config.allow_remote_push and not is_loopback_url(target):
            return _bad("trackingUrl must be on this machine (--allow-remote-push lifts it)")
        try:
            answer = requests.post(
                target, json=_click_item(m, url, options), timeout=10, allow_redirects=False
            )
            ok = answer.ok
        except requests.RequestException:
            ok = False
        pushed, failed = pushed + ok, failed + (not ok)
    return Response(200, {"tracked": len(tracked), "pushed": pushed, "failed": failed})


ROUTES = [
    ("GET", "/_sandbox/state", state, V3, False),
    ("GET", "/_sandbox/messages", messages, V3, False),
    ("POST", "/_sandbox/config", configure, V3, False),
    ("POST", "/_sandbox/reset", reset, V3, False),
    ("POST", "/_sandbox/flush", flush, V3, False),
    ("POST", "/_sandbox/inbound", push_inbound, V3, False),
    ("POST", "/_sandbox/click", push_click, V3, False),
]
