"""Segments on PostgreSQL: the compiled SQL selects exactly what the plain EXISTS form selected.

`campaigns/segment_sql.py` compiles an OR that reads other tables to `own(c) OR c.id IN (…
UNION …)` when PostgreSQL will hash the ids, else one `id IN (… UNION …)`, and looks list ids
up first, for speed at 1M contacts (bench/HISTORY.md); the tests run both forms. The oracle
here is the earlier compilation (every rule an EXISTS, combined with plain AND/OR), kept
below; random AND/OR/NOT mixes over a ledger with known history (failovers, erased contacts
whose rows have no contact, clicks, replies, consent) must select the same contacts through
`filter`, `exclude` and the audience's `list OR segment`, as the freeze, the exclusions and the
wizard use them.
"""

import datetime as dt
import random

import pytest
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from psycopg import sql

from campaigns import segment_sql
from campaigns.models import Campaign, Message
from campaigns.segments import segment_count, segment_matching_ids, segment_preview, segment_q
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
                campaign=campaign,
                contact=contact,
                phone=contact.phone,
                channel="whatsapp",
                state=rng.choice(states),
            )
            created = NOW - dt.timedelta(days=rng.uniform(0, 60))
            Message.objects.filter(pk=message.pk).update(created_at=created)
            if rng.random() < 0.15:  # a failover SMS, delivered: not counted by the rules
                failover = Message.objects.create(
                    campaign=campaign,
                    contact=contact,
                    phone=contact.phone,
                    channel="sms",
                    attempt=2,
                    state="delivered",
                    replaces=message,
                )
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
        channel="sms",
        contact=None,
        infobip_message_id="in-none",
        from_number="447946099999",
        received_at=NOW - dt.timedelta(days=1),
    )
    gone.delete()
    assert Message.objects.filter(contact__isnull=True).exists()
    for i, contact in enumerate(contacts):
        if rng.random() < 0.2:
            InboundMessage.objects.create(
                channel="sms",
                contact=contact,
                infobip_message_id=f"in-{i}",
                from_number=contact.phone[1:],
                received_at=NOW - dt.timedelta(days=rng.uniform(0, 30)),
            )
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
    {
        "match": "any",
        "rules": [
            {"field": "engagement", "event": "clicked", "within_days": 7},
            {"field": "engagement", "event": "replied", "within_days": 7},
        ],
    },
    {
        "match": "all",
        "rules": [
            {"field": "country", "op": "in", "value": ["GB", "IE"]},
            {"field": "opted_out", "value": False},
            {
                "match": "any",
                "rules": [
                    {"field": "list", "op": "in", "value": ["VIP"]},
                    {"field": "engagement", "event": "delivered", "within_days": 30},
                ],
            },
        ],
    },
    {
        "match": "any",
        "rules": [
            {"field": "list", "op": "not_in", "value": ["VIP"]},
            {"field": "engagement", "event": "clicked", "negate": True},
            {"field": "consent", "channel": "whatsapp"},
        ],
    },
    {
        "match": "any",
        "rules": [
            {"field": "country", "op": "eq", "value": "fr"},
            {
                "match": "all",
                "rules": [
                    {"field": "engagement", "event": "delivered", "within_days": 7},
                    {"field": "engagement", "event": "replied", "negate": True},
                ],
            },
            {"field": "engagement", "event": "messaged", "negate": True},
        ],
    },
    {"match": "any", "rules": [{"field": "engagement", "event": "delivered"}]},
]


@pytest.mark.parametrize("form", ["hashed", "union"])
def test_random_and_or_not_mixes_select_exactly_what_the_exists_form_selected(
    history, form, monkeypatch
) -> None:
    if form == "union":  # every OR of other tables one UNION, as when ids exceed hash memory
        monkeypatch.setattr(segment_sql, "_MARGIN", float("inf"))
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
        # The count's own statement (ORs every match passes LEFT JOINed: condition_joined).
        assert segment_count(rules=rules, now=NOW) == len(chosen), rules
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


# --- An OR mixing the contact's own row with other tables (issue 26 #1) ---------------------
# Compiled two ways (campaigns/segment_sql.py `any_ids`): `own(c) OR c.id IN (other ids)` when
# PostgreSQL will hash the ids in the session that runs the statement, else one `id IN (own ids
# UNION other ids)`. Both must select what the EXISTS form and plain Python say.

