"""Signals other apps may listen to (the API's outbound events); sent once per batch.

Receivers run inside the sender's transaction: they must be quick and must not call out.
"""

from django.dispatch import Signal

# Contacts just let into a journey: `journey_id`, `entry_ids`.
journey_entered = Signal()
# Entries that left a journey: `journey_id`, `exits` [(entry id, reason)].
journey_exited = Signal()
# Notify steps taken: `journey_id`, `items` [(entry id, step id, data)].
journey_notified = Signal()
