"""Operator command for campaign history: archive finished campaigns' ledgers, restore, show."""

import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from campaigns.history import (
    HistoryError,
    HistoryResult,
    campaign_history_archive,
    campaign_history_restore,
    campaigns_history_due,
    history_checksum_ok,
    history_read,
    history_retention,
    history_summary,
)
from campaigns.models import Campaign
from core.rules import OPERATOR, Refused


class Command(BaseCommand):
    """A finished campaign's ledger and events to a compressed file and back (docs/DATABASE.md)."""

    help = (
        "Campaign history: campaign ID [--dry-run] | due [--older-than DAYS] [--limit N] "
        "[--dry-run] | restore ID | show ID (all with --json)"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        one = sub.add_parser("campaign", help="archive one finished campaign's history")
        one.add_argument("campaign_id", type=int)
        one.add_argument("--dry-run", action="store_true", help="say what would be archived")
        one.add_argument("--json", action="store_true")
        due = sub.add_parser("due", help="archive every finished campaign past the retention")
        due.add_argument(
            "--older-than",
            type=int,
            metavar="DAYS",
            help="finished this many days ago or more (default: HERALD_HISTORY_RETENTION_DAYS)",
        )
        due.add_argument("--limit", type=int, default=100)
        due.add_argument("--dry-run", action="store_true")
        due.add_argument("--json", action="store_true")
        restore = sub.add_parser("restore", help="put an archived history back into the ledger")
        restore.add_argument("campaign_id", type=int)
        restore.add_argument("--json", action="store_true")
        show = sub.add_parser("show", help="what a campaign's history file holds (checked)")
        show.add_argument("campaign_id", type=int)
        show.add_argument("--json", action="store_true")

    def handle(self, *args: str, action: str, **o: Any) -> None:
        try:
            getattr(self, f"do_{action}")(**o)
        except (HistoryError, Refused) as exc:
            raise CommandError(str(exc)) from exc

    def _campaign(self, pk: int) -> Campaign:
        campaign = Campaign.objects.filter(pk=pk).first()
        if campaign is None:
            raise CommandError(f"no campaign {pk}")
        return campaign

    def _out(self, results: list[HistoryResult], verb: str, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps([r.as_dict() for r in results]))
            return
        for result in results:
            self.stdout.write(history_summary(result, verb))
        self.stdout.write(
            f"campaigns={len(results)} messages={sum(r.messages for r in results)} "
            f"events={sum(r.events for r in results)}"
        )

    def do_campaign(self, **o: Any) -> None:
        campaign = self._campaign(o["campaign_id"])
        result = campaign_history_archive(campaign=campaign, actor=OPERATOR, dry_run=o["dry_run"])
        self._out([result], "archived", o["json"])

    def do_due(self, **o: Any) -> None:
        if o["older_than"] is not None:
            if o["older_than"] < 0:
                raise CommandError("--older-than is a number of days, 0 or more")
            older_than = dt.timedelta(days=o["older_than"])
        else:
            retention = history_retention()
            if retention is None:
                raise CommandError(
                    "HERALD_HISTORY_RETENTION_DAYS is 0 (archiving is off): give --older-than"
                )
            older_than = retention
        due = list(campaigns_history_due(now=timezone.now(), older_than=older_than)[: o["limit"]])
        results = []
        for campaign in due:
            try:
                results.append(
                    campaign_history_archive(
                        campaign=campaign, actor=OPERATOR, dry_run=o["dry_run"]
                    )
                )
            except HistoryError as exc:  # changed meanwhile: said, and the others go on
                self.stderr.write(str(exc))
        self._out(results, "archived", o["json"])

    def do_restore(self, **o: Any) -> None:
        campaign = self._campaign(o["campaign_id"])
        self._out(
            [campaign_history_restore(campaign=campaign, actor=OPERATOR)], "restored", o["json"]
        )

    def do_show(self, **o: Any) -> None:
        campaign = self._campaign(o["campaign_id"])
        if not campaign.history_archive:
            raise CommandError(f"campaign {campaign.pk}'s history is not archived")
        counts = {"message": 0, "event": 0}
        end: dict[str, Any] = {}
        try:
            for kind, row in history_read(campaign.history_archive):
                if kind in counts:
                    counts[kind] += 1
                elif kind == "end":
                    end = row
        except (OSError, ValueError) as exc:
            raise CommandError(f"{campaign.history_archive}: {exc}") from exc
        doc = {
            "campaign_id": campaign.pk,
            "path": campaign.history_archive,
            "archived_at": campaign.history_archived_at.isoformat()
            if campaign.history_archived_at
            else None,
            "messages": counts["message"],
            "events": counts["event"],
            "complete": end == {"messages": counts["message"], "events": counts["event"]},
            "checksum_ok": history_checksum_ok(campaign),
        }
        if o["json"]:
            self.stdout.write(json.dumps(doc))
        else:
            self.stdout.write(" ".join(f"{k}={v}" for k, v in doc.items()))
