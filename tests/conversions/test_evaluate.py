"""The sweep's evaluation of a split: group sizes counted once per settled state, not per sweep."""

import pytest
from django.utils import timezone

from campaigns import tasks
from campaigns.freeze import campaign_freeze, campaign_release_rest
from campaigns.models import Campaign, Message, SplitGroup, SplitTest
from campaigns.services import campaign_create
from campaigns.split import SplitSpec, VariantSpec, split_decide
from conversions.evaluate import split_evaluate
from core.rules import OPERATOR
from tests.factories import make_audience

pytestmark = pytest.mark.django_db


def _evaluated(campaign: Campaign) -> SplitTest:
    split = SplitTest.objects.select_related("campaign").get(campaign=campaign)
    split_evaluate(split=split, now=timezone.now(), decide=False)
    split.refresh_from_db()
    return split


def test_sizes_are_counted_once_the_freeze_is_done_and_again_once_the_rest_is_released(
    monkeypatch,
):
    monkeypatch.setattr(tasks.split_release, "delay", lambda campaign_id: None)
    monkeypatch.setattr(tasks.campaign_dispatch, "delay", lambda campaign_id: None)
    campaign = campaign_create(
        name="split",
        channel="sms",
        lists=[make_audience(200)],
        variants=[VariantSpec(name="A", text="Hi"), VariantSpec(name="B", text="Hello")],
        test=SplitSpec(share=20, holdout=5),
    )
    Campaign.objects.filter(pk=campaign.pk).update(state="running", launched_at=timezone.now())
    campaign_freeze(campaign=campaign)
    split = _evaluated(campaign)
    counted = {"test": 40, "holdout": 10, "waiting": 150}
    assert split.state == SplitTest.State.TESTING
    assert split.evaluation["sizes"] == counted
    assert split.evaluation["sizes_of"] == "testing"

    # While testing, the groups' rows do not change: the next sweeps take the sizes as counted
    # (a row moved behind the sweep's back, as no code does, shows it does not count again).
    moved = Message.objects.filter(campaign=campaign, split_group=SplitGroup.TEST).first()
    assert moved is not None
    Message.objects.filter(pk=moved.pk).update(split_group=SplitGroup.HOLDOUT)
    assert _evaluated(campaign).evaluation["sizes"] == counted

    # Released: the rest has its rows now, so the sizes are counted again (once).
    assert split_decide(campaign=campaign, winner=2, reason="test", actor=OPERATOR) is not None
    assert campaign_release_rest(campaign=campaign) == 150
    split = _evaluated(campaign)
    assert split.state == SplitTest.State.DONE
    assert split.evaluation["sizes"] == {"test": 39, "holdout": 11, "rest": 150, "waiting": 0}
    assert split.evaluation["sizes_of"] == "done"
    Message.objects.filter(pk=moved.pk).update(split_group=SplitGroup.TEST)
    assert _evaluated(campaign).evaluation["sizes"]["test"] == 39
