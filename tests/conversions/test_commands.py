"""The operator's commands: a split campaign, conversions in and out, the rule recomputed."""

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from campaigns.models import Campaign, Message, SplitTest, Variant
from conversions.models import Conversion
from tests.factories import CampaignFactory, ContactFactory, MessageFactory, make_audience

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_campaign_create_with_variants_a_holdout_and_a_rule():
    make_audience(5, name="demo")
    out = run(
        "campaign",
        "create",
        "--name",
        "spring",
        "--list",
        "demo",
        "--channel",
        "sms",
        "--variant",
        "A=Hi {{first_name}}",
        "--variant",
        "B=Hello {{first_name}}",
        "--coupon",
        "B=SPRING",
        "--test-share",
        "20",
        "--holdout",
        "5",
        "--winner-by",
        "revenue",
        "--decide-after",
        "PT6H",
        "--if-undecided",
        "none",
        "--json",
    )
    campaign = Campaign.objects.get(pk=json.loads(out)["id"])
    split = SplitTest.objects.get(campaign=campaign)
    assert (split.test_share, split.holdout, split.winner_by, split.if_undecided) == (
        20,
        5,
        "revenue",
        "none",
    )
    assert split.decide_after == dt.timedelta(hours=6)
    assert list(Variant.objects.filter(campaign=campaign).values_list("name", "coupon")) == [
        ("A", ""),
        ("B", "SPRING"),
    ]
    status = json.loads(run("campaign", "status", str(campaign.pk), "--json"))
    assert [v["name"] for v in status["variants"]] == ["A", "B"]
    assert status["split"]["decide_after"] == "PT6H"
    assert "variant B: recipients=0" in run("campaign", "status", str(campaign.pk))
    preview = run("campaign", "preview", str(campaign.pk))
    assert "split: A=1 B=0 holdout=0 rest=4 winner_by=revenue decide_after=PT6H" in preview
    with pytest.raises(CommandError, match="nothing to decide"):
        run("campaign", "decide", str(campaign.pk), "--winner", "B")
    for bad, message in (
        (["--variant", "nameless"], "NAME=VALUE"),
        (["--variant", "A=x", "--variant", "B=y", "--decide-after", "4 hours"], "ISO 8601"),
        (["--variant", "A=x", "--variant", "B=y", "--coupon", "C=Z"], "for no variant: C"),
        (["--variant", "A=x", "--variant", "B=y", "--test-share", "90", "--holdout", "20"],
         "more than 100"),
    ):  # fmt: skip
        with pytest.raises(CommandError, match=message):
            run("campaign", "create", "--name", "x", "--list", "demo", "--channel", "sms", *bad)


def test_conversions_recorded_imported_shown_and_exported(tmp_path):
    contact = ContactFactory()
    message = MessageFactory(
        campaign=CampaignFactory(state="completed"), contact=contact, state="delivered"
    )
    at = timezone.now() - dt.timedelta(hours=2)
    Message.objects.filter(pk=message.pk).update(
        created_at=at, claimed_at=at, accepted_at=at, done_at=at
    )
    out = run(
        "conversion", "record", "--order-id", "A-1", "--phone", contact.phone, "--value", "19.90"
    )
    assert out.startswith("order A-1 recorded: credited to message")
    again = json.loads(run("conversion", "record", "--order-id", "A-1", "--value", "1", "--json"))
    assert again["created"] is False
    assert again["value"] == "19.90"
    source = tmp_path / "orders.csv"
    source.write_text(
        "order_id,phone,value,currency,occurred_at\n"
        f"B-1,{contact.phone},5.00,EUR,\n"
        "B-2,not a phone,5.00,EUR,\n"
        "A-1,,3.00,EUR,\n",
        encoding="utf-8",
    )
    summary = json.loads(run("conversion", "import", str(source), "--json"))
    assert (summary["created"], summary["duplicates"]) == (1, 1)
    [rejected] = summary["rejected"]
    assert rejected["line"] == 3
    assert rejected["reason"].startswith("contact.phone: ")
    shown = run("conversion", "show", "B-1")
    assert shown.startswith("order B-1 5.00 EUR: credited to message")
    with pytest.raises(CommandError, match="no conversion"):
        run("conversion", "show", "nope")
    export = tmp_path / "out.csv"
    assert run("conversion", "export", str(export)) == f"exported rows=2 file={export}\n"
    header = export.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("order_id,occurred_at,received_at,phone,contact_id")
    assert Conversion.objects.count() == 2


def test_attribution_recompute_shows_both_rules_and_changes_nothing():
    contact = ContactFactory()
    campaign = CampaignFactory(state="completed")
    message = MessageFactory(campaign=campaign, contact=contact, state="delivered")
    at = timezone.now() - dt.timedelta(hours=30)  # delivered 30 h before: only a 48 h rule sees it
    Message.objects.filter(pk=message.pk).update(
        created_at=at, claimed_at=at, accepted_at=at, done_at=at
    )
    run("conversion", "record", "--order-id", "R-1", "--phone", contact.phone, "--value", "10")
    rule = json.loads(run("attribution", "rule", "--json"))
    assert rule["delivery_window"] == "P1D"
    start = (timezone.now() - dt.timedelta(days=1)).isoformat()
    end = (timezone.now() + dt.timedelta(minutes=1)).isoformat()
    report = json.loads(
        run(
            "attribution",
            "recompute",
            "--from",
            start,
            "--to",
            end,
            "--delivery-window",
            "PT48H",
            "--json",
        )
    )
    assert report["conversions"] == 1
    assert report["changed"] == 1
    assert report["stored_rules"] == [f"r{rule['version']}"]
    rows = {row["campaign"]: row for row in report["campaigns"]}
    assert rows[None]["stored"]["conversions"] == 1
    assert rows[campaign.pk]["candidate"] == {"conversions": 1, "revenue": "10.00"}
    # Nothing was rewritten: the stored credit is still the old rule's, credited to nothing.
    assert Conversion.objects.get().credits.get().campaign_id is None
    text = run(
        "attribution", "recompute", "--from", start, "--to", end, "--delivery-window", "PT48H"
    )
    assert text.startswith("conversions=1 changed=1 stored under r")
    with pytest.raises(CommandError, match="after --from"):
        run("attribution", "recompute", "--from", end, "--to", start)
