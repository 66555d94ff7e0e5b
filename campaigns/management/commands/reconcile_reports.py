"""reconcile_reports: pull reports and logs from Infobip for messages without a final status."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns.models import Campaign
from campaigns.reports import reports_reconcile
from infobip.errors import InfobipConfigError


class Command(BaseCommand):
    """Run the pull sweeper once (what beat runs every HERALD_RECONCILE_INTERVAL seconds)."""

    help = (
        "Pull SMS and WhatsApp delivery reports from Infobip (stored before they are applied), "
        "settle messages stuck in sending from the SMS logs, look silent messages up, expire "
        "those past Infobip's 48 h validity, and print the report-lag figures."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--campaign",
            type=int,
            metavar="ID",
            help="settle, look up and measure this campaign only (pulls are account-wide)",
        )
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: str, **options: Any) -> None:
        campaign_id = options.get("campaign")
        if campaign_id is not None and not Campaign.objects.filter(pk=campaign_id).exists():
            raise CommandError(f"campaign {campaign_id} does not exist")
        try:
            result = reports_reconcile(campaign_id=campaign_id)
        except InfobipConfigError as exc:
            raise CommandError(f"Infobip is not configured: {exc}") from exc
        if options.get("json"):
            self.stdout.write(json.dumps(result.as_dict(), indent=2, default=str))
        else:
            self.stdout.write(result.summary())
        if result.errors:
            raise CommandError("Infobip could not be asked: " + "; ".join(result.errors))
