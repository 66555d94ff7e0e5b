"""Signals other apps may listen to (the API's outbound events); sent once per batch.

Receivers run inside the sender's transaction: they must be quick and must not call out.
"""

from django.dispatch import Signal

# Contacts whose consent changed: `contact_ids`, `source`, `channel`.
contacts_opted_out = Signal()
contacts_opted_in = Signal()
# Contacts just added to a list (not on it before): `list_id`, `contact_ids`.
list_joined = Signal()
# Contacts created or changed (fields, attributes, lists left): `contact_ids`. What reads
# contacts by their fields (journeys' segment triggers) looks at just these again.
contacts_changed = Signal()
