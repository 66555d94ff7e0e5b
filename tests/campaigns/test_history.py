"""A finished campaign's history: archived to a compressed file, removed from the live tables,
read by its own export, restored with the same ids (campaigns/history.py)."""

import datetime as dt
import gzip
import io
import json
import os
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from api.tokens import api_token_create
from campaigns.export import campaign_export
from campaigns.history import (
    HistoryError,
    campaign_history_archive,
    campaign_history_restore,
    history_archive_due,
)
from campaigns.models import Campaign, Message, MessageEvent
from contacts.models import Contact
from core.rules import OPERATOR
from infobip.models import Click
from tests.api.conftest import make_user

pytestmark = pytest.mark.django_db


def _finished(n: int = 3, offset: int = 0, **fields) -> Campaign:
    """A completed campaign of `n` delivered rows, a failover of the first, events and a click."""
    now = timezone.now()
    campaign = Campaign.objects.create(
        name="Spring",
        state="completed",
        recipients=n,
        count_delivered=n + 1,
        finished_at=now - dt.timedelta(days=40),
        **fields,
    )
    contacts = Contact.objects.bulk_create(
        [
            Contact(
                phone=f"+4479460{offset + i:05d}", first_name=f"Ann{i}", attributes={"tier": "gold"}
            )
            for i in range(n)
        ]
    )
    rows = Message.objects.bulk_create(
        Message(
            campaign=campaign,
            contact=c,
            phone=c.phone,
            channel="whatsapp",
            state="delivered",
            text=f"Hi Ann{i}\nline two",
            status_name="DELIVERED_TO_HANDSET",
            done_at=now,
            price=Decimal("0.0125"),
        )
        for i, c in enumerate(contacts)
    )
    Message.objects.create(
        campaign=campaign,
        contact=contacts[0],
        phone=contacts[0].phone,
        channel="sms",
        state="delivered",
        replaces=rows[0],
        text="Hi Ann0",
    )
    MessageEvent.objects.bulk_create(
        MessageEvent(message=row, from_state="accepted", to_state="delivered") for row in rows
    )
    Click.objects.create(campaign=campaign, message=rows[1], url="https://x.test", clicked_at=now)
    return campaign


def _export(campaign: Campaign) -> str:
    out = io.StringIO()
    campaign_export(campaign=Campaign.objects.get(pk=campaign.pk), out=out)
    return out.getvalue()


def test_archive_moves_the_ledger_to_a_file_that_its_export_reads_and_restore_brings_back(
    tmp_path,
) -> None:
    campaign = _finished()
    before = _export(campaign)
    ids = sorted(Message.objects.filter(campaign=campaign).values_list("id", flat=True))
    with override_settings(HERALD_HISTORY_DIR=str(tmp_path)):
        dry = campaign_history_archive(campaign=campaign, actor=OPERATOR, dry_run=True)
        assert (dry.messages, dry.events, Message.objects.count()) == (4, 3, 4)
        result = campaign_history_archive(campaign=campaign, actor=OPERATOR)

    assert (result.messages, result.events) == (4, 3)
    assert not Message.objects.exists()
    assert not MessageEvent.objects.exists()
    # The click stays with the row's id (no constraint): clicked-message counts are kept.
    assert Click.objects.get().message_id == ids[1]
    campaign.refresh_from_db()
    assert campaign.history_archived_at is not None
    assert campaign.history_archive == str(tmp_path / f"campaign-{campaign.pk}.jsonl.gz")
    assert (campaign.count_delivered, campaign.recipients) == (4, 3)  # the totals stay
    with gzip.open(campaign.history_archive) as fh:
        lines = [json.loads(line) for line in fh]
    assert lines[0]["herald_history"] == 1
    assert lines[0]["campaign"]["id"] == campaign.pk
    assert [next(iter(doc)) for doc in lines[1:]] == ["message"] * 4 + ["event"] * 3 + ["end"]
    assert lines[1]["message"]["text"] == "Hi Ann0\nline two"
    # The export reads the file: the same CSV as from the live ledger.
    assert _export(campaign) == before
    with pytest.raises(HistoryError, match="already archived"):
        campaign_history_archive(campaign=campaign, actor=OPERATOR)

    restored = campaign_history_restore(campaign=campaign, actor=OPERATOR)
    assert (restored.messages, restored.events) == (4, 3)
    assert sorted(Message.objects.values_list("id", flat=True)) == ids
    failover = Message.objects.get(replaces__isnull=False)
    assert failover.replaces_id == ids[0]
    assert MessageEvent.objects.count() == 3
    campaign.refresh_from_db()
    assert campaign.history_archived_at is None
    assert _export(campaign) == before


