"""The two roles: Marketer (create, preview, test) and Sender (launch, pause, cancel, approve)."""

from typing import Any

MARKETER = "Marketer"
SENDER = "Sender"

ROLE_PERMISSIONS: dict[str, list[str]] = {
    MARKETER: [
        "campaigns.view_campaign",
        "campaigns.add_campaign",
        "campaigns.change_campaign",
        "contacts.view_contact",
        "contacts.add_contact",
        "contacts.change_contact",
        "contacts.view_contactlist",
        "contacts.add_contactlist",
        "contacts.change_contactlist",
        "contacts.view_attributedefinition",
        "contacts.add_attributedefinition",
        "contacts.change_attributedefinition",
        "contacts.delete_attributedefinition",
        "campaigns.view_segment",
        "campaigns.add_segment",
        "campaigns.change_segment",
        "campaigns.delete_segment",
        "whatsapp.view_whatsapptemplate",
        "whatsapp.sync_whatsapptemplate",
        "infobip.view_inboundmessage",
        "ui.reply_inbound",
        "core.view_auditentry",
        "journeys.view_journey",
        "journeys.add_journey",
        "journeys.change_journey",
        "journeys.view_journeyentry",
        "journeys.view_event",
        # Conversions (also granted by conversions' migration 0002).
        "conversions.view_conversion",
        "conversions.add_conversion",
        "conversions.view_credit",
        "channels.view_sender",
    ],
    # Who messages come from in each country is a sending decision: the Sender role's.
    SENDER: [
        "ui.launch_campaign",
        "ui.approve_campaign",
        "channels.add_sender",
        "channels.change_sender",
        "channels.delete_sender",
    ],
}


def roles_ensure(*, group_model: Any, permission_model: Any) -> None:
    """Create or complete the role groups (idempotent; the models may be historical ones)."""
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        for name in names:
            app_label, codename = name.split(".")
            perm = permission_model.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if perm is not None:
                group.permissions.add(perm)
