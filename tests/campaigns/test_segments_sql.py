"""Segments on PostgreSQL: the compiled SQL selects exactly what the plain EXISTS form selected.

`campaigns/segments.py` compiles an OR that reads other tables to one `id IN (… UNION …)` and
looks list ids up first, for speed at 1M contacts (bench/HISTORY.md). The oracle here is the
earlier compilation (every rule an EXISTS, combined with plain AND/OR), kept below; random
AND/OR/NOT mixes over a ledger with known history (failovers, erased contacts whose rows have
no contact, clicks, replies, consent) must select the same contacts through `filter`, `exclude`
and the audience's `list OR segment`, as the freeze, the exclusions and the wizard use them.
"""

import datetime as dt
import random

import pytest
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from campaigns.models import Campaign, Message
from campaigns.segments import segment_count, segment_q
from contacts.models import ConsentEvent, Contact, ContactList, ListMembership
from infobip.models import Click, InboundMessage

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _oracle(group: dict) -> Q:
    """The rules as the first version compiled them: EXISTS per rule, plain AND/OR."""
    parts = [_oracle(r) if "rules" in r else _oracle_rule(r) for r in group["rules"]]
    if not parts:
        return Q()
    combined = parts[0]
    for part in parts[1:]:
        combined = combined | part if group.get("match") == "any" else combined & part
    return combined


def _oracle_rule(rule: dict) -> Q:
    field = rule["field"]
    if field == "country":
        return (
            Q(country__in=rule["value"]) if rule["op"] == "in" else Q(country__iexact=rule["value"])
        )
    if field == "attribute":
        return Q(**{f"attributes__{rule['key']}__iexact": rule["value"]})
    if field == "opted_out":
        return Q(opted_out=rule["value"])
    if field == "list":
        member = Exists(
            ListMembership.objects.filter(
                contact_id=OuterRef("pk"), contact_list__name__in=rule["value"]
            )
        )
        return ~Q(member) if rule.get("op") == "not_in" else Q(member)
    if field == "consent":
        opted_in = ConsentEvent.objects.filter(
            contact_id=OuterRef("pk"), action="opt_in", channel__in=[rule["channel"], "all"]
        )
        return Q(Exists(opted_in)) & Q(opted_out=False)
    since = NOW - dt.timedelta(days=rule["within_days"]) if rule.get("within_days") else None
    event = rule["event"]
    if event in ("delivered", "messaged"):
        rows = Message.objects.filter(contact_id=OuterRef("pk"), replaces__isnull=True)
        if event == "delivered":
            rows = rows.filter(state="delivered")
        else:
            rows = rows.exclude(state__in=["skipped", "failed", "rejected"])
        if since is not None:
            rows = rows.filter(created_at__gte=since)
    elif event == "clicked":
        rows = Click.objects.filter(message__contact_id=OuterRef("pk"))
        if since is not None:
            rows = rows.filter(clicked_at__gte=since)
    else:
        rows = InboundMessage.objects.filter(contact_id=OuterRef("pk"))
        if since is not None:
            rows = rows.filter(received_at__gte=since)
    found = Q(Exists(rows))
    return ~found if rule.get("negate") else found


