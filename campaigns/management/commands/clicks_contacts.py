"""Operator command: give clicks stored without a contact their ledger row's contact."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from campaigns.clicks import clicks_contacts_fill


class Command(BaseCommand):
    """After the upgrade that added clicks' contact (infobip migration 0006): the clicks the
    previous code stored between the migration and the restart get theirs (idempotent)."""

    help = "Fill the contact of clicks stored without one (after an upgrade) [--json]"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=20_000, help="click ids a transaction")
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args: str, batch: int, as_json: bool, **options: Any) -> None:
        filled = clicks_contacts_fill(batch=max(batch, 1))
        if as_json:
            self.stdout.write(json.dumps({"filled": filled}))
        else:
            self.stdout.write(f"{filled} click(s) given their message's contact")
