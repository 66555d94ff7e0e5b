"""The journeys API and the events API, against the committed OpenAPI document (PostgreSQL)."""

import copy

import pytest
from django.core.management import call_command

from api.models import EventDelivery, EventSubscription
from campaigns.models import Message
from journeys.models import Journey, JourneyEntry
from tests.api.conftest import ALL_SCOPES, make_user
from tests.api.test_contract import JOURNEY_CASES, Contract
from tests.journeys.conftest import ABANDONED_CART

pytestmark = pytest.mark.django_db
SCOPES = [*ALL_SCOPES, "journeys:write", "events:write"]


def _cart(**changes) -> dict:
    definition = copy.deepcopy(ABANDONED_CART)
    definition.update(changes)
    return definition


def test_every_journey_operation_answers_what_the_document_says(
    api_for, django_user_model, live_sandbox
) -> None:
    user = django_user_model.objects.create_superuser("contract", password="not-used-here")
    c = Contract(api_for(user, SCOPES))
    created = c.check("POST", "/api/v1/journeys", 201, _cart())
    jid = created["id"]
    assert (created["state"], created["version"]) == ("draft", None)
    c.check("GET", "/api/v1/journeys", 200)
    c.check("PATCH", "/api/v1/journeys/{id}", 200, _cart(name="Cart v2"), id=jid)
    active = c.check("POST", "/api/v1/journeys/{id}/activate", 200, id=jid)
    assert (active["state"], active["version"]) == ("active", 1)
    one = c.check(
        "POST",
        "/api/v1/events",
        202,
        {
            "name": "cart_abandoned",
            "contact": {"phone": "41793026727"},
            "key": "cart-1042",
            "properties": {"item": "red shoes"},
        },
    )
    assert one["journeys"] == [{"id": jid, "entered": True}]
    events = [
        {"name": "cart_abandoned", "contact": {"phone": "+447946000101"}, "key": "c2"},
        {"name": "cart_abandoned", "contact": {"phone": "not a number"}},
        {"name": "order_placed", "contact": {"phone": "41793026727"}, "key": "cart-1042"},
    ]
    batch = c.check("POST", "/api/v1/events/batch", 202, {"events": events})
    assert batch["accepted"] == 2
    assert [r["index"] for r in batch["rejected"]] == [1]
    detail = c.check("GET", "/api/v1/journeys/{id}", 200, id=jid)
    assert detail["counts"]["entered"] == 2
    assert detail["counts"]["exited"]["goal"] == 1
    assert [s["id"] for s in detail["steps"]] == ["wait1", "sms1", "wait2", "sms2", "done"]
    inspected = c.check("GET", "/api/v1/journeys/{id}/entries", 200, id=jid)
    stories = [e["story"] for e in inspected["entries"]]
    assert any(
        "by event cart_abandoned (key cart-1042)" in s and "left: goal" in s for s in stories
    )
    c.check("POST", "/api/v1/journeys/{id}/pause", 200, id=jid)
    c.check("POST", "/api/v1/journeys/{id}/resume", 200, id=jid)
    c.check("POST", "/api/v1/journeys/{id}/move", 200, id=jid)
    archived = c.check("POST", "/api/v1/journeys/{id}/archive", 200, {"mode": "stop"}, id=jid)
    assert archived["counts"]["active"] == 0
    assert c.covered == set(JOURNEY_CASES)


def test_a_bad_definition_is_refused_with_every_problem_by_path(api_for, sender_user_pg):
    api = api_for(sender_user_pg, SCOPES)
    bad = _cart()
    bad["steps"][2]["timeout"] = "tomorrow"
    bad["steps"][1]["channel"] = "fax"
    answer = api.post("journeys", bad)
    assert answer.status_code == 400
    fields = answer.json()["error"]["fields"]
    assert "steps[2].timeout" in fields
    assert "steps[1].channel" in fields
    assert not Journey.objects.exists()


def test_scopes_guard_journeys_and_events(api_for, sender_user_pg) -> None:
    reader = api_for(sender_user_pg, ["read"])
    assert reader.post("journeys", _cart()).status_code == 403
    assert reader.post("events", {"name": "x", "contact": {"id": 1}}).status_code == 403
    assert reader.get("journeys").status_code == 200


