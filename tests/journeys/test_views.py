"""The builder's views (Django's test client on PostgreSQL): every form round trip."""

import pytest

from journeys.models import Journey
from tests.ui.conftest import make_user
from ui.journey_forms import starter
from ui.roles import MARKETER, SENDER

pytestmark = pytest.mark.django_db


@pytest.fixture
def builder(client):
    client.force_login(make_user("mia", MARKETER, SENDER))
    client.post("/journeys/", {"name": "Cart", "starter": "cart"})
    return client, Journey.objects.get(name="Cart")


def test_the_settings_form_round_trip(builder) -> None:
    client, journey = builder
    form = client.get(f"/journeys/{journey.pk}/settings/")
    assert form.status_code == 200
    assert b"Quiet hours: send only between" in form.content
    saved = client.post(
        f"/journeys/{journey.pk}/settings/",
        {
            "name": "Cart",
            "trigger_type": "event",
            "event": "cart_abandoned",
            "reentry": "cooldown",
            "cooldown_days": "30",
            "goal": "order_placed",
            "quiet_hours": "08:00-20:00",
            "caps": "skip",
        },
    )
    assert saved.status_code == 302
    journey.refresh_from_db()
    assert journey.draft["reentry"] == {"after": "P30D"}
    assert (journey.draft["quiet_hours"], journey.draft["caps"]) == ("08:00-20:00", "skip")
    assert len(journey.draft["steps"]) == 5  # the steps are kept


def test_the_settings_form_sets_segment_and_message_triggers_and_audiences(builder) -> None:
    from campaigns.models import Segment
    from contacts.models import ContactList
    from tests.factories import CampaignFactory

    client, journey = builder
    Segment.objects.create(name="Leeds", rules={"match": "all", "rules": []})
    ContactList.objects.create(name="Staff")
    campaign = CampaignFactory(name="Spring sale", state="running")
    form = client.get(f"/journeys/{journey.pk}/settings/")
    assert b"Starting to match a segment" in form.content
    assert b"Spring sale" in form.content
    client.post(
        f"/journeys/{journey.pk}/settings/",
        {
            "name": "Cart",
            "trigger_type": "segment",
            "segment": "Leeds",
            "reentry": "once",
            "exclude_lists": ["Staff"],
            "include_segments": ["Leeds"],
        },
    )
    journey.refresh_from_db()
    assert journey.draft["trigger"] == {
        "type": "segment",
        "segment": "Leeds",
        "include": {"segments": ["Leeds"]},
        "exclude": {"lists": ["Staff"]},
    }
    client.post(
        f"/journeys/{journey.pk}/settings/",
        {
            "name": "Cart",
            "trigger_type": "message",
            "outcome": "clicked",
            "campaign": str(campaign.pk),
            "reentry": "always",
        },
    )
    journey.refresh_from_db()
    assert journey.draft["trigger"] == {
        "type": "message",
        "outcome": "clicked",
        "campaign": campaign.pk,
    }
    page = client.get(f"/journeys/{journey.pk}/")
    assert f"of campaign {campaign.pk} is clicked".encode() in page.content


def test_steps_are_added_edited_moved_and_removed(builder) -> None:
    client, journey = builder
    assert client.get(f"/journeys/{journey.pk}/steps/wait2/").status_code == 200
    client.post(f"/journeys/{journey.pk}/steps/add/", {"type": "branch", "after": "sms1"})
    journey.refresh_from_db()
    assert [s["id"] for s in journey.draft["steps"]][2] == "branch1"
    answer = client.post(
        f"/journeys/{journey.pk}/steps/branch1/",
        {
            "cond_field": "event",
            "cond_key": "total",
            "cond_op": "in",
            "cond_value": "100, 200",
            "then": "done",
            "else": "wait2",
        },
    )
    assert answer.status_code == 200
    journey.refresh_from_db()
    branch = journey.draft["steps"][2]
    assert branch["rule"]["rules"][0] == {
        "field": "event",
        "op": "in",
        "key": "total",
        "value": ["100", "200"],
    }
    client.post(f"/journeys/{journey.pk}/steps/branch1/move/", {"to": "up"})
    journey.refresh_from_db()
    assert [s["id"] for s in journey.draft["steps"]][1] == "branch1"
    gone = client.post(f"/journeys/{journey.pk}/steps/done/remove/")
    assert b"no step with id" in gone.content  # wait2 and the branch still name it
    checked = client.post(f"/journeys/{journey.pk}/check/")
    assert b"Not ready" in checked.content


