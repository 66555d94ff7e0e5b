"""Clicks on tracked links, counted per campaign and per link, duplicates and all."""

import importlib
import json
import random
from io import StringIO
from types import SimpleNamespace

import pytest
import requests
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from campaigns.clicks import clicks_contacts_fill
from campaigns.insights import campaign_clicks
from campaigns.services import campaign_create, campaign_launch
from contacts.models import Contact
from core.rules import OPERATOR
from infobip.models import Click
from tests.infobip.webhooks.conftest import example, make_ledger

pytestmark = pytest.mark.django_db


def _click(message, url: str, device: str = "Apple") -> dict:
    item = example("sms_click_push")
    item.update(messageId=str(message.message_id), url=url, callbackData=message.callback_data)
    item["recipientInfo"]["deviceName"] = device
    return item


def test_the_spec_click_example_counts_for_its_campaign_and_link(post) -> None:
    campaign, [message] = make_ledger(1)
    assert post("clicks", _click(message, "https://www.google.com")).status_code == 200
    assert campaign_clicks(campaign_id=campaign.pk) == {
        "total": 1,
        "unique_messages": 1,
        "by_url": {"https://www.google.com": {"clicks": 1, "unique_messages": 1}},
    }


def test_shuffled_duplicates_count_each_click_once(post) -> None:
    rng = random.Random(10)
    campaign, messages = make_ledger(40)
    other, [stranger] = make_ledger(1, prefix="+4479461")
    clicks = []
    for i, message in enumerate(messages):
        clicks.append(_click(message, "https://shop.example/a"))
        if i % 2 == 0:
            clicks.append(_click(message, "https://shop.example/b"))
        if i % 5 == 0:  # a second device: a different click on the same link
            clicks.append(_click(message, "https://shop.example/a", device="Pixel"))
    clicks.append(_click(stranger, "https://shop.example/a"))  # another campaign's click
    pushes = [c for c in clicks for _ in range(3)]  # every notification delivered three times
    rng.shuffle(pushes)
    for start in range(0, len(pushes), 25):
        assert post("clicks", {"results": pushes[start : start + 25]}).status_code == 200
    for item in rng.sample(clicks, 10):  # and some again, alone
        post("clicks", item)

    result = campaign_clicks(campaign_id=campaign.pk)
    assert result["by_url"] == {
        "https://shop.example/a": {"clicks": 48, "unique_messages": 40},
        "https://shop.example/b": {"clicks": 20, "unique_messages": 20},
    }
    assert (result["total"], result["unique_messages"]) == (68, 40)
    assert campaign_clicks(campaign_id=other.pk)["total"] == 1
    assert Click.objects.count() == 69


def test_a_stored_click_carries_its_message_s_contact_and_loses_it_with_the_contact(post):
    """Attribution finds a contact's clicks by this copy (conversions/attribution.py)."""
    _, [message, other] = make_ledger(2)
    post(
        "clicks",
        {"results": [_click(message, "https://s.example/a"), _click(other, "https://s.example/b")]},
    )
    unknown = _click(message, "https://s.example/c") | {"messageId": "not-ours"}
    post("clicks", unknown)
    by_url = dict(Click.objects.values_list("url", "contact_id"))
    assert by_url == {
        "https://s.example/a": message.contact_id,
        "https://s.example/b": other.contact_id,
        "https://s.example/c": None,
    }
    Contact.objects.filter(pk=other.contact_id).get().delete()  # as the erasure does
    assert Click.objects.get(url="https://s.example/b").contact_id is None


def _stored_before_the_upgrade(n: int) -> tuple[list[Click], Click]:
    """Clicks as the code before stored them (no contact), and one whose message is gone."""
    _, messages = make_ledger(n)
    now = timezone.now()
    clicks = Click.objects.bulk_create(
        [Click(message=m, campaign_id=m.campaign_id, clicked_at=now) for m in messages]
    )
    orphan = Click.objects.create(message_id=10**9, clicked_at=now)  # archived ledger row
    return clicks, orphan


def test_the_upgrade_s_backfill_gives_old_clicks_their_contact_batch_by_batch(monkeypatch):
    clicks, orphan = _stored_before_the_upgrade(7)
    migration = importlib.import_module("infobip.migrations.0006_click_contact")
    monkeypatch.setattr(migration, "BATCH", 3)  # several batches over the 8 ids
    migration.backfill(None, SimpleNamespace(connection=connection))
    got = dict(Click.objects.values_list("id", "contact_id"))
    assert got == {c.id: c.message.contact_id for c in clicks} | {orphan.id: None}
    assert all(got[c.id] is not None for c in clicks)


def test_the_command_fills_clicks_stored_between_migration_and_restart():
    clicks, orphan = _stored_before_the_upgrade(5)
    Click.objects.filter(pk=clicks[0].pk).update(contact_id=clicks[1].message.contact_id)
    out = StringIO()
    call_command("clicks_contacts", "--batch", "2", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"filled": 4}  # only those without one
    got = dict(Click.objects.values_list("id", "contact_id"))
    assert got[clicks[0].pk] == clicks[1].message.contact_id  # left alone
    assert [got[c.pk] for c in clicks[1:]] == [c.message.contact_id for c in clicks[1:]]
    assert got[orphan.pk] is None
    assert clicks_contacts_fill() == 0
    out = StringIO()
    call_command("clicks_contacts", stdout=out)
    assert out.getvalue().strip() == "0 click(s) given their message's contact"


def test_clicks_from_the_sandbox_reach_campaign_status(
    on_sandbox, settings, webhook_sink, post, django_capture_on_commit_callbacks
) -> None:
    """Through the sandbox: a tracked campaign is sent, recipients tap, status counts it."""
    from tests.campaigns.conftest import make_audience

    settings.PUBLIC_BASE_URL = webhook_sink.base
    audience = make_audience(4)
    campaign = campaign_create(
        name="t",
        channel="sms",
        lists=[audience],
        track_links=True,
        text="Hi {{first_name}} https://shop.example/x",
    )
    with django_capture_on_commit_callbacks(execute=True):
        campaign_launch(campaign=campaign, actor=OPERATOR)
    tapped = requests.post(
        on_sandbox.url + "/_sandbox/click",
        json={"callbackData": f"herald:campaign={campaign.pk}", "limit": 3},
        headers={"Authorization": f"App {on_sandbox.api_key}"},
        timeout=10,
    ).json()
    assert tapped == {"tracked": 3, "pushed": 3, "failed": 0}
    bodies = webhook_sink.bodies(f"/infobip/webhooks/{settings.INFOBIP_WEBHOOK_TOKEN}/clicks/")
    assert len(bodies) == 3
    settings.PUBLIC_BASE_URL = "http://testserver"
    for body in bodies:
        assert post("clicks", body).status_code == 200
    out = json.loads(_status(campaign.pk))
    assert out["clicks"]["total"] == 3
    assert out["clicks"]["by_url"] == {
        "https://shop.example/x": {"clicks": 3, "unique_messages": 3}
    }


def _status(pk: int) -> str:
    from io import StringIO

    buffer = StringIO()
    call_command("campaign", "status", str(pk), "--json", stdout=buffer)
    return buffer.getvalue()
