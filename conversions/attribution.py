"""Attribution: which message earned a conversion, for a whole batch in one statement.

The rule is conversions/rule.py's (token > coupon > click > reply > delivery, the latest
within the best kind, each kind within its window). `TOUCHES_SQL` finds, for every conversion
of a batch at once, the latest click, reply and delivery within their windows and the
holdout the contact was in — four index probes per conversion (LATERAL joins over the
ledger's (contact, created_at) index, the clicks' message index and the inbound messages'
(contact, received_at) index), no query per conversion. Tokens and coupons are explicit
evidence and are resolved in Python from two more set-based reads.

A touch is any message Herald sent: a campaign's, a transactional send's (a one-off campaign
of its own) or a journey's. Messages are looked for among those created within HORIZON of
the conversion (the windows count from the touch: a link clicked today may be in a message
of last week); holdout rows are no touch — they were sent nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from django.conf import settings
from django.db import connection
from django.db.models.functions import Lower

from campaigns.link_tokens import link_token_message
from campaigns.models import Message, SplitGroup, Variant
from conversions.models import AttributionRule, Touch

# How far back a touching message may have been created (before its touch's own window).
HORIZON = dt.timedelta(days=30)

# One row per conversion of the batch: its latest click, reply and delivery within their
# windows (message id and time each), the campaign whose holdout the contact was in, and the
# campaign, variant and messageId of the best of the three touches (click, else reply, else
# delivery), taken from the rows the probes read (no second lookup by id). The reply's message
# is the latest one sent to the contact before the reply. Clicks are found by their contact
# (one probe of infobip_click_contact_idx; the message is joined for its window), not by
# each of the contact's messages. The ledger is read by (contact, created_at) and its rows:
# state, done_at and the send times are written by the send answer and reports, which stay
# HOT only while no index names them (campaigns.models.Message.Meta), so no index covers them.
# The holdout probe reads the same (contact, created_at) rows: the COALESCE keeps it off
# the split campaigns' index `message_split_group`, which statistics taken before a split's
# freeze make look empty — the planner then walked every holdout row of every split per
# conversion (50,000 rows, 325 ms p50 on the 10M bench ledger).
TOUCHES_SQL = """
WITH i AS (
    SELECT * FROM jsonb_to_recordset(%(claims)s::jsonb)
        AS i(conversion_id bigint, contact_id bigint, at timestamptz)
)
SELECT i.conversion_id, cl.message_id, cl.clicked_at, rp.message_id, rp.received_at,
       dl.id, dl.done_at, ho.campaign_id,
       CASE WHEN cl.message_id IS NOT NULL THEN cl.campaign_id
            WHEN rp.message_id IS NOT NULL THEN rp.campaign_id ELSE dl.campaign_id END,
       CASE WHEN cl.message_id IS NOT NULL THEN cl.variant
            WHEN rp.message_id IS NOT NULL THEN rp.variant ELSE dl.variant END,
       COALESCE(cl.uuid, rp.uuid, dl.uuid)::text
  FROM i
  LEFT JOIN LATERAL (
      SELECT m.id AS message_id, c.clicked_at, m.campaign_id, m.variant, m.message_id AS uuid
        FROM infobip_click c JOIN campaigns_message m ON m.id = c.message_id
       WHERE c.contact_id = i.contact_id AND m.contact_id = i.contact_id
         AND m.created_at <= i.at AND m.created_at > i.at - %(click)s - %(horizon)s
         AND c.clicked_at <= i.at AND c.clicked_at > i.at - %(click)s
       ORDER BY c.clicked_at DESC, c.id DESC LIMIT 1) cl ON true
  LEFT JOIN LATERAL (
      SELECT r.received_at, sent.id AS message_id, sent.campaign_id, sent.variant, sent.uuid
        FROM infobip_inboundmessage r
        JOIN LATERAL (
            SELECT m.id, m.campaign_id, m.variant, m.message_id AS uuid FROM campaigns_message m
             WHERE m.contact_id = i.contact_id
               AND m.created_at <= r.received_at
               AND m.created_at > r.received_at - %(reply)s - %(horizon)s
               AND COALESCE(m.accepted_at, m.claimed_at) <= r.received_at
             ORDER BY COALESCE(m.accepted_at, m.claimed_at) DESC, m.id DESC LIMIT 1) sent ON true
       WHERE r.contact_id = i.contact_id AND r.keyword_action = ''
         AND r.received_at <= i.at AND r.received_at > i.at - %(reply)s
       ORDER BY r.received_at DESC, r.id DESC LIMIT 1) rp ON true
  LEFT JOIN LATERAL (
      SELECT m.id, m.done_at, m.campaign_id, m.variant, m.message_id AS uuid
        FROM campaigns_message m
       WHERE m.contact_id = i.contact_id AND m.state = 'delivered'
         AND m.created_at <= i.at AND m.created_at > i.at - %(delivery)s - %(horizon)s
         AND m.done_at <= i.at AND m.done_at > i.at - %(delivery)s
       ORDER BY m.done_at DESC, m.id DESC LIMIT 1) dl ON true
  LEFT JOIN LATERAL (
      SELECT m.campaign_id FROM campaigns_message m
       WHERE m.contact_id = i.contact_id AND COALESCE(m.split_group, -1) = 0
         AND m.created_at <= i.at AND m.created_at > i.at - %(lift)s
       ORDER BY m.created_at DESC LIMIT 1) ho ON true