SINCE_30 = (NOW - dt.timedelta(days=30)).date().isoformat()
MIXED = [
    # The bench's tenth shape: list AND number AND (clicked on a channel OR signed up lately).
    {
        "match": "all",
        "rules": [
            {"field": "list", "op": "in", "value": ["Newsletter"]},
            {
                "field": "attribute",
                "key": "last_order_value",
                "type": "number",
                "op": "gt",
                "value": 50,
            },
            {
                "match": "any",
                "rules": [
                    {
                        "field": "engagement",
                        "event": "clicked",
                        "within_days": 30,
                        "channel": "whatsapp",
                    },
                    {
                        "field": "attribute",
                        "key": "signed_up",
                        "type": "date",
                        "op": "in_last_days",
                        "value": 30,
                    },
                ],
            },
        ],
    },
    # Negations inside the mixed OR, under an AND with a negated list.
    {
        "match": "all",
        "rules": [
            {"field": "list", "op": "not_in", "value": ["VIP"]},
            {
                "match": "any",
                "rules": [
                    {"field": "country", "op": "eq", "value": "fr"},
                    {"field": "engagement", "event": "clicked", "negate": True},
                    {"field": "engagement", "event": "replied", "within_days": 7, "negate": True},
                ],
            },
        ],
    },
    # A nested group over other tables and an own-row group, in one OR at the top.
    {
        "match": "any",
        "rules": [
            {
                "field": "attribute",
                "key": "last_order_value",
                "type": "number",
                "op": "gt",
                "value": 50,
            },
            {
                "match": "all",
                "rules": [
                    {"field": "engagement", "event": "delivered", "within_days": 30},
                    {"field": "list", "op": "in", "value": ["Leeds"]},
                ],
            },
            {
                "match": "all",
                "rules": [
                    {"field": "country", "op": "eq", "value": "GB"},
                    {"field": "opted_out", "value": False},
                ],
            },
        ],
    },
    # Two mixed ORs in one AND; consent reads another table and the contact's row.
    {
        "match": "all",
        "rules": [
            {
                "match": "any",
                "rules": [
                    {"field": "attribute", "key": "tier", "op": "eq", "value": "gold"},
                    {"field": "consent", "channel": "sms"},
                ],
            },
            {
                "match": "any",
                "rules": [
                    {"field": "opted_out", "value": True},
                    {"field": "list", "op": "in", "value": ["VIP"]},
                    {"field": "engagement", "event": "messaged", "negate": True},
                    {
                        "match": "any",
                        "rules": [
                            {
                                "field": "attribute",
                                "key": "signed_up",
                                "type": "date",
                                "op": "in_last_days",
                                "value": 30,
                            },
                            {"field": "engagement", "event": "replied", "channel": "sms"},
                        ],
                    },
                ],
            },
        ],
    },
]


@pytest.fixture
def typed(history) -> ContactList:
    """The history's contacts with an order value and a sign-up date (some missing or not in
    the declared form, which compare false)."""
    rng = random.Random(2626)
    for contact in Contact.objects.all():
        values = dict(contact.attributes)
        value = rng.choice([None, "n/a", "12.50", "50", "50.01", "99", "230.00"])
        if value is not None:
            values["last_order_value"] = value
        signed = rng.choice([None, "soon", *(NOW - dt.timedelta(days=d) for d in (2, 29, 31, 90))])
        if signed is not None:
            values["signed_up"] = signed if isinstance(signed, str) else signed.date().isoformat()
        Contact.objects.filter(pk=contact.pk).update(attributes=values)
    return history


