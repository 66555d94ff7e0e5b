"""Export contacts to CSV with their lists and consent state."""

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from contacts.models import Contact, ContactList
from contacts.services import contacts_export


class Command(BaseCommand):
    """Export contacts (all, one list, or only the opted-out) to a CSV file; `-` is stdout."""

    help = "Export contacts to CSV (fields, attributes, lists, consent state)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="OUT.csv", help="output file, or - for stdout")
        parser.add_argument("--list", dest="list_name", metavar="NAME", help="only this list")
        parser.add_argument("--opted-out", action="store_true", help="only opted-out contacts")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")

    def handle(self, *args: str, file: str, list_name: str | None, **options: Any) -> None:
        queryset = Contact.objects.all()
        if list_name:
            contact_list = ContactList.objects.filter(name=list_name).first()
            if contact_list is None:
                raise CommandError(f"no contact list named {list_name!r}")
            queryset = queryset.filter(memberships__contact_list=contact_list)
        if options["opted_out"]:
            queryset = queryset.filter(opted_out=True)
        if file == "-":
            rows = contacts_export(out=sys.stdout, queryset=queryset)
            report = self.stderr
        else:
            path = Path(file)
            if not path.resolve().parent.is_dir():
                raise CommandError(f"folder {path.parent} does not exist")
            with path.open("w", newline="", encoding="utf-8") as out:
                rows = contacts_export(out=out, queryset=queryset)
            report = self.stdout
        if options["json"]:
            report.write(json.dumps({"exported": rows, "file": file}))
        else:
            report.write(f"exported={rows}")
