"""Signals other apps may listen to (the API's outbound events); sent once per stored batch.

Receivers run inside the sender's transaction: they must be quick and must not call out.
"""

from django.dispatch import Signal

# Inbound messages just stored: `infobip_message_ids` (duplicates of earlier pushes included).
inbound_received = Signal()
# Click notifications just stored: `event_keys` [(webhook event id, index), ...].
links_clicked = Signal()
