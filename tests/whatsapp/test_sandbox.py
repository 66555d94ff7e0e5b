"""Sync against the running sandbox, then send what the mapping resolves and see it accepted."""

import pytest

from infobip.client import get_client
from infobip.sandbox.templates import TEMPLATES
from infobip.types import WhatsAppTemplateMessage
from whatsapp.mapping import mapping_resolve, mapping_validate, slot_from_text
from whatsapp.models import WhatsAppTemplate
from whatsapp.services import template_check_sendable, template_render, templates_sync

pytestmark = pytest.mark.django_db
SENDER = "447860099299"
ANA = {"first_name": "Ana", "phone": "+351912345678", "attributes": {"code": "SPRING20"}}
WELCOME = {
    "header": [slot_from_text("{{first_name}}")],
    "body": [
        slot_from_text("{{first_name}}"),
        slot_from_text("20"),
        slot_from_text("{{code}}"),
        slot_from_text("31 May"),
    ],
    "buttons": [{"index": 1, "slots": [slot_from_text("{{code}}")]}],
}


def send(template: WhatsAppTemplate, values, message_id: str) -> dict:
    message = WhatsAppTemplateMessage(
        to="351912345678",
        sender=SENDER,
        template_name=template.name,
        language=template.language,
        message_id=message_id,
        **values.to_message_fields(),
    )
    get_client().send_whatsapp_templates([message])
    return message


def test_sync_against_the_sandbox(sandbox_settings) -> None:
    result = templates_sync(sender=SENDER)
    assert (result.created, result.unsupported, result.errors) == (len(TEMPLATES), 0, [])
    assert templates_sync(sender=SENDER).unchanged == len(TEMPLATES)

    stored = {t.name: t for t in WhatsAppTemplate.objects.filter(sender=SENDER)}
    welcome = stored["welcome_offer"]
    assert welcome.placeholders["header"] == 1
    assert welcome.body_placeholder_count == 4
    assert welcome.value_buttons == [
        {"index": 0, "type": "QUICK_REPLY", "placeholders": 0},
        {"index": 1, "type": "URL", "placeholders": 1},
    ]
    assert stored["appointment_reminder"].header_format == "IMAGE"
    assert template_check_sendable(template=welcome) is None
    assert "PENDING" in template_check_sendable(template=stored["summer_sale"])
    assert "is PAUSED on Infobip" in template_check_sendable(template=stored["winter_promo"])


def test_resolved_values_are_accepted_by_the_sandbox(sandbox_settings) -> None:
    sandbox_settings.configure(outcomes={"delivered": 1.0})
    templates_sync(sender=SENDER)
    welcome = WhatsAppTemplate.objects.get(name="welcome_offer")
    assert mapping_validate(template=welcome, mapping=WELCOME) == []
    values = mapping_resolve(template=welcome, mapping=WELCOME, contact=ANA).values
    assert template_render(template=welcome, values=values).startswith(
        "Hi Ana!\n\nHello Ana, enjoy 20% off everything with code SPRING20 until 31 May."
    )
    send(welcome, values, "wa-ok-1")
    assert sandbox_settings.truth("wa-ok-1")["status"] == "DELIVERED_TO_HANDSET"

    # The same send with one body value short is refused by the sandbox: the check above can fail.
    values.body = values.body[:3]
    send(welcome, values, "wa-short-1")
    assert (
        sandbox_settings.truth("wa-short-1")["error"] != sandbox_settings.truth("wa-ok-1")["error"]
    )
    assert sandbox_settings.truth("wa-short-1")["status"] == "UNDELIVERABLE_NOT_DELIVERED"
