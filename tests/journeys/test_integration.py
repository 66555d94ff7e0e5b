"""Journeys end to end: a real worker and beat on PostgreSQL and Redis, the sandbox, the API.

The abandoned-cart journey (event trigger keyed by cart, wait, an SMS with a tracked link, wait
for a click with a timeout, a second SMS, goal `order_placed`) and a keyword welcome journey
run as a marketer would run them: events through the REST API, replies and STOP through the
sandbox's pushes, clicks through Infobip's click notifications, every wait swept by beat.
Each rule is checked where it shows: the sandbox's own count of what it was sent (exactly
once, by messageId and by number), the journey ledger, the counters.
"""

import datetime as dt
import zoneinfo

import pytest
import requests
from django.contrib.auth.models import User
from django.utils import timezone

from api.tokens import api_token_create
from campaigns.models import Message
from contacts.models import Contact
from infobip.links import webhook_url
from journeys.models import EntryStep, Journey, JourneyEntry
from journeys.services import journey_status
from tests.fixtures.worker import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
NUMBER = "447860099299"


def _zone_at(hour: int) -> str:
    """An Etc/GMT zone where the local hour is `hour` now (for quiet hours that surely hold)."""
    now = timezone.now()
    offset = (hour - now.hour) % 24
    offset = offset - 24 if offset > 12 else offset
    name = f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"
    assert now.astimezone(zoneinfo.ZoneInfo(name)).hour == hour
    return name


