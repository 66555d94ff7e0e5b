"""`wait_for`: what an entry waits for (reply, click, delivery, a named event), found in sets.

Two paths, one answer. The stored rows are the truth: clicks (infobip.Click, by message),
delivery (the campaign ledger's state), replies (inbound messages of the contact) and events
(journeys.Event) — read for a whole batch when entries arrive at a `wait_for` and again when
they time out, so nothing that happened is ever missed. For promptness, the receivers below
(called from the owning apps' signals and from the services that store replies and events)
mark waiting entries `resolved` and due now; they skip entries the engine holds at that moment
(`SKIP LOCKED`: a report or click transaction never waits on a journey batch, which may itself
be waiting on that report's campaign row), and those are found from the rows at their timeout.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import Q
from django.utils import timezone
from psycopg import sql

from campaigns.models import Message
from infobip.models import Click, InboundMessage, KeywordAction
from journeys.models import Event, JourneyEntry
from journeys.plan import bound_cursor

# Replies that count: anything but a keyword (consent, help, or a journey's own).
_NOT_REPLIES = (
    KeywordAction.OPT_OUT,
    KeywordAction.OPT_IN,
    KeywordAction.HELP,
    KeywordAction.JOURNEY,
)


# A send step with a fallback chain reaches a contact through any of its messages: the step's
# own (the entry's `last_message`) or a follow-up that replaces it (campaigns/failover.py).
# Down the chain from the entries' messages (the ledger's unique index on `replaces`) …
_CHAIN_DOWN = sql.SQL(
    """
    WITH RECURSIVE chain(root, id) AS (
        SELECT id, id FROM {messages} WHERE id = ANY(%(ids)s)
        UNION ALL
        SELECT chain.root, m.id FROM {messages} m JOIN chain ON m.replaces_id = chain.id)
    SELECT root, id FROM chain
    """
)
# … and up it from reported messages, to the message an entry names (by primary key).
_CHAIN_UP = sql.SQL(
    """
    WITH RECURSIVE chain(id, replaces_id) AS (
        SELECT id, replaces_id FROM {messages} WHERE id = ANY(%(ids)s) AND {only}
        UNION ALL
        SELECT m.id, m.replaces_id FROM {messages} m JOIN chain ON m.id = chain.replaces_id)
    SELECT id FROM chain
    """
)


def _chain_down(roots: Iterable[int]) -> dict[int, int]:
    """Each message of the chains starting at `roots` → its root (the roots included)."""
    ids = sorted(set(roots))
    if not ids:
        return {}
    statement = _CHAIN_DOWN.format(messages=sql.Identifier(Message._meta.db_table))
    with bound_cursor() as cursor:
        cursor.execute(statement, {"ids": ids})
        return {pk: root for root, pk in cursor.fetchall()}


def _chain_up(message_ids: Iterable[int], *, delivered: bool = False) -> list[int]:
    """These messages (only the delivered ones, if asked) and every message they replace."""
    ids = sorted(set(message_ids))
    if not ids:
        return []
    only = sql.SQL("state = 'delivered'" if delivered else "TRUE")
    statement = _CHAIN_UP.format(messages=sql.Identifier(Message._meta.db_table), only=only)
    with bound_cursor() as cursor:
        cursor.execute(statement, {"ids": ids})
        return sorted({row[0] for row in cursor.fetchall()})


def happened(
    waiting: Sequence[tuple[int, int, str, str, int | None, dt.datetime]],
) -> set[int]:
    """The entries among (id, contact, key, wait_event, last_message, since) whose event came."""
    found: set[int] = set()
    by_kind: dict[str, list[Any]] = defaultdict(list[Any])
    for row in waiting:
        by_kind[row[3]].append(row)
    # Replies and events count from the entry's last send (else from its arrival).
    sent_at = dict(
        Message.objects.filter(
            id__in=[r[4] for r in waiting if r[4] and r[3] != "click" and r[3] != "delivered"]
        ).values_list("id", "created_at")
    )

    def since(row: Any) -> dt.datetime:
        at: dt.datetime = sent_at.get(row[4], row[5]) if row[4] else row[5]
        return at

    for kind, rows in by_kind.items():
        if kind in ("click", "delivered"):
            # The entry's message or a fallback message that followed it.
            root_of = _chain_down(r[4] for r in rows if r[4])
            hits: list[int | None] = list(
                Click.objects.filter(message_id__in=list(root_of)).values_list(
                    "message_id", flat=True
                )
                if kind == "click"
                else Message.objects.filter(id__in=list(root_of), state="delivered").values_list(
                    "id", flat=True
                )
            )
            reached = {root_of[pk] for pk in hits if pk is not None}
            found.update(r[0] for r in rows if r[4] in reached)
        elif kind == "reply":
            earliest = min(since(r) for r in rows)
            replies: dict[int, list[dt.datetime]] = defaultdict(list)
            for contact_id, at in (
                InboundMessage.objects.filter(
                    contact_id__in={r[1] for r in rows}, received_at__gte=earliest
                )
                .exclude(keyword_action__in=_NOT_REPLIES)
                .values_list("contact_id", "received_at")
            ):
                replies[contact_id].append(at)
            found.update(r[0] for r in rows if any(at >= since(r) for at in replies[r[1]]))
        elif kind.startswith("event:"):
            earliest = min(since(r) for r in rows)
            events: dict[int, list[tuple[str, dt.datetime]]] = defaultdict(list)
            for contact_id, key, at in Event.objects.filter(
                contact_id__in={r[1] for r in rows}, name=kind[6:], received_at__gte=earliest
            ).values_list("contact_id", "key", "received_at"):
                events[contact_id].append((key, at))
            found.update(
                r[0]
                for r in rows
                if any(at >= since(r) and (not r[2] or key == r[2]) for key, at in events[r[1]])
            )
    return found


# Waiting entries whose awaited thing just came: marked and due now, for the engine's next
# batch. Entries a batch holds are skipped (see the module's docstring), not waited for.
_RESOLVE = sql.SQL(
    """
    UPDATE {entries} SET resolved = 'then', due_at = %(now)s
    WHERE id IN (
        SELECT id FROM {entries}
        WHERE {where} AND state = 'active' AND phase = 'waiting' AND resolved = ''
        ORDER BY id FOR UPDATE SKIP LOCKED)
    RETURNING journey_id
    """
)


def _awaited(**lookups: Any) -> bool:
    """Whether any waiting entry matches (the resolving UPDATE's own index, as a probe first:
    a report or reply batch that no journey waits on costs one indexed read, no write)."""
    return JourneyEntry.objects.filter(
        state=JourneyEntry.State.ACTIVE, phase=JourneyEntry.Phase.WAITING, resolved="", **lookups
    ).exists()


def _resolve(
    where: sql.Composable, params: dict[str, Any], now: dt.datetime | None = None
) -> set[int]:
    statement = _RESOLVE.format(entries=sql.Identifier(JourneyEntry._meta.db_table), where=where)
    with bound_cursor() as cursor:
        cursor.execute(statement, {**params, "now": now or timezone.now()})
        journeys = {row[0] for row in cursor.fetchall()}
    if journeys:
        from journeys.wake import journeys_wake

        journeys_wake(journey_ids=journeys)
    return journeys


def messages_clicked(*, message_ids: Iterable[int]) -> set[int]:
    """Resolve entries waiting for a click on one of these messages."""
    ids = _chain_up(message_ids)  # a click on a fallback message counts for its entry
    if not ids or not _awaited(last_message__in=ids, wait_event="click"):
        return set()
    return _resolve(sql.SQL("last_message = ANY(%(ids)s) AND wait_event = 'click'"), {"ids": ids})


def contacts_replied(*, contact_ids: Iterable[int]) -> set[int]:
    """Resolve entries of these contacts waiting for a reply."""
    ids = sorted(set(contact_ids))
    if not ids or not _awaited(contact_id__in=ids, wait_event="reply"):
        return set()
    return _resolve(sql.SQL("contact_id = ANY(%(ids)s) AND wait_event = 'reply'"), {"ids": ids})


def events_arrived(
    *,
    name: str,
    contacts: Sequence[tuple[int, str]],
    now: dt.datetime | None = None,
    journey_ids: list[int] | None = None,
) -> set[int]:
    """Resolve entries waiting for event `name` of these (contact, key) pairs (key'd entries
    match only their key); `journey_ids` narrows them (a replay's copy)."""
    if not contacts or not _awaited(
        contact_id__in={c for c, _ in contacts}, wait_event=f"event:{name}"
    ):
        return set()
    where = sql.SQL(
        "wait_event = %(event)s AND contact_id = ANY(%(contacts)s) AND EXISTS (SELECT 1 FROM"
        " unnest(%(contacts)s::bigint[], %(keys)s::text[]) AS u(c, k)"
        " WHERE u.c = contact_id AND (key = '' OR key = u.k))"
        " AND (%(all)s OR journey_id = ANY(%(journeys)s))"
    )
    params = {
        "event": f"event:{name}",
        "contacts": [c for c, _ in contacts],
        "keys": [k for _, k in contacts],
        "all": journey_ids is None,
        "journeys": journey_ids or [],
    }
    return _resolve(where, params, now)


def links_clicked_receiver(
    sender: Any, *, event_keys: list[tuple[int | None, int]], **kwargs: Any
) -> None:
    """infobip's links_clicked signal: the clicked messages' waiting entries."""
    wanted = [(e, i) for e, i in event_keys if e is not None]
    if not wanted:
        return
    query = Q()
    for event_id, index in wanted:
        query |= Q(event_id=event_id, index=index)
    ids = Click.objects.filter(query, message__isnull=False).values_list("message_id", flat=True)
    messages_clicked(message_ids=[i for i in ids if i is not None])


def messages_final_receiver(sender: Any, *, message_ids: list[int], **kwargs: Any) -> None:
    """campaigns' messages_final signal: waiting entries whose message was delivered.

    Runs inside the report transaction: the batch's delivered rows (by primary key), then one
    indexed probe of them against the partial index of entries that wait on a message.
    """
    # The delivered ones and what they replace: a fallback message delivered is the entry's
    # message reached (one read of the batch's rows by primary key).
    ids = _chain_up(message_ids, delivered=True) if message_ids else []
    if not ids or not _awaited(last_message__in=ids, wait_event="delivered"):
        return
    _resolve(sql.SQL("last_message = ANY(%(ids)s) AND wait_event = 'delivered'"), {"ids": ids})
