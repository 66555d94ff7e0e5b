"""How Infobip's status groups and ids map to Herald's message states.

Infobip groups (docs/INFOBIP.md §9): 0 ACCEPTED/OK, 1 PENDING, 2 UNDELIVERABLE, 3 DELIVERED,
4 EXPIRED, 5 REJECTED. Everything PENDING is intermediate, and so is DELIVERED_TO_OPERATOR
(group 3, id 2): only delivery to the handset is final. The error's `permanent` flag decides
whether "resend to failed" is offered for a message.
"""

from decimal import Decimal

from campaigns.states import MessageState
from infobip.types import MessageError, Status

GROUP_STATES = {
    0: MessageState.ACCEPTED,
    1: MessageState.ACCEPTED,
    2: MessageState.UNDELIVERABLE,
    3: MessageState.DELIVERED,
    4: MessageState.EXPIRED,
    5: MessageState.REJECTED,
}
GROUP_NAMES = {
    "ACCEPTED": 0,
    "OK": 0,
    "PENDING": 1,
    "UNDELIVERABLE": 2,
    "DELIVERED": 3,
    "EXPIRED": 4,
    "REJECTED": 5,
}
DELIVERED_TO_OPERATOR = 2


def state_for_status(status: Status) -> MessageState:
    """Herald's state for an Infobip status object (unknown groups count as still pending)."""
    group = status.group_id
    if group is None:
        group = GROUP_NAMES.get((status.group_name or "").upper(), 1)
    if group == 3 and (
        status.id == DELIVERED_TO_OPERATOR or (status.name or "").upper() == "DELIVERED_TO_OPERATOR"
    ):
        return MessageState.ACCEPTED
    return GROUP_STATES.get(group, MessageState.ACCEPTED)


def resend_allowed(error: MessageError | None) -> bool:
    """A failed message may be resent unless Infobip said the error is permanent."""
    return error is None or not error.permanent


def message_price(amount: Decimal | None, *, per_part: bool, parts: int | None) -> Decimal | None:
    """What one message cost. Infobip's v3 SMS reports and logs price the whole message
    (schema `MessagePrice`: "Price per one message"); the legacy v2 reports price one SMS part
    (schema `Price`: "Price per one SMS"), so only those are multiplied by the part count."""
    if amount is None:
        return None
    if per_part and parts and parts > 1:
        return amount * parts
    return amount
