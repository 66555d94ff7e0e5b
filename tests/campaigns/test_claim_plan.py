"""A claim reads the campaign's rows in (campaign, id) order and stops at its limit.

A new campaign's rows are unknown to the statistics until the ledger is analyzed again, so the
planner may expect a handful of rows and read every row from the hint on with a bitmap scan,
then sort them: on PostgreSQL 15 in a 300,000-recipient fan-out, 17,000 to 204,000 rows and
46 to 580 ms per claim, with the campaign row locked (bench/HISTORY.md, 2026-12-07). Which
plan a planner picks from stale statistics depends on its version and the data, so these tests
check what the claim controls: the statement runs with bitmap and sequential scans off (the
only plans that read past the limit), and in a stale-statistics case it reads only its limit.
"""

import json

import pytest
from django.db import connection

from campaigns.ledger import messages_claim
from campaigns.ledger.statements import CLAIM
from campaigns.models import Campaign, Message
from contacts.models import Contact
from tests.campaigns.test_ledger import _campaign

pytestmark = pytest.mark.django_db


def _plan_of_claims(campaign_id: int, limit: int, floor: int) -> list[dict]:
    """messages_claim's CLAIM plans (EXPLAIN ANALYZE run just before the statement itself)."""
    plans: list[dict] = []
    claim = CLAIM.as_string(connection.connection)

    def explain(execute, sql, params, many, context):
        text = sql if isinstance(sql, str) else sql.as_string(connection.connection)
        if text == claim:
            with connection.connection.cursor() as cursor:
                cursor.execute(
                    "SELECT current_setting('enable_bitmapscan'), current_setting('enable_seqscan')"
                )
                settings = cursor.fetchone()
                cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {text}", params)
                plans.append({"settings": settings, **cursor.fetchone()[0][0]})
        return execute(sql, params, many, context)

    with connection.execute_wrapper(explain):
        claimed = messages_claim(campaign_id=campaign_id, limit=limit, floor=floor)
    assert len(claimed) == limit
    return plans


def _nodes(plan: dict) -> list[dict]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += _nodes(child)
    return found


def test_a_claim_past_what_the_statistics_know_reads_only_its_limit() -> None:
    # As in a fan-out: the ledger was analyzed when the campaign's first rows had been sent
    # (so the statistics say almost nothing is queued); the freeze has appended since.
    campaign, first = _campaign(1_000, state="accepted")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE campaigns_message")
    contacts = Contact.objects.bulk_create(Contact(phone=f"+4479461{i:05d}") for i in range(4_000))
    Message.objects.bulk_create(
        Message(campaign=campaign, contact=c, phone=c.phone, channel="sms", state="queued")
        for c in contacts
    )
    Campaign.objects.filter(pk=campaign.pk).update(count_queued=4_000)

    plans = _plan_of_claims(campaign.pk, 100, floor=first[-1].pk + 1)

    assert len(plans) == 1
    assert plans[0]["settings"] == ("off", "off")  # the only plans that read past the limit
    nodes = _nodes(plans[0]["Plan"])
    kinds = [n["Node Type"] for n in nodes]
    assert "Bitmap Heap Scan" not in kinds, json.dumps(plans[0], indent=1)[:3000]
    assert "Sort" not in kinds, kinds
    ledger = [n for n in nodes if n.get("Relation Name") == "campaigns_message"]
    assert [n["Node Type"] for n in ledger] == ["Index Scan"], kinds
    read = ledger[0]["Actual Rows"] + ledger[0].get("Rows Removed by Filter", 0)
    assert read == 100  # stopped at the limit, not the 4,000 rows from the hint on


def test_the_claim_leaves_the_planner_settings_as_they_were() -> None:
    campaign, _ = _campaign(10)
    messages_claim(campaign_id=campaign.pk, limit=5)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('enable_bitmapscan'), current_setting('enable_seqscan')"
        )
        assert cursor.fetchone() == ("on", "on")
