"""Message and campaign states, and the forward-only rule that governs them.

A message moves queued → accepted → one final state, or straight to a final state (skipped
before sending, failed when Herald gives up); while its batch is sent it stays queued, held by
its SendBatch (rows in `sending` are from before batch claims, and are still settled). A final
state never moves back; a late report that ranks lower is recorded as an event but does not
change the state.
"""

from django.db import models


class MessageState(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    ACCEPTED = "accepted", "Accepted"
    DELIVERED = "delivered", "Delivered"
    UNDELIVERABLE = "undeliverable", "Undeliverable"
    EXPIRED = "expired", "Expired"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


FINAL_STATES = frozenset(
    {
        MessageState.DELIVERED,
        MessageState.UNDELIVERABLE,
        MessageState.EXPIRED,
        MessageState.REJECTED,
        MessageState.FAILED,
        MessageState.SKIPPED,
    }
)

# Ranks for the forward-only rule: a transition is applied only to a higher rank. All final
# states share the top rank, so once final a message never changes state again.
RANK = {
    MessageState.QUEUED: 0,
    MessageState.SENDING: 1,
    MessageState.ACCEPTED: 2,
    **dict.fromkeys(FINAL_STATES, 3),
}


def can_move(current: str, new: str) -> bool:
    """Whether a message in `current` may move to `new` under the forward-only rule."""
    return RANK[MessageState(new)] > RANK[MessageState(current)]


def states_below(new: str) -> list[str]:
    """The states from which a move to `new` is allowed (for conditional UPDATEs)."""
    rank = RANK[MessageState(new)]
    return [state.value for state, r in RANK.items() if r < rank]


class CampaignState(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


CAMPAIGN_TRANSITIONS = {
    CampaignState.DRAFT: {CampaignState.SCHEDULED, CampaignState.RUNNING, CampaignState.CANCELLED},
    CampaignState.SCHEDULED: {
        CampaignState.RUNNING,
        CampaignState.CANCELLED,
        CampaignState.DRAFT,
        CampaignState.FAILED,
    },
    CampaignState.RUNNING: {
        CampaignState.PAUSED,
        CampaignState.COMPLETED,
        CampaignState.CANCELLED,
        CampaignState.FAILED,
    },
    CampaignState.PAUSED: {CampaignState.RUNNING, CampaignState.CANCELLED},
    CampaignState.COMPLETED: set(),
    CampaignState.CANCELLED: set(),
    CampaignState.FAILED: set(),
}


def campaign_can_move(current: str, new: str) -> bool:
    """Whether a campaign in `current` may move to `new`."""
    return CampaignState(new) in CAMPAIGN_TRANSITIONS[CampaignState(current)]
