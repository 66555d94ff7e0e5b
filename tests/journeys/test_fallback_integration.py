"""A journey's send step with its fallback chain, end to end: a real worker and beat, events
through the API, the sandbox deciding who has RCS and pushing its reports to a live Herald."""

import pytest

from campaigns.models import Message
from campaigns.tasks import sweep
from journeys.models import EntryStep, JourneyEntry, SendStep
from tests.fixtures.worker import wait_for
from tests.journeys.test_integration import running  # noqa: F401  (the API and processes)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

SHIPPED = {
    "name": "Order shipped (RCS, else SMS)",
    "trigger": {"type": "event", "event": "shipped"},
    "reentry": "always",
    "steps": [
        {
            "id": "rcs1",
            "type": "send",
            "channel": "rcs",
            "text": "Hi {{first_name|there}}, your order shipped",
            "fallback": [{"channel": "sms", "text": "Hi {{first_name|there}}, shipped (SMS)"}],
        },
        {
            "id": "wait1",
            "type": "wait_for",
            "event": "delivered",
            "timeout": "P1D",
            "then": "done",
            "else": "done",
        },
        {"id": "done", "type": "exit"},
    ],
}


def test_a_send_steps_chain_reaches_exactly_the_undelivered_once_per_entry(running) -> None:  # noqa: F811
    api, sandbox, worker = running
    # A third of the phones have no RCS (the sandbox decides per number); every SMS arrives.
    sandbox.configure(not_on_channel={"RCS": 0.3}, outcomes={"delivered": 1.0})
    journey = api.post("journeys", SHIPPED)
    api.post(f"journeys/{journey['id']}/activate")
    phones = [f"+4479461{i:05d}" for i in range(60)]
    # Every contact enters twice (two orders): each entry has its own message and fallback.
    for order in ("o1", "o2"):
        for chunk in range(0, len(phones), 30):
            events = [
                {"name": "shipped", "key": f"{order}-{p}", "contact": {"phone": p}}
                for p in phones[chunk : chunk + 30]
            ]
            api.post("events/batch", {"events": events})
    entries = JourneyEntry.objects.filter(journey_id=journey["id"])

    def done():
        sweep.delay()  # the campaigns' sweeper: fallback windows, stragglers
        return entries.count() == 120 and not entries.filter(state="active").exists()

    wait_for(done, timeout=200, interval=1.0, message=worker.tail())
    campaign = SendStep.objects.get(version__journey_id=journey["id"]).campaign
    rcs = Message.objects.filter(campaign=campaign, channel="rcs")
    sms = Message.objects.filter(campaign=campaign, channel="sms")
    assert rcs.count() == 120
    undelivered = set(rcs.exclude(state="delivered").values_list("id", flat=True))
    assert 0 < len(undelivered) < 120
    # Exactly the undelivered got the SMS, each once — both entries of a contact without RCS.
    assert set(sms.values_list("replaces_id", flat=True)) == undelivered
    assert sms.count() == len(undelivered)
    assert set(sms.values_list("attempt", flat=True)) == {1, 2}
    assert not sms.exclude(state="delivered").exists()
    assert set(sms.values_list("text", flat=True)) == {"Hi there, shipped (SMS)"}
    state = sandbox.state()
    assert state["acceptedByChannel"] == {"RCS": 120, "SMS": len(undelivered)}
    assert state["duplicates"] == {"messageId": 0, "recipientCallbackData": 0}
    # Everyone was reached on one step or the other: each entry's wait for the delivery ended
    # by `then` (the SMS's delivery counts for the RCS message the entry waits on).
    outcomes = EntryStep.objects.filter(entry__journey_id=journey["id"], step_id="wait1")
    assert sorted(set(outcomes.values_list("outcome", flat=True))) == ["then"]
    assert outcomes.count() == 120
