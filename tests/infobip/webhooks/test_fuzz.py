"""Property tests: no body makes the webhook answer 500, and nothing it accepts fails later."""

import json

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from infobip.links import WEBHOOK_KINDS
from infobip.models import EventStatus, WebhookEvent
from tests.infobip.webhooks.conftest import make_ledger, path_of

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
KEYS = [
    "messageId",
    "status",
    "error",
    "price",
    "doneAt",
    "sentAt",
    "seenAt",
    "messageCount",
    "smsCount",
    "from",
    "to",
    "text",
    "cleanText",
    "keyword",
    "message",
    "type",
    "url",
    "caption",
    "receivedAt",
    "callbackData",
    "bulkId",
    "groupId",
    "groupName",
    "id",
    "name",
    "permanent",
    "pricePerMessage",
    "currency",
    "contact",
    "phoneNumber",
    "userId",
    "sendDateTime",
    "recipientInfo",
    "channel",
    "event",
    "change",
    "messageTemplateName",
    "content",
    "notificationMessagesStatus",
    "emoji",
    "title",
    "payload",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "2026-11-21T10:00:00.000+0000",
            "2026-11-21T10:00:00.000-0300",
            "Z",
            "STOP",
            "DELIVERED_TO_HANDSET",
            "REJECTED_DND",
            "\x00",
            "+447946000001",
            "447946000001",
            "9999-12-31T23:59:59.999-2359",
            "0001-01-01T00:00:00+2359",
            "NaN",
            "1e400",
            "-0",
        ]
    )
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=15,
)


def items(message_ids: list[str]):
    """Objects that look like Infobip's items: known keys, often a real messageId."""
    ids = st.sampled_from(message_ids) | st.text(min_size=1, max_size=40) | st.integers()
    senders = st.sampled_from(["447946000001", "+447946000002", "385919998888"]) | st.text(
        min_size=1, max_size=20
    )
    kinds = st.sampled_from([{"seenAt": "2026-11-21T10:00:00Z"}]) | st.fixed_dictionaries(
        {"status": st.dictionaries(st.sampled_from(KEYS), values, max_size=5)}
    )
    return st.builds(
        lambda base, mid, sender, kind: {**base, "messageId": mid, "from": sender, **kind},
        st.dictionaries(st.sampled_from(KEYS), values, max_size=8),
        ids,
        senders,
        kinds,
    )


def bodies(message_ids: list[str]):
    shaped = st.fixed_dictionaries({"results": st.lists(items(message_ids), max_size=4)})
    return st.one_of(shaped, shaped, shaped, items(message_ids), values)


@pytest.fixture
def message_ids() -> list[str]:
    _, messages = make_ledger(5, channel="whatsapp")
    return [str(m.message_id) for m in messages]


@FUZZ
@given(kind=st.sampled_from(WEBHOOK_KINDS), data=st.binary(max_size=300))
def test_no_bytes_give_a_500(client, kind, data) -> None:
    response = client.post(path_of(kind), data=data, content_type="application/json")
    assert response.status_code in (200, 400)


@FUZZ
@given(data=st.data())
def test_no_json_gives_a_500_and_what_is_accepted_is_processed(post, message_ids, data) -> None:
    kind = data.draw(st.sampled_from(WEBHOOK_KINDS))
    body = data.draw(bodies(message_ids))
    response = post(kind, json.dumps(body).encode(), raw=True)
    assert response.status_code in (200, 400)
    event(f"{kind} answered {response.status_code}")
    if response.status_code == 200:
        stored = WebhookEvent.objects.latest("id")
        assert stored.status in (EventStatus.PROCESSED, EventStatus.DUPLICATE), stored.error