def test_an_idempotent_event_is_stored_once(api_for, sender_user_pg) -> None:
    api = api_for(sender_user_pg, SCOPES)
    body = {"name": "cart_abandoned", "contact": {"phone": "+447946000101"}}
    first = api.call("POST", "events", body, headers={"Idempotency-Key": "k1"})
    again = api.call("POST", "events", body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = api.call("POST", "events", {**body, "key": "x"}, headers={"Idempotency-Key": "k1"})
    assert other.status_code == 422


def test_unknown_contacts_are_created_or_refused_per_setting(api_for, sender_user_pg, settings):
    api = api_for(sender_user_pg, SCOPES)
    body = {"name": "visited", "contact": {"phone": "+447946000155"}}
    settings.HERALD_EVENTS_UNKNOWN_CONTACTS = "refuse"
    refused = api.post("events", body)
    assert refused.status_code == 400
    assert "no contact" in refused.json()["error"]["message"]
    settings.HERALD_EVENTS_UNKNOWN_CONTACTS = "create"
    assert api.post("events", body).status_code == 202


def test_a_stored_number_is_taken_as_stored_and_others_are_parsed(monkeypatch) -> None:
    from contacts.models import Contact
    from contacts.phones import PhoneChecker
    from journeys.events import events_record
    from journeys.models import Event

    ann = Contact.objects.create(phone="+447946000101")
    parsed: list[str] = []
    check = PhoneChecker.check

    def counting(self: PhoneChecker, raw: str):  # type: ignore[no-untyped-def]
        parsed.append(raw)
        return check(self, raw)

    monkeypatch.setattr(PhoneChecker, "check", counting)
    result = events_record(
        events=[
            {"name": "visited", "contact": {"phone": "+447946000101"}},  # Ann's, as stored
            {"name": "visited", "contact": {"phone": "+44 7946 000101"}},  # Ann's, written so
            {"name": "visited", "contact": {"phone": "+447946000102"}},  # a new contact
            {"name": "visited", "contact": {"phone": "+4479460001"}},  # E.164-shaped, invalid
        ]
    )
    assert parsed == ["+44 7946 000101", "+447946000102", "+4479460001"]
    assert [r["index"] for r in result.rejected] == [3]
    contacts = list(Event.objects.order_by("id").values_list("contact_id", flat=True))
    assert contacts[:2] == [ann.pk, ann.pk]
    assert Contact.objects.get(pk=contacts[2]).phone == "+447946000102"


HOSTILE = [
    [],
    "x",
    {"name": "ok"},
    {"name": "a b", "contact": {"id": 1}},
    {"name": "ok", "contact": {"phone": "12"}},
    {"name": "ok", "contact": {"id": 1}, "properties": [1]},
    {"name": "ok", "contact": {"id": 1}, "occurred_at": "noon"},
    {"name": "ok", "contact": {"id": 10**30}},
    {"name": "ok", "contact": {"phone": "+447946000101"}, "key": "k" * 201},
]


@pytest.mark.parametrize("body", HOSTILE)
def test_hostile_events_get_a_clear_400(api_for, sender_user_pg, body) -> None:
    answer = api_for(sender_user_pg, SCOPES).post("events", body)
    assert answer.status_code == 400
    assert answer.json()["error"]["message"]


def test_journey_entered_and_exited_go_out_as_outbound_events(api_for, sender_user_pg) -> None:
    subscription = EventSubscription.objects.create(
        url="http://127.0.0.1:9/x", events=["journey.entered", "journey.exited"], secret="whsec_x"
    )
    api = api_for(sender_user_pg, SCOPES)
    jid = api.post("journeys", _cart()).json()["id"]
    assert api.post(f"journeys/{jid}/activate").status_code == 200
    api.post(
        "events", {"name": "cart_abandoned", "contact": {"phone": "+447946000101"}, "key": "c1"}
    )
    api.post("events", {"name": "order_placed", "contact": {"phone": "+447946000101"}, "key": "c1"})
    payloads = {
        d.event_type: d.payload for d in EventDelivery.objects.filter(subscription=subscription)
    }
    assert payloads["journey.entered"]["journey"] == jid
    assert payloads["journey.exited"]["reason"] == "goal"
    assert payloads["journey.exited"]["contact"]["phone"] == "+447946000101"


def test_the_command_creates_activates_and_reports(tmp_path, capsys) -> None:
    import json

    spec = tmp_path / "cart.json"
    spec.write_text(json.dumps(_cart()))
    call_command("journey", "create", "--file", str(spec), "--activate", "--json")
    jid = json.loads(capsys.readouterr().out)["id"]
    call_command("journey", "status", str(jid), "--json")
    status = json.loads(capsys.readouterr().out)
    assert (status["state"], status["version"]) == ("active", 1)
    call_command("journey", "status", str(jid))
    assert "state=active version=1" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(Exception, match="not JSON"):
        call_command("journey", "create", "--file", str(bad))
    assert not JourneyEntry.objects.exists()
    assert not Message.objects.exists()


@pytest.fixture
def sender_user_pg(db):
    user = make_user("sam", "Marketer", "Sender")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


@pytest.mark.parametrize(
    "body",
    [
        {"name": "ok", "contact": {"phone": "+447946000101"}, "properties": {"a": "x\u0000y"}},
        {"name": "ok", "contact": {"phone": "+447946000101"}, "key": "k\u0000"},
    ],
)
def test_nul_characters_in_an_event_are_refused(api_for, sender_user_pg, body) -> None:
    answer = api_for(sender_user_pg, SCOPES).post("events", body)
    assert answer.status_code == 400


def test_nul_characters_in_a_definition_are_refused(api_for, sender_user_pg) -> None:
    bad = _cart(name="Cart\u0000")
    answer = api_for(sender_user_pg, SCOPES).post("journeys", bad)
    assert answer.status_code == 400
    bad = _cart()
    bad["steps"][1]["text"] = "Hi\u0000"
    assert api_for(sender_user_pg, SCOPES).post("journeys", bad).status_code == 400