def _typed_oracle(group: dict) -> Q:
    """_oracle, with number and date rules and channels evaluated in Python / the ORM."""
    parts = []
    for rule in group["rules"]:
        if "rules" in rule:
            parts.append(_typed_oracle(rule))
        elif rule.get("type") in ("number", "date"):
            ids = set()
            for pk, values in Contact.objects.values_list("id", "attributes"):
                raw = values.get(rule["key"])
                if rule["type"] == "number":
                    hit = raw not in (None, "n/a") and float(raw) > rule["value"]
                else:
                    hit = raw not in (None, "soon") and SINCE_30 <= raw <= NOW.date().isoformat()
                if hit:
                    ids.add(pk)
            parts.append(Q(id__in=ids))
        elif rule.get("channel") and rule["field"] == "engagement":
            rows = (
                Click.objects.filter(
                    message__contact_id=OuterRef("pk"), message__channel=rule["channel"]
                )
                if rule["event"] == "clicked"
                else InboundMessage.objects.filter(
                    contact_id=OuterRef("pk"), channel=rule["channel"]
                )
            )
            if rule.get("within_days"):
                since = NOW - dt.timedelta(days=rule["within_days"])
                field = "clicked_at" if rule["event"] == "clicked" else "received_at"
                rows = rows.filter(**{f"{field}__gte": since})
            parts.append(Q(Exists(rows)))
        else:
            parts.append(_oracle({"rules": [rule]}))
    combined = parts[0]
    for part in parts[1:]:
        combined = combined | part if group.get("match") == "any" else combined & part
    return combined


def _ids(queryset) -> set[int]:
    return set(queryset.values_list("id", flat=True))


@pytest.mark.parametrize("form", ["hashed", "union"])
def test_an_or_of_own_row_and_other_table_rules_selects_what_the_oracle_says(
    typed, form, monkeypatch
) -> None:
    if form == "union":  # as if the ids never fit in hash memory: the UNION form
        monkeypatch.setattr(segment_sql, "_MARGIN", float("inf"))
    members = Q(id__in=ListMembership.objects.filter(contact_list=typed).values("contact_id"))
    everyone = _ids(Contact.objects.all())
    for rules in MIXED:
        new, old = segment_q(rules, now=NOW), _typed_oracle(rules)
        expected = _ids(Contact.objects.filter(old))
        assert 0 < len(expected) < len(everyone), rules  # the shape discriminates
        assert _ids(Contact.objects.filter(new)) == expected, rules
        assert _ids(Contact.objects.exclude(new)) == everyone - expected, rules
        assert _ids(Contact.objects.filter(members | new)) == _ids(
            Contact.objects.filter(members | old)
        ), rules
        assert segment_count(rules=rules, now=NOW) == len(expected), rules
        preview = segment_preview(rules=rules, now=NOW, limit=3)
        assert (preview.count, [c.pk for c in preview.sample]) == (
            len(expected),
            sorted(expected, reverse=True)[:3],
        ), rules
        assert segment_matching_ids(rules=rules, contact_ids=everyone, now=NOW) == expected
        # The form really is the one named: PostgreSQL hashes the ids, or there is no OR
        # left to hash under.
        plan = Contact.objects.filter(new).explain()
        assert ("hashed SubPlan" in plan) == (form == "hashed"), plan
    # The count's statement LEFT JOINs the ids of the bench's shape (its OR is under an AND).
    with CaptureQueriesContext(connection) as captured:
        segment_count(rules=MIXED[0], now=NOW)
    counted = [q["sql"] for q in captured.captured_queries if "count(*)" in q["sql"]]
    assert " AS c LEFT JOIN (" in counted[-1]
    assert ' OR "so1".id IS NOT NULL' in counted[-1]


@pytest.mark.parametrize("rows", [1_000, 100_000, 200_000, 10_000_000])
def test_hashes_in_says_hashed_only_when_postgresql_hashes(rows) -> None:
    """The compiler's question (`hashes_in`) against the planner's answer, at 4 MB work_mem:
    it may say no where PostgreSQL would hash (its margin), never yes where it would not (each
    contact would then scan the ids: quadratic)."""
    ids = sql.SQL("SELECT generate_series(1, {})::bigint").format(sql.Literal(rows))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '4MB'")
        verdict = segment_sql.hashes_in(connection)(ids)
        statement = sql.SQL(
            "EXPLAIN SELECT count(*) FROM contacts_contact c WHERE c.opted_out OR c.id IN ({})"
        ).format(ids)
        cursor.execute(statement.as_string(None))
        hashed = "hashed SubPlan" in "\n".join(row[0] for row in cursor.fetchall())
    assert hashed or not verdict
    assert verdict == (rows <= 100_000)
    assert hashed == (rows <= 200_000)