@pytest.fixture
def history() -> ContactList:
    """80 contacts with a ledger of known shape; returns the list the audience test uses."""
    rng = random.Random(1717)
    lists = [ContactList.objects.create(name=n) for n in ("VIP", "Newsletter", "Leeds")]
    contacts = [
        Contact.objects.create(
            phone=f"+4479460{i:05d}",
            country=rng.choice(["GB", "IE", "FR", "DE"]),
            # Everyone has a tier: a missing key makes `tier = x` NULL, not false, and then NOT
            # differs between the forms (the EXISTS form drops the contact from an exclusion).
            attributes={"tier": rng.choice(["gold", "silver", "bronze"])},
            opted_out=rng.random() < 0.15,
        )
        for i in range(80)
    ]
    for contact in contacts:
        for contact_list in lists:
            if rng.random() < 0.35:
                ListMembership.objects.create(contact=contact, contact_list=contact_list)
        if rng.random() < 0.3:
            ConsentEvent.objects.create(
                contact=contact,
                action="opt_in",
                source="keyword",
                channel=rng.choice(["sms", "whatsapp", "all"]),
            )
    campaigns = [
        Campaign.objects.create(name=f"past {k}", channel="sms", text="x") for k in range(3)
    ]
    states = ["delivered", "delivered", "undeliverable", "skipped", "failed", "accepted"]
    for campaign in campaigns:
        for contact in contacts:
            if rng.random() < 0.5:
                continue
            message = Message.objects.create(
                campaign=campaign, contact=contact, phone=contact.phone, channel="whatsapp",
                state=rng.choice(states),
            )  # fmt: skip
            created = NOW - dt.timedelta(days=rng.uniform(0, 60))
            Message.objects.filter(pk=message.pk).update(created_at=created)
            if rng.random() < 0.15:  # a failover SMS, delivered: not counted by the rules
                failover = Message.objects.create(
                    campaign=campaign, contact=contact, phone=contact.phone, channel="sms",
                    attempt=2, state="delivered", replaces=message,
                )  # fmt: skip
                Message.objects.filter(pk=failover.pk).update(created_at=created)
            if message.state == "delivered" and rng.random() < 0.3:
                clicked = created + dt.timedelta(days=rng.uniform(0, 3))
                Click.objects.create(message=message, clicked_at=min(clicked, NOW))
    # Erased people: their rows stay with no contact, which must not turn a NOT IN into NULL.
    gone = Contact.objects.create(phone="+447946099999")
    erased = Message.objects.create(
        campaign=campaigns[0], contact=gone, phone=gone.phone, channel="sms", state="delivered"
    )
    Click.objects.create(message=erased, clicked_at=NOW)
    InboundMessage.objects.create(
        channel="sms", contact=None, infobip_message_id="in-none", from_number="447946099999",
        received_at=NOW - dt.timedelta(days=1),
    )  # fmt: skip
    gone.delete()
    assert Message.objects.filter(contact__isnull=True).exists()
    for i, contact in enumerate(contacts):
        if rng.random() < 0.2:
            InboundMessage.objects.create(
                channel="sms", contact=contact, infobip_message_id=f"in-{i}",
                from_number=contact.phone[1:],
                received_at=NOW - dt.timedelta(days=rng.uniform(0, 30)),
            )  # fmt: skip
    return lists[1]


def _random_rule(rng: random.Random) -> dict:
    kind = rng.choice(["country", "attribute", "opted_out", "list", "consent", "engagement"] * 2)
    if kind == "country":
        if rng.random() < 0.5:
            return {"field": "country", "op": "eq", "value": rng.choice(["gb", "FR"])}
        return {"field": "country", "op": "in", "value": rng.sample(["GB", "IE", "DE"], 2)}
    if kind == "attribute":
        return {
            "field": "attribute",
            "key": "tier",
            "op": "eq",
            "value": rng.choice(["gold", "SILVER"]),
        }
    if kind == "opted_out":
        return {"field": "opted_out", "value": rng.random() < 0.5}
    if kind == "list":
        names = rng.sample(["VIP", "Newsletter", "Leeds"], rng.randint(1, 2))
        return {"field": "list", "op": rng.choice(["in", "not_in"]), "value": names}
    if kind == "consent":
        return {"field": "consent", "channel": rng.choice(["sms", "whatsapp"])}
    rule: dict = {
        "field": "engagement",
        "event": rng.choice(["delivered", "clicked", "replied", "messaged"]),
    }
    if rng.random() < 0.7:
        rule["within_days"] = rng.choice([3, 7, 30])
    if rng.random() < 0.3:
        rule["negate"] = True
    return rule


