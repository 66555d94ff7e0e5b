"""Import contacts from a CSV file (see contacts.importer for the rules)."""

import json
import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from contacts.checkpool import default_workers
from contacts.csvfile import ImportFileError
from contacts.services import contacts_import
from core.cli import add_actor_argument, cli_actor
from core.rules import Refused

DETAIL_LINES = 20


class Command(BaseCommand):
    """Import contacts from CSV; prints `created=N updated=N rejected=N …`."""

    help = (
        "Import contacts from a CSV file with a header row (phone required; first_name, "
        "last_name, language, timezone, opted_out known; other columns become attributes)."
    )

    def add_arguments(self, parser) -> None:
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
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument("--batch-size", type=int, default=None, help="rows per transaction")
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="processes checking the numbers (default: the cores but two: none on 2 cores)",
        )
        add_actor_argument(parser)

    def handle(self, *args, file: str, **options) -> None:
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
            bar.total = total
            bar.update(done - bar.n)

        try:
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
            )
        except ImportFileError as exc:
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
        for label, issues in (("rejected", result.rejected_sample),
                              ("warning", result.warnings_sample)):  # fmt: skip
            for issue in issues[:DETAIL_LINES]:
                self.stderr.write(f"row {issue.row}: {label}: {issue.phone!r}: {issue.reason}")
        hidden = max(result.rejected - DETAIL_LINES, 0) + max(result.warnings - DETAIL_LINES, 0)
        if hidden:
            where = f"; rejected rows are in {errors_path}" if errors_path else ""
            self.stderr.write(f"… and {hidden} more{where}")
        self.stdout.write(result.summary())
