"""Outbound events: the signal receivers that turn what happened into pending deliveries.

Data flows one way: campaigns/, contacts/ and infobip/ send signals (one per batch) and know
nothing of this app. A receiver costs one query on the (small) subscriptions table when nobody
subscribed; otherwise one read of the batch's rows and one bulk insert of deliveries, inside the
sender's transaction (so an event exists exactly when its cause committed). `message.final`,
made by the hundred thousand during a report storm, reads nothing: its rows name the ledger
row and the body is built from it when sent (see `on_messages_final` for why that is safe).
Delivery happens later, in a Celery task per subscription, so a slow or dead receiver never
slows the hot path.

Where the signals are sent (one line each; move them with the code they sit in):
- campaigns/ledger (`outcomes`) `messages_apply_outcomes`: `messages_final` (rows that became final)
- campaigns/services.py `_move` and `campaign_maybe_complete`: `campaign_state_changed`
- contacts/services.py `_change_consent`: `contacts_opted_out` / `contacts_opted_in`
- inbox/services.py `inbound_store`: `inbound_received`
- campaigns/clicks.py `clicks_store`: `links_clicked`
- conversions/services.py `conversions_record`: `conversions_attributed`
Not emitted (rows written directly, not through those functions): the freeze's `skipped` rows,
a cancel's `skipped` rows, and "resend to failed" moving a campaign back to running.
"""

import datetime as dt
import uuid
from collections.abc import Iterable
from functools import partial
from typing import Any

from django.db import connection
from psycopg import sql

from api.models import EventDelivery, EventSubscription, EventType
from core.queueing import enqueue_on_commit
from core.throttle import once_per
from inbox.keywords import first_word


def _subscriptions(event_type: str) -> list[EventSubscription]:
    # A handful of rows: read them all and match the JSON list in Python, one query per
    # emitted batch.
    return [s for s in EventSubscription.objects.filter(enabled=True) if event_type in s.events]


def _digits(number: str) -> str:
    return "".join(ch for ch in number or "" if ch.isdigit())


def inbound_matches(subscription: EventSubscription, data: dict[str, Any]) -> bool:
    """The connector's trigger filters: the number written to and the first word, any case."""
    if subscription.filter_number and _digits(subscription.filter_number) != _digits(data["to"]):
        return False
    if subscription.filter_keyword:
        wanted = first_word(subscription.filter_keyword)
        said = {first_word(data.get("text") or ""), first_word(data.get("keyword") or "")}
        if wanted not in said:
            return False
    return True


def events_emit(
    *,
    event_type: str,
    items: Iterable[tuple[str, dict[str, Any]]],
    subscriptions: list[EventSubscription] | None = None,
) -> int:
    """Store one pending delivery per (event, matching subscription); returns how many."""
    if subscriptions is None:
        subscriptions = _subscriptions(event_type)
    if not subscriptions:
        return 0
    rows = []
    for key, data in items:
        for subscription in subscriptions:
            if event_type == EventType.INBOUND_RECEIVED and not inbound_matches(subscription, data):
                continue
            rows.append(
                EventDelivery(
                    subscription=subscription,
                    event_type=event_type,
                    webhook_id=f"msg_{uuid.uuid4().hex}",
                    dedupe_key=f"{event_type}:{key}"[:200],
                    payload=data,
                )
            )
    if not rows:
        return 0
    # ignore_conflicts: the same cause emitted twice (a re-pushed report) is delivered once.
    EventDelivery.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    from api.tasks import subscription_deliver

    for pk in {row.subscription_id for row in rows}:
        # A lost wake-up is picked up by the beat (events_deliver_due).
        enqueue_on_commit(partial(subscription_deliver.delay, pk), what=f"events of {pk}")
    return len(rows)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


# The ledger columns a message.final body is made of.
FINAL_COLUMNS = (
    "id",
    "message_id",
    "campaign_id",
    "phone",
    "channel",
    "state",
    "status_group",
    "status_id",
    "status_name",
    "error_group",
    "error_id",
    "error_name",
    "error_permanent",
    "price",
    "currency",
    "parts",
    "done_at",
    "reason",
)


def final_event_data(row: dict[str, Any]) -> dict[str, Any]:
    """The `data` of a message.final event, from its ledger row (FINAL_COLUMNS)."""
    error = None
    if row["error_name"]:
        error = {
            "groupName": row["error_group"],
            "id": row["error_id"],
            "name": row["error_name"],
            "permanent": row["error_permanent"],
        }
    price = None
    if row["price"] is not None:
        price = {"amount": str(row["price"]), "currency": row["currency"]}
    return {
        "messageId": str(row["message_id"]),
        "campaignId": row["campaign_id"],
        "to": row["phone"],
        "channel": row["channel"],
        "state": row["state"],
        "status": {
            "groupName": row["status_group"],
            "id": row["status_id"],
            "name": row["status_name"],
        },
        "error": error,
        "reason": row["reason"],
        "price": price,
        "parts": row["parts"],
        "doneAt": _iso(row["done_at"]),
    }