def _random_group(rng: random.Random, depth: int) -> dict:
    rules = []
    for _ in range(rng.randint(1, 4)):
        if depth < 2 and rng.random() < 0.3:
            rules.append(_random_group(rng, depth + 1))
        else:
            rules.append(_random_rule(rng))
    return {"match": rng.choice(["all", "any"]), "rules": rules}


FIXED = [
    # The bench's shapes, and ORs whose sets are all from other tables or mixed with NOT.
    {"match": "any", "rules": [
        {"field": "engagement", "event": "clicked", "within_days": 7},
        {"field": "engagement", "event": "replied", "within_days": 7}]},
    {"match": "all", "rules": [
        {"field": "country", "op": "in", "value": ["GB", "IE"]},
        {"field": "opted_out", "value": False},
        {"match": "any", "rules": [
            {"field": "list", "op": "in", "value": ["VIP"]},
            {"field": "engagement", "event": "delivered", "within_days": 30}]}]},
    {"match": "any", "rules": [
        {"field": "list", "op": "not_in", "value": ["VIP"]},
        {"field": "engagement", "event": "clicked", "negate": True},
        {"field": "consent", "channel": "whatsapp"}]},
    {"match": "any", "rules": [
        {"field": "country", "op": "eq", "value": "fr"},
        {"match": "all", "rules": [
            {"field": "engagement", "event": "delivered", "within_days": 7},
            {"field": "engagement", "event": "replied", "negate": True}]},
        {"field": "engagement", "event": "messaged", "negate": True}]},
    {"match": "any", "rules": [{"field": "engagement", "event": "delivered"}]},
]  # fmt: skip


def test_random_and_or_not_mixes_select_exactly_what_the_exists_form_selected(history) -> None:
    rng = random.Random(17)
    groups = FIXED + [_random_group(rng, 0) for _ in range(150)]
    members = Q(id__in=ListMembership.objects.filter(contact_list=history).values("contact_id"))
    everyone = set(Contact.objects.values_list("id", flat=True))
    nonempty = 0
    for rules in groups:
        new, old = segment_q(rules, now=NOW), _oracle(rules)
        chosen = set(Contact.objects.filter(new).values_list("id", flat=True))
        assert chosen == set(Contact.objects.filter(old).values_list("id", flat=True)), rules
        # NOT (an exclusion segment) and list OR segment (an audience with both).
        assert set(Contact.objects.exclude(new).values_list("id", flat=True)) == set(
            Contact.objects.exclude(old).values_list("id", flat=True)
        ), rules
        assert set(Contact.objects.filter(members | new).values_list("id", flat=True)) == set(
            Contact.objects.filter(members | old).values_list("id", flat=True)
        ), rules
        assert Contact.objects.filter(new).count() == len(chosen)
        nonempty += 0 < len(chosen) < len(everyone)
    # The mixes discriminate: most select some but not all of the contacts.
    assert nonempty > len(groups) // 2


def _settings() -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('jit'), current_setting('work_mem')")
        return cursor.fetchone()


def test_segment_count_counts_with_its_settings_and_leaves_the_connections_alone(history) -> None:
    rules = FIXED[1]
    expected = Contact.objects.filter(_oracle(rules)).count()
    assert 0 < expected < Contact.objects.count()
    before = _settings()
    assert before[1] != "64MB"  # else the test could not see a leak
    seen: list[tuple[str, str]] = []
    with connection.execute_wrapper(
        lambda execute, sql, params, many, context: (
            seen.append(_raw_settings(context["cursor"])) if "count(" in sql.lower() else None,
            execute(sql, params, many, context),
        )[1]
    ):
        # Inside a caller's transaction (a request, the test's own) and outside any.
        assert segment_count(rules=rules, now=NOW) == expected
        with transaction.atomic():
            assert segment_count(rules=rules, now=NOW) == expected
            assert _settings() == before
    assert seen == [("off", "64MB"), ("off", "64MB")]
    assert _settings() == before


def _raw_settings(cursor) -> tuple[str, str]:
    cursor.execute("SELECT current_setting('jit'), current_setting('work_mem')")
    return cursor.fetchone()
