"""Operator command for conversions: record one, import a CSV, show, forward or export them."""

import csv
import datetime as dt
import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from conversions.export import conversions_export
from conversions.models import Conversion
from conversions.services import (
    BATCH_MAX,
    ForwardResult,
    conversion_explain,
    conversions_forward_stragglers,
    conversions_record,
)

CSV_FIELDS = ("order_id", "phone", "value", "currency", "occurred_at", "token", "coupon")
IMPORT_BATCH = 1_000


class Command(BaseCommand):
    """Conversions in and out (README "Conversions and attribution")."""

    help = "Conversions: record | import FILE.csv | show ORDER_ID | forward | export FILE.csv"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        record = sub.add_parser("record", help="record one conversion (idempotent on the order)")
        record.add_argument("--order-id", required=True)
        who = record.add_mutually_exclusive_group()
        who.add_argument("--phone")
        who.add_argument("--contact-id", type=int)
        record.add_argument("--value", default="0")
        record.add_argument("--currency")
        record.add_argument("--occurred-at", help="ISO 8601 with a zone; default now")
        record.add_argument("--token", default="", help="a tracked link's hrd value")
        record.add_argument("--coupon", default="")
        record.add_argument("--json", action="store_true")
        imp = sub.add_parser("import", help=f"a CSV with columns {', '.join(CSV_FIELDS)}")
        imp.add_argument("file")
        imp.add_argument("--json", action="store_true")
        show = sub.add_parser("show", help="a conversion and why it was credited so")
        show.add_argument("order_id")
        show.add_argument("--json", action="store_true")
        forward = sub.add_parser(
            "forward", help="forward recent credited SMS conversions not yet sent to Infobip"
        )
        forward.add_argument("--days", type=int, default=2, help="received in the last N days")
        forward.add_argument("--json", action="store_true")
        export = sub.add_parser("export", help="conversions with their credits as CSV")
        export.add_argument("file")
        export.add_argument("--from", dest="start")
        export.add_argument("--to", dest="end")
        export.add_argument("--campaign", type=int)

    def handle(self, *args: str, action: str, **options: Any) -> None:
        getattr(self, f"do_{action}")(**options)

    def do_record(self, **o: Any) -> None:
        item: dict[str, Any] = {"order_id": o["order_id"], "value": o["value"]}
        if o["phone"]:
            item["contact"] = {"phone": o["phone"]}
        elif o["contact_id"] is not None:
            item["contact"] = {"id": o["contact_id"]}
        for key in ("currency", "occurred_at", "token", "coupon"):
            if o[key]:
                item[key] = o[key]
        result = conversions_record(items=[item], source=Conversion.Source.COMMAND)
        if result.rejected:
            raise CommandError(result.rejected[0]["reason"])
        document = result.results[0]
        if o["json"]:
            self.stdout.write(json.dumps(document, ensure_ascii=False))
            return
        state = "recorded" if document["created"] else "already recorded"
        self.stdout.write(f"order {document['order_id']} {state}: {document['reason']}")

    def do_import(self, *, file: str, json: bool, **_: Any) -> None:
        created = duplicates = 0
        rejected: list[dict[str, Any]] = []
        try:
            with open(file, newline="", encoding="utf-8-sig") as handle:
                reader = csv.DictReader(handle)
                if not reader.fieldnames or "order_id" not in reader.fieldnames:
                    raise CommandError(f"{file}: a header row with order_id is needed")
                batch: list[tuple[int, dict[str, Any]]] = []
                for line, row in enumerate(reader, start=2):
                    batch.append((line, _item(row)))
                    if len(batch) >= IMPORT_BATCH:
                        c, d, r = self._import(batch)
                        created, duplicates, rejected = created + c, duplicates + d, rejected + r
                        batch = []
                if batch:
                    c, d, r = self._import(batch)
                    created, duplicates, rejected = created + c, duplicates + d, rejected + r
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from exc
        except (UnicodeDecodeError, csv.Error) as exc:
            raise CommandError(f"{file} is not a UTF-8 CSV file: {exc}") from exc
        summary = {"created": created, "duplicates": duplicates, "rejected": rejected}
        if json:
            self.stdout.write(_json(summary))
            return
        self.stdout.write(f"created={created} duplicates={duplicates} rejected={len(rejected)}")
        for problem in rejected[:50]:
            self.stdout.write(f"  line {problem['line']}: {problem['reason']}")

    def _import(
        self, batch: list[tuple[int, dict[str, Any]]]
    ) -> tuple[int, int, list[dict[str, Any]]]:
        assert len(batch) <= BATCH_MAX
        result = conversions_record(items=[i for _, i in batch], source=Conversion.Source.COMMAND)
        rejected = [{"line": batch[r["index"]][0], "reason": r["reason"]} for r in result.rejected]
        return result.created, result.duplicates, rejected

    def do_show(self, *, order_id: str, json: bool, **_: Any) -> None:
        document = conversion_explain(order_id=order_id)
        if document is None:
            raise CommandError(f"no conversion with order id {order_id!r}")
        if json:
            self.stdout.write(_json(document))
            return
        value = f"{document['value']} {document['currency']}"
        self.stdout.write(f"order {document['order_id']} {value}: {document['reason']}")
        if document["forwarded_at"]:
            self.stdout.write(f"  forwarded to Infobip at {document['forwarded_at']}")
        elif document["forward_error"]:
            self.stdout.write(f"  not forwarded to Infobip: {document['forward_error']}")

    def do_forward(self, *, days: int, json: bool, **_: Any) -> None:
        if not settings.HERALD_INFOBIP_CONVERSIONS:
            raise CommandError("forwarding is off: set HERALD_INFOBIP_CONVERSIONS=true")
        if not 0 < days <= 365:
            raise CommandError("--days: 1 to 365")
        total = ForwardResult()
        while True:
            done = conversions_forward_stragglers(now=timezone.now(), days=days)
            total.forwarded += done.forwarded
            total.failed += done.failed
            total.retry += done.retry
            if not (done.forwarded or done.failed):
                break  # nothing left but those Infobip cannot take now
        summary = {
            "forwarded": total.forwarded,
            "failed": total.failed,
            "to_retry": len(set(total.retry)),
        }
        if json:
            self.stdout.write(_json(summary))
            return
        self.stdout.write(" ".join(f"{key}={value}" for key, value in summary.items()))

    def do_export(
        self, *, file: str, start: str | None, end: str | None, campaign: int | None, **_: Any
    ) -> None:
        bounds = {}
        for name, raw in (("start", start), ("end", end)):
            if raw:
                parsed = parse_datetime(raw)
                if parsed is None or parsed.tzinfo is None:
                    raise CommandError(
                        f"--{'from' if name == 'start' else 'to'}: ISO 8601 with a zone"
                    )
                try:
                    bounds[name] = parsed.astimezone(dt.UTC)  # real offsets only in PostgreSQL
                except OverflowError:
                    raise CommandError(f"{name}: out of range") from None
        try:
            with open(file, "w", newline="", encoding="utf-8") as out:
                rows = conversions_export(out=out, campaign_id=campaign, **bounds)
        except OSError as exc:
            raise CommandError(f"cannot write {file}: {exc.strerror}") from exc
        self.stdout.write(f"exported rows={rows} file={file}")


def _item(row: dict[str, str | None]) -> dict[str, Any]:
    item: dict[str, Any] = {
        k: v
        for k in ("order_id", "value", "currency", "occurred_at", "token", "coupon")
        if (v := (row.get(k) or "").strip())
    }
    if phone := (row.get("phone") or "").strip():
        item["contact"] = {"phone": phone}
    return item


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1)
