"""A 1,000-recipient split test end to end: a real worker and beat, the sandbox, the webhooks.

20 % test (two variants), 5 % holdout, winner by clicks. Proves the exact split, the winner
going to the rest once (the sandbox counts duplicates), and the attribution of conversions by
click, reply and delivery, for a holdout member and out of the windows.
"""

import datetime as dt
from collections import Counter

import pytest
from django.utils import timezone

from campaigns.models import Campaign, Message, SplitGroup, SplitTest
from campaigns.services import campaign_create, campaign_launch, campaign_status
from campaigns.split import SplitSpec, VariantSpec
from conversions.services import conversions_record
from core.rules import OPERATOR
from infobip.links import webhook_url
from infobip.models import Click, InboundMessage
from tests.factories import make_audience
from tests.fixtures.worker import wait_for

pytestmark = pytest.mark.integration

CLICKS = {"A": 3, "B": 25}  # taps per variant: B leads, with 100 people each far from certain


def _tap(sandbox, message_ids) -> None:
    for message_id in message_ids:
        answer = sandbox.request("POST", "/_sandbox/click", json={"messageId": str(message_id)})
        assert answer.json()["pushed"] == 1, answer.text


def _convert(order: str, phone: str, **fields) -> dict:
    result = conversions_record(
        items=[{"order_id": order, "contact": {"phone": phone}, "value": "40.00", **fields}]
    )
    assert not result.rejected
    return result.results[0]


def test_a_split_with_a_holdout_runs_decides_once_and_attributes(
    celery_beat, celery_worker, sandbox, engine_settings
) -> None:
    worker = celery_worker
    audience = make_audience(1000)
    campaign = campaign_create(
        name="spring split",
        channel="sms",
        lists=[audience],
        track_links=True,
        variants=[
            VariantSpec(name="A", text="Hi {{first_name}}: https://shop.example/a"),
            VariantSpec(name="B", text="{{first_name}}, 20% off: https://shop.example/b"),
        ],
        # Decided by the beat once the clicks are in: the decision time is moved then.
        test=SplitSpec(share=20, holdout=5, winner_by="clicks", decide_after=dt.timedelta(hours=1)),
    )
    campaign_launch(campaign=campaign, actor=OPERATOR)

    # The test's 200 are sent; the rest waits, without ledger rows.
    def test_sent():
        sandbox.flush()
        return sandbox.state()["accepted"]["total"] == 200

    wait_for(test_sent, timeout=120, interval=0.5, message=worker.tail())
    split = SplitTest.objects.get(campaign=campaign)
    assert split.state == "testing"
    assert split.plan == {"variants": [100, 100], "holdout": 50, "rest": 750}

    # Recipients tap: 3 of A's, 25 of B's (through the sandbox, to Herald's clicks webhook).
    test_rows = Message.objects.filter(campaign=campaign, split_group=SplitGroup.TEST)
    for name, position in (("A", 1), ("B", 2)):
        ids = test_rows.filter(variant=position).order_by("id")
        _tap(sandbox, ids.values_list("message_id", flat=True)[: CLICKS[name]])
    wait_for(
        lambda: Click.objects.filter(campaign=campaign).count() == 28,
        timeout=60,
        message=worker.tail(),
    )
    # The beat evaluates every second; the probabilities move with the clicks.
    wait_for(
        lambda: SplitTest.objects.get(campaign=campaign).evaluation.get("leader") == "B",
        timeout=30,
        message=celery_beat.tail(),
    )

    # The decision time comes: B leads but 100 people per variant is short of certain, so the
    # rule sends the leader; the rest gets it once, through the ordinary chains.
    SplitTest.objects.filter(pk=split.pk).update(decide_after=dt.timedelta(seconds=1))

    def completed():
        sandbox.flush()
        return Campaign.objects.get(pk=campaign.pk).state == "completed"

    wait_for(completed, timeout=180, interval=0.5, message=worker.tail() + celery_beat.tail())
    split.refresh_from_db()
    assert (split.state, split.winner) == ("done", 2)
    assert split.decision.startswith("no variant was certain at the decision time (best: B at")
    assert split.decision.endswith("sending the leader")
    assert split.decided_by == "system"

    # The exact split; nobody in two groups or with two variants; the winner sent once.
    rows = Message.objects.filter(campaign=campaign)
    groups = Counter(rows.values_list("variant", "split_group"))
    assert groups == {
        (1, SplitGroup.TEST): 100,
        (2, SplitGroup.TEST): 100,
        (None, SplitGroup.HOLDOUT): 50,
        (2, SplitGroup.REST): 750,
    }
    assert rows.values("contact_id").distinct().count() == 1000
    state = sandbox.state()
    assert state["accepted"]["total"] == 950
    assert state["duplicates"] == {"messageId": 0, "recipientCallbackData": 0}
    status = campaign_status(campaign=campaign)
    assert status["winner"] == "B"
    assert [(v["name"], v["recipients"], v["clicks"]) for v in status["variants"]] == [
        ("A", 100, 3),
        ("B", 100, 25),
    ]
    assert status["holdout"]["recipients"] == 50

    # Conversions, one per kind of touch.
    clicked = test_rows.filter(variant=2).order_by("id").first()
    by_click = _convert("click-1", clicked.phone)
    assert by_click["attributed_to"]["touch"] == "click"
    assert by_click["attributed_to"]["variant"] == "B"
    assert by_click["attributed_to"]["message_id"] == str(clicked.message_id)

    rest = rows.filter(split_group=SplitGroup.REST, state="delivered").order_by("id")
    wait_for(lambda: sandbox.flush() == 0 and rest.count() >= 3, timeout=60, message=worker.tail())
    replier, delivered, late = rest[0], rest[1], rest[2]
    sandbox.inbound(
        "sms", replier.phone.lstrip("+"), "Is the offer still on?", url=webhook_url("sms/inbound")
    )
    wait_for(
        lambda: InboundMessage.objects.filter(contact_id=replier.contact_id).exists(),
        timeout=30,
        message=worker.tail(),
    )
    by_reply = _convert("reply-1", replier.phone)
    assert by_reply["attributed_to"]["touch"] == "reply"
    assert by_reply["attributed_to"]["message_id"] == str(replier.message_id)

    by_delivery = _convert("delivered-1", delivered.phone)
    assert by_delivery["attributed_to"]["touch"] == "delivered"
    assert by_delivery["attributed_to"]["campaign"] == campaign.pk

    held = rows.filter(split_group=SplitGroup.HOLDOUT).first()
    by_holdout = _convert("holdout-1", held.phone)
    assert by_holdout["attributed_to"] is None
    assert by_holdout["holdout"] == {"campaign": campaign.pk}

    # Out of the windows: the order came 25 hours after the delivery (its time moved back).
    long_ago = timezone.now() - dt.timedelta(hours=25)
    Message.objects.filter(pk=late.pk).update(
        created_at=long_ago, claimed_at=long_ago, accepted_at=long_ago, done_at=long_ago
    )
    outside = _convert("late-1", late.phone)
    assert outside["attributed_to"] is None
    assert outside["reason"].startswith("no click, reply or delivery within the windows")

    # The holdout member counts for lift, not for the campaign's conversions.
    status = campaign_status(campaign=campaign)
    assert status["conversions"]["count"] == 3
    assert status["holdout"]["conversions"] == 1
    assert status["lift"]["holdout"]["people"] == 50
    assert status["lift"]["sent"]["people"] == 950
    assert [v["conversions"] for v in status["variants"]] == [0, 1]
