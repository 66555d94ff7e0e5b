"""Set-based writes to the message ledger: claim, apply outcomes, release, and their counters.

Every function here changes many rows with a constant number of statements (no query per
message), keeps the campaign's denormalised counters in step in the same transaction, and writes
a `MessageEvent` for each state change the row cannot tell by itself: the send path (claim,
then Infobip's answer) writes none, because `claimed_at`, `accepted_at`/`done_at`, the status
and the reason are on the row and the message's next event starts from the state it left. The
forward-only rule (campaigns.states) is enforced here, so a late or duplicated report can never
move a message backwards.

- `types`: what the writes take and give back (Outcome, Claimed, SentStatus, results);
- `statements`: every SQL statement, named and explained once, and the typed rows it returns;
- `outcomes`: the forward-only write (messages_apply_outcomes), events, counters, the re-queue;
- `claims`: claims and their batch rows, releases, skips of unclaimed rows, what is in flight;
- `sent`: the send answer's one conditional UPDATE (messages_record_sent);
- `reports`: reported outcomes in one statement (messages_apply_reports).
"""

from campaigns.ledger.claims import (
    batch_take,
    live_batch_ids,
    messages_claim,
    messages_in_flight,
    messages_skip_unclaimed,
    unsettled_campaign_ids,
)
from campaigns.ledger.outcomes import messages_apply_outcomes, messages_requeue_unknown
from campaigns.ledger.reports import messages_apply_reports
from campaigns.ledger.sent import messages_record_sent
from campaigns.ledger.types import (
    FAILOVER_SENT_STATES,
    ApplyResult,
    Claimed,
    Outcome,
    Screened,
    SentRecord,
    SentStatus,
)

__all__ = [
    "FAILOVER_SENT_STATES",
    "ApplyResult",
    "Claimed",
    "Outcome",
    "Screened",
    "SentRecord",
    "SentStatus",
    "batch_take",
    "live_batch_ids",
    "messages_apply_outcomes",
    "messages_apply_reports",
    "messages_claim",
    "messages_in_flight",
    "messages_record_sent",
    "messages_requeue_unknown",
    "messages_skip_unclaimed",
    "unsettled_campaign_ids",
]
