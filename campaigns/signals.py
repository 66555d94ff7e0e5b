"""Signals other apps may listen to (the API's outbound events); sent in bulk, never per row.

Receivers run inside the sender's transaction: they must be quick and must not call out.
"""

from django.dispatch import Signal

# A batch of ledger rows reached a final state: `message_ids` (primary keys).
messages_final = Signal()
# A campaign moved: `campaign_id`, `from_state`, `to_state`, `reason`.
campaign_state_changed = Signal()
# Someone asked for a campaign's approval: `campaign_id`, `requested_by` (username or "").
campaign_approval_requested = Signal()
