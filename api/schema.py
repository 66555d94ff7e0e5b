"""The OpenAPI document says what the API does: each operation's scope, every status it can
answer (in the one error shape), and the outbound events as OpenAPI 3.1 `webhooks`."""

from typing import Any

from drf_spectacular.openapi import AutoSchema

from api.models import EventType
from api.policy import scope_for

ERROR_REF = {"$ref": "#/components/schemas/Error"}

# Statuses every operation can answer, and those that depend on what it takes.
ALWAYS = {
    "401": "No token, or an unknown, revoked or expired one",
    "403": "The token lacks the operation's scope, or its user the permission",
    "429": "Rate limited (HERALD_API_RATE per token); `Retry-After` says when to try again",
    "500": "An unexpected error (logged); nothing internal is shown",
    "503": "The database or the broker is unavailable; nothing was done; `Retry-After` says "
    "when to try again",
}
WITH_INPUT = {"400": "Bad input; `fields` names each refused field or parameter by path"}
WITH_BODY = {
    "413": "The body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE (10 MB by default)",
    "415": "The body is not `application/json`",
}
WITH_ID = {"404": "No such object"}


class HeraldAutoSchema(AutoSchema):
    """drf-spectacular's schema, with the scope each operation needs (`required_scopes`)."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        scope = scope_for(self.view, self.method)
        if scope:
            # OpenAPI 3.1 lets a non-OAuth scheme list the roles an operation needs.
            operation["security"] = [{"bearerAuth": [scope]}, {"cookieAuth": []}]
            operation["x-scope"] = scope
            note = f"Scope: `{scope}`."
            text = operation.get("description") or ""
            operation["description"] = f"{note}\n\n{text}".strip() if note not in text else text
        return operation


def add_error_responses(result: dict, generator, request, public) -> dict:
    """Every status an operation can answer, each with the Error document."""
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            statuses = dict(ALWAYS)
            has_body = "requestBody" in operation
            if has_body or operation.get("parameters") or method in ("post", "patch", "put"):
                statuses.update(WITH_INPUT)
            if has_body or method in ("post", "patch", "put"):
                statuses.update(WITH_BODY)
            if "{" in path:
                statuses.update(WITH_ID)
            responses = operation["responses"]
            for status, description in statuses.items():
                responses.setdefault(
                    status,
                    {
                        "content": {"application/json": {"schema": ERROR_REF}},
                        "description": description,
                    },
                )
            for status, response in responses.items():
                if status in ("429", "503"):
                    response.setdefault("headers", {})["Retry-After"] = {
                        "schema": {"type": "integer"},
                        "description": "Seconds to wait before retrying",
                    }
    return result


# --- outbound events as OpenAPI 3.1 webhooks --------------------------------------------------

_STR = {"type": "string"}
_INT = {"type": "integer"}
_TIME = {"type": "string", "format": "date-time"}


def _null(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def _obj(properties: dict, required: list[str] | None = None) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "required": required if required is not None else list(properties),
    }


_STATUS = _obj({"groupName": _null(_STR), "id": _null(_INT), "name": _null(_STR)})
_CONSENT = _obj(
    {"contactId": _INT, "phone": _STR, "source": _STR, "channel": _STR, "at": _null(_TIME)}
)

# The `data` of each event type (api/emit.py builds them). A new event type needs its schema
# here: tests/api/test_schema.py fails for an EventType without one.
EVENT_DATA: dict[str, dict] = {
    EventType.MESSAGE_FINAL: _obj(
        {
            "messageId": {"type": "string", "format": "uuid"},
            "campaignId": _INT,
            "to": _STR,
            "channel": _STR,
            "state": {
                "type": "string",
                "enum": ["delivered", "undeliverable", "expired", "rejected", "failed", "skipped"],
            },
            "status": _STATUS,
            "error": _null(
                _obj(
                    {
                        "groupName": _null(_STR),
                        "id": _null(_INT),
                        "name": _STR,
                        "permanent": _null({"type": "boolean"}),
                    }
                )
            ),
            "reason": _STR,
            "price": _null(
                _obj({"amount": {"type": "string", "format": "decimal"}, "currency": _STR})
            ),
            "parts": _null(_INT),
            "doneAt": _null(_TIME),
        }
    ),
    EventType.INBOUND_RECEIVED: _obj(
        {
            "id": _INT,
            "messageId": _STR,
            "channel": _STR,
            "from": _STR,
            "to": _STR,
            "text": _STR,
            "keyword": _STR,
            "messageType": _STR,
            "mediaUrl": _STR,
            "receivedAt": _null(_TIME),
            "contactId": _null(_INT),
            "keywordAction": _STR,
        }
    ),
    EventType.CONTACT_OPTED_OUT: _CONSENT,
    EventType.CONTACT_OPTED_IN: _CONSENT,
    EventType.CAMPAIGN_STATE_CHANGED: _obj(
        {"campaignId": _INT, "from": _STR, "to": _STR, "reason": _STR}
    ),
    EventType.CAMPAIGN_APPROVAL_REQUESTED: _obj(
        {"campaignId": _INT, "name": _STR, "requestedBy": _STR}
    ),
    EventType.LINK_CLICKED: _obj(
        {
            "messageId": _STR,
            "campaignId": _null(_INT),
            "url": _STR,
            "recipient": _STR,
            "clickedAt": _null(_TIME),
            "deviceType": _STR,
            "country": _STR,
        }
    ),
}
# The conversion's document, as `GET /api/v1/conversions/{order_id}` answers it.
_OBJECT = {"type": "object"}
EVENT_DATA[EventType.CONVERSION_ATTRIBUTED] = _obj(
    {
        "order_id": _STR,
        "contact": _null(_OBJECT),
        "value": _STR,
        "currency": _STR,
        "occurred_at": _STR,
        "received_at": _STR,
        "attributed_to": _obj(
            {
                "message_id": _null(_STR),
                "campaign": _null(_INT),
                "journey": _null(_INT),
                "variant": _null(_STR),
                "touch": {
                    "type": "string",
                    "enum": ["token", "coupon", "click", "reply", "delivered"],
                },
                "touch_at": _null(_STR),
                "rule": _STR,
            }
        ),
        "reason": _STR,
        "holdout": _null(_OBJECT),
        "rule": _null(_OBJECT),
    }
)
_JOURNEY = {
    "journey": _INT,
    "version": _null(_INT),
    "entry": _INT,
    "contact": _obj({"id": _null(_INT), "phone": _null(_STR)}),
    "key": _STR,
    "step": _null(_STR),
}
EVENT_DATA[EventType.JOURNEY_ENTERED] = _obj(_JOURNEY)
EVENT_DATA[EventType.JOURNEY_EXITED] = _obj(
    {
        **_JOURNEY,
        "reason": {
            "type": "string",
            "enum": ["completed", "goal", "opted_out", "archived", "stopped"],
        },
    }
)
EVENT_DATA[EventType.JOURNEY_NOTIFY] = _obj(
    {**_JOURNEY, "notify": _null(_STR), "data": {"type": "object"}}
)

_SIGNATURE_HEADERS = [
    {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "schema": _STR,
        "description": "The same on every retry and replay of an event: dedupe on it",
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "schema": _INT,
        "description": "Seconds since the epoch when this attempt was signed",
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "schema": _STR,
        "description": "Standard Webhooks `v1,<base64 HMAC-SHA256>` with the subscription's "
        "whsec_… secret",
    },
]


def add_event_webhooks(result: dict, generator, request, public) -> dict:
    """The outbound events (POSTed to subscribers' URLs) as the document's `webhooks`."""
    webhooks = {}
    for event_type, label in EventType.choices:
        body = _obj(
            {
                "type": {"type": "string", "const": event_type},
                "timestamp": _TIME,
                "data": EVENT_DATA[event_type],
            }
        )
        webhooks[event_type] = {
            "post": {
                "summary": label,
                "description": "Signed per Standard Webhooks; retried with backoff until a 2xx "
                "(5 s, 10 s, 20 s … up to HERALD_EVENTS_BACKOFF_MAX).",
                "operationId": "event_" + event_type.replace(".", "_"),
                "parameters": _SIGNATURE_HEADERS,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": body}},
                },
                "responses": {
                    "2XX": {"description": "Received: not sent again"},
                    "default": {"description": "Retried later with backoff"},
                },
            }
        }
    result["webhooks"] = webhooks
    return result
