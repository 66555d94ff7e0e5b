"""Viber and an RCS → SMS chain end to end: PostgreSQL, a real worker on Redis, the sandbox
pushing its reports to a live Herald (tests/fixtures/worker.py)."""

import pytest

from campaigns.models import Campaign, Message
from campaigns.services import campaign_create, campaign_launch, campaign_status
from campaigns.tasks import sweep
from core.rules import OPERATOR
from tests.campaigns.conftest import make_audience
from tests.fixtures.worker import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(celery_worker, sandbox, engine_settings):
    return celery_worker, sandbox


def _finished(campaign_id: int) -> Campaign | None:
    campaign = Campaign.objects.get(pk=campaign_id)
    return campaign if campaign.state == "completed" and not campaign.count_accepted else None


def test_a_viber_campaign_is_sent_once_and_reconciled(engine) -> None:
    worker, sandbox = engine
    sandbox.configure(outcomes={"delivered": 0.8, "undeliverable": 0.1, "expired": 0.1})
    campaign = campaign_create(
        name="viber",
        channel="viber",
        lists=[make_audience(400, name="viber")],
        text="Hi {{first_name}}, new season",
        media_url="https://example.com/season.jpg",
        buttons=[{"text": "Shop now", "url": "https://example.com/shop"}],
    )
    campaign_launch(campaign=campaign, actor=OPERATOR)

    def done():
        sweep.delay()
        return _finished(campaign.pk)

    wait_for(done, timeout=180, interval=1.0, message=worker.tail())
    state = sandbox.state()
    assert state["acceptedByChannel"] == {"VIBER_BM": 400}
    assert state["duplicates"] == {"messageId": 0, "recipientCallbackData": 0}
    rows = Message.objects.filter(campaign=campaign)
    assert rows.count() == 400
    assert set(rows.values_list("channel", flat=True)) == {"viber"}
    # Every row ends as Infobip (the sandbox) says it ended: the pushes were reconciled.
    for message_id, final in rows.values_list("message_id", "state"):
        truth = sandbox.truth(str(message_id))
        assert (final, truth["copies"]) == (truth["outcome"], 1)
    status = campaign_status(campaign=campaign)
    assert status["counts"]["delivered"] == rows.filter(state="delivered").count() > 0
    assert sum(status["counts"].values()) == 400


def test_an_rcs_to_sms_chain_falls_back_for_exactly_the_undelivered(engine) -> None:
    worker, sandbox = engine
    # A third of the phones have no RCS; every SMS is delivered.
    sandbox.configure(not_on_channel={"RCS": 0.3}, outcomes={"delivered": 1.0})
    campaign = campaign_create(
        name="chain",
        channel="rcs",
        lists=[make_audience(300, name="chain")],
        text="Hi {{first_name}}, your order shipped",
        fallback=[{"channel": "sms", "text": "Hi {{first_name}}, shipped (SMS)"}],
    )
    campaign_launch(campaign=campaign, actor=OPERATOR)
    rcs = Message.objects.filter(campaign=campaign, channel="rcs")
    sms = Message.objects.filter(campaign=campaign, channel="sms")

    def done():
        sweep.delay()
        return _finished(campaign.pk)

    wait_for(done, timeout=180, interval=1.0, message=worker.tail())
    undelivered = set(rcs.exclude(state="delivered").values_list("id", flat=True))
    assert 0 < len(undelivered) < 300
    # Exactly the undelivered got the SMS, each once; the delivered got nothing more.
    assert set(sms.values_list("replaces_id", flat=True)) == undelivered
    assert sms.count() == len(undelivered)
    assert not sms.exclude(state="delivered").exists()
    # Each SMS is the step's own text, rendered for its person.
    assert all(
        text == f"Hi {first}, shipped (SMS)"
        for text, first in sms.values_list("text", "contact__first_name")
    )
    for message in rcs.exclude(state="delivered"):
        assert sandbox.truth(str(message.message_id))["error"] == "EC_UNKNOWN_USER"
    state = sandbox.state()
    assert state["acceptedByChannel"] == {"RCS": 300, "SMS": len(undelivered)}
    assert state["duplicates"] == {"messageId": 0, "recipientCallbackData": 0}
    status = campaign_status(campaign=campaign)
    assert status["fallback"] == ["sms"]
    assert status["failover"] == {"sent": len(undelivered), "delivered": len(undelivered)}