def test_an_archived_split_campaign_exports_its_variants_and_groups_as_before(tmp_path) -> None:
    from campaigns.models import SplitGroup, SplitTest, Variant

    campaign = _finished()
    SplitTest.objects.create(campaign=campaign, test_share=50, holdout=0)
    Variant.objects.bulk_create(
        [
            Variant(campaign=campaign, position=1, name="A", text="a"),
            Variant(campaign=campaign, position=2, name="B", text="b"),
        ]
    )
    rows = list(Message.objects.filter(campaign=campaign).order_by("id"))
    test, rest = SplitGroup.TEST, SplitGroup.REST
    groups = [(1, test), (2, test), (2, rest), (1, test)]
    for row, (variant, group) in zip(rows, groups, strict=True):
        Message.objects.filter(pk=row.pk).update(variant=variant, split_group=group)
    before = _export(campaign)
    header = before.splitlines()[0].split(",")
    assert header[header.index("last_name") + 1 : header.index("last_name") + 3] == [
        "variant",
        "split_group",
    ]
    assert ",B,rest," in before
    with override_settings(HERALD_HISTORY_DIR=str(tmp_path)):
        campaign_history_archive(campaign=campaign, actor=OPERATOR)
    assert not Message.objects.exists()
    assert _export(campaign) == before


def test_only_finished_and_settled_campaigns_are_archived(tmp_path) -> None:
    with override_settings(HERALD_HISTORY_DIR=str(tmp_path)):
        running = _finished(state_reason="")
        Campaign.objects.filter(pk=running.pk).update(state="running")
        with pytest.raises(HistoryError, match="only completed, cancelled or failed"):
            campaign_history_archive(campaign=running, actor=OPERATOR)
        Campaign.objects.filter(pk=running.pk).update(state="completed", count_accepted=1)
        with pytest.raises(HistoryError, match="awaiting a report"):
            campaign_history_archive(campaign=running, actor=OPERATOR)
    assert Message.objects.count() == 4
    assert not list(tmp_path.iterdir())


