"""messages_apply_reports (one SQL statement, PostgreSQL) against messages_apply_outcomes.

The report path applies outcomes with one statement that locks, moves and records the rows;
the general ledger write does it step by step in Python. The same outcomes, applied in the
same order to two identical campaigns, must leave the same rows, events, counters and results.
"""

import datetime as dt
from decimal import Decimal

import pytest

from campaigns.ledger import Outcome, messages_apply_outcomes, messages_apply_reports
from campaigns.models import Campaign, Message, MessageEvent
from tests.factories import CampaignFactory, MessageFactory

pytestmark = pytest.mark.django_db(transaction=True)

STATES = ["queued", "sending", "accepted", "accepted", "delivered", "accepted", "sending"]
AT = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)


def _ledger() -> tuple[Campaign, list[Message]]:
    campaign = CampaignFactory(state="running")
    rows = [MessageFactory(campaign=campaign, state=s) for s in STATES]
    failover = MessageFactory(campaign=campaign, state="accepted", replaces=rows[0])
    rows.append(failover)
    Message.objects.filter(pk=rows[4].pk).update(status_name="DELIVERED_TO_HANDSET")
    counts: dict[str, int] = {}
    for row in rows:
        counts[f"count_{row.state}"] = counts.get(f"count_{row.state}", 0) + 1
    Campaign.objects.filter(pk=campaign.pk).update(**counts)
    return campaign, rows


def _outcomes(rows: list[Message]) -> list[list[Outcome]]:
    ids = [str(r.message_id) for r in rows]
    price = Decimal("0.012500")
    return [
        [
            Outcome(
                ids[0],
                "delivered",
                status_group="DELIVERED",
                status_id=5,
                status_name="DELIVERED_TO_HANDSET",
                price=price,
                currency="EUR",
                parts=2,
                at=AT,
            ),
            Outcome(ids[1], "accepted", status_name="PENDING_ENROUTE", bulk_id="b-1"),
            Outcome(
                ids[2],
                "undeliverable",
                status_group="UNDELIVERABLE",
                status_name="UNDELIVERABLE_NOT_DELIVERED",
                error_group="HANDSET_ERRORS",
                error_id=27,
                error_name="EC_ABSENT_SUBSCRIBER",
                error_permanent=False,
                price=price,
                currency="EUR",
            ),
            # Two reports for one message in a batch: the final one wins, whatever the order.
            Outcome(ids[3], "delivered", status_name="DELIVERED_TO_HANDSET", at=AT),
            Outcome(ids[3], "accepted", status_name="PENDING_ENROUTE", at=AT),
            # Already final: a late report changes nothing but is recorded as a report event.
            Outcome(ids[4], "expired", status_name="EXPIRED_EXPIRED"),
            Outcome(
                ids[7], "delivered", status_name="DELIVERED_TO_HANDSET", price=price, currency="EUR"
            ),
            Outcome("7f0e6a55-0000-4000-8000-000000000000", "delivered"),  # unknown
        ],
        [
            # The same push again (a duplicate): nothing moves.
            Outcome(
                ids[0],
                "delivered",
                status_name="DELIVERED_TO_HANDSET",
                price=price,
                currency="EUR",
                at=AT,
            ),
            Outcome(ids[1], "rejected", status_name="REJECTED_NETWORK", reason="network"),
            Outcome(ids[5], "sending"),  # lower rank: ignored
            Outcome(ids[6], "expired", status_name="EXPIRED_EXPIRED"),
        ],
    ]


def _snapshot(campaign: Campaign, rows: list[Message]) -> dict:
    order = {r.pk: i for i, r in enumerate(rows)}
    skip = {
        "id",
        "campaign",
        "contact",
        "message_id",
        "callback_data",
        "created_at",
        "replaces",
        "phone",
    }
    fields = [f.attname for f in Message._meta.concrete_fields if f.name not in skip]

    def when(value: object) -> object:
        # Times not given by an outcome are the write's own "now": the same kind, not instant.
        if isinstance(value, dt.datetime):
            return "AT" if value == AT else "now"
        return value

    ledger = sorted(
        (order[m["id"]], {k: when(m[k]) for k in fields})
        for m in Message.objects.filter(campaign=campaign).values("id", *fields)
    )
    events = sorted(
        (order[e.pop("message_id")], tuple(sorted(e.items())))
        for e in MessageEvent.objects.filter(message__campaign=campaign).values(
            "message_id", "kind", "from_state", "to_state", "status_name", "error_name", "detail"
        )
    )
    c = Campaign.objects.get(pk=campaign.pk)
    counters = {
        f.name: getattr(c, f.name)
        for f in Campaign._meta.concrete_fields
        if f.name.startswith(("count_", "failover_", "cost_"))
    }
    return {"ledger": ledger, "events": events, "counters": counters}


def test_the_report_statement_leaves_what_the_general_write_leaves(
    django_capture_on_commit_callbacks,
) -> None:
    finals: dict[str, list] = {"general": [], "reports": []}
    results: dict[str, list] = {"general": [], "reports": []}
    snapshots = {}
    for name, apply in (("general", messages_apply_outcomes), ("reports", messages_apply_reports)):
        campaign, rows = _ledger()
        order = {r.pk: i for i, r in enumerate(rows)}
        from campaigns import signals

        def seen(sender, *, message_ids, _name=name, _order=order, **kwargs) -> None:
            finals[_name].append(sorted(_order[pk] for pk in message_ids))

        signals.messages_final.connect(seen, dispatch_uid=f"test.{name}")
        try:
            for batch in _outcomes(rows):
                r = apply(outcomes=batch)
                changed = sorted(
                    (order[pk], old, channel, contact is not None)
                    for pk, old, channel, contact in r.changed.values()
                )
                results[name].append((r.applied, r.unchanged, len(r.unknown), changed))
        finally:
            signals.messages_final.disconnect(dispatch_uid=f"test.{name}")
        snapshots[name] = _snapshot(campaign, rows)
    assert results["reports"] == results["general"]
    assert finals["reports"] == finals["general"]
    assert snapshots["reports"] == snapshots["general"]
    # And it is the behaviour wanted, not only the same one.
    assert results["reports"][0][:3] == (5, 1, 1)
    assert results["reports"][1][:3] == (2, 2, 0)
    counters = snapshots["reports"]["counters"]
    assert counters["count_delivered"] == 4
    assert counters["count_queued"] == 0
    assert counters["cost_amount"] == Decimal("0.037500")
