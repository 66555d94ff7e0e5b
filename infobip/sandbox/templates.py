"""The demo WhatsApp templates the sandbox serves (`GET /whatsapp/2/senders/{sender}/templates`).

Shaped like Infobip's `TemplateApiResponse`: some with body, header and button placeholders, one
PENDING and one paused, so template sync, placeholder mapping and "not sendable" can be tried.
"""

import re
from typing import Any

_CREATED = "2026-01-05T09:30:00.000+0000"


def _template(
    tid: str, name: str, language: str, status: str, category: str, structure: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": tid,
        "businessAccountId": 100200300,
        "name": name,
        "language": language,
        "status": status,
        "category": category,
        "structure": structure,
        "quality": "HIGH" if status == "APPROVED" else "UNKNOWN",
        "createdAt": _CREATED,
        "lastUpdatedAt": _CREATED,
    }


TEMPLATES: list[dict[str, Any]] = [
    _template("1001", "welcome_offer", "en", "APPROVED", "MARKETING", {
        "header": {"format": "TEXT", "text": "Hi {{1}}!", "example": "Ana"},
        "body": {
            "text": "Hello {{1}}, enjoy {{2}}% off everything with code {{3}} until {{4}}.",
            "examples": ["Ana", "20", "SPRING20", "31 May"],
        },
        "footer": {"text": "Reply STOP to opt out"},
        "buttons": [
            {"type": "QUICK_REPLY", "text": "Stop promotions"},
            {"type": "URL", "text": "See the offer", "url": "https://shop.example.com/offer/{{1}}"},
        ],
        "type": "TEXT",
    }),
    _template("1002", "order_update", "en", "APPROVED", "UTILITY", {
        "body": {
            "text": "Your order {{1}} is on its way and arrives on {{2}}.",
            "examples": ["A-1042", "Friday"],
        },
        "type": "TEXT",
    }),
    _template("1003", "appointment_reminder", "en_GB", "APPROVED", "UTILITY", {
        "header": {"format": "IMAGE"},
        "body": {
            "text": "Dear {{1}}, this is a reminder of your appointment on {{2}} at {{3}}.",
            "examples": ["Ana", "12 June", "10:30"],
        },
        "footer": {"text": "Herald demo clinic"},
        "buttons": [{"type": "PHONE_NUMBER", "text": "Call us", "phoneNumber": "441134960000"}],
        "type": "MEDIA",
    }),
    _template("1004", "plain_hello", "en", "APPROVED", "MARKETING", {
        "body": {"text": "Hello from Herald! Thanks for being with us."},
        "type": "TEXT",
    }),
    _template("1005", "bienvenida", "es", "APPROVED", "MARKETING", {
        "body": {"text": "Hola {{1}}, bienvenido a Herald.", "examples": ["Ana"]},
        "type": "TEXT",
    }),
    _template("1006", "summer_sale", "en", "PENDING", "MARKETING", {
        "body": {"text": "Summer sale: {{1}}% off for you, {{2}}.", "examples": ["30", "Ana"]},
        "type": "TEXT",
    }),
    _template("1007", "winter_promo", "en", "FIRST_PAUSED", "MARKETING", {
        "body": {"text": "Winter promo: {{1}}.", "examples": ["two for one"]},
        "type": "TEXT",
    }),
]  # fmt: skip

_PLACEHOLDER = re.compile(r"\{\{\d+\}\}")


def find(name: str, language: str) -> dict[str, Any] | None:
    """The demo template registered as (name, language), or None."""
    for template in TEMPLATES:
        if template["name"] == name and template["language"] == language:
            return template
    return None


def placeholder_count(template: dict[str, Any], part: str = "body") -> int:
    """How many `{{n}}` placeholders the template's header or body text has."""
    text = (template["structure"].get(part) or {}).get("text", "")
    return len(set(_PLACEHOLDER.findall(text)))


def send_problem(content: dict[str, Any]) -> str | None:
    """The error name a template send ends with (unknown, not approved, wrong args), or None."""
    template = find(content.get("templateName", ""), content.get("language", ""))
    if template is None or template["status"] != "APPROVED":
        return "EC_INVALID_TEMPLATE"
    data = content.get("templateData") or {}
    placeholders = (data.get("body") or {}).get("placeholders") or []
    if len(placeholders) != placeholder_count(template) or any(not p for p in placeholders):
        return "EC_INVALID_TEMPLATE_ARGS"
    header = template["structure"].get("header")
    needs_header = header and header["format"] == "TEXT" and placeholder_count(template, "header")
    if needs_header and not (data.get("header") or {}).get("placeholder"):
        return "EC_INVALID_TEMPLATE_ARGS"
    return None
