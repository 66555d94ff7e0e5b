"""One bad item never costs a good one (#14): a stored push whose items cannot all be applied.

"Bad" here is an item its receiver raises on (a bug, or data nothing anticipated): the event
is retried item by item, every other item is applied, and the bad ones are listed with the
reason in the event's `error`. An event that cannot be read at all fails alone, and neither
stalls the events behind it nor breaks the sweeper or the admin pages.
"""

import hashlib
import json
import uuid

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from campaigns.models import Message
from campaigns.outcomes import reports_apply
from infobip.models import EventStatus, PendingReport, WebhookEvent
from infobip.processing import events_backlog, events_process, pending_retry
from tests.infobip.webhooks.conftest import make_ledger, report

pytestmark = pytest.mark.django_db

POISON = "this item cannot be applied"


def _store(kind: str, body: dict | str) -> WebhookEvent:
    text = body if isinstance(body, str) else json.dumps(body)
    return WebhookEvent.objects.create(
        kind=kind, body=text, content_hash=hashlib.sha256(text.encode()).hexdigest()
    )


def _poisoned(poison: set[str]):
    """The ledger's receiver, except that it raises on any batch holding a poisoned report."""

    def receive(*, items):
        if any(r.message_id in poison for _, r in items):
            raise RuntimeError(POISON)
        return reports_apply(items=items)

    return receive


@hsettings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(kinds=st.lists(st.sampled_from(["good", "bad", "unknown"]), min_size=1, max_size=12))
def test_every_valid_item_is_applied_and_each_bad_one_is_recorded(swap_receiver, kinds) -> None:
    _campaign, rows = make_ledger(len(kinds), prefix=f"+4479{uuid.uuid4().int % 10**6:06d}")
    items, poison = [], set()
    for kind, row in zip(kinds, rows, strict=True):
        if kind == "unknown":  # a messageId the ledger does not know: kept for a retry
            items.append(report(str(uuid.uuid4())))
            continue
        items.append(report(str(row.message_id)))
        if kind == "bad":
            poison.add(str(row.message_id))
    swap_receiver("reports", _poisoned(poison))
    event = _store("sms_reports", {"results": items})

    result = events_process(event_ids=[event.pk])

    event.refresh_from_db()
    assert event.status == EventStatus.PROCESSED
    states = dict(Message.objects.filter(pk__in=[r.pk for r in rows]).values_list("pk", "state"))
    for kind, row in zip(kinds, rows, strict=True):
        expected = "delivered" if kind == "good" else "accepted"
        assert states[row.pk] == expected, (kind, kinds)
    bad = [i for i, kind in enumerate(kinds) if kind == "bad"]
    assert result.bad_items == len(bad)
    for i in range(len(kinds)):
        line = f"results[{i}]: not applied: RuntimeError: {POISON}"
        assert (line in event.error) == (i in bad), (i, kinds, event.error)
    if not bad:
        assert event.error == ""
    unknown = kinds.count("unknown")
    assert PendingReport.objects.filter(event=event).count() == unknown


def test_an_unreadable_event_fails_alone_and_does_not_stall_those_behind_it() -> None:
    _campaign, (first, second) = make_ledger(2)
    before = _store("sms_reports", {"results": [report(str(first.message_id))]})
    broken = _store("sms_reports", "{not json")
    behind = _store("sms_reports", {"results": [report(str(second.message_id))]})

    result = events_process(event_ids=[before.pk, broken.pk, behind.pk])

    assert (result.events, result.failed) == (2, 1)
    statuses = dict(WebhookEvent.objects.values_list("pk", "status"))
    assert statuses == {
        before.pk: EventStatus.PROCESSED,
        broken.pk: EventStatus.FAILED,
        behind.pk: EventStatus.PROCESSED,
    }
    assert set(Message.objects.values_list("state", flat=True)) == {"delivered"}
    assert "JSONDecodeError" in WebhookEvent.objects.get(pk=broken.pk).error
    assert events_backlog(older_than=0).events == 0  # a failed event is not retried forever


def test_a_kept_report_that_cannot_be_applied_does_not_break_the_retry(swap_receiver) -> None:
    import datetime as dt

    from django.utils import timezone

    stranger, poisoned = str(uuid.uuid4()), str(uuid.uuid4())
    event = _store("sms_reports", {"results": [report(stranger), report(poisoned)]})
    events_process(event_ids=[event.pk])
    assert PendingReport.objects.count() == 2
    # The two messages appear in the ledger later (e.g. a send answer that came late).
    _campaign, (late, bad) = make_ledger(2)
    Message.objects.filter(pk=late.pk).update(message_id=uuid.UUID(stranger))
    Message.objects.filter(pk=bad.pk).update(message_id=uuid.UUID(poisoned))
    swap_receiver("reports", _poisoned({poisoned}))

    resolved, flagged = pending_retry(now=timezone.now() + dt.timedelta(minutes=1))

    assert (resolved, flagged) == (1, 0)
    assert Message.objects.get(pk=late.pk).state == "delivered"
    assert Message.objects.get(pk=bad.pk).state == "accepted"
    assert list(PendingReport.objects.values_list("message_id", flat=True)) == [poisoned]


def test_the_admin_pages_answer_for_any_stored_body(admin_client) -> None:
    # A raw NUL cannot be stored (PostgreSQL text; the view refuses it): JSON escapes one.
    nul = json.dumps({"results": [{"messageId": "\x00"}]})
    bodies = ["{not json", "[" * 50_000, json.dumps({"results": [None, 1, "x", []]}), nul]
    events = [_store("sms_reports", body) for body in bodies]
    events_backlog(older_than=0)
    listing = admin_client.get(reverse("admin:infobip_webhookevent_changelist"))
    assert listing.status_code == 200
    for event in events:
        page = admin_client.get(reverse("admin:infobip_webhookevent_change", args=[event.pk]))
        assert page.status_code == 200, event.body[:20]