def test_the_send_step_offers_its_fallback_chain(builder) -> None:
    client, journey = builder
    form = client.get(f"/journeys/{journey.pk}/steps/sms2/")
    assert b"If not delivered, fall back to" in form.content
    sms2 = {"channel": "viber", "text": "Last call: 10% off with CART10", "track_links": "on"}
    answer = client.post(
        f"/journeys/{journey.pk}/steps/sms2/",
        {
            **sms2,
            "fallback_0": "sms",
            "fallback_text_0": "Last call (SMS): CART10",
            "fallback_1": "",
            "fallback_amount": "2",
            "fallback_unit": "hours",
        },
    )
    assert answer.status_code == 200
    journey.refresh_from_db()
    step = journey.draft["steps"][3]
    assert step["fallback"] == [{"channel": "sms", "text": "Last call (SMS): CART10"}]
    assert step["fallback_after"] == "PT2H"
    assert "Not delivered within 2 hours: SMS (each once, only the undelivered)" in (
        answer.content.decode()
    )
    assert "(not delivered: SMS)" in answer.content.decode()
    # The form shows the chain again; a chain that cannot be is named on its step.
    assert (
        b'value="Last call (SMS): CART10"'
        in client.get(f"/journeys/{journey.pk}/steps/sms2/").content
    )
    wrong = client.post(f"/journeys/{journey.pk}/steps/sms2/", {**sms2, "fallback_0": "viber"})
    assert "a Viber campaign cannot fall back to Viber" in wrong.content.decode()


def test_activate_and_the_inspector(builder) -> None:
    client, journey = builder
    client.post(f"/journeys/{journey.pk}/do/activate/")
    journey.refresh_from_db()
    assert journey.state == "active"
    assert client.get(f"/journeys/{journey.pk}/counts/").status_code == 200
    assert client.get(f"/journeys/{journey.pk}/people/?phone=12").status_code == 400
    assert client.get(f"/journeys/{journey.pk}/people/").status_code == 200


def test_a_marketer_may_not_activate(client) -> None:
    client.force_login(make_user("kim", MARKETER))
    client.post("/journeys/", {"name": "Cart", "starter": "cart"})
    journey = Journey.objects.get()
    client.post(f"/journeys/{journey.pk}/do/activate/")
    journey.refresh_from_db()
    assert journey.state == "draft"


def test_the_starters_are_valid_definitions() -> None:
    from journeys.spec import definition_check

    for kind in ("cart", "keyword", "blank"):
        assert definition_check(starter(kind, "x")) == []


def test_the_draft_page_backtests(builder) -> None:
    client, journey = builder
    answer = client.post(f"/journeys/{journey.pk}/backtest/", {"days": "30"})
    assert answer.status_code == 200
    assert b"Triggers replayed" in answer.content
    assert client.post(f"/journeys/{journey.pk}/backtest/", {"days": "x"}).status_code == 400


