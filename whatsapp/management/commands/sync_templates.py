"""sync_templates: pull WhatsApp templates from Infobip into the database."""

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from whatsapp.services import InvalidSender, TemplateSyncError, templates_sync


class Command(BaseCommand):
    """Sync the WhatsApp templates of one sender (default: INFOBIP_WHATSAPP_SENDER)."""

    help = "Pull WhatsApp templates from Infobip; templates gone upstream are marked, not deleted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sender", help="WhatsApp sender number (default: INFOBIP_WHATSAPP_SENDER)"
        )
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="print the result as JSON"
        )

    def handle(self, *args: str, sender: str | None, as_json: bool, **options: Any) -> None:
        if sender is not None and not sender.strip():
            raise CommandError("--sender is empty")
        try:
            result = templates_sync(sender=sender or settings.INFOBIP_WHATSAPP_SENDER)
        except (InvalidSender, TemplateSyncError) as exc:
            raise CommandError(str(exc)) from exc
        if as_json:
            self.stdout.write(json.dumps(result.as_dict()))
            return
        for error in result.errors:
            self.stderr.write(f"skipped {error}")
        self.stdout.write(result.summary())
