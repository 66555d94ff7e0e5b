"""Clicks on tracked links, counted per campaign and per link, duplicates and all."""

import json
import random

import pytest
import requests
from django.core.management import call_command

from campaigns.insights import campaign_clicks
from campaigns.services import campaign_create, campaign_launch
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


def test_clicks_from_the_sandbox_reach_campaign_status(
    on_sandbox, settings, webhook_sink, post, django_capture_on_commit_callbacks
) -> None:
    """Through the sandbox: a tracked campaign is sent, recipients tap, status counts it."""
    from tests.campaigns.conftest import make_audience

    settings.PUBLIC_BASE_URL = webhook_sink.base
    audience = make_audience(4)
    campaign = campaign_create(name="t", channel="sms", lists=[audience], track_links=True,
                               text="Hi {{first_name}} https://shop.example/x")  # fmt: skip
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
