"""The attribution statement's holdout probe reads the contact's own rows, not every holdout.

Statistics taken before a split's freeze make the split campaigns' index
(`message_split_group`) look empty, and the planner then walked every held-out row of every
split for each conversion (50,000 rows, 325 ms p50 on the 10M-row bench ledger, 2026-12-07).
"""

import datetime as dt

import orjson
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from campaigns.models import Campaign, Message
from contacts.models import Contact
from conversions.attribution import HORIZON, TOUCHES_SQL
from conversions.rule import rule_current

pytestmark = pytest.mark.django_db


def test_the_holdout_probe_goes_by_contact_whatever_the_statistics_say() -> None:
    # As on the bench ledger: every contact has ten recent messages (what the contact index
    # finds and filters), and the statistics were taken before any split.
    contacts = Contact.objects.bulk_create(Contact(phone=f"+4479462{i:05d}") for i in range(500))
    for n in range(10):
        plain = Campaign.objects.create(name=f"plain {n}", state="completed", recipients=500)
        Message.objects.bulk_create(
            Message(campaign=plain, contact=c, phone=c.phone, channel="sms", state="delivered")
            for c in contacts
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE campaigns_message")  # no split yet: its index looks empty
    split = Campaign.objects.create(name="split", state="completed", recipients=500)
    Message.objects.bulk_create(  # then a split whose holdout is everyone
        Message(campaign=split, contact=c, phone=c.phone, channel="sms", state="skipped",
                split_group=0)
        for c in contacts
    )  # fmt: skip
    rule = rule_current()
    now = timezone.now() + dt.timedelta(minutes=1)
    claims = [{"conversion_id": 1, "contact_id": contacts[250].pk, "at": now.isoformat()}]
    params = {
        "claims": orjson.dumps(claims).decode(),
        "click": rule.click_window,
        "reply": rule.reply_window,
        "delivery": rule.delivery_window,
        "lift": settings.HERALD_LIFT_WINDOW,
        "horizon": HORIZON,
    }
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + TOUCHES_SQL, params)
        plan = cursor.fetchone()[0]
        cursor.execute(TOUCHES_SQL, params)
        row = cursor.fetchone()

    text = orjson.dumps(plan).decode()
    assert "message_split_group" not in text, text[:3000]
    assert row[7] == split.pk  # the holdout is still found: the contact was held out of `split`