def final_events_data(message_pks: Iterable[int]) -> dict[int, dict[str, Any]]:
    """message.final bodies by ledger pk, read in one query (rows gone are left out)."""
    from campaigns.models import Message

    wanted = set(message_pks)
    if not wanted:
        return {}
    rows = Message.objects.filter(id__in=wanted).values(*FINAL_COLUMNS)
    return {row["id"]: final_event_data(row) for row in rows}


def on_messages_final(sender: object, *, message_ids: list[int], **kwargs: object) -> None:
    """message.final: one outbox row per message that just became final and subscription.

    The row names the ledger row and carries no body: the body (state, status, error, price)
    is read from the ledger row when the event is sent. That says what the event said when
    it was queued because a final message is final: every final state has the top rank and
    the report paths move a message only to a higher rank, so its state, status, error, price
    and doneAt no longer change. "Resend to failed" adds a new ledger row (attempt + 1) rather
    than changing this one. What may still change is erasure (`contact_erase`), which blanks
    the phone: a queued event then carries the erased value, as every other copy of the
    ledger does after erasure. Dedupe is the (subscription, message) pair, so a re-pushed
    report stores nothing twice. This keeps the report transaction's cost to one narrow row
    per event (no JSON built or stored, no random id, three small index entries).
    """
    if not message_ids:
        return
    subscriptions = _subscriptions(EventType.MESSAGE_FINAL)
    if not subscriptions:
        return
    subscription_ids = [s.pk for s in subscriptions]
    _final_events_sql(message_ids, subscription_ids)
    for pk in subscription_ids:
        enqueue_on_commit(partial(_wake_final, pk), what=f"message.final of {pk}")


# A report storm commits a message.final batch every few milliseconds; a deliverer task for
# each would mostly find ingestion busy and step back (a task, a query and a lease write per
# batch, taken from ingestion). So a process wakes a subscription's deliverer at most once per
# WAKE_WINDOW seconds, with a countdown a little longer than the window: a batch that finds the
# window open committed its rows before the window closes, so before that task reads the queue.
WAKE_WINDOW = 1.0
WAKE_AFTER = WAKE_WINDOW + 0.25


def _eager() -> bool:
    from api.tasks import subscription_deliver

    return bool(subscription_deliver.app.conf.task_always_eager)


def _wake_final(subscription_id: int) -> None:
    """After commit: wake the subscription's deliverer unless a wake-up is already due."""
    from api.tasks import subscription_deliver

    if _eager():
        subscription_deliver.delay(subscription_id)  # runs now: nothing is due later
        return
    # The shared cache: one wake-up per window for the whole deployment, not per process.
    if once_per(f"herald:events:wake:{subscription_id}", WAKE_WINDOW):
        subscription_deliver.apply_async((subscription_id,), countdown=WAKE_AFTER)


# message.final's outbox rows for a batch: every (subscription, message) pair in one INSERT …
# SELECT; a pair already queued (a re-pushed report) is left as it is.
_FINAL_EVENTS = sql.SQL("""
    INSERT INTO {deliveries} (subscription_id, event_type, message, state, attempts, created_at)
    SELECT s.id, %(type)s, m.id, %(pending)s, 0, now()
    FROM unnest(%(ids)s::bigint[]) AS m(id)
    CROSS JOIN unnest(%(subscriptions)s::bigint[]) AS s(id)
    ON CONFLICT DO NOTHING
""").format(deliveries=sql.Identifier(EventDelivery._meta.db_table))


def _final_events_sql(message_ids: list[int], subscription_ids: list[int]) -> None:
    """message.final: the batch's outbox rows (_FINAL_EVENTS)."""
    params: dict[str, Any] = {
        "type": EventType.MESSAGE_FINAL.value,
        "pending": EventDelivery.State.PENDING.value,
        "subscriptions": subscription_ids,
        "ids": message_ids,
    }
    with connection.cursor() as cursor:
        cursor.execute(_FINAL_EVENTS, params)


