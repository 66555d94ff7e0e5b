"""Segments: rules over fields, attributes, lists, consent and engagement; AND/OR; usage."""

import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from campaigns.freeze import campaign_freeze
from campaigns.models import Campaign, Message
from campaigns.preview import campaign_preview
from campaigns.segments import SegmentError, segment_count, segment_rules_check, segment_save
from campaigns.services import campaign_create
from contacts.models import ConsentEvent, Contact, ContactList, ListMembership
from infobip.models import Click, InboundMessage

pytestmark = pytest.mark.django_db


def _contact(phone: str, **fields) -> Contact:
    return Contact.objects.create(phone=phone, **fields)


def _sent(contact: Contact, state: str, days_ago: float) -> Message:
    campaign = Campaign.objects.create(name=f"past {state}", channel="sms", text="x")
    message = Message.objects.create(
        campaign=campaign, contact=contact, phone=contact.phone, channel="sms", state=state
    )
    Message.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - dt.timedelta(days=days_ago)
    )
    return message


@pytest.fixture
def people() -> dict[str, Contact]:
    """Contacts with known history: who was delivered, clicked, replied, never messaged."""
    p = {
        "ann": _contact("+447946000001", country="GB", attributes={"city": "Leeds"}),
        "bob": _contact("+447946000002", country="GB", attributes={"city": "York"}),
        "cat": _contact("+33612345678", country="FR", language="fr"),
        "dan": _contact("+4915123456789", country="DE"),
        "eve": _contact("+447946000005", country="GB", opted_out=True),
    }
    _sent(p["ann"], "delivered", days_ago=3)
    clicked = _sent(p["bob"], "delivered", days_ago=40)  # delivered, but long ago
    Click.objects.create(message=clicked, clicked_at=timezone.now() - dt.timedelta(days=2))
    _sent(p["cat"], "skipped", days_ago=1)  # skipped: never really messaged
    InboundMessage.objects.create(
        channel="sms",
        contact=p["dan"],
        infobip_message_id="in-1",
        from_number="4915123456789",
        received_at=timezone.now() - dt.timedelta(days=5),
    )
    vip = ContactList.objects.create(name="VIP")
    ListMembership.objects.create(contact=p["cat"], contact_list=vip)
    ListMembership.objects.create(contact=p["dan"], contact_list=vip)
    ConsentEvent.objects.create(
        contact=p["dan"], action="opt_in", source="keyword", channel="whatsapp"
    )
    return p


def _ids(rules: dict, people: dict[str, Contact]) -> set[str]:
    segment = segment_save(name="s", rules=rules, segment=None)
    from campaigns.segments import segment_contacts

    ids = set(segment_contacts(segment=segment).values_list("id", flat=True))
    segment.delete()
    return {name for name, c in people.items() if c.pk in ids}


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ({"rules": [{"field": "engagement", "event": "delivered", "within_days": 7}]}, {"ann"}),
        ({"rules": [{"field": "engagement", "event": "delivered", "within_days": 60}]},
         {"ann", "bob"}),
        ({"rules": [{"field": "engagement", "event": "clicked", "within_days": 7}]}, {"bob"}),
        ({"rules": [{"field": "engagement", "event": "replied", "within_days": 7}]}, {"dan"}),
        ({"rules": [{"field": "engagement", "event": "replied", "within_days": 7, "negate": True},
                    {"field": "opted_out", "value": False}]}, {"ann", "bob", "cat"}),
        # Never messaged: a skipped row is not a message.
        ({"rules": [{"field": "engagement", "event": "messaged", "negate": True}]},
         {"cat", "dan", "eve"}),
        ({"rules": [{"field": "consent", "channel": "whatsapp"}]}, {"dan"}),
        ({"rules": [{"field": "list", "op": "in", "value": ["VIP"]}]}, {"cat", "dan"}),
        ({"rules": [{"field": "list", "op": "not_in", "value": "VIP"}]}, {"ann", "bob", "eve"}),
        ({"rules": [{"field": "attribute", "key": "city", "op": "eq", "value": "leeds"}]}, {"ann"}),
        ({"rules": [{"field": "country", "op": "in", "value": ["FR", "DE"]}]}, {"cat", "dan"}),
        # AND of an OR: (delivered in 7 days OR clicked in 7 days) AND in GB.
        ({"match": "all", "rules": [
            {"match": "any", "rules": [
                {"field": "engagement", "event": "delivered", "within_days": 7},
                {"field": "engagement", "event": "clicked", "within_days": 7}]},
            {"field": "country", "op": "eq", "value": "GB"}]}, {"ann", "bob"}),
        ({"match": "any", "rules": [{"field": "language", "op": "eq", "value": "fr"},
                                    {"field": "phone", "op": "startswith", "value": "+49"}]},
         {"cat", "dan"}),
    ],
)  # fmt: skip
def test_rules_select_exactly_the_right_contacts(people, rules, expected) -> None:
    assert _ids(rules, people) == expected


