"""Opt-outs that arrive through Infobip (STOP keywords, "blocked" provider errors, WhatsApp
marketing stops): the contact is opted out, and their messages not yet sent are skipped now.

Skipping queued rows right away (rather than only when their batch is claimed, which
campaigns/sending.py also checks) makes the campaign's counts show the opt-out at once.
"""

from collections.abc import Iterable

from campaigns.ledger import messages_skip_unclaimed
from campaigns.models import Message
from campaigns.states import CampaignState
from contacts.services import contacts_opt_out

UNSENT_CAMPAIGN_STATES = (CampaignState.SCHEDULED, CampaignState.RUNNING, CampaignState.PAUSED)


def contacts_suppress(*, contact_ids: Iterable[int], source: str, channel: str, note: str) -> int:
    """Opt contacts out (consent event when it changes) and skip their queued messages."""
    ids = sorted(set(contact_ids))
    if not ids:
        return 0
    changed = contacts_opt_out(contact_ids=ids, source=source, channel=channel, note=note)
    messages_skip_unsent(contact_ids=ids)
    return changed


def messages_skip_unsent(*, contact_ids: list[int]) -> int:
    """Skip the queued messages of these contacts in campaigns that have not finished."""
    queued = list(
        Message.objects.filter(
            contact_id__in=contact_ids,
            state="queued",
            campaign__state__in=UNSENT_CAMPAIGN_STATES,
        ).values_list("id", flat=True)
    )
    if not queued:
        return 0
    # Rows of a batch being sent are left to it (the send records them; the claim read the
    # opt-out when it took them).
    result = messages_skip_unclaimed(message_ids=queued, reason="opted out after launch")
    return result.applied
