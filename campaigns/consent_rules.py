"""Consent per channel at freeze: "marketing on a channel only to contacts with an opt-in there".

A channel type may need an opt-in on record for its medium (`ChannelType.opt_in_required()`,
e.g. WhatsApp with `HERALD_WHATSAPP_REQUIRE_OPT_IN`): a campaign on it reaches only contacts who
have an opt-in for that medium (a `ConsentEvent` with action opt_in on the medium, from any
source); the others are `skipped` with the reason and counted in the preview. One query per
chunk over the consent history index, never one per recipient.
"""

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from campaigns.models import Campaign
from campaigns.steps import campaign_kind
from channels.base import ChannelType
from contacts.models import ConsentAction, ConsentEvent


def no_opt_in_reason(kind: ChannelType) -> str:
    """The skip reason of a recipient without the opt-in `kind` needs."""
    medium = kind.medium_label
    return f"no {medium} opt-in on record ({medium} marketing needs one)"


def channel_consent_required(campaign: Campaign) -> bool:
    """Whether this campaign's recipients need an opt-in on its channel."""
    return campaign_kind(campaign).opt_in_required()


def without_channel_consent(
    *, campaign: Campaign, contact_ids: Iterable[int] | QuerySet[Any, Any]
) -> set[int]:
    """The contacts among `contact_ids` who lack the opt-in the campaign's channel needs."""
    kind = campaign_kind(campaign)
    if not kind.opt_in_required():
        return set()
    ids = contact_ids if isinstance(contact_ids, QuerySet) else list(contact_ids)
    opted_in = set(
        ConsentEvent.objects.filter(
            contact_id__in=ids, action=ConsentAction.OPT_IN, channel=kind.ledger
        ).values_list("contact_id", flat=True)
    )
    every = set(ids.values_list("id", flat=True) if isinstance(ids, QuerySet) else ids)
    return every - opted_in


def channel_opted_in_ids(*, campaign: Campaign) -> "QuerySet[ConsentEvent, Any] | None":
    """The contact ids with the opt-in the campaign's channel needs (None: none is needed)."""
    kind = campaign_kind(campaign)
    if not kind.opt_in_required():
        return None
    return ConsentEvent.objects.filter(action=ConsentAction.OPT_IN, channel=kind.ledger).values(
        "contact_id"
    )
