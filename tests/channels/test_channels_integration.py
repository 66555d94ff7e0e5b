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
        name="viber", channel="viber", lists=[make_audience(400, name="viber")],
        text="Hi {{first_name}}, new season", media_url="https://example.com/season.jpg",
        buttons=[{"text": "Shop now", "url": "https://example.com/shop"}],
    )  # fmt: skip
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