def on_inbound_received(
    sender: object, *, infobip_message_ids: list[str], **kwargs: object
) -> None:
    """inbound.received, filtered per subscription by number and keyword."""
    if not infobip_message_ids or not _subscriptions(EventType.INBOUND_RECEIVED):
        return
    from infobip.models import InboundMessage

    items = []
    for row in InboundMessage.objects.filter(infobip_message_id__in=infobip_message_ids).values(
        "id",
        "infobip_message_id",
        "channel",
        "from_number",
        "to_number",
        "text",
        "keyword",
        "message_type",
        "media_url",
        "received_at",
        "contact_id",
        "keyword_action",
    ):
        data = {
            "id": row["id"],
            "messageId": row["infobip_message_id"],
            "channel": row["channel"],
            "from": row["from_number"],
            "to": row["to_number"],
            "text": row["text"],
            "keyword": row["keyword"],
            "messageType": row["message_type"],
            "mediaUrl": row["media_url"],
            "receivedAt": _iso(row["received_at"]),
            "contactId": row["contact_id"],
            "keywordAction": row["keyword_action"],
        }
        items.append((row["infobip_message_id"], data))
    events_emit(event_type=EventType.INBOUND_RECEIVED, items=items)


def _consent(event_type: str, contact_ids: list[int], source: str, channel: str) -> None:
    if not contact_ids or not _subscriptions(event_type):
        return
    from contacts.models import Contact

    items = []
    for pk, phone, changed_at in Contact.objects.filter(id__in=contact_ids).values_list(
        "id", "phone", "updated_at"
    ):
        data = {
            "contactId": pk,
            "phone": phone,
            "source": source,
            "channel": channel,
            "at": _iso(changed_at),
        }
        items.append((f"{pk}:{changed_at.isoformat()}", data))
    events_emit(event_type=event_type, items=items)


def on_opted_out(
    sender: object, *, contact_ids: list[int], source: str, channel: str, **kw: object
) -> None:
    """contact.opted_out."""
    _consent(EventType.CONTACT_OPTED_OUT, contact_ids, source, channel)


def on_opted_in(
    sender: object, *, contact_ids: list[int], source: str, channel: str, **kw: object
) -> None:
    """contact.opted_in."""
    _consent(EventType.CONTACT_OPTED_IN, contact_ids, source, channel)


def on_campaign_state_changed(
    sender: object,
    *,
    campaign_id: int,
    from_state: str,
    to_state: str,
    reason: str = "",
    **kwargs: object,
) -> None:
    """campaign.state_changed."""
    if not _subscriptions(EventType.CAMPAIGN_STATE_CHANGED):
        return
    data = {"campaignId": campaign_id, "from": from_state, "to": to_state, "reason": reason}
    key = f"{campaign_id}:{from_state}:{to_state}:{uuid.uuid4().hex}"
    events_emit(event_type=EventType.CAMPAIGN_STATE_CHANGED, items=[(key, data)])


def on_approval_requested(
    sender: object, *, campaign_id: int, requested_by: str, **kwargs: object
) -> None:
    """campaign.approval_requested: the approvers' notification for a connector or a chat."""
    if not _subscriptions(EventType.CAMPAIGN_APPROVAL_REQUESTED):
        return
    from campaigns.models import Campaign

    campaign = Campaign.objects.filter(pk=campaign_id).only("name").first()
    data = {
        "campaignId": campaign_id,
        "name": campaign.name if campaign else "",
        "requestedBy": requested_by,
    }
    key = f"{campaign_id}:approval:{uuid.uuid4().hex}"
    events_emit(event_type=EventType.CAMPAIGN_APPROVAL_REQUESTED, items=[(key, data)])


def on_links_clicked(
    sender: object, *, event_keys: list[tuple[int | None, int]], **kwargs: object
) -> None:
    """link.clicked: one event per stored click notification."""
    if not event_keys or not _subscriptions(EventType.LINK_CLICKED):
        return
    from campaigns.models import Message
    from infobip.models import Click

    wanted = set(event_keys)
    clicks = [
        c
        for c in Click.objects.filter(event_id__in={e for e, _ in wanted if e is not None})
        if (c.event_id, c.index) in wanted
    ]
    message_ids = dict(
        Message.objects.filter(id__in={c.message_id for c in clicks if c.message_id}).values_list(
            "id", "message_id"
        )
    )
    items = []
    for click in clicks:
        message = message_ids.get(click.message_id) if click.message_id is not None else None
        data = {
            "messageId": str(message) if message else click.infobip_message_id,
            "campaignId": click.campaign_id,
            "url": click.url,
            "recipient": click.recipient,
            "clickedAt": _iso(click.clicked_at),
            "deviceType": click.device_type,
            "country": click.country,
        }
        items.append((f"{click.event_id}:{click.index}", data))
    events_emit(event_type=EventType.LINK_CLICKED, items=items)