"""


def touches(*, claims: Sequence[Claim], rule: AttributionRule) -> list[tuple[Any, ...]]:
    """TOUCHES_SQL's rows for claims with a contact: one statement, bound and prepared."""
    claimed = [
        {"conversion_id": c.conversion_id, "contact_id": c.contact_id, "at": c.at.isoformat()}
        for c in claims
    ]
    params: dict[str, Any] = {
        # One JSON document: PostgreSQL reads it faster than psycopg dumps three arrays.
        "claims": orjson.dumps(claimed).decode(),
        "click": rule.click_window,
        "reply": rule.reply_window,
        "delivery": rule.delivery_window,
        "lift": settings.HERALD_LIFT_WINDOW,
        "horizon": HORIZON,
    }
    # Bound on the server and prepared: a single conversion's statement is planned once per
    # connection, not on every call (planning cost three times the execution). Django's
    # execute wrappers do not see it (bench.conversions times this function).
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(TOUCHES_SQL, params, prepare=True)
        return cursor.fetchall()


@dataclass(frozen=True)
class Claim:
    """One conversion to attribute: who, when, and the evidence the shop sent."""

    conversion_id: int
    contact_id: int | None
    at: dt.datetime
    token: str = ""
    coupon: str = ""


@dataclass
class Decision:
    """The credit one conversion gets under a rule (before it is stored)."""

    conversion_id: int
    message_id: int | None = None
    campaign_id: int | None = None
    variant: int | None = None
    touch: str = ""
    touch_at: dt.datetime | None = None
    holdout_campaign_id: int | None = None
    contact_id: int | None = None  # found through the token when the shop gave no contact
    message_uuid: str = ""  # the credited message's messageId, for the explanation
    reason: str = ""