@pytest.mark.timeout(600)
def test_the_draft_page_tests_the_draft_for_scripted_contacts(builder) -> None:
    from journeys.models import JourneyTest
    from journeys.services import journey_test_run

    client, journey = builder
    page = client.get(f"/journeys/{journey.pk}/")
    assert b"Test the draft" in page.content
    assert b"cart_abandoned" in page.content  # the first script sets the trigger off
    bad = client.post(f"/journeys/{journey.pk}/test/", {"events": '{"contact": {"phone": "1"}}'})
    assert bad.status_code == 400
    assert b"contact.phone" in bad.content
    script = "\n".join(
        [
            '{"at": "PT0S", "contact": {"phone": "+447946000101", "first_name": "Ana"}, '
            '"name": "cart_abandoned", "key": "c1", "properties": {"item": "red shoes"}}',
            '{"at": "PT10M", "contact": {"phone": "+447946000101"}, "name": "order_placed", '
            '"key": "c1"}',
        ]
    )
    started = client.post(f"/journeys/{journey.pk}/test/", {"events": script})
    assert started.status_code == 200
    assert b"Testing the draft" in started.content  # polled until the worker is done
    test = JourneyTest.objects.get(journey=journey)
    journey_test_run(test_id=test.pk)  # the task's body (no worker in the unit run)
    journey_test_run(test_id=test.pk)  # a repeated task does nothing: the row was claimed
    result = client.get(f"/journeys/{journey.pk}/tests/{test.pk}/")
    assert b"Tested: 1 test contact" in result.content
    assert b"+447946000101" in result.content
    assert b"goal order_placed" in result.content
    assert client.get(f"/journeys/{journey.pk}/").status_code == 200  # the last test is listed


def test_the_test_result_says_times_and_waits_in_words(builder) -> None:
    """QA walk: "+1 day, 1:00:00" and "PT1H" read as "in 1 day 1 hour" and "1 hour"."""
    from journeys.models import JourneyTest

    client, journey = builder
    report = {
        "start": "2026-12-07T10:00:00+00:00",
        "entries": 1,
        "contacts": {
            "+447946000101": [
                {
                    "after": "0:00:00",
                    "at": "2026-12-07T10:00:00+00:00",
                    "step": "start",
                    "outcome": "entered",
                    "detail": "",
                    "text": "",
                    "state": "",
                },
                {
                    "after": "1:00:00",
                    "at": "2026-12-07T11:00:00+00:00",
                    "step": "wait1",
                    "outcome": "waited PT1H",
                    "detail": "PT1H",
                    "text": "",
                    "state": "",
                },
                {
                    "after": "1 day, 1:00:00",
                    "at": "2026-12-08T11:00:00+00:00",
                    "step": "sms1",
                    "outcome": "sent",
                    "detail": "",
                    "text": "Hi",
                    "state": "delivered",
                },
            ]
        },
    }
    test = JourneyTest.objects.create(
        journey=journey, definition=journey.draft, state="done", report=report
    )
    page = client.get(f"/journeys/{journey.pk}/tests/{test.pk}/").content.decode()
    assert "at the start" in page
    assert "in 1 hour" in page
    assert "waited 1 hour — 1 hour" in page
    assert "in 1 day 1 hour" in page
    assert "(delivered)" in page
    assert "PT1H" not in page
    assert "1 day, 1:00:00" not in page


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("settings/", {"name": "", "trigger_type": "nope", "reentry": "cooldown",
                       "cooldown_days": "x", "max_spend": "NaN", "offset_days": "\x00"}),
        ("settings/", {"name": "Cart", "trigger_type": "date_attribute", "attribute": "1x",
                       "offset_days": "-9999", "at": "25:99", "max_spend": "inf"}),
        ("settings/", {"name": "Cart", "trigger_type": "message", "outcome": "exploded",
                       "campaign": "１２", "include_segments": ["\x00"]}),
        ("settings/", {"name": "Cart", "trigger_type": "segment", "segment": "x" * 5000}),
        ("steps/wait2/", {"event": "other", "event_name": "a b", "amount": "-1", "unit": "eons",
                          "then": "nowhere"}),
        ("steps/add/", {"type": "teleport"}),
        ("test/", {"events": '{"at": "P99999999D", "contact": {"phone": "+447946000101"}, '
                             '"name": "x"}\n\x00'}),
        ("test/", {"events": "[]\n" * 300}),
        ("steps/wait1/move/", {"to": "sideways"}),
    ],
)  # fmt: skip
def test_hostile_builder_forms_never_500(builder, path, form) -> None:
    client, journey = builder
    answer = client.post(f"/journeys/{journey.pk}/{path}", form)
    assert answer.status_code < 500
    from journeys.services import journey_validate

    journey.refresh_from_db()
    assert isinstance(journey_validate(definition=journey.draft, journey=journey), list)
