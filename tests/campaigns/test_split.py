"""Split tests in the ledger: the exact draw at freeze, the winner's release once.

The draw's cut points are found by PostgreSQL (campaigns/split_plan.py) and checked here
against core.draw's exact split of the same audience.
"""

import datetime as dt
from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns import freeze, tasks
from campaigns.freeze import HOLDOUT_REASON, campaign_freeze, campaign_release_rest
from campaigns.models import Campaign, Message, SplitGroup, SplitRest, SplitTest
from campaigns.services import campaign_recount, campaign_resend_failed
from campaigns.split import SplitSpec, VariantSpec, split_decide, split_status
from campaigns.split_plan import split_sizes
from contacts.models import Contact
from core.draw import split_exact
from core.rules import OPERATOR, SYSTEM
from tests.factories import make_audience

pytestmark = pytest.mark.django_db

AB = [VariantSpec(name="A", text="Hi {{first_name}}"), VariantSpec(name="B", text="Hello!")]


@pytest.fixture(autouse=True)
def _no_sending(monkeypatch) -> None:
    # The tests release the rest themselves (the decision enqueues it, eagerly here).
    monkeypatch.setattr(tasks.split_release, "delay", lambda campaign_id: None)
    monkeypatch.setattr(tasks.campaign_dispatch, "delay", lambda campaign_id: None)


def _launched(n: int, *, variants=AB, test: SplitSpec | None = None, **fields) -> Campaign:
    from campaigns.services import campaign_create

    audience = make_audience(n)
    campaign = campaign_create(
        name="split",
        channel="sms",
        lists=[audience],
        variants=variants,
        test=test or SplitSpec(share=20, holdout=5),
        **fields,
    )
    Campaign.objects.filter(pk=campaign.pk).update(state="running", launched_at=timezone.now())
    campaign.refresh_from_db()
    return campaign


def _groups(campaign: Campaign) -> dict[int, tuple[int | None, int | None]]:
    rows = Message.objects.filter(campaign=campaign, attempt=1, replaces__isnull=True)
    return {c: (v, g) for c, v, g in rows.values_list("contact_id", "variant", "split_group")}


def test_shares_of_the_whole_audience_are_exact_and_the_rest_waits_without_ledger_rows():
    campaign = _launched(1000)
    campaign_freeze(campaign=campaign)
    campaign.refresh_from_db()
    split = SplitTest.objects.get(campaign=campaign)
    assert split.state == SplitTest.State.TESTING
    assert split.plan == {"variants": [100, 100], "holdout": 50, "rest": 750}
    groups = _groups(campaign)
    tally = Counter(groups.values())
    assert tally == {
        (1, SplitGroup.TEST): 100,
        (2, SplitGroup.TEST): 100,
        (None, SplitGroup.HOLDOUT): 50,
    }
    assert SplitRest.objects.filter(campaign=campaign).count() == 750
    assert campaign.recipients == 250
    assert campaign.count_queued == 200
    held = Message.objects.filter(campaign=campaign, split_group=SplitGroup.HOLDOUT)
    assert set(held.values_list("state", "reason", "text")) == {("skipped", HOLDOUT_REASON, "")}
    # The variants' texts, rendered per contact; variant A's is the campaign's own.
    texts = Message.objects.filter(campaign=campaign, split_group=SplitGroup.TEST)
    assert {t[:5] for t in texts.filter(variant=1).values_list("text", flat=True)} == {"Hi An"}
    assert set(texts.filter(variant=2).values_list("text", flat=True)) == {"Hello!"}
    assert campaign.text == "Hi {{first_name}}"
    # The same draw as core.draw's exact split over the audience, cut in the same order.
    ids = sorted(Contact.objects.values_list("id", flat=True))
    expected = split_exact(seed=split.seed, keys=ids, counts=[100, 100, 50])
    waiting = set(SplitRest.objects.filter(campaign=campaign).values_list("contact_id", flat=True))
    for contact_id, group in zip(ids, expected, strict=True):
        if group == -1:
            assert contact_id in waiting
        else:
            assert groups[contact_id] == ((group + 1, 1) if group < 2 else (None, 0))


def test_the_winner_goes_to_the_rest_once_and_nobody_gets_two_variants(monkeypatch):
    monkeypatch.setattr(freeze, "BATCH", 300)  # the release in three chunks
    campaign = _launched(1000)
    campaign_freeze(campaign=campaign)
    before = _groups(campaign)
    decided = split_decide(campaign=campaign, winner=2, reason="test", actor=OPERATOR)
    assert decided is not None
    assert decided.state == SplitTest.State.RELEASING
    # A second decision (a duplicated sweep, a person at the same moment) changes nothing.
    assert split_decide(campaign=campaign, winner=1, reason="again", actor=SYSTEM) is None
    assert campaign_release_rest(campaign=campaign) == 750
    assert campaign_release_rest(campaign=campaign) == 0  # resumed or duplicated: nothing more
    split = SplitTest.objects.get(campaign=campaign)
    assert split.state == SplitTest.State.DONE
    assert split.released_at is not None
    after = _groups(campaign)
    assert {k: v for k, v in after.items() if k in before} == before
    rest = [v for k, v in after.items() if k not in before]
    assert Counter(rest) == {(2, SplitGroup.REST): 750}
    assert not SplitRest.objects.filter(campaign=campaign).exists()
    campaign.refresh_from_db()
    assert (campaign.recipients, campaign.count_queued) == (1000, 950)
    recount = campaign_recount(campaign=campaign)
    assert recount["count_queued"] == 950
    assert recount["count_skipped"] == 50
    status = split_status(campaign=campaign)
    assert status["winner"] == "B"
    assert [v["recipients"] for v in status["variants"]] == [100, 100]
    assert status["holdout"] == {"recipients": 50}
    assert status["split"]["rest"] == 750
    assert status["split"]["waiting"] == 0


