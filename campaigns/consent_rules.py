"""Consent per channel at freeze: "WhatsApp marketing only to contacts with a WhatsApp opt-in".

With `HERALD_WHATSAPP_REQUIRE_OPT_IN` on, a WhatsApp campaign reaches only contacts who have
an opt-in on record for WhatsApp (a `ConsentEvent` with action opt_in on channel whatsapp,
from any source); the others are `skipped` with the reason and counted in the preview. One
query per chunk over the consent history index, never one per recipient.
"""

from collections.abc import Iterable

from django.conf import settings
from django.db.models import QuerySet

from campaigns.models import Campaign, Channel
from contacts.models import ConsentAction, ConsentChannel, ConsentEvent

NO_WHATSAPP_OPT_IN = "no WhatsApp opt-in on record (WhatsApp marketing needs one)"


def channel_consent_required(campaign: Campaign) -> bool:
    """Whether this campaign's recipients need an opt-in on its channel."""
    return campaign.channel != Channel.SMS and settings.HERALD_WHATSAPP_REQUIRE_OPT_IN


def without_channel_consent(
    *, campaign: Campaign, contact_ids: Iterable[int] | QuerySet
) -> set[int]:
    """The contacts among `contact_ids` who lack the opt-in the campaign's channel needs."""
    if not channel_consent_required(campaign):
        return set()
    ids = contact_ids if isinstance(contact_ids, QuerySet) else list(contact_ids)
    opted_in = set(
        ConsentEvent.objects.filter(
            contact_id__in=ids, action=ConsentAction.OPT_IN, channel=ConsentChannel.WHATSAPP
        ).values_list("contact_id", flat=True)
    )
    every = set(ids.values_list("id", flat=True) if isinstance(ids, QuerySet) else ids)
    return every - opted_in


def channel_opted_in_ids(*, campaign: Campaign) -> QuerySet | None:
    """The contact ids with the opt-in the campaign's channel needs (None: none is needed)."""
    if not channel_consent_required(campaign):
        return None
    return ConsentEvent.objects.filter(
        action=ConsentAction.OPT_IN, channel=ConsentChannel.WHATSAPP
    ).values("contact_id")