def attribute(*, claims: Sequence[Claim], rule: AttributionRule) -> list[Decision]:
    """Each claim's credit under `rule`, in the claims' order (a constant number of queries)."""
    decisions = {c.conversion_id: Decision(conversion_id=c.conversion_id) for c in claims}
    known = [c for c in claims if c.contact_id is not None]
    found: dict[int, tuple[Any, ...]] = {}
    if known:
        found = {row[0]: row[1:] for row in touches(claims=known, rule=rule)}
    tokens = _token_messages(claims)
    coupons = _coupon_messages(claims)
    for claim in claims:
        decision = decisions[claim.conversion_id]
        click_id, click_at, reply_id, reply_at, sent_id, sent_at, holdout, *best = found.get(
            claim.conversion_id, (None,) * 10
        )
        decision.holdout_campaign_id = holdout
        if (token := tokens.get(claim.conversion_id)) is not None:
            decision.message_id, decision.touch, decision.touch_at = token[0], Touch.TOKEN, token[1]
            decision.contact_id = token[2]
        elif (coupon := coupons.get(claim.conversion_id)) is not None:
            decision.message_id, decision.campaign_id, decision.variant = coupon[:3]
            decision.touch, decision.touch_at = Touch.COUPON, coupon[3]
        elif click_id is not None:
            decision.message_id, decision.touch, decision.touch_at = click_id, Touch.CLICK, click_at
        elif reply_id is not None:
            decision.message_id, decision.touch, decision.touch_at = reply_id, Touch.REPLY, reply_at
        elif sent_id is not None:
            decision.message_id, decision.touch = sent_id, Touch.DELIVERED
            decision.touch_at = sent_at
        if decision.touch in (Touch.CLICK, Touch.REPLY, Touch.DELIVERED):
            decision.campaign_id, decision.variant, decision.message_uuid = best
    # Tokens' and coupons' messages (few) are read apart.
    _fill_messages([d for d in decisions.values() if d.message_id and not d.message_uuid])
    names = _variant_names([d for d in decisions.values() if d.variant is not None])
    for claim in claims:
        decision = decisions[claim.conversion_id]
        decision.reason = _reason(decision, claim, rule, names)
    return [decisions[c.conversion_id] for c in claims]


def _token_messages(claims: Sequence[Claim]) -> dict[int, tuple[int, dt.datetime, int | None]]:
    """conversion → (ledger id, touch time, contact) of a valid token's message sent before it."""
    wanted: dict[uuid.UUID, list[Claim]] = {}
    for claim in claims:
        if claim.token and (message_id := link_token_message(claim.token)) is not None:
            wanted.setdefault(message_id, []).append(claim)
    if not wanted:
        return {}
    rows = Message.objects.filter(message_id__in=list(wanted)).values_list(
        "message_id", "id", "accepted_at", "claimed_at", "contact_id"
    )
    found: dict[int, tuple[int, dt.datetime, int | None]] = {}
    for message_id, pk, accepted_at, claimed_at, contact_id in rows:
        sent = accepted_at or claimed_at
        for claim in wanted.get(message_id, []):
            if sent is not None and claim.at - HORIZON < sent <= claim.at:
                # A token's message counts for the contact it was sent to (the shop may not
                # know the customer's number; a token shared with someone else still names it).
                found[claim.conversion_id] = (pk, sent, contact_id)
    return found


