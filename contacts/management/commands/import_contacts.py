"""Import contacts from a CSV file (see contacts.importer for the rules)."""

import json
import sys
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from contacts.checkpool import default_workers
from contacts.csvfile import ImportFileError
from contacts.mapping import Column, mapping_apply_options, mapping_json
from contacts.services import ImportPreview, contacts_import, contacts_import_preview
from core.cli import add_actor_argument, cli_actor
from core.rules import Refused

DETAIL_LINES = 20


class Command(BaseCommand):
    """Import contacts from CSV; prints `created=N updated=N rejected=N …`."""

    help = (
        "Import contacts from a CSV file with a header row (UTF-8, UTF-16 or Windows-1252). "
        "Columns are mapped by their header (phone, first_name, last_name, language, "
        "timezone, consent, opted_out, consent_date; others become attributes); --map "
        "changes any of them, --show-mapping prints the mapping and a sample."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE.csv")
        parser.add_argument(
            "--list",
            dest="list_name",
            metavar="NAME",
            help="add every imported contact to this list (created if missing)",
        )
        parser.add_argument(
            "--default-region",
            metavar="CC",
            help="ISO country for numbers in national format, e.g. GB",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="validate and report; write nothing to the database",
        )
        parser.add_argument(
            "--errors",
            dest="errors_path",
            metavar="OUT.csv",
            help="write rejected rows (row number, reason, cells) to this CSV",
        )
        parser.add_argument(
            "--allow-sequential",
            action="store_true",
            help="accept a file with runs of consecutive numbers",
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=TARGET",
            help="map a column: TARGET is phone, first_name, last_name, language, timezone, "
            "consent[:sms|whatsapp], opted_out, consent_date, ignore, or "
            "text|number|date|boolean[:attribute_key] (repeatable)",
        )
        parser.add_argument(
            "--date-order",
            choices=["ymd", "dmy", "mdy"],
            default="",
            help="how the file writes dates (default: guessed per column from its cells)",
        )
        parser.add_argument(
            "--show-mapping",
            action="store_true",
            help="print how each column would be read and the first rows; import nothing",
        )
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument("--batch-size", type=int, default=None, help="rows per transaction")
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="processes checking the numbers (default: the cores but two: none on 2 cores)",
        )
        add_actor_argument(parser)

    def handle(self, *args: str, file: str, **options: Any) -> None:
        errors_path = options["errors_path"]
        if options["batch_size"] is not None and options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        workers = default_workers() if options["workers"] is None else options["workers"]
        if workers < 0:
            raise CommandError("--workers must be 0 or more")
        if errors_path and not Path(errors_path).resolve().parent.is_dir():
            raise CommandError(f"--errors: folder {Path(errors_path).parent} does not exist")
        bar = None
        if not options["json"] and self.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(total=0, unit="row", unit_scale=True, file=sys.stderr, leave=False)

        def progress(done: int, total: int) -> None:
            if bar is not None:  # only passed with a bar
                bar.total = total
                bar.update(done - bar.n)

        try:
            columns = None  # the importer's own suggestion for the header
            if options["map"] or options["date_order"] or options["show_mapping"]:
                preview = contacts_import_preview(
                    source=file, default_region=options["default_region"]
                )
                columns = mapping_apply_options(
                    preview.header,
                    preview.columns,
                    options["map"],
                    date_order=options["date_order"],
                )
                if options["show_mapping"]:
                    self._show(preview, columns, options["json"])
                    return
            result = contacts_import(
                source=file,
                list_name=options["list_name"],
                default_region=options["default_region"],
                dry_run=options["dry_run"],
                errors_path=errors_path,
                allow_sequential=options["allow_sequential"],
                progress=progress if bar else None,
                batch_size=options["batch_size"],
                workers=workers,
                actor=cli_actor(options["acting_user"]),
                columns=columns,
            )
        except (ImportFileError, ValueError) as exc:  # ValueError: an unknown --default-region
            raise CommandError(f"{file}: {exc}") from None
        except Refused as exc:
            raise CommandError(f"refused: {exc}") from None
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        finally:
            if bar is not None:
                bar.close()
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict()))
            return
        for note in result.file_notes:
            self.stderr.write(f"note: {note}")
        for label, issues in (
            ("rejected", result.rejected_sample),
            ("warning", result.warnings_sample),
        ):
            for issue in issues[:DETAIL_LINES]:
                self.stderr.write(f"row {issue.row}: {label}: {issue.phone!r}: {issue.reason}")
        hidden = max(result.rejected - DETAIL_LINES, 0) + max(result.warnings - DETAIL_LINES, 0)
        if hidden:
            where = f"; rejected rows are in {errors_path}" if errors_path else ""
            self.stderr.write(f"… and {hidden} more{where}")
        self.stdout.write(result.summary())

    def _show(self, preview: ImportPreview, columns: list[Column], as_json: bool) -> None:
        """The mapping, column by column, with the sample's cells."""
        mapping = mapping_json(columns)
        if as_json:
            self.stdout.write(json.dumps({**preview.as_dict(), **mapping}))
            return
        self.stdout.write(f"encoding={preview.encoding} delimiter={preview.delimiter!r}")
        for index, (cell, column) in enumerate(zip(preview.header, columns, strict=True)):
            target = column.target
            if target == "attribute":
                target = f"{column.type}:{column.key}"
            elif target == "consent" and column.channel != "all":
                target = f"consent:{column.channel}"
            if column.order:
                target += f" ({column.order})"
            cells = [row[index] for row in preview.sample if index < len(row)]
            self.stdout.write(f"{cell!r} → {target}    e.g. {', '.join(map(repr, cells[:3]))}")
