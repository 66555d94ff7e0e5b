"""`manage.py sandbox [--port N] [options]`: run the local Infobip sandbox in the foreground."""

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from infobip.sandbox.cli import RefusedError, serve
from infobip.sandbox.config import add_arguments


class Command(BaseCommand):
    """Run the Infobip sandbox like `python -m infobip.sandbox` (refuses real credentials)."""

    help = "Run the local Infobip sandbox (no real messages are sent). Ctrl-C stops it."

    def add_arguments(self, parser: CommandParser) -> None:
        add_arguments(parser, port=urlsplit(settings.INFOBIP_SANDBOX_URL).port or 9100)

    def handle(self, *args: str, **options: Any) -> None:
        try:
            serve(options, out=self.stdout)
        except RefusedError as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:
            raise CommandError(f"cannot listen on port {options['port']}: {exc}") from exc