class Api:
    def __init__(self, base: str, user: User) -> None:
        _, secret = api_token_create(user=user, scopes=["read", "journeys:write", "events:write"])
        self.base, self.http = base.rstrip("/") + "/api/v1/", requests.Session()
        self.http.headers["Authorization"] = f"Bearer {secret}"

    def post(self, path: str, body=None, **headers) -> dict:
        answer = self.http.post(self.base + path, json=body, headers=headers, timeout=30)
        assert answer.status_code in (200, 201, 202), answer.text
        return answer.json()

    def get(self, path: str) -> dict:
        answer = self.http.get(self.base + path, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def event(self, name: str, phone: str, key: str = "", **properties) -> dict:
        body = {"name": name, "contact": {"phone": phone}, "key": key, "properties": properties}
        return self.post("events", body)


@pytest.fixture
def running(celery_worker, celery_beat, sandbox, engine_settings, integration_env):
    user = User.objects.create_superuser("marketer", password="not-used-here")
    return Api(integration_env["PUBLIC_BASE_URL"], user), sandbox, celery_worker


def _messages(phone: str) -> list[Message]:
    return list(Message.objects.filter(phone=phone).order_by("id"))


def _inbound(sandbox, sender: str, text: str) -> None:
    sandbox.inbound("sms", sender, text, to=NUMBER, url=webhook_url("sms/inbound"))


def test_abandoned_cart_end_to_end(running) -> None:
    api, sandbox, worker = running
    noon, night = _zone_at(12), _zone_at(3)
    phones = {
        n: f"+4479460{i:05d}" for i, n in enumerate(["ana", "bob", "cleo", "dan", "eve", "fay"])
    }
    for name, phone in phones.items():
        Contact.objects.create(
            phone=phone,
            first_name=name.title(),
            country="GB",
            timezone=night if name == "fay" else noon,
        )
    journey = api.post(
        "journeys",
        {
            "name": "Abandoned cart",
            "trigger": {"type": "event", "event": "cart_abandoned"},
            "reentry": "once_per_key",
            "goal": {"event": "order_placed"},
            "quiet_hours": "08:00-20:00",
            "steps": [
                # Margins for a loaded CI machine: the goal and the STOP below must land within the
                # first wait, Ana's click (after her SMS is sent and seen) within the second.
                {"id": "wait1", "type": "wait", "for": "PT15S"},
                {
                    "id": "sms1",
                    "type": "send",
                    "channel": "sms",
                    "text": "Hi {{first_name}}, your {{event.item}} is waiting: https://shop.example/c",
                },
                {
                    "id": "wait2",
                    "type": "wait_for",
                    "event": "click",
                    "timeout": "PT20S",
                    "then": "done",
                    "else": "sms2",
                },
                {
                    "id": "sms2",
                    "type": "send",
                    "channel": "sms",
                    "text": "Last call: 10% off, CART10",
                },
                {"id": "done", "type": "exit"},
            ],
        },
    )
    jid = journey["id"]
    assert api.post(f"journeys/{jid}/activate")["state"] == "active"

    for name, key in [
        ("ana", "a1"),
        ("bob", "b1"),
        ("cleo", "c1"),
        ("dan", "d1"),
        ("eve", "e1"),
        ("eve", "e1"),
        ("eve", "e2"),
        ("fay", "f1"),
    ]:
        api.event("cart_abandoned", phones[name], key, item="red shoes")
    # During the first wait: Cleo orders (the goal, on her cart's key), Dan texts STOP.
    api.event("order_placed", phones["cleo"], "c1")
    api.event("order_placed", phones["ana"], "another-cart")  # not Ana's cart: she stays
    _inbound(sandbox, phones["dan"].lstrip("+"), "STOP")
    wait_for(
        lambda: Contact.objects.get(phone=phones["dan"]).opted_out,
        timeout=30,
        message=worker.tail(),
    )

    # Ana clicks the link of her first SMS (Infobip's click notification → the journey's wait).
    ana_sms = wait_for(
        lambda: next(
            iter(m for m in _messages(phones["ana"]) if m.state in ("accepted", "delivered")), None
        ),
        timeout=60,
        message=worker.tail(),
    )
    clicked = sandbox.request(
        "POST", "/_sandbox/click", json={"messageId": str(ana_sms.message_id)}
    )
    assert clicked.json()["pushed"] == 1, (
        f"{clicked.text}\nsandbox: {sandbox.truth(str(ana_sms.message_id))}\n{worker.tail()}"
    )

    def settled() -> bool:
        active = JourneyEntry.objects.filter(journey_id=jid, state="active")
        return active.count() == 1 and active.get().contact.phone == phones["fay"]

    wait_for(settled, timeout=90, message=worker.tail())
    # What the journey wrote is handed to Infobip by the send steps' batch chains.
    wait_for(
        lambda: not Message.objects.filter(state="queued").exists(),
        timeout=60,
        message=worker.tail(),
    )
    sandbox.flush()

    sent = {name: [m.text for m in _messages(phone)] for name, phone in phones.items()}
    assert [t[:22] for t in sent["ana"]] == ["Hi Ana, your red shoes"]
    assert [t[:9] for t in sent["bob"]] == ["Hi Bob, y", "Last call"]
    assert (sent["cleo"], sent["dan"], sent["fay"]) == ([], [], [])
    assert len(sent["eve"]) == 4  # two carts, each SMS and last call; the repeat let nobody in
    state = sandbox.state()
    assert state["duplicates"] == {"messageId": 0, "recipientCallbackData": 0}
    assert state["accepted"]["total"] == 7 + 1  # and inbox's confirmation of Dan's STOP

    entries = {(e.contact.phone, e.key): e for e in JourneyEntry.objects.filter(journey_id=jid)}
    assert len(entries) == 7
    reason = {k: e.exit_reason for k, e in entries.items()}
    assert reason[(phones["cleo"], "c1")] == "goal"
    assert reason[(phones["dan"], "d1")] == "opted_out"
    assert reason[(phones["ana"], "a1")] == reason[(phones["bob"], "b1")] == "completed"
    ana_steps = list(
        EntryStep.objects.filter(entry=entries[(phones["ana"], "a1")]).values_list(
            "step_id", "outcome"
        )
    )
    assert ana_steps == [
        ("wait1", "waited"),
        ("sms1", "sent"),
        ("wait2", "then"),
        ("done", "exited"),
    ]
    fay = entries[(phones["fay"], "f1")]
    assert (fay.step, fay.phase) == ("sms1", "ready")
    assert fay.due_at > timezone.now() + dt.timedelta(hours=3)  # held until 08:00 her time
    assert EntryStep.objects.get(entry=fay, step_id="sms1").outcome == "held"
    # Every ledger row of every entry is numbered 1..n without a gap or a repeat.
    for entry in entries.values():
        numbers = list(EntryStep.objects.filter(entry=entry).values_list("n", flat=True))
        assert numbers == list(range(1, entry.steps_taken + 1))

    status = journey_status(journey=Journey.objects.get(pk=jid))
    assert status["counts"]["entered"] == 7
    assert status["counts"]["active"] == 1
    assert status["counts"]["exited"] == {
        "completed": 4,
        "goal": 1,
        "opted_out": 1,
        "archived": 0,
        "stopped": 0,
    }
    steps = {s["id"]: s for s in status["steps"]}
    assert (steps["sms1"]["sent"], steps["sms1"]["delayed"], steps["sms2"]["sent"]) == (4, 1, 3)
    assert (steps["wait2"]["then"], steps["wait2"]["else"]) == (1, 3)
    stories = api.get(f"journeys/{jid}/entries")["entries"]
    ana_story = next(e["story"] for e in stories if e["contact"]["phone"] == phones["ana"])
    assert "by event cart_abandoned (key a1)" in ana_story
    assert "clicked" in ana_story


def test_keyword_welcome_end_to_end(running) -> None:
    api, sandbox, worker = running
    gus, hal = "447946001001", "447946001002"
    journey = api.post(
        "journeys",
        {
            "name": "Keyword welcome",
            "trigger": {"type": "keyword", "keyword": "JOIN", "number": NUMBER},
            "reentry": "once",
            "steps": [
                {
                    "id": "welcome",
                    "type": "send",
                    "channel": "sms",
                    "text": "Welcome! Reply with your first name.",
                },
                {
                    "id": "answer",
                    "type": "wait_for",
                    "event": "reply",
                    "timeout": "PT20S",
                    "then": "tag",
                    "else": "nudge",
                },
                {
                    "id": "tag",
                    "type": "update",
                    "set": {"welcomed": "yes"},
                    "add_to_lists": ["Members"],
                },
                {
                    "id": "thanks",
                    "type": "send",
                    "channel": "sms",
                    "text": "Thanks, you are in.",
                    "next": "end",
                },
                {
                    "id": "nudge",
                    "type": "send",
                    "channel": "sms",
                    "text": "Still there? Reply anytime.",
                },
                {"id": "end", "type": "exit"},
            ],
        },
    )
    jid = journey["id"]
    api.post(f"journeys/{jid}/activate")
    _inbound(sandbox, gus, "join")
    _inbound(sandbox, hal, "Join!")
    wait_for(lambda: len(_messages("+" + gus)) == 1, timeout=60, message=worker.tail())
    _inbound(sandbox, gus, "Gus here")  # a reply: not a keyword of inbox's nor a journey's
    _inbound(sandbox, gus, "JOIN")  # the keyword again: once means once

    def done() -> bool:
        return not JourneyEntry.objects.filter(journey_id=jid, state="active").exists() and (
            len(_messages("+" + hal)) == 2
        )

    wait_for(done, timeout=90, message=worker.tail())
    wait_for(
        lambda: not Message.objects.filter(state="queued").exists(),
        timeout=60,
        message=worker.tail(),
    )
    sandbox.flush()
    assert [m.text for m in _messages("+" + gus)] == [
        "Welcome! Reply with your first name.",
        "Thanks, you are in.",
    ]
    assert [m.text for m in _messages("+" + hal)][1] == "Still there? Reply anytime."
    gus_contact = Contact.objects.get(phone="+" + gus)
    assert gus_contact.attributes["welcomed"] == "yes"
    assert gus_contact.lists.filter(name="Members").exists()
    assert JourneyEntry.objects.filter(journey_id=jid).count() == 2
    assert sandbox.state()["duplicates"] == {"messageId": 0, "recipientCallbackData": 0}
    # STOP stays inbox's: it opts Hal out, and no journey claims it.
    _inbound(sandbox, hal, "STOP")
    wait_for(lambda: Contact.objects.get(phone="+" + hal).opted_out, timeout=30)
    from infobip.models import InboundMessage

    assert InboundMessage.objects.get(text="STOP").keyword_action == "opt_out"
    assert InboundMessage.objects.filter(keyword_action="journey").count() == 3