@pytest.mark.parametrize(
    ("rules", "problem"),
    [
        ({"rules": [{"field": "shoe_size"}]}, "unknown field 'shoe_size'"),
        ({"rules": [{"field": "list", "value": "Nope"}]}, "no list named 'Nope'"),
        ({"rules": [{"field": "engagement", "event": "opened"}]}, "event is one of"),
        ({"rules": [{"field": "engagement", "event": "delivered", "within_days": -1}]},
         "within_days"),
        ({"rules": [{"field": "attribute", "key": "a b", "value": "x"}]}, "snake_case key"),
        ({"match": "either", "rules": []}, '"match" is "all" or "any"'),
        ("everyone", "a group needs"),
    ],
)  # fmt: skip
def test_bad_rules_are_refused_with_the_rule_and_the_reason(rules, problem) -> None:
    problems = segment_rules_check(rules)
    assert any(problem in p for p in problems), problems
    with pytest.raises(SegmentError):
        segment_save(name="bad", rules=rules)


def test_a_campaign_targets_a_segment_and_the_freeze_writes_exactly_it(people) -> None:
    segment = segment_save(
        name="recent",
        rules={"rules": [{"field": "engagement", "event": "delivered", "within_days": 60}]},
    )
    campaign = campaign_create(name="seg", channel="sms", lists=[], text="Hi", segment=segment)
    assert campaign_preview(campaign=campaign)["audience"] == 2
    Campaign.objects.filter(pk=campaign.pk).update(state="running", launched_at=timezone.now())
    campaign_freeze(campaign=Campaign.objects.get(pk=campaign.pk))
    assert set(Message.objects.filter(campaign=campaign).values_list("contact_id", flat=True)) == {
        people["ann"].pk,
        people["bob"].pk,
    }


def test_a_segment_excludes_like_an_exclusion_list(people) -> None:
    everyone = ContactList.objects.create(name="everyone")
    ListMembership.objects.bulk_create(
        [ListMembership(contact=c, contact_list=everyone) for c in people.values()]
    )
    clickers = segment_save(
        name="clickers", rules={"rules": [{"field": "engagement", "event": "clicked"}]}
    )
    campaign = campaign_create(
        name="ex", channel="sms", lists=[everyone], text="Hi", exclude_segment=clickers
    )
    preview = campaign_preview(campaign=campaign)
    assert (preview["audience"], preview["excluded"]["excluded_lists"]) == (4, 1)


def test_the_command_line_saves_counts_and_uses_segments(people) -> None:
    rules = json.dumps({"rules": [{"field": "country", "op": "eq", "value": "GB"}]})
    out = io.StringIO()
    call_command("segment", "save", "--name", "uk", "--rules", rules, "--json", stdout=out)
    assert json.loads(out.getvalue())["count"] == 3
    out = io.StringIO()
    call_command("segment", "count", "uk", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"count": 3}
    assert segment_count(rules={"rules": []}) == 5  # no conditions: everyone
    out = io.StringIO()
    call_command(
        "campaign",
        "create",
        "--name",
        "seg",
        "--segment",
        "uk",
        "--channel",
        "sms",
        "--text",
        "Hi",
        "--json",
        stdout=out,
    )
    campaign = Campaign.objects.get(pk=json.loads(out.getvalue())["id"])
    assert campaign.segment.name == "uk"
    with pytest.raises(CommandError, match="no segment named 'nope'"):
        call_command(
            "campaign",
            "create",
            "--name",
            "x",
            "--segment",
            "nope",
            "--channel",
            "sms",
            "--text",
            "Hi",
        )
    with pytest.raises(CommandError, match="not JSON"):
        call_command("segment", "save", "--name", "bad", "--rules", "{")
