"""What an approval is for: a fingerprint of everything that decides what a campaign sends.

Any change to the text, template, mapping, audience (lists and exclusions), sender, schedule
or options changes the fingerprint, so an approval taken before the change no longer matches
and the launch is refused until someone approves again. Comparing at launch (rather than
clearing approvals on save) holds whatever surface made the edit: UI, admin, shell, API.
"""

import hashlib
import json
from typing import Any

from campaigns.models import Campaign

# Fields that decide what is sent, to whom, when and how. Name, state and counters do not.
CONTENT_FIELDS = [
    "channel",
    "sender",
    "text",
    "template_id",
    "template_mapping",
    "failover_mode",
    "fallback",
    "failover_after",
    "track_links",
    "sms_validity_minutes",
    "whatsapp_validity_minutes",
    "send_at",
    "speed_limit",
    "speed_unit",
    "quiet_hours_start",
    "quiet_hours_end",
]


def campaign_content(*, campaign: Campaign) -> dict[str, Any]:
    """The campaign's sendable content as plain JSON (for the fingerprint and the audit trail)."""
    content: dict[str, Any] = {"name": campaign.name}
    for field in CONTENT_FIELDS:
        value = getattr(campaign, field, None)
        if value is not None and not isinstance(value, (str, int, float, bool, dict, list)):
            value = value.isoformat() if hasattr(value, "isoformat") else str(value)
        content[field] = value
    if (template := campaign.template) is not None:
        content["template"] = {"name": template.name, "language": template.language}
    if campaign.pk:
        content["lists"] = sorted(campaign.lists.values_list("pk", flat=True))
        content["exclude_lists"] = sorted(campaign.exclude_lists.values_list("pk", flat=True))
    # A segment edited after the approval changes who receives it: its rules are content too.
    for name in ("segment", "exclude_segment"):
        if (segment := getattr(campaign, name)) is not None:
            content[f"{name}_rules"] = segment.rules
    # Fields other apps add to Campaign later are covered too, as long as they are concrete.
    known = set(CONTENT_FIELDS) | _NOT_CONTENT
    for concrete in Campaign._meta.concrete_fields:
        if concrete.attname not in known and concrete.name not in known:
            value = getattr(campaign, concrete.attname)
            if value is not None and not isinstance(value, (str, int, float, bool, dict, list)):
                value = value.isoformat() if hasattr(value, "isoformat") else str(value)
            content[concrete.attname] = value
    return content


# Bookkeeping the engine changes while running: never part of what was approved.
_NOT_CONTENT = {
    "id",
    "name",
    "template",
    "state",
    "state_reason",
    "created_by",
    "created_by_id",
    "created_at",
    "updated_at",
    "launched_at",
    "finished_at",
    "last_batch_at",
    "frozen_at",
    "claim_from",
    "recipients",
    "count_queued",
    "count_sending",
    "count_accepted",
    "count_delivered",
    "count_undeliverable",
    "count_expired",
    "count_rejected",
    "count_failed",
    "count_skipped",
    "failover_sent",
    "failover_delivered",
    "cost_amount",
    "cost_currency",
    "estimated_cost",
    "archived_at",
}


def campaign_fingerprint(*, campaign: Campaign) -> str:
    """sha256 of the campaign's content (name excluded: renaming does not void an approval)."""
    content = campaign_content(campaign=campaign)
    content.pop("name", None)
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
