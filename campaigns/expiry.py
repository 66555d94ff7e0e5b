"""The one expiry path: Herald decides a message's report will never come, so it is `expired`.

Two rules decide it (campaigns.reports: no final report 49 h after sending, past Infobip's
48 h validity; campaigns.validity: a campaign's own WhatsApp validity), and both go through
`messages_expire`, which applies the expiry like a reported one: forward-only, and with the
SMS failover of a WhatsApp message (outcomes_apply_with_failover).
"""

from collections.abc import Iterable
from datetime import datetime

from campaigns.ledger import Outcome
from campaigns.outcomes import outcomes_apply_with_failover


def messages_expire(
    *, message_ids: Iterable[object], status_name: str, reason: str, now: datetime
) -> int:
    """Expire these messages (by messageId) with `status_name`; returns how many moved."""
    outcomes = [
        Outcome(
            str(mid),
            "expired",
            status_group="EXPIRED",
            status_name=status_name,
            reason=reason,
            at=now,
        )
        for mid in message_ids
    ]
    if not outcomes:
        return 0
    return outcomes_apply_with_failover(outcomes=outcomes).applied