def on_conversions_attributed(
    sender: object, *, conversion_ids: list[int], **kwargs: object
) -> None:
    """conversion.attributed: one event per new conversion credited to a message or variant.

    The body is the conversion's document, as `GET /api/v1/conversions/{order_id}` gives it.
    """
    if not conversion_ids or not _subscriptions(EventType.CONVERSION_ATTRIBUTED):
        return
    from conversions.models import Conversion
    from conversions.services import conversions_documents

    orders = list(
        Conversion.objects.filter(id__in=conversion_ids).values_list("order_id", flat=True)
    )
    documents = conversions_documents(order_ids=orders)
    items = [
        (f"conversion:{order_id}", document)
        for order_id, document in documents.items()
        if document["attributed_to"] is not None
    ]
    events_emit(event_type=EventType.CONVERSION_ATTRIBUTED, items=items)


def _journey_items(
    journey_id: int, entry_ids: list[int], extra: dict[int, dict[str, Any]]
) -> list[tuple[str, dict[str, Any]]]:
    from journeys.models import JourneyEntry

    items = []
    rows = JourneyEntry.objects.filter(id__in=entry_ids).values_list(
        "id", "contact_id", "contact__phone", "key", "version__number", "step"
    )
    for pk, contact_id, phone, key, version, step in rows:
        data = {
            "journey": journey_id,
            "version": version,
            "entry": pk,
            "contact": {"id": contact_id, "phone": phone},
            "key": key,
            "step": step,
            **extra.get(pk, {}),
        }
        items.append((f"{journey_id}:{pk}:{extra.get(pk, {}).get('reason', '')}", data))
    return items


def on_journey_entered(
    sender: object, *, journey_id: int, entry_ids: list[int], **kwargs: object
) -> None:
    """journey.entered: one event per entry."""
    if not entry_ids or not _subscriptions(EventType.JOURNEY_ENTERED):
        return
    events_emit(
        event_type=EventType.JOURNEY_ENTERED, items=_journey_items(journey_id, entry_ids, {})
    )


def on_journey_exited(
    sender: object, *, journey_id: int, exits: list[tuple[int, str]], **kwargs: object
) -> None:
    """journey.exited, with the reason (completed, goal, opted_out, archived, stopped)."""
    if not exits or not _subscriptions(EventType.JOURNEY_EXITED):
        return
    reasons = {pk: {"reason": reason} for pk, reason in exits}
    events_emit(
        event_type=EventType.JOURNEY_EXITED,
        items=_journey_items(journey_id, sorted(reasons), reasons),
    )


def on_journey_notified(
    sender: object, *, journey_id: int, items: list[tuple[Any, ...]], **kwargs: object
) -> None:
    """journey.notify: a notify step's data for another system."""
    if not items or not _subscriptions(EventType.JOURNEY_NOTIFY):
        return
    extra = {pk: {"notify": step, "data": data} for pk, step, data in items}
    events_emit(
        event_type=EventType.JOURNEY_NOTIFY,
        items=_journey_items(journey_id, sorted(extra), extra),
    )


def connect() -> None:
    """Connect every receiver to its owning app's signal (called from ApiConfig.ready)."""
    from campaigns import signals as campaign_signals
    from contacts import signals as contact_signals
    from conversions import signals as conversion_signals
    from infobip import signals as infobip_signals
    from journeys import signals as journey_signals

    campaign_signals.messages_final.connect(on_messages_final, dispatch_uid="api.final")
    campaign_signals.campaign_state_changed.connect(
        on_campaign_state_changed, dispatch_uid="api.campaign_state"
    )
    campaign_signals.campaign_approval_requested.connect(
        on_approval_requested, dispatch_uid="api.approval_requested"
    )
    contact_signals.contacts_opted_out.connect(on_opted_out, dispatch_uid="api.opted_out")
    contact_signals.contacts_opted_in.connect(on_opted_in, dispatch_uid="api.opted_in")
    infobip_signals.inbound_received.connect(on_inbound_received, dispatch_uid="api.inbound")
    infobip_signals.links_clicked.connect(on_links_clicked, dispatch_uid="api.clicks")
    conversion_signals.conversions_attributed.connect(
        on_conversions_attributed, dispatch_uid="api.conversions"
    )
    journey_signals.journey_entered.connect(on_journey_entered, dispatch_uid="api.j_entered")
    journey_signals.journey_exited.connect(on_journey_exited, dispatch_uid="api.j_exited")
    journey_signals.journey_notified.connect(on_journey_notified, dispatch_uid="api.j_notify")