def _coupon_messages(
    claims: Sequence[Claim],
) -> dict[int, tuple[int | None, int, int, dt.datetime | None]]:
    """conversion → (ledger id or None, campaign, variant, sent) of its coupon's variant."""
    codes = {c.coupon.strip().casefold() for c in claims if c.coupon.strip()}
    if not codes:
        return {}
    variants: dict[str, list[tuple[int, int]]] = {}
    # Variants are a few rows per campaign: matched case-insensitively without an index.
    for code, campaign_id, position in (
        Variant.objects.annotate(code=Lower("coupon"))
        .filter(code__in=codes)
        .values_list("coupon", "campaign_id", "position")
    ):
        variants.setdefault(code.casefold(), []).append((campaign_id, position))
    contacts = {c.contact_id for c in claims if c.contact_id is not None}
    sent: dict[tuple[int, int, int], tuple[int, dt.datetime]] = {}
    campaign_ids = {cid for pairs in variants.values() for cid, _ in pairs}
    if contacts and campaign_ids:
        for pk, contact_id, campaign_id, variant, accepted_at, claimed_at in (
            Message.objects.filter(
                campaign_id__in=campaign_ids, contact_id__in=contacts, variant__isnull=False
            )
            .exclude(split_group=SplitGroup.HOLDOUT)
            .values_list("id", "contact_id", "campaign_id", "variant", "accepted_at", "claimed_at")
        ):
            at = accepted_at or claimed_at
            if at is not None and contact_id is not None and variant is not None:
                sent[(contact_id, campaign_id, variant)] = (pk, at)
    found: dict[int, tuple[int | None, int, int, dt.datetime | None]] = {}
    for claim in claims:
        pairs = variants.get(claim.coupon.strip().casefold(), [])
        best: tuple[int | None, int, int, dt.datetime | None] | None = None
        latest: dt.datetime | None = None
        for campaign_id, position in pairs:
            hit = sent.get((claim.contact_id or 0, campaign_id, position))
            if hit is not None and hit[1] <= claim.at and (latest is None or hit[1] > latest):
                best, latest = (hit[0], campaign_id, position, hit[1]), hit[1]
        if best is None and pairs:
            # Nobody sent this customer the variant (a shared code): the variant still gets it.
            campaign_id, position = max(pairs)
            best = (None, campaign_id, position, None)
        if best is not None:
            found[claim.conversion_id] = best
    return found


def _fill_messages(decisions: list[Decision]) -> None:
    """Campaign and variant of each credited message, in one read."""
    rows = Message.objects.filter(id__in=[d.message_id for d in decisions]).values_list(
        "id", "campaign_id", "variant", "message_id"
    )
    by_id = {pk: (campaign_id, variant, str(uid)) for pk, campaign_id, variant, uid in rows}
    for decision in decisions:
        if decision.message_id in by_id:
            decision.campaign_id, decision.variant, decision.message_uuid = by_id[
                decision.message_id
            ]


def _variant_names(decisions: list[Decision]) -> dict[tuple[int, int], str]:
    """(campaign, position) → variant name for the credited variants, in one read."""
    campaigns = {d.campaign_id for d in decisions if d.campaign_id is not None}
    if not campaigns:
        return {}
    rows = Variant.objects.filter(campaign_id__in=campaigns).values_list(
        "campaign_id", "position", "name"
    )
    return {(campaign_id, position): name for campaign_id, position, name in rows}


def _ago(touch_at: dt.datetime | None, at: dt.datetime) -> str:
    if touch_at is None:
        return ""
    seconds = max(int((at - touch_at).total_seconds()), 0)
    if seconds < 3600:
        return f"{seconds // 60} min before"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h before"
    return f"{seconds // 86400} d before"


_VERBS = {
    Touch.TOKEN: "its tracked link was followed (token)",
    Touch.COUPON: "its coupon code was used",
    Touch.CLICK: "clicked",
    Touch.REPLY: "replied",
    Touch.DELIVERED: "delivered",
}


def _reason(
    decision: Decision, claim: Claim, rule: AttributionRule, names: dict[tuple[int, int], str]
) -> str:
    """The decision in words, as `GET /api/v1/conversions/{order_id}` explains it."""
    if decision.touch:
        what = f"campaign {decision.campaign_id}" if decision.campaign_id else "no campaign"
        if decision.variant is not None and decision.campaign_id is not None:
            name = names.get((decision.campaign_id, decision.variant), str(decision.variant))
            what += f", variant {name}"
        target = f"message {decision.message_uuid} of {what}" if decision.message_id else what
        verb = _VERBS[Touch(decision.touch)]
        return f"credited to {target}: {verb} {_ago(decision.touch_at, claim.at)}".strip()
    if claim.contact_id is None:
        return "no contact with this number, and no valid token or coupon: credited to nothing"
    if decision.holdout_campaign_id is not None:
        return (
            f"in the holdout of campaign {decision.holdout_campaign_id}: counted for its lift,"
            " credited to no message"
        )
    return f"no click, reply or delivery within the windows (rule r{rule.pk}): credited to nothing"
