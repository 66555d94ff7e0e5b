"""WhatsApp template: an approved template with per-recipient values, many per request.

The template's content and its placeholder mapping are the whatsapp app's (synced templates,
whatsapp.mapping); this type knows how a campaign step uses them: checked before launch,
resolved per contact at freeze, sent as Infobip's template messages (optionally with Infobip's
native SMS failover on the same request).
"""

from collections.abc import Mapping, Sequence
from typing import Any

from channels.base import HERALD, TEMPLATE, ChannelType, Content, Outbound, SendOutcome
from channels.regional import MetaUsMarketingBlock
from infobip.client import InfobipClient
from infobip.types import WhatsAppTemplateMessage
from whatsapp.mapping import TemplateValues, mapping_resolve, mapping_validate
from whatsapp.mapping import contact_values as template_contact_values


class WhatsAppTemplate(ChannelType):
    name = "whatsapp_template"
    label = "WhatsApp template"
    ledger = "whatsapp"
    medium_label = "WhatsApp"
    infobip_channel = "WHATSAPP"
    content_kinds = frozenset({TEMPLATE})
    sender_kind = "whatsapp"
    default_fallback = ("sms",)
    sender_setting = "INFOBIP_WHATSAPP_SENDER"
    report_path = "whatsapp/reports"
    inbound_path = "whatsapp/inbound"
    report_pull = "messages-api"
    validity = HERALD
    opt_in_setting = "HERALD_WHATSAPP_REQUIRE_OPT_IN"
    price_keys = ("whatsapp_template", "whatsapp")
    # Infobip's own failover on the same request: WhatsApp template → SMS only.
    native_fallback = ("sms",)
    regional_rules = (MetaUsMarketingBlock(),)

    # whatsapp.services and its models are imported in the methods: the registry loads without
    # Django's apps (scripts such as the price table's read it).

    def normalise_sender(self, sender: str) -> str:
        from whatsapp.services import normalise_sender

        return normalise_sender(sender)

    def template_lookup(self, *, sender: str, name: str, language: str) -> Any:
        from whatsapp.models import WhatsAppTemplate as Template

        return Template.objects.filter(sender=sender, name=name, language=language).first()

    def template_problems(self, content: Content) -> list[str]:
        if content.template is None:
            return ["a WhatsApp template campaign needs a template"]
        return mapping_validate(template=content.template, mapping=content.mapping or {})

    def sendable_problem(self, content: Content) -> str | None:
        """Why the template cannot be sent now (not approved, paused…), else None."""
        if content.template is None:
            return None
        from whatsapp.services import template_check_sendable

        return template_check_sendable(template=content.template)

    def render_template(
        self, content: Content, contact: Any
    ) -> tuple[str, dict[str, Any] | None, str]:
        resolved = mapping_resolve(
            template=content.template,
            mapping=dict(content.mapping or {}),
            contact=template_contact_values(contact) if contact is not None else {},
        )
        if resolved.values is None:
            return "", None, "; ".join(resolved.missing)[:500]
        from whatsapp.services import template_render

        text = template_render(template=content.template, values=resolved.values)
        return text, resolved.values.to_dict(), ""

    def template_fields(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return TemplateValues.from_dict(dict(values)).to_message_fields()

    def send(
        self,
        client: InfobipClient,
        messages: Sequence[Outbound],
        *,
        bulk_id: str | None = None,
        tracking: Mapping[str, Any] | None = None,
    ) -> SendOutcome:
        result = client.send_whatsapp_templates(
            [self._message(m, tracking) for m in messages], bulk_id=bulk_id
        )
        return SendOutcome(result)

    def _message(self, m: Outbound, tracking: Mapping[str, Any] | None) -> WhatsAppTemplateMessage:
        template = m.content.template
        return WhatsAppTemplateMessage(
            to=m.to,
            sender=m.sender,
            template_name=template.name,
            language=template.language,
            message_id=m.message_id,
            callback_data=m.callback_data,
            notify_url=m.notify_url,
            sms_failover=m.sms_failover,
            url_options=dict(tracking) if tracking else None,
            **self.template_fields(m.values or {}),
        )
