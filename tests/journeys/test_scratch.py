"""`journey test SPEC --events FILE`: a scratch database, the sandbox, simulated time."""

import json

import pytest
from django.core.management import CommandError, call_command

from journeys.models import Journey
from tests.journeys.conftest import ABANDONED_CART

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(600)]


def test_a_definition_runs_for_test_contacts_and_leaves_nothing(tmp_path, capsys) -> None:
    spec = tmp_path / "cart.json"
    spec.write_text(json.dumps(ABANDONED_CART))
    events = tmp_path / "events.jsonl"
    lines = [
        {
            "at": "PT0S",
            "contact": {"phone": "+447946000101", "first_name": "Ana"},
            "name": "cart_abandoned",
            "key": "c1",
            "properties": {"item": "red shoes"},
        },
        {
            "at": "PT0S",
            "contact": {"phone": "+447946000102", "first_name": "Bob"},
            "name": "cart_abandoned",
            "key": "c2",
            "properties": {"item": "a hat"},
        },
        {"at": "PT2H", "contact": {"phone": "+447946000101"}, "click": True},
        {
            "at": "PT30M",
            "contact": {"phone": "+447946000103"},
            "name": "cart_abandoned",
            "key": "c3",
            "properties": {"item": "socks"},
        },
        {"at": "PT40M", "contact": {"phone": "+447946000103"}, "name": "order_placed", "key": "c3"},
    ]
    events.write_text("\n".join(json.dumps(line) for line in lines))
    call_command("journey", "test", str(spec), "--events", str(events), "--json")
    report = json.loads(capsys.readouterr().out)
    steps = {
        phone: [(s["step"], s["outcome"], s["after"]) for s in rows]
        for phone, rows in report["contacts"].items()
    }
    assert steps["+447946000101"] == [
        ("wait1", "waited", "1:00:00"),
        ("sms1", "sent", "1:00:00"),
        ("wait2", "then", "2:00:00"),
        ("done", "exited", "2:00:00"),
    ]
    assert [s[0] for s in steps["+447946000102"]] == ["wait1", "sms1", "wait2", "sms2", "done"]
    assert steps["+447946000102"][3][2] == "1 day, 1:00:00"
    assert steps["+447946000103"] == [("wait1", "exited", "0:40:00")]
    texts = [s["text"] for s in report["contacts"]["+447946000101"] if s["text"]]
    assert texts == ["Hi Ana, your red shoes is waiting: https://shop.example/c"]
    assert not Journey.objects.exists()  # the scratch database was another one


def test_a_bad_events_line_is_named(tmp_path) -> None:
    spec = tmp_path / "cart.json"
    spec.write_text(json.dumps(ABANDONED_CART))
    events = tmp_path / "events.jsonl"
    events.write_text('{"at": "PT0S", "contact": {"phone": "+447946000101"}, "name": "x"}\n{oops\n')
    with pytest.raises(CommandError, match=r"events\.jsonl:2: not JSON"):
        call_command("journey", "test", str(spec), "--events", str(events))


def test_segment_and_message_triggers_run_with_what_the_definition_names(tmp_path, capsys) -> None:
    """The scratch database gets the draft's lists, segments and campaign (not their
    contacts); `update` lines let a segment look at a contact, `outcome` lines a message
    trigger hear one."""
    from campaigns.models import Segment
    from contacts.models import ContactList
    from tests.factories import CampaignFactory

    ContactList.objects.create(name="Staff")
    Segment.objects.create(
        name="Leeds",
        rules={
            "match": "all",
            "rules": [{"field": "attribute", "key": "city", "op": "eq", "value": "Leeds"}],
        },
    )
    campaign = CampaignFactory(state="running", name="Spring")
    hello = [{"id": "hi", "type": "send", "channel": "sms", "text": "Hi {{first_name}}"}]
    moved = {
        "name": "Moved",
        "steps": hello,
        "trigger": {"type": "segment", "segment": "Leeds", "exclude": {"lists": ["Staff"]}},
    }
    thanks = {
        "name": "Thanks",
        "steps": hello,
        "reentry": "always",
        "trigger": {"type": "message", "outcome": "clicked", "campaign": campaign.pk},
    }
    contact = {"phone": "+447946000101", "first_name": "Ana", "attributes": {"city": "York"}}
    leeds = {**contact, "attributes": {"city": "Leeds"}}
    runs = [
        (
            moved,
            [
                {"at": "PT0S", "contact": contact, "update": True},
                {"at": "PT1H", "contact": leeds, "update": True},
            ],
        ),
        (
            thanks,
            [
                {"at": "PT5M", "contact": contact, "outcome": "clicked"},
                {"at": "PT6M", "contact": contact, "outcome": "delivered"},
            ],
        ),
    ]
    for definition, lines in runs:
        spec, events = tmp_path / "spec.json", tmp_path / "events.jsonl"
        spec.write_text(json.dumps(definition))
        events.write_text("\n".join(json.dumps(line) for line in lines))
        call_command("journey", "test", str(spec), "--events", str(events), "--json")
        report = json.loads(capsys.readouterr().out)
        rows = report["contacts"]["+447946000101"]
        assert [(s["step"], s["outcome"]) for s in rows] == [("hi", "sent")]
        assert rows[0]["text"] == "Hi Ana"
        assert rows[0]["after"] == ("1:00:00" if definition is moved else "0:05:00")