def test_a_restore_refuses_a_file_that_does_not_match_its_checksum(tmp_path) -> None:
    campaign = _finished()
    with override_settings(HERALD_HISTORY_DIR=str(tmp_path)):
        campaign_history_archive(campaign=campaign, actor=OPERATOR)
    campaign.refresh_from_db()
    with open(campaign.history_archive, "ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(HistoryError, match="checksum"):
        campaign_history_restore(campaign=campaign, actor=OPERATOR)
    assert not Message.objects.exists()


def test_the_sweep_archives_past_the_retention_and_does_nothing_when_it_is_off(tmp_path) -> None:
    old, recent = (
        _finished(),
        Campaign.objects.create(
            name="Recent", state="completed", finished_at=timezone.now() - dt.timedelta(days=2)
        ),
    )
    with override_settings(HERALD_HISTORY_DIR=str(tmp_path), HERALD_HISTORY_RETENTION_DAYS=0):
        assert history_archive_due() == []
    with override_settings(HERALD_HISTORY_DIR=str(tmp_path), HERALD_HISTORY_RETENTION_DAYS=30):
        done = history_archive_due()
    assert [r.campaign_id for r in done] == [old.pk]
    assert Campaign.objects.get(pk=recent.pk).history_archived_at is None


def test_the_command_archives_shows_and_restores_with_json(tmp_path) -> None:
    campaign = _finished()
    out = io.StringIO()
    with override_settings(HERALD_HISTORY_DIR=str(tmp_path)):
        call_command("archive", "due", "--older-than", "30", "--dry-run", "--json", stdout=out)
        assert json.loads(out.getvalue())[0]["dry_run"] is True
        assert Message.objects.count() == 4
        out = io.StringIO()
        call_command("archive", "campaign", str(campaign.pk), stdout=out)
        assert "archived 4 messages and 3 events" in out.getvalue()
        out = io.StringIO()
        call_command("archive", "show", str(campaign.pk), "--json", stdout=out)
        shown = json.loads(out.getvalue())
        assert (shown["messages"], shown["events"], shown["complete"]) == (4, 3, True)
        assert shown["checksum_ok"] is True
        with pytest.raises(CommandError, match="already archived"):
            call_command("archive", "campaign", str(campaign.pk))
        with pytest.raises(CommandError, match="archiving is off"):
            call_command("archive", "due")
        out = io.StringIO()
        call_command("archive", "restore", str(campaign.pk), "--json", stdout=out)
        assert json.loads(out.getvalue())[0]["messages"] == 4
    assert Message.objects.count() == 4


def test_an_archived_campaign_keeps_its_figures_on_every_surface(
    tmp_path, admin_client, django_capture_on_commit_callbacks
) -> None:
    """Status (the API's campaign answer), the page, the admin and the API's ledger say it."""
    from django.urls import reverse

    from campaigns.services import CampaignError, campaign_recount, campaign_status

    campaign = _finished()
    before = campaign_status(campaign=campaign, breakdown=True)
    assert before["history"] is None
    with (
        override_settings(HERALD_HISTORY_DIR=str(tmp_path)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = admin_client.post(
            reverse("admin:campaigns_campaign_changelist"),
            {"action": "archive_history", "_selected_action": [campaign.pk]},
            follow=True,
        )
    assert b"History archive started for 1 campaign" in response.content
    assert not Message.objects.exists()
    after = campaign_status(campaign=campaign, breakdown=True)
    history = after.pop("history")
    before.pop("history")
    assert after == before  # counts, people across attempts, cost per channel, clicks
    assert (history["messages"], history["events"]) == (4, 3)
    assert history["file"].endswith(f"campaign-{campaign.pk}.jsonl.gz")

    page = admin_client.get(reverse("ui:campaign", args=[campaign.pk])).content.decode()
    assert "history archived" in page
    assert f"campaign-{campaign.pk}.jsonl.gz" in page
    assert reverse("ui:campaign_export", args=[campaign.pk]) in page
    assert 'id="recipient-filters"' not in page  # no live table of rows that are gone
    csv = b"".join(
        admin_client.get(reverse("ui:campaign_export", args=[campaign.pk])).streaming_content
    ).decode()
    assert csv.count("\n") == 1 + 4 + 3  # header, 4 rows, 3 of them with a two-line text
    assert "Hi Ann2\nline two" in csv
    listing = admin_client.get(reverse("admin:campaigns_campaign_changelist")).content.decode()
    assert "(4 rows)" in listing
    with pytest.raises(CampaignError, match="archived"):
        campaign_recount(campaign=campaign)

    _, token = api_token_create(user=make_user("reader", "Marketer"), scopes=["read"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    answer = admin_client.get(f"/api/v1/campaigns/{campaign.pk}", **auth).json()
    assert answer["history"]["messages"] == 4
    assert answer["counts"]["delivered"] == 4
    refused = admin_client.get(f"/api/v1/campaigns/{campaign.pk}/messages", **auth)
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "history_archived"
    assert "archive restore" in error["message"]


def test_a_failed_archive_leaves_the_rows_and_no_file(tmp_path, monkeypatch) -> None:
    import campaigns.history as history

    campaign = _finished()
    monkeypatch.setattr(
        history, "DELETE_MESSAGES", history.DELETE_MESSAGES + history.sql.SQL(" AND false")
    )
    with (
        override_settings(HERALD_HISTORY_DIR=str(tmp_path)),
        pytest.raises(HistoryError, match="0 rows to remove, 4 archived"),
    ):
        campaign_history_archive(campaign=campaign, actor=OPERATOR)
    assert Message.objects.count() == 4
    assert MessageEvent.objects.count() == 3
    assert list(tmp_path.iterdir()) == []
    assert Campaign.objects.get(pk=campaign.pk).history_archived_at is None


def test_erasing_a_contact_rewrites_the_archived_files_that_name_them(tmp_path) -> None:
    from campaigns.erasure import contact_erase

    campaign = _finished()
    kept = _finished(
        offset=10
    )  # another archived campaign, of other contacts: its file is not touched
    with override_settings(HERALD_HISTORY_DIR=str(tmp_path)):
        for each in (campaign, kept):
            campaign_history_archive(campaign=each, actor=OPERATOR)
    kept.refresh_from_db()
    kept_sha = kept.history_archive_sha256
    clicked = Contact.objects.get(phone="+447946000001")  # rows[1], whose row was clicked

    result = contact_erase(contact=clicked, actor=OPERATOR)

    assert (result["archived_rows"], result["archived_campaigns"]) == (1, 1)
    campaign.refresh_from_db()
    with gzip.open(campaign.history_archive) as fh:
        rows = [json.loads(line)["message"] for line in fh if line.startswith(b'{"message"')]
    erased = [row for row in rows if row["phone"] == ""]
    assert len(erased) == 1
    assert (erased[0]["text"], erased[0]["contact_id"]) == ("", None)
    with gzip.open(campaign.history_archive) as fh:
        assert b"+447946000001" not in fh.read()
    assert Click.objects.get(campaign=campaign).recipient == ""
    kept.refresh_from_db()
    assert kept.history_archive_sha256 == kept_sha
    # The rewritten file still restores (its new checksum recorded), prices exact.
    campaign_history_restore(campaign=campaign, actor=OPERATOR)
    row = Message.objects.get(pk=erased[0]["id"])
    assert (row.phone, row.contact_id, row.price) == ("", None, Decimal("0.0125"))


def test_an_erasure_is_refused_unchanged_when_a_history_file_is_missing(tmp_path) -> None:
    from campaigns.erasure import ErasureError, contact_erase

    campaign = _finished()
    with override_settings(HERALD_HISTORY_DIR=str(tmp_path)):
        campaign_history_archive(campaign=campaign, actor=OPERATOR)
    campaign.refresh_from_db()
    os.rename(campaign.history_archive, tmp_path / "elsewhere.gz")
    with pytest.raises(ErasureError, match="is missing"):
        contact_erase(contact=Contact.objects.first(), actor=OPERATOR)
    assert Contact.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_row_changed_after_the_snapshot_fails_the_archive_and_loses_nothing(
    tmp_path, monkeypatch
) -> None:
    """A late receipt lands between the file and the DELETE: REPEATABLE READ refuses."""
    import psycopg

    import campaigns.history as history
    from tests.fixtures import worker

    campaign = _finished()
    write = history._write

    def write_then_a_late_receipt(*args, **kwargs) -> None:
        write(*args, **kwargs)  # the snapshot is taken: the file holds the rows as they were
        with psycopg.connect(worker.test_database_url(), autocommit=True) as other:
            other.execute(
                "UPDATE campaigns_message SET seen_at = now() WHERE campaign_id = %s AND id = "
                "(SELECT min(id) FROM campaigns_message WHERE campaign_id = %s)",
                [campaign.pk, campaign.pk],
            )

    monkeypatch.setattr(history, "_write", write_then_a_late_receipt)
    with (
        override_settings(HERALD_HISTORY_DIR=str(tmp_path)),
        pytest.raises(HistoryError, match="changed while archiving"),
    ):
        campaign_history_archive(campaign=campaign, actor=OPERATOR)
    assert Message.objects.filter(campaign=campaign).count() == 4
    assert Message.objects.filter(seen_at__isnull=False).count() == 1  # the receipt kept
    assert MessageEvent.objects.count() == 3
    assert list(tmp_path.iterdir()) == []
    assert Campaign.objects.get(pk=campaign.pk).history_archived_at is None


def test_a_contacts_evidence_lists_their_archived_rows_from_the_files(tmp_path) -> None:
    from campaigns.erasure import contact_evidence

    campaign = _finished()
    ann = Contact.objects.get(phone="+447946000000")  # rows[0] and its SMS failover
    live = contact_evidence(contact=ann)["messages"]
    with override_settings(HERALD_HISTORY_DIR=str(tmp_path)):
        campaign_history_archive(campaign=campaign, actor=OPERATOR)
    evidence = contact_evidence(contact=ann)
    assert [m.pop("archived") for m in evidence["messages"]] == [True, True]
    assert [m.pop("archived") for m in live] == [False, False]
    assert evidence["messages"] == live  # the same document, read from the file
    assert evidence["history_files_missing"] == []


def test_a_credited_conversion_keeps_its_campaign_when_the_ledger_is_archived(tmp_path) -> None:
    from conversions.models import Conversion, Credit, Touch
    from conversions.rule import rule_current
    from conversions.services import conversions_documents

    campaign = _finished()
    row = Message.objects.filter(campaign=campaign).order_by("id").first()
    conversion = Conversion.objects.create(
        order_id="o-1", value=Decimal("12"), currency="EUR", occurred_at=timezone.now()
    )
    Credit.objects.create(
        conversion=conversion,
        rule=rule_current(),
        message=row,
        campaign=campaign,
        touch=Touch.CLICK,
        touch_at=timezone.now(),
    )
    with connection.cursor() as cursor:  # foreign keys are checked at commit: check them now
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with override_settings(HERALD_HISTORY_DIR=str(tmp_path)):
        # A credit names the row without a constraint: one DELETE takes the ledger away.
        campaign_history_archive(campaign=campaign, actor=OPERATOR)
    assert not Message.objects.exists()
    credit = Credit.objects.get()
    assert (credit.message_id, credit.campaign_id) == (row.pk, campaign.pk)
    document = conversions_documents(order_ids=["o-1"])["o-1"]
    assert document["attributed_to"]["campaign"] == campaign.pk