def test_resend_and_failover_rows_keep_the_variant():
    campaign = _launched(40, test=SplitSpec(share=100))
    campaign_freeze(campaign=campaign)
    assert SplitTest.objects.get(campaign=campaign).state == SplitTest.State.DONE  # no rest
    first = Message.objects.filter(campaign=campaign, split_group=SplitGroup.TEST)[:3]
    Message.objects.filter(id__in=[m.id for m in first]).update(state="failed")
    Campaign.objects.filter(pk=campaign.pk).update(count_failed=3, count_queued=37)
    assert campaign_resend_failed(campaign=campaign, actor=OPERATOR) == 3
    for original in first:
        again = Message.objects.get(campaign=campaign, contact_id=original.contact_id, attempt=2)
        assert (again.variant, again.split_group) == (original.variant, original.split_group)


def test_a_resumed_freeze_draws_everybody_into_the_same_group(monkeypatch):
    monkeypatch.setattr(freeze, "BATCH", 50)
    campaign = _launched(300)
    chunks = []
    real = freeze._commit_chunk

    def dying(*args, **kwargs):
        if len(chunks) == 3:
            raise RuntimeError("worker killed")
        chunks.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(freeze, "_commit_chunk", dying)
    with pytest.raises(RuntimeError):
        campaign_freeze(campaign=campaign)
    monkeypatch.setattr(freeze, "_commit_chunk", real)
    campaign_freeze(campaign=campaign)
    split = SplitTest.objects.get(campaign=campaign)
    groups = _groups(campaign)
    waiting = set(SplitRest.objects.filter(campaign=campaign).values_list("contact_id", flat=True))
    assert len(groups) + len(waiting) == 300
    assert not set(groups) & waiting
    ids = sorted([*groups, *waiting])
    expected = split_exact(seed=split.seed, keys=ids, counts=[30, 30, 15])
    assert Counter(expected) == {0: 30, 1: 30, 2: 15, -1: 225}
    for contact_id, group in zip(ids, expected, strict=True):
        assert (contact_id in waiting) == (group == -1)


def test_no_winner_writes_the_rest_skipped_with_the_decision():
    campaign = _launched(100)
    campaign_freeze(campaign=campaign)
    split_decide(campaign=campaign, winner=None, reason="nothing was certain", actor=SYSTEM)
    campaign_release_rest(campaign=campaign)
    rest = Message.objects.filter(campaign=campaign, split_group=SplitGroup.REST)
    assert rest.count() == 75
    assert set(rest.values_list("state", "variant")) == {("skipped", None)}
    assert rest.first().reason.startswith("no winner was sent to the rest: nothing was certain")


def test_a_holdout_without_variants_sends_everyone_else_the_message():
    campaign = _launched(200, variants=(), test=SplitSpec(holdout=10), text="Hi")
    campaign_freeze(campaign=campaign)
    assert Counter(_groups(campaign).values()) == {(None, None): 180, (None, 0): 20}
    assert SplitTest.objects.get(campaign=campaign).state == SplitTest.State.DONE


def test_sizes_floor_each_share_and_give_the_remainder_to_the_first_variants():
    assert split_sizes(audience=1000, variants=3, test_share=20, holdout=5).variants == [67, 67, 66]
    sizes = split_sizes(audience=7, variants=2, test_share=100, holdout=10)
    assert (sizes.variants, sizes.holdout, sizes.rest) == ([4, 3], 0, 0)
    sizes = split_sizes(audience=0, variants=2, test_share=20, holdout=5)
    assert (sizes.variants, sizes.holdout, sizes.rest) == ([0, 0], 0, 0)


@pytest.mark.parametrize(
    ("variants", "test", "message"),
    [
        ([VariantSpec(name="A", text="x")], None, "2 to 4 variants"),
        ([*AB, *AB], None, "must differ"),
        (AB, SplitSpec(share=80, holdout=30), "more than 100"),
        (AB, SplitSpec(holdout=60), "0 to 50"),
        (AB, SplitSpec(winner_by="opens"), "winner by"),
        (AB, SplitSpec(decide_after=dt.timedelta(0)), "decision time"),
        (AB, SplitSpec(if_undecided="C"), "when undecided"),
        ([VariantSpec(name="A", text="x"), VariantSpec(name="B", text="")], None, "empty"),
        ((), SplitSpec(share=20), "needs 2 to 4 variants"),
    ],
)
def test_a_split_that_cannot_run_is_refused_with_the_reason(variants, test, message):
    from campaigns.services import campaign_create

    audience = make_audience(3)
    with pytest.raises(ValidationError, match=message):
        campaign_create(name="x", channel="sms", lists=[audience], variants=variants, test=test)
    assert not Campaign.objects.exists()


def test_the_figures_statement_runs_without_jit_and_leaves_the_connection_s_settings():
    from django.db import connection, transaction

    from campaigns.split import split_variant_figures

    def jit() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('jit')")
            return cursor.fetchone()[0]

    campaign = _launched(40)
    campaign_freeze(campaign=campaign)
    seen: list[str] = []

    def wrapper(execute, sql, params, many, context):
        if "GROUP BY m.variant" in sql:
            context["cursor"].execute("SELECT current_setting('jit')")
            seen.append(context["cursor"].fetchone()[0])
        return execute(sql, params, many, context)

    before = jit()
    assert before != "off"  # else the test could not see a leak
    with connection.execute_wrapper(wrapper), transaction.atomic():
        figures = split_variant_figures(campaign=campaign)
        assert jit() == before
    assert seen == ["off"]
    assert [(f.name, f.recipients) for f in figures] == [("A", 4), ("B", 4)]
    assert jit() == before
